"""Benchmark profiles: which runs make a benchmark and how large they are (paper Sec. 4.2, S1.2-S1.6).

`Profile`'s defaults are the paper's toy settings, read from where they are defined once: the training
protocol from the training wing (`PAPER_PROTOCOL`), the published width from the models
(`PUBLISHED_WIDTH`), the dataset sizes from the data wing (`DEFAULT_NUM_SAMPLES`) and the grid saliency
parameters from the engine's toy defaults (`GridSaliencyOptimizer`); the binaries take their flag
defaults from `PAPER`. Two profiles are defined:

* ``paper``: the full protocol, 3 backbones x 10 bias digits x 5 bias textures drawn from the 25 x 5
  dataset seeds x 2 bias strengths, plus the unbiased networks; width 1, 50 epochs, 50,000 training and
  1,000 test images (a GPU job);
* ``quick``: a small version for 2 CPU cores (`make demo`; docs/toy_benchmark.md says why it looks so).

The parameter sweeps of Fig. S11 (supplement S1.6) explain again, with one grid saliency parameter
changed, the networks of a seeded draw (`Profile.sweep_networks`): in the paper, 5 bias digits x 5 bias
textures x 3 dataset seeds of the strong bias and the first backbone, 75 networks.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np

from grid_saliency_tf import GridSaliencyOptimizer
from toy_benchmark.data.variant import BIAS_STRENGTHS, DEFAULT_NUM_SAMPLES, NUM_DIGITS
from toy_benchmark.evaluation.explainers import METHODS, check_methods
from toy_benchmark.models import BACKBONES, PUBLISHED_WIDTH
from toy_benchmark.training.schedule import PAPER_PROTOCOL, SCHEDULES

__all__ = ["FINAL_RATE_RATIO", "NUM_TEXTURES", "PAPER", "PARAMETER_SWEEPS", "PROFILES", "Profile",
           "grid_saliency_default"]

#: Size of the texture pool the bias textures are drawn from.
NUM_TEXTURES = 25
#: Grid saliency parameters swept in Fig. S11 and named in S1.6, and the `GridSaliencyOptimizer` argument each
#: one sets (all of them runtime parameters of the engine: a sweep traces its optimisation once per network).
PARAMETER_SWEEPS = {"lambda": "mask_weight", "learning_rate": "learning_rate", "momentum": "momentum",
                    "initial_value": "initial_value"}
#: The last fifth of the epochs runs at a tenth of the rate (S1.2: 1e-3, then 1e-4).
FINAL_RATE_RATIO = PAPER_PROTOCOL.learning_rate / PAPER_PROTOCOL.final_learning_rate
_POSITIVE_FIELDS = ("epochs", "batch_size", "num_train", "num_test", "grid_steps", "sweep_num_test", "sweep_num_digits",
                    "sweep_num_textures", "sweep_num_seeds")


def grid_saliency_default(name: str) -> Any:
    """The engine's toy default of a `GridSaliencyOptimizer` argument (supplement S1.2), e.g. ``"steps"``."""
    return inspect.signature(GridSaliencyOptimizer).parameters[name].default


def _fail(name: str, requirement: str, received: Any) -> None:
    raise ValueError(f"Argument `{name}` must {requirement}; received {received!r}.")


