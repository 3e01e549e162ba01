"""Segmentation and context-bias metrics (Hoyer et al., NeurIPS 2019, Sec. 4.1).

* IoU per class and mIoU from a confusion matrix (Long et al. 2015).
* Context bias detection, Eq. 6: ``CBD = ||C * M_context||_1 / ||C||_1`` with ``C = 1 - R_GT``.
* Context bias localization, Eq. 7: ``CBL = ||C_bias * M_context||_1 / ||C * M_context||_1``.

Every function is batched over images and returns NumPy arrays with no NaN: where a denominator is
zero the documented ``undefined_value`` is returned, and ``return_defined=True`` also returns which
entries were defined so that means can skip the others.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from grid_saliency_tf.validation import check_bool, check_int, check_integer_array, check_number

__all__ = [
    "confusion_matrix",
    "iou_per_class",
    "mean_iou",
    "context_bias_detection",
    "context_bias_localization",
]


def _as_numpy(value: Any) -> np.ndarray:
    return np.asarray(value.numpy() if isinstance(value, (tf.Tensor, tf.Variable)) else value)


def _as_float_maps(value: Any, name: str) -> np.ndarray:
    array = _as_numpy(value)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"Argument `{name}` must have shape (batch, height, width); received shape {array.shape}.")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"Argument `{name}` must be numeric; received dtype {array.dtype}.")
    array = array.astype(np.float64)
    count = int(np.count_nonzero(~np.isfinite(array)))
    if count:
        raise ValueError(f"Argument `{name}` must hold finite values; received {count} NaN or Inf value(s).")
    return array


def _check_same_shape(**arrays: np.ndarray) -> None:
    shapes = {name: array.shape for name, array in arrays.items()}
    if len(set(shapes.values())) != 1:
        names = ", ".join(f"`{name}`" for name in shapes)
        raise ValueError(f"Arguments {names} must have the same shape; received {shapes}.")


def confusion_matrix(labels: Any, predictions: Any, num_classes: int, *, ignore_label: int | None = None) -> np.ndarray:
    """Confusion matrix over a batch of label maps.

    Args:
        labels: Ground-truth class ids, integer array of any shape, e.g. ``(batch, height, width)``.
        predictions: Predicted class ids, same shape as ``labels``.
        num_classes: Number of classes ``K``.
        ignore_label: A label value whose pixels are left out (e.g. 255 for Cityscapes).

    Returns:
        int64 array ``(K, K)``: entry ``[i, j]`` counts pixels of true class ``i`` predicted as ``j``.

    Raises:
        TypeError: If labels or predictions are not integers (``1.5`` is refused, not truncated).
        ValueError: On a size mismatch or ids outside ``[0, K)``.
    """
    num_classes = check_int("num_classes", num_classes, 1)
    labels = check_integer_array("labels", labels).ravel()
    predictions = check_integer_array("predictions", predictions).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(
            f"Arguments `labels` and `predictions` must have the same size; received {labels.size} and "
            f"{predictions.size}."
        )
    if ignore_label is not None:
        keep = labels != ignore_label
        labels, predictions = labels[keep], predictions[keep]
    for name, values in (("labels", labels), ("predictions", predictions)):
        bad = values[(values < 0) | (values >= num_classes)]
        if bad.size:
            raise ValueError(f"Argument `{name}` must hold class ids in [0, {num_classes}); received {int(bad[0])}.")
    counts = np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def iou_per_class(confusion: Any, *, undefined_value: float = 0.0,
                  return_defined: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Intersection over union of every class, ``TP / (TP + FP + FN)``.

    Args:
        confusion: ``(K, K)`` confusion matrix, rows true classes, columns predictions.
        undefined_value: IoU reported for a class that is neither present nor predicted (its union is 0).
        return_defined: Also return a boolean ``(K,)`` array marking classes with a non-zero union.

    Returns:
        float64 ``(K,)`` IoU values, or ``(iou, defined)``.

    Raises:
        ValueError: If ``confusion`` is not a square matrix of finite counts >= 0.
    """
    confusion = _as_numpy(confusion).astype(np.float64)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"Argument `confusion` must be a square (K, K) matrix; received shape {confusion.shape}.")
    bad = ~np.isfinite(confusion) | (confusion < 0)
    if np.any(bad):
        raise ValueError(f"Argument `confusion` must hold finite pixel counts >= 0; received {confusion[bad][0]:g}.")
    true_positive = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - true_positive
    defined = union > 0
    iou = np.full(confusion.shape[0], check_number("undefined_value", undefined_value))
    iou[defined] = true_positive[defined] / union[defined]
    return (iou, defined) if check_bool("return_defined", return_defined) else iou


