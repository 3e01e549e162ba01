"""Conditions checked inside the compiled explanation and reported as one clear error.

A check is a pair ``(ok, message)`` of tensors: a bool scalar and the error message, formatted in the
graph with the values received. :meth:`Explainer.explain` returns the checks from its compiled call
together with the results and raises the first failed one as a ``ValueError`` (so checking costs no
extra model pass and no synchronisation before the results are ready); inside a caller's graph
(:meth:`Explainer.explain_tensors`, :class:`GridSaliencyLayer`, ``tf.data``) they become
``tf.debugging`` assertions that raise ``InvalidArgumentError`` with the same message.

The model output is checked on the forward pass of the original images (supplement S1.2 computes it
anyway: it is ``f_c(x)`` of Eq. 2/3 and the first pass of VG): it must be finite and, for
``model_output="probabilities"``, be probabilities (>= 0, summing to 1 over the classes within
:data:`PROBABILITY_TOLERANCE`). Every float result is checked to be finite, so that a model that gives
NaN only on perturbed, interpolated or noisy images never yields NaN masks, losses or maps.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import tensorflow as tf

__all__ = [
    "PROBABILITY_TOLERANCE",
    "Checks",
    "assert_checks",
    "binary_check",
    "class_id_check",
    "finite_images_check",
    "index_check",
    "output_checks",
    "raise_failed_check",
    "results_check",
    "value_range_check",
]

#: Largest accepted ``|sum_c f_c(x) - 1|`` and ``-min f_c(x)`` of ``model_output="probabilities"`` (covers
#: a softmax computed in float16 or bfloat16).
PROBABILITY_TOLERANCE = 1e-2

#: Named checks, in the order they are reported: name -> (ok: bool scalar, message: string scalar).
Checks = dict[str, tuple[tf.Tensor, tf.Tensor]]


def _check(ok: tf.Tensor, template: str, values: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
    return tf.convert_to_tensor(ok, tf.bool), tf.strings.format(template, values)


def _first(values: tf.Tensor, bad: tf.Tensor) -> tf.Tensor:
    """The first of ``values`` (a vector) where ``bad`` holds; ``values[0]`` if none."""
    return tf.gather(values, tf.argmax(tf.cast(bad, tf.int32), output_type=tf.int32))


def _non_finite_count(values: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(tf.cast(~tf.math.is_finite(values), tf.int32))


def finite_images_check(images: tf.Tensor, name: str = "images") -> Checks:
    """Images without NaN or Inf.

    Args:
        images: float32 ``(batch, height, width, channels)``.
        name: The argument's name for the message.
    """
    count = _non_finite_count(images)
    return {name: _check(count == 0, f"Argument `{name}` must hold finite values; received {{}} NaN or Inf "
                                     "value(s).", [count])}


def value_range_check(images: tf.Tensor, value_range: tuple[float, float]) -> Checks:
    """Images inside ``value_range`` (within ``1e-6`` of its width), the space perturbed images are clipped to.

    Args:
        images: float32 ``(batch, height, width, channels)``.
        value_range: ``(low, high)``.
    """
    low, high = value_range
    tolerance = 1e-6 * (high - low)
    minimum, maximum = tf.reduce_min(images), tf.reduce_max(images)
    ok = (minimum >= low - tolerance) & (maximum <= high + tolerance)
    return {"value_range": _check(
        ok, f"Argument `images` must lie in value_range={value_range} (perturbed images are clipped to it); "
            "received values in [{}, {}]. Pass value_range=(0.0, 255.0) for 0..255 images.", [minimum, maximum])}


def output_checks(probabilities: tf.Tensor, model_output: str) -> Checks:
    """The model output on the original images: finite, and probabilities if declared so.

    The class sum of every pixel is finite exactly when all its classes are, so the checks read the
    ``(n, height_out, width_out, classes)`` tensor twice only (the sum and, for probabilities, the minimum).

    Args:
        probabilities: float32 ``(n, height_out, width_out, classes)``, ``f(x)`` as returned by
            :func:`grid_saliency_tf.scoring.probabilities_from_output` (two classes for one channel).
        model_output: ``"probabilities"`` or ``"logits"``.
    """
    prefix = f"Argument `model_output`={model_output!r} must match what the model returns"
    sums = tf.reduce_sum(probabilities, axis=-1)
    count = _non_finite_count(sums)
    checks = {"model_output": _check(
        count == 0, prefix + ": finite values; received an output with NaN or Inf at {} pixel(s) of the original "
                             "images.", [count])}
    if model_output == "probabilities":
        minimum = tf.reduce_min(probabilities)
        sum_error = tf.reduce_max(tf.abs(sums - 1.0))
        ok = (minimum >= -PROBABILITY_TOLERANCE) & (sum_error <= PROBABILITY_TOLERANCE)
        checks["probabilities"] = _check(
            ok, prefix + f": probabilities >= 0 that sum to 1 over the classes (tolerance {PROBABILITY_TOLERANCE}; "
                         "one channel: values in [0, 1]); received values down to {} and class sums off 1 by up "
                         "to {}. Pass model_output='logits' if the model returns logits.", [minimum, sum_error])
    return checks


def results_check(results: Mapping[str, tf.Tensor], model_output: str) -> Checks:
    """Every float result finite: NaN or Inf there comes from the model on the images it was given.

    Args:
        results: The result tensors, ``(n, ...)`` each.
        model_output: ``"probabilities"`` or ``"logits"``, for the message.
    """
    names = [name for name, value in results.items() if value.dtype.is_floating]
    counts = tf.stack([_non_finite_count(results[name]) for name in names])
    return {"results": _check(
        tf.reduce_all(counts == 0),
        f"Argument `model_output`={model_output!r} must match what the model returns: finite values on every "
        "image it is given; received NaN or Inf from the model (or its gradient) on perturbed, interpolated or "
        f"noisy images: non-finite values in the results {names}, counts {{}}.", [counts])}


def class_id_check(class_ids: tf.Tensor, num_classes: int, name: str = "class_ids") -> Checks:
    """Class ids in ``[0, num_classes)``.

    Args:
        class_ids: int32 ``(n,)``.
        num_classes: Classes of the model output (2 for a single-channel model).
        name: The argument's name for the message.
    """
    bad = (class_ids < 0) | (class_ids >= num_classes)
    first = _first(class_ids, bad)
    return {name: _check(~tf.reduce_any(bad), f"Argument `{name}` must lie in [0, {num_classes}) for a model with "
                                              f"{num_classes} classes; received {{}}.", [first])}


def index_check(image_indices: tf.Tensor, num_images: tf.Tensor, name: str = "image_indices") -> Checks:
    """Image indices in ``[0, num_images)``.

    Args:
        image_indices: int32 ``(n,)``.
        num_images: int32 scalar, the batch size of the images.
        name: The argument's name for the message.
    """
    bad = (image_indices < 0) | (image_indices >= num_images)
    first = _first(image_indices, bad)
    return {name: _check(~tf.reduce_any(bad), f"Argument `{name}` must lie in [0, {{}}) for the batch of images; "
                                              "received {}.", [num_images, first])}


def binary_check(masks: tf.Tensor, name: str = "masks") -> Checks:
    """Masks with values 0 or 1 only.

    Args:
        masks: float32 ``(n, height, width)``.
        name: The argument's name for the message.
    """
    flat = tf.reshape(masks, [-1])
    bad = (flat != 0.0) & (flat != 1.0)
    first = _first(flat, bad)
    return {name: _check(~tf.reduce_any(bad), f"Argument `{name}` must be binary (values 0 or 1); received a "
                                              "value {}.", [first])}


def raise_failed_check(checks: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Raises the first failed check, in order, as a ``ValueError``.

    Args:
        checks: ``name -> (ok, message)`` evaluated to NumPy values.

    Raises:
        ValueError: With the message of the first failed check.
    """
    for ok, message in checks.values():
        if not bool(ok):
            raise ValueError(message.decode() if isinstance(message, bytes) else str(message))


def assert_checks(checks: Checks) -> list[tf.Operation]:
    """``tf.debugging.Assert`` ops for every check, for use as control dependencies inside a graph."""
    return [tf.debugging.Assert(ok, [message], name=f"check_{name}") for name, (ok, message) in checks.items()]
