"""The benchmark's results as the paper shows them: Fig. 4 matrices, S10 bars, S11 sweeps, effect checks.

Rows of a matrix are ``N`` (the unbiased networks) and the bias digits 0..9, columns the digits; each
entry is averaged over bias textures and dataset seeds (None where no run fills it). The aggregated
result is plain JSON data: the report (:mod:`.report`) reads nothing else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from grid_saliency_tf.experiment import to_json_value
from toy_benchmark.benchmark.effects import CBL_THRESHOLD, EFFECT_MARGIN, MIN_CBL_IMAGES, effect_checks
from toy_benchmark.benchmark.intervals import group_intervals
from toy_benchmark.benchmark.profiles import Profile
from toy_benchmark.benchmark.specs import RunSpec, SweepSpec
from toy_benchmark.data.variant import NUM_DIGITS
from toy_benchmark.evaluation.metrics_record import MetricsRecord
from toy_benchmark.training.schedule import schedule_setting

__all__ = ["MEASURES", "ROW_LABELS", "aggregate", "profile_summary"]

#: Row labels of every matrix: the unbiased networks, then the bias digits.
ROW_LABELS = ("N",) + tuple(str(d) for d in range(NUM_DIGITS))
#: The saliency measures per method, as named in ``metrics.json``.
MEASURES = ("mcbd", "mcbl")


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _mean_matrix(rows: Mapping[str, list[Sequence[float | None]]]) -> list[list[float | None]]:
    """Averages, per row label and column, the non-null entries of several per-digit lists."""
    matrix = []
    for label in ROW_LABELS:
        entries = rows.get(label, [])
        matrix.append([_mean([entry[digit] for entry in entries if entry[digit] is not None])
                       for digit in range(NUM_DIGITS)])
    return matrix


def _diagonal(matrix: list[list[float | None]]) -> dict[str, float | None]:
    """Mean of the biased digits (diagonal), of the other digits in biased rows, and of row N."""
    diagonal = [matrix[d + 1][d] for d in range(NUM_DIGITS) if matrix[d + 1][d] is not None]
    off = [matrix[d + 1][c] for d in range(NUM_DIGITS) for c in range(NUM_DIGITS)
           if c != d and matrix[d + 1][c] is not None and matrix[d + 1][d] is not None]
    unbiased = [matrix[0][d] for d in range(NUM_DIGITS)
                if matrix[0][d] is not None and matrix[d + 1][d] is not None]
    return {"biased_digits": _mean(diagonal), "other_digits": _mean(off), "unbiased_network": _mean(unbiased)}


def profile_summary(profile: Profile) -> dict[str, Any]:
    """The profile as JSON data (lists, not tuples), with the drawn bias textures, the swept parameters'
    values and the networks the sweeps explain (None without sweeps). The training schedule is left out
    when it is the paper's step (S1.2), so report folders written before it was a setting still resume."""
    data = dataclasses.asdict(profile)
    del data["train_schedule"]
    data.update(schedule_setting(profile.train_schedule, "train_schedule"))
    data["bias_textures"] = list(profile.textures())
    data["grid_saliency_parameters"] = profile.grid_saliency_parameters()
    data["sweep_networks"] = profile.sweep_networks() if profile.sweep_values else None
    return to_json_value(data, "profile")


def _group_matrices(profile: Profile, unbiased: list[MetricsRecord],
                    biased: Mapping[RunSpec, MetricsRecord]) -> dict[str, list[list[float | None]]]:
    """The Fig. 4 matrices of one backbone and strength: ``miou`` and ``<measure>/<method>``."""
    def rows(values: Callable[[MetricsRecord], Sequence[float | None]]) -> dict[str, list[Sequence[float | None]]]:
        found = {"N": [values(m) for m in unbiased]}
        for spec, m in biased.items():
            found.setdefault(str(spec.bias_digit), []).append(values(m))
        return found

    matrices = {"miou": _mean_matrix(rows(lambda m: m.segmentation.iou_per_digit))}
    for method in profile.methods:
        for measure in MEASURES:
            matrices[f"{measure}/{method}"] = _mean_matrix(
                rows(lambda m: getattr(m.saliency.methods[method], f"{measure}_per_digit")))
    return matrices


