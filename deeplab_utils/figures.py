"""The figures of a DeepLab context explanation, built on :mod:`grid_saliency_tf.experiment.figures`.

- :func:`saliency_picture`: context saliency in red over the image, the request outlined in blue
  (Hoyer et al., NeurIPS 2019, Fig. 5 and S15);
- :func:`requests_picture`: the prediction in the label set's colours over the image, every request
  outlined;
- :func:`s13_panels` and :func:`panels_figure`: the intermediate results of supplement Fig. S13 (input,
  class softmax, the context-perturbed image and its softmax, the optimised image and its softmax, the
  saliency, the overlay). matplotlib is imported only when the panel figure is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from deeplab_utils.context_explanation import RequestExplanation
from deeplab_utils.labels import LabelSet
from deeplab_utils.settings import IMAGE_VALUE_RANGE
from grid_saliency_tf.experiment import overlay, panel_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["OUTLINE_WIDTH", "SALIENCY_OPACITY", "panels_figure", "requests_picture", "s13_panels",
           "saliency_picture"]

#: Opacity of red where the saliency is 1, and the request outline in pixels, at full image resolution.
SALIENCY_OPACITY = 0.75
OUTLINE_WIDTH = 2


def saliency_picture(image: np.ndarray, saliency: np.ndarray | None,
                     request_masks: np.ndarray | None) -> np.ndarray:
    """The image with context saliency in red and request outlines in blue (Fig. 5 and S15).

    Args:
        image: uint8 RGB ``(height, width, 3)``.
        saliency: float ``(height, width)`` in [0, 1] (the upsampled mask), or None for outlines only.
        request_masks: ``(height, width)`` or ``(n, height, width)`` masks, each outlined; or None.

    Returns:
        uint8 RGB ``(height, width, 3)``.

    Raises:
        ValueError: If the shapes do not match.
    """
    return overlay(image, saliency, request_masks, opacity=SALIENCY_OPACITY, outline_width=OUTLINE_WIDTH)


def requests_picture(image: np.ndarray, labels: np.ndarray, label_set: LabelSet,
                     request_masks: np.ndarray) -> np.ndarray:
    """The prediction blended half and half with the image, every request outlined in blue.

    Args:
        image: uint8 RGB ``(height, width, 3)``.
        labels: int ``(height, width)``, the predicted labels.
        label_set: Colours of the labels.
        request_masks: bool ``(n, height, width)``.

    Returns:
        uint8 RGB ``(height, width, 3)``.
    """
    blended = (0.5 * np.asarray(image, np.float32) + 0.5 * label_set.colorize(labels)).astype(np.uint8)
    return saliency_picture(blended, None, request_masks if len(request_masks) else None)


def s13_panels(image: np.ndarray, class_score: np.ndarray, explanation: RequestExplanation,
               request_mask: np.ndarray, class_name: str) -> list[tuple[str, np.ndarray]]:
    """The eight panels of supplement Fig. S13 for one request, as ``(title, array)`` pairs.

    Args:
        image: uint8 RGB ``(height, width, 3)``, the input ``x``.
        class_score: float ``(height, width)``: the class softmax of `image`.
        explanation: The request's explanation; its perturbation images are the optimiser's own.
        request_mask: bool ``(height, width)``: ``R``.
        class_name: For the titles.

    Returns:
        Panels (a)-(h): RGB arrays in 0..255 and maps in [0, 1].
    """
    return [
        ("(a) input", image),
        (f"(b) softmax {class_name}", class_score),
        ("(c) context perturbed p(x, R)", explanation.context_image),
        ("(d) softmax of (c)", explanation.context_score),
        ("(e) optimised image", explanation.optimised_image),
        ("(f) softmax of (e)", explanation.optimised_score),
        ("(g) context saliency", explanation.saliency),
        ("(h) saliency and request", saliency_picture(image, explanation.saliency, request_mask)),
    ]


def panels_figure(panels: list[tuple[str, np.ndarray]], title: str) -> Figure:
    """The panels of :func:`s13_panels` as a matplotlib figure, four per row (save with ``save_figure``)."""
    return panel_figure(panels, columns=4, title=title, value_range=IMAGE_VALUE_RANGE)
