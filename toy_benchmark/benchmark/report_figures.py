"""The report's figures: Fig. 4 matrices, the per-backbone CBL bars (Fig. S10), the sweeps (Fig. S11).

They draw aggregated data (:func:`~toy_benchmark.benchmark.aggregation.aggregate`) only. matplotlib
(the ``viz`` extra) is imported lazily by `grid_saliency_tf.experiment.new_figure`, on the figure's
own Agg canvas (no ``matplotlib.use``, no pyplot); `save_figure` writes the PNG atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from grid_saliency_tf.experiment import new_figure, save_figure

__all__ = ["METHOD_LABELS", "as_array", "plot_cbl_bars", "plot_matrices", "plot_sweeps"]

#: How the figures and the report name the methods.
METHOD_LABELS = {"grid_saliency": "Grid saliency (ours)", "vanilla_gradient": "VG", "integrated_gradients": "IG",
                 "smooth_grad": "SG", "seg_grad_cam": "Seg-Grad-CAM"}
_DPI = 130


def as_array(matrix: Sequence[Sequence[float | None]]) -> np.ndarray:
    """A matrix of numbers and None as a float array with NaN for None."""
    return np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=float)


def _label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def _draw_matrix(axis: Any, values: np.ndarray, title: str, row_labels: Sequence[str]) -> Any:
    image = axis.imshow(np.ma.masked_invalid(values), vmin=0.0, vmax=1.0, cmap="viridis")
    axis.set_title(title, fontsize=8)
    axis.set_xticks(range(values.shape[1]))
    axis.set_yticks(range(values.shape[0]))
    axis.set_yticklabels(row_labels, fontsize=6)
    axis.set_xticklabels(range(values.shape[1]), fontsize=6)
    axis.set_xlabel("digit", fontsize=7)
    axis.set_ylabel("bias digit", fontsize=7)
    for (row, column), value in np.ndenumerate(values):
        if np.isfinite(value):
            axis.text(column, row, f"{value:.2f}"[1:] if value < 1 else "1", ha="center", va="center",
                      fontsize=4.5, color="white" if value < 0.5 else "black")
    return image


def plot_matrices(group: str, matrices: Mapping[str, Any], methods: Sequence[str], row_labels: Sequence[str],
                  path: str | os.PathLike) -> None:
    """Fig. 4 of one backbone and strength: mIoU, then mCBD and mCBL of every method, as matrices.

    Args:
        group: ``<backbone>/<strength>``.
        matrices: ``miou`` and ``<measure>/<method>`` matrices, 11 x 10 (rows ``row_labels``).
        methods: The methods, in panel order.
        row_labels: The rows' labels (``N``, ``0`` .. ``9``).
        path: The PNG file (written atomically).
    """
    panels = [("miou", "mIoU (unbiased test set)")]
    panels += [(f"mcbd/{m}", f"mCBD {_label(m)}") for m in methods]
    panels += [(f"mcbl/{m}", f"mCBL {_label(m)}") for m in methods]
    columns = 1 + len(methods)
    figure = new_figure((2.6 * columns, 5.6))
    axes = figure.subplots(2, columns, squeeze=False)
    layout = [panels[0]] + panels[1:1 + len(methods)] + [None] + panels[1 + len(methods):]
    for axis, panel in zip(axes.flat, layout):
        if panel is None:
            axis.axis("off")
            continue
        key, title = panel
        image = _draw_matrix(axis, as_array(matrices[key]), title, row_labels)
    figure.colorbar(image, ax=axes, shrink=0.6)
    figure.suptitle(f"Context bias detection and localization, {group} (cf. paper Fig. 4)", fontsize=9)
    save_figure(figure, path, dpi=_DPI)


def plot_cbl_bars(matrices: Mapping[str, Mapping[str, Any]], methods: Sequence[str], path: str | os.PathLike) -> None:
    """Fig. S10: mCBL of the biased digits per group and method, mean and std over the bias digits.

    Args:
        matrices: Per group, its matrices (``mcbl/<method>`` used).
        methods: The methods, in bar order.
        path: The PNG file (written atomically).
    """
    groups = list(matrices)
    figure = new_figure((1.6 + 1.3 * len(groups), 3.2))
    axis = figure.subplots()
    width = 0.8 / max(len(methods), 1)
    for index, method in enumerate(methods):
        means, errors = [], []
        for group in groups:
            matrix = as_array(matrices[group][f"mcbl/{method}"])
            diagonal = np.array([matrix[d + 1, d] for d in range(matrix.shape[1])])
            diagonal = diagonal[np.isfinite(diagonal)]
            means.append(diagonal.mean() if diagonal.size else np.nan)
            errors.append(diagonal.std() if diagonal.size else 0.0)
        axis.bar(np.arange(len(groups)) + index * width, means, width, yerr=errors, label=_label(method))
    axis.set_xticks(np.arange(len(groups)) + 0.4 - width / 2)
    axis.set_xticklabels(groups, fontsize=7)
    axis.set_ylim(0, 1)
    axis.set_ylabel("mCBL of the biased digit")
    axis.axhline(0.5, color="grey", lw=0.8, ls="--")
    axis.legend(fontsize=6)
    axis.set_title("Bias localization per backbone (cf. Fig. S10); error bars: std over bias digits", fontsize=8)
    figure.tight_layout()
    save_figure(figure, path, dpi=_DPI)


def _nan(value: float | None) -> float:
    return np.nan if value is None else value


def plot_sweeps(table: Mapping[str, Sequence[Mapping[str, Any]]], settings: Mapping[str, float],
                path: str | os.PathLike) -> None:
    """Fig. S11: mCBD (biased and other digits) and mCBL of grid saliency against each swept parameter.

    Args:
        table: Per parameter, rows ``{"value", "mcbd_biased", "mcbd_unbiased", "mcbl_biased"}`` by value.
        settings: The profile's value of every parameter (a red line).
        path: The PNG file (written atomically).
    """
    figure = new_figure((3.0 * len(table), 5.0))
    axes = figure.subplots(2, len(table), squeeze=False)
    for column, (parameter, rows) in enumerate(table.items()):
        values = [row["value"] for row in rows]
        top, bottom = axes[0, column], axes[1, column]
        top.plot(values, [_nan(r["mcbd_biased"]) for r in rows], "o-", label="biased digit")
        top.plot(values, [_nan(r["mcbd_unbiased"]) for r in rows], "s-", label="other digits")
        bottom.plot(values, [_nan(r["mcbl_biased"]) for r in rows], "o-")
        for axis, label in ((top, "mCBD"), (bottom, "mCBL")):
            axis.axvline(settings[parameter], color="red", lw=0.8)
            axis.set_xscale("log" if min(values) > 0 and max(values) / min(values) > 10 else "linear")
            axis.set_ylabel(label)
            axis.set_ylim(0, 1)
        bottom.set_xlabel(parameter)
        top.legend(fontsize=6)
    figure.suptitle("Grid saliency parameters (cf. Fig. S11); red: the profile's setting", fontsize=9)
    figure.tight_layout()
    save_figure(figure, path, dpi=_DPI)
