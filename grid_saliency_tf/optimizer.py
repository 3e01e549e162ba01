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

import copy
import dataclasses
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from grid_saliency_tf import graph_checks, perturbations, scoring
from grid_saliency_tf.explainer import DEFAULT_MAX_REQUESTS_PER_CALL, Explainer, ExplanationResult
from grid_saliency_tf.validation import (check_bool, check_choice, check_grid_fits, check_int, check_number,
                                         check_pair, check_positive_int)

__all__ = ["GridSaliencyOptimizer", "GridSaliencyResult", "MODES", "MASK_NORMS", "RUNTIME_PARAMETERS"]

#: Saliency forms: Eq. 2 ("grid") and Eq. 3 ("context").
MODES = ("context", "grid")
#: How ``||M||_1`` is taken over the low-resolution cells.
MASK_NORMS = ("sum", "mean")
#: Settings that enter the compiled optimisation as tensors: optimizers that differ only in these share one
#: trace when derived with :meth:`GridSaliencyOptimizer.with_parameters` (the parameters of Fig. S11).
RUNTIME_PARAMETERS = ("mask_weight", "learning_rate", "momentum", "initial_value")


@dataclasses.dataclass(frozen=True)
class GridSaliencyResult(ExplanationResult):
    """The outcome of :meth:`GridSaliencyOptimizer.explain` for ``n`` requests.

    Attributes:
        saliency: float32 ``(n, height, width)`` in [0, 1]: the saliency masks upsampled to the image size
            (the common field of every method; also available as ``masks``).
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
        empty_mask_loss: float32 ``(n,)``: the preservation loss of the empty mask ``M = 0`` with the chosen
            perturbation (all context removed): how much of its class score the request loses without
            context (supplement S3's context reliance); 0 for an empty request.
        perturbation_images: float32 ``(n, height, width, channels)``: the perturbation image ``a`` of
            every request (the chosen constant, the blurred image or the noise), in image units; only
            with ``return_perturbations=True``, else None. ``p(x, M) = x M + a (1 - M)`` (clipped to
            ``value_range``) and ``p(x, R)`` follow from it with :func:`~grid_saliency_tf.perturb`.
    """

    low_res_masks: np.ndarray
    total_loss: np.ndarray
    mask_loss: np.ndarray
    preservation_loss: np.ndarray
    perturbation_value: np.ndarray
    empty: np.ndarray
    converged: np.ndarray
    empty_request: np.ndarray
    empty_mask_loss: np.ndarray
    perturbation_images: np.ndarray | None = None

    @property
    def masks(self) -> np.ndarray:
        """float32 ``(n, height, width)``: the saliency masks, the same array as ``saliency``."""
        return self.saliency


