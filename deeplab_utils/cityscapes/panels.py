"""The intermediate panels of supplement Fig. S13 for one request, drawn with OpenCV (no matplotlib).

(a) the input frame, (b) the softmax score of the requested class, (c) the image with perturbed
context ``p(x, R)`` (the chosen constant outside ``R``), (d) the softmax score on (c), (e) the optimised
image ``p_context(x, R, M*)`` of Eq. 3, (f) the softmax score on (e), (g) the grid saliency ``M*``, and
(h) the baseline's fixed contour dilation (S2.1) around the request. Score maps and the saliency use the
jet colour map on [0, 1].
"""

from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np
import tensorflow as tf

from grid_saliency_tf import perturb
from grid_saliency_tf.experiment import figures
from grid_saliency_tf.scoring import class_probabilities

__all__ = ["s13_panels", "color_map", "ring_overlay", "shrink"]

_VALUE_RANGE = (0.0, 255.0)


def color_map(values: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(height, width, 3)`` of values in [0, 1] ``(height, width)`` in the jet colour map."""
    scaled = np.rint(np.clip(np.asarray(values, np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def ring_overlay(image: np.ndarray, ring: np.ndarray, request_mask: np.ndarray) -> np.ndarray:
    """The image with the baseline ring in red (opaque at 60 %) and the request outlined in blue."""
    return figures.overlay(image, np.asarray(ring, np.float32), request_mask, opacity=0.6)


def shrink(picture: np.ndarray, width: int) -> np.ndarray:
    """`picture` shrunk to `width` columns (aspect kept) if it is wider; else itself."""
    if picture.shape[1] <= width:
        return picture
    height = max(1, round(picture.shape[0] * width / picture.shape[1]))
    return cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)


def s13_panels(model: Callable[..., Any], image: np.ndarray, request_mask: np.ndarray, class_id: int,
               saliency: np.ndarray, perturbation_value: float, ring: np.ndarray, *,
               model_output: str = "probabilities", title: str | None = None, panel_width: int = 512) -> np.ndarray:
    """Fig. S13 for one request as one uint8 RGB image (two rows of four panels).

    Args:
        model: The explained model (0..255 images to probabilities or logits).
        image: uint8 ``(height, width, 3)``.
        request_mask: bool ``(height, width)``: ``R``.
        class_id: The explained class.
        saliency: float ``(height, width)``: ``M*`` at full resolution.
        perturbation_value: The constant ``a`` chosen by the optimizer (0..255).
        ring: bool ``(height, width)``: the baseline dilation of the request's group.
        model_output: ``"probabilities"`` or ``"logits"``.
        title: A line above the panels.
        panel_width: Panels wider than this are shrunk to it.

    Returns:
        uint8 RGB image of the eight captioned panels.
    """
    x = tf.constant(np.asarray(image, np.float32)[None])
    request = tf.constant(np.asarray(request_mask, np.float32)[None])
    context = perturb(x, request, tf.fill([1, 1, 1, 1], float(perturbation_value)), _VALUE_RANGE)
    optimised = perturb(x, tf.constant(np.asarray(saliency, np.float32)[None]), context, _VALUE_RANGE)
    scores = class_probabilities(model, tf.concat([x, context, optimised], 0), model_output).numpy()[..., class_id]
    pictures = [image, color_map(scores[0]), context[0].numpy(), color_map(scores[1]), optimised[0].numpy(),
                color_map(scores[2]), color_map(saliency), ring_overlay(image, ring, request_mask)]
    pictures = [shrink(figures.to_uint8_rgb(picture, _VALUE_RANGE), panel_width) for picture in pictures]
    labels = ["(a) input frame", "(b) softmax on (a)", "(c) perturbed context p(x, R)", "(d) softmax on (c)",
              "(e) optimised image", "(f) softmax on (e)", "(g) grid saliency M*", "(h) baseline dilation"]
    return figures.tile(pictures, 4, labels=labels, title=title)
