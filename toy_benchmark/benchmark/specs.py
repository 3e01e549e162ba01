"""Typed specifications of the benchmark's runs and parameter sweeps, and the plan of a profile.

A *run* trains one network on one training variant (backbone, bias strength, bias digit, bias
texture, dataset seed) and evaluates it on its own test variant and the unbiased one (paper Sec. 4.2).
A *sweep setting* evaluates a trained biased network again with one grid saliency parameter changed
(Fig. S11). Both carry everything that decides their outputs (`settings`), which their run folders
record.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from toy_benchmark.benchmark.profiles import PARAMETER_SWEEPS, Profile
from toy_benchmark.data.generator import SampleGenerator
from toy_benchmark.data.sources import DataSources
from toy_benchmark.data.variant import NUM_DIGITS, DatasetVariant
from toy_benchmark.training.schedule import schedule_setting

__all__ = ["RunSpec", "SweepSpec", "plan_runs", "plan_sweeps"]


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One network of the benchmark: its training variant and architecture.

    Attributes:
        backbone: U-Net encoder.
        bias_strength: "none", "weak" or "strong".
        bias_digit, bias_texture: The bias (None for "none").
        dataset_seed: The training-set draw; the network's model seed (initial weights, data order) too.
    """

    backbone: str
    bias_strength: str
    bias_digit: int | None
    bias_texture: int | None
    dataset_seed: int

    @property
    def biased(self) -> bool:
        """Whether the network is trained on a biased variant."""
        return self.bias_strength != "none"

    @property
    def model_seed(self) -> int:
        """The network's own seed: the dataset seed, so one number names a run."""
        return self.dataset_seed

    @property
    def key(self) -> str:
        """The run's folder, relative to the runs folder, e.g. ``vgg16/strong-d3-t0-s0``."""
        variant = "none" if not self.biased else f"{self.bias_strength}-d{self.bias_digit}-t{self.bias_texture}"
        return f"{self.backbone}/{variant}-s{self.dataset_seed}"

    def train_variant(self, profile: Profile) -> DatasetVariant:
        """The training set of this network."""
        return DatasetVariant(self.bias_strength, self.bias_digit, self.bias_texture, seed=self.dataset_seed,
                              split="train", num_samples=profile.num_train)

    def test_variant(self, num_test: int) -> DatasetVariant:
        """The test set on which this network's saliency is measured (its own variant)."""
        return DatasetVariant(self.bias_strength, self.bias_digit, self.bias_texture, split="test",
                              num_samples=num_test)

    def bias_digit_images(self, num_test: int, sources: DataSources) -> tuple[SampleGenerator, np.ndarray]:
        """The generator of this network's test set and the indices of its bias digit's images among the
        first ``num_test`` (sample i shows digit i mod 10), e.g. for the constant probe; the indices are empty
        where ``num_test`` holds none."""
        generator = SampleGenerator(self.test_variant(num_test), textures=sources.textures, mnist=sources.mnist)
        return generator, np.arange(self.bias_digit, num_test, NUM_DIGITS)

    def settings(self, profile: Profile) -> dict[str, Any]:
        """Everything that decides the run's outputs, recorded in its run folder (the training schedule only
        when it is not the paper's step, so run folders written before it was a setting still resume)."""
        return {
            "run": dataclasses.asdict(self),
            "training": {"width": profile.width, "epochs": profile.epochs, "batch_size": profile.batch_size,
                         "num_train": profile.num_train, "learning_rate": profile.train_learning_rate,
                         **schedule_setting(profile.train_schedule)},
            "evaluation": {"num_test": profile.num_test, "grid_saliency": profile.grid_saliency(),
                           "methods": list(profile.methods)},
        }


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """One setting of a grid saliency parameter sweep (Fig. S11) on the network of a run.

    Attributes:
        run: The run whose trained network is explained.
        parameter: Key of :data:`~toy_benchmark.benchmark.profiles.PARAMETER_SWEEPS`.
        value: The parameter's value.
    """

    run: RunSpec
    parameter: str
    value: float

    @property
    def folder(self) -> str:
        """The setting's folder inside the run's folder, e.g. ``sweeps/lambda=0.05``."""
        return f"sweeps/{self.parameter}={self.value:g}"

    def grid_saliency(self, profile: Profile) -> dict[str, Any]:
        """The profile's grid saliency arguments with the swept one set."""
        return {**profile.grid_saliency(), PARAMETER_SWEEPS[self.parameter]: self.value}

    def settings(self, profile: Profile) -> dict[str, Any]:
        """Everything that decides the setting's outputs, recorded in its folder."""
        return {**self.run.settings(profile), "sweep": {"parameter": self.parameter, "value": self.value,
                                                         "num_test": profile.sweep_num_test}}


def plan_runs(profile: Profile) -> list[RunSpec]:
    """Every run of a profile: the unbiased network per backbone and seed, then the biased ones.

    Raises:
        ValueError: If the profile does not validate.
    """
    profile.validate()
    runs = [RunSpec(backbone, "none", None, None, seed)
            for backbone in profile.backbones for seed in profile.dataset_seeds]
    runs += [RunSpec(backbone, strength, digit, texture, seed)
             for backbone in profile.backbones for strength in profile.bias_strengths
             for digit in profile.bias_digits for texture in profile.textures() for seed in profile.dataset_seeds]
    return runs


def plan_sweeps(profile: Profile, runs: list[RunSpec]) -> list[SweepSpec]:
    """The sweep settings of a profile (Fig. S11, supplement S1.6), grouped by run in the order of ``runs``.

    Every swept value of every parameter, on each network of ``runs`` that
    :meth:`~toy_benchmark.benchmark.profiles.Profile.sweep_networks` draws (in the paper 5 bias digits x
    5 textures x 3 seeds: 75 networks).
    """
    drawn = profile.sweep_networks()
    chosen = [spec for spec in runs
              if spec.backbone == drawn["backbone"] and spec.bias_strength == drawn["bias_strength"]
              and spec.bias_digit in drawn["bias_digits"] and spec.bias_texture in drawn["bias_textures"]
              and spec.dataset_seed in drawn["dataset_seeds"]]
    return [SweepSpec(spec, parameter, value) for spec in chosen
            for parameter, values in profile.sweep_values.items() for value in values]
