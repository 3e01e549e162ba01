"""The one scoring contract every method builds on: the model's class score inside a request mask.

Grid saliency (Eq. 2 and 3 of Hoyer et al., NeurIPS 2019) compares ``f_c`` on the original and the
perturbed image inside ``R``; the gradient baselines differentiate the request score
``S(x, R, c) = ||R * f_c(x)||_1 / ||R||_1`` (Sec. 3.2); Seg-Grad-CAM (Vinogradova et al., Eq. 1)
differentiates the sum of logits ``sum_{(i,j) in M} y^c_ij``. All of them go through the functions
below, so the model is called, the softmax applied and the class channel selected in one place.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import tensorflow as tf

__all__ = [
    "MODEL_OUTPUTS",
    "call_model",
    "class_probabilities",
    "select_class",
    "masked_sum",
    "request_score",
]

#: What a model may return: class probabilities (e.g. after a softmax) or unnormalised logits.
MODEL_OUTPUTS = ("probabilities", "logits")


def check_model_output_kind(model_output: str) -> str:
    """Validates the ``model_output`` argument shared by all explainers."""
    if model_output not in MODEL_OUTPUTS:
        raise ValueError(f"Argument `model_output` must be one of {MODEL_OUTPUTS}; received {model_output!r}.")
    return model_output


def check_model(model: Any) -> Callable[[tf.Tensor], tf.Tensor]:
    """Validates that ``model`` can be called on a batch of images."""
    if not callable(model):
        raise TypeError(f"Argument `model` must be callable (a Keras model or a function); received {type(model).__name__}.")
    return model


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


def class_probabilities(model: Callable[..., Any], images: tf.Tensor, model_output: str) -> tf.Tensor:
    """Returns the model's per-pixel class probabilities ``f(x)``.

    Args:
        model: The segmentation model (see :func:`call_model`).
        images: float32 tensor of shape ``(batch, height, width, channels)``.
        model_output: ``"probabilities"`` if the model already returns probabilities, ``"logits"`` if
            a softmax over the class axis must be applied.

    Returns:
        float32 tensor of shape ``(batch, height_out, width_out, classes)``.
    """
    output = call_model(model, images)
    if model_output == "logits":
        output = tf.nn.softmax(output, axis=-1)
    return output


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
