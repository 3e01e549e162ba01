"""Seg-Grad-CAM (Vinogradova, Dibrov and Myers, 2020), Eq. 1 with the score of a pixel set.

Grad-CAM weights the feature maps ``A^k`` of a chosen layer by the spatial mean of the score's
gradient, ``alpha^k_c = 1/N sum_{u,v} d y^c / d A^k_uv``, and returns ``L^c = ReLU(sum_k alpha^k_c
A^k)``. Seg-Grad-CAM replaces the class logit ``y^c`` by ``sum_{(i,j) in M} y^c_ij``, the sum of the
class logits over a pixel set ``M`` of the output: one pixel, an object mask or the whole image. Here
``M`` is the request mask, so one compiled call explains a batch of requests; the heatmap is
upsampled (bilinearly by default) from the layer's resolution to the input size.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from grid_saliency_tf import perturbations, scoring
from grid_saliency_tf.inputs import concatenate_results, iterate_request_batches
from grid_saliency_tf.requests import Requests, check_requests_fit

__all__ = ["SegGradCAM", "SegGradCAMResult", "pixel_mask", "whole_image_mask"]


@dataclasses.dataclass(frozen=True)
class SegGradCAMResult:
    """Seg-Grad-CAM heatmaps for ``n`` requests.

    Attributes:
        heatmaps: float32 ``(n, height, width)``: ``L^c`` upsampled to the input size, >= 0.
        layer_heatmaps: float32 ``(n, layer_height, layer_width)``: ``L^c`` at the layer's resolution.
        weights: float32 ``(n, channels)``: ``alpha^k_c`` for every feature map ``k``.
    """

    heatmaps: np.ndarray
    layer_heatmaps: np.ndarray
    weights: np.ndarray


def pixel_mask(output_shape: tuple[int, int], row: int, column: int) -> np.ndarray:
    """A pixel set ``M`` of one pixel, shape ``(height_out, width_out)``."""
    height, width = output_shape
    if not (0 <= row < height and 0 <= column < width):
        raise ValueError(f"Arguments `row`, `column` must lie inside {output_shape}; received ({row}, {column}).")
    mask = np.zeros((height, width), np.float32)
    mask[row, column] = 1.0
    return mask


def whole_image_mask(output_shape: tuple[int, int]) -> np.ndarray:
    """The pixel set ``M`` of all output pixels, shape ``(height_out, width_out)``."""
    return np.ones(tuple(output_shape), np.float32)


def _find_layer(model: keras.Model, name: str) -> keras.layers.Layer:
    try:
        return model.get_layer(name)
    except ValueError:
        names = [layer.name for layer in model.layers]
        raise ValueError(
            f"Argument `layer_name` must name a layer of the model; received {name!r}. "
            f"Available layers: {names}."
        ) from None


def _logits_tensor(model: keras.Model, logits_layer: str | None, model_output: str) -> Any:
    if logits_layer is not None:
        return _find_layer(model, logits_layer).output
    if model_output == "logits":
        return model.outputs[0]
    last = model.layers[-1]
    is_softmax = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and getattr(last.activation, "__name__", "") == "softmax"
    )
    if is_softmax:
        return last.input
    raise ValueError(
        "Argument `logits_layer` is required: the model returns probabilities "
        "(model_output='probabilities') and does not end in a separate Softmax/Activation('softmax') "
        "layer whose input could serve as logits; received logits_layer=None."
    )


class SegGradCAM:
    """Seg-Grad-CAM heatmaps for a batch of requests at any layer chosen by name.

    Args:
        model: A Keras functional model (its layers must be reachable by name from its inputs).
        layer_name: Name of the layer whose output feature maps ``A^k`` are weighted; the U-Net
            bottleneck in the paper.
        logits_layer: Name of the layer whose output are the logits ``y``. By default the model
            output if ``model_output="logits"``, or the input of a final Softmax layer.
        model_output: ``"probabilities"`` (the package-wide default) or ``"logits"``: what the model
            returns. Seg-Grad-CAM always differentiates logits, found as described for ``logits_layer``.
        upsampling: ``"bilinear"`` or ``"nearest"`` upsampling of ``L^c`` to the input size.

    Raises:
        TypeError: If ``model`` is not a functional Keras model.
        ValueError: If ``layer_name`` or ``logits_layer`` is not a layer of the model, or no logits
            can be found.
    """

    def __init__(self, model: keras.Model, layer_name: str, *, logits_layer: str | None = None,
                 model_output: str = "probabilities", upsampling: str = "bilinear") -> None:
        if not isinstance(model, keras.Model):
            raise TypeError(f"Argument `model` must be a Keras model; received {type(model).__name__}.")
        try:
            inputs = model.inputs
        except (AttributeError, ValueError):
            inputs = None
        if not inputs:
            raise TypeError(
                "Argument `model` must be a functional Keras model whose layers are reachable from its "
                f"inputs; received a {type(model).__name__} without symbolic inputs."
            )
        if not isinstance(layer_name, str):
            raise TypeError(f"Argument `layer_name` must be a string; received {layer_name!r}.")
        self.model = model
        self.layer_name = layer_name
        self.logits_layer = logits_layer
        self.model_output = scoring.check_model_output_kind(model_output)
        if upsampling not in perturbations.UPSAMPLING_METHODS:
            raise ValueError(
                f"Argument `upsampling` must be one of {perturbations.UPSAMPLING_METHODS}; received {upsampling!r}."
            )
        self.upsampling = upsampling
        features = _find_layer(model, layer_name).output
        logits = _logits_tensor(model, logits_layer, model_output)
        self._feature_model = keras.Model(model.inputs, [features, logits])
        self._explain_fn = tf.function(self._explain_graph)

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument but the model."""
        return {"layer_name": self.layer_name, "logits_layer": self.logits_layer,
                "model_output": self.model_output, "upsampling": self.upsampling}

    @property
    def tracing_count(self) -> int:
        """How often the compiled explanation has been traced."""
        return int(self._explain_fn.experimental_get_tracing_count())

    def explain(self, images: Any, requests: Requests | None = None) -> SegGradCAMResult:
        """Computes one heatmap per request; the request mask is the pixel set ``M``.

        Args:
            images: Images ``(batch, height, width, channels)`` or a ``tf.data.Dataset`` (see
                :mod:`grid_saliency_tf.inputs`).
            requests: ``n`` requests; masks at the logits' resolution.

        Returns:
            A :class:`SegGradCAMResult` with ``n`` entries.
        """
        results = []
        for batch_images, batch_requests in iterate_request_batches(images, requests):
            _, logits = self._feature_model(batch_images, training=False)
            check_requests_fit(batch_requests, batch_images, logits)
            tensors = self._explain_fn(
                batch_images,
                tf.constant(batch_requests.image_indices),
                tf.constant(batch_requests.class_ids),
                tf.constant(batch_requests.masks),
            )
            results.append(SegGradCAMResult(*(tensor.numpy() for tensor in tensors)))
        return concatenate_results(results)

    def _explain_graph(self, images: tf.Tensor, image_indices: tf.Tensor, class_ids: tf.Tensor,
                       masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        request_images = tf.gather(images, image_indices)
        with tf.GradientTape() as tape:
            features, logits = self._feature_model(request_images, training=False)
            tape.watch(features)
            score = scoring.masked_sum(scoring.select_class(tf.cast(logits, tf.float32), class_ids), masks)
        gradients = tape.gradient(score, features)
        weights = tf.reduce_mean(gradients, axis=[1, 2])
        layer_heatmaps = tf.nn.relu(tf.einsum("nhwk,nk->nhw", tf.cast(features, tf.float32), weights))
        heatmaps = perturbations.upsample_mask(
            layer_heatmaps, (int(images.shape[1]), int(images.shape[2])), self.upsampling
        )
        return heatmaps, layer_heatmaps, weights
