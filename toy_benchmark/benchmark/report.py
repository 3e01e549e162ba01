"""The markdown report of a benchmark with its tables and figures (paper Fig. 4, S10, S11).

It reads the aggregated results (:func:`~toy_benchmark.benchmark.aggregation.aggregate`) and nothing
else: no run folder, no runner. Tables (CSV, JSON, markdown) need only NumPy; the figures are drawn
by :mod:`.report_figures`.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from grid_saliency_tf.experiment import write_json, write_text
from toy_benchmark.benchmark import report_figures

__all__ = ["REPORT_FILE", "SUMMARY_FILE", "sweep_table", "write_report"]

REPORT_FILE = "report.md"
SUMMARY_FILE = "summary.json"
_SWEEP_MEASURES = ("mcbd_biased", "mcbd_unbiased", "mcbl_biased")


def _matrix_csv(matrix: Sequence[Sequence[float | None]], row_labels: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["bias_digit"] + [str(d) for d in range(len(matrix[0]))])
    for label, row in zip(row_labels, matrix):
        writer.writerow([label] + ["" if v is None else f"{v:.4f}" for v in row])
    return buffer.getvalue()


def sweep_table(sweeps: Mapping[str, Mapping[str, list[Mapping[str, Any]]]]) -> dict[str, list[dict[str, Any]]]:
    """Per swept parameter, one row per value with the measures averaged over the sweep's runs, by value."""
    table: dict[str, list[dict[str, Any]]] = {}
    for parameter, by_value in sweeps.items():
        for value, entries in by_value.items():
            row: dict[str, Any] = {"value": float(value)}
            for key in _SWEEP_MEASURES:
                values = [e[key] for e in entries if e[key] is not None]
                row[key] = float(np.mean(values)) if values else None
            table.setdefault(parameter, []).append(row)
        table[parameter].sort(key=lambda row: row["value"])
    return table


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _introduction(aggregated: Mapping[str, Any], runs_dir: str) -> list[str]:
    profile = aggregated["profile"]
    schedule = f" ({profile['train_schedule']} learning-rate schedule)" if "train_schedule" in profile else ""
    lines = [f"# Toy benchmark report: profile `{profile['name']}`", "",
             "Context bias detection and localization on the MNIST-on-textures benchmark (Hoyer et al., NeurIPS "
             "2019, Sec. 4). Networks trained on biased data are measured on the unbiased test set (IoU) and, with "
             "their predicted digit mask as request, on their own biased test set (mCBD, Eq. 6; mCBL, Eq. 7).", "",
             f"Profile: backbones {profile['backbones']}, bias strengths {profile['bias_strengths']}, bias digits "
             f"{profile['bias_digits']}, bias textures {profile['bias_textures']}, dataset seeds "
             f"{profile['dataset_seeds']}, width {profile['width']}, {profile['epochs']} epochs of "
             f"{profile['num_train']} images{schedule}, {profile['num_test']} test images, grid saliency "
             f"{profile['grid_steps']} steps from an initial mask value of {profile['grid_initial_value']:g} "
             "(paper: 0.5). Runs: `" + runs_dir + "`.", ""]
    timing = aggregated.get("timing") or {}
    if timing:
        parts = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timing.items())
        lines += [f"Compute time recorded by the runs: {parts}; total {sum(timing.values()):.0f} s.", ""]
    return lines


def _onednn(environment: Mapping[str, Any]) -> str:
    """"oneDNN on (who chose it)" from the record (`reproducibility.onednn_enabled`).

    Older records hold only the environment variable, as ``onednn`` (a string, or None when unset).
    """
    state = environment.get("onednn")
    recorded = isinstance(state, bool)
    variable = environment.get("onednn_variable") if recorded else state  # older: `onednn` is the variable
    chosen = "TensorFlow's choice for this CPU" if variable is None else f"TF_ENABLE_ONEDNN_OPTS={variable}"
    if not recorded:
        return f"oneDNN by {chosen} (whether on not recorded)"
    return f"oneDNN {'on' if state else 'off'} ({chosen})"


def _reproducibility_lines(aggregated: Mapping[str, Any]) -> list[str]:
    """How the numbers can be had again: the seeds, op determinism and the machine (`reproducibility`)."""
    environment = aggregated.get("environment")
    if not environment:
        return []
    determinism = environment.get("op_determinism")
    seed = environment.get("global_seed")
    lines = ["## Reproducibility", "",
             "Every draw is seeded by the settings above: each run's training set and its network's initial "
             "weights and data order (epoch e shuffled by a seed of (seed, e)) by its dataset seed; the bias "
             "textures and the networks of the parameter sweeps by the profile's draw seeds; SmoothGrad's noise "
             "by its seed. "
             f"TensorFlow op determinism: {_fmt(determinism) if determinism is not None else 'unknown'}; global "
             f"seed of Python, NumPy and TensorFlow: {'not set' if seed is None else seed}. Machine: "
             f"{environment.get('cpu')}, {environment.get('cpu_count')} CPUs, "
             f"{environment.get('intra_op_threads', 'unrecorded')} intra-op threads, TensorFlow "
             f"{environment.get('tensorflow')}, Keras {environment.get('keras')}, {_onednn(environment)}.", ""]
    if determinism:
        lines += ["Two runs of this command on the same kind of machine (CPU, intra-op thread count, TensorFlow "
                  "build, oneDNN on or off) write identical numbers. Another CPU, thread count or oneDNN setting "
                  "changes the last bits (oneDNN and Eigen choose kernels and split reductions by instruction set and "
                  "threads), and training amplifies them into other networks, as another seed would: compare such "
                  "runs by their intervals and verdicts, not digit for digit.", ""]
    else:
        lines += ["Without op determinism, two runs may differ in the last bits.", ""]
    return lines


