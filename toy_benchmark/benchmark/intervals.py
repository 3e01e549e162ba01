"""Bootstrap 95% intervals over test images for the benchmark's means (issue #13).

Every mean of the report (IoU, mCBD and mCBL of each method; the entries "biased digits", "other
digits", "unbiased network" of the Fig. 4 diagonal summary) gets a percentile bootstrap interval over
the test images it rests on, from the per-image values of `metrics.json` (version 3), with
`grid_saliency_tf.experiment.bootstrap_interval` and nothing else:

* IoU (Fig. 4a) is not a mean over images but a ratio of pixel counts summed over images; its interval
  resamples the images' confusion matrices and recomputes the IoU of their sum. Every network of a
  profile is measured on the same unbiased test images, so the per-image matrices of all networks are
  resampled together, and the IoU drop (unbiased network minus biased network) is a paired difference.
* Bias reliance: a biased network's IoU of its bias digit on its own (biased) test set minus on the
  unbiased test set. The two sets hold the same digits, placements and context masks (only the
  textures differ), so it is paired by image too: how much the network loses when its bias texture is
  swapped for another, the counterfactual of Sec. 4.2's induced bias.
* mCBD, mCBL (Eq. 6, 7): the units are (network, image) pairs; the statistic is the mean over the
  matrix cells of the per-cell means, as the Fig. 4 summary computes it (one cell: one network and
  digit).
* Grid saliency against the best gradient method: the paired difference of their CBL on the same
  images, averaged per network.

Each interval says how many images (units) and networks it rests on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from grid_saliency_tf.experiment import bootstrap_interval
from toy_benchmark.benchmark.specs import RunSpec
from toy_benchmark.data.variant import NUM_CLASSES, NUM_DIGITS
from toy_benchmark.evaluation.metrics_record import MetricsRecord

__all__ = ["ENTRIES", "GRADIENT_METHODS", "group_intervals", "grouped_mean"]

#: The entries of a diagonal summary, each with its interval.
ENTRIES = ("biased_digits", "other_digits", "unbiased_network")
#: The gradient baselines compared with grid saliency.
GRADIENT_METHODS = ("vanilla_gradient", "integrated_gradients", "smooth_grad")


def _interval(values: np.ndarray, statistic: Callable[[np.ndarray], float], num_networks: int, *, seed: int,
              num_resamples: int) -> dict[str, Any] | None:
    if values.shape[0] == 0:
        return None
    interval = bootstrap_interval(values, statistic, seed=seed, num_resamples=num_resamples)
    return {**interval.to_json(), "num_networks": num_networks}


def _iou_of_sum(matrices: np.ndarray) -> np.ndarray:
    """IoU per network and class of summed confusion matrices: ``(images, networks, K, K)`` -> ``(networks, K)``,
    NaN where a class is neither present nor predicted."""
    total = matrices.sum(axis=0)
    hits = np.diagonal(total, axis1=-2, axis2=-1)
    union = total.sum(axis=-1) + total.sum(axis=-2) - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, hits / np.maximum(union, 1), np.nan)


def _mean_of_defined(values: np.ndarray) -> float:
    defined = values[np.isfinite(values)]
    return float(defined.mean()) if defined.size else float("nan")


def _iou_intervals(unbiased: Sequence[MetricsRecord], biased: Sequence[tuple[int, MetricsRecord]], *, seed: int,
                   num_resamples: int) -> dict[str, dict[str, Any] | None]:
    """IoU entries and the paired IoU drop, over the shared unbiased test images."""
    records = [m for _, m in biased] + list(unbiased)
    if not biased or any(m.segmentation is None for m in records):
        return {}
    counts = {m.segmentation.num_images for m in records}
    if len(counts) != 1:
        raise ValueError(f"Argument `metrics` must hold IoUs measured on the same unbiased test images; received "
                         f"networks measured on {sorted(counts)} images.")
    matrices = np.stack([np.asarray(m.segmentation.confusion_per_image, np.float64) for m in records], axis=1)
    matrices = matrices.reshape(matrices.shape[0], len(records), NUM_CLASSES, NUM_CLASSES)
    digits = np.array([d for d, _ in biased])
    rows = np.arange(len(biased))
    others = np.array([[c != d for c in range(NUM_DIGITS)] for d in digits])

    def biased_digits(sample: np.ndarray) -> float:
        return _mean_of_defined(_iou_of_sum(sample)[rows, digits])

    def other_digits(sample: np.ndarray) -> float:
        return _mean_of_defined(_iou_of_sum(sample)[: len(biased), :NUM_DIGITS][others])

    def unbiased_network(sample: np.ndarray) -> float:
        """Mean over the biased digits of the unbiased networks' mean IoU of that digit."""
        iou = _iou_of_sum(sample)[len(biased):]
        return _mean_of_defined(np.array([_mean_of_defined(iou[:, d]) for d in np.unique(digits)]))

    def drop(sample: np.ndarray) -> float:
        return unbiased_network(sample) - biased_digits(sample)

    kwargs = {"seed": seed, "num_resamples": num_resamples}
    result = {"biased_digits": _interval(matrices, biased_digits, len(biased), **kwargs),
              "other_digits": _interval(matrices, other_digits, len(biased), **kwargs),
              "unbiased_network": _interval(matrices, unbiased_network, len(unbiased), **kwargs) if unbiased else None}
    result["drop"] = _interval(matrices, drop, len(records), **kwargs) if unbiased else None
    result["reliance"] = _reliance_interval(matrices[:, : len(biased)], biased, digits, **kwargs)
    return result


