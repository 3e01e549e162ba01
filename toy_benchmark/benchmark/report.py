"""Figures and the markdown report of a benchmark (Fig. 4, S10, S11 of the paper).

matplotlib is imported inside the plotting functions only (it is the ``viz`` extra); the tables
(CSV, JSON, markdown) need nothing beyond NumPy.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from toy_benchmark.atomic import write_json_atomic, write_text_atomic
from toy_benchmark.benchmark.runner import ROW_LABELS

__all__ = ["write_report"]

_METHOD_LABELS = {"grid_saliency": "Grid saliency (ours)", "vanilla_gradient": "VG", "integrated_gradients": "IG",
                  "smooth_grad": "SG", "seg_grad_cam": "Seg-Grad-CAM"}


def _as_array(matrix: Sequence[Sequence[float | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=float)


def _matrix_csv(matrix: Sequence[Sequence[float | None]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["bias_digit"] + [str(d) for d in range(len(matrix[0]))])
    for label, row in zip(ROW_LABELS, matrix):
        writer.writerow([label] + ["" if v is None else f"{v:.4f}" for v in row])
    return buffer.getvalue()


def _plot_matrices(group: str, matrices: Mapping[str, Any], methods: Sequence[str], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("miou", "mIoU (unbiased test set)")]
    panels += [(f"mcbd/{m}", f"mCBD {_METHOD_LABELS.get(m, m)}") for m in methods]
    panels += [(f"mcbl/{m}", f"mCBL {_METHOD_LABELS.get(m, m)}") for m in methods]
    columns = 1 + len(methods)
    figure, axes = plt.subplots(2, columns, figsize=(2.6 * columns, 5.6), squeeze=False)
    layout = [panels[0]] + panels[1:1 + len(methods)] + [None] + panels[1 + len(methods):]
    for axis, panel in zip(axes.flat, layout):
        if panel is None:
            axis.axis("off")
            continue
        key, title = panel
        values = _as_array(matrices[key])
        image = axis.imshow(np.ma.masked_invalid(values), vmin=0.0, vmax=1.0, cmap="viridis")
        axis.set_title(title, fontsize=8)
        axis.set_xticks(range(values.shape[1]))
        axis.set_yticks(range(values.shape[0]))
        axis.set_yticklabels(ROW_LABELS, fontsize=6)
        axis.set_xticklabels(range(values.shape[1]), fontsize=6)
        axis.set_xlabel("digit", fontsize=7)
        axis.set_ylabel("bias digit", fontsize=7)
        for (row, column), value in np.ndenumerate(values):
            if np.isfinite(value):
                axis.text(column, row, f"{value:.2f}"[1:] if value < 1 else "1", ha="center", va="center",
                          fontsize=4.5, color="white" if value < 0.5 else "black")
    figure.colorbar(image, ax=axes, shrink=0.6)
    figure.suptitle(f"Context bias detection and localization, {group} (cf. paper Fig. 4)", fontsize=9)
    figure.savefig(path, dpi=130)
    plt.close(figure)


def _plot_cbl_bars(aggregated: Mapping[str, Any], methods: Sequence[str], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(aggregated["matrices"])
    figure, axis = plt.subplots(figsize=(1.6 + 1.3 * len(groups), 3.2))
    width = 0.8 / max(len(methods), 1)
    for index, method in enumerate(methods):
        means, errors = [], []
        for group in groups:
            matrix = _as_array(aggregated["matrices"][group][f"mcbl/{method}"])
            diagonal = np.array([matrix[d + 1, d] for d in range(matrix.shape[1])])
            diagonal = diagonal[np.isfinite(diagonal)]
            means.append(diagonal.mean() if diagonal.size else np.nan)
            errors.append(diagonal.std() if diagonal.size else 0.0)
        axis.bar(np.arange(len(groups)) + index * width, means, width, yerr=errors, label=_METHOD_LABELS.get(method, method))
    axis.set_xticks(np.arange(len(groups)) + 0.4 - width / 2)
    axis.set_xticklabels(groups, fontsize=7)
    axis.set_ylim(0, 1)
    axis.set_ylabel("mCBL of the biased digit")
    axis.axhline(0.5, color="grey", lw=0.8, ls="--")
    axis.legend(fontsize=6)
    axis.set_title("Bias localization per backbone (cf. Fig. S10); error bars: std over bias digits", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=130)
    plt.close(figure)


def _sweep_table(sweeps: Mapping[str, Mapping[str, list[Mapping[str, Any]]]]) -> dict[str, list[dict[str, Any]]]:
    table: dict[str, list[dict[str, Any]]] = {}
    for parameter, by_value in sweeps.items():
        for value, entries in by_value.items():
            row = {"value": float(value)}
            for key in ("mcbd_biased", "mcbd_unbiased", "mcbl_biased"):
                values = [e[key] for e in entries if e[key] is not None]
                row[key] = float(np.mean(values)) if values else None
            table.setdefault(parameter, []).append(row)
        table[parameter].sort(key=lambda row: row["value"])
    return table


def _plot_sweeps(table: Mapping[str, list[Mapping[str, Any]]], defaults: Mapping[str, float], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, len(table), figsize=(3.0 * len(table), 5.0), squeeze=False)
    for column, (parameter, rows) in enumerate(table.items()):
        values = [row["value"] for row in rows]
        nan = lambda v: np.nan if v is None else v  # noqa: E731
        top, bottom = axes[0, column], axes[1, column]
        top.plot(values, [nan(r["mcbd_biased"]) for r in rows], "o-", label="biased digit")
        top.plot(values, [nan(r["mcbd_unbiased"]) for r in rows], "s-", label="other digits")
        bottom.plot(values, [nan(r["mcbl_biased"]) for r in rows], "o-")
        for axis, label in ((top, "mCBD"), (bottom, "mCBL")):
            axis.axvline(defaults[parameter], color="red", lw=0.8)
            axis.set_xscale("log" if min(values) > 0 and max(values) / min(values) > 10 else "linear")
            axis.set_ylabel(label)
            axis.set_ylim(0, 1)
        bottom.set_xlabel(parameter)
        top.legend(fontsize=6)
    figure.suptitle("Grid saliency parameters (cf. Fig. S11); red: the paper's setting", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=130)
    plt.close(figure)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def write_report(aggregated: Mapping[str, Any], report_dir: str, *, runs_dir: str,
                 example_figures: Mapping[str, str] | None = None, timings: Mapping[str, float] | None = None) -> str:
    """Writes ``summary.json``, one CSV per matrix, the figures and ``report.md``; returns report.md's path."""
    os.makedirs(report_dir, exist_ok=True)
    profile = aggregated["profile"]
    methods = profile["methods"]
    write_json_atomic(os.path.join(report_dir, "summary.json"), {**aggregated, "timings": dict(timings or {})})
    lines = [f"# Toy benchmark report: profile `{profile['name']}`", ""]
    lines += [
        "Context bias detection and localization on the MNIST-on-textures benchmark (Hoyer et al., NeurIPS 2019, "
        "Sec. 4). Networks trained on biased data are measured on the unbiased test set (IoU) and, with their "
        "predicted digit mask as request, on their own biased test set (mCBD, Eq. 6; mCBL, Eq. 7).",
        "",
        f"Profile: backbones {profile['backbones']}, strengths {profile['strengths']}, bias digits "
        f"{profile['bias_digits']}, bias textures {profile['bias_textures']}, seeds {profile['seeds']}, width "
        f"{profile['width']}, {profile['epochs']} epochs of {profile['num_train']} images, {profile['num_test']} "
        f"test images, grid saliency {profile['grid_steps']} steps from an initial mask value of "
        f"{profile.get('grid_initial_value', 0.5):g} (paper: 0.5). Runs: `{runs_dir}`.",
        "",
    ]
    if timings:
        lines += ["Wall-clock: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()), ""]
    lines += ["## The effect, measured", "",
              "| group | IoU drop of the biased digit | grid mCBD detects the bias | grid mCBL >= 0.9 | VG/IG/SG localize worse |",
              "|---|---|---|---|---|"]
    for group, checks in aggregated["effect"].items():
        lines.append(f"| {group} | {_fmt(checks.get('iou_drop'))} | {_fmt(checks.get('grid_cbd_detects'))} | "
                     f"{_fmt(checks.get('grid_cbl_at_least_0.9'))} | {_fmt(checks.get('gradients_localize_worse'))} |")
    lines += ["", "## Numbers (biased digits = diagonal of Fig. 4; other digits = off-diagonal of the biased rows;"
              " unbiased network = row N at the biased digits)", ""]
    for group, summary in aggregated["summary"].items():
        lines += [f"### {group}", "", "| measure | biased digits | other digits | unbiased network |", "|---|---|---|---|"]
        for key, values in summary.items():
            lines.append(f"| {key} | {_fmt(values['biased_digits'])} | {_fmt(values['other_digits'])} | "
                         f"{_fmt(values['unbiased_network'])} |")
        lines.append("")
    tables_dir = os.path.join(report_dir, "matrices")
    os.makedirs(tables_dir, exist_ok=True)
    lines += ["## Figures", ""]
    for group, matrices in aggregated["matrices"].items():
        safe = group.replace("/", "_")
        for key, matrix in matrices.items():
            write_text_atomic(os.path.join(tables_dir, f"{safe}_{key.replace('/', '_')}.csv"), _matrix_csv(matrix))
        figure = f"fig4_{safe}.png"
        _plot_matrices(group, matrices, methods, os.path.join(report_dir, figure))
        lines += [f"![Fig. 4 for {group}]({figure})", ""]
    _plot_cbl_bars(aggregated, methods, os.path.join(report_dir, "figS10_cbl_per_backbone.png"))
    lines += ["![Fig. S10](figS10_cbl_per_backbone.png)", ""]
    if aggregated.get("sweeps"):
        table = _sweep_table(aggregated["sweeps"])
        defaults = {"lambda": 0.05, "learning_rate": 0.2,
                    "initial_value": aggregated["profile"].get("grid_initial_value", 0.5)}
        _plot_sweeps(table, defaults, os.path.join(report_dir, "figS11_parameter_sweeps.png"))
        lines += ["![Fig. S11](figS11_parameter_sweeps.png)", "", "| parameter | value | mCBD biased digit | "
                  "mCBD other digits | mCBL biased digit |", "|---|---|---|---|---|"]
        for parameter, rows in table.items():
            for row in rows:
                lines.append(f"| {parameter} | {row['value']:g} | {_fmt(row['mcbd_biased'])} | "
                             f"{_fmt(row['mcbd_unbiased'])} | {_fmt(row['mcbl_biased'])} |")
        lines.append("")
    for title, figure in (example_figures or {}).items():
        lines += [f"### Examples: {title} (saliency in red, request outlined in blue; cf. Fig. 3b)", "",
                  f"![{title}]({figure})", ""]
    lines += ["Per-matrix CSVs are in `matrices/`, everything in `summary.json`.", ""]
    path = os.path.join(report_dir, "report.md")
    write_text_atomic(path, "\n".join(lines))
    return path
