"""The five saliency methods of the toy benchmark, built from one place (paper Sec. 4.2, Fig. 4).

Every method becomes one function ``(images, requests) -> MethodOutput`` whose maps are context
saliency at image resolution, in [0, 1]:

* ``grid_saliency``: `GridSaliencyOptimizer` in context mode (Eq. 3) with the toy defaults of the
  engine (supplement S1.2), overridable per call;
* ``vanilla_gradient``, ``integrated_gradients``, ``smooth_grad``: the context form (Eq. 5), pooled to
  the 4 x 4 grid of grid saliency, scaled by their maximum and upsampled (nearest) to the image;
* ``seg_grad_cam``: Seg-Grad-CAM (Vinogradova et al., 2020) at the U-Net bottleneck with the request as
  pixel set, restricted to the context ``(1 - R)`` and scaled by its maximum (an extra method).

Scaling by the maximum puts every method in [0, 1] like grid saliency masks, so that CBD values are
comparable across methods.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from grid_saliency_tf import (GridSaliencyOptimizer, IntegratedGradients, Requests, SegGradCAM, SmoothGrad,
                              VanillaGradient, upsample_mask)
from toy_benchmark.models import BOTTLENECK_LAYER

__all__ = ["GRID_SHAPE", "METHODS", "Explainer", "MethodOutput", "build_explainers", "check_methods",
           "method_settings"]

#: Saliency methods compared in the benchmark (Fig. 4) plus Seg-Grad-CAM.
METHODS = ("grid_saliency", "vanilla_gradient", "integrated_gradients", "smooth_grad", "seg_grad_cam")
#: The grid of the toy benchmark's saliency (4 x 4 cells of 16 x 16 pixels).
GRID_SHAPE = (4, 4)
_GRADIENT_METHODS = {"vanilla_gradient": VanillaGradient, "integrated_gradients": IntegratedGradients,
                     "smooth_grad": SmoothGrad}


def check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """Validates a list of method names against :data:`METHODS`.

    Raises:
        ValueError: If ``methods`` is empty or names an unknown method.
    """
    methods = tuple(methods)
    unknown = [name for name in methods if name not in METHODS]
    if unknown or not methods:
        raise ValueError(f"Argument `methods` must be a non-empty subset of {METHODS}; received {list(methods)}.")
    return methods


@dataclasses.dataclass(frozen=True)
class MethodOutput:
    """Context saliency of one method for ``n`` requests.

    Attributes:
        maps: float ``(n, height, width)`` in [0, 1].
        converged: bool ``(n,)`` for grid saliency (supplement S2.1), None for the other methods.
    """

    maps: np.ndarray
    converged: np.ndarray | None = None


#: One method: images ``(batch, height, width, 1)`` and ``n`` requests to their :class:`MethodOutput`.
Explainer = Callable[[np.ndarray, Requests], MethodOutput]


def _grid_saliency_optimizer(model: keras.Model, grid_saliency: Mapping[str, Any] | None) -> GridSaliencyOptimizer:
    return GridSaliencyOptimizer(model, **{"mode": "context", **dict(grid_saliency or {})})


def _grid_explainer(model: keras.Model, grid_saliency: Mapping[str, Any] | None) -> Explainer:
    optimizer = _grid_saliency_optimizer(model, grid_saliency)

    def explain(images: np.ndarray, requests: Requests) -> MethodOutput:
        result = optimizer.explain(images, requests)
        return MethodOutput(result.masks, result.converged)

    return explain


def _cam_explainer(model: keras.Model) -> Explainer:
    cam = SegGradCAM(model, BOTTLENECK_LAYER)

    def explain(images: np.ndarray, requests: Requests) -> MethodOutput:
        heatmaps = cam.explain(images, requests).heatmaps * (1.0 - requests.masks)
        scale = heatmaps.max(axis=(1, 2), keepdims=True)
        return MethodOutput(np.divide(heatmaps, scale, out=np.zeros_like(heatmaps), where=scale > 0))

    return explain


def _gradient_explainer(model: keras.Model, name: str) -> Explainer:
    gradient = _GRADIENT_METHODS[name](model, form="context", grid_shape=GRID_SHAPE, normalize="max")

    def explain(images: np.ndarray, requests: Requests) -> MethodOutput:
        grid_maps = gradient.explain(images, requests).grid_maps
        return MethodOutput(upsample_mask(tf.constant(grid_maps), images.shape[1:3], "nearest").numpy())

    return explain


def build_explainers(model: keras.Model, methods: Sequence[str] = METHODS, *,
                     grid_saliency: Mapping[str, Any] | None = None) -> dict[str, Explainer]:
    """Builds one function per method: ``(images, requests) -> MethodOutput``.

    Args:
        model: The segmentation network, images ``(batch, 64, 64, 1)`` to softmax probabilities
            ``(batch, 64, 64, 11)``, with a layer named ``"bottleneck"`` for Seg-Grad-CAM.
        methods: Names from :data:`METHODS`.
        grid_saliency: Keyword arguments of :class:`GridSaliencyOptimizer` overriding the toy defaults.

    Returns:
        Dict from method name to its explanation function, in the order of ``methods``.

    Raises:
        ValueError: If ``methods`` names an unknown method.
    """
    explainers: dict[str, Explainer] = {}
    for name in check_methods(methods):
        if name == "grid_saliency":
            explainers[name] = _grid_explainer(model, grid_saliency)
        elif name == "seg_grad_cam":
            explainers[name] = _cam_explainer(model)
        else:
            explainers[name] = _gradient_explainer(model, name)
    return explainers


def method_settings(model: keras.Model, methods: Sequence[str], *,
                    grid_saliency: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The settings of every method, as recorded in ``metrics.json`` (docs/toy_benchmark.md).

    Args:
        model: The network (grid saliency's full configuration is read from an optimizer built on it).
        methods: Names from :data:`METHODS`.
        grid_saliency: Overrides of the grid saliency toy defaults.

    Returns:
        ``{"methods", "grid_saliency", "gradient_maps", "seg_grad_cam", "request"}``.
    """
    return {
        "methods": list(check_methods(methods)),
        "grid_saliency": _grid_saliency_optimizer(model, grid_saliency).get_config(),
        "gradient_maps": {"form": "context", "grid_shape": list(GRID_SHAPE), "normalize": "max",
                          "upsampling_for_metrics": "nearest"},
        "seg_grad_cam": {"layer": BOTTLENECK_LAYER, "context_form": True, "normalize": "max"},
        "request": "predicted mask of the image's digit class",
    }
