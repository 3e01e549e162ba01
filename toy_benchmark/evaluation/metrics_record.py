"""The ``metrics.json`` of an evaluation: its schema (docs/toy_benchmark.md) and its check."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from toy_benchmark.data.variant import NUM_CLASSES, NUM_DIGITS
from toy_benchmark.evaluation.explainers import METHODS

__all__ = ["METRICS_FILE", "SCHEMA_VERSION", "validate_metrics"]

METRICS_FILE = "metrics.json"
SCHEMA_VERSION = 1


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
