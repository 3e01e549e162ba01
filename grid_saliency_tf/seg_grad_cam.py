"""Seg-Grad-CAM (Vinogradova, Dibrov and Myers, 2020), Eq. 1 with the score of a pixel set.

Grad-CAM weights the feature maps ``A^k`` of a chosen layer by the spatial mean of the score's
gradient, ``alpha^k_c = 1/N sum_{u,v} d y^c / d A^k_uv``, and returns ``L^c = ReLU(sum_k alpha^k_c
A^k)``. Seg-Grad-CAM replaces the class logit ``y^c`` by ``sum_{(i,j) in M} y^c_ij``, the sum of the
class logits over a pixel set ``M`` of the output: one pixel, an object mask or the whole image. Here
``M`` is the request mask, so one compiled call explains a batch of requests; the heatmap is
upsampled (bilinearly by default) from the layer's resolution to the input size.

The common ``saliency`` field is the heatmap in the form and normalisation chosen, the options the
gradient methods share (:mod:`grid_saliency_tf.forms`): ``form="context"`` keeps it outside the
request, ``(1 - R) L^c`` (Eq. 5 of Hoyer et al., NeurIPS 2019), and ``normalize="max"`` divides it by its
maximum. A single-channel (sigmoid) model's logit ``z`` is read as the logits ``[-z, z]`` of two classes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from grid_saliency_tf import forms, perturbations, scoring
from grid_saliency_tf.explainer import DEFAULT_MAX_REQUESTS_PER_CALL, Explainer, ExplanationResult
from grid_saliency_tf.validation import check_choice, check_int

__all__ = ["SegGradCAM", "SegGradCAMResult", "pixel_mask", "whole_image_mask"]


@dataclasses.dataclass(frozen=True)
class SegGradCAMResult(ExplanationResult):
    """Seg-Grad-CAM heatmaps for ``n`` requests.

    Attributes:
        saliency: float32 ``(n, height, width)``: ``heatmaps`` in the form and normalisation chosen (the
            common field of every method).
        heatmaps: float32 ``(n, height, width)``: ``L^c`` upsampled to the input size, >= 0.
        layer_heatmaps: float32 ``(n, layer_height, layer_width)``: ``L^c`` at the layer's resolution.
        weights: float32 ``(n, channels)``: ``alpha^k_c`` for every feature map ``k``.
    """

    heatmaps: np.ndarray
    layer_heatmaps: np.ndarray
    weights: np.ndarray


def pixel_mask(output_shape: tuple[int, int], row: int, column: int) -> np.ndarray:
    """A pixel set ``M`` of one pixel, shape ``(height_out, width_out)``.

    Raises:
        ValueError: If ``(row, column)`` lies outside ``output_shape``.
    """
    height, width = output_shape
    check_int("row", row, 0, height - 1)
    check_int("column", column, 0, width - 1)
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


class SegGradCAM(Explainer):
    """Seg-Grad-CAM heatmaps for a batch of requests at any layer chosen by name.

    Args:
        model: A Keras functional model (its layers must be reachable by name from its inputs).
        layer_name: Name of the layer whose output feature maps ``A^k`` are weighted; the U-Net
            bottleneck in the paper.
        logits_layer: Name of the layer whose output are the logits ``y``. By default the model
            output if ``model_output="logits"``, or the input of a final Softmax layer.
        model_output: ``"probabilities"`` (the package-wide default) or ``"logits"``: what the model
            returns (checked on every call). Seg-Grad-CAM always differentiates logits, found as
            described for ``logits_layer``.
        upsampling: ``"bilinear"`` or ``"nearest"`` upsampling of ``L^c`` to the input size.
        form: ``"context"`` (``saliency`` is ``(1 - R) L^c``) or ``"grid"`` (``L^c``).
        normalize: ``"none"`` or ``"max"`` (``saliency`` divided by its maximum, in [0, 1]).
        max_requests_per_call: See :class:`~grid_saliency_tf.explainer.Explainer`.

    Raises:
        TypeError: If ``model`` is not a functional Keras model.
        ValueError: If ``layer_name`` or ``logits_layer`` is not a layer of the model, no logits can be
            found, or another argument is out of range.
    """

    result_type = SegGradCAMResult

    def __init__(self, model: keras.Model, layer_name: str, *, logits_layer: str | None = None,
                 model_output: str = "probabilities", upsampling: str = "bilinear", form: str = "context",
                 normalize: str = "none",
                 max_requests_per_call: int | None = DEFAULT_MAX_REQUESTS_PER_CALL) -> None:
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
        if logits_layer is not None and not isinstance(logits_layer, str):
            raise TypeError(f"Argument `logits_layer` must be a string or None; received {logits_layer!r}.")
        super().__init__(model, model_output=model_output, max_requests_per_call=max_requests_per_call)
        self.layer_name = layer_name
        self.logits_layer = logits_layer
        self.upsampling = check_choice("upsampling", upsampling, perturbations.UPSAMPLING_METHODS)
        self.form = check_choice("form", form, forms.FORMS)
        self.normalize = check_choice("normalize", normalize, forms.NORMALIZATIONS)
        features = _find_layer(model, layer_name).output
        logits = _logits_tensor(model, logits_layer, self.model_output)
        self._feature_model = keras.Model(model.inputs, [features, logits, model.outputs[0]])

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument but the model."""
        return {**super().get_config(), "layer_name": self.layer_name, "logits_layer": self.logits_layer,
                "upsampling": self.upsampling, "form": self.form, "normalize": self.normalize}

    def _score_output(self, images: tf.Tensor) -> tf.Tensor:
        """The class logits ``y`` ``(batch, height_out, width_out, classes)``: the requests index them."""
        return scoring.class_logits(self._feature_model(images, training=False)[1])

    def _explain_graph(self, request_images: tf.Tensor, class_ids: tf.Tensor,
                       masks: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        with tf.GradientTape() as tape:
            features, logits, outputs = self._feature_model(request_images, training=False)
            tape.watch(features)
            score = scoring.masked_sum(scoring.select_class(scoring.class_logits(logits), class_ids), masks)
        gradients = tape.gradient(score, features)
        weights = tf.reduce_mean(gradients, axis=[1, 2])
        layer_heatmaps = tf.nn.relu(tf.einsum("nhwk,nk->nhw", tf.cast(features, tf.float32), weights))
        size = (int(request_images.shape[1]), int(request_images.shape[2]))
        heatmaps = perturbations.upsample_mask(layer_heatmaps, size, self.upsampling)
        saliency = forms.apply_form(heatmaps, masks, self.form)
        if self.normalize == "max":
            saliency = forms.divide_by_max(saliency, saliency)
        probabilities = scoring.probabilities_from_output(tf.cast(outputs, tf.float32), self.model_output)
        results = {"saliency": saliency, "heatmaps": heatmaps, "layer_heatmaps": layer_heatmaps, "weights": weights}
        return results, probabilities
