"""The baseline of the context statistics: a fixed dilation of the contours of the kept instances.

Supplement S2.1 (Hoyer et al., NeurIPS 2019): "The baseline metric dilates the contours of the
predicted instances in a given image that pass the minimum size requirement using a total of 400k
pixels for the dilated region. If multiple instances are present, these dilation pixels are shared
amongst them" (Fig. S13 h). The paper does not say how they are shared; two rules are offered:

- ``"radius"``: one Euclidean dilation radius for all instances, the smallest whose ring (pixels outside
  every instance within that distance of one) holds the budget; pixels at exactly that distance are
  taken in raster order until the ring holds exactly the budget. Each instance thus gets the pixels
  nearest to it, a large instance more than a small one (its contour is longer);
- ``"equal"``: instance ``i`` of ``n`` gets ``budget / n`` pixels (the remainder to the first ones), the
  ones nearest to it, by the same rule; rings of nearby instances may overlap, so the union can hold
  fewer pixels than the budget.

Pixels of the instances themselves never belong to the ring. If the image has fewer pixels outside the
instances than the budget, the ring is all of them.
"""

from __future__ import annotations

import cv2
import numpy as np

from deeplab_utils.cityscapes.protocol import BASELINE_SHARINGS

__all__ = ["baseline_ring", "nearest_pixels"]


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance of every pixel to the nearest pixel of `mask` (0 inside it)."""
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def nearest_pixels(distance: np.ndarray, candidates: np.ndarray, count: int) -> np.ndarray:
    """The `count` candidate pixels of smallest distance; ties at the last distance in raster order.

    Args:
        distance: float ``(height, width)``.
        candidates: bool ``(height, width)``: the pixels that may be chosen.
        count: How many to choose (all candidates if there are fewer).

    Returns:
        bool ``(height, width)`` with ``min(count, candidates.sum())`` pixels set.
    """
    chosen = np.zeros(candidates.shape, bool)
    positions = np.flatnonzero(candidates)
    if count <= 0 or positions.size == 0:
        return chosen
    if count >= positions.size:
        chosen.flat[positions] = True
        return chosen
    values = distance.ravel()[positions]
    threshold = np.partition(values, count - 1)[count - 1]
    below = values < threshold
    at = np.flatnonzero(values == threshold)[: count - int(below.sum())]
    chosen.flat[positions[below]] = True
    chosen.flat[positions[at]] = True
    return chosen


def baseline_ring(instances: np.ndarray, budget: int, *, sharing: str = "radius") -> np.ndarray:
    """The dilation ring around the instances of one image and class (Fig. S13 h).

    Args:
        instances: bool ``(n, height, width)``: the kept request masks of one group in one image.
        budget: Pixels of the ring, in pixels of this image (400,000 at 1024x2048, scaled by area).
        sharing: ``"radius"`` or ``"equal"`` (module docstring).

    Returns:
        bool ``(height, width)``: the ring; empty when there is no instance.

    Raises:
        ValueError: For masks that are not ``(n, height, width)``, a negative budget or an unknown rule.
    """
    instances = np.asarray(instances, bool)
    if instances.ndim != 3:
        raise ValueError(f"Argument `instances` must have shape (n, height, width); received {instances.shape}.")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 0:
        raise ValueError(f"Argument `budget` must be a non-negative integer; received {budget!r}.")
    if sharing not in BASELINE_SHARINGS:
        raise ValueError(f"Argument `sharing` must be one of {BASELINE_SHARINGS}; received {sharing!r}.")
    union = instances.any(axis=0)
    outside = ~union
    if instances.shape[0] == 0 or not union.any():
        return np.zeros(union.shape, bool)
    if sharing == "radius":
        return nearest_pixels(_distance_to(union), outside, int(budget))
    count = instances.shape[0]
    ring = np.zeros(union.shape, bool)
    for index, instance in enumerate(instances):
        share = int(budget) // count + (1 if index < int(budget) % count else 0)
        ring |= nearest_pixels(_distance_to(instance), outside, share)
    return ring