def _interval(entry: Mapping[str, Any] | None, mean: float | None = None) -> str:
    """``mean [low, high] (n images, k networks)``, or the bare mean where no interval exists."""
    if entry is None:
        return _fmt(mean)
    return (f"{entry['estimate']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}] ({entry['num_units']} images, "
            f"{entry['num_networks']} network{'s' if entry['num_networks'] != 1 else ''})")


def _numbers(aggregated: Mapping[str, Any]) -> list[str]:
    thresholds = aggregated.get("effect_thresholds", {})
    lines = ["## The effect, measured", "",
             "Every check rests on bootstrap 95% intervals over test images (1,000 seeded resamples; "
             "`grid_saliency_tf.experiment.bootstrap_interval`): the IoU drop's paired interval (same unbiased "
             "test images) lies above 0; the biased network relies on its bias texture (its IoU of the biased "
             "digit on its biased test set minus on the same images with unbiased textures: paired interval "
             "above 0); grid saliency mCBD's interval of the biased digits lies above those of "
             f"the other digits and of the unbiased network, and the means differ by at least "
             f"{thresholds.get('margin', '-')}; the lower bound of grid saliency mCBL is at least "
             f"{thresholds.get('cbl_threshold', '-')}; the paired interval of grid saliency's CBL minus the best gradient method's (same "
             "images) lies above 0; both localisation checks rest on at least "
             f"{thresholds.get('min_cbl_images', '-')} images.", "",
             "| group | IoU drop of the biased digit | network relies on the bias | grid mCBD detects the bias | "
             "grid mCBL >= 0.9 (lower bound) | VG/IG/SG localize worse |", "|---|---|---|---|---|---|"]
    for group, checks in aggregated["effect"].items():
        lines.append(f"| {group} | {_fmt(checks.get('iou_drop'))} | {_fmt(checks.get('bias_learned'))} | "
                     f"{_fmt(checks.get('grid_cbd_detects'))} | "
                     f"{_fmt(checks.get('grid_cbl_at_least_0.9'))} | {_fmt(checks.get('gradients_localize_worse'))} |")
    lines += ["", "## Numbers (biased digits = diagonal of Fig. 4; other digits = off-diagonal of the biased rows;"
              " unbiased network = row N at the biased digits): mean [95% interval] (images, networks)", ""]
    intervals = aggregated.get("intervals", {})
    for group, summary in aggregated["summary"].items():
        group_intervals = intervals.get(group, {})
        lines += [f"### {group}", "", "| measure | biased digits | other digits | unbiased network |",
                  "|---|---|---|---|"]
        for key, values in summary.items():
            entries = group_intervals.get(key, {})
            lines.append("| " + " | ".join([key] + [_interval(entries.get(entry), values[entry])
                                                      for entry in ("biased_digits", "other_digits",
                                                                    "unbiased_network")]) + " |")
        differences = group_intervals.get("differences", {})
        if differences.get("iou_drop") or differences.get("grid_minus_best_gradient_cbl"):
            lines += ["", "| paired difference (same images) | mean [95% interval] |", "|---|---|",
                      f"| IoU drop of the biased digits (unbiased minus biased network) | "
                      f"{_interval(differences.get('iou_drop'))} |",
                      f"| bias reliance (biased network: IoU of the biased digits on its biased minus its unbiased "
                      f"test images) | {_interval(differences.get('bias_reliance'))} |"]
            if differences.get("grid_minus_best_gradient_cbl"):
                lines.append(f"| grid saliency mCBL minus {differences['best_gradient_method']} | "
                             f"{_interval(differences['grid_minus_best_gradient_cbl'])} |")
        lines.append("")
    return lines


