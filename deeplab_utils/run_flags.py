"""The absl flags shared by the binaries that run the Cityscapes settings (supplement S2.1).

``deeplab-cityscapes`` and ``deeplab-coco`` (supplement S3 borrows "all implementation details and
optimization parameter settings" from the Cityscapes experiments) define the same optimizer flags with
the paper's defaults (:meth:`grid_saliency_tf.GridSaliencyOptimizer.cityscapes_defaults`) and the
engine's other defaults, the same model flags (backend, output), the same request flags (pixel counts,
context, baseline sharing, connectivity) and the same distribution flags (strategy, shards). Only
binaries import this module; library code takes the values as plain arguments.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from absl import flags

from deeplab_utils.cityscapes.distribute import STRATEGIES
from grid_saliency_tf import GridSaliencyOptimizer

__all__ = ["define_model_flags", "define_optimizer_flags", "define_request_flags", "define_distribution_flags",
           "parse_grid"]

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


def define_model_flags() -> Callable[[], dict[str, Any]]:
    """Defines ``--backend`` and ``--model_output``; returns a function giving ``{"backend", "model_output"}``.

    The values are :func:`deeplab_utils.cityscapes.models.load_model`'s backend and the optimizer's
    ``model_output``.
    """
    backend = flags.DEFINE_enum(
        "backend", "keras", ["keras", "graph"],
        "How a zoo download is loaded: keras, the native Keras DeepLab (deeplab_utils.native) with the "
        "download's checkpoint; graph, its frozen graph (DeepLabModel). A .keras/.h5 model loads as such.")
    model_output = flags.DEFINE_enum("model_output", "probabilities", ["probabilities", "logits"],
                                     "What the model returns (DeepLab exports: probabilities).")
    return lambda: {"backend": backend.value, "model_output": model_output.value}


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
    clip = flags.DEFINE_float("clip_below", _ENGINE["clip_below"],
                              "Mask values below this are set to 0 each step (S2.1).")
    erosion = flags.DEFINE_integer("erosion_size", erosion_size,
                                   "Square erosion of the requests, for the size test and the loss (S2.1).")

    def overrides() -> dict[str, Any]:
        return {"steps": steps.value, "grid_shape": parse_grid(grid.value), "learning_rate": learning_rate.value,
                "mask_weight": mask_weight.value, "convergence_threshold": threshold.value,
                "momentum": momentum.value, "initial_value": initial.value, "clip_below": clip.value,
                "erosion_size": erosion.value}

    return overrides


def define_request_flags(defaults: Any, *, reference: str) -> Callable[[], dict[str, Any]]:
    """Defines the request flags; returns a function giving their values as protocol fields.

    ``--min_size`` and ``--baseline_pixels`` (stated at the protocol's reference shape, scaled by image
    area), ``--context``, ``--baseline_sharing`` and ``--connectivity``.

    Args:
        defaults: A protocol whose fields give the defaults (:class:`deeplab_utils.cityscapes.Protocol`).
        reference: Where the pixel counts are stated, for the help (``"1024x2048"``).
    """
    min_size = flags.DEFINE_integer("min_size", defaults.min_size,
                                    f"Pixels of a (prediction) request after erosion at {reference}.")
    baseline = flags.DEFINE_integer("baseline_pixels", defaults.baseline_pixels,
                                    f"Baseline dilation pixels per image and class at {reference}.")
    context = flags.DEFINE_enum("context", defaults.context, ["outside_request", "everywhere"],
                                "Whether the request's own pixels count as context.")
    sharing = flags.DEFINE_enum("baseline_sharing", defaults.baseline_sharing, ["radius", "equal"],
                                "How instances share the baseline's pixels: one radius, or equal shares.")
    connectivity = flags.DEFINE_enum("connectivity", str(defaults.connectivity), ["4", "8"],
                                     "Pixel connectivity of the request components.")
    return lambda: {"min_size": min_size.value, "baseline_pixels": baseline.value, "context": context.value,
                    "baseline_sharing": sharing.value, "connectivity": int(connectivity.value)}


def define_distribution_flags() -> Callable[[], dict[str, Any]]:
    """Defines ``--strategy``, ``--num_shards`` and ``--shard_index``; returns a function giving their values.

    The values are ``{"strategy": name, "num_shards": n, "shard_index": i}``; the binary turns the name
    into a strategy (:func:`deeplab_utils.cityscapes.distribute.make_strategy`) before any other
    TensorFlow work.
    """
    strategy = flags.DEFINE_enum("strategy", "none", list(STRATEGIES),
                                 "none, mirrored (all local GPUs) or multi_worker (TF_CONFIG).")
    num_shards = flags.DEFINE_integer("num_shards", 1, "Split the images into this many shards (one output folder).")
    shard_index = flags.DEFINE_integer("shard_index", 0, "The shard this process explains.")
    return lambda: {"strategy": strategy.value, "num_shards": num_shards.value, "shard_index": shard_index.value}
