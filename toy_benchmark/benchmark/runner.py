"""The benchmark protocol of the paper (Sec. 4.2, Fig. 4; supplement S1.2-S1.6), resumable.

A *run* trains one network on one training variant (backbone, bias strength, bias digit, bias
texture, dataset seed) and evaluates it (:mod:`toy_benchmark.evaluation.evaluator`). A *profile* fixes which runs
make a benchmark and how large they are: ``paper`` is the full protocol (3 backbones x 10 bias digits x
5 bias textures drawn from the 25 x 5 seeds x 2 strengths, plus the unbiased networks; width 1, 50
epochs, 50,000 training and 1,000 test images: a GPU job), ``quick`` a small version for 2 CPU cores.

Every run lives in its own folder ``<runs_dir>/<backbone>/<variant>-s<seed>/``:

    run.json        the run's full configuration, written first; a folder holding another run is an error
    train/          the training output (checkpoints every epoch; an interrupted training resumes)
    eval/           metrics.json and examples.png, written atomically: a run is finished iff its
                    eval/metrics.json exists and records the same configuration
    sweeps/         grid saliency parameter sweeps (Fig. S11), one metrics.json per setting

Rerunning a benchmark skips the finished runs and resumes the others, so a killed job loses at most
the epoch or the evaluation it was in.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from toy_benchmark.evaluation import evaluator as evaluation
from toy_benchmark import training
from toy_benchmark.atomic import write_json_atomic
from toy_benchmark.models import BACKBONES
from toy_benchmark.data.variant import NUM_DIGITS, DatasetVariant

__all__ = [
    "PROFILES",
    "PARAMETER_SWEEPS",
    "Profile",
    "RunSpec",
    "plan_runs",
    "run_benchmark",
    "aggregate",
]

NUM_TEXTURES = 25
RUN_FILE = "run.json"
ROW_LABELS = ("N",) + tuple(str(d) for d in range(NUM_DIGITS))
#: Grid saliency parameters swept in Fig. S11, and the constructor argument each one sets.
PARAMETER_SWEEPS = {"lambda": "mask_weight", "learning_rate": "learning_rate", "initial_value": "initial_value"}


@dataclasses.dataclass(frozen=True)
class Profile:
    """The settings of a benchmark.

    Attributes:
        name: Profile name.
        backbones: U-Net encoders (Fig. S8-S10 compare all three).
        strengths: Bias strengths of the biased networks ("weak", "strong").
        bias_digits: Biased digits (rows 0..9 of Fig. 4).
        bias_textures: Bias texture ids; None to draw ``num_bias_textures`` from the pool.
        num_bias_textures: Textures drawn with ``texture_draw_seed`` when ``bias_textures`` is None (5).
        texture_draw_seed: Seed of that draw.
        seeds: Training-set seeds (5 in the paper); each also seeds the network's initial weights.
        width: U-Net channel multiplier (1 = the published network).
        epochs, batch_size, num_train: Training (S1.2: 50 epochs, batch 100, 50,000 images).
        train_learning_rate: RMSprop rate of the first epochs (S1.2: 1e-3); the last fifth runs at a
            tenth of it (S1.2: 1e-4).
        num_test: Test images per evaluation (1,000).
        grid_steps: SGD steps of grid saliency (100).
        grid_initial_value: Initial value of every grid saliency mask cell (S1.2: 0.5). The parameter
            sweeps (Fig. S11) vary it too; the other grid saliency parameters keep the toy defaults.
        methods: Saliency methods evaluated.
        sweep_values: Values per swept grid saliency parameter (Fig. S11); empty for no sweep.
        sweep_num_test: Test images per sweep setting.
        sweep_max_runs: How many biased networks the sweep uses (S11: 5 digits x 5 textures x 3 seeds).
    """

    name: str
    backbones: tuple[str, ...] = ("vgg16", "mobilenetv2", "resnet18")
    strengths: tuple[str, ...] = ("weak", "strong")
    bias_digits: tuple[int, ...] = tuple(range(NUM_DIGITS))
    bias_textures: tuple[int, ...] | None = None
    num_bias_textures: int = 5
    texture_draw_seed: int = 0
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    width: float = 1.0
    epochs: int = 50
    batch_size: int = 100
    num_train: int = 50_000
    train_learning_rate: float = 1e-3
    num_test: int = 1_000
    grid_steps: int = 100
    grid_initial_value: float = 0.5
    methods: tuple[str, ...] = evaluation.METHODS
    sweep_values: Mapping[str, tuple[float, ...]] = dataclasses.field(default_factory=lambda: {
        "lambda": (0.01, 0.025, 0.05, 0.1, 0.2),
        "learning_rate": (0.05, 0.1, 0.2, 0.5, 1.0),
        "initial_value": (0.25, 0.5, 0.75, 1.0),
    })
    sweep_num_test: int = 1_000
    sweep_max_runs: int = 75

    def grid_saliency(self) -> dict[str, Any]:
        """The grid saliency arguments that differ from the toy defaults of the engine."""
        return {"steps": self.grid_steps, "initial_value": self.grid_initial_value}

    def textures(self) -> tuple[int, ...]:
        """The bias texture ids: the given ones, or ``num_bias_textures`` drawn from the pool of 25."""
        if self.bias_textures is not None:
            return tuple(self.bias_textures)
        rng = np.random.default_rng(self.texture_draw_seed)
        return tuple(int(t) for t in sorted(rng.choice(NUM_TEXTURES, self.num_bias_textures, replace=False)))

    def validate(self) -> "Profile":
        """Checks every field, naming the one that does not fit.

        Raises:
            ValueError: On an unknown backbone, strength or method, or a value out of range.
        """
        for backbone in self.backbones:
            if backbone not in BACKBONES:
                raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {backbone!r}")
        for strength in self.strengths:
            if strength not in ("weak", "strong"):
                raise ValueError(f"strengths must be weak or strong, got {strength!r}")
        for digit in self.bias_digits:
            if not 0 <= digit < NUM_DIGITS:
                raise ValueError(f"bias digits must be in 0..9, got {digit}")
        for texture in self.textures():
            if not 0 <= texture < NUM_TEXTURES:
                raise ValueError(f"bias textures must be in 0..{NUM_TEXTURES - 1}, got {texture}")
        for name in ("epochs", "batch_size", "num_train", "num_test", "grid_steps", "sweep_num_test"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.seeds:
            raise ValueError("seeds must not be empty")
        if not self.train_learning_rate > 0:
            raise ValueError(f"train_learning_rate must be positive, got {self.train_learning_rate}")
        if not 0.0 < self.grid_initial_value <= 1.0:
            raise ValueError(f"grid_initial_value must be in (0, 1], got {self.grid_initial_value}")
        if not self.width > 0:
            raise ValueError(f"width must be positive, got {self.width}")
        for parameter in self.sweep_values:
            if parameter not in PARAMETER_SWEEPS:
                raise ValueError(f"swept parameters must be among {tuple(PARAMETER_SWEEPS)}, got {parameter!r}")
        evaluation.check_methods(self.methods)
        return self


PROFILES: dict[str, Profile] = {
    "paper": Profile("paper"),
    # Why texture 0, 6 x 12,000 images and grid saliency from M = 1: docs/toy_benchmark.md (measured).
    "quick": Profile(
        "quick",
        backbones=("vgg16",),
        strengths=("strong",),
        bias_digits=(3,),
        bias_textures=(0,),
        seeds=(0,),
        width=0.125,
        epochs=6,
        batch_size=20,
        train_learning_rate=3e-3,
        num_train=12_000,
        num_test=200,
        grid_initial_value=1.0,
        sweep_values={"lambda": (0.01, 0.05, 0.2), "learning_rate": (0.05, 0.2, 1.0),
                      "initial_value": (0.5, 0.75, 1.0)},
        sweep_num_test=50,
        sweep_max_runs=1,
    ),
}


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One network of the benchmark: its training variant and architecture."""

    backbone: str
    strength: str
    bias_digit: int | None
    bias_texture: int | None
    seed: int

    @property
    def biased(self) -> bool:
        return self.strength != "none"

    @property
    def key(self) -> str:
        """The run's folder, relative to the runs folder."""
        variant = "none" if not self.biased else f"{self.strength}-d{self.bias_digit}-t{self.bias_texture}"
        return f"{self.backbone}/{variant}-s{self.seed}"

    def config(self, profile: Profile) -> dict[str, Any]:
        """Everything that decides the run's outputs, stored in run.json and metrics.json."""
        return {
            "run": dataclasses.asdict(self),
            "training": {"width": profile.width, "epochs": profile.epochs, "batch_size": profile.batch_size,
                         "num_train": profile.num_train, "learning_rate": profile.train_learning_rate},
            "evaluation": {"num_test": profile.num_test, "grid_saliency": profile.grid_saliency(),
                           "methods": list(profile.methods)},
        }

    def test_variant(self, num_test: int) -> DatasetVariant:
        """The test set on which this network's saliency is measured (its own variant)."""
        return DatasetVariant(self.strength, self.bias_digit, self.bias_texture, split="test", num_samples=num_test)