def _sweep_entry(spec: SweepSpec, metrics: MetricsRecord) -> dict[str, Any]:
    entry = metrics.saliency.methods["grid_saliency"]
    digit = spec.run.bias_digit
    others = [v for d, v in enumerate(entry.mcbd_per_digit) if d != digit and v is not None]
    return {"run": spec.run.key, "mcbd_biased": entry.mcbd_per_digit[digit], "mcbd_unbiased": _mean(others),
            "mcbl_biased": entry.mcbl_per_digit[digit]}


def aggregate(profile: Profile, metrics: Mapping[RunSpec, MetricsRecord],
              sweeps: Mapping[SweepSpec, MetricsRecord] | None = None,
              timing: Mapping[str, float] | None = None, examples: Mapping[str, str] | None = None, *,
              probes: Mapping[RunSpec, Mapping[str, Any]] | None = None, seed: int = 0) -> dict[str, Any]:
    """The paper's matrices (Fig. 4) per backbone and strength, their diagonal summaries (Fig. S10), the
    parameter sweeps (Fig. S11), bootstrap 95% intervals over images of every summary entry and the effect
    checks on them.

    Args:
        profile: The benchmark's profile.
        metrics: Per run, its evaluation record.
        sweeps: Per sweep setting, its evaluation record.
        timing: Seconds spent, by what was timed, as recorded by the runs (see the runner).
        examples: Per run key, the file name of its example figure in the report folder.
        probes: Per biased run, its constant probe (the runner's ``probe.json``).
        seed: Seed of the bootstrap resampling.

    Returns:
        JSON data: ``{"profile", "row_labels", "matrices": {group: {measure: 11 x 10}}, "summary": {group: {measure:
        {"biased_digits", "other_digits", "unbiased_network"}}}, "intervals": {group: ...} (see
        :func:`~toy_benchmark.benchmark.intervals.group_intervals`), "sweeps": {parameter: {value: [entry per
        run]}}, "effect": {group: {check: bool}}, "timing": {name: seconds}, "examples": {run key: file},
        "probes": {run key: probe}}``, groups named
        ``<backbone>/<strength>``.
    """
    result: dict[str, Any] = {"profile": profile_summary(profile), "row_labels": list(ROW_LABELS), "matrices": {},
                              "summary": {}, "intervals": {}, "sweeps": {}}
    for backbone in profile.backbones:
        unbiased = [m for spec, m in metrics.items() if spec.backbone == backbone and not spec.biased]
        for strength in profile.bias_strengths:
            biased = {spec: m for spec, m in metrics.items()
                      if spec.backbone == backbone and spec.bias_strength == strength}
            name = f"{backbone}/{strength}"
            matrices = _group_matrices(profile, unbiased, biased)
            result["matrices"][name] = matrices
            result["summary"][name] = {key: _diagonal(matrix) for key, matrix in matrices.items()}
            result["intervals"][name] = group_intervals(unbiased, biased, profile.methods, seed=seed)
    result["effect"] = effect_checks(result["intervals"], profile.methods)
    result["effect_thresholds"] = {"margin": EFFECT_MARGIN, "cbl_threshold": CBL_THRESHOLD,
                                   "min_cbl_images": MIN_CBL_IMAGES}
    for spec, m in (sweeps or {}).items():
        result["sweeps"].setdefault(spec.parameter, {}).setdefault(f"{spec.value:g}", []).append(_sweep_entry(spec, m))
    result["timing"] = dict(timing or {})
    result["examples"] = dict(examples or {})
    result["probes"] = {spec.key: dict(probe) for spec, probe in (probes or {}).items()}
    return result
