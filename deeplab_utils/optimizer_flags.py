"""The optimizer's absl flags, shared by the binaries that run the Cityscapes settings (supplement S2.1).

``deeplab-cityscapes`` and ``deeplab-coco`` (supplement S3 borrows "all implementation details and
optimization parameter settings" from the Cityscapes experiments) define the same flags with the
paper's defaults (:meth:`grid_saliency_tf.GridSaliencyOptimizer.cityscapes_defaults`) and the engine's
other defaults. Only binaries import this module; library code takes the overrides as a plain dict.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from absl import flags

from grid_saliency_tf import GridSaliencyOptimizer

__all__ = ["define_optimizer_flags", "parse_grid"]

_PAPER = GridSaliencyOptimizer.cityscapes_defaults()
_ENGINE = {name: parameter.default for name, parameter in inspect.signature(GridSaliencyOptimizer).parameters.items()}


def parse_grid(values: list[str]) -> tuple[int, int]:
    """``["16", "32"]`` -> ``(16, 32)``.

    Raises:
        ValueError: Unless the values are integers.
    """
    try:
        return tuple(int(value) for value in values)
    except ValueError:
        raise ValueError(f"Argument `grid_shape` must be two integers; received {values!r}.") from None


def define_optimizer_flags(erosion_size: int) -> Callable[[], dict[str, Any]]:
    """Defines the optimizer flags; returns a function giving their values as optimizer overrides.

    Args:
        erosion_size: The default of ``--erosion_size`` (the protocol's, 3).
    """
    steps = flags.DEFINE_integer("steps", _PAPER["steps"], "SGD steps (S2.1).")
    grid = flags.DEFINE_list("grid_shape", [str(v) for v in _PAPER["grid_shape"]], "Rows,columns of the mask (S2.1).")
    learning_rate = flags.DEFINE_float("learning_rate", _PAPER["learning_rate"], "SGD learning rate (S2.1).")
    mask_weight = flags.DEFINE_float("mask_weight", _PAPER["mask_weight"], "lambda (S2.1).")
    threshold = flags.DEFINE_float("convergence_threshold", _ENGINE["convergence_threshold"],
                                   "Largest preservation loss that counts (S2.1).")
    momentum = flags.DEFINE_float("momentum", _ENGINE["momentum"], "SGD momentum (S1.2, carried over).")
    initial = flags.DEFINE_float("initial_value", _ENGINE["initial_value"], "Initial mask value (S1.2).")
    clip = flags.DEFINE_float("clip_below", _ENGINE["clip_below"], "Mask values below this are set to 0 each step (S2.1).")
    erosion = flags.DEFINE_integer("erosion_size", erosion_size,
                                   "Square erosion of the requests, for the size test and the loss (S2.1).")

    def overrides() -> dict[str, Any]:
        return {"steps": steps.value, "grid_shape": parse_grid(grid.value), "learning_rate": learning_rate.value,
                "mask_weight": mask_weight.value, "convergence_threshold": threshold.value,
                "momentum": momentum.value, "initial_value": initial.value, "clip_below": clip.value,
                "erosion_size": erosion.value}

    return overrides
