"""The five saliency methods of the toy benchmark, built from one place (paper Sec. 4.2, Fig. 4).

Every method is an engine explainer (`grid_saliency_tf.Explainer`) whose common ``saliency`` field is
context saliency at image resolution, ``(n, 64, 64)`` in [0, 1]:

* ``grid_saliency``: `GridSaliencyOptimizer` in context mode (Eq. 3) with the toy defaults of the
  engine (supplement S1.2), overridable per call; ``saliency`` is the mask upsampled (nearest);
* ``vanilla_gradient``, ``integrated_gradients``, ``smooth_grad``: the context form (Eq. 5), pooled to
  the 4 x 4 grid of grid saliency, divided by the maximum of the pooled map and upsampled (nearest);
* ``seg_grad_cam``: Seg-Grad-CAM (Vinogradova et al., 2020) at the U-Net bottleneck with the request as
  pixel set, in the context form ``(1 - R) L^c`` and divided by its maximum (an extra method).

Dividing by the maximum puts every method in [0, 1] like grid saliency masks, so that CBD values are
comparable across methods. The forms and the normalisation are the engine's (`grid_saliency_tf.forms`).

An :class:`ExplainerPool` builds the explainers of one network after another: grid saliency settings
that differ only in the engine's runtime parameters (lambda, learning rate, momentum, initial value: the
Fig. S11 sweeps) are derived from one optimizer and share its compiled optimisation, so a sweep traces it
once per network instead of once per setting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from grid_saliency_tf import (RUNTIME_PARAMETERS, Explainer, GridSaliencyOptimizer, IntegratedGradients, Requests,
                              SegGradCAM, SmoothGrad, VanillaGradient)
from toy_benchmark.models import BOTTLENECK_LAYER

__all__ = ["GRID_SHAPE", "METHODS", "ExplainerPool", "MethodOutput", "build_explainers", "check_methods", "explain",
           "method_settings"]

#: Saliency methods compared in the benchmark (Fig. 4) plus Seg-Grad-CAM.
METHODS = ("grid_saliency", "vanilla_gradient", "integrated_gradients", "smooth_grad", "seg_grad_cam")
#: The grid of the toy benchmark's saliency (4 x 4 cells of 16 x 16 pixels).
GRID_SHAPE = (4, 4)
_GRADIENT_METHODS = {"vanilla_gradient": VanillaGradient, "integrated_gradients": IntegratedGradients,
                     "smooth_grad": SmoothGrad}
_SHARED = {"form": "context", "normalize": "max"}


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
        maps: float32 ``(n, 64, 64)`` in [0, 1]: the result's ``saliency``.
        converged: bool ``(n,)`` for grid saliency (supplement S2.1), None for the other methods.
    """

    maps: np.ndarray
    converged: np.ndarray | None = None


def _build(model: keras.Model, name: str) -> Explainer:
    if name == "seg_grad_cam":
        return SegGradCAM(model, BOTTLENECK_LAYER, **_SHARED)
    return _GRADIENT_METHODS[name](model, grid_shape=GRID_SHAPE, **_SHARED)


class ExplainerPool:
    """Builds the explainers of one network at a time, sharing grid saliency's compiled optimisation.

    It keeps the last network and its grid saliency optimizer built from the settings that shape the
    graph; a request for the same network and such settings derives an optimizer with the requested
    runtime parameters (`GridSaliencyOptimizer.with_parameters`) instead of building a new one, with the
    same numbers. Another network or graph setting replaces what it keeps.
    """

    def __init__(self) -> None:
        self._model: keras.Model | None = None
        self._structure: dict[str, Any] | None = None
        self._optimizer: GridSaliencyOptimizer | None = None

    def build(self, model: keras.Model, methods: Sequence[str] = METHODS, *,
              grid_saliency: Mapping[str, Any] | None = None) -> dict[str, Explainer]:
        """Builds the engine explainer of every method (see :func:`build_explainers`)."""
        return {name: self._grid_saliency(model, grid_saliency) if name == "grid_saliency" else _build(model, name)
                for name in check_methods(methods)}

    def _grid_saliency(self, model: keras.Model, settings: Mapping[str, Any] | None) -> GridSaliencyOptimizer:
        settings = {"mode": "context", **dict(settings or {})}
        structure = {key: value for key, value in settings.items() if key not in RUNTIME_PARAMETERS}
        if self._optimizer is None or model is not self._model or structure != self._structure:
            self._model, self._structure = model, structure
            self._optimizer = GridSaliencyOptimizer(model, **structure)
        return self._optimizer.with_parameters(**{key: settings[key] for key in RUNTIME_PARAMETERS if key in settings})


def build_explainers(model: keras.Model, methods: Sequence[str] = METHODS, *,
                     grid_saliency: Mapping[str, Any] | None = None) -> dict[str, Explainer]:
    """Builds the engine explainer of every method.

    Args:
        model: The segmentation network, images ``(batch, 64, 64, 1)`` to softmax probabilities
            ``(batch, 64, 64, 11)``, with a layer named ``"bottleneck"`` for Seg-Grad-CAM.
        methods: Names from :data:`METHODS`.
        grid_saliency: Keyword arguments of :class:`GridSaliencyOptimizer` overriding the toy defaults.

    Returns:
        Dict from method name to its explainer, in the order of ``methods``.

    Raises:
        ValueError: If ``methods`` names an unknown method.
    """
    return ExplainerPool().build(model, methods, grid_saliency=grid_saliency)


def explain(explainer: Explainer, images: np.ndarray, requests: Requests) -> MethodOutput:
    """Context saliency of ``n`` requests on images ``(batch, 64, 64, 1)`` by one explainer."""
    result = explainer.explain(images, requests)
    return MethodOutput(result.saliency, getattr(result, "converged", None))


def method_settings(explainers: Mapping[str, Explainer]) -> dict[str, Any]:
    """The settings of every method, as recorded in ``metrics.json`` (docs/toy_benchmark.md).

    Args:
        explainers: From :func:`build_explainers`.

    Returns:
        ``{"methods": [names], "<name>": its get_config(), ..., "request": ...}``.
    """
    return {"methods": list(explainers), **{name: e.get_config() for name, e in explainers.items()},
            "request": "predicted mask of the image's digit class"}
