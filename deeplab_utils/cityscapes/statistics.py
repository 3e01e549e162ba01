"""Saliency-weighted ground-truth label histograms of the context (Sec. 5 of Hoyer et al., NeurIPS 2019).

"For each image and semantic class we compute the weighted label distribution of context salient
pixels. The weight of each pixel is given by the computed saliency intensity at said pixel and its
context class label is taken from the ground truth segmentation. For each requested object class, we
group by label across all images and sum the saliency values within each group. [...] We normalize
the results by the sum of all saliency values across all classes and images."

A histogram here has :data:`NUM_BINS` = 20 entries: the 19 train ids, then the ignored pixels (ground
truth 255), kept apart so that the aggregation can leave them out of the normalisation (the default) or
count them. The saliency ``M`` is the engine's full-resolution mask (bilinearly upsampled, S2.1).

Choices the paper leaves open (docs/cityscapes.md), each an argument:

- which pixels are context (`context`): all but the request's own pixels (default), or all;
- how several instances of one image combine: their histograms are summed (``"sum"``, each instance
  adds its saliency), or their saliency maps are combined by a pixel-wise maximum first (``"max"``,
  overlapping context counted once; context is then outside every counted request of the group). Both
  are computed per image, so the aggregation can pick either from the records alone.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from deeplab_utils.cityscapes.baseline import baseline_ring
from deeplab_utils.cityscapes.protocol import CONTEXTS
from deeplab_utils.labels import CITYSCAPES

if TYPE_CHECKING:
    from deeplab_utils.cityscapes.queue import ImageWork

__all__ = ["NUM_BINS", "IGNORED_BIN", "IGNORED_MODES", "label_histogram", "GroupHistograms",
           "group_histograms", "image_histograms", "normalise"]

NUM_CLASSES = CITYSCAPES.num_classes
#: 19 train ids and one bin for ignored ground truth.
NUM_BINS = NUM_CLASSES + 1
IGNORED_BIN = NUM_CLASSES
#: Whether ignored ground truth is left out of the normalisation or counted in it.
IGNORED_MODES = ("exclude", "include")


def _bins(ground_truth: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """The histogram bin of every pixel, ``(height * width,)``: its class, or the ignored bin `num_classes`."""
    labels = np.asarray(ground_truth)
    return np.where((labels >= 0) & (labels < num_classes), labels, num_classes).astype(np.intp).ravel()


def _weighted(bins: np.ndarray, weights: np.ndarray | None, where: np.ndarray | None,
              num_bins: int = NUM_BINS) -> np.ndarray:
    """``bincount`` of the bins of the pixels in `where` with non-zero weight (zeros add nothing; the
    saliency is zero on most pixels, so this sums far fewer values)."""
    keep = np.ones(bins.size, bool) if where is None else np.asarray(where, bool).ravel()
    if weights is None:
        return np.bincount(bins[keep], minlength=num_bins).astype(np.float64)
    weights = np.asarray(weights).ravel()
    keep = keep & (weights != 0)
    return np.bincount(bins[keep], weights=weights[keep].astype(np.float64), minlength=num_bins).astype(np.float64)


def label_histogram(ground_truth: np.ndarray, weights: np.ndarray | None = None,
                    where: np.ndarray | None = None, *, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Sum of `weights` per ground-truth label over the pixels in `where`.

    Args:
        ground_truth: int ``(height, width)``: classes ``0..num_classes - 1`` (Cityscapes: train ids
            0..18), anything else is ignored.
        weights: float ``(height, width)`` (the saliency); None for 1 per pixel.
        where: bool ``(height, width)``: the pixels that count; None for all.
        num_classes: Context classes of the label map (19 for Cityscapes; COCO: things and stuff).

    Returns:
        float64 ``(num_classes + 1,)``: the classes, then the ignored pixels.
    """
    return _weighted(_bins(ground_truth, num_classes), weights, where, num_classes + 1)


@dataclasses.dataclass(frozen=True)
class GroupHistograms:
    """The histograms of one request group in one image.

    Attributes:
        requests: float64 ``(n, 20)``: per request, its saliency over its context.
        combined_max: float64 ``(20,)``: the pixel-wise maximum of the counted requests' saliencies over
            the context of all of them; zeros when none counted.
        baseline: float64 ``(20,)``: pixels of the dilation ring of all kept instances (S2.1).
        baseline_counted: float64 ``(20,)``: the same for the counted instances only.
        baseline_pixels: Pixels of the ring of all kept instances.
    """

    requests: np.ndarray
    combined_max: np.ndarray
    baseline: np.ndarray
    baseline_counted: np.ndarray
    baseline_pixels: int


