"""The paper's effect, measured per backbone and bias strength (Sec. 4.2, Fig. 4 and S10)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["EFFECT_MARGIN", "GRADIENT_METHODS", "effect_checks"]

#: How much higher the biased digit's grid saliency mCBD must be to count as "clearly higher", and how
#: much lower its IoU must be to count as a drop (absolute, both in [0, 1]).
EFFECT_MARGIN = 0.05
#: The gradient baselines that should localise the bias worse than grid saliency.
GRADIENT_METHODS = ("vanilla_gradient", "integrated_gradients", "smooth_grad")


def effect_checks(summary: Mapping[str, Mapping[str, Mapping[str, float | None]]],
                  methods: Iterable[str], *, margin: float = EFFECT_MARGIN) -> dict[str, dict[str, bool]]:
    """Checks the paper's effect in every backbone/strength group of an aggregated benchmark.

    * ``iou_drop``: the biased networks' IoU of their biased digit is lower than the unbiased network's
      by at least ``margin``.
    * ``grid_cbd_detects``: grid saliency mCBD of the biased digit exceeds both the other digits' and the
      unbiased network's mCBD of that digit by at least ``margin``.
    * ``grid_cbl_at_least_0.9``: grid saliency mCBL of the biased digit is at least 0.9.
    * ``gradients_localize_worse``: VG, IG and SG all have a lower mCBL than grid saliency.

    A check whose numbers are missing (no run, no defined mean) is left out.

    Args:
        summary: Per group, per measure (``"miou"``, ``"mcbd/<method>"``, ``"mcbl/<method>"``), the means
            ``{"biased_digits", "other_digits", "unbiased_network"}`` (see
            :func:`~toy_benchmark.benchmark.aggregation.aggregate`).
        methods: The methods evaluated.
        margin: The margin of "lower" and "higher", in [0, 1].

    Returns:
        Per group, check name to whether it holds.
    """
    methods = tuple(methods)
    checks: dict[str, dict[str, bool]] = {}
    for group, entries in summary.items():
        iou = entries["miou"]
        grid_cbd = entries.get("mcbd/grid_saliency", {})
        grid_cbl = entries.get("mcbl/grid_saliency", {}).get("biased_digits")
        group_checks: dict[str, Any] = {}
        if iou["biased_digits"] is not None and iou["unbiased_network"] is not None:
            group_checks["iou_drop"] = iou["biased_digits"] <= iou["unbiased_network"] - margin
        if grid_cbd.get("biased_digits") is not None:
            biased = grid_cbd["biased_digits"]
            higher_than_others = grid_cbd["other_digits"] is None or biased >= grid_cbd["other_digits"] + margin
            higher_than_unbiased = grid_cbd["unbiased_network"] is None or biased >= grid_cbd["unbiased_network"] + margin
            group_checks["grid_cbd_detects"] = bool(higher_than_others and higher_than_unbiased)
        if grid_cbl is not None:
            group_checks["grid_cbl_at_least_0.9"] = grid_cbl >= 0.9
            gradient_cbl = [entries.get(f"mcbl/{m}", {}).get("biased_digits") for m in GRADIENT_METHODS if m in methods]
            if gradient_cbl and all(v is not None for v in gradient_cbl):
                group_checks["gradients_localize_worse"] = all(v < grid_cbl for v in gradient_cbl)
        checks[group] = group_checks
    return checks
