"""Evaluation of a toy-benchmark network: segmentation IoU and context-bias saliency metrics.

Implements the measurements of the paper's Sec. 4.2 and supplement S1.2-S1.4 (Hoyer et al., 2019):

* mIoU per digit on the **unbiased** test set (Fig. 4a): the IoU of every digit class over the whole
  test set, from one confusion matrix of the 11 classes.
* On the **biased** test set, with the network's predicted mask of the image's digit class as the
  request ``R`` (Sec. 4.2): context saliency by grid saliency (Eq. 3, toy defaults), VG, IG and SG
  (context form Eq. 5, pooled to the 4 x 4 grid), and Seg-Grad-CAM (an extra method, its heatmap
  at the bottleneck restricted to the context); CBD (Eq. 6) and CBL (Eq. 7) per image, mCBD and mCBL
  per digit.

Choices the paper leaves open, made here and written into ``metrics.json``:

* Gradient maps and Seg-Grad-CAM heatmaps are scaled per image by the maximum of their (pooled)
  map, so that, like grid saliency masks, they lie in [0, 1] and CBD values are comparable across
  methods. The pooled 4 x 4 gradient maps are upsampled (nearest) to 64 x 64 for CBD/CBL.
* Images whose predicted request mask is empty (the network misses the digit) are left out of every
  saliency mean; their number is reported.
* CBL is averaged over the images that carry the bias texture (``C_bias`` not empty) and whose
  saliency has mass in the context; the counts are reported, and an empty mean is ``null``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tqdm

from grid_saliency_tf import (GridSaliencyOptimizer, IntegratedGradients, Requests, SegGradCAM, SmoothGrad,
                              VanillaGradient, confusion_matrix, context_bias_detection,
                              context_bias_localization, iou_per_class, upsample_mask)
from toy_benchmark.evaluation import overlays
from toy_benchmark.atomic import write_json_atomic
from toy_benchmark.models import BOTTLENECK_LAYER
from toy_benchmark.data.variant import NUM_CLASSES, NUM_DIGITS, DatasetVariant

__all__ = [
    "EXAMPLES_FILE",
    "METHODS",
    "METRICS_FILE",
    "MethodOutput",
    "SaliencyRecords",
    "build_explainers",
    "check_methods",
    "evaluate",
    "load_model",
    "validate_metrics",
    "predict_labels",
    "segmentation_metrics",
    "saliency_records",
    "summarize_saliency",
]

#: Saliency methods compared in the benchmark (Fig. 4) plus Seg-Grad-CAM.
METHODS = ("grid_saliency", "vanilla_gradient", "integrated_gradients", "smooth_grad", "seg_grad_cam")
GRID_SHAPE = (4, 4)


def check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """Validates a list of method names against :data:`METHODS`."""
    methods = tuple(methods)
    unknown = [name for name in methods if name not in METHODS]
    if unknown or not methods:
        raise ValueError(f"Argument `methods` must be a non-empty subset of {METHODS}; received {list(methods)}.")
    return methods


@dataclasses.dataclass(frozen=True)
class MethodOutput:
    """Context saliency of one method for ``n`` requests.

    Attributes:
        maps: float ``(n, 64, 64)`` in [0, 1].
        converged: bool ``(n,)`` for grid saliency (supplement S2.1), None for the other methods.
    """

    maps: np.ndarray
    converged: np.ndarray | None = None


Explainer = Callable[[np.ndarray, Requests], MethodOutput]


def build_explainers(model: keras.Model, methods: Sequence[str] = METHODS, *,
                     grid_saliency: Mapping[str, Any] | None = None) -> dict[str, Explainer]:
    """Builds one function per method: ``(images, requests) -> MethodOutput``.

    Args:
        model: The segmentation network (softmax output; a layer named ``"bottleneck"`` for Seg-Grad-CAM).
        methods: Names from :data:`METHODS`.
        grid_saliency: Keyword arguments of :class:`GridSaliencyOptimizer` overriding the toy defaults.

    Returns:
        Dict from method name to its explanation function.
    """
    methods = check_methods(methods)
    explainers: dict[str, Explainer] = {}
    for name in methods:
        if name == "grid_saliency":
            optimizer = GridSaliencyOptimizer(model, **{"mode": "context", **dict(grid_saliency or {})})

            def explain_grid(images: np.ndarray, requests: Requests, o: GridSaliencyOptimizer = optimizer) -> MethodOutput:
                result = o.explain(images, requests)
                return MethodOutput(result.masks, result.converged)

            explainers[name] = explain_grid
        elif name == "seg_grad_cam":
            cam = SegGradCAM(model, BOTTLENECK_LAYER)

            def explain_cam(images: np.ndarray, requests: Requests, c: SegGradCAM = cam) -> MethodOutput:
                heatmaps = c.explain(images, requests).heatmaps * (1.0 - requests.masks)
                scale = heatmaps.max(axis=(1, 2), keepdims=True)
                return MethodOutput(np.divide(heatmaps, scale, out=np.zeros_like(heatmaps), where=scale > 0))

            explainers[name] = explain_cam
        else:
            cls = {"vanilla_gradient": VanillaGradient, "integrated_gradients": IntegratedGradients,
                   "smooth_grad": SmoothGrad}[name]
            gradient = cls(model, form="context", grid_shape=GRID_SHAPE, normalize="max")

            def explain_gradient(images: np.ndarray, requests: Requests, g: Any = gradient) -> MethodOutput:
                grid_maps = g.explain(images, requests).grid_maps
                return MethodOutput(upsample_mask(tf.constant(grid_maps), images.shape[1:3], "nearest").numpy())

            explainers[name] = explain_gradient
    return explainers


def predict_labels(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Argmax class map ``(batch, 64, 64)`` of the network on images ``(batch, 64, 64, 1)``."""
    return np.argmax(model(images, training=False), axis=-1).astype(np.int32)