def _reliance_interval(unbiased_test: np.ndarray, biased: Sequence[tuple[int, MetricsRecord]], digits: np.ndarray, *,
                       seed: int, num_resamples: int) -> dict[str, Any] | None:
    """Mean over the biased networks of their bias digit's IoU on the biased test set minus on the unbiased
    one, paired by image; None where a record lacks the biased test set's IoU (version 3) or its images
    are not as many as the unbiased test set's (then they are not the same images)."""
    counts = {m.biased_segmentation.num_images for _, m in biased if m.biased_segmentation is not None}
    if any(m.biased_segmentation is None for _, m in biased) or counts != {unbiased_test.shape[0]}:
        return None
    own = np.stack([np.asarray(m.biased_segmentation.confusion_per_image, np.float64) for _, m in biased], axis=1)
    both = np.concatenate([own.reshape(unbiased_test.shape), unbiased_test], axis=1)
    rows = np.arange(len(biased))

    def reliance(sample: np.ndarray) -> float:
        iou = _iou_of_sum(sample)
        return _mean_of_defined(iou[rows, digits] - iou[len(biased) + rows, digits])

    return _interval(both, reliance, len(biased), seed=seed, num_resamples=num_resamples)


def grouped_mean(sample: np.ndarray) -> float:
    """Mean over groups (column 0) of the group means of the values (column 1): ``(n, 2)`` -> float, the
    statistic of a bootstrap over units that belong to groups (networks, or Fig. 4 cells)."""
    groups, inverse = np.unique(sample[:, 0], return_inverse=True)
    sums = np.bincount(inverse, weights=sample[:, 1], minlength=len(groups))
    sizes = np.bincount(inverse, minlength=len(groups))
    return float(np.mean(sums / sizes))


def _units(records: Sequence[tuple[int, MetricsRecord]], values: Callable[[MetricsRecord], Sequence[float | None]],
           keep: Callable[[int, int], bool]) -> tuple[np.ndarray, int]:
    """Rows ``(cell, value)`` of the images whose value counts and whose digit ``keep(network digit, image
    digit)`` accepts; a cell is one network and image digit. Also the number of networks with a row."""
    rows, networks = [], set()
    for index, (bias_digit, metrics) in enumerate(records):
        for digit, value in zip(metrics.saliency.digit_per_image, values(metrics)):
            if value is not None and keep(bias_digit, digit):
                rows.append((index * NUM_DIGITS + digit, value))
                networks.add(index)
    return np.array(rows, np.float64).reshape(-1, 2), len(networks)