def group_histograms(ground_truth: np.ndarray, masks: np.ndarray, saliency: np.ndarray, counted: np.ndarray, *,
                     context: str, baseline_budget: int, baseline_sharing: str,
                     num_classes: int = NUM_CLASSES) -> GroupHistograms:
    """Every histogram of one group in one image.

    Args:
        ground_truth: uint8 ``(height, width)`` train ids (255 ignored).
        masks: bool ``(n, height, width)``: the requests (un-eroded).
        saliency: float ``(n, height, width)``: the full-resolution saliency of each request.
        counted: bool ``(n,)``: which requests count (non-empty, converged).
        context: ``"outside_request"`` or ``"everywhere"``.
        baseline_budget: Ring pixels in pixels of this image.
        baseline_sharing: ``"radius"`` or ``"equal"`` (:func:`~deeplab_utils.cityscapes.baseline.baseline_ring`).
        num_classes: Context classes of `ground_truth`; histograms have ``num_classes + 1`` bins.

    Returns:
        The group's :class:`GroupHistograms`.

    Raises:
        ValueError: For an unknown `context` or arrays of mismatched shapes.
    """
    if context not in CONTEXTS:
        raise ValueError(f"Argument `context` must be one of {CONTEXTS}; received {context!r}.")
    masks, counted = np.asarray(masks, bool), np.asarray(counted, bool)
    saliency = np.asarray(saliency)
    if masks.ndim != 3 or saliency.shape != masks.shape or counted.shape != masks.shape[:1] \
            or masks.shape[1:] != np.shape(ground_truth):
        raise ValueError(f"Arguments `masks`, `saliency`, `counted` and `ground_truth` must have shapes "
                         f"(n, h, w), (n, h, w), (n,) and (h, w); received {masks.shape}, {saliency.shape}, "
                         f"{counted.shape} and {np.shape(ground_truth)}.")
    everywhere = np.ones(masks.shape[1:], bool)

    def context_of(request_masks: np.ndarray) -> np.ndarray:
        return everywhere if context == "everywhere" else ~request_masks.any(axis=0)

    bins, num_bins = _bins(ground_truth, num_classes), num_classes + 1  # once per group, not per request
    per_request = np.zeros((masks.shape[0], num_bins))
    for index in range(masks.shape[0]):
        per_request[index] = _weighted(bins, saliency[index], context_of(masks[index][None]), num_bins)
    combined = np.zeros(num_bins)
    if counted.any():
        combined = _weighted(bins, saliency[counted].max(axis=0), context_of(masks[counted]), num_bins)
    ring = baseline_ring(masks, baseline_budget, sharing=baseline_sharing)
    ring_counted = ring if counted.all() else baseline_ring(masks[counted], baseline_budget, sharing=baseline_sharing)
    return GroupHistograms(per_request, combined, _weighted(bins, None, ring, num_bins),
                           _weighted(bins, None, ring_counted, num_bins), int(ring.sum()))


def image_histograms(work: ImageWork, protocol: Any, *, num_classes: int = NUM_CLASSES,
                     ) -> list[tuple[list[dict[str, Any]], np.ndarray, np.ndarray, GroupHistograms]]:
    """The histograms of every group of an explained image (what both jobs record per image).

    Args:
        work: An image whose requests are all explained (:class:`~deeplab_utils.cityscapes.queue.ImageWork`).
        protocol: Gives ``context``, ``baseline_sharing``, ``baseline_pixels`` and ``pixels(count, shape)``
            (the Cityscapes or the COCO protocol).
        num_classes: Context classes of ``work.ground_truth``.

    Returns:
        Per group: ``(results, saliency, counted)`` of :meth:`ImageWork.group_results` (saliency float
        ``(n, height, width)``, counted bool ``(n,)``) and the group's :class:`GroupHistograms`, with the
        baseline budget scaled to the image.
    """
    budget = protocol.pixels(protocol.baseline_pixels, work.prediction.shape)
    explained = []
    for g, group in enumerate(work.groups):
        results, saliency, counted = work.group_results(g)
        explained.append((results, saliency, counted, group_histograms(
            work.ground_truth, group.requests.masks, saliency, counted, context=protocol.context,
            baseline_budget=budget, baseline_sharing=protocol.baseline_sharing, num_classes=num_classes)))
    return explained


def normalise(histogram: np.ndarray, ignored: str = "exclude", *,
              num_classes: int = NUM_CLASSES) -> tuple[np.ndarray, float]:
    """A summed histogram as a distribution over the `num_classes` classes (19 for Cityscapes).

    Args:
        histogram: ``(num_classes + 1,)`` sums (the classes, then ignored).
        ignored: ``"exclude"``: divide by the mass on the 19 classes (rows sum to 1); ``"include"``:
            divide by all mass, ignored pixels included (rows sum to at most 1).

        num_classes: Context classes of the histogram.

    Returns:
        ``(distribution, total)``: float64 ``(num_classes,)`` and the divisor; the distribution is all zeros
        when the divisor is 0 (no saliency at all).

    Raises:
        ValueError: For an unknown `ignored` mode or a histogram that is not ``(num_classes + 1,)``.
    """
    if ignored not in IGNORED_MODES:
        raise ValueError(f"Argument `ignored` must be one of {IGNORED_MODES}; received {ignored!r}.")
    histogram = np.asarray(histogram, np.float64)
    if histogram.shape != (num_classes + 1,):
        raise ValueError(f"Argument `histogram` must have shape ({num_classes + 1},); received {histogram.shape}.")
    total = float(histogram.sum() if ignored == "include" else histogram[:num_classes].sum())
    if total <= 0.0:
        return np.zeros(num_classes), 0.0
    return histogram[:num_classes] / total, total
