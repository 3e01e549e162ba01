"""What to explain in a DeepLab prediction and how: the settings of one context explanation.

The optimiser settings default to the Cityscapes settings of the paper (Hoyer et al., NeurIPS 2019,
Sec. 5 and supplement S2.1), read from their one source, ``GridSaliencyOptimizer.cityscapes_defaults()``;
the request threshold and erosion come from :mod:`deeplab_utils.requests`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from deeplab_utils.requests import MIN_REQUEST_PIXELS, REQUEST_EROSION_SIZE, REQUEST_MODES
from grid_saliency_tf import GridSaliencyOptimizer

__all__ = ["ExplainSettings", "IMAGE_VALUE_RANGE", "LABEL_SETS"]

_CITYSCAPES = GridSaliencyOptimizer.cityscapes_defaults()
#: The DeepLab models read images in 0..255.
IMAGE_VALUE_RANGE = (0.0, 255.0)
#: Names accepted for `ExplainSettings.labels`.
LABEL_SETS = ("auto", "cityscapes", "pascal_voc", "coco")


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"Argument `{name}` must be an integer >= {low}; received {value!r}.")


@dataclasses.dataclass(frozen=True)
class ExplainSettings:
    """What to explain and how; every field decides the results and is recorded with them.

    Attributes:
        class_name: Class to explain, by name in the label set (or None to use `class_id`).
        class_id: Class to explain, by output channel (or None to use `class_name`).
        labels: Label set: ``"auto"`` (by class count), ``"cityscapes"``, ``"pascal_voc"`` or ``"coco"``.
        request_mode: ``"components"`` (one request per connected component) or ``"class"`` (one).
        min_size: Minimum pixels of a request after the 3x3 erosion (10,000 in supplement S2.1).
        scale_min_size: Read `min_size` at Cityscapes resolution (1024x2048) and scale it by image area.
        resize_to_crop: Shrink an image larger than the model's crop size (else refuse it).
        grid_shape: ``(grid_height, grid_width)`` of the saliency mask (16x32 for Cityscapes).
        learning_rate: SGD learning rate (1.0).
        steps: SGD steps (80).
        mask_weight: ``lambda`` of Eq. 3 (0.01).
        upsampling: ``"bilinear"`` (Cityscapes) or ``"nearest"`` upsampling of the mask.
        perturbation: ``"constant"`` (the paper's), ``"blur"`` or ``"noise"`` (Sec. 3.1).
        check_parity: Compare the wrapper's labels with the graph's own ``SemanticPredictions``.

    Raises:
        ValueError: If not exactly one of `class_name` and `class_id` is given, or a field is out of
            range (the optimiser's own fields are checked by ``GridSaliencyOptimizer``).
    """

    class_name: str | None = None
    class_id: int | None = None
    labels: str = "auto"
    request_mode: str = "components"
    min_size: int = MIN_REQUEST_PIXELS
    scale_min_size: bool = True
    resize_to_crop: bool = True
    grid_shape: tuple[int, int] = _CITYSCAPES["grid_shape"]
    learning_rate: float = _CITYSCAPES["learning_rate"]
    steps: int = _CITYSCAPES["steps"]
    mask_weight: float = _CITYSCAPES["mask_weight"]
    upsampling: str = _CITYSCAPES["upsampling"]
    perturbation: str = "constant"
    check_parity: bool = True

    def __post_init__(self) -> None:
        if (self.class_name is None) == (self.class_id is None):
            raise ValueError(
                "Arguments `class_name` and `class_id` must be given exactly one at a time; received "
                f"class_name={self.class_name!r}, class_id={self.class_id!r}."
            )
        if self.class_id is not None:
            _check_int("class_id", self.class_id, 0)
        if self.labels not in LABEL_SETS:
            raise ValueError(f"Argument `labels` must be one of {LABEL_SETS}; received {self.labels!r}.")
        if self.request_mode not in REQUEST_MODES:
            raise ValueError(
                f"Argument `request_mode` must be one of {REQUEST_MODES}; received {self.request_mode!r}."
            )
        _check_int("min_size", self.min_size, 0)
        object.__setattr__(self, "grid_shape", tuple(self.grid_shape))

    def optimizer_settings(self) -> dict[str, Any]:
        """Keyword arguments of ``GridSaliencyOptimizer``: context saliency (Eq. 3) of 0..255 images.

        The request erosion is the one the request size test uses (:data:`REQUEST_EROSION_SIZE`).
        """
        return {
            **_CITYSCAPES,
            "grid_shape": self.grid_shape,
            "learning_rate": self.learning_rate,
            "steps": self.steps,
            "mask_weight": self.mask_weight,
            "upsampling": self.upsampling,
            "perturbation": self.perturbation,
            "erosion_size": REQUEST_EROSION_SIZE,
            "mode": "context",
            "value_range": IMAGE_VALUE_RANGE,
        }
