"""The protocol of the COCO architecture comparison: which requests, thresholds and choices (supplement S3).

Hoyer et al. (NeurIPS 2019, supplement S3) explain two DeepLabv3+ models trained on PASCAL VOC on MS
COCO images with "all implementation details and optimization parameter settings [...] borrowed from
the Cityscapes experiments". So: a request is a connected component of a predicted VOC class keeping at
least `min_size` pixels after the 3x3 erosion; the threshold is the Cityscapes one (10,000 pixels at
1024x2048), scaled by image area (about 1,465 pixels at COCO's usual 480x640; `min_size` and
`reference_shape` are arguments); the same for the 400k-pixel baseline ring. The context choice and
the baseline sharing are those of :class:`deeplab_utils.cityscapes.protocol.Protocol`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from deeplab_utils.cityscapes.protocol import BASELINE_PIXELS, check_request_settings
from deeplab_utils.labels import PASCAL_VOC
from deeplab_utils.requests import CITYSCAPES_SHAPE, MIN_REQUEST_PIXELS, REQUEST_EROSION_SIZE, scaled_min_size

__all__ = ["VOC_CLASSES", "CocoProtocol"]

#: The 20 VOC object classes (background is not requested).
VOC_CLASSES: tuple[str, ...] = PASCAL_VOC.class_names[1:]


@dataclasses.dataclass(frozen=True)
class CocoProtocol:
    """What is requested on COCO and how; every field is part of a run's identity.

    Attributes:
        classes: VOC classes whose predicted components are explained (default: all 20).
        min_size: Minimum pixels of a request after erosion, at `reference_shape` (10,000).
        baseline_pixels: Pixels of the contour-dilation baseline per image and class, at `reference_shape`.
        reference_shape: ``(height, width)`` the pixel counts refer to (1024x2048: the Cityscapes values).
        erosion_size: Side of the square erosion before the size test and in the loss (3).
        connectivity: 4 or 8 (8).
        context: ``"outside_request"`` or ``"everywhere"`` (as for Cityscapes).
        baseline_sharing: ``"radius"`` or ``"equal"`` (as for Cityscapes).
    """

    classes: tuple[str, ...] = VOC_CLASSES
    min_size: int = MIN_REQUEST_PIXELS
    baseline_pixels: int = BASELINE_PIXELS
    reference_shape: tuple[int, int] = CITYSCAPES_SHAPE
    erosion_size: int = REQUEST_EROSION_SIZE
    connectivity: int = 8
    context: str = "outside_request"
    baseline_sharing: str = "radius"

    def __post_init__(self) -> None:
        if isinstance(self.classes, str) or not isinstance(self.classes, (tuple, list)) or not self.classes:
            raise ValueError(f"Argument `classes` must be a non-empty sequence of VOC class names; "
                             f"received {self.classes!r}.")
        names = []
        for name in self.classes:
            try:
                class_id = PASCAL_VOC.class_id(str(name))
            except ValueError:
                class_id = 0
            if class_id == 0:
                raise ValueError(f"Argument `classes` must name VOC object classes ({', '.join(VOC_CLASSES)}); "
                                 f"received {name!r}.")
            names.append(PASCAL_VOC.class_names[class_id])
        if len(set(names)) != len(names):
            raise ValueError(f"Argument `classes` must not repeat a class; received {tuple(names)!r}.")
        check_request_settings(self, ("min_size", "baseline_pixels"))
        object.__setattr__(self, "classes", tuple(names))
        object.__setattr__(self, "reference_shape", tuple(self.reference_shape))

    def pixels(self, count: int, image_shape: tuple[int, int]) -> int:
        """A pixel count of the protocol (stated at `reference_shape`) scaled to `image_shape`."""
        return scaled_min_size(count, image_shape, self.reference_shape)

    def to_settings(self) -> dict[str, Any]:
        """The fields as JSON data (for a run's settings)."""
        return dataclasses.asdict(self)
