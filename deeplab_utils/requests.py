"""Request masks for explaining a predicted class, as in the Cityscapes experiments of the paper.

Supplement S2.1 (Hoyer et al., NeurIPS 2019): context saliency is computed "for all sufficiently large
instances": each connected component of the predicted class is one request ``R``; a component is kept
when it still has at least 10,000 pixels (:data:`MIN_REQUEST_PIXELS`; 625 for the erroneous-prediction
study) after the 3x3 border erosion (:data:`REQUEST_EROSION_SIZE`) that the preservation loss applies
to ``R``. The components are returned un-eroded: the engine erodes the request itself. Alternatively, one request covers the whole predicted class.

The 10k threshold is stated at Cityscapes resolution (1024x2048); :func:`scaled_min_size` scales it by
image area for other resolutions.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import cv2
import numpy as np

__all__ = [
    "CITYSCAPES_SHAPE",
    "MIN_REQUEST_PIXELS",
    "REQUEST_EROSION_SIZE",
    "REQUEST_MODES",
    "RequestMasks",
    "build_request_masks",
    "scaled_min_size",
]

#: Supplement S2.1: a request keeps at least this many pixels after the erosion, at `CITYSCAPES_SHAPE`.
MIN_REQUEST_PIXELS = 10_000
#: Resolution at which `MIN_REQUEST_PIXELS` is stated.
CITYSCAPES_SHAPE = (1024, 2048)
#: Side of the square erosion of a request, in the size test and in the preservation loss (S1.2, S2.1).
REQUEST_EROSION_SIZE = 3
#: One request per connected component of the class, or one for the whole class.
REQUEST_MODES = ("components", "class")


@dataclasses.dataclass(frozen=True)
class RequestMasks:
    """Request masks for one image and class.

    Attributes:
        masks: bool array ``(n, height, width)``: the kept components (or the whole class), not eroded.
        sizes: int array ``(n,)``: pixels of each mask.
        eroded_sizes: int array ``(n,)``: pixels left after the 3x3 erosion (what the size test used).
        boxes: int array ``(n, 4)``: ``(top, left, bottom, right)`` of each mask, bottom/right exclusive.
        num_candidates: Components (or 1 for the whole class) before the size test; 0 when the class is
            not predicted at all.
        min_size: The threshold applied, in pixels of this image.
    """

    masks: np.ndarray
    sizes: np.ndarray
    eroded_sizes: np.ndarray
    boxes: np.ndarray
    num_candidates: int
    min_size: int

    def __len__(self) -> int:
        return int(self.masks.shape[0])


def scaled_min_size(min_size: float, image_shape: Sequence[int],
                    reference_shape: Sequence[int] = CITYSCAPES_SHAPE) -> int:
    """A pixel threshold stated at `reference_shape`, scaled by image area to `image_shape`.

    Args:
        min_size: Pixels at the reference resolution (10,000 in the paper).
        image_shape: ``(height, width)`` of the image.
        reference_shape: ``(height, width)`` the threshold refers to.

    Returns:
        ``ceil(min_size * height * width / (ref_height * ref_width))`` (at least 1 when `min_size` > 0).

    Raises:
        ValueError: If `min_size` is negative.
    """
    if min_size < 0:
        raise ValueError(f"Argument `min_size` must be >= 0; received {min_size!r}.")
    ratio = (image_shape[0] * image_shape[1]) / float(reference_shape[0] * reference_shape[1])
    return int(np.ceil(min_size * ratio)) if min_size > 0 else 0


def _erode(mask: np.ndarray, erosion_size: int) -> np.ndarray:
    if erosion_size <= 1:
        return mask
    kernel = np.ones((erosion_size, erosion_size), np.uint8)
    # OpenCV's default border does not erode, as grid_saliency_tf.perturbations.erode_masks does not, so
    # the size test counts the pixels the preservation loss will use.
    return cv2.erode(mask, kernel)


def build_request_masks(
    labels: np.ndarray,
    class_id: int,
    *,
    mode: str = "components",
    min_size: int = MIN_REQUEST_PIXELS,
    erosion_size: int = REQUEST_EROSION_SIZE,
    connectivity: int = 8,
) -> RequestMasks:
    """Request masks for class `class_id` of a predicted label map.

    Args:
        labels: Integer array ``(height, width)``, the predicted labels.
        class_id: The class to explain.
        mode: ``"components"``: one request per connected component of the class; ``"class"``: one request
            for all pixels of the class.
        min_size: Minimum pixels a request must keep after erosion, in pixels of `labels` (see
            :func:`scaled_min_size` for the paper's 10k at Cityscapes resolution).
        erosion_size: Side of the square erosion kernel (3 in the paper; 1 or 0 for none).
        connectivity: 4 or 8, for the connected components.

    Returns:
        The kept masks, largest first, with their sizes and boxes.

    Raises:
        ValueError: If `labels` is not 2-D, or `mode`, `min_size`, `erosion_size` or `connectivity` is
            invalid.
        TypeError: If `labels` is not an integer array.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"Argument `labels` must have shape (height, width); received shape {labels.shape}.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"Argument `labels` must be an integer array; received dtype {labels.dtype}.")
    if mode not in REQUEST_MODES:
        raise ValueError(f"Argument `mode` must be one of {REQUEST_MODES}; received {mode!r}.")
    if min_size < 0:
        raise ValueError(f"Argument `min_size` must be >= 0; received {min_size!r}.")
    if erosion_size < 0:
        raise ValueError(f"Argument `erosion_size` must be an integer >= 0; received {erosion_size!r}.")
    if connectivity not in (4, 8):
        raise ValueError(f"Argument `connectivity` must be 4 or 8; received {connectivity!r}.")
    mask = (labels == class_id).astype(np.uint8)
    eroded = _erode(mask, erosion_size)
    if mode == "class":
        components = mask.astype(np.int32)
        count = 2 if mask.any() else 1
    else:
        count, components = cv2.connectedComponents(mask, connectivity=connectivity, ltype=cv2.CV_32S)
    # Components are never adjacent, so eroding the whole mask erodes each component on its own.
    sizes = np.bincount(components.ravel(), minlength=count)[1:]
    eroded_sizes = np.bincount(components[eroded > 0], minlength=count)[1:]
    keep = np.flatnonzero(eroded_sizes >= max(min_size, 1))
    keep = keep[np.argsort(-sizes[keep], kind="stable")]
    masks = components[None] == (keep + 1)[:, None, None]
    boxes = np.zeros((len(keep), 4), np.int64)
    for row, mask_k in enumerate(masks):
        rows, cols = np.flatnonzero(mask_k.any(axis=1)), np.flatnonzero(mask_k.any(axis=0))
        boxes[row] = (rows[0], cols[0], rows[-1] + 1, cols[-1] + 1)
    return RequestMasks(masks=masks, sizes=sizes[keep], eroded_sizes=eroded_sizes[keep], boxes=boxes,
                        num_candidates=count - 1, min_size=int(min_size))
