"""The record of one image and one model in a COCO comparison run (schema ``deeplab_utils.coco.image``, v1).

One :class:`ModelImageRecord` per image and model is written atomically to
``records/<model>/<image>.json`` once the model's requests of the image are explained; its presence makes a
rerun skip that model on that image (an image is read again only while a model lacks its record). It
holds what the comparison needs (:mod:`deeplab_utils.coco.comparison`): per requested VOC class, every
request with its optimisation outcome, its context-reliance measures (the empty-mask loss, the context
saliency mass) and its saliency-weighted context histogram, and the baseline histogram.

Histograms have ``len(context_classes) + 1`` bins (the run's context classes, then unannotated pixels).
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import ClassVar

from deeplab_utils.cityscapes.records import OptimisationOutcome
from grid_saliency_tf.experiment import TEMPORARY_PREFIX, Record, RecordError

__all__ = ["RequestRecord", "ClassRecord", "ModelImageRecord", "record_name", "load_model_records"]

RECORDS_FOLDER = "records"


def _check_sums(name: str, values: tuple[float, ...]) -> None:
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise ValueError(f"Argument `{name}` must hold finite non-negative sums; received {values!r}.")


@dataclasses.dataclass(frozen=True)
class RequestRecord(OptimisationOutcome):
    """One request (a predicted component of a VOC class): the optimisation's outcome
    (:class:`~deeplab_utils.cityscapes.records.OptimisationOutcome`), reliance and context.

    Attributes:
        empty_mask_loss: Preservation loss of the empty mask (all context removed): how much the model
            loses without context.
        context_saliency: Sum of the full-resolution saliency over the context pixels.
        histogram: The saliency-weighted context histogram (context classes, then unannotated).
        low_res_mask: The grid mask, rounded to 4 decimals (for figures).
    """

    empty_mask_loss: float
    context_saliency: float
    histogram: tuple[float, ...]
    low_res_mask: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        _check_sums("histogram", self.histogram)
        super().__post_init__()

    @property
    def self_contained(self) -> bool:
        """Converged with an empty saliency: the model needs no context for it."""
        return self.converged and self.empty_saliency and not self.empty_request

    @property
    def context_area(self) -> float:
        """Salient context relative to the request: ``context_saliency / pixels``."""
        return self.context_saliency / self.pixels if self.pixels else 0.0


@dataclasses.dataclass(frozen=True)
class ClassRecord:
    """One requested VOC class in one image for one model.

    Attributes:
        name: The VOC class name.
        class_id: Its VOC label id.
        candidates: Components before the size test.
        min_size_pixels: The size threshold in pixels of this image.
        requests: The requests that passed it.
        baseline: Histogram of the contour-dilation ring of all requests.
        baseline_pixels: Pixels of the ring.
    """

    name: str
    class_id: int
    candidates: int
    min_size_pixels: int
    requests: tuple[RequestRecord, ...]
    baseline: tuple[float, ...]
    baseline_pixels: int

    def __post_init__(self) -> None:
        _check_sums("baseline", self.baseline)
        if any(len(request.histogram) != len(self.baseline) for request in self.requests):
            raise ValueError(f"Argument `requests` must hold histograms of {len(self.baseline)} bins, as the baseline; "
                             f"received {[len(request.histogram) for request in self.requests]}.")


@dataclasses.dataclass(frozen=True)
class ModelImageRecord(Record):
    """Everything computed for one image with one model.

    Attributes:
        image: The image name (file name without suffix).
        model: The model's name in the run.
        height, width: Image size.
        pixel_accuracy: Share of the non-crowd pixels whose VOC label the model predicts; None if none.
        classes: One entry per requested class, in the protocol's order.
        seconds: Wall time from reading the image to this record (informative).
    """

    SCHEMA: ClassVar[str] = "deeplab_utils.coco.image"
    SCHEMA_VERSION: ClassVar[int] = 1

    image: str
    model: str
    height: int
    width: int
    pixel_accuracy: float | None
    classes: tuple[ClassRecord, ...]
    seconds: float

    def of_class(self, name: str) -> ClassRecord:
        """The entry of a class.

        Raises:
            ValueError: If the record has no such class.
        """
        found = next((entry for entry in self.classes if entry.name == name), None)
        if found is None:
            raise ValueError(f"Argument `name` must be a class of the record "
                             f"({', '.join(c.name for c in self.classes)}); received {name!r}.")
        return found


def record_name(model: str, image: str) -> str:
    """The record's path inside a run folder, ``records/<model>/<image>.json``."""
    return f"{RECORDS_FOLDER}/{model}/{image}.json"


def load_model_records(folder: str | os.PathLike, model: str) -> dict[str, ModelImageRecord]:
    """Every finished record of one model, keyed by image name (temporaries of killed writers skipped).

    Raises:
        RecordError: If a record does not read, or holds another image or model than its path says.
    """
    root = Path(folder) / RECORDS_FOLDER / model
    records = {}
    for path in sorted(root.glob("*.json")):
        if path.name.startswith(TEMPORARY_PREFIX):
            continue
        record = ModelImageRecord.load(path)
        if record_name(record.model, record.image) != path.relative_to(folder).as_posix():
            raise RecordError(f"{str(path)!r} holds the record of another image or model "
                              f"({record.model!r}, {record.image!r}).")
        records[record.image] = record
    return records