def segmentation_metrics(model: keras.Model, dataset: tf.data.Dataset) -> dict[str, Any]:
    """IoU per class (and per digit) of the network over a (batched) unbiased test set, Fig. 4a.

    Args:
        model: The network.
        dataset: Batched toy-dataset elements (dicts with ``image`` and ``label``).

    Returns:
        ``{"iou_per_class": [11], "iou_per_digit": [10], "miou": float, "num_images": int,
        "confusion": [[11 x 11]]}``.
    """
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    count = 0
    for batch in dataset:
        images = batch["image"].numpy()
        confusion += confusion_matrix(batch["label"].numpy(), predict_labels(model, images), NUM_CLASSES)
        count += images.shape[0]
    iou, defined = iou_per_class(confusion, return_defined=True)
    return {
        "iou_per_class": [float(v) if d else None for v, d in zip(iou, defined)],
        "iou_per_digit": [float(v) if d else None for v, d in zip(iou[:NUM_DIGITS], defined[:NUM_DIGITS])],
        "miou": float(iou[defined].mean()) if defined.any() else None,
        "num_images": count,
        "confusion": confusion.tolist(),
    }


@dataclasses.dataclass
class SaliencyRecords:
    """Per-image results on the biased test set, ``N`` images.

    Attributes:
        digit: int ``(N,)``.
        request_empty: bool ``(N,)``: the predicted digit mask is empty.
        has_bias: bool ``(N,)``: ``C_bias`` is not empty.
        cbd, cbl, cbl_defined: per method, float/bool ``(N,)``.
        grid_converged, grid_empty: bool ``(N,)`` for grid saliency (empty arrays without it).
        examples: a few images with their request, context masks and every method's map.
    """

    digit: np.ndarray
    request_empty: np.ndarray
    has_bias: np.ndarray
    cbd: dict[str, np.ndarray]
    cbl: dict[str, np.ndarray]
    cbl_defined: dict[str, np.ndarray]
    grid_converged: np.ndarray
    grid_empty: np.ndarray
    examples: list[dict[str, Any]]