def _probe_lines(aggregated: Mapping[str, Any]) -> list[str]:
    """The constant probe of every biased network (the runner's ``probe.json``), or nothing without one."""
    probes = aggregated.get("probes")
    if not probes:
        return []
    first = next(iter(probes.values()))
    contexts = [*(f"context {value}" for value in first["constants"]), *(f"context {name}" for name in
                                                                         first["perturbations"])]
    lines = ["## What stands in for the bias (constant probe)", "",
             "Each biased network's IoU of its bias digit on its biased test images (those of the evaluation): "
             "intact, with the bias half swapped for the image's other background half, and with the whole "
             "context set to each of grid saliency's constants (supplement S1.2) and to its blur and noise "
             f"images. A context that keeps at least {first['imitation_fraction']:g} of the intact IoU while the "
             "swap does not *imitates* the bias for the network: grid saliency with that perturbation can drop "
             "the bias half at no cost, so its masks may end empty although the network relies on its bias "
             "(`toy_benchmark.evaluation.constant_probe`; docs/toy_benchmark.md).", "",
             "| run | images | intact | bias half swapped | " + " | ".join(contexts) + " | imitating |",
             "|" + "---|" * (len(contexts) + 5)]
    for key, probe in probes.items():
        values = [probe["intact"], probe["swapped"], *probe["constants"].values(), *probe["perturbations"].values()]
        imitating = ", ".join([*probe["imitating"], *probe["imitating_perturbations"]]) or "none"
        lines.append(f"| {key} | {probe['num_images']} | " + " | ".join(f"{v:.3f}" for v in values)
                     + f" | {imitating} |")
    return lines + [""]


def _sweep_lines(aggregated: Mapping[str, Any], report_dir: str | os.PathLike) -> list[str]:
    table = sweep_table(aggregated["sweeps"])
    report_figures.plot_sweeps(table, aggregated["profile"]["grid_saliency_parameters"],
                               os.path.join(report_dir, "figS11_parameter_sweeps.png"))
    profile, drawn = aggregated["profile"], aggregated["profile"].get("sweep_networks")
    lines = ["## Grid saliency parameters (Fig. S11, supplement S1.6)", ""]
    if drawn:
        lines += [f"Each setting changes one parameter of the profile's grid saliency and explains "
                  f"{profile['sweep_num_test']} test images of each network of {drawn['backbone']}, bias "
                  f"{drawn['bias_strength']}, bias digits {drawn['bias_digits']} x textures {drawn['bias_textures']} "
                  f"x dataset seeds {drawn['dataset_seeds']} (drawn with seed {profile['sweep_draw_seed']}); "
                  "values are means over these networks.", ""]
    lines += ["![Fig. S11](figS11_parameter_sweeps.png)", "", "| parameter | value | mCBD biased digit | "
             "mCBD other digits | mCBL biased digit |", "|---|---|---|---|---|"]
    for parameter, rows in table.items():
        for row in rows:
            lines.append(f"| {parameter} | {row['value']:g} | {_fmt(row['mcbd_biased'])} | "
                         f"{_fmt(row['mcbd_unbiased'])} | {_fmt(row['mcbl_biased'])} |")
    return lines + [""]


def write_report(aggregated: Mapping[str, Any], report_dir: str | os.PathLike, *, runs_dir: str) -> str:
    """Writes ``summary.json``, one CSV per matrix, the figures and ``report.md``.

    Args:
        aggregated: The aggregated results (:func:`~toy_benchmark.benchmark.aggregation.aggregate`, or
            the ``summary.json`` of an earlier report); its ``examples`` name figures already in ``report_dir``.
        report_dir: The report folder (created if needed).
        runs_dir: The runs folder, named in the report.

    Returns:
        The path of ``report.md``.
    """
    report_dir = os.fspath(report_dir)
    os.makedirs(report_dir, exist_ok=True)
    methods = aggregated["profile"]["methods"]
    row_labels = aggregated["row_labels"]
    write_json(os.path.join(report_dir, SUMMARY_FILE), aggregated)
    lines = (_introduction(aggregated, runs_dir) + _reproducibility_lines(aggregated) + _numbers(aggregated)
             + _probe_lines(aggregated))
    tables_dir = os.path.join(report_dir, "matrices")
    lines += ["## Figures", ""]
    for group, matrices in aggregated["matrices"].items():
        safe = group.replace("/", "_")
        for key, matrix in matrices.items():
            write_text(os.path.join(tables_dir, f"{safe}_{key.replace('/', '_')}.csv"),
                              _matrix_csv(matrix, row_labels))
        figure = f"fig4_{safe}.png"
        report_figures.plot_matrices(group, matrices, methods, row_labels, os.path.join(report_dir, figure))
        lines += [f"![Fig. 4 for {group}]({figure})", ""]
    report_figures.plot_cbl_bars(aggregated["matrices"], methods,
                                 os.path.join(report_dir, "figS10_cbl_per_backbone.png"))
    lines += ["![Fig. S10](figS10_cbl_per_backbone.png)", ""]
    if aggregated.get("sweeps"):
        lines += _sweep_lines(aggregated, report_dir)
    for title, figure in aggregated.get("examples", {}).items():
        lines += [f"### Examples: {title} (saliency in red, request outlined in blue; cf. Fig. 3b)", "",
                  f"![{title}]({figure})", ""]
    lines += ["Per-matrix CSVs are in `matrices/`, everything in `summary.json`.", ""]
    path = os.path.join(report_dir, REPORT_FILE)
    write_text(path, "\n".join(lines))
    return path
