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
same region means.

Absolute values (``absolute=True``, the default) are taken after the channel sum, before the
context mask and the pooling: CBD and CBL (Eq. 6, 7) are ratios of l1 norms that assume a
non-negative saliency, and signed gradients would cancel inside a pooling cell.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from grid_saliency_tf import perturbations, scoring
from grid_saliency_tf.inputs import concatenate_results, iterate_request_batches
from grid_saliency_tf.requests import Requests, check_requests_fit

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

#: ``"grid"``: ``M_grid``; ``"context"``: ``(1 - R) * M_grid`` (Eq. 5).
FORMS = ("context", "grid")
#: Per-request scaling of the maps: none, or division by the maximum of the pooled map.
NORMALIZATIONS = ("none", "max")


@dataclasses.dataclass(frozen=True)
class GradientSaliencyResult:
    """Gradient saliency for ``n`` requests.

    Attributes:
        maps: float32 ``(n, height, width)``: the saliency at image resolution, after the channel sum,
            the absolute value (if chosen) and the context mask (context form).
        grid_maps: float32 ``(n, grid_height, grid_width)``: ``maps`` mean-pooled to the grid.
    """

    maps: np.ndarray
    grid_maps: np.ndarray


def pool_to_grid(maps: tf.Tensor, grid_shape: tuple[int, int]) -> tf.Tensor:
    """Mean-pools ``(n, height, width)`` maps to ``(n, grid_height, grid_width)`` (Sec. 3.2).

    With ``height`` and ``width`` multiples of the grid, this is average pooling with a
    ``(height / grid_height) x (width / grid_width)`` kernel and stride; otherwise area resampling.
    """
    height, width = int(maps.shape[1]), int(maps.shape[2])
    grid_height, grid_width = grid_shape
    if height % grid_height == 0 and width % grid_width == 0:
        kernel = (height // grid_height, width // grid_width)
        return tf.nn.avg_pool2d(maps[..., None], ksize=kernel, strides=kernel, padding="VALID")[..., 0]
    return tf.image.resize(maps[..., None], grid_shape, method="area")[..., 0]


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Argument `{name}` must be an integer >= 1; received {value!r}.")
    return int(value)


class GradientSaliency:
    """Base class of the gradient baselines: the request score, its input gradient and the forms.

    Subclasses implement :meth:`_attribution`, the per-channel attribution of shape
    ``(n, height, width, channels)`` built from :meth:`_score_gradient`.

    Args:
        model: Keras model or callable, images ``(batch, height, width, channels)`` to
            ``(batch, height, width, classes)``.
        form: ``"context"`` (Eq. 5) or ``"grid"``.
        grid_shape: ``(grid_height, grid_width)`` of the pooled maps; 4 x 4 in the toy benchmark.
        absolute: Take the absolute value of the channel-summed attribution (see module docstring).
        normalize: ``"none"``, or ``"max"`` to divide each request's maps by the maximum of its pooled
            map so that values lie in [0, 1] (an all-zero map stays zero).
        model_output: ``"probabilities"`` or ``"logits"`` (a softmax is applied; ``S`` uses
            probabilities as in the paper).
    """

    def __init__(
        self,
        model: Callable[..., Any],
        *,
        form: str = "context",
        grid_shape: tuple[int, int] = (4, 4),
        absolute: bool = True,
        normalize: str = "none",
        model_output: str = "probabilities",
    ) -> None:
        self.model = scoring.check_model(model)
        if form not in FORMS:
            raise ValueError(f"Argument `form` must be one of {FORMS}; received {form!r}.")
        self.form = form
        if not isinstance(grid_shape, (tuple, list)) or len(grid_shape) != 2:
            raise ValueError(f"Argument `grid_shape` must be (grid_height, grid_width); received {grid_shape!r}.")
        self.grid_shape = (_check_positive_int("grid_shape[0]", grid_shape[0]),
                           _check_positive_int("grid_shape[1]", grid_shape[1]))
        if not isinstance(absolute, bool):
            raise TypeError(f"Argument `absolute` must be a bool; received {absolute!r}.")
        self.absolute = absolute
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"Argument `normalize` must be one of {NORMALIZATIONS}; received {normalize!r}.")
        self.normalize = normalize
        self.model_output = scoring.check_model_output_kind(model_output)
        self._forward_fn = tf.function(self._forward)
        self._explain_fn = tf.function(self._explain_graph)

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument but the model."""
        return {
            "form": self.form,
            "grid_shape": self.grid_shape,
            "absolute": self.absolute,
            "normalize": self.normalize,
            "model_output": self.model_output,
        }

    @property
    def tracing_count(self) -> int:
        """How often the compiled explanation has been traced."""
        return int(self._explain_fn.experimental_get_tracing_count())

    def explain(self, images: Any, requests: Requests | None = None) -> GradientSaliencyResult:
        """Computes the saliency of every request.

        Args:
            images: Images ``(batch, height, width, channels)`` (array or tensor), or a
                ``tf.data.Dataset`` as described in :mod:`grid_saliency_tf.inputs`.
            requests: ``n`` requests into ``images``; ``None`` for a dataset.

        Returns:
            A :class:`GradientSaliencyResult` with ``n`` entries.

        Raises:
            TypeError, ValueError: For bad images, model outputs or requests.
        """
        results = []
        for batch_images, batch_requests in iterate_request_batches(images, requests):
            check_requests_fit(batch_requests, batch_images, self._forward_fn(batch_images))
            maps, grid_maps = self._explain_fn(
                batch_images,
                tf.constant(batch_requests.image_indices),
                tf.constant(batch_requests.class_ids),
                tf.constant(batch_requests.masks),
            )
            results.append(GradientSaliencyResult(maps.numpy(), grid_maps.numpy()))
        return concatenate_results(results)

    def _forward(self, images: tf.Tensor) -> tf.Tensor:
        return scoring.class_probabilities(self.model, images, self.model_output)

    def _score_gradient(self, images: tf.Tensor, class_ids: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
        """``G_grid(x, R, c) = dS(x, R, c)/dx`` for one image per request, ``(n, height, width, channels)``."""
        with tf.GradientTape() as tape:
            tape.watch(images)
            scores = scoring.request_score(scoring.select_class(self._forward(images), class_ids), masks)
        return tape.gradient(scores, images)

    def _attribution(self, images: tf.Tensor, class_ids: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def _explain_graph(
        self, images: tf.Tensor, image_indices: tf.Tensor, class_ids: tf.Tensor, masks: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        request_images = tf.gather(images, image_indices)
        maps = tf.reduce_sum(self._attribution(request_images, class_ids, masks), axis=-1)
        if self.absolute:
            maps = tf.abs(maps)
        if self.form == "context":
            request_in = perturbations.resize_masks(masks, (int(maps.shape[1]), int(maps.shape[2])))
            maps = (1.0 - request_in) * maps
        grid_maps = pool_to_grid(maps, self.grid_shape)
        if self.normalize == "max":
            scale = tf.reduce_max(tf.abs(grid_maps), axis=[1, 2])
            maps = tf.math.divide_no_nan(maps, scale[:, None, None])
            grid_maps = tf.math.divide_no_nan(grid_maps, scale[:, None, None])
        return maps, grid_maps


class VanillaGradient(GradientSaliency):
    """Vanilla Gradient (Simonyan et al. 2014) on the request score, Eq. 4 and 5."""

    def _attribution(self, images: tf.Tensor, class_ids: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
        return self._score_gradient(images, class_ids, masks)


class IntegratedGradients(GradientSaliency):
    """Integrated Gradients (Sundararajan et al. 2017) on the request score, Eq. 4 and 5.

    The path integral is the right Riemann sum of Eq. 4, ``k = 1..n``; the steps run one after the
    other inside the compiled graph, each on the whole batch of requests, so memory does not grow
    with ``steps``.

    Args:
        model: See :class:`GradientSaliency`.
        steps: Number of interpolation steps ``n`` (25, supplement S1.2).
        baseline: Constant baseline ``x'`` in image units (0, the black image of Eq. 4).
        multiply_by_input: Multiply the averaged gradient by ``(x - x')`` (see module docstring).
        **kwargs: ``form``, ``grid_shape``, ``absolute``, ``normalize``, ``model_output``.
    """

    def __init__(self, model: Callable[..., Any], *, steps: int = 25, baseline: float = 0.0,
                 multiply_by_input: bool = True, **kwargs: Any) -> None:
        self.steps = _check_positive_int("steps", steps)
        if isinstance(baseline, bool) or not isinstance(baseline, (int, float)) or not np.isfinite(baseline):
            raise ValueError(f"Argument `baseline` must be a finite number; received {baseline!r}.")
        self.baseline = float(baseline)
        if not isinstance(multiply_by_input, bool):
            raise TypeError(f"Argument `multiply_by_input` must be a bool; received {multiply_by_input!r}.")
        self.multiply_by_input = multiply_by_input
        super().__init__(model, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "steps": self.steps, "baseline": self.baseline,
                "multiply_by_input": self.multiply_by_input}

    def _attribution(self, images: tf.Tensor, class_ids: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
        baseline = tf.fill(tf.shape(images), self.baseline)
        difference = images - baseline
        total = tf.zeros_like(images)
        for k in tf.range(1, self.steps + 1):
            alpha = tf.cast(k, tf.float32) / float(self.steps)
            total += self._score_gradient(baseline + alpha * difference, class_ids, masks)
        average = total / float(self.steps)
        return average * difference if self.multiply_by_input else average


class SmoothGrad(GradientSaliency):
    """SmoothGrad (Smilkov et al. 2017) on the request score, Eq. 4 and 5.

    The ``samples`` noise patterns are drawn once per call from ``seed`` with a stateless generator
    and shared by all requests (each scaled by its own image's range), so that a request's result
    does not depend on the other requests in its batch.

    Args:
        model: See :class:`GradientSaliency`.
        samples: Number of noisy samples ``n`` (25, supplement S1.2).
        noise_level: ``sigma = noise_level * (max(x) - min(x))`` per image (0.15, S1.2); 0 gives VG.
        seed: Integer seed of the noise.
        **kwargs: ``form``, ``grid_shape``, ``absolute``, ``normalize``, ``model_output``.
    """

    def __init__(self, model: Callable[..., Any], *, samples: int = 25, noise_level: float = 0.15,
                 seed: int = 0, **kwargs: Any) -> None:
        self.samples = _check_positive_int("samples", samples)
        if isinstance(noise_level, bool) or not isinstance(noise_level, (int, float)) or not (
                np.isfinite(noise_level) and noise_level >= 0):
            raise ValueError(f"Argument `noise_level` must be a finite number >= 0; received {noise_level!r}.")
        self.noise_level = float(noise_level)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"Argument `seed` must be an integer >= 0; received {seed!r}.")
        self.seed = int(seed)
        super().__init__(model, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "samples": self.samples, "noise_level": self.noise_level, "seed": self.seed}

    def _attribution(self, images: tf.Tensor, class_ids: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
        value_span = tf.reduce_max(images, axis=[1, 2, 3]) - tf.reduce_min(images, axis=[1, 2, 3])
        sigma = tf.reshape(self.noise_level * value_span, [-1, 1, 1, 1])
        total = tf.zeros_like(images)
        for k in tf.range(self.samples):
            noise = tf.random.stateless_normal(tf.shape(images)[1:], seed=tf.stack([self.seed, k]))
            total += self._score_gradient(images + sigma * noise[None], class_ids, masks)
        return total / float(self.samples)


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
