"""Context bias detection and localization of every method on the biased test set (paper Eq. 6, 7).

For each image the request ``R`` is the network's predicted mask of the image's digit class and the
class is that digit (Sec. 4.2). Every method's context saliency ``M`` gives

* CBD (Eq. 6): ``||M * C||_1 / ||C||_1`` with ``C = 1 - R_GT``;
* CBL (Eq. 7): ``||M * C_bias||_1 / ||M * C||_1`` with ``C_bias`` the biased context area,

and mCBD, mCBL per digit are their means (Fig. 4b/c). Choices the paper leaves open, made here:
images whose predicted request is empty are left out of every mean (and counted); CBL is averaged
over the images that carry the bias texture and whose saliency has mass in the context (counted);
an empty mean is None.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from grid_saliency_tf import Explainer, Requests, context_bias_detection, context_bias_localization
from toy_benchmark.data.variant import NUM_CLASSES, NUM_DIGITS
from toy_benchmark.evaluation.explainers import explain
from toy_benchmark.evaluation.metrics_record import MethodSummary, SaliencySummary
from toy_benchmark.evaluation.segmentation import image_confusions, predict_labels

__all__ = ["SaliencyRecords", "saliency_records", "summarize_saliency"]


@dataclasses.dataclass
class SaliencyRecords:
    """Per-image results on the biased test set, ``N`` images.

    Attributes:
        digit: int ``(N,)``.
        request_empty: bool ``(N,)``: the predicted digit mask is empty.
        has_bias: bool ``(N,)``: ``C_bias`` is not empty.
        cbd, cbl, cbl_defined: per method, float/bool ``(N,)``.
        grid_converged, grid_empty: bool ``(N,)`` for grid saliency (empty arrays without it).
        confusion: int64 ``(N, 11, 11)``: each image's confusion matrix of the predictions the requests
            come from (the IoU on the biased test set), or None where not measured.
        examples: a few images with their request and every method's map, for figures: dicts with
            ``image`` ``(64, 64)``, ``request`` ``(64, 64)``, ``digit``, ``c_bias`` ``(64, 64)`` and
            ``maps`` (method name to ``(64, 64)``).
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
    confusion: np.ndarray | None = None


def _concatenated(values: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(values) if values else np.zeros(0, dtype)


def saliency_records(
    model: keras.Model,
    dataset: tf.data.Dataset,
    explainers: Mapping[str, Explainer],
    *,
    num_examples: int = 4,
    example_digit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> SaliencyRecords:
    """Explains every image of a batched biased test set and measures CBD and CBL (Eq. 6, 7).

    Args:
        model: The network.
        dataset: Batched toy-dataset elements (dicts with ``image`` ``(batch, 64, 64, 1)``, ``digit``
            ``(batch,)``, ``label``, ``context`` and ``c_bias`` ``(batch, 64, 64)``).
        explainers: Method name to its explainer (:func:`~toy_benchmark.evaluation.explainers.build_explainers`).
        num_examples: How many images to keep with their maps for figures.
        example_digit: Prefer examples of this digit (the bias digit); others fill up.
        progress: Called with the number of images done after every batch.

    Returns:
        The :class:`SaliencyRecords`.
    """
    digits, empties, has_bias, converged, grid_empty, confusions = [], [], [], [], [], []
    cbd: dict[str, list[np.ndarray]] = {name: [] for name in explainers}
    cbl: dict[str, list[np.ndarray]] = {name: [] for name in explainers}
    cbl_defined: dict[str, list[np.ndarray]] = {name: [] for name in explainers}
    candidates: list[dict[str, Any]] = []
    done = 0
    for batch in dataset:
        images = batch["image"].numpy()
        digit = batch["digit"].numpy().astype(np.int32)
        context, bias = batch["context"].numpy(), batch["c_bias"].numpy()
        predictions = predict_labels(model, images)
        confusions.append(image_confusions(batch["label"].numpy(), predictions))
        request_masks = (predictions == digit[:, None, None]).astype(np.float32)
        requests = Requests(np.arange(len(digit)), digit, request_masks)
        digits.append(digit)
        empties.append(requests.empty)
        has_bias.append(bias.reshape(len(digit), -1).any(axis=1))
        maps = {}
        for name, explainer in explainers.items():
            output = explain(explainer, images, requests)
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
                                   "c_bias": bias[i], "maps": {name: maps[name][i] for name in explainers}})
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
        grid_converged=_concatenated(converged, bool),
        grid_empty=_concatenated(grid_empty, bool),
        examples=(preferred + others)[:num_examples],
        confusion=np.concatenate(confusions) if confusions else np.zeros((0, NUM_CLASSES, NUM_CLASSES), np.int64),
    )


def _mean_or_none(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def summarize_saliency(records: SaliencyRecords) -> SaliencySummary:
    """mCBD and mCBL per digit and method (Fig. 4b/c), with the counts behind every mean.

    Args:
        records: The per-image results.

    Returns:
        Per method the per-digit means and counts and the per-image values behind them (None where an
        image does not count); grid saliency also gets the empty and converged fractions over the valid
        (non-empty) requests.
    """
    valid = ~records.request_empty
    methods = {}
    for name in records.cbd:
        per_digit_cbd, per_digit_cbl, n_cbd, n_cbl = [], [], [], []
        for digit in range(NUM_DIGITS):
            chosen = valid & (records.digit == digit)
            localized = chosen & records.has_bias & records.cbl_defined[name]
            per_digit_cbd.append(_mean_or_none(records.cbd[name][chosen]))
            per_digit_cbl.append(_mean_or_none(records.cbl[name][localized]))
            n_cbd.append(int(chosen.sum()))
            n_cbl.append(int(localized.sum()))
        fractions = {}
        if name == "grid_saliency" and valid.any():
            fractions = {"empty_fraction": float(records.grid_empty[valid].mean()),
                         "converged_fraction": float(records.grid_converged[valid].mean())}
        localized = valid & records.has_bias & records.cbl_defined[name]
        methods[name] = MethodSummary(tuple(per_digit_cbd), tuple(per_digit_cbl), tuple(n_cbd), tuple(n_cbl),
                                      cbd_per_image=_where(records.cbd[name], valid),
                                      cbl_per_image=_where(records.cbl[name], localized), **fractions)
    return SaliencySummary(num_images=int(records.digit.size), num_empty_requests=int(records.request_empty.sum()),
                           methods=methods, digit_per_image=tuple(int(d) for d in records.digit))


def _where(values: np.ndarray, counted: np.ndarray) -> tuple[float | None, ...]:
    """Per image: the value where it counts towards the mean, else None."""
    return tuple(float(v) if c else None for v, c in zip(values, counted))
