"""Perturbation-based grid and context saliency (Hoyer et al., NeurIPS 2019, Sec. 3.1).

For each request (image ``x``, class ``c``, request mask ``R``) a low-resolution mask ``M`` is
optimised so that the smallest part of the image keeps the prediction for ``c`` inside ``R``:

* grid saliency, Eq. 2: ``argmin_M  lambda ||M||_1 + ||R * max(f_c(x) - f_c(p(x, M)), 0)||_1 / ||R||_1``
* context saliency, Eq. 3: the same with ``p_context(x, R, M) = x * M + p(x, R) * (1 - M)``.

The optimisation follows supplement S1.2: SGD with momentum, the mask initialised at a constant
value, values below a threshold set to 0 and the mask kept in [0, 1] after every step, a constant
perturbation chosen per request among candidate grey values by its loss at ``M = 0``, the request mask
eroded for the preservation loss, and the empty mask kept when its loss is lower than the optimised
one. A request converges when its preservation loss is at most a threshold (supplement S2.1).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from grid_saliency_tf import perturbations, scoring
from grid_saliency_tf.inputs import concatenate_results, iterate_request_batches
from grid_saliency_tf.requests import Requests, check_requests_fit

__all__ = ["GridSaliencyOptimizer", "GridSaliencyResult", "MODES", "MASK_NORMS"]

#: Saliency forms: Eq. 2 ("grid") and Eq. 3 ("context").
MODES = ("context", "grid")
#: How ``||M||_1`` is taken over the low-resolution cells.
MASK_NORMS = ("sum", "mean")


@dataclasses.dataclass(frozen=True)
class GridSaliencyResult:
    """The outcome of :meth:`GridSaliencyOptimizer.explain` for ``n`` requests.

    Attributes:
        masks: float32 ``(n, height, width)``: the saliency masks upsampled to the image size.
        low_res_masks: float32 ``(n, grid_height, grid_width)``: the optimised masks.
        total_loss: float32 ``(n,)``: ``mask_loss + preservation_loss`` of the returned mask.
        mask_loss: float32 ``(n,)``: ``lambda * ||M||_1`` (sum or mean over cells).
        preservation_loss: float32 ``(n,)``: the second term of Eq. 2/3, in [0, 1] for probabilities.
        perturbation_value: float32 ``(n,)``: the constant perturbation ``a`` chosen for the request, in
            image units; for blur and noise perturbations, the mean of the perturbation image.
        empty: bool ``(n,)``: the returned mask is empty (all zero).
        converged: bool ``(n,)``: ``preservation_loss <= convergence_threshold`` (supplement S2.1);
            False for an empty request.
        empty_request: bool ``(n,)``: the request mask held no pixel; such a request gets a zero mask
            and zero losses.
    """

    masks: np.ndarray
    low_res_masks: np.ndarray
    total_loss: np.ndarray
    mask_loss: np.ndarray
    preservation_loss: np.ndarray
    perturbation_value: np.ndarray
    empty: np.ndarray
    converged: np.ndarray
    empty_request: np.ndarray


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"Argument `{name}` must be one of {tuple(choices)}; received {value!r}.")


def _check_number(name: str, value: Any, low: float | None = None, high: float | None = None,
                  low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Argument `{name}` must be a number; received {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"Argument `{name}` must be finite; received {value!r}.")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"Argument `{name}` must be {'>' if low_open else '>='} {low}; received {value!r}.")
    if high is not None and value > high:
        raise ValueError(f"Argument `{name}` must be <= {high}; received {value!r}.")
    return value


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"Argument `{name}` must be an integer >= {low}; received {value!r}.")
    return int(value)


class GridSaliencyOptimizer:
    """Optimises grid (Eq. 2) or context (Eq. 3) saliency masks for a batch of requests.

    Settings are fixed at construction; data comes with :meth:`explain`. The whole optimisation (the
    choice of perturbation, every SGD step and the final empty-mask check) runs as one compiled
    ``tf.function``, built once per optimizer: a second call with the same shapes does not retrace.
    Requests are optimised jointly but independently: the loss is the sum of per-request losses,
    each depending on its own mask only, so a request's result does not depend on its batch.

    The defaults are the toy-benchmark settings of the paper (Sec. 4.2, supplement S1.2). The
    Cityscapes settings (Sec. 5, supplement S2.1) are ``GridSaliencyOptimizer(model,
    **GridSaliencyOptimizer.cityscapes_defaults())``.

    Args:
        model: A Keras model or callable mapping float32 images ``(batch, height, width, channels)``
            to a dense prediction ``(batch, height_out, width_out, classes)``.
        grid_shape: ``(grid_height, grid_width)`` of the optimised mask; 4 x 4 in the toy benchmark.
        steps: Number of SGD steps (100).
        learning_rate: SGD learning rate (0.2).
        momentum: SGD momentum (0.5), Keras/PyTorch convention ``v <- momentum v - lr g; M <- M + v``.
        initial_value: Initial value of every mask cell (0.5).
        mask_weight: ``lambda`` of Eq. 2/3 (0.05).
        clip_below: After every step, mask values below this are set to 0 (0.2, supplement S1.2;
            supplement S2.1 words it "smaller than or equal to"; the difference has measure zero).
        mode: ``"context"`` (Eq. 3) or ``"grid"`` (Eq. 2).
        upsampling: ``"nearest"`` (toy, S1.2) or ``"bilinear"`` (Cityscapes, S2.1) upsampling of ``M``.
        perturbation: ``"constant"`` (the paper's choice), ``"blur"`` or ``"noise"`` (Sec. 3.1).
        perturbation_values: Candidate constant values as fractions of ``value_range``; each request
            takes the one with the lowest loss at ``M = 0`` (S1.2: {0, 0.25, 0.5, 0.75, 1.0}).
        value_range: ``(low, high)`` of the image space; the perturbed image is clipped to it. Use
            ``(0.0, 255.0)`` for images in 0..255.
        blur_sigma: Standard deviation in pixels of the blur perturbation.
        erosion_size: Size of the square kernel eroding ``R`` for the preservation loss (3, S1.2).
            When erosion removes a whole request mask, the uneroded mask is used.
        mask_norm: ``"sum"``: ``||M||_1`` summed over the low-resolution cells, the paper's l1 norm;
            ``"mean"``: divided by the number of cells, so that ``lambda`` does not depend on the
            grid size (e.g. lambda 0.05 with sum on 4 x 4 equals lambda 0.8 with mean).
        model_output: ``"probabilities"`` if the model returns class probabilities, ``"logits"`` if a
            softmax must be applied; the losses are always computed on probabilities.
        convergence_threshold: A request converges if its preservation loss is at most this (0.1).
        check_empty_mask: Replace the optimised mask by the empty one when the empty mask has a
            strictly lower total loss (S1.2).
        seed: Seed of the noise perturbation.

    Raises:
        TypeError, ValueError: For an argument of the wrong type or out of range; the message names it.
    """

    def __init__(
        self,
        model: Callable[..., Any],
        *,
        grid_shape: tuple[int, int] = (4, 4),
        steps: int = 100,
        learning_rate: float = 0.2,
        momentum: float = 0.5,
        initial_value: float = 0.5,
        mask_weight: float = 0.05,
        clip_below: float = 0.2,
        mode: str = "context",
        upsampling: str = "nearest",
        perturbation: str = "constant",
        perturbation_values: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
        value_range: tuple[float, float] = (0.0, 1.0),
        blur_sigma: float = 10.0,
        erosion_size: int = 3,
        mask_norm: str = "sum",
        model_output: str = "probabilities",
        convergence_threshold: float = 0.1,
        check_empty_mask: bool = True,
        seed: int = 0,
    ) -> None:
        self.model = scoring.check_model(model)
        if not isinstance(grid_shape, (tuple, list)) or len(grid_shape) != 2:
            raise ValueError(f"Argument `grid_shape` must be (grid_height, grid_width); received {grid_shape!r}.")
        self.grid_shape = (_check_int("grid_shape[0]", grid_shape[0], 1), _check_int("grid_shape[1]", grid_shape[1], 1))
        self.steps = _check_int("steps", steps, 0)
        self.learning_rate = _check_number("learning_rate", learning_rate, 0.0, low_open=True)
        self.momentum = _check_number("momentum", momentum, 0.0, 1.0)
        self.initial_value = _check_number("initial_value", initial_value, 0.0, 1.0)
        self.mask_weight = _check_number("mask_weight", mask_weight, 0.0)
        self.clip_below = _check_number("clip_below", clip_below, 0.0, 1.0)
        _check_choice("mode", mode, MODES)
        self.mode = mode
        _check_choice("upsampling", upsampling, perturbations.UPSAMPLING_METHODS)
        self.upsampling = upsampling
        _check_choice("perturbation", perturbation, perturbations.PERTURBATIONS)
        self.perturbation = perturbation
        values = tuple(perturbation_values) if isinstance(perturbation_values, (tuple, list)) else None
        if not values:
            raise ValueError(
                f"Argument `perturbation_values` must be a non-empty sequence of numbers; received {perturbation_values!r}."
            )
        self.perturbation_values = tuple(_check_number("perturbation_values", v, 0.0, 1.0) for v in values)
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(f"Argument `value_range` must be (low, high); received {value_range!r}.")
        low = _check_number("value_range[0]", value_range[0])
        high = _check_number("value_range[1]", value_range[1])
        if not low < high:
            raise ValueError(f"Argument `value_range` must satisfy low < high; received {value_range!r}.")
        self.value_range = (low, high)
        self.blur_sigma = _check_number("blur_sigma", blur_sigma, 0.0, low_open=True)
        self.erosion_size = _check_int("erosion_size", erosion_size, 1)
        if self.erosion_size % 2 == 0:
            raise ValueError(f"Argument `erosion_size` must be odd; received {erosion_size!r}.")
        _check_choice("mask_norm", mask_norm, MASK_NORMS)
        self.mask_norm = mask_norm
        self.model_output = scoring.check_model_output_kind(model_output)
        self.convergence_threshold = _check_number("convergence_threshold", convergence_threshold, 0.0)
        if not isinstance(check_empty_mask, bool):
            raise TypeError(f"Argument `check_empty_mask` must be a bool; received {check_empty_mask!r}.")
        self.check_empty_mask = check_empty_mask
        self.seed = _check_int("seed", seed, 0)
        self._forward_fn = tf.function(self._forward)
        self._optimize_fn = tf.function(self._optimize)

    @staticmethod
    def cityscapes_defaults() -> dict[str, Any]:
        """The Cityscapes settings of Sec. 5 and supplement S2.1, as constructor keyword arguments."""
        return {
            "grid_shape": (16, 32),
            "learning_rate": 1.0,
            "steps": 80,
            "mask_weight": 0.01,
            "upsampling": "bilinear",
        }

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument but the model, such that ``cls(model, **config)`` rebuilds it."""
        return {
            "grid_shape": self.grid_shape,
            "steps": self.steps,
            "learning_rate": self.learning_rate,
            "momentum": self.momentum,
            "initial_value": self.initial_value,
            "mask_weight": self.mask_weight,
            "clip_below": self.clip_below,
            "mode": self.mode,
            "upsampling": self.upsampling,
            "perturbation": self.perturbation,
            "perturbation_values": self.perturbation_values,
            "value_range": self.value_range,
            "blur_sigma": self.blur_sigma,
            "erosion_size": self.erosion_size,
            "mask_norm": self.mask_norm,
            "model_output": self.model_output,
            "convergence_threshold": self.convergence_threshold,
            "check_empty_mask": self.check_empty_mask,
            "seed": self.seed,
        }

    @property
    def tracing_count(self) -> int:
        """How often the compiled optimisation has been traced (for checking retracing)."""
        return int(self._optimize_fn.experimental_get_tracing_count())

    # ------------------------------------------------------------------ public API

    def explain(self, images: Any, requests: Requests | None = None) -> GridSaliencyResult:
        """Optimises one saliency mask per request.

        Args:
            images: float images ``(batch, height, width, channels)`` as an array or tensor, in
                ``value_range``; or a ``tf.data.Dataset`` of ``(images, request_masks, class_ids)``
                (see :mod:`grid_saliency_tf.inputs`), with ``requests=None``.
            requests: ``n`` requests into ``images``; masks at the model output resolution.

        Returns:
            A :class:`GridSaliencyResult` with ``n`` entries, in request order.

        Raises:
            TypeError, ValueError: For images with NaN/Inf, of the wrong rank or outside
                ``value_range``, a model whose output is not ``(batch, height, width, classes)``, or
                requests that do not fit the images or the model output.
        """
        results = [self._explain_batch(batch_images, batch_requests)
                   for batch_images, batch_requests in iterate_request_batches(images, requests)]
        return concatenate_results(results)

    def explain_tensors(
        self, images: tf.Tensor, image_indices: tf.Tensor, class_ids: tf.Tensor, masks: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        """The graph-compatible core of :meth:`explain`, usable inside ``tf.function`` or ``tf.data``.

        Inputs are not validated beyond TensorFlow's own checks (out-of-range indices raise
        ``InvalidArgumentError``; non-finite images are rejected with ``tf.debugging``).

        Args:
            images: float32 ``(batch, height, width, channels)``.
            image_indices: int32 ``(n,)``.
            class_ids: int32 ``(n,)``.
            masks: float32 ``(n, height_out, width_out)`` in {0, 1}.

        Returns:
            Dict of tensors keyed like the fields of :class:`GridSaliencyResult`.
        """
        images = tf.debugging.assert_all_finite(tf.cast(images, tf.float32), "Argument `images` holds NaN or Inf.")
        outputs = self._forward_fn(images)
        return self._optimize_fn(
            images, outputs, tf.cast(image_indices, tf.int32), tf.cast(class_ids, tf.int32), tf.cast(masks, tf.float32)
        )

    # ------------------------------------------------------------------ internals

    def _explain_batch(self, images: tf.Tensor, requests: Requests) -> GridSaliencyResult:
        low, high = float(tf.reduce_min(images)), float(tf.reduce_max(images))
        tolerance = 1e-6 * (self.value_range[1] - self.value_range[0])
        if low < self.value_range[0] - tolerance or high > self.value_range[1] + tolerance:
            raise ValueError(
                f"Argument `images` must lie in value_range={self.value_range} (perturbed images are clipped "
                f"to it); received values in [{low:g}, {high:g}]. Pass value_range=(0.0, 255.0) for 0..255 images."
            )
        outputs = self._forward_fn(images)
        check_requests_fit(requests, images, outputs)
        tensors = self._optimize_fn(
            images,
            outputs,
            tf.constant(requests.image_indices, tf.int32),
            tf.constant(requests.class_ids, tf.int32),
            tf.constant(requests.masks, tf.float32),
        )
        return GridSaliencyResult(**{key: value.numpy() for key, value in tensors.items()})

    def _forward(self, images: tf.Tensor) -> tf.Tensor:
        return scoring.class_probabilities(self.model, images, self.model_output)

    def _mask_loss(self, low_res: tf.Tensor) -> tf.Tensor:
        reduce = tf.reduce_sum if self.mask_norm == "sum" else tf.reduce_mean
        return self.mask_weight * reduce(tf.abs(low_res), axis=[1, 2])

    def _preservation_loss(
        self, perturbed: tf.Tensor, class_ids: tf.Tensor, original: tf.Tensor, loss_masks: tf.Tensor
    ) -> tf.Tensor:
        """``||R * max(f_c(x) - f_c(p), 0)||_1 / ||R||_1`` of Eq. 2/3, shape ``(n,)``."""
        perturbed_maps = scoring.select_class(self._forward(perturbed), class_ids)
        return scoring.request_score(tf.nn.relu(original - perturbed_maps), loss_masks)

    def _perturbation_base(
        self, images: tf.Tensor, request_masks_in: tf.Tensor, class_ids: tf.Tensor, original: tf.Tensor,
        loss_masks: tf.Tensor,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Chooses the perturbation image of each request.

        Returns:
            ``(base, loss_at_empty, value)``: ``base`` is ``p(x, R)`` (context) or ``a`` (grid),
            broadcastable to ``(n, height, width, channels)``; ``loss_at_empty`` ``(n,)`` is the
            preservation loss at ``M = 0``; ``value`` ``(n,)`` is the chosen constant (or mean).
        """
        n = tf.shape(images)[0]

        def base_for(perturbation_image: tf.Tensor) -> tf.Tensor:
            if self.mode == "context":
                return perturbations.perturb(images, request_masks_in, perturbation_image, self.value_range)
            return tf.clip_by_value(perturbation_image + tf.zeros_like(images), *self.value_range)

        if self.perturbation == "constant":
            candidates = tf.constant(self.perturbation_values, tf.float32)
            losses = []
            for index in range(len(self.perturbation_values)):
                constant = perturbations.constant_image(tf.fill([n], candidates[index]), self.value_range)
                losses.append(self._preservation_loss(base_for(constant), class_ids, original, loss_masks))
            losses = tf.stack(losses, axis=0)
            best = tf.argmin(losses, axis=0, output_type=tf.int32)
            chosen = tf.gather(candidates, best)
            constant = perturbations.constant_image(chosen, self.value_range)
            low, high = self.value_range
            return base_for(constant), tf.reduce_min(losses, axis=0), low + chosen * (high - low)
        if self.perturbation == "blur":
            perturbation_image = perturbations.blurred_image(images, self.blur_sigma)
        else:
            perturbation_image = perturbations.noise_image(images.shape[1:], self.seed, self.value_range)
        base = base_for(perturbation_image)
        loss = self._preservation_loss(base, class_ids, original, loss_masks)
        value = tf.reduce_mean(perturbation_image + tf.zeros_like(images), axis=[1, 2, 3])
        return base, loss, value

    def _optimize(
        self, images: tf.Tensor, outputs: tf.Tensor, image_indices: tf.Tensor, class_ids: tf.Tensor,
        request_masks: tf.Tensor,
    ) -> dict[str, tf.Tensor]:
        height, width = int(images.shape[1]), int(images.shape[2])
        request_images = tf.gather(images, image_indices)
        original = scoring.select_class(tf.gather(outputs, image_indices), class_ids)
        request_pixels = tf.reduce_sum(request_masks, axis=[1, 2])
        empty_request = request_pixels <= 0.0
        eroded = perturbations.erode_masks(request_masks, self.erosion_size)
        eroded_empty = tf.reduce_sum(eroded, axis=[1, 2]) <= 0.0
        loss_masks = tf.where(eroded_empty[:, None, None], request_masks, eroded)
        request_masks_in = perturbations.resize_masks(request_masks, (height, width))

        base, loss_at_empty, value = self._perturbation_base(
            request_images, request_masks_in, class_ids, original, loss_masks
        )

        base = base + tf.zeros_like(request_images)
        kept = request_images - base  # p(x, M) = base + (x - base) * M, the same as Eq. 2/3

        def losses(low_res: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            full = perturbations.upsample_mask(low_res, (height, width), self.upsampling)
            perturbed = tf.clip_by_value(base + kept * full[..., None], *self.value_range)
            return self._mask_loss(low_res), self._preservation_loss(perturbed, class_ids, original, loss_masks)

        n = tf.shape(request_images)[0]
        mask = tf.fill([n, *self.grid_shape], tf.constant(self.initial_value, tf.float32))
        velocity = tf.zeros_like(mask)
        for _ in tf.range(self.steps):
            with tf.GradientTape() as tape:
                tape.watch(mask)
                mask_loss, preservation = losses(mask)
                total = tf.reduce_sum(mask_loss + preservation)
            gradient = tape.gradient(total, mask)
            velocity = self.momentum * velocity - self.learning_rate * gradient
            mask = mask + velocity
            mask = tf.where(mask < self.clip_below, tf.zeros_like(mask), mask)
            mask = tf.clip_by_value(mask, 0.0, 1.0)

        mask_loss, preservation = losses(mask)
        total = mask_loss + preservation
        use_empty = empty_request
        if self.check_empty_mask:
            use_empty = use_empty | (loss_at_empty < total)
        keep = tf.cast(~use_empty, tf.float32)
        zero = tf.zeros_like(total)
        mask = mask * keep[:, None, None]
        preservation = tf.where(empty_request, zero, tf.where(use_empty, loss_at_empty, preservation))
        mask_loss = mask_loss * keep
        total = mask_loss + preservation
        is_empty = tf.reduce_max(mask, axis=[1, 2]) <= 0.0
        return {
            "masks": perturbations.upsample_mask(mask, (height, width), self.upsampling),
            "low_res_masks": mask,
            "total_loss": total,
            "mask_loss": mask_loss,
            "preservation_loss": preservation,
            "perturbation_value": value,
            "empty": is_empty,
            "converged": (preservation <= self.convergence_threshold) & ~empty_request,
            "empty_request": empty_request,
        }
