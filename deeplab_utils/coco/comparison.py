"""Comparing models by their context reliance, from the records alone (supplement S3, Fig. S16).

Hoyer et al. (NeurIPS 2019, S3) compare a MobileNetV2 and an Xception DeepLabv3+ by pictures: "the
network with MobileNetV2 backbone learnt to rely more on context". Here it is measured. Per model and
requested VOC class:

- the context statistics of the Cityscapes job (Sec. 5): the saliency-weighted context histogram of the
  counted requests, summed over images and normalised over the context classes, beside the
  contour-dilation baseline's;
- three measures of **context reliance**, each a ratio of sums over the requests of the images used:
  ``self_contained``, the share of requests whose context saliency is empty and converged (the model
  needs no context, S2.2; over all requests); ``context_area``, the salient context mass relative to the
  request's size, ``sum(M over context) / |R|`` (over converged requests: only those explanations are
  valid); ``empty_mask_loss``, the preservation loss of the empty mask, how much of its score a request
  loses without any context (over all requests; it does not depend on the optimisation).

Models are compared in pairs on the same images: only images with a record of every model are used,
and per class only the images where both models have a request of it. The difference ``a - b`` of a
measure comes with a percentile bootstrap interval over those images
(:func:`grid_saliency_tf.experiment.bootstrap_interval`): each resample draws images, keeping both models'
sums and counts of an image together, and recomputes both ratios.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import ClassVar, Mapping, Sequence

import numpy as np

from deeplab_utils.cityscapes.statistics import IGNORED_MODES, normalise
from deeplab_utils.coco.records import ClassRecord, ModelImageRecord, RequestRecord
from grid_saliency_tf.experiment import DEFAULT_NUM_RESAMPLES, Record, bootstrap_interval

__all__ = ["MEASURES", "ModelClassStatistics", "PairedDifference", "Comparison", "compare_models", "measure_sums"]

#: The reliance measures, in report order.
MEASURES = ("self_contained", "context_area", "empty_mask_loss")


def measure_sums(entry: ClassRecord, measure: str) -> tuple[float, int]:
    """``(sum, count)`` of a reliance measure over the requests of one class in one image (module docstring).

    Raises:
        ValueError: For an unknown measure.
    """
    requests: Sequence[RequestRecord] = [request for request in entry.requests if not request.empty_request]
    if measure == "self_contained":
        return float(sum(request.self_contained for request in requests)), len(requests)
    if measure == "context_area":
        converged = [request for request in requests if request.converged]
        return float(sum(request.context_area for request in converged)), len(converged)
    if measure == "empty_mask_loss":
        return float(sum(request.empty_mask_loss for request in requests)), len(requests)
    raise ValueError(f"Argument `measure` must be one of {MEASURES}; received {measure!r}.")


@dataclasses.dataclass(frozen=True)
class ModelClassStatistics:
    """One model and class over the paired images.

    Attributes:
        model, class_name: Which.
        images: Images with at least one request of the class.
        requests, counted, not_converged, self_contained: Request counts.
        measures: Per measure of :data:`MEASURES`, its ratio of sums; None without requests.
        saliency, baseline: Summed histograms (context classes, then unannotated).
        saliency_distribution, baseline_distribution: Normalised over the context classes; None if empty.
    """

    model: str
    class_name: str
    images: int
    requests: int
    counted: int
    not_converged: int
    self_contained: int
    measures: dict[str, float | None]
    saliency: tuple[float, ...]
    baseline: tuple[float, ...]
    saliency_distribution: tuple[float, ...] | None
    baseline_distribution: tuple[float, ...] | None


@dataclasses.dataclass(frozen=True)
class PairedDifference:
    """The difference ``model_a - model_b`` of one measure for one class, on paired images.

    Attributes:
        class_name, measure, model_a, model_b: Which.
        images: Images where both models have a request of the class (the bootstrap's units).
        requests_a, requests_b: Requests the two ratios rest on.
        estimate, low, high: The difference and its percentile bootstrap interval; None without images.
    """

    class_name: str
    measure: str
    model_a: str
    model_b: str
    images: int
    requests_a: int
    requests_b: int
    estimate: float | None
    low: float | None
    high: float | None

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely above or below 0."""
        return self.low is not None and self.high is not None and (self.low > 0.0 or self.high < 0.0)


@dataclasses.dataclass(frozen=True)
class Comparison(Record):
    """The comparison of a run (``comparison/comparison.json``).

    Attributes:
        models: The model names, in the run's order.
        images: Images with a record of every model (the paired images).
        images_incomplete: Images some model has no record of yet (left out).
        context_classes: Names of the context classes.
        ignored: Unannotated pixels left out of (``"exclude"``) or counted in the normaliser.
        confidence, num_resamples, seed: The bootstrap.
        mean_pixel_accuracy: Per model, the mean VOC pixel accuracy over the paired images.
        statistics: Per model and class (models outer, classes in protocol order).
        differences: Per class, measure and pair of models.
    """

    SCHEMA: ClassVar[str] = "deeplab_utils.coco.comparison"
    SCHEMA_VERSION: ClassVar[int] = 1

    models: tuple[str, ...]
    images: int
    images_incomplete: int
    context_classes: tuple[str, ...]
    ignored: str
    confidence: float
    num_resamples: int
    seed: int
    mean_pixel_accuracy: dict[str, float | None]
    statistics: tuple[ModelClassStatistics, ...]
    differences: tuple[PairedDifference, ...]

    def statistic(self, model: str, class_name: str) -> ModelClassStatistics:
        """The row of a model and class.

        Raises:
            ValueError: If there is no such row.
        """
        found = next((row for row in self.statistics if (row.model, row.class_name) == (model, class_name)), None)
        if found is not None:
            return found
        raise ValueError(f"Arguments `model` and `class_name` must name a row; received {model!r}, {class_name!r}.")

    def difference(self, class_name: str, measure: str, model_a: str, model_b: str) -> PairedDifference:
        """The paired difference of a class, measure and pair.

        Raises:
            ValueError: If there is no such comparison.
        """
        key = (class_name, measure, model_a, model_b)
        found = next((row for row in self.differences
                      if (row.class_name, row.measure, row.model_a, row.model_b) == key), None)
        if found is not None:
            return found
        raise ValueError(f"Arguments must name a compared class, measure and pair; received {class_name!r}, "
                         f"{measure!r}, {model_a!r}, {model_b!r}.")


def _distribution(histogram: np.ndarray, ignored: str, num_classes: int) -> tuple[float, ...] | None:
    distribution, total = normalise(histogram, ignored, num_classes=num_classes)
    return tuple(distribution.tolist()) if total > 0 else None


def _model_statistics(model: str, class_name: str, entries: Sequence[ClassRecord], ignored: str,
                      num_classes: int) -> ModelClassStatistics:
    saliency, baseline = np.zeros(num_classes + 1), np.zeros(num_classes + 1)
    requests = [request for entry in entries for request in entry.requests]
    for entry in entries:
        baseline += np.asarray(entry.baseline)
        for request in entry.requests:
            if request.counted:
                saliency += np.asarray(request.histogram)
    measures = {}
    for measure in MEASURES:
        sums = [measure_sums(entry, measure) for entry in entries]
        total, count = sum(s for s, _ in sums), sum(c for _, c in sums)
        measures[measure] = total / count if count else None
    return ModelClassStatistics(
        model=model, class_name=class_name, images=sum(bool(entry.requests) for entry in entries),
        requests=len(requests), counted=sum(r.counted for r in requests),
        not_converged=sum(not r.converged for r in requests), self_contained=sum(r.self_contained for r in requests),
        measures=measures, saliency=tuple(saliency.tolist()), baseline=tuple(baseline.tolist()),
        saliency_distribution=_distribution(saliency, ignored, num_classes),
        baseline_distribution=_distribution(baseline, ignored, num_classes))


def _ratio_difference(values: np.ndarray) -> float:
    """``sum(a) / count(a) - sum(b) / count(b)`` of per-image rows ``(sum_a, count_a, sum_b, count_b)``."""
    return float(values[:, 0].sum() / values[:, 1].sum() - values[:, 2].sum() / values[:, 3].sum())


def compare_models(records: Mapping[str, Mapping[str, ModelImageRecord]], classes: Sequence[str],
                   context_classes: Sequence[str], *, ignored: str = "exclude",
                   num_resamples: int = DEFAULT_NUM_RESAMPLES, seed: int = 0, confidence: float = 0.95) -> Comparison:
    """The comparison of the models' records (module docstring).

    Args:
        records: Per model (in the run's order), its records keyed by image name.
        classes: The requested VOC classes, in the protocol's order.
        context_classes: The run's context classes (histograms have one bin more).
        ignored: ``"exclude"`` or ``"include"`` (:func:`~deeplab_utils.cityscapes.statistics.normalise`).
        num_resamples, seed, confidence: The bootstrap.

    Returns:
        The :class:`Comparison`.

    Raises:
        ValueError: For fewer than two models, an unknown `ignored`, or a bad bootstrap argument.
    """
    models = list(records)
    if len(models) < 2:
        raise ValueError(f"Argument `records` must hold two or more models; received {models!r}.")
    if ignored not in IGNORED_MODES:
        raise ValueError(f"Argument `ignored` must be one of {IGNORED_MODES}; received {ignored!r}.")
    every = set.union(*(set(records[model]) for model in models))
    paired = sorted(set.intersection(*(set(records[model]) for model in models)))
    num_classes = len(context_classes)
    statistics = [_model_statistics(model, name, [records[model][image].of_class(name) for image in paired],
                                    ignored, num_classes) for model in models for name in classes]
    differences = []
    for name, measure, (model_a, model_b) in itertools.product(classes, MEASURES, itertools.combinations(models, 2)):
        rows = []
        for image in paired:
            a = measure_sums(records[model_a][image].of_class(name), measure)
            b = measure_sums(records[model_b][image].of_class(name), measure)
            if a[1] and b[1]:
                rows.append((*a, *b))
        estimate = low = high = None
        if rows:
            interval = bootstrap_interval(np.array(rows, np.float64), _ratio_difference, num_resamples=num_resamples,
                                          seed=seed, confidence=confidence)
            estimate, low, high = interval.estimate, interval.low, interval.high
        differences.append(PairedDifference(
            class_name=name, measure=measure, model_a=model_a, model_b=model_b, images=len(rows),
            requests_a=int(sum(row[1] for row in rows)), requests_b=int(sum(row[3] for row in rows)),
            estimate=estimate, low=low, high=high))
    accuracy = {}
    for model in models:
        values = [records[model][image].pixel_accuracy for image in paired]
        values = [value for value in values if value is not None]
        accuracy[model] = float(np.mean(values)) if values else None
    return Comparison(models=tuple(models), images=len(paired), images_incomplete=len(every) - len(paired),
                      context_classes=tuple(context_classes), ignored=ignored, confidence=confidence,
                      num_resamples=num_resamples, seed=seed, mean_pixel_accuracy=accuracy,
                      statistics=tuple(statistics), differences=tuple(differences))