def mean_iou(confusion: Any) -> float:
    """mIoU: the mean IoU over the classes with a non-zero union (present or predicted).

    Args:
        confusion: ``(K, K)`` confusion matrix, rows true classes, columns predictions.

    Returns:
        The mean IoU.

    Raises:
        ValueError: If the confusion matrix is not valid (see :func:`iou_per_class`) or counts no pixel.
    """
    iou, defined = iou_per_class(confusion, return_defined=True)
    if not defined.any():
        raise ValueError("Argument `confusion` must count at least one pixel (mIoU is undefined otherwise); "
                         "received a matrix with no pixel.")
    return float(iou[defined].mean())


def context_bias_detection(saliency: Any, context: Any, *, undefined_value: float = 0.0,
                           return_defined: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """CBD of Eq. 6, ``||C * M_context||_1 / ||C||_1``, per image.

    Args:
        saliency: Context saliency ``M_context`` ``(batch, height, width)``, non-negative.
        context: Ground-truth context ``C = 1 - R_GT`` ``(batch, height, width)`` in {0, 1}.
        undefined_value: CBD of an image without context (``||C||_1 = 0``).
        return_defined: Also return a boolean ``(batch,)`` array marking images with context.

    Returns:
        float64 ``(batch,)``, or ``(cbd, defined)``.
    """
    saliency = _as_float_maps(saliency, "saliency")
    context = _as_float_maps(context, "context")
    _check_same_shape(saliency=saliency, context=context)
    numerator = np.abs(context * saliency).sum(axis=(1, 2))
    denominator = np.abs(context).sum(axis=(1, 2))
    return _ratio(numerator, denominator, undefined_value, return_defined)


def context_bias_localization(saliency: Any, bias_context: Any, context: Any, *, undefined_value: float = 0.0,
                              return_defined: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """CBL of Eq. 7, ``||C_bias * M_context||_1 / ||C * M_context||_1``, per image.

    ``C_bias`` is the biased *context* area (Sec. 4.1), so it is taken inside ``C``: a mask given as the
    whole biased half of the image is intersected with ``C`` first. Without this, saliency on
    ground-truth object pixels outside the predicted request (``M_context`` is zero only on the
    request ``R``, not on ``R_GT``) would count in the numerator but not the denominator, and CBL
    could exceed 1. With it, CBL is in [0, 1].

    Args:
        saliency: Context saliency ``M_context`` ``(batch, height, width)``, non-negative.
        bias_context: ``C_bias`` ``(batch, height, width)`` in {0, 1}, the biased context area (or the
            whole biased half; only its part inside ``C`` counts).
        context: ``C = 1 - R_GT`` ``(batch, height, width)`` in {0, 1}.
        undefined_value: CBL of an image whose saliency has no mass in the context (e.g. an empty
            grid saliency mask): the ratio is 0/0 there.
        return_defined: Also return a boolean ``(batch,)`` array marking images with saliency in ``C``.

    Returns:
        float64 ``(batch,)``, or ``(cbl, defined)``.
    """
    saliency = _as_float_maps(saliency, "saliency")
    bias_context = _as_float_maps(bias_context, "bias_context")
    context = _as_float_maps(context, "context")
    _check_same_shape(saliency=saliency, bias_context=bias_context, context=context)
    numerator = np.abs(bias_context * context * saliency).sum(axis=(1, 2))
    denominator = np.abs(context * saliency).sum(axis=(1, 2))
    return _ratio(numerator, denominator, undefined_value, return_defined)


def _ratio(numerator: np.ndarray, denominator: np.ndarray, undefined_value: float,
           return_defined: bool) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    defined = denominator > 0
    ratio = np.full(numerator.shape, check_number("undefined_value", undefined_value))
    ratio[defined] = numerator[defined] / denominator[defined]
    return (ratio, defined) if check_bool("return_defined", return_defined) else ratio
