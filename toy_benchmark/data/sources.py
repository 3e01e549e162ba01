"""The two data sources of the toy dataset, resolved once: the texture pool and the MNIST digits.

Everything that decides a sample is the `DatasetVariant` plus these two sources (paper Sec. 4.1,
supplement S1.1). Loading them costs time (decoding a texture folder, hashing the MNIST file), so a
program resolves them ONCE with `resolve_sources` and passes the `DataSources` object on: every
function of the data and training wings that takes ``textures=`` / ``mnist=`` also takes
``sources=``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from toy_benchmark.data.mnist import MnistDigits, load_mnist
from toy_benchmark.data.textures import TexturePool, load_textures

__all__ = ["DataSources", "resolve_sources"]


@dataclasses.dataclass(frozen=True, eq=False)
class DataSources:
    """A texture pool and MNIST digits, loaded.

    Attributes:
        textures: The texture pool (texture id = position in the pool).
        mnist: The digits, split into a training and a test pool.

    Raises:
        TypeError: If an attribute has another type.
    """

    textures: TexturePool
    mnist: MnistDigits

    def __post_init__(self) -> None:
        if not isinstance(self.textures, TexturePool):
            raise TypeError(f"Argument `textures` must be a TexturePool; received "
                            f"{type(self.textures).__name__}.")
        if not isinstance(self.mnist, MnistDigits):
            raise TypeError(f"Argument `mnist` must be MnistDigits; received {type(self.mnist).__name__}.")

    def identity(self) -> dict[str, Any]:
        """What decides the samples: the pools' fingerprints (equal identities, equal samples).

        Returns:
            ``{"textures": {"count", "fingerprint"}, "mnist": {"fingerprint"}}``.
        """
        return {
            "textures": {"count": len(self.textures), "fingerprint": self.textures.fingerprint},
            "mnist": {"fingerprint": self.mnist.fingerprint},
        }

    def description(self) -> dict[str, Any]:
        """Where the sources came from, for people: the folder or "procedural", "bundled" or a path.

        Returns:
            ``{"textures": {"source", "names", "shapes"}, "mnist": {"source", "train_digits",
            "test_digits"}}``.
        """
        return {
            "textures": {
                "source": self.textures.source,
                "names": list(self.textures.names),
                "shapes": self.textures.shapes.tolist(),
            },
            "mnist": {
                "source": self.mnist.source,
                "train_digits": len(self.mnist.train_labels),
                "test_digits": len(self.mnist.test_labels),
            },
        }


def resolve_sources(
    textures: TexturePool | str | os.PathLike | None = None,
    mnist: MnistDigits | str | os.PathLike | None = None,
    *,
    sources: DataSources | None = None,
) -> DataSources:
    """Loads the sources once: paths (or None, the defaults) become a `DataSources`; objects pass through.

    Args:
        textures: A `TexturePool`, a folder of texture images, or None for the 25 procedural textures.
        mnist: `MnistDigits`, a Keras ``mnist.npz`` or IDX folder, or None for the bundled 10k digits.
        sources: Sources resolved before; returned as they are (then `textures` and `mnist` must be None).

    Returns:
        The resolved sources.

    Raises:
        ValueError: If `sources` is given together with `textures` or `mnist`, or a source file is bad.
        TypeError: If `sources` is not a `DataSources`.
        FileNotFoundError: If a source path does not exist.
    """
    if sources is not None:
        if not isinstance(sources, DataSources):
            raise TypeError(f"Argument `sources` must be a DataSources (from resolve_sources); received "
                            f"{type(sources).__name__}.")
        if textures is not None or mnist is not None:
            raise ValueError("Argument `sources` must be given alone, not with `textures` or `mnist`; "
                             f"received sources and textures={textures!r}, mnist={mnist!r}.")
        return sources
    pool = textures if isinstance(textures, TexturePool) else load_textures(textures)
    digits = mnist if isinstance(mnist, MnistDigits) else load_mnist(mnist)
    return DataSources(pool, digits)
