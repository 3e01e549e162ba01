"""The configuration of one toy-dataset variant: bias strength, bias digit, bias texture, seed, split, size.

Paper Sec. 4.1 and supplement S1.1 (Hoyer et al., NeurIPS 2019) define three kinds of dataset,
DS_no-bias, DS_w-bias and DS_s-bias; TOY_DATASET_SPEC.md pins down the rest. Everything that decides
the content of a dataset is in `DatasetVariant`, except the two sources (texture pool and MNIST digits),
which are data and are passed next to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = [
    "BACKGROUND_CLASS",
    "BIAS_HALF_BOTTOM",
    "BIAS_HALF_NONE",
    "BIAS_HALF_TOP",
    "BIAS_STRENGTHS",
    "DEFAULT_NUM_SAMPLES",
    "DatasetVariant",
    "IMAGE_SIZE",
    "NUM_CLASSES",
    "NUM_DIGITS",
    "SPLITS",
]

IMAGE_SIZE = 64
NUM_DIGITS = 10
BACKGROUND_CLASS = 10
NUM_CLASSES = 11
BIAS_STRENGTHS = ("none", "weak", "strong")
SPLITS = ("train", "test")
DEFAULT_NUM_SAMPLES = {"train": 50_000, "test": 1_000}
BIAS_HALF_NONE = 0
BIAS_HALF_TOP = 1
BIAS_HALF_BOTTOM = 2


def _check_int(name: str, value: Any, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) and not hasattr(value, "__index__"):
        raise TypeError(
            f"Argument `{name}` must be an integer; received {value!r} of type {type(value).__name__}."
        )
    value = int(value.__index__())
    if value < low or (high is not None and value > high):
        bounds = f"in {low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"Argument `{name}` must be {bounds}; received {value}.")
    return value


@dataclasses.dataclass(frozen=True)
class DatasetVariant:
    """One dataset of the benchmark (paper Sec. 4.1): DS_no-bias, DS_w-bias or DS_s-bias, train or test.

    Attributes:
      strength: "none" (every texture uniform over the pool), "weak" (digit `bias_digit` always has
        texture `bias_texture` in one background half; other digits draw all textures uniformly, the bias
        texture included) or "strong" (the bias texture appears if and only if the bias digit does).
      bias_digit: the biased digit class 0..9; None for strength "none", required otherwise.
      bias_texture: the id of the bias texture in the texture pool; None for strength "none", required
        otherwise. Checked against the pool's size when a generator is built.
      seed: fixes a training set (digit instances, textures, crops, bias halves). The test split does not
        depend on it (TOY_DATASET_SPEC.md): two test variants that differ only in seed are the same data.
      split: "train" or "test". Train digits come from MNIST's training pool, test digits from its test pool.
      num_samples: number of samples; None means the paper's size (50,000 train, 1,000 test). Sample i
        shows digit i mod 10.

    Raises:
      ValueError: if a value is out of range, or the bias fields do not match the strength.
      TypeError: if a field has the wrong type.
    """

    strength: str = "none"
    bias_digit: int | None = None
    bias_texture: int | None = None
    seed: int = 0
    split: str = "train"
    num_samples: int | None = None

    def __post_init__(self) -> None:
        if self.strength not in BIAS_STRENGTHS:
            raise ValueError(
                f"Argument `strength` must be one of {BIAS_STRENGTHS}; received {self.strength!r}."
            )
        if self.split not in SPLITS:
            raise ValueError(f"Argument `split` must be one of {SPLITS}; received {self.split!r}.")
        if self.strength == "none":
            if self.bias_digit is not None:
                raise ValueError(f"Argument `bias_digit` must be None for strength 'none'; received "
                                 f"{self.bias_digit!r}.")
            if self.bias_texture is not None:
                raise ValueError(f"Argument `bias_texture` must be None for strength 'none'; received "
                                 f"{self.bias_texture!r}.")
        else:
            if self.bias_digit is None:
                raise ValueError(
                    f"Argument `bias_digit` must be given for strength {self.strength!r}; received None."
                )
            if self.bias_texture is None:
                raise ValueError(f"Argument `bias_texture` must be given for strength {self.strength!r}; received "
                                 "None.")
            object.__setattr__(
                self, "bias_digit", _check_int("bias_digit", self.bias_digit, low=0, high=NUM_DIGITS - 1)
            )
            object.__setattr__(self, "bias_texture", _check_int("bias_texture", self.bias_texture, low=0))
        object.__setattr__(self, "seed", _check_int("seed", self.seed, low=0, high=2**63 - 1))
        num_samples = DEFAULT_NUM_SAMPLES[self.split] if self.num_samples is None else self.num_samples
        object.__setattr__(self, "num_samples", _check_int("num_samples", num_samples, low=1))

    @property
    def biased(self) -> bool:
        """Whether the variant induces a bias (strength weak or strong)."""
        return self.strength != "none"

    @property
    def name(self) -> str:
        """A short readable name, e.g. 'strong-d2-t7-seed0-train' or 'none-test'."""
        parts = [self.strength]
        if self.biased:
            parts += [f"d{self.bias_digit}", f"t{self.bias_texture}"]
        if self.split == "train":
            parts.append(f"seed{self.seed}")
        parts += [self.split, f"n{self.num_samples}"]
        return "-".join(parts)

    def to_config(self) -> dict[str, Any]:
        """Returns every field as a JSON-ready dict (round-trips through `from_config`)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DatasetVariant:
        """Builds a variant from `to_config()` output.

        Raises:
          ValueError: on unknown keys.
        """
        unknown = set(config) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Argument `config` must hold only DatasetVariant fields; received unknown keys "
                             f"{sorted(unknown)}.")
        return cls(**config)

    def content_config(self) -> dict[str, Any]:
        """The fields that decide the samples: `to_config()` with the seed set to None for the test split."""
        config = self.to_config()
        if self.split == "test":
            config["seed"] = None
        return config
