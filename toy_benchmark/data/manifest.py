"""The manifest of a materialised toy dataset: a typed record of its configuration, shards and counts.

A dataset folder (written by `writer.write_dataset`) holds shards ``shard-00000-of-00004.npy`` (NumPy
structured arrays of `RECORD_DTYPE`, one record per sample) and ``manifest.json``, a `DatasetManifest`:
the dataset's identity (`dataset_config`: variant, texture pool and MNIST fingerprints, generator and
shard-format versions), where the sources came from, each shard's index range, size, sha256 and counts,
and the totals. While the writer runs, the same record is kept in ``manifest.incomplete.json``.

Schema versions: 2 is written (``{"schema": "toy_benchmark.dataset_manifest", "schema_version": 2,
...}``); version 1 (``{"format": "toy_benchmark.dataset", ...}``, before typed records) has the same
fields and is still read.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, ClassVar

import numpy as np

from grid_saliency_tf.experiment import Record, RecordError, read_json
from toy_benchmark.data.generator import GENERATOR_VERSION, SAMPLE_FIELDS
from toy_benchmark.data.sources import DataSources
from toy_benchmark.data.variant import DatasetVariant

__all__ = [
    "DATASET_KIND",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "PARTIAL_MANIFEST_NAME",
    "RECORD_DTYPE",
    "DatasetCounts",
    "DatasetManifest",
    "Shard",
    "ShardCounts",
    "dataset_config",
    "read_manifest",
]

#: Version of the shard record layout (part of a dataset's identity).
FORMAT_VERSION = 1
#: The `RunFolder` kind of a dataset folder.
DATASET_KIND = "toy_benchmark.dataset"
MANIFEST_NAME = "manifest.json"
PARTIAL_MANIFEST_NAME = "manifest.incomplete.json"
RECORD_DTYPE = np.dtype([(name, dtype, shape) for name, (dtype, shape) in SAMPLE_FIELDS.items()])
_LEGACY_FORMAT = "toy_benchmark.dataset"


@dataclasses.dataclass(frozen=True)
class ShardCounts:
    """How many samples of a shard show each digit, and carry the bias texture in each half.

    Attributes:
        per_digit: Samples per digit class 0..9.
        bias_half_top: Samples with the bias texture in the upper half.
        bias_half_bottom: Samples with the bias texture in the lower half.
    """

    per_digit: tuple[int, ...]
    bias_half_top: int
    bias_half_bottom: int


@dataclasses.dataclass(frozen=True)
class Shard:
    """One shard file: the samples [start, stop) of the dataset.

    Attributes:
        file: The file name inside the dataset folder.
        start: First sample index.
        stop: One past the last sample index.
        num_samples: stop - start.
        bytes: File size; None until the shard is written.
        sha256: Hex digest of the file; None until the shard is written.
        counts: The shard's counts; None until the shard is written.
    """

    file: str
    start: int
    stop: int
    num_samples: int
    bytes: int | None = None
    sha256: str | None = None
    counts: ShardCounts | None = None

    @property
    def written(self) -> bool:
        """Whether the shard's file was finished (its size and sha256 are recorded)."""
        return self.sha256 is not None


@dataclasses.dataclass(frozen=True)
class DatasetCounts:
    """Totals over the shards of a finished dataset.

    Attributes:
        num_samples: Number of samples.
        per_digit: Samples per digit class 0..9.
        biased: Samples carrying the bias texture (top + bottom).
        bias_half_top: Samples with the bias texture in the upper half.
        bias_half_bottom: Samples with the bias texture in the lower half.
    """

    num_samples: int
    per_digit: tuple[int, ...]
    biased: int
    bias_half_top: int
    bias_half_bottom: int


@dataclasses.dataclass(frozen=True)
class DatasetManifest(Record):
    """The manifest of a dataset folder (``manifest.json``, or ``manifest.incomplete.json`` while written).

    Attributes:
        config: The dataset's identity (`dataset_config`): two folders with equal configs hold the same
            samples.
        variant: The `DatasetVariant` fields (`DatasetVariant.to_config`).
        name: The variant's readable name.
        num_samples: Number of samples.
        sources: Where the texture pool and the digits came from (`DataSources.description`).
        record_dtype: The shards' NumPy record layout (`numpy.lib.format.dtype_to_descr`).
        shards: The shard files, in index order.
        counts: The totals; None until the dataset is complete.
        complete: Whether every shard is written.
    """

    SCHEMA: ClassVar[str] = "toy_benchmark.dataset_manifest"
    SCHEMA_VERSION: ClassVar[int] = 2

    config: dict[str, Any]
    variant: dict[str, Any]
    name: str
    num_samples: int
    sources: dict[str, Any]
    record_dtype: Any
    shards: tuple[Shard, ...]
    counts: DatasetCounts | None = None
    complete: bool = False

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        """Reads version 1 (the same fields, written before typed records).

        Raises:
            RecordError: For another version.
        """
        if version == 1:
            return data
        return super().upgrade(data, version)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DatasetManifest:
        """Reads a manifest of this or an older schema version.

        Raises:
            FileNotFoundError: If the file does not exist.
            RecordError: If it is not valid JSON or not a dataset manifest (names the file).
        """
        path = os.fspath(path)
        try:
            data = read_json(path)
        except FileNotFoundError:
            raise
        except ValueError as error:
            raise RecordError(str(error)) from None
        if isinstance(data, dict) and "schema" not in data and data.get("format") == _LEGACY_FORMAT:
            data = {"schema": cls.SCHEMA, "schema_version": 1,
                    **{key: value for key, value in data.items() if key != "format"}}
        return cls.from_dict(data, source=path)


def dataset_config(variant: DatasetVariant, sources: DataSources) -> dict[str, Any]:
    """The identity of a dataset's content: two folders with equal configs hold the same samples.

    Args:
        variant: The dataset variant (its `content_config`: the test split ignores the seed).
        sources: The texture pool and digits (their fingerprints).

    Returns:
        ``{"format_version", "generator_version", "variant", "textures", "mnist"}`` as JSON data.
    """
    return {
        "format_version": FORMAT_VERSION,
        "generator_version": GENERATOR_VERSION,
        "variant": variant.content_config(),
        **sources.identity(),
    }


def read_manifest(path: str | os.PathLike) -> DatasetManifest:
    """The manifest of a finished dataset folder.

    Args:
        path: The dataset folder.

    Returns:
        The manifest.

    Raises:
        FileNotFoundError: If the folder holds no dataset.
        ValueError: If the dataset is unfinished, or the manifest is damaged or of another format.
    """
    folder = os.fspath(path)
    manifest_path = os.path.join(folder, MANIFEST_NAME)
    if not os.path.exists(manifest_path):
        if os.path.exists(os.path.join(folder, PARTIAL_MANIFEST_NAME)):
            raise ValueError(f"Argument `path` must be a finished dataset; received {folder!r}, whose writer "
                             "was interrupted (run the writer again to finish it).")
        raise FileNotFoundError(f"Argument `path` must be a toy dataset folder; received {folder!r}, which "
                                f"holds no {MANIFEST_NAME}.")
    try:
        manifest = DatasetManifest.load(manifest_path)
    except RecordError as error:
        raise ValueError(f"{manifest_path!r} is not a toy dataset manifest ({error})") from None
    if manifest.config.get("format_version") != FORMAT_VERSION:
        found = manifest.config.get("format_version")
        raise ValueError(f"{manifest_path!r} is a toy dataset of format version {found!r}; this code reads "
                         f"version {FORMAT_VERSION}")
    return manifest
