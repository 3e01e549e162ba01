"""The statistics over all images, from the image records alone (Fig. 6/S14, Table 1, Tables S1/S2).

Sec. 5 of Hoyer et al. (NeurIPS 2019): for each requested class (or ground-truth/prediction pair) the
saliency-weighted context histograms are summed over all images and normalised by their total into a
distribution over the 19 classes; the baseline is the same with the dilation ring's pixels. Tables S1
and S2 count, per class or pair, the images with at least one counted request.

Records are read in image-name order and summed in that order, so any mix of processes, shards and
workers that wrote them yields the same floats. The choices that need no recomputation are arguments
here: how instances of one image combine (``combine``), whether ignored ground truth is in the
normaliser (``ignored``), and whether the baseline rings around all kept instances or only around the
counted ones (``baseline_instances``).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal, Sequence

import numpy as np

from deeplab_utils.cityscapes.records import ImageRecord
from deeplab_utils.cityscapes.statistics import IGNORED_MODES, NUM_BINS, normalise
from deeplab_utils.labels import CITYSCAPES
from grid_saliency_tf.experiment import Record

__all__ = ["COMBINES", "BASELINE_INSTANCES", "GroupStatistics", "Aggregate", "aggregate_records"]

#: Instances of one image: histograms summed, or saliencies combined by a pixel-wise maximum first.
COMBINES = ("sum", "max")
#: The baseline rings all kept instances (the paper's wording) or only the counted ones.
BASELINE_INSTANCES = ("all", "counted")


@dataclasses.dataclass(frozen=True)
class GroupStatistics:
    """One row of the statistics.

    Attributes:
        group: ``"rider"`` or ``"rider/person"``.
        kind: ``"prediction"`` or ``"error"``.
        images: Images with at least one request (after the size test).
        images_counted: Images with at least one counted request (Table S1/S2).
        requests: Requests after the size test.
        counted: Requests that count (non-empty, converged).
        not_converged: Requests whose preservation loss stayed above the threshold.
        empty_saliency: Requests whose saliency is empty (self-contained objects, S2.2).
        saliency: Summed saliency histogram ``(20,)`` (19 classes, ignored).
        baseline: Summed baseline histogram ``(20,)``.
        saliency_distribution: ``(19,)`` normalised saliency; None without any saliency.
        baseline_distribution: ``(19,)`` normalised baseline; None without any ring.
    """

    group: str
    kind: Literal["prediction", "error"]
    images: int
    images_counted: int
    requests: int
    counted: int
    not_converged: int
    empty_saliency: int
    saliency: tuple[float, ...]
    baseline: tuple[float, ...]
    saliency_distribution: tuple[float, ...] | None
    baseline_distribution: tuple[float, ...] | None


@dataclasses.dataclass(frozen=True)
class Aggregate(Record):
    """The statistics of a run (``aggregate/statistics.json``).

    Attributes:
        images: Image records aggregated.
        combine, ignored, baseline_instances: The aggregation choices (module docstring).
        class_names: The 19 context classes, in distribution order.
        mean_pixel_accuracy: Mean over images of the model's pixel accuracy; None without records.
        groups: One row per request group, in the protocol's order.
    """

    SCHEMA: ClassVar[str] = "deeplab_utils.cityscapes.aggregate"
    SCHEMA_VERSION: ClassVar[int] = 1

    images: int
    combine: Literal["sum", "max"]
    ignored: Literal["exclude", "include"]
    baseline_instances: Literal["all", "counted"]
    class_names: tuple[str, ...]
    mean_pixel_accuracy: float | None
    groups: tuple[GroupStatistics, ...]

    def group(self, name: str) -> GroupStatistics:
        """The row of a group.

        Raises:
            ValueError: If the run has no such group.
        """
        for row in self.groups:
            if row.group == name:
                return row
        raise ValueError(f"Argument `name` must be a group of the run ({', '.join(g.group for g in self.groups)}); "
                         f"received {name!r}.")


def _distribution(histogram: np.ndarray, ignored: str) -> tuple[float, ...] | None:
    distribution, total = normalise(histogram, ignored)
    return tuple(distribution.tolist()) if total > 0 else None


def aggregate_records(records: Sequence[ImageRecord], groups: Sequence[str], *, combine: str = "sum",
                      ignored: str = "exclude", baseline_instances: str = "all") -> Aggregate:
    """Sums the image records into the statistics of every group.

    Args:
        records: Image records (any order; summed in image-name order).
        groups: The group names, in the order of the rows (the protocol's groups).
        combine: ``"sum"`` or ``"max"``.
        ignored: ``"exclude"`` or ``"include"``.
        baseline_instances: ``"all"`` or ``"counted"``.

    Returns:
        The :class:`Aggregate`.

    Raises:
        ValueError: For an unknown choice, two records of one image, or a record lacking a group.
    """
    for name, value, choices in (("combine", combine, COMBINES), ("ignored", ignored, IGNORED_MODES),
                                 ("baseline_instances", baseline_instances, BASELINE_INSTANCES)):
        if value not in choices:
            raise ValueError(f"Argument `{name}` must be one of {choices}; received {value!r}.")
    records = sorted(records, key=lambda record: record.image)
    names = [record.image for record in records]
    if len(set(names)) != len(names):
        raise ValueError(f"Argument `records` must hold one record per image; received {len(names)} records of "
                         f"{len(set(names))} images.")
    rows = []
    for group in groups:
        saliency, baseline = np.zeros(NUM_BINS), np.zeros(NUM_BINS)
        counts = dict(images=0, images_counted=0, requests=0, counted=0, not_converged=0, empty_saliency=0)
        kind = "error" if "/" in group else "prediction"
        for record in records:
            outcome = next((entry for entry in record.groups if entry.group == group), None)
            if outcome is None:
                raise ValueError(f"Argument `records` must hold every group; the record of {record.image!r} "
                                 f"has no group {group!r}.")
            kind = outcome.kind
            counted = [request for request in outcome.requests if request.counted]
            counts["images"] += bool(outcome.requests)
            counts["images_counted"] += bool(counted)
            counts["requests"] += len(outcome.requests)
            counts["counted"] += len(counted)
            counts["not_converged"] += sum(not request.converged for request in outcome.requests)
            counts["empty_saliency"] += sum(request.empty_saliency for request in outcome.requests)
            if combine == "max":
                saliency += np.asarray(outcome.combined_max)
            else:
                for request in counted:
                    saliency += np.asarray(request.histogram)
            baseline += np.asarray(outcome.baseline if baseline_instances == "all" else outcome.baseline_counted)
        rows.append(GroupStatistics(
            group=group, kind=kind, **counts, saliency=tuple(saliency.tolist()), baseline=tuple(baseline.tolist()),
            saliency_distribution=_distribution(saliency, ignored),
            baseline_distribution=_distribution(baseline, ignored)))
    accuracies = [record.pixel_accuracy for record in records if record.pixel_accuracy is not None]
    return Aggregate(images=len(records), combine=combine, ignored=ignored, baseline_instances=baseline_instances,
                     class_names=CITYSCAPES.class_names,
                     mean_pixel_accuracy=float(np.mean(accuracies)) if accuracies else None, groups=tuple(rows))
