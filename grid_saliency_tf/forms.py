"""The forms and normalisation every saliency map can take (Hoyer et al., NeurIPS 2019, Sec. 3.2).

* ``form="grid"``: the map as computed, ``M_grid``; ``form="context"``: ``(1 - R) * M_grid`` (Eq. 5),
  the saliency outside the request, which CBD and CBL (Eq. 6, 7) measure.
* ``normalize="max"``: each request's map divided by its maximum, so that it lies in [0, 1] like a
  grid saliency mask and CBD values are comparable across methods; an all-zero map stays zero.

The gradient methods (VG, IG, SG) and Seg-Grad-CAM share these options, so that no caller has to
re-implement them.
"""

from __future__ import annotations

import tensorflow as tf

from grid_saliency_tf import perturbations

__all__ = ["FORMS", "NORMALIZATIONS", "apply_form", "divide_by_max"]

#: ``"grid"``: ``M_grid``; ``"context"``: ``(1 - R) * M_grid`` (Eq. 5).
FORMS = ("context", "grid")
#: Per-request scaling of the maps: none, or division by the maximum.
NORMALIZATIONS = ("none", "max")


def apply_form(maps: tf.Tensor, request_masks: tf.Tensor, form: str) -> tf.Tensor:
    """Applies the grid or context form (Eq. 5) to saliency maps.

    Args:
        maps: float32 ``(n, height, width)``.
        request_masks: float32 ``(n, height_out, width_out)`` in {0, 1}, resized (nearest) to the maps.
        form: ``"grid"`` or ``"context"``.

    Returns:
        float32 ``(n, height, width)``: ``maps`` or ``(1 - R) * maps``.
    """
    if form == "grid":
        return maps
    request_in = perturbations.resize_masks(request_masks, (int(maps.shape[1]), int(maps.shape[2])))
    return (1.0 - request_in) * maps


def divide_by_max(maps: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
    """Divides every request's map by the maximum of ``|reference|`` of that request (0 stays 0).

    Args:
        maps: float32 ``(n, ...)``.
        reference: float32 ``(n, ...)``: the map whose maximum becomes 1 (e.g. the pooled map).

    Returns:
        float32 of the shape of ``maps``.
    """
    scale = tf.reduce_max(tf.abs(tf.reshape(reference, [tf.shape(reference)[0], -1])), axis=1)
    return tf.math.divide_no_nan(maps, tf.reshape(scale, [-1] + [1] * (maps.shape.rank - 1)))
