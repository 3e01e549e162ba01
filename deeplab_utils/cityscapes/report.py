"""``report.md``: each table of a run beside the paper's numbers (Sec. 5, Table 1, supplement S2.1).

Fig. 6/S14 has no printed numbers; the report lists the findings Sec. 5 states about it
(:data:`~deeplab_utils.cityscapes.paper.FIG6_FINDINGS`) with the run's shares and whether each holds.
"""

from __future__ import annotations

from typing import Any, Sequence

from deeplab_utils.cityscapes import paper
from deeplab_utils.cityscapes.aggregate import Aggregate, GroupStatistics
from deeplab_utils.cityscapes.protocol import TABLE_1_CONTEXT_CLASSES
from deeplab_utils.cityscapes.tables import share, split_group

__all__ = ["report_markdown", "finding_holds"]


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _top(row: GroupStatistics, names: Sequence[str], which: str, count: int = 4) -> str:
    distribution = row.saliency_distribution if which == "saliency" else row.baseline_distribution
    if distribution is None:
        return "–"
    order = sorted(range(len(names)), key=lambda index: -distribution[index])[:count]
    return ", ".join(f"{names[index]} {_percent(distribution[index])}" for index in order)


def finding_holds(aggregate: Aggregate, finding: tuple[str, str, str, str]) -> tuple[str, str]:
    """Whether a Sec. 5 finding holds in the run: ``(verdict, numbers)``, verdict "yes", "no" or "no data"."""
    group, context_class, reference, direction = finding
    names = aggregate.class_names
    try:
        row = aggregate.group(group)
    except ValueError:
        return "no data", "group not in this run"
    value = share(row, names, context_class)
    if reference == "baseline":
        other, label = share(row, names, context_class, "baseline"), f"baseline {context_class}"
    else:
        other, label = share(row, names, reference), f"saliency {reference}"
    if value is None or other is None:
        return "no data", "no counted request" if value is None else "no baseline"
    holds = value > other if direction == "more" else value < other
    return ("yes" if holds else "no"), f"saliency {context_class} {_percent(value)} vs {label} {_percent(other)}"


def report_markdown(aggregate: Aggregate, settings: dict[str, Any], *, images_in_split: int | None = None) -> str:
    """The report of a run.

    Args:
        aggregate: The statistics.
        settings: The run's settings (``run.json``): model, split, protocol, optimizer.
        images_in_split: Images the split holds (to show how much of it the records cover), if known.

    Returns:
        Markdown text.
    """
    names = aggregate.class_names
    protocol = settings.get("protocol", {})
    covered = f"{aggregate.images}" + (f" of {images_in_split}" if images_in_split is not None else "")
    accuracy = "–" if aggregate.mean_pixel_accuracy is None else f"{100 * aggregate.mean_pixel_accuracy:.1f}%"
    parts = [
        "# Context statistics on Cityscapes (Hoyer et al., NeurIPS 2019, Sec. 5 and supplement S2)", "",
        f"Model `{settings.get('model')}`, split `{settings.get('split')}`: {covered} images aggregated "
        f"(the paper: {paper.SAMPLES}); mean pixel accuracy {accuracy}.",
        f"Choices: instances combined by `{aggregate.combine}`, ignored ground truth `{aggregate.ignored}`d from "
        f"the normaliser, baseline around `{aggregate.baseline_instances}` instances "
        f"(`{protocol.get('baseline_sharing')}` sharing of {protocol.get('baseline_pixels')} px at "
        f"{protocol.get('reference_shape')}), context `{protocol.get('context')}`.", "",
        "## Fig. 6/S14: context of model predictions", "",
        "Largest shares of each distribution (all 19 classes in `fig6_grid_saliency.csv` and `fig6_baseline.csv`, "
        "heatmaps in `fig6_context_statistics.png`).", "",
        _table(["class", "images", "grid saliency", "baseline"],
               [[row.group, row.images_counted, _top(row, names, "saliency"), _top(row, names, "baseline")]
                for row in aggregate.groups if row.kind == "prediction"]), "",
        "Findings Sec. 5 states about Fig. 6, checked on this run:", "",
        _table(["finding", "holds", "numbers"],
               [[f"{group}: {context} {'more' if direction == 'more' else 'less'} than "
                 f"{'the baseline' if reference == 'baseline' else reference}", *finding_holds(aggregate, finding)]
                for finding in paper.FIG6_FINDINGS
                for group, context, reference, direction in [finding]]), "",
        "## Table 1: context of correct and erroneous predictions", "",
        "Each cell: this run / the paper (share of the grid saliency on the context class).", "",
        _table(["GT", "prediction", "images", *TABLE_1_CONTEXT_CLASSES],
               [[*split_group(row.group), row.images_counted,
                 *(f"{_percent(share(row, names, name))} / "
                   f"{_percent(paper.TABLE_1.get(split_group(row.group), (None,) * 10)[column])}"
                   for column, name in enumerate(TABLE_1_CONTEXT_CLASSES))]
                for row in aggregate.groups if row.kind == "error"]), "",
        "## Table S1: images with a counted model-prediction request", "",
        "Counted: request not empty, saliency not empty, preservation loss <= the threshold (Table S1's caption).", "",
        _table(["class", "this run", "paper", "requests", "counted", "not converged", "empty saliency"],
               [[row.group, row.images_counted, paper.TABLE_S1.get(row.group, "–"), row.requests, row.counted,
                 row.not_converged, row.empty_saliency] for row in aggregate.groups if row.kind == "prediction"]), "",
        "## Table S2: images with a counted error request", "",
        _table(["GT", "prediction", "this run", "paper", "requests", "counted", "not converged", "empty saliency"],
               [[*split_group(row.group), row.images_counted, paper.TABLE_S2.get(split_group(row.group), "–"),
                 row.requests, row.counted, row.not_converged, row.empty_saliency]
                for row in aggregate.groups if row.kind == "error"]), "",
    ]
    return "\n".join(parts)
