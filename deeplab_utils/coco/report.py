"""``architecture_comparison.md`` and the CSV tables of a COCO comparison (supplement S3, Fig. S16).

The report gives, per model and requested class, the request counts, the three context-reliance measures
(:mod:`~deeplab_utils.coco.comparison`) and the largest shares of the saliency and baseline context
distributions; then, per class and pair of models, each measure's paired difference with its bootstrap
interval and the images and requests it rests on. A row without requests shows "–", never NaN.
"""

from __future__ import annotations

from typing import Any, Sequence

from deeplab_utils.cityscapes.tables import csv_text
from deeplab_utils.coco.comparison import MEASURES, Comparison

__all__ = ["comparison_markdown", "statistics_csv", "differences_csv", "distribution_csv"]

_MEASURE_TITLES = {"self_contained": "self-contained share", "context_area": "salient context / request",
                   "empty_mask_loss": "loss without context"}


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])


def _top(distribution: tuple[float, ...] | None, names: Sequence[str], count: int = 3) -> str:
    if distribution is None:
        return "–"
    order = sorted(range(len(names)), key=lambda index: -distribution[index])[:count]
    return ", ".join(f"{names[index]} {100 * distribution[index]:.0f}%" for index in order)


def comparison_markdown(comparison: Comparison, settings: dict[str, Any]) -> str:
    """The report (module docstring) of a comparison and the run's settings (``run.json``)."""
    names = comparison.context_classes
    models = ", ".join(f"`{entry['name']}` ({entry['file']})" for entry in settings.get("models", []))
    accuracy = ", ".join(f"{model} {_number(value)}" for model, value in comparison.mean_pixel_accuracy.items())
    percent = round(100 * comparison.confidence)
    parts = [
        "# Architecture comparison by context on COCO (Hoyer et al., NeurIPS 2019, supplement S3, Fig. S16)", "",
        f"Models: {models}. Images: {comparison.images} with records of every model"
        + (f" ({comparison.images_incomplete} more not yet finished by every model, left out)"
           if comparison.images_incomplete else "") + f". Mean VOC pixel accuracy: {accuracy}.",
        f"Context classes: {len(names)} ({'things and stuff' if settings.get('stuff') else 'things only'}); "
        f"unannotated pixels `{comparison.ignored}`d from the normaliser.", "",
        "Measures of context reliance (ratios of sums over the requests): **self-contained share**, requests "
        "whose context saliency is empty and converged (over all requests); **salient context / request**, "
        "saliency mass on the context divided by the request's pixels (over converged requests); **loss without "
        "context**, the preservation loss of the empty mask (over all requests).", "",
        "## Per model and class", "",
        _table(["model", "class", "images", "requests", "counted", "not converged",
                *(_MEASURE_TITLES[m] for m in MEASURES), "grid saliency (top context)", "baseline (top context)"],
               [[row.model, row.class_name, row.images, row.requests, row.counted, row.not_converged,
                 *(_number(row.measures[m]) for m in MEASURES), _top(row.saliency_distribution, names),
                 _top(row.baseline_distribution, names)] for row in comparison.statistics if row.requests]), "",
        f"## Paired differences (model a - model b), {percent}% bootstrap intervals over images", "",
        f"Percentile bootstrap, {comparison.num_resamples} resamples of the images where both models have a request "
        f"of the class, seed {comparison.seed}. An interval excluding 0 marks a difference.", "",
        _table(["class", "measure", "a", "b", "difference", f"{percent}% interval", "excludes 0", "images",
                "requests a / b"],
               [[row.class_name, _MEASURE_TITLES[row.measure], row.model_a, row.model_b, _number(row.estimate),
                 f"[{_number(row.low)}, {_number(row.high)}]", "yes" if row.excludes_zero else "no", row.images,
                 f"{row.requests_a} / {row.requests_b}"] for row in comparison.differences if row.images]), "",
    ]
    missing = sorted({row.class_name for row in comparison.differences if not row.images})
    if missing:
        parts += [f"Classes without paired requests: {', '.join(missing)}.", ""]
    return "\n".join(parts)


def statistics_csv(comparison: Comparison) -> str:
    """One row per model and class: counts and the reliance measures."""
    rows: list[list[Any]] = [["model", "class", "images", "requests", "counted", "not_converged", "self_contained",
                              *MEASURES]]
    rows += [[row.model, row.class_name, row.images, row.requests, row.counted, row.not_converged,
              row.self_contained, *(row.measures[m] for m in MEASURES)] for row in comparison.statistics]
    return csv_text(rows)


def differences_csv(comparison: Comparison) -> str:
    """One row per class, measure and pair of models: the paired difference and its interval."""
    rows: list[list[Any]] = [["class", "measure", "model_a", "model_b", "difference", "low", "high", "images",
                              "requests_a", "requests_b"]]
    rows += [[row.class_name, row.measure, row.model_a, row.model_b, row.estimate, row.low, row.high, row.images,
              row.requests_a, row.requests_b] for row in comparison.differences]
    return csv_text(rows)


def distribution_csv(comparison: Comparison, which: str = "saliency") -> str:
    """One row per model and class, columns the context classes: the saliency (or baseline) distribution."""
    rows: list[list[Any]] = [["model", "class", "counted", *comparison.context_classes]]
    for row in comparison.statistics:
        distribution: tuple[float, ...] | None = (row.saliency_distribution if which == "saliency"
                                                   else row.baseline_distribution)
        rows.append([row.model, row.class_name, row.counted,
                     *(distribution or [None] * len(comparison.context_classes))])
    return csv_text(rows)
