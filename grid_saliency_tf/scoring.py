"""The one scoring contract every method builds on: the model's class score inside a request mask.

Grid saliency (Eq. 2 and 3 of Hoyer et al., NeurIPS 2019) compares ``f_c`` on the original and the
perturbed image inside ``R``; the gradient baselines differentiate the request score
``S(x, R, c) = ||R * f_c(x)||_1 / ||R||_1`` (Sec. 3.2); Seg-Grad-CAM (Vinogradova et al., Eq. 1)
differentiates the sum of logits ``sum_{(i,j) in M} y^c_ij``. All of them go through the functions
below, so the model is called, the softmax applied and the class channel selected in one place.

A model with a single output channel is a sigmoid (binary) model and is read as two classes: class 1
is the sigmoid of its logit (or the probability it returns), class 0 its complement. A softmax over
one channel would give 1 everywhere, so that no perturbation could ever change the score.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import tensorflow as tf

from grid_saliency_tf.validation import MODEL_OUTPUTS, check_model, check_model_output_kind

__all__ = [
    "MODEL_OUTPUTS",
    "call_model",
    "check_model",
    "check_model_output_kind",
    "class_probabilities",
    "probabilities_from_output",
    "class_logits",
    "select_class",
    "masked_sum",
    "request_score",
]


def call_model(model: Callable[..., Any], images: tf.Tensor) -> tf.Tensor:
    """Calls a Keras model in inference mode, or any other callable, on a batch of images.

    Args:
        model: A Keras model/layer or a callable mapping ``(batch, height, width, channels)`` to
            ``(batch, height_out, width_out, classes)``.
        images: float32 tensor of shape ``(batch, height, width, channels)``.

    Returns:
        float32 tensor of shape ``(batch, height_out, width_out, classes)``.
    """
    if isinstance(model, keras.layers.Layer):
        output = model(images, training=False)
    else:
        output = model(images)
    if isinstance(output, (list, tuple)):
        raise ValueError(
            "Argument `model` must return one dense prediction tensor; received a "
            f"{type(output).__name__} of {len(output)} outputs."
        )
    return tf.cast(output, tf.float32)


def probabilities_from_output(output: tf.Tensor, model_output: str) -> tf.Tensor:
    """Turns a model output into per-pixel class probabilities ``f(x)``.

    Args:
        output: float32 tensor ``(batch, height_out, width_out, classes)``; ``classes = 1`` for a sigmoid
            model.
        model_output: ``"probabilities"`` if ``output`` holds probabilities, ``"logits"`` if a softmax
            (a sigmoid for one channel) must be applied.

    Returns:
        float32 tensor ``(batch, height_out, width_out, classes)``, or ``(..., 2)`` for one channel:
        ``[1 - p, p]`` with ``p`` the sigmoid of the logit or the probability returned.
    """
    if output.shape[-1] == 1:
        positive = tf.sigmoid(output) if model_output == "logits" else output
        return tf.concat([1.0 - positive, positive], axis=-1)
    return tf.nn.softmax(output, axis=-1) if model_output == "logits" else output


def class_probabilities(model: Callable[..., Any], images: tf.Tensor, model_output: str) -> tf.Tensor:
    """Returns the model's per-pixel class probabilities ``f(x)``.

    Args:
        model: The segmentation model (see :func:`call_model`).
        images: float32 tensor of shape ``(batch, height, width, channels)``.
        model_output: ``"probabilities"`` or ``"logits"``, see :func:`probabilities_from_output`.

    Returns:
        float32 tensor of shape ``(batch, height_out, width_out, classes)`` (two classes for a
        single-channel model).
    """
    return probabilities_from_output(call_model(model, images), model_output)


def class_logits(logits: tf.Tensor) -> tf.Tensor:
    """The logits ``y`` of every class, for Seg-Grad-CAM; a single channel ``z`` becomes ``[-z, z]``.

    For a sigmoid model ``z`` is the log-odds of class 1 and ``-z`` those of class 0, so the two
    classes' Grad-CAM weights are opposite.

    Args:
        logits: float32 tensor ``(batch, height, width, classes)``.

    Returns:
        float32 tensor ``(batch, height, width, classes)``, or ``(..., 2)`` for one channel.
    """
    logits = tf.cast(logits, tf.float32)
    return tf.concat([-logits, logits], axis=-1) if logits.shape[-1] == 1 else logits


def select_class(outputs: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
    """Selects one class channel per batch element.

    Args:
        outputs: float32 tensor of shape ``(n, height, width, classes)``.
        class_ids: int32 tensor of shape ``(n,)``.

    Returns:
        float32 tensor of shape ``(n, height, width)``: ``outputs[i, :, :, class_ids[i]]``.
    """
    one_hot = tf.one_hot(class_ids, depth=tf.shape(outputs)[-1], dtype=outputs.dtype)
    return tf.einsum("nhwc,nc->nhw", outputs, one_hot)


def masked_sum(values: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
    """``||R * values||_1`` for non-negative values, per batch element, shape ``(n,)``."""
    return tf.reduce_sum(values * masks, axis=[1, 2])


def request_score(class_maps: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
    """The request score ``S(x, R, c) = ||R * f_c(x)||_1 / ||R||_1`` of Sec. 3.2.

    Args:
        class_maps: float32 tensor ``f_c(x)`` of shape ``(n, height, width)``.
        masks: float32 request masks ``R`` of shape ``(n, height, width)``.

    Returns:
        float32 tensor of shape ``(n,)``; 0 for an empty request mask (no NaN).
    """
    return tf.math.divide_no_nan(masked_sum(class_maps, masks), tf.reduce_sum(masks, axis=[1, 2]))