def plan_runs(profile: Profile) -> list[RunSpec]:
    """Every run of a profile: the unbiased network per backbone and seed, then the biased ones."""
    profile.validate()
    runs = [RunSpec(backbone, "none", None, None, seed) for backbone in profile.backbones for seed in profile.seeds]
    runs += [RunSpec(backbone, strength, digit, texture, seed)
             for backbone in profile.backbones for strength in profile.strengths for digit in profile.bias_digits
             for texture in profile.textures() for seed in profile.seeds]
    return runs


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path!r}: {error}") from None


def _claim_folder(folder: str, config: Mapping[str, Any]) -> None:
    """Records the run's configuration in its folder, refusing a folder that belongs to another run."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, RUN_FILE)
    found = _read_json(path)
    if found is None:
        write_json_atomic(path, config)
    elif found != json.loads(json.dumps(config)):
        raise ValueError(f"{folder!r} holds a different run (see its {RUN_FILE}); choose another --runs_dir")


def _finished(path: str, config: Mapping[str, Any]) -> dict[str, Any] | None:
    metrics = _read_json(path)
    if metrics is not None and metrics.get("run") == json.loads(json.dumps(config)):
        return metrics
    return None


def run_one(spec: RunSpec, profile: Profile, runs_dir: str, *, textures: Any = None, mnist: Any = None,
            log: Callable[[str], None] = print, verbose: int = 0) -> dict[str, Any]:
    """Trains (or resumes) and evaluates one run, unless it is finished; returns its metrics."""
    folder = os.path.join(runs_dir, spec.key)
    config = spec.config(profile)
    metrics_path = os.path.join(folder, "eval", evaluation.METRICS_FILE)
    done = _finished(metrics_path, config)
    if done is not None:
        log(f"[skip] {spec.key}: finished")
        return done
    _claim_folder(folder, config)
    variant = {"strength": spec.strength, "bias_digit": spec.bias_digit, "bias_texture": spec.bias_texture,
               "seed": spec.seed, "num_samples": profile.num_train}
    log(f"[train] {spec.key}")
    data = training.toy_training_data(variant, textures=textures, mnist=mnist)
    result = training.train_toy_unet(data, os.path.join(folder, "train"), backbone=spec.backbone,
                                     width=profile.width, seed=spec.seed, epochs=profile.epochs,
                                     batch_size=profile.batch_size, learning_rate=profile.train_learning_rate,
                                     final_learning_rate=profile.train_learning_rate / 10, tensorboard=True,
                                     verbose=verbose)
    log(f"[evaluate] {spec.key}")
    metrics = evaluation.evaluate(
        result.model, os.path.join(folder, "eval"), biased_test=spec.test_variant(profile.num_test),
        unbiased_test=DatasetVariant("none", split="test", num_samples=profile.num_test), textures=textures,
        mnist=mnist, methods=profile.methods, grid_saliency=profile.grid_saliency(), info=config,
        progress=verbose > 0)
    keras.backend.clear_session()
    return metrics


def run_sweeps(spec: RunSpec, profile: Profile, runs_dir: str, *, textures: Any = None, mnist: Any = None,
               log: Callable[[str], None] = print) -> dict[str, dict[float, dict[str, Any]]]:
    """Grid saliency parameter sweeps (Fig. S11) on one trained biased network, resumable."""
    folder = os.path.join(runs_dir, spec.key)
    results: dict[str, dict[float, dict[str, Any]]] = {}
    model = None
    for parameter, values in profile.sweep_values.items():
        results[parameter] = {}
        for value in values:
            config = {**spec.config(profile), "sweep": {"parameter": parameter, "value": value,
                                                        "num_test": profile.sweep_num_test}}
            out = os.path.join(folder, "sweeps", f"{parameter}={value:g}")
            metrics = _finished(os.path.join(out, evaluation.METRICS_FILE), config)
            if metrics is None:
                if model is None:
                    model = evaluation.load_model(os.path.join(folder, "train"))
                log(f"[sweep] {spec.key}: {parameter} = {value:g}")
                metrics = evaluation.evaluate(
                    model, out, biased_test=spec.test_variant(profile.sweep_num_test), unbiased_test=None,
                    textures=textures, mnist=mnist, methods=("grid_saliency",), num_examples=0,
                    grid_saliency={**profile.grid_saliency(), PARAMETER_SWEEPS[parameter]: value}, info=config)
            results[parameter][value] = metrics
    return results


def run_benchmark(profile: Profile, runs_dir: str, *, textures: Any = None, mnist: Any = None,
                  log: Callable[[str], None] = print, verbose: int = 0,
                  report_dir: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Runs (or resumes) every run and sweep of a profile and aggregates them.

    Args:
        profile: The benchmark profile.
        runs_dir: Folder of the runs.
        textures, mnist: Dataset sources (None: procedural textures, bundled MNIST).
        log: Receives one line per step.
        verbose: Progress bars of training and evaluation when > 0.
        report_dir: If given, every run's ``examples.png`` is copied there.

    Returns:
        ``(aggregated, examples)``: :func:`aggregate`'s result, and a map from run key to the name of
        its example figure inside ``report_dir``.
    """
    runs = plan_runs(profile)
    metrics = {}
    for index, spec in enumerate(runs, 1):
        log(f"run {index}/{len(runs)}")
        metrics[spec] = run_one(spec, profile, runs_dir, textures=textures, mnist=mnist, log=log, verbose=verbose)
    sweeps = {}
    if profile.sweep_values:
        for spec in [spec for spec in runs if spec.biased and spec.backbone == profile.backbones[0]][
                :profile.sweep_max_runs]:
            sweeps[spec] = run_sweeps(spec, profile, runs_dir, textures=textures, mnist=mnist, log=log)
    examples: dict[str, str] = {}
    if report_dir is not None:
        os.makedirs(report_dir, exist_ok=True)
        for spec in runs:
            source = os.path.join(runs_dir, spec.key, "eval", evaluation.EXAMPLES_FILE)
            if os.path.exists(source):
                name = f"examples_{spec.key.replace('/', '_')}.png"
                temporary = os.path.join(report_dir, name + ".tmp")
                shutil.copyfile(source, temporary)
                os.replace(temporary, os.path.join(report_dir, name))
                examples[spec.key] = name
    return aggregate(profile, metrics, sweeps), examples