class GridSaliencyOptimizer(Explainer):
    """Optimises grid (Eq. 2) or context (Eq. 3) saliency masks for a batch of requests.

    Settings are fixed at construction; data comes with :meth:`explain`. The whole optimisation (the
    choice of perturbation, every SGD step and the final empty-mask check) runs as one compiled
    ``tf.function``, built once per optimizer: a second call with the same shapes does not retrace. The
    settings of :data:`RUNTIME_PARAMETERS` (lambda, learning rate, momentum, initial value) are tensor
    arguments of that function, so :meth:`with_parameters` derives optimizers with other values that share
    it: a parameter sweep (supplement S1.6, Fig. S11) traces once.
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
            softmax (a sigmoid for one channel) must be applied; the losses are always computed on
            probabilities. Checked on every call (:mod:`grid_saliency_tf.graph_checks`).
        convergence_threshold: A request converges if its preservation loss is at most this (0.1).
        check_empty_mask: Replace the optimised mask by the empty one when the empty mask has a
            strictly lower total loss (S1.2).
        seed: Seed of the noise perturbation.
        return_perturbations: Also return the perturbation image of every request
            (``perturbation_images``, one image-sized float32 array per request: opt-in for memory).
        max_requests_per_call: See :class:`~grid_saliency_tf.explainer.Explainer`.

    Raises:
        TypeError, ValueError: For an argument of the wrong type or out of range; the message names it.
    """

    result_type = GridSaliencyResult

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
        perturbation_values: Sequence[float] = perturbations.CONSTANT_VALUES,
        value_range: tuple[float, float] = (0.0, 1.0),
        blur_sigma: float = 10.0,
        erosion_size: int = 3,
        mask_norm: str = "sum",
        model_output: str = "probabilities",
        convergence_threshold: float = 0.1,
        check_empty_mask: bool = True,
        seed: int = 0,
        return_perturbations: bool = False,
        max_requests_per_call: int | None = DEFAULT_MAX_REQUESTS_PER_CALL,
    ) -> None:
        super().__init__(model, model_output=model_output, max_requests_per_call=max_requests_per_call)
        self.grid_shape = check_pair("grid_shape", grid_shape, check_positive_int, "(grid_height, grid_width)")
        self.steps = check_int("steps", steps, 0)
        self._set_parameters(mask_weight=mask_weight, learning_rate=learning_rate, momentum=momentum,
                             initial_value=initial_value)
        self.clip_below = check_number("clip_below", clip_below, 0.0, 1.0)
        self.mode = check_choice("mode", mode, MODES)
        self.upsampling = check_choice("upsampling", upsampling, perturbations.UPSAMPLING_METHODS)
        self.perturbation = check_choice("perturbation", perturbation, perturbations.PERTURBATIONS)
        if not isinstance(perturbation_values, (tuple, list)) or not perturbation_values:
            raise ValueError("Argument `perturbation_values` must be a non-empty sequence of numbers; "
                             f"received {perturbation_values!r}.")
        self.perturbation_values = tuple(check_number("perturbation_values", v, 0.0, 1.0)
                                         for v in perturbation_values)
        low, high = check_pair("value_range", value_range, check_number, "(low, high)")
        if not low < high:
            raise ValueError(f"Argument `value_range` must satisfy low < high; received {value_range!r}.")
        self.value_range = (low, high)
        self.blur_sigma = check_number("blur_sigma", blur_sigma, 0.0, low_open=True)
        self.erosion_size = check_int("erosion_size", erosion_size, 1)
        if self.erosion_size % 2 == 0:
            raise ValueError(f"Argument `erosion_size` must be odd; received {erosion_size!r}.")
        self.mask_norm = check_choice("mask_norm", mask_norm, MASK_NORMS)
        self.convergence_threshold = check_number("convergence_threshold", convergence_threshold, 0.0)
        self.check_empty_mask = check_bool("check_empty_mask", check_empty_mask)
        self.seed = check_int("seed", seed, 0, 2 ** 31 - 1)
        self.return_perturbations = check_bool("return_perturbations", return_perturbations)

    def _set_parameters(self, *, mask_weight: float, learning_rate: float, momentum: float,
                        initial_value: float) -> None:
        self.mask_weight = check_number("mask_weight", mask_weight, 0.0)
        self.learning_rate = check_number("learning_rate", learning_rate, 0.0, low_open=True)
        self.momentum = check_number("momentum", momentum, 0.0, 1.0)
        self.initial_value = check_number("initial_value", initial_value, 0.0, 1.0)

    def with_parameters(self, **changes: float) -> "GridSaliencyOptimizer":
        """An optimizer with other runtime parameters that shares this one's compiled optimisation.

        The result equals ``GridSaliencyOptimizer(model, **{**self.get_config(), **changes})`` in every
        number, but explaining with it traces nothing new: the parameters are tensor arguments of the one
        compiled function (a Fig. S11 sweep, supplement S1.6, is one trace per input shape). This optimizer
        is not changed.

        Args:
            **changes: New values of parameters named in :data:`RUNTIME_PARAMETERS` (``mask_weight``,
                ``learning_rate``, ``momentum``, ``initial_value``), checked like the constructor's.

        Returns:
            The derived optimizer.

        Raises:
            TypeError, ValueError: For a parameter not in :data:`RUNTIME_PARAMETERS` (other settings change
                the graph: build a new optimizer) or a value of the wrong type or out of range.
        """
        for name, value in changes.items():
            if name not in RUNTIME_PARAMETERS:
                raise ValueError(f"Argument `{name}` must be among {RUNTIME_PARAMETERS} to change in `with_parameters` "
                                 f"(other settings change the graph: build a new optimizer); received {value!r}.")
        derived = copy.copy(self)
        derived._set_parameters(**{**{name: getattr(self, name) for name in RUNTIME_PARAMETERS}, **changes})
        return derived

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
            **super().get_config(),
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
            "convergence_threshold": self.convergence_threshold,
            "check_empty_mask": self.check_empty_mask,
            "seed": self.seed,
            "return_perturbations": self.return_perturbations,
        }

    # ------------------------------------------------------------------ hooks of the Explainer

    def _check_image_size(self, image_hw: tuple[int, int]) -> None:
        check_grid_fits(self.grid_shape, image_hw)

    def _image_checks(self, images: tf.Tensor) -> graph_checks.Checks:
        return {**graph_checks.finite_images_check(images), **graph_checks.value_range_check(images, self.value_range)}

    # ------------------------------------------------------------------ Eq. 2/3 and their optimisation

    def _runtime_settings(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in RUNTIME_PARAMETERS}

    def _mask_loss(self, low_res: tf.Tensor, mask_weight: tf.Tensor) -> tf.Tensor:
        reduce = tf.reduce_sum if self.mask_norm == "sum" else tf.reduce_mean
        return mask_weight * reduce(tf.abs(low_res), axis=[1, 2])

    def _preservation_loss(
        self, perturbed: tf.Tensor, class_ids: tf.Tensor, original: tf.Tensor, loss_masks: tf.Tensor
    ) -> tf.Tensor:
        """``||R * max(f_c(x) - f_c(p), 0)||_1 / ||R||_1`` of Eq. 2/3, shape ``(n,)``."""
        perturbed_maps = scoring.select_class(self._score_output(perturbed), class_ids)
        return scoring.request_score(tf.nn.relu(original - perturbed_maps), loss_masks)

    def _perturbation_base(
        self, images: tf.Tensor, request_masks_in: tf.Tensor, class_ids: tf.Tensor, original: tf.Tensor,
        loss_masks: tf.Tensor,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """Chooses the perturbation image of each request (supplement S1.2 for the constant one).

        Args:
            images: float32 ``(n, height, width, channels)``, the request images ``x``.
            request_masks_in: float32 ``(n, height, width)``, ``R`` at image resolution.
            class_ids: int32 ``(n,)``.
            original: float32 ``(n, height_out, width_out)``, ``f_c(x)``.
            loss_masks: float32 ``(n, height_out, width_out)``, the eroded ``R`` of the loss.

        Returns:
            ``(base, loss_at_empty, value, perturbation)``: ``base`` is ``p(x, R)`` (context) or ``a``
            (grid), broadcastable to ``(n, height, width, channels)``; ``loss_at_empty`` ``(n,)`` is the
            preservation loss at ``M = 0``; ``value`` ``(n,)`` is the chosen constant (or the mean of
            ``a``); ``perturbation`` is ``a``, broadcastable to ``(n, height, width, channels)``.
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
            return base_for(constant), tf.reduce_min(losses, axis=0), constant[:, 0, 0, 0], constant
        if self.perturbation == "blur":
            perturbation_image = perturbations.blurred_image(images, self.blur_sigma)
        else:
            perturbation_image = perturbations.noise_image(images.shape[1:], self.seed, self.value_range)
        base = base_for(perturbation_image)
        loss = self._preservation_loss(base, class_ids, original, loss_masks)
        value = tf.reduce_mean(perturbation_image + tf.zeros_like(images), axis=[1, 2, 3])
        return base, loss, value, perturbation_image

    def _explain_graph(self, request_images: tf.Tensor, class_ids: tf.Tensor, request_masks: tf.Tensor, *,
                       mask_weight: tf.Tensor, learning_rate: tf.Tensor, momentum: tf.Tensor,
                       initial_value: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """Optimises the masks of Eq. 2/3 for ``n`` requests; see :meth:`Explainer._explain_graph`.

        The float32 scalars ``mask_weight`` (lambda), ``learning_rate``, ``momentum`` and ``initial_value``
        are this optimizer's :data:`RUNTIME_PARAMETERS`, passed as tensors.
        """
        height, width = int(request_images.shape[1]), int(request_images.shape[2])
        probabilities = self._score_output(request_images)
        original = scoring.select_class(probabilities, class_ids)
        request_pixels = tf.reduce_sum(request_masks, axis=[1, 2])
        empty_request = request_pixels <= 0.0
        eroded = perturbations.erode_masks(request_masks, self.erosion_size)
        eroded_empty = tf.reduce_sum(eroded, axis=[1, 2]) <= 0.0
        loss_masks = tf.where(eroded_empty[:, None, None], request_masks, eroded)
        request_masks_in = perturbations.resize_masks(request_masks, (height, width))

        base, loss_at_empty, value, perturbation = self._perturbation_base(
            request_images, request_masks_in, class_ids, original, loss_masks
        )

        base = base + tf.zeros_like(request_images)
        kept = request_images - base  # p(x, M) = base + (x - base) * M, the same as Eq. 2/3

        def losses(low_res: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            full = perturbations.upsample_mask(low_res, (height, width), self.upsampling)
            perturbed = tf.clip_by_value(base + kept * full[..., None], *self.value_range)
            preservation = self._preservation_loss(perturbed, class_ids, original, loss_masks)
            return self._mask_loss(low_res, mask_weight), preservation

        n = tf.shape(request_images)[0]
        mask = tf.fill([n, *self.grid_shape], initial_value)
        velocity = tf.zeros_like(mask)
        for _ in tf.range(self.steps):
            with tf.GradientTape() as tape:
                tape.watch(mask)
                mask_loss, preservation = losses(mask)
                total = tf.reduce_sum(mask_loss + preservation)
            gradient = tape.gradient(total, mask)
            velocity = momentum * velocity - learning_rate * gradient
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
        results = {
            "saliency": perturbations.upsample_mask(mask, (height, width), self.upsampling),
            "low_res_masks": mask,
            "total_loss": total,
            "mask_loss": mask_loss,
            "preservation_loss": preservation,
            "perturbation_value": value,
            "empty": is_empty,
            "converged": (preservation <= self.convergence_threshold) & ~empty_request,
            "empty_request": empty_request,
            "empty_mask_loss": tf.where(empty_request, zero, loss_at_empty),
        }
        if self.return_perturbations:
            results["perturbation_images"] = perturbation + tf.zeros_like(request_images)
        return results, probabilities
