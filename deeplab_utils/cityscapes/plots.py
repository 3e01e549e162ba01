"""Figures of the statistics: the Fig. 6/S14 heatmaps and Table 1 as a heatmap (matplotlib, imported lazily).

Fig. 6/S14 (Hoyer et al., NeurIPS 2019): rows are the requested classes, columns the context classes,
the grid-saliency distribution beside the baseline's. Rows without any counted request stay blank.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from deeplab_utils.cityscapes.aggregate import Aggregate, GroupStatistics
from deeplab_utils.cityscapes.protocol import TABLE_1_CONTEXT_CLASSES
from deeplab_utils.cityscapes.tables import share
from grid_saliency_tf.experiment import new_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["context_heatmaps", "table_1_figure", "heatmap", "shared_vmax"]


def _matrix(rows: Sequence[GroupStatistics], class_names: Sequence[str], columns: Sequence[str],
            which: str) -> np.ndarray:
    values = np.full((len(rows), len(columns)), np.nan)  # NaN only marks blank cells of the picture
    for r, row in enumerate(rows):
        for c, name in enumerate(columns):
            value = share(row, class_names, name, which)
            if value is not None:
                values[r, c] = value
    return values


def heatmap(axes, values: np.ndarray, rows: Sequence[str], columns: Sequence[str], title: str, vmax: float) -> object:
    """Draws `values` ``(rows, columns)`` on `axes` with labelled ticks and cell values; NaN cells blank."""
    shown = axes.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=0.0, vmax=vmax, aspect="auto")
    axes.set_xticks(range(len(columns)), labels=columns, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(rows)), labels=rows, fontsize=8)
    axes.set_title(title, fontsize=10)
    for (r, c), value in np.ndenumerate(values):
        if np.isfinite(value) and value >= 0.005:
            axes.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=6,
                      color="black" if value > 0.6 * vmax else "white")
    return shown


def shared_vmax(*matrices: np.ndarray) -> float:
    """The largest finite value of the matrices (1 if none is positive): one colour scale for all."""
    finite = np.concatenate([m[np.isfinite(m)] for m in matrices])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def context_heatmaps(aggregate: Aggregate, kind: str = "prediction") -> "Figure":
    """Fig. 6/S14: grid saliency (left) and baseline (right), requested classes x 19 context classes.

    Args:
        aggregate: The statistics.
        kind: ``"prediction"`` (Fig. 6) or ``"error"`` (the same for the pairs of Table 1).

    Raises:
        ImportError: Without matplotlib.
    """
    rows = [row for row in aggregate.groups if row.kind == kind]
    names = aggregate.class_names
    labels = [f"{row.group} ({row.images_counted})" for row in rows]
    saliency = _matrix(rows, names, names, "saliency")
    baseline = _matrix(rows, names, names, "baseline")
    vmax = shared_vmax(saliency, baseline)
    figure = new_figure((16, 1.2 + 0.35 * max(len(rows), 1)), layout="constrained")
    left, right = figure.subplots(1, 2, sharey=True)
    heatmap(left, saliency, labels, names, "Grid saliency", vmax)
    shown = heatmap(right, baseline, labels, names, "Baseline (contour dilation)", vmax)
    figure.colorbar(shown, ax=[left, right], fraction=0.02, pad=0.01)
    return figure


def table_1_figure(aggregate: Aggregate) -> "Figure":
    """Table 1 as a heatmap: (ground truth, prediction) rows, the ten context classes of the paper.

    Raises:
        ImportError: Without matplotlib.
    """
    rows = [row for row in aggregate.groups if row.kind == "error"]
    values = _matrix(rows, aggregate.class_names, TABLE_1_CONTEXT_CLASSES, "saliency")
    figure = new_figure((8, 1.2 + 0.35 * max(len(rows), 1)), layout="constrained")
    axes = figure.subplots()
    labels = [f"GT {row.group.split('/')[0]} / pred {row.group.split('/')[-1]} ({row.images_counted})" for row in rows]
    shown = heatmap(axes, values, labels, TABLE_1_CONTEXT_CLASSES, "Context of correct and erroneous predictions",
                     shared_vmax(values))
    figure.colorbar(shown, ax=axes, fraction=0.03, pad=0.01)
    return figure