def _mean_matrix(rows: Mapping[str, list[list[float | None]]]) -> list[list[float | None]]:
    """Averages, per row label and column, the non-null entries of several per-digit lists."""
    matrix = []
    for label in ROW_LABELS:
        entries = rows.get(label, [])
        row = []
        for digit in range(NUM_DIGITS):
            values = [entry[digit] for entry in entries if entry[digit] is not None]
            row.append(float(np.mean(values)) if values else None)
        matrix.append(row)
    return matrix


def _diagonal(matrix: list[list[float | None]]) -> dict[str, float | None]:
    """Mean of the biased digits (diagonal), of the other digits in biased rows, and of row N."""
    diagonal = [matrix[d + 1][d] for d in range(NUM_DIGITS) if matrix[d + 1][d] is not None]
    off = [matrix[d + 1][c] for d in range(NUM_DIGITS) for c in range(NUM_DIGITS)
           if c != d and matrix[d + 1][c] is not None and matrix[d + 1][d] is not None]
    unbiased = [matrix[0][d] for d in range(NUM_DIGITS)
                if matrix[0][d] is not None and matrix[d + 1][d] is not None]
    mean = lambda values: float(np.mean(values)) if values else None  # noqa: E731
    return {"biased_digits": mean(diagonal), "other_digits": mean(off), "unbiased_network": mean(unbiased)}


