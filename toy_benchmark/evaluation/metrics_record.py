"""``metrics.json``: the record of one evaluation, written and read by one dataclass with a schema version.

`MetricsRecord` is a `grid_saliency_tf.experiment.Record` (schema ``toy_benchmark.metrics``): `save`
writes it atomically after checking it reads back, `load` checks every key, type and range and names
the file and the field that does not fit. The layout is documented in docs/toy_benchmark.md. Means
that have no images behind them are None (``null``); NaN is never written.

Version 3 keeps the per-image values behind every mean (the confusion matrix of each unbiased test
image, each image's digit, CBD and CBL per method), so that reports can give bootstrap intervals over
images (`grid_saliency_tf.experiment.bootstrap_interval`). Version 4 (this one) adds
``biased_segmentation``, the IoU on the biased test set, whose images are the unbiased test set's with
other textures (same digits, placements and context masks): the paired difference tells whether the
network relies on its bias texture at all. A version-3 record is read with ``biased_segmentation``
None (`evaluate` measures it when it finds such a record finished). Version 2 (means only) and version 1
(a dictionary without a schema name) are not read: reading one names the version and says to evaluate
again.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from grid_saliency_tf.experiment import Record, RecordError
from toy_benchmark.data.variant import NUM_CLASSES, NUM_DIGITS
from toy_benchmark.evaluation.explainers import METHODS

__all__ = ["METRICS_FILE", "MethodSummary", "MetricsRecord", "SaliencySummary", "SegmentationMetrics"]

METRICS_FILE = "metrics.json"
_TOLERANCE = 1e-6


def _check_length(name: str, values: tuple[Any, ...], length: int) -> None:
    if len(values) != length:
        raise ValueError(f"Argument `{name}` must have {length} entries; received {len(values)}: {list(values)}.")


def _check_unit_interval(name: str, values: tuple[float | None, ...]) -> None:
    outside = [v for v in values if v is not None and not -_TOLERANCE <= v <= 1.0 + _TOLERANCE]
    if outside:
        raise ValueError(f"Argument `{name}` must lie in [0, 1]; received {outside[0]!r} in {list(values)}.")


@dataclasses.dataclass(frozen=True)
class SegmentationMetrics:
    """IoU of the network on a test set (the unbiased one: paper Fig. 4a), from one confusion matrix.

    Attributes:
        iou_per_class: 11 IoUs (digits 0..9, background); None where a class is neither present nor
            predicted.
        iou_per_digit: The first 10 of them.
        miou: Their mean over the defined classes, or None.
        num_images: Test images.
        confusion: 11 x 11 pixel counts, rows the true class, columns the predicted one.
        confusion_per_image: One entry per image: its 11 x 11 confusion matrix, flattened row-major
            (121 pixel counts); they sum to `confusion`.
    """

    iou_per_class: tuple[float | None, ...]
    iou_per_digit: tuple[float | None, ...]
    miou: float | None
    num_images: int
    confusion: tuple[tuple[int, ...], ...]
    confusion_per_image: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        _check_length("iou_per_class", self.iou_per_class, NUM_CLASSES)
        _check_length("iou_per_digit", self.iou_per_digit, NUM_DIGITS)
        _check_unit_interval("iou_per_class", self.iou_per_class)
        _check_unit_interval("iou_per_digit", self.iou_per_digit)
        _check_unit_interval("miou", (self.miou,))
        _check_length("confusion", self.confusion, NUM_CLASSES)
        for row in self.confusion:
            _check_length("confusion", row, NUM_CLASSES)
        _check_length("confusion_per_image", self.confusion_per_image, self.num_images)
        for entry in self.confusion_per_image:
            _check_length("confusion_per_image", entry, NUM_CLASSES * NUM_CLASSES)
        per_image = np.asarray(self.confusion_per_image, np.int64).reshape(-1, NUM_CLASSES, NUM_CLASSES)
        if not np.array_equal(per_image.sum(axis=0), np.asarray(self.confusion, np.int64)):
            raise ValueError("Argument `confusion_per_image` must sum to `confusion`; received matrices whose sum "
                             "differs from it.")


@dataclasses.dataclass(frozen=True)
class MethodSummary:
    """mCBD and mCBL per digit of one saliency method (Fig. 4b/c), with the counts behind every mean.

    Attributes:
        mcbd_per_digit, mcbl_per_digit: 10 means in [0, 1], or None where no image counts.
        num_images_per_digit: Images behind each mCBD (non-empty requests).
        num_cbl_images_per_digit: Images behind each mCBL (bias texture present, saliency in the context).
        empty_fraction: Grid saliency only: share of valid requests whose mask ended empty.
        converged_fraction: Grid saliency only: share whose preservation loss converged (S2.1).
        cbd_per_image, cbl_per_image: One entry per test image (the order of
            `SaliencySummary.digit_per_image`): its CBD and CBL, None where the image does not count
            towards the mean (an empty request; for CBL also no bias texture or no saliency in the context).
    """

    mcbd_per_digit: tuple[float | None, ...]
    mcbl_per_digit: tuple[float | None, ...]
    num_images_per_digit: tuple[int, ...]
    num_cbl_images_per_digit: tuple[int, ...]
    cbd_per_image: tuple[float | None, ...]
    cbl_per_image: tuple[float | None, ...]
    empty_fraction: float | None = None
    converged_fraction: float | None = None

    def __post_init__(self) -> None:
        for name in ("mcbd_per_digit", "mcbl_per_digit", "num_images_per_digit", "num_cbl_images_per_digit"):
            _check_length(name, getattr(self, name), NUM_DIGITS)
        for name in ("mcbd_per_digit", "mcbl_per_digit", "cbd_per_image", "cbl_per_image"):
            _check_unit_interval(name, getattr(self, name))
        _check_length("cbl_per_image", self.cbl_per_image, len(self.cbd_per_image))
        for name, counts in (("cbd_per_image", self.num_images_per_digit),
                             ("cbl_per_image", self.num_cbl_images_per_digit)):
            counted = sum(v is not None for v in getattr(self, name))
            if counted != sum(counts):
                raise ValueError(f"Argument `{name}` must have as many values as the means count ({sum(counts)}); "
                                 f"received {counted}.")
        _check_unit_interval("empty_fraction", (self.empty_fraction,))
        _check_unit_interval("converged_fraction", (self.converged_fraction,))


@dataclasses.dataclass(frozen=True)
class SaliencySummary:
    """Context saliency on the biased test set (Eq. 6, 7): every method's per-digit means.

    Attributes:
        num_images: Test images explained.
        num_empty_requests: Images whose predicted request mask is empty (left out of every mean).
        methods: Method name to its summary.
        digit_per_image: The digit of every test image, in the order of the methods' per-image values.
    """

    num_images: int
    num_empty_requests: int
    methods: dict[str, MethodSummary]
    digit_per_image: tuple[int, ...]

    def __post_init__(self) -> None:
        unknown = [name for name in self.methods if name not in METHODS]
        if not self.methods or unknown:
            raise ValueError(f"Argument `methods` must name some of {METHODS}; received {list(self.methods)}.")
        _check_length("digit_per_image", self.digit_per_image, self.num_images)
        for name, summary in self.methods.items():
            _check_length(f"methods[{name!r}].cbd_per_image", summary.cbd_per_image, self.num_images)


@dataclasses.dataclass(frozen=True)
class MetricsRecord(Record):
    """The record of one evaluation, stored as ``metrics.json``.

    Attributes:
        run: Free-form description of what was evaluated (the model path, or the benchmark run's settings).
        datasets: ``{"biased_test": DatasetVariant fields, "unbiased_test": DatasetVariant fields | None}``.
        settings: Every method's settings (`~toy_benchmark.evaluation.explainers.method_settings`).
        segmentation: IoU on the unbiased test set, or None when it was skipped.
        saliency: CBD and CBL of every method on the biased test set.
        seconds: Wall-clock time of the evaluation itself (not counting a resumed, finished one).
        biased_segmentation: IoU on the biased test set (the images ``saliency`` explains, measured from
            the same predictions as its requests); None in a record of version 3.
    """

    SCHEMA: ClassVar[str] = "toy_benchmark.metrics"
    SCHEMA_VERSION: ClassVar[int] = 4

    run: dict[str, Any]
    datasets: dict[str, Any]
    settings: dict[str, Any]
    segmentation: SegmentationMetrics | None
    saliency: SaliencySummary
    seconds: float
    biased_segmentation: SegmentationMetrics | None = None

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        """Reads version 3 without the biased test set's IoU; refuses versions 1 and 2, which hold means
        only (the intervals need the per-image values).

        Raises:
            RecordError: For versions other than 3, naming the version and what to do.
        """
        if version == 3:
            return {**data, "biased_segmentation": None}
        raise RecordError(f"schema version {version} of `{cls.SCHEMA}` cannot be read; this code reads versions 3 "
                          f"to {cls.SCHEMA_VERSION}, which keep the per-image values behind every mean (for the "
                          "bootstrap intervals): evaluate again (--overwrite)")

    def __post_init__(self) -> None:
        if set(self.datasets) != {"biased_test", "unbiased_test"}:
            raise ValueError(f"Argument `datasets` must have the keys biased_test and unbiased_test; "
                             f"received {sorted(self.datasets)}.")
        if not self.seconds >= 0:
            raise ValueError(f"Argument `seconds` must be >= 0; received {self.seconds!r}.")
