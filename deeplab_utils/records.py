"""The JSON records of a DeepLab context explanation: one per request, and the summary of the image.

Both are typed records of :mod:`grid_saliency_tf.experiment.records` (schema name and version, strict
loading), written into the run folder by :mod:`deeplab_utils.pipeline`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from deeplab_utils.context_explanation import SaliencyOutcome
from grid_saliency_tf.experiment import Record

__all__ = ["ExplanationSummary", "RequestRecord"]


@dataclasses.dataclass(frozen=True)
class RequestRecord(Record):
    """The outcome of one request (``<image>_<class>_rNN.json``).

    Attributes:
        request: Number of the request, from 1, largest component first.
        class_id: The explained output channel.
        class_name: Its name in the label set.
        pixels: Pixels of the request mask ``R``.
        eroded_pixels: Pixels of ``R`` after the 3x3 erosion (what the size test used).
        box_top_left_bottom_right: Bounding box of ``R``, bottom/right exclusive.
        outcome: Losses, perturbation value, convergence and emptiness of the returned mask.
        saliency_mean: Mean of the upsampled mask ``M*``.
        salient_fraction: Fraction of pixels with ``M* > 0``.
        low_res_mask: The optimised mask ``(grid_height, grid_width)``, rounded to 6 digits.
        seconds: Optimisation time per request of its batch.
        files: Figure kind (``"saliency"``, ``"panels"``) -> file name in the run folder.
    """

    SCHEMA: ClassVar[str] = "deeplab_utils.request"
    SCHEMA_VERSION: ClassVar[int] = 1

    request: int
    class_id: int
    class_name: str
    pixels: int
    eroded_pixels: int
    box_top_left_bottom_right: tuple[int, int, int, int]
    outcome: SaliencyOutcome
    saliency_mean: float
    salient_fraction: float
    low_res_mask: tuple[tuple[float, ...], ...]
    seconds: float
    files: dict[str, str]


@dataclasses.dataclass(frozen=True)
class ExplanationSummary(Record):
    """What was explained in one image and the outcome of every request (``<image>_<class>_summary.json``).

    Attributes:
        model: Where the graph was read from.
        input_name: The float input tensor fed.
        logits_name: The logits tensor read.
        image: The image's name (file stem, or ``"image"`` for an array).
        image_size: ``(height, width)`` explained (after any resize to the crop size).
        class_id: The explained output channel.
        class_name: Its name.
        settings: The :class:`~deeplab_utils.settings.ExplainSettings` fields.
        optimizer: The ``GridSaliencyOptimizer`` keyword arguments used.
        predicted_pixels: Pixels predicted as the class.
        parity_mismatches: Pixels where the wrapper's labels differ from ``SemanticPredictions``; None
            when not checked.
        min_size_pixels: The request threshold applied, in pixels of this image.
        candidates: Components (or class masks) before the size test.
        requests: One record per request.
        seconds: Wall time of this run (a resumed run counts only its own time).
    """

    SCHEMA: ClassVar[str] = "deeplab_utils.explanation_summary"
    SCHEMA_VERSION: ClassVar[int] = 1

    model: str
    input_name: str
    logits_name: str
    image: str
    image_size: tuple[int, int]
    class_id: int
    class_name: str
    settings: dict[str, Any]
    optimizer: dict[str, Any]
    predicted_pixels: int
    parity_mismatches: int | None
    min_size_pixels: int
    candidates: int
    requests: tuple[RequestRecord, ...]
    seconds: float
