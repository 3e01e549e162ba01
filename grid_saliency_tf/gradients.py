"""Gradient baselines turned into grid and context saliency (Hoyer et al., NeurIPS 2019, Sec. 3.2).

Every method differentiates the request score ``S(x, R, c) = ||R * f_c(x)||_1 / ||R||_1``, giving
``G_grid(x, R, c) = dS/dx`` of shape ``(height, width, channels)``, and forms (Eq. 4):

* Vanilla Gradient (VG): ``sum over channels of G_grid(x)``;
* Integrated Gradients (IG, Sundararajan et al. 2017): ``sum over channels of (x - x') *
  1/n sum_{k=1..n} G_grid(x' + k/n (x - x'))``, 25 steps, baseline ``x' = 0``;
* SmoothGrad (SG, Smilkov et al. 2017): ``sum over channels of 1/n sum_k G_grid(x + eps_k)``,
  ``eps_k ~ N(0, sigma^2)``, 25 samples, ``sigma = 0.15 (max(x) - min(x))`` (supplement S1.2).

Eq. 4 as printed omits IG's factor ``(x - x')``; without it attributions lose IG's completeness
axiom. It is applied by default (``multiply_by_input=True``); ``False`` gives Eq. 4 as printed.

The context form (Eq. 5) keeps the saliency outside the request, ``(1 - R) * M_grid``. Maps are then
mean-pooled to the grid of the perturbation saliency with a ``(H_I/H_S) x (W_I/W_S)`` kernel and
stride (Sec. 3.2); when the image size is not a multiple of the grid, area resampling gives the
same region means. The common ``saliency`` field is the pooled map upsampled back to the image size
(nearest by default), the resolution at which grid saliency masks are compared (Sec. 4.2).

Absolute values (``absolute=True``, the default) are taken after the channel sum, before the
context mask and the pooling: CBD and CBL (Eq. 6, 7) are ratios of l1 norms that assume a
non-negative saliency, and signed gradients would cancel inside a pooling cell.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from grid_saliency_tf import forms, perturbations, scoring
from grid_saliency_tf.explainer import DEFAULT_MAX_REQUESTS_PER_CALL, Explainer, ExplanationResult
from grid_saliency_tf.forms import FORMS, NORMALIZATIONS
from grid_saliency_tf.requests import Requests
from grid_saliency_tf.validation import (check_bool, check_choice, check_grid_fits, check_int, check_number,
                                         check_pair, check_positive_int)

__all__ = [
    "FORMS",
    "NORMALIZATIONS",
    "GradientSaliencyResult",
    "GradientSaliency",
    "VanillaGradient",
    "IntegratedGradients",
    "SmoothGrad",
    "vanilla_gradient",
    "integrated_gradients",
    "smooth_grad",
    "pool_to_grid",
]


@dataclasses.dataclass(frozen=True)
class GradientSaliencyResult(ExplanationResult):
    """Gradient saliency for ``n`` requests.

    Attributes:
        saliency: float32 ``(n, height, width)``: ``grid_maps`` upsampled to the image size (the common
            field of every method).
        maps: float32 ``(n, height, width)``: the saliency at pixel resolution, after the channel sum,
            the absolute value (if chosen), the context mask (context form) and the normalisation.
        grid_maps: float32 ``(n, grid_height, grid_width)``: ``maps`` mean-pooled to the grid.
    """

    maps: np.ndarray
    grid_maps: np.ndarray


def pool_to_grid(maps: tf.Tensor, grid_shape: tuple[int, int]) -> tf.Tensor:
    """Mean-pools ``(n, height, width)`` maps to ``(n, grid_height, grid_width)`` (Sec. 3.2).

    With ``height`` and ``width`` multiples of the grid, this is average pooling with a
    ``(height / grid_height) x (width / grid_width)`` kernel and stride; otherwise area resampling.

    Args:
        maps: float32 ``(n, height, width)``.
        grid_shape: ``(grid_height, grid_width)``, at most ``(height, width)``.

    Returns:
        float32 ``(n, grid_height, grid_width)``.
    """
    height, width = int(maps.shape[1]), int(maps.shape[2])
    grid_height, grid_width = grid_shape
    if height % grid_height == 0 and width % grid_width == 0:
        kernel = (height // grid_height, width // grid_width)
        return tf.nn.avg_pool2d(maps[..., None], ksize=kernel, strides=kernel, padding="VALID")[..., 0]
    return tf.image.resize(maps[..., None], grid_shape, method="area")[..., 0]


class GradientSaliency(Explainer):
    """Base class of the gradient baselines: the request score, its input gradient and the forms.

    Subclasses implement :meth:`_attribution`, the per-channel attribution of shape
    ``(n, height, width, channels)`` built from :meth:`_score_gradient`.

    Args:
        model: Keras model or callable, images ``(batch, height, width, channels)`` to
            ``(batch, height, width, classes)``.
        form: ``"context"`` (Eq. 5) or ``"grid"`` (see :mod:`grid_saliency_tf.forms`).
        grid_shape: ``(grid_height, grid_width)`` of the pooled maps; 4 x 4 in the toy benchmark.
        absolute: Take the absolute value of the channel-summed attribution (see module docstring).
        normalize: ``"none"``, or ``"max"`` to divide each request's maps by the maximum of its pooled
            map so that ``grid_maps`` and ``saliency`` lie in [0, 1] (an all-zero map stays zero).
        upsampling: ``"nearest"`` or ``"bilinear"`` upsampling of ``grid_maps`` to ``saliency``.
        model_output: ``"probabilities"`` or ``"logits"`` (a softmax is applied; ``S`` uses
            probabilities as in the paper).
        max_requests_per_call: See :class:`~grid_saliency_tf.explainer.Explainer`.

    Raises:
        TypeError, ValueError: For an argument of the wrong type or out of range; the message names it.
    """

    result_type = GradientSaliencyResult

    def __init__(
        self,
        model: Callable[..., Any],
        *,
        form: str = "context",
        grid_shape: tuple[int, int] = (4, 4),
        absolute: bool = True,
        normalize: str = "none",
        upsampling: str = "nearest",
        model_output: str = "probabilities",
        max_requests_per_call: int | None = DEFAULT_MAX_REQUESTS_PER_CALL,
    ) -> None:
        super().__init__(model, model_output=model_output, max_requests_per_call=max_requests_per_call)
        self.form = check_choice("form", form, FORMS)
        self.grid_shape = check_pair("grid_shape", grid_shape, check_positive_int, "(grid_height, grid_width)")
        self.absolute = check_bool("absolute", absolute)
        self.normalize = check_choice("normalize", normalize, NORMALIZATIONS)
        self.upsampling = check_choice("upsampling", upsampling, perturbations.UPSAMPLING_METHODS)

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument but the model."""
        return {**super().get_config(), "form": self.form, "grid_shape": self.grid_shape,
                "absolute": self.absolute, "normalize": self.normalize, "upsampling": self.upsampling}

    def _check_image_size(self, image_hw: tuple[int, int]) -> None:
        check_grid_fits(self.grid_shape, image_hw)

    def _score_gradient(self, images: tf.Tensor, class_ids: tf.Tensor,
                        masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``G_grid(x, R, c) = dS(x, R, c)/dx`` for one image per request.

        Returns:
            ``(gradient, probabilities)``: ``(n, height, width, channels)`` and ``f(x)``
            ``(n, height_out, width_out, classes)`` of the same forward pass.
        """
        with tf.GradientTape() as tape:
            tape.watch(images)
            probabilities = self._score_output(images)
            scores = scoring.request_score(scoring.select_class(probabilities, class_ids), masks)
        return tape.gradient(scores, images), probabilities

    def _attribution(self, images: tf.Tensor, class_ids: tf.Tensor,
                     masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The per-channel attribution ``(n, height, width, channels)`` and ``f(x)`` of the images."""
        raise NotImplementedError

    def _explain_graph(self, request_images: tf.Tensor, class_ids: tf.Tensor,
                       masks: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        attribution, probabilities = self._attribution(request_images, class_ids, masks)
        maps = tf.reduce_sum(attribution, axis=-1)
        if self.absolute:
            maps = tf.abs(maps)
        maps = forms.apply_form(maps, masks, self.form)
        grid_maps = pool_to_grid(maps, self.grid_shape)
        if self.normalize == "max":
            maps, grid_maps = forms.divide_by_max(maps, grid_maps), forms.divide_by_max(grid_maps, grid_maps)
        size = (int(maps.shape[1]), int(maps.shape[2]))
        saliency = perturbations.upsample_mask(grid_maps, size, self.upsampling)
        return {"saliency": saliency, "maps": maps, "grid_maps": grid_maps}, probabilities


class VanillaGradient(GradientSaliency):
    """Vanilla Gradient (Simonyan et al. 2014) on the request score, Eq. 4 and 5.

    One forward and one backward pass per request: the forward pass is the model's output on the
    original images, which the checks of :mod:`grid_saliency_tf.graph_checks` reuse.
    """

    def _attribution(self, images: tf.Tensor, class_ids: tf.Tensor,
                     masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return self._score_gradient(images, class_ids, masks)


class IntegratedGradients(GradientSaliency):
    """Integrated Gradients (Sundararajan et al. 2017) on the request score, Eq. 4 and 5.

    The path integral is the right Riemann sum of Eq. 4, ``k = 1..n``; the steps run one after the
    other inside the compiled graph, each on the whole batch of requests, so memory does not grow
    with ``steps``. Step ``k = n`` is the original image, so its forward pass serves the checks.

    Args:
        model: See :class:`GradientSaliency`.
        steps: Number of interpolation steps ``n`` (25, supplement S1.2).
        baseline: Constant baseline ``x'`` in image units (0, the black image of Eq. 4).
        multiply_by_input: Multiply the averaged gradient by ``(x - x')`` (see module docstring).
        **kwargs: The arguments of :class:`GradientSaliency`.
    """

    def __init__(self, model: Callable[..., Any], *, steps: int = 25, baseline: float = 0.0,
                 multiply_by_input: bool = True, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.steps = check_positive_int("steps", steps)
        self.baseline = check_number("baseline", baseline)
        self.multiply_by_input = check_bool("multiply_by_input", multiply_by_input)

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument but the model."""
        return {**super().get_config(), "steps": self.steps, "baseline": self.baseline,
                "multiply_by_input": self.multiply_by_input}

    def _attribution(self, images: tf.Tensor, class_ids: tf.Tensor,
                     masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        baseline = tf.fill(tf.shape(images), self.baseline)
        difference = images - baseline
        total, probabilities = self._score_gradient(images, class_ids, masks)  # k = n: x' + (x - x') = x
        for k in tf.range(1, self.steps):
            alpha = tf.cast(k, tf.float32) / float(self.steps)
            total += self._score_gradient(baseline + alpha * difference, class_ids, masks)[0]
        average = total / float(self.steps)
        return (average * difference if self.multiply_by_input else average), probabilities


class SmoothGrad(GradientSaliency):
    """SmoothGrad (Smilkov et al. 2017) on the request score, Eq. 4 and 5.

    The ``samples`` noise patterns are drawn once per call from ``seed`` with a stateless generator
    and shared by all requests (each scaled by its own image's range), so that a request's result
    does not depend on the other requests in its batch. The checks need one forward pass of the
    original images besides the ``samples`` forward and backward passes.

    Args:
        model: See :class:`GradientSaliency`.
        samples: Number of noisy samples ``n`` (25, supplement S1.2).
        noise_level: ``sigma = noise_level * (max(x) - min(x))`` per image (0.15, S1.2); 0 gives VG.
        seed: Integer seed of the noise.
        **kwargs: The arguments of :class:`GradientSaliency`.
    """

    def __init__(self, model: Callable[..., Any], *, samples: int = 25, noise_level: float = 0.15,
                 seed: int = 0, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.samples = check_positive_int("samples", samples)
        self.noise_level = check_number("noise_level", noise_level, 0.0)
        self.seed = check_int("seed", seed, 0, 2 ** 31 - 1)

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument but the model."""
        return {**super().get_config(), "samples": self.samples, "noise_level": self.noise_level, "seed": self.seed}

    def _attribution(self, images: tf.Tensor, class_ids: tf.Tensor,
                     masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        value_span = tf.reduce_max(images, axis=[1, 2, 3]) - tf.reduce_min(images, axis=[1, 2, 3])
        sigma = tf.reshape(self.noise_level * value_span, [-1, 1, 1, 1])
        total = tf.zeros_like(images)
        for k in tf.range(self.samples):
            noise = tf.random.stateless_normal(tf.shape(images)[1:], seed=tf.stack([self.seed, k]))
            total += self._score_gradient(images + sigma * noise[None], class_ids, masks)[0]
        return total / float(self.samples), self._score_output(images)


def vanilla_gradient(model: Callable[..., Any], images: Any, requests: Requests | None = None,
                     **kwargs: Any) -> GradientSaliencyResult:
    """One-off :class:`VanillaGradient` explanation; build the class once to reuse its compiled graph."""
    return VanillaGradient(model, **kwargs).explain(images, requests)


def integrated_gradients(model: Callable[..., Any], images: Any, requests: Requests | None = None,
                         **kwargs: Any) -> GradientSaliencyResult:
    """One-off :class:`IntegratedGradients` explanation; build the class once to reuse its compiled graph."""
    return IntegratedGradients(model, **kwargs).explain(images, requests)


def smooth_grad(model: Callable[..., Any], images: Any, requests: Requests | None = None,
                **kwargs: Any) -> GradientSaliencyResult:
    """One-off :class:`SmoothGrad` explanation; build the class once to reuse its compiled graph."""
    return SmoothGrad(model, **kwargs).explain(images, requests)
