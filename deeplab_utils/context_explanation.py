"""Context explanations of a DeepLab prediction, computed without touching a file (Sec. 5, S2-S3).

:func:`predict_requests` predicts one image and builds the requests of a class (supplement S2.1);
:func:`explain_requests` optimises context saliency (Hoyer et al., NeurIPS 2019, Eq. 3) for a batch of
them and returns, per request, the saliency and the intermediate images of supplement Fig. S13: the
perturbation image ``a`` the optimiser used, the context-perturbed image ``p(x, R) = x R + a (1 - R)``,
the optimised image ``p_context(x, R, M*) = x M* + p(x, R) (1 - M*)`` and the class softmax of both.
Both functions are pure: same inputs, same outputs, no I/O.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import tensorflow as tf

from deeplab_utils.model import DeepLabModel
from deeplab_utils.requests import RequestMasks, build_request_masks, scaled_min_size
from deeplab_utils.settings import IMAGE_VALUE_RANGE, ExplainSettings
from grid_saliency_tf import GridSaliencyOptimizer, Requests, perturb

__all__ = ["ImagePrediction", "RequestExplanation", "SaliencyOutcome", "explain_requests", "predict_requests"]


@dataclasses.dataclass(frozen=True)
class ImagePrediction:
    """The model's prediction of one image and the requests of the explained class.

    Attributes:
        probabilities: float32 ``(height, width, classes)``, the softmax of the logits.
        labels: int ``(height, width)``, their argmax.
        parity_mismatches: Pixels where `labels` differ from the graph's ``SemanticPredictions``; None
            when not checked.
        min_size: The request threshold in pixels of this image.
        requests: The request masks of the class.
    """

    probabilities: np.ndarray
    labels: np.ndarray
    parity_mismatches: int | None
    min_size: int
    requests: RequestMasks


@dataclasses.dataclass(frozen=True)
class SaliencyOutcome:
    """The losses and state of one request's optimised mask (Eq. 3, supplement S2.1).

    Attributes:
        total_loss: ``mask_loss + preservation_loss`` of the returned mask.
        mask_loss: ``lambda * ||M||_1``.
        preservation_loss: The second term of Eq. 3, in [0, 1].
        perturbation_value: The constant perturbation chosen (image units; the mean of ``a`` for blur
            and noise).
        converged: ``preservation_loss <= 0.1`` (supplement S2.1).
        empty: The returned mask is all zero.
    """

    total_loss: float
    mask_loss: float
    preservation_loss: float
    perturbation_value: float
    converged: bool
    empty: bool


@dataclasses.dataclass(frozen=True)
class RequestExplanation:
    """Context saliency of one request and the images of supplement Fig. S13.

    Attributes:
        saliency: float32 ``(height, width)`` in [0, 1]: the upsampled mask ``M*``.
        low_res_saliency: float32 ``(grid_height, grid_width)``: the optimised mask.
        outcome: Its losses and state.
        perturbation_image: float32 ``(height, width, 3)``: ``a``, as returned by the optimiser.
        context_image: float32 ``(height, width, 3)``: ``p(x, R)``.
        optimised_image: float32 ``(height, width, 3)``: ``p_context(x, R, M*)``.
        context_score: float32 ``(height, width)``: class softmax of `context_image`.
        optimised_score: float32 ``(height, width)``: class softmax of `optimised_image`.
        seconds: Wall time per request of its batch.
    """

    saliency: np.ndarray
    low_res_saliency: np.ndarray
    outcome: SaliencyOutcome
    perturbation_image: np.ndarray
    context_image: np.ndarray
    optimised_image: np.ndarray
    context_score: np.ndarray
    optimised_score: np.ndarray
    seconds: float


def predict_requests(model: DeepLabModel, image: np.ndarray, class_id: int,
                     settings: ExplainSettings) -> ImagePrediction:
    """Predicts `image` and builds the requests of `class_id` (supplement S2.1).

    Args:
        model: The model.
        image: uint8 RGB ``(height, width, 3)``, at most the crop size.
        class_id: The class to explain.
        settings: Request mode, minimum size (scaled by image area if asked) and the parity check.

    Returns:
        The prediction and its requests.
    """
    probabilities = model(image[None].astype(np.float32)).numpy()[0]
    labels = probabilities.argmax(-1)
    parity = None
    if settings.check_parity:
        parity = int(np.count_nonzero(model.semantic_predictions(image) != labels))
    min_size = (scaled_min_size(settings.min_size, labels.shape) if settings.scale_min_size
                else int(settings.min_size))
    requests = build_request_masks(labels, class_id, mode=settings.request_mode, min_size=min_size)
    return ImagePrediction(probabilities, labels, parity, min_size, requests)


def explain_requests(model: DeepLabModel, optimizer: GridSaliencyOptimizer, image: np.ndarray,
                     class_id: int, request_masks: np.ndarray) -> list[RequestExplanation]:
    """Optimises context saliency (Eq. 3) for requests into one image, optimised together.

    Args:
        model: The model `optimizer` explains.
        optimizer: A context-mode optimiser for images in 0..255 built with ``return_perturbations=True``:
            the figures show the perturbation images it used, whatever the perturbation.
        image: uint8 RGB ``(height, width, 3)``.
        class_id: The class of every request.
        request_masks: bool ``(n, height, width)``.

    Returns:
        One explanation per request, in order.

    Raises:
        ValueError: If `optimizer` does not return its perturbation images.
    """
    if not optimizer.return_perturbations:
        raise ValueError("Argument `optimizer` must be built with return_perturbations=True; received one "
                         "built with return_perturbations=False.")
    started = time.perf_counter()
    images = image[None].astype(np.float32)
    count = len(request_masks)
    masks = np.asarray(request_masks, np.float32)
    result = optimizer.explain(images, Requests(np.zeros(count, np.int32), np.full(count, class_id, np.int32),
                                                masks))
    repeated = tf.repeat(tf.constant(images), count, axis=0)
    perturbation_images = tf.constant(result.perturbation_images, tf.float32)
    context_images = perturb(repeated, tf.constant(masks), perturbation_images, IMAGE_VALUE_RANGE)
    optimised_images = perturb(repeated, tf.constant(result.saliency), context_images, IMAGE_VALUE_RANGE)
    scores = model(tf.concat([context_images, optimised_images], 0)).numpy()[..., class_id]
    seconds = (time.perf_counter() - started) / count
    return [
        RequestExplanation(
            saliency=result.saliency[k], low_res_saliency=result.low_res_masks[k],
            outcome=SaliencyOutcome(
                total_loss=float(result.total_loss[k]), mask_loss=float(result.mask_loss[k]),
                preservation_loss=float(result.preservation_loss[k]),
                perturbation_value=float(result.perturbation_value[k]),
                converged=bool(result.converged[k]), empty=bool(result.empty[k])),
            perturbation_image=perturbation_images[k].numpy(),
            context_image=context_images[k].numpy(), optimised_image=optimised_images[k].numpy(),
            context_score=scores[k], optimised_score=scores[count + k], seconds=seconds,
        )
        for k in range(count)
    ]