def aggregate(profile: Profile, metrics: Mapping[RunSpec, Mapping[str, Any]],
              sweeps: Mapping[RunSpec, Mapping[str, Mapping[float, Mapping[str, Any]]]] | None = None
              ) -> dict[str, Any]:
    """The paper's matrices (Fig. 4), per backbone and strength, the per-backbone CBL (Fig. S10), the
    parameter sweeps (Fig. S11) and the effect checks of the benchmark.

    Rows are ``N`` (the unbiased networks) and the bias digits 0..9, columns the digits; each entry is
    averaged over bias textures and seeds; ``None`` where no run fills it.
    """
    result: dict[str, Any] = {"profile": _profile_dict(profile), "matrices": {}, "summary": {}, "sweeps": {}}
    for backbone in profile.backbones:
        unbiased = [m for spec, m in metrics.items() if spec.backbone == backbone and not spec.biased]
        for strength in profile.strengths:
            biased = {spec: m for spec, m in metrics.items() if spec.backbone == backbone and spec.strength == strength}
            name = f"{backbone}/{strength}"
            matrices: dict[str, Any] = {}
            iou_rows = {"N": [m["segmentation"]["iou_per_digit"] for m in unbiased]}
            for spec, m in biased.items():
                iou_rows.setdefault(str(spec.bias_digit), []).append(m["segmentation"]["iou_per_digit"])
            matrices["miou"] = _mean_matrix(iou_rows)
            for method in profile.methods:
                for measure in ("mcbd", "mcbl"):
                    rows = {"N": [m["saliency"]["methods"][method][f"{measure}_per_digit"] for m in unbiased]}
                    for spec, m in biased.items():
                        rows.setdefault(str(spec.bias_digit), []).append(
                            m["saliency"]["methods"][method][f"{measure}_per_digit"])
                    matrices[f"{measure}/{method}"] = _mean_matrix(rows)
            result["matrices"][name] = matrices
            result["summary"][name] = {key: _diagonal(matrix) for key, matrix in matrices.items()}
    result["effect"] = effect_checks(result["summary"], profile.methods)
    for spec, by_parameter in (sweeps or {}).items():
        for parameter, by_value in by_parameter.items():
            for value, m in by_value.items():
                entry = m["saliency"]["methods"]["grid_saliency"]
                digit = spec.bias_digit
                others = [v for d, v in enumerate(entry["mcbd_per_digit"]) if d != digit and v is not None]
                result["sweeps"].setdefault(parameter, {}).setdefault(f"{value:g}", []).append({
                    "run": spec.key,
                    "mcbd_biased": entry["mcbd_per_digit"][digit],
                    "mcbd_unbiased": float(np.mean(others)) if others else None,
                    "mcbl_biased": entry["mcbl_per_digit"][digit],
                })
    return result


