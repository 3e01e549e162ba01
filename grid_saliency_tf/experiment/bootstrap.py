"""Bootstrap confidence intervals over independent units (images), shared by every report.

The reports of the toy benchmark and of the real-data jobs give each mean with a percentile
bootstrap interval over the units it rests on (images, usually): the units are resampled with
replacement ``num_resamples`` times, the statistic is recomputed on each resample, and the interval
is the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of those values (Efron and
Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13). Paired comparisons pass the per-unit
values of both sides in one array, so that a resample keeps the pairs together.

The statistic sees an array whose first axis is the units: for a mean, ``np.mean(x, axis=0)``; for an
IoU from per-image confusion matrices ``(n, k, k)``, the IoU of their sum. Resampling is seeded, so an
interval is reproducible.

    interval = bootstrap_interval(per_image_cbl, seed=0)
    print(interval.format())   # "0.913 [0.871, 0.944] (n=200)"
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from grid_saliency_tf.validation import check_int, check_number

__all__ = ["DEFAULT_CONFIDENCE", "DEFAULT_NUM_RESAMPLES", "Interval", "bootstrap_interval", "mean_statistic"]

#: Resamples per interval (percentile intervals of 95% are stable to about 0.01 of the spread).
DEFAULT_NUM_RESAMPLES = 1000
#: Coverage of the interval.
DEFAULT_CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Interval:
    """A statistic with its percentile bootstrap interval.

    Attributes:
        estimate: The statistic on all units.
        low: Lower bound of the interval.
        high: Upper bound of the interval.
        num_units: Number of units (images) it rests on.
        confidence: Coverage of the interval, e.g. 0.95.
    """

    estimate: float
    low: float
    high: float
    num_units: int
    confidence: float = DEFAULT_CONFIDENCE

    def excludes(self, value: float) -> bool:
        """Whether ``value`` lies outside ``[low, high]``."""
        return value < self.low or value > self.high

    def format(self, digits: int = 3) -> str:
        """``"estimate [low, high] (n=num_units)"`` with ``digits`` decimals."""
        return f"{self.estimate:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}] (n={self.num_units})"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return dataclasses.asdict(self)


def mean_statistic(values: np.ndarray) -> float:
    """The mean over the units (first axis) of a 1-D array: the default statistic."""
    return float(np.mean(values, axis=0))


def bootstrap_interval(values: Any, statistic: Callable[[np.ndarray], float] = mean_statistic, *,
                       num_resamples: int = DEFAULT_NUM_RESAMPLES, seed: int = 0,
                       confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """The percentile bootstrap interval of ``statistic`` over the units of ``values``.

    Args:
        values: Array of shape ``(n, ...)``: one entry per unit (image), finite. For a paired comparison
            of two methods on the same images, pass their differences ``(n,)`` or both ``(n, 2)`` with a
            statistic that reads the pairs.
        statistic: Maps an array of shape ``(n, ...)`` (units resampled) to a finite float.
        num_resamples: Number of bootstrap resamples (default 1000).
        seed: Seed of the resampling.
        confidence: Coverage in (0, 1) (default 0.95).

    Returns:
        An `Interval`; with a single unit the interval is the estimate itself.

    Raises:
        ValueError: If ``values`` is empty or not finite, or an argument is out of range.
    """
    num_resamples = check_int("num_resamples", num_resamples, low=1)
    seed = check_int("seed", seed, low=0)
    confidence = check_number("confidence", confidence, low=0.0, high=1.0)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"Argument `confidence` must be in (0, 1); received {confidence!r}.")
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0 or array.shape[0] == 0:
        raise ValueError(f"Argument `values` must hold at least one unit; received shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError("Argument `values` must be finite; received NaN or infinite entries.")
    estimate = float(statistic(array))
    count = int(array.shape[0])
    if count == 1:
        return Interval(estimate, estimate, estimate, count, confidence)
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, count, size=(num_resamples, count))
    resampled = np.array([statistic(array[row]) for row in indices], dtype=np.float64)
    if not np.all(np.isfinite(resampled)):
        raise ValueError("Argument `statistic` must return finite values on every resample; received NaN or "
                         "infinite values.")
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(resampled, [tail, 1.0 - tail])
    return Interval(estimate, float(low), float(high), count, confidence)