@dataclasses.dataclass(frozen=True)
class Profile:
    """The settings of a benchmark; the defaults are the paper's (Sec. 4.2, supplement S1.2).

    Attributes:
        name: Profile name.
        backbones: U-Net encoders (Fig. S8-S10 compare all three).
        bias_strengths: Bias strengths of the biased networks ("weak", "strong").
        bias_digits: Biased digits (rows 0..9 of Fig. 4).
        bias_textures: Bias texture ids; None to draw ``num_bias_textures`` from the pool.
        num_bias_textures: Textures drawn with ``texture_draw_seed`` when ``bias_textures`` is None (5).
        texture_draw_seed: Seed of that draw.
        dataset_seeds: Training-set draws (5 in the paper); each run's network takes its dataset seed as
            its model seed too (initial weights and data order).
        width: U-Net channel multiplier (1 = the published network).
        epochs, batch_size, num_train: Training (S1.2: 50 epochs, batch 100, 50,000 images).
        train_schedule: Learning-rate schedule of training, "step" (S1.2) or "cosine" (a lever of issue
            #13, `toy_benchmark.training.learning_rate_at_step`: from the first rate to the final one).
        train_learning_rate: RMSprop rate of the first epochs (S1.2: 1e-3); the last fifth runs at a
            tenth of it (S1.2: 1e-4).
        num_test: Test images per evaluation (1,000).
        grid_steps: SGD steps of grid saliency (100).
        grid_initial_value: Initial value of every grid saliency mask cell (S1.2: 0.5). The parameter
            sweeps (Fig. S11) vary it too; the other grid saliency parameters keep the toy defaults.
        methods: Saliency methods evaluated.
        sweep_values: Values per swept grid saliency parameter (Fig. S11, S1.6: lambda, learning rate,
            momentum, initial value); empty for no sweep.
        sweep_num_test: Test images per sweep setting.
        sweep_num_digits, sweep_num_textures, sweep_num_seeds: How many bias digits, bias textures and
            dataset seeds the sweep's networks are drawn from (Fig. S11: 5, 5 and 3); all of them where the
            profile has fewer. See :meth:`sweep_networks`.
        sweep_draw_seed: Seed of that draw.
    """

    name: str
    backbones: tuple[str, ...] = ("vgg16", "mobilenetv2", "resnet18")
    bias_strengths: tuple[str, ...] = ("weak", "strong")
    bias_digits: tuple[int, ...] = tuple(range(NUM_DIGITS))
    bias_textures: tuple[int, ...] | None = None
    num_bias_textures: int = 5
    texture_draw_seed: int = 0
    dataset_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    width: float = PUBLISHED_WIDTH
    epochs: int = PAPER_PROTOCOL.epochs
    batch_size: int = PAPER_PROTOCOL.batch_size
    num_train: int = DEFAULT_NUM_SAMPLES["train"]
    train_learning_rate: float = PAPER_PROTOCOL.learning_rate
    train_schedule: str = PAPER_PROTOCOL.schedule
    num_test: int = DEFAULT_NUM_SAMPLES["test"]
    grid_steps: int = grid_saliency_default("steps")
    grid_initial_value: float = grid_saliency_default("initial_value")
    methods: tuple[str, ...] = METHODS
    sweep_values: Mapping[str, tuple[float, ...]] = dataclasses.field(default_factory=lambda: {
        "lambda": (0.01, 0.025, 0.05, 0.1, 0.2),
        "learning_rate": (0.05, 0.1, 0.2, 0.5, 1.0),
        "momentum": (0.0, 0.25, 0.5, 0.75, 0.9),
        "initial_value": (0.25, 0.5, 0.75, 1.0),
    })
    sweep_num_test: int = DEFAULT_NUM_SAMPLES["test"]
    sweep_num_digits: int = 5
    sweep_num_textures: int = 5
    sweep_num_seeds: int = 3
    sweep_draw_seed: int = 0

    @property
    def final_learning_rate(self) -> float:
        """The rate of the last fifth of the epochs (S1.2: a tenth of the first)."""
        return self.train_learning_rate / FINAL_RATE_RATIO

    def grid_saliency(self) -> dict[str, Any]:
        """The grid saliency arguments that differ from the toy defaults of the engine."""
        return {"steps": self.grid_steps, "initial_value": self.grid_initial_value}

    def grid_saliency_parameters(self) -> dict[str, float]:
        """The value of every swept parameter (Fig. S11) in this profile's evaluations, by sweep name."""
        settings = self.grid_saliency()
        return {parameter: settings.get(argument, grid_saliency_default(argument))
                for parameter, argument in PARAMETER_SWEEPS.items()}

    def textures(self) -> tuple[int, ...]:
        """The bias texture ids: the given ones, or ``num_bias_textures`` drawn from the pool of 25."""
        if self.bias_textures is not None:
            return tuple(self.bias_textures)
        rng = np.random.default_rng(self.texture_draw_seed)
        return tuple(int(t) for t in sorted(rng.choice(NUM_TEXTURES, self.num_bias_textures, replace=False)))

    def sweep_networks(self) -> dict[str, Any]:
        """The biased networks the parameter sweeps explain (Fig. S11: "averaged over five randomly selected
        bias digits, five bias textures, and three training set generation seeds").

        One generator seeded with ``sweep_draw_seed`` draws, without replacement and in this order,
        ``sweep_num_digits`` of ``bias_digits``, ``sweep_num_textures`` of :meth:`textures` and
        ``sweep_num_seeds`` of ``dataset_seeds`` (all of a list that is not longer). The networks are those
        of the first backbone and the strongest of ``bias_strengths``.

        Returns:
            ``{"backbone", "bias_strength", "bias_digits", "bias_textures", "dataset_seeds"}``, the lists sorted.
        """
        rng = np.random.default_rng(self.sweep_draw_seed)

        def draw(pool: tuple[int, ...], count: int) -> tuple[int, ...]:
            return tuple(sorted(int(v) for v in rng.choice(pool, min(count, len(pool)), replace=False)))

        return {"backbone": self.backbones[0], "bias_strength": max(self.bias_strengths, key=BIAS_STRENGTHS.index),
                "bias_digits": draw(tuple(self.bias_digits), self.sweep_num_digits),
                "bias_textures": draw(self.textures(), self.sweep_num_textures),
                "dataset_seeds": draw(tuple(self.dataset_seeds), self.sweep_num_seeds)}

    def replace(self, **changes: Any) -> "Profile":
        """A validated copy with some fields changed (e.g. from the sweep binary's flags)."""
        return dataclasses.replace(self, **changes).validate()

    def validate(self) -> "Profile":
        """Checks every field, naming the one that does not fit.

        Returns:
            The profile itself.

        Raises:
            ValueError: On an unknown backbone, bias strength or method, or a value out of range.
        """
        for backbone in self.backbones:
            if backbone not in BACKBONES:
                _fail("backbones", f"name encoders among {', '.join(BACKBONES)}", backbone)
        for strength in self.bias_strengths:
            if strength not in BIAS_STRENGTHS[1:]:
                _fail("bias_strengths", f"be among {', '.join(BIAS_STRENGTHS[1:])}", strength)
        for digit in self.bias_digits:
            if not 0 <= digit < NUM_DIGITS:
                _fail("bias_digits", f"be digits in 0..{NUM_DIGITS - 1}", digit)
        for texture in self.textures():
            if not 0 <= texture < NUM_TEXTURES:
                _fail("bias_textures", f"be texture ids in 0..{NUM_TEXTURES - 1}", texture)
        for name in _POSITIVE_FIELDS:
            if getattr(self, name) < 1:
                _fail(name, "be at least 1", getattr(self, name))
        if not self.dataset_seeds:
            _fail("dataset_seeds", "not be empty", self.dataset_seeds)
        if not self.train_learning_rate > 0:
            _fail("train_learning_rate", "be positive", self.train_learning_rate)
        if self.train_schedule not in SCHEDULES:
            _fail("train_schedule", f"be one of {', '.join(SCHEDULES)}", self.train_schedule)
        if not 0.0 < self.grid_initial_value <= 1.0:
            _fail("grid_initial_value", "be in (0, 1]", self.grid_initial_value)
        if not self.width > 0:
            _fail("width", "be positive", self.width)
        for parameter in self.sweep_values:
            if parameter not in PARAMETER_SWEEPS:
                _fail("sweep_values", f"sweep parameters among {tuple(PARAMETER_SWEEPS)}", parameter)
        check_methods(self.methods)
        return self


#: The paper's protocol; its fields are the defaults of the binaries' flags.
PAPER = Profile("paper")

PROFILES: dict[str, Profile] = {
    "paper": PAPER,
    # Why texture 0, 6 x 12,000 images, grid saliency from M = 1 and the paper's 1,000 test images (100 of the
    # bias digit, so that a verdict does not hang on a draw of 20): docs/toy_benchmark.md (measured).
    "quick": Profile(
        "quick",
        backbones=("vgg16",),
        bias_strengths=("strong",),
        bias_digits=(3,),
        bias_textures=(0,),
        dataset_seeds=(0,),
        width=0.125,
        epochs=6,
        batch_size=20,
        train_learning_rate=3e-3,
        num_train=12_000,
        num_test=1_000,
        grid_initial_value=1.0,
        sweep_values={"lambda": (0.01, 0.05, 0.2), "learning_rate": (0.05, 0.2, 1.0), "momentum": (0.0, 0.5, 0.9),
                      "initial_value": (0.5, 0.75, 1.0)},
        sweep_num_test=50,
    ),
}