def _profile_dict(profile: Profile) -> dict[str, Any]:
    data = dataclasses.asdict(profile)
    data["bias_textures"] = list(profile.textures())
    data["sweep_values"] = {k: list(v) for k, v in profile.sweep_values.items()}
    return data


#: How much higher the biased digit's grid saliency mCBD must be to count as "clearly higher", and how
#: much lower its IoU must be to count as a drop (absolute, both in [0, 1]).
EFFECT_MARGIN = 0.05


def effect_checks(summary: Mapping[str, Mapping[str, Mapping[str, float | None]]],
                  methods: Iterable[str], *, margin: float = EFFECT_MARGIN) -> dict[str, Any]:
    """The paper's effect, measured (Sec. 4.2, Fig. 4), per backbone/strength group.

    * ``iou_drop``: the biased networks' IoU of their biased digit is lower than the unbiased network's
      by at least ``margin``.
    * ``grid_cbd_detects``: grid saliency mCBD of the biased digit exceeds both the other digits' and the
      unbiased network's mCBD of that digit by at least ``margin``.
    * ``grid_cbl_at_least_0.9``: grid saliency mCBL of the biased digit is at least 0.9.
    * ``gradients_localize_worse``: VG, IG and SG all have a lower mCBL than grid saliency.
    """
    checks: dict[str, Any] = {}
    for group, entries in summary.items():
        iou = entries["miou"]
        grid_cbd = entries.get("mcbd/grid_saliency", {})
        grid_cbl = entries.get("mcbl/grid_saliency", {}).get("biased_digits")
        group_checks: dict[str, Any] = {}
        if iou["biased_digits"] is not None and iou["unbiased_network"] is not None:
            group_checks["iou_drop"] = iou["biased_digits"] <= iou["unbiased_network"] - margin
        if grid_cbd.get("biased_digits") is not None:
            biased = grid_cbd["biased_digits"]
            higher_than_others = grid_cbd["other_digits"] is None or biased >= grid_cbd["other_digits"] + margin
            higher_than_unbiased = grid_cbd["unbiased_network"] is None or biased >= grid_cbd["unbiased_network"] + margin
            group_checks["grid_cbd_detects"] = bool(higher_than_others and higher_than_unbiased)
        if grid_cbl is not None:
            group_checks["grid_cbl_at_least_0.9"] = grid_cbl >= 0.9
            gradient_cbl = [entries.get(f"mcbl/{m}", {}).get("biased_digits")
                            for m in ("vanilla_gradient", "integrated_gradients", "smooth_grad") if m in methods]
            if gradient_cbl and all(v is not None for v in gradient_cbl):
                group_checks["gradients_localize_worse"] = all(v < grid_cbl for v in gradient_cbl)
        checks[group] = group_checks
    return checks
