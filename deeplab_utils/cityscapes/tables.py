"""The statistics as CSV tables: Fig. 6/S14 distributions, Table 1, Table S1 and Table S2.

Every table has one row per request group in the protocol's order. Distribution cells hold shares with
six decimals; a row without any saliency (no counted request) has empty cells rather than NaN. The
count tables carry the paper's number beside the run's (:mod:`deeplab_utils.cityscapes.paper`).
"""

from __future__ import annotations

import csv
import io
from typing import Sequence

from deeplab_utils.cityscapes import paper
from deeplab_utils.cityscapes.aggregate import Aggregate, GroupStatistics
from deeplab_utils.cityscapes.protocol import TABLE_1_CONTEXT_CLASSES

__all__ = ["distribution_csv", "table_1_csv", "table_s1_csv", "table_s2_csv", "split_group", "share", "csv_text"]


def split_group(group: str) -> tuple[str | None, str]:
    """``"rider/person"`` -> ``("rider", "person")``; ``"rider"`` -> ``(None, "rider")``."""
    if "/" in group:
        truth, prediction = group.split("/", 1)
        return truth, prediction
    return None, group


def share(row: GroupStatistics, class_names: Sequence[str], context_class: str, which: str = "saliency") -> float | None:
    """The share of `context_class` in a row's saliency (or ``which="baseline"``) distribution; None if empty."""
    distribution = row.saliency_distribution if which == "saliency" else row.baseline_distribution
    return None if distribution is None else distribution[list(class_names).index(context_class)]


def csv_text(rows: list[list[object]]) -> str:
    """Rows as CSV text: floats with six decimals, None as an empty cell (never NaN)."""
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    for row in rows:
        writer.writerow(["" if value is None else f"{value:.6f}" if isinstance(value, float) else value
                         for value in row])
    return stream.getvalue()


def _rows(aggregate: Aggregate, kind: str) -> list[GroupStatistics]:
    return [row for row in aggregate.groups if row.kind == kind]


def distribution_csv(aggregate: Aggregate, kind: str = "prediction", which: str = "saliency") -> str:
    """Rows of groups of `kind`, columns the 19 context classes (Fig. 6/S14 for ``kind="prediction"``).

    Args:
        aggregate: The statistics.
        kind: ``"prediction"`` or ``"error"``.
        which: ``"saliency"`` (grid saliency) or ``"baseline"`` (the dilation ring).
    """
    header = ["group", "images_counted", *aggregate.class_names]
    rows = [header]
    for row in _rows(aggregate, kind):
        distribution = row.saliency_distribution if which == "saliency" else row.baseline_distribution
        rows.append([row.group, row.images_counted, *(distribution or [None] * len(aggregate.class_names))])
    return csv_text(rows)


def table_1_csv(aggregate: Aggregate) -> str:
    """Table 1: per (ground truth, prediction), the saliency share of the ten context classes of the paper."""
    rows = [["ground_truth", "prediction", "images_counted", *TABLE_1_CONTEXT_CLASSES]]
    for row in _rows(aggregate, "error"):
        truth, prediction = split_group(row.group)
        rows.append([truth, prediction, row.images_counted,
                     *(share(row, aggregate.class_names, name) for name in TABLE_1_CONTEXT_CLASSES)])
    return csv_text(rows)


def _counts(row: GroupStatistics) -> list[object]:
    return [row.images, row.requests, row.counted, row.not_converged, row.empty_saliency]


_COUNT_HEADER = ["images_with_requests", "requests", "requests_counted", "not_converged", "empty_saliency"]


def table_s1_csv(aggregate: Aggregate) -> str:
    """Table S1: images with a counted model-prediction request per class, beside the paper's count."""
    rows = [["class", "images_counted", "paper", *_COUNT_HEADER]]
    for row in _rows(aggregate, "prediction"):
        rows.append([row.group, row.images_counted, paper.TABLE_S1.get(row.group), *_counts(row)])
    return csv_text(rows)


def table_s2_csv(aggregate: Aggregate) -> str:
    """Table S2: images with a counted error request per (ground truth, prediction), beside the paper's."""
    rows = [["ground_truth", "prediction", "images_counted", "paper", *_COUNT_HEADER]]
    for row in _rows(aggregate, "error"):
        truth, prediction = split_group(row.group)
        rows.append([truth, prediction, row.images_counted, paper.TABLE_S2.get((truth, prediction)), *_counts(row)])
    return csv_text(rows)
