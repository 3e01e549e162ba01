"""The per-image record of a Cityscapes run: every request with its outcome, and the histograms.

One :class:`ImageRecord` per image is written atomically to ``records/<city>/<image>.json`` once the
image is finished; its presence is what makes a rerun skip the image. It holds everything the
aggregation needs (:mod:`deeplab_utils.cityscapes.aggregate`), so that the statistics can be rebuilt
from the records alone, whichever process or worker wrote them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping

import numpy as np

from deeplab_utils.cityscapes.statistics import NUM_BINS
from deeplab_utils.requests import RequestMasks
from grid_saliency_tf.experiment import TEMPORARY_PREFIX, Record, RecordError

__all__ = ["OptimisationOutcome", "optimisation_fields", "RequestOutcome", "GroupOutcome", "ImageRecord", "RECORDS_FOLDER", "record_name", "load_records"]

RECORDS_FOLDER = "records"


def _check_histogram(name: str, values: tuple[float, ...]) -> None:
    if len(values) != NUM_BINS or any(not math.isfinite(v) or v < 0 for v in values):
        raise ValueError(f"Argument `{name}` must hold {NUM_BINS} finite non-negative sums; received {values!r}.")


@dataclasses.dataclass(frozen=True)
class OptimisationOutcome:
    """What every request record holds: its size and the optimisation's outcome (Cityscapes and COCO).

    Attributes:
        index: Position in its group (components largest first).
        pixels, eroded_pixels: Size of the request before and after the 3x3 erosion.
        box: ``(top, left, bottom, right)``, bottom/right exclusive.
        total_loss, mask_loss, preservation_loss: The losses of Eq. 3 for the returned mask.
        perturbation_value: The constant chosen for the context perturbation (0..255).
        converged: ``preservation_loss <= convergence_threshold`` (0.1, S2.1).
        empty_saliency: The returned mask is all zero (S2.2: a self-contained object).
        empty_request: The request mask held no pixel.
        counted: Not an empty request, not an empty saliency, converged: the three conditions of
            Table S1's caption.
    """

    index: int
    pixels: int
    eroded_pixels: int
    box: tuple[int, int, int, int]
    total_loss: float
    mask_loss: float
    preservation_loss: float
    perturbation_value: float
    converged: bool
    empty_saliency: bool
    empty_request: bool
    counted: bool

    def __post_init__(self) -> None:
        if self.counted != (self.converged and not self.empty_saliency and not self.empty_request):
            raise ValueError(f"Argument `counted` must be converged and not empty; received counted={self.counted}, "
                             f"converged={self.converged}, empty_saliency={self.empty_saliency}, "
                             f"empty_request={self.empty_request}.")


def optimisation_fields(masks: RequestMasks, index: int, result: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`OptimisationOutcome` fields of request `index` of `masks` from its engine outputs
    (:class:`~deeplab_utils.cityscapes.explainer.BatchExplainer`), and its grid mask rounded to 4
    decimals as ``low_res_mask``."""
    converged, empty, empty_request = (bool(result[key]) for key in ("converged", "empty", "empty_request"))
    return dict(
        index=index, pixels=int(masks.sizes[index]), eroded_pixels=int(masks.eroded_sizes[index]),
        box=tuple(int(v) for v in masks.boxes[index]), total_loss=float(result["total_loss"]),
        mask_loss=float(result["mask_loss"]), preservation_loss=float(result["preservation_loss"]),
        perturbation_value=float(result["perturbation_value"]), converged=converged, empty_saliency=empty,
        empty_request=empty_request, counted=converged and not empty and not empty_request,
        low_res_mask=tuple(tuple(float(v) for v in row) for row in np.round(result["low_res_masks"], 4)))


@dataclasses.dataclass(frozen=True)
class RequestOutcome(OptimisationOutcome):
    """One request: its size, the optimisation's outcome (:class:`OptimisationOutcome`), and its context histogram.

    Attributes:
        histogram: The saliency-weighted ground-truth histogram of its context (19 classes, ignored).
        low_res_mask: The optimised grid mask ``(grid_height, grid_width)``, rounded to 4 decimals (for
            figures only; the histograms use the exact mask).
    """

    histogram: tuple[float, ...]
    low_res_mask: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        _check_histogram("histogram", self.histogram)
        super().__post_init__()


@dataclasses.dataclass(frozen=True)
class GroupOutcome:
    """One request group (a class or a ground-truth/prediction pair) in one image.

    Attributes:
        group: ``"rider"`` or ``"rider/person"``.
        kind: ``"prediction"`` or ``"error"``.
        class_id: The explained (predicted) class.
        ground_truth_id: The ground-truth class of a pair; None for prediction requests.
        candidates: Components before the size test.
        min_size_pixels: The size threshold in pixels of this image.
        requests: The requests that passed the size test.
        combined_max: Histogram of the pixel-wise maximum of the counted saliencies.
        baseline: Histogram of the dilation ring of all requests (S2.1, Fig. S13 h).
        baseline_counted: Histogram of the ring of the counted requests only.
        baseline_pixels: Pixels of the ring of all requests.
    """

    group: str
    kind: Literal["prediction", "error"]
    class_id: int
    ground_truth_id: int | None
    candidates: int
    min_size_pixels: int
    requests: tuple[RequestOutcome, ...]
    combined_max: tuple[float, ...]
    baseline: tuple[float, ...]
    baseline_counted: tuple[float, ...]
    baseline_pixels: int

    def __post_init__(self) -> None:
        for name in ("combined_max", "baseline", "baseline_counted"):
            _check_histogram(name, getattr(self, name))

    @property
    def counted(self) -> int:
        """How many requests count."""
        return sum(request.counted for request in self.requests)


@dataclasses.dataclass(frozen=True)
class ImageRecord(Record):
    """Everything computed for one image.

    Attributes:
        image: ``"<city>/<city>_<seq>_<frame>"``.
        height, width: Image size.
        pixel_accuracy: Share of the non-ignored ground-truth pixels the model predicts correctly; None
            if every pixel is ignored.
        groups: One entry per request group of the protocol, in its order.
        seconds: Wall time spent on the image (informative; not aggregated).
    """

    SCHEMA: ClassVar[str] = "deeplab_utils.cityscapes.image"
    SCHEMA_VERSION: ClassVar[int] = 1

    image: str
    height: int
    width: int
    pixel_accuracy: float | None
    groups: tuple[GroupOutcome, ...]
    seconds: float


def record_name(image: str) -> str:
    """The record's path inside a run folder, ``records/<city>/<image>.json``."""
    return f"{RECORDS_FOLDER}/{image}.json"


def load_records(folder: str | os.PathLike) -> list[ImageRecord]:
    """Every finished image record under ``<folder>/records``, sorted by image name.

    Temporaries of writers that were killed are skipped.

    Raises:
        RecordError: If a record does not read (names the file and the field).
    """
    root = Path(folder) / RECORDS_FOLDER
    paths = sorted(path for path in root.glob("*/*.json") if not path.name.startswith(TEMPORARY_PREFIX))
    records = [ImageRecord.load(path) for path in paths]
    names = [record.image for record in records]
    for path, record in zip(paths, records):
        if record_name(record.image) != path.relative_to(folder).as_posix():
            raise RecordError(f"{str(path)!r} holds the record of another image ({record.image!r}).")
    if len(set(names)) != len(names):
        raise RecordError(f"{str(root)!r} holds two records of one image.")
    return sorted(records, key=lambda record: record.image)