def saliency_records(
    model: keras.Model,
    dataset: tf.data.Dataset,
    methods: Sequence[str] = METHODS,
    *,
    grid_saliency: Mapping[str, Any] | None = None,
    num_examples: int = 4,
    example_digit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> SaliencyRecords:
    """Explains every image of a (batched) biased test set and measures CBD and CBL (Eq. 6, 7).

    Args:
        model: The network.
        dataset: Batched toy-dataset elements (dicts with image, label, digit, context, c_bias).
        methods: Names from :data:`METHODS`.
        grid_saliency: Overrides of the grid saliency toy defaults.
        num_examples: How many images to keep with their maps for figures.
        example_digit: Prefer examples of this digit (the bias digit); others fill up.
        progress: Called with the number of images done after every batch.

    Returns:
        The :class:`SaliencyRecords`.
    """
    methods = check_methods(methods)
    explainers = build_explainers(model, methods, grid_saliency=grid_saliency)
    digits, empties, has_bias, converged, grid_empty = [], [], [], [], []
    cbd = {name: [] for name in methods}
    cbl = {name: [] for name in methods}
    cbl_defined = {name: [] for name in methods}
    candidates: list[dict[str, Any]] = []
    done = 0
    for batch in dataset:
        images = batch["image"].numpy()
        digit = batch["digit"].numpy().astype(np.int32)
        context, bias = batch["context"].numpy(), batch["c_bias"].numpy()
        request_masks = (predict_labels(model, images) == digit[:, None, None]).astype(np.float32)
        requests = Requests(np.arange(len(digit)), digit, request_masks)
        digits.append(digit)
        empties.append(requests.empty)
        has_bias.append(bias.reshape(len(digit), -1).any(axis=1))
        maps = {}
        for name, explain in explainers.items():
            output = explain(images, requests)
            maps[name] = output.maps
            cbd[name].append(context_bias_detection(output.maps, context))
            values, defined = context_bias_localization(output.maps, bias, context, return_defined=True)
            cbl[name].append(values)
            cbl_defined[name].append(defined)
            if output.converged is not None:
                converged.append(output.converged)
                grid_empty.append(output.maps.reshape(len(digit), -1).max(axis=1) <= 0)
        for i in range(len(digit)):
            if len(candidates) < 4 * max(num_examples, 1) and not requests.empty[i]:
                candidates.append({"image": images[i, ..., 0], "request": request_masks[i], "digit": int(digit[i]),
                                   "c_bias": bias[i], "maps": {name: maps[name][i] for name in methods}})
        done += len(digit)
        if progress is not None:
            progress(done)
    preferred = [c for c in candidates if c["digit"] == example_digit]
    others = [c for c in candidates if c["digit"] != example_digit]
    return SaliencyRecords(
        digit=np.concatenate(digits),
        request_empty=np.concatenate(empties),
        has_bias=np.concatenate(has_bias),
        cbd={name: np.concatenate(values) for name, values in cbd.items()},
        cbl={name: np.concatenate(values) for name, values in cbl.items()},
        cbl_defined={name: np.concatenate(values) for name, values in cbl_defined.items()},
        grid_converged=np.concatenate(converged) if converged else np.zeros(0, bool),
        grid_empty=np.concatenate(grid_empty) if grid_empty else np.zeros(0, bool),
        examples=(preferred + others)[:num_examples],
    )


def _mean_or_none(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def summarize_saliency(records: SaliencyRecords) -> dict[str, Any]:
    """mCBD and mCBL per digit and method (Fig. 4b/c), with the counts behind every mean."""
    valid = ~records.request_empty
    summary: dict[str, Any] = {
        "num_images": int(records.digit.size),
        "num_empty_requests": int(records.request_empty.sum()),
        "methods": {},
    }
    for name in records.cbd:
        per_digit_cbd, per_digit_cbl, n_cbd, n_cbl = [], [], [], []
        for digit in range(NUM_DIGITS):
            chosen = valid & (records.digit == digit)
            localized = chosen & records.has_bias & records.cbl_defined[name]
            per_digit_cbd.append(_mean_or_none(records.cbd[name][chosen]))
            per_digit_cbl.append(_mean_or_none(records.cbl[name][localized]))
            n_cbd.append(int(chosen.sum()))
            n_cbl.append(int(localized.sum()))
        summary["methods"][name] = {
            "mcbd_per_digit": per_digit_cbd,
            "mcbl_per_digit": per_digit_cbl,
            "num_images_per_digit": n_cbd,
            "num_cbl_images_per_digit": n_cbl,
        }
    if "grid_saliency" in records.cbd and valid.any():
        summary["methods"]["grid_saliency"]["empty_fraction"] = float(records.grid_empty[valid].mean())
        summary["methods"]["grid_saliency"]["converged_fraction"] = float(records.grid_converged[valid].mean())
    return summary


METRICS_FILE = "metrics.json"
EXAMPLES_FILE = "examples.png"
SCHEMA_VERSION = 1


def load_model(path: str | os.PathLike) -> keras.Model:
    """Loads a trained network from a ``.keras`` file or a training folder holding ``model.keras``.

    Raises:
        FileNotFoundError: If there is no model at ``path``.
        ValueError: If the file is not a Keras model, or not a toy segmentation network
            (images ``(batch, 64, 64, 1)`` to 11 class probabilities).
    """
    import toy_benchmark.models  # noqa: F401  (registers ToyUNet for deserialisation)

    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "model.keras")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no trained model at {path!r} (expected a .keras file or a training folder)")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a damaged or foreign file
        raise ValueError(f"cannot load a Keras model from {path!r}: {type(error).__name__}: {error}") from None
    shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    output = tuple(model.outputs[0].shape[1:]) if getattr(model, "outputs", None) else None
    if shape != (64, 64, 1) or output != (64, 64, NUM_CLASSES):
        raise ValueError(
            f"model {path!r} is not a toy segmentation network: input {shape}, output {output}; "
            f"expected (64, 64, 1) -> (64, 64, {NUM_CLASSES})"
        )
    return model


def _variant_info(variant: DatasetVariant | None) -> dict[str, Any] | None:
    return None if variant is None else dataclasses.asdict(variant)


def evaluate(
    model: keras.Model,
    output_dir: str | os.PathLike,
    *,
    biased_test: DatasetVariant,
    unbiased_test: DatasetVariant | None,
    textures: Any = None,
    mnist: Any = None,
    methods: Sequence[str] = METHODS,
    batch_size: int = 50,
    num_examples: int = 4,
    grid_saliency: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Runs the whole evaluation of one network and writes ``metrics.json`` and ``examples.png``.

    Args:
        model: The trained network.
        output_dir: Folder for the outputs (created if needed).
        biased_test: The test variant where saliency is measured (the network's training bias).
        unbiased_test: The unbiased test variant for the IoU (Fig. 4a); None to skip.
        textures, mnist: Sources, as for :func:`toy_benchmark.make_dataset`.
        methods: Saliency methods (names from :data:`METHODS`).
        batch_size: Images per explanation batch.
        num_examples: Rows of the example figure.
        grid_saliency: Overrides of the grid saliency toy defaults.
        info: Extra JSON-serialisable fields stored under ``"run"`` (e.g. the model path).
        progress: Show a progress bar on stderr.

    Returns:
        The metrics dictionary written to ``metrics.json`` (see :func:`validate_metrics`).
    """
    from toy_benchmark.data.streaming import make_dataset

    methods = check_methods(methods)
    os.makedirs(output_dir, exist_ok=True)
    metrics: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run": dict(info or {}),
        "datasets": {"biased_test": _variant_info(biased_test), "unbiased_test": _variant_info(unbiased_test)},
        "settings": {
            "methods": list(methods),
            "grid_saliency": GridSaliencyOptimizer(model, **{"mode": "context", **dict(grid_saliency or {})}).get_config(),
            "gradient_maps": {"form": "context", "grid_shape": list(GRID_SHAPE), "normalize": "max",
                              "upsampling_for_metrics": "nearest"},
            "seg_grad_cam": {"layer": BOTTLENECK_LAYER, "context_form": True, "normalize": "max"},
            "request": "predicted mask of the image's digit class",
        },
    }
    if unbiased_test is not None:
        metrics["segmentation"] = segmentation_metrics(
            model, make_dataset(unbiased_test, batch_size=batch_size, textures=textures, mnist=mnist))
    bar = tqdm.tqdm(total=biased_test.num_samples, desc="saliency", unit="img", disable=not progress)
    previous = [0]

    def advance(done: int) -> None:
        bar.update(done - previous[0])
        previous[0] = done

    try:
        records = saliency_records(
            model, make_dataset(biased_test, batch_size=batch_size, textures=textures, mnist=mnist), methods,
            grid_saliency=grid_saliency, num_examples=num_examples, example_digit=biased_test.bias_digit,
            progress=advance)
    finally:
        bar.close()
    metrics["saliency"] = summarize_saliency(records)
    validate_metrics(metrics)
    write_json_atomic(os.path.join(output_dir, METRICS_FILE), metrics)
    if records.examples:
        rows = [overlays.example_row(example["image"], example["request"], example["maps"],
                                     title=f"digit {example['digit']}") for example in records.examples]
        overlays.write_png(os.path.join(output_dir, EXAMPLES_FILE), rows)
    return metrics


def _is_number_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))


def validate_metrics(metrics: Mapping[str, Any]) -> None:
    """Checks a ``metrics.json`` dictionary against the documented schema (docs/toy_benchmark.md).

    Raises:
        ValueError: Naming the first field that does not fit.
    """
    def fail(field: str, why: str) -> None:
        raise ValueError(f"metrics field {field!r} {why}")

    if metrics.get("schema_version") != SCHEMA_VERSION:
        fail("schema_version", f"must be {SCHEMA_VERSION}")
    for key in ("run", "datasets", "settings", "saliency"):
        if not isinstance(metrics.get(key), dict):
            fail(key, "must be an object")
    segmentation = metrics.get("segmentation")
    if segmentation is not None:
        for key, length in (("iou_per_class", NUM_CLASSES), ("iou_per_digit", NUM_DIGITS)):
            values = segmentation.get(key)
            if not isinstance(values, list) or len(values) != length or not all(map(_is_number_or_none, values)):
                fail(f"segmentation.{key}", f"must be a list of {length} finite numbers or null")
        if not _is_number_or_none(segmentation.get("miou")):
            fail("segmentation.miou", "must be a finite number or null")
    saliency = metrics["saliency"]
    if not isinstance(saliency.get("methods"), dict) or not saliency["methods"]:
        fail("saliency.methods", "must be a non-empty object")
    for name, entry in saliency["methods"].items():
        if name not in METHODS:
            fail(f"saliency.methods.{name}", f"is not one of {METHODS}")
        for key in ("mcbd_per_digit", "mcbl_per_digit", "num_images_per_digit", "num_cbl_images_per_digit"):
            values = entry.get(key)
            if not isinstance(values, list) or len(values) != NUM_DIGITS or not all(map(_is_number_or_none, values)):
                fail(f"saliency.methods.{name}.{key}", f"must be a list of {NUM_DIGITS} finite numbers or null")
        for key in ("mcbd_per_digit", "mcbl_per_digit"):
            if any(v is not None and not 0.0 <= v <= 1.0 + 1e-6 for v in entry[key]):
                fail(f"saliency.methods.{name}.{key}", "must lie in [0, 1]")