def _saliency_intervals(unbiased: Sequence[MetricsRecord], biased: Sequence[tuple[int, MetricsRecord]],
                        values: Callable[[MetricsRecord], Sequence[float | None]], *, seed: int,
                        num_resamples: int) -> dict[str, dict[str, Any] | None]:
    bias_digits = {d for d, _ in biased}
    choices = {"biased_digits": (biased, lambda bias, digit: digit == bias),
               "other_digits": (biased, lambda bias, digit: digit != bias),
               "unbiased_network": ([(-1, m) for m in unbiased], lambda bias, digit: digit in bias_digits)}
    result = {}
    for entry, (records, keep) in choices.items():
        rows, networks = _units(records, values, keep)
        result[entry] = _interval(rows, grouped_mean, networks, seed=seed, num_resamples=num_resamples)
    return result


def _paired_cbl_difference(biased: Sequence[tuple[int, MetricsRecord]], method: str, *, seed: int,
                           num_resamples: int) -> dict[str, Any] | None:
    """Grid saliency's CBL minus ``method``'s on the same images of the biased digit, averaged per network."""
    rows, networks = [], set()
    for index, (bias_digit, metrics) in enumerate(biased):
        grid = metrics.saliency.methods["grid_saliency"].cbl_per_image
        other = metrics.saliency.methods[method].cbl_per_image
        for digit, a, b in zip(metrics.saliency.digit_per_image, grid, other):
            if digit == bias_digit and a is not None and b is not None:
                rows.append((index, a - b))
                networks.add(index)
    array = np.array(rows, np.float64).reshape(-1, 2)
    return _interval(array, grouped_mean, len(networks), seed=seed, num_resamples=num_resamples)


def group_intervals(unbiased: Sequence[MetricsRecord], biased: Mapping[RunSpec, MetricsRecord],
                    methods: Sequence[str], *, seed: int = 0, num_resamples: int = 1000) -> dict[str, Any]:
    """Bootstrap 95% intervals over images of every summary entry of one backbone and bias strength.

    Args:
        unbiased: The evaluation records of the unbiased networks (row N of Fig. 4).
        biased: Per biased run, its evaluation record (metrics.json version 3 or 4: per-image values).
        methods: The methods evaluated.
        seed: Seed of every resampling (the intervals are reproducible).
        num_resamples: Bootstrap resamples per interval.

    Returns:
        JSON data: ``{measure: {entry: interval | None}}`` for ``miou`` and ``<mcbd|mcbl>/<method>``,
        entries `ENTRIES` (an interval: ``{"estimate", "low", "high", "num_units", "confidence",
        "num_networks"}``, ``num_units`` the images), and ``"differences"``: ``"iou_drop"`` (unbiased
        network minus biased digits, paired by image), ``"bias_reliance"`` (the biased networks' IoU of their
        bias digit on their biased test set minus on the unbiased one, paired by image; None for version-3
        records) and ``"grid_minus_best_gradient_cbl"`` (paired by
        image, against the gradient method with the highest mCBL of the biased digits, named in
        ``"best_gradient_method"``).

    Raises:
        ValueError: If the networks' IoUs rest on different test images.
    """
    pairs = [(spec.bias_digit, m) for spec, m in biased.items()]
    kwargs = {"seed": seed, "num_resamples": num_resamples}
    iou = _iou_intervals(unbiased, pairs, **kwargs)
    result: dict[str, Any] = {"miou": {entry: iou.get(entry) for entry in ENTRIES}} if iou else {}
    for method in methods:
        for measure in ("mcbd", "mcbl"):
            per_image = f"{measure[1:]}_per_image"  # mcbd -> cbd_per_image
            result[f"{measure}/{method}"] = _saliency_intervals(
                unbiased, pairs, lambda m, method=method, name=per_image: getattr(m.saliency.methods[method], name),
                **kwargs)
    differences: dict[str, Any] = {"iou_drop": iou.get("drop"), "bias_reliance": iou.get("reliance")}
    gradients = [m for m in GRADIENT_METHODS if m in methods and result[f"mcbl/{m}"]["biased_digits"] is not None]
    if "grid_saliency" in methods and gradients and pairs:
        best = max(gradients, key=lambda m: result[f"mcbl/{m}"]["biased_digits"]["estimate"])
        differences["best_gradient_method"] = best
        differences["grid_minus_best_gradient_cbl"] = _paired_cbl_difference(pairs, best, **kwargs)
    result["differences"] = differences
    return result
