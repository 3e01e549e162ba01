"""Bootstrap intervals: analytic widths, determinism, paired use, statistics over arrays, bad input."""

import numpy as np
import pytest

from grid_saliency_tf.experiment import Interval, bootstrap_interval


def test_constant_values_give_a_point_interval():
    interval = bootstrap_interval(np.full(50, 0.7))
    assert (interval.estimate, interval.low, interval.high, interval.num_units) == pytest.approx((0.7, 0.7, 0.7, 50))


def test_width_matches_the_normal_theory_of_the_mean():
    # Standard error of a mean of n unit-variance values is 1/sqrt(n); a 95% interval spans about 2 x 1.96 of it.
    values = np.random.default_rng(1).standard_normal(400)
    interval = bootstrap_interval(values, num_resamples=4000, seed=3)
    expected_half_width = 1.96 * values.std() / np.sqrt(values.size)
    assert interval.estimate == pytest.approx(values.mean())
    assert (interval.high - interval.low) / 2 == pytest.approx(expected_half_width, rel=0.1)
    assert interval.low < interval.estimate < interval.high


def test_seeded_resampling_is_reproducible_and_the_seed_matters():
    values = np.random.default_rng(0).random(30)
    assert bootstrap_interval(values, seed=5) == bootstrap_interval(values, seed=5)
    assert bootstrap_interval(values, seed=5) != bootstrap_interval(values, seed=6)


def test_paired_differences_keep_pairs_together():
    # Method a beats method b by exactly 0.1 on every image: the paired interval is the point 0.1,
    # although each method alone varies a lot over images.
    rng = np.random.default_rng(2)
    b = rng.random(60)
    pairs = np.stack([b + 0.1, b], axis=1)
    interval = bootstrap_interval(pairs, lambda x: float(np.mean(x[:, 0] - x[:, 1])))
    assert interval.low == pytest.approx(0.1) and interval.high == pytest.approx(0.1)
    assert interval.excludes(0.0)


def test_statistic_of_summed_confusion_matrices():
    # IoU of class 1 from per-image confusion matrices: the statistic of the sum, not a mean of ratios.
    # Image 1 all right (IoU 1), image 2 predicts class 1 on 5 class-0 pixels (IoU 0): pooled 15 / 20, not 0.5.
    confusions = np.array([[[5, 0], [0, 15]], [[5, 5], [0, 0]]], dtype=float)
    def iou(c):
        total = c.sum(axis=0)
        return total[1, 1] / (total[1, :].sum() + total[:, 1].sum() - total[1, 1])
    interval = bootstrap_interval(confusions, iou, num_resamples=200)
    assert interval.estimate == pytest.approx(0.75)
    assert interval.low == pytest.approx(0.0) and interval.high == pytest.approx(1.0)
    assert interval.num_units == 2


def test_single_unit_and_formatting():
    interval = bootstrap_interval([0.25])
    assert interval == Interval(0.25, 0.25, 0.25, 1)
    assert interval.format(2) == "0.25 [0.25, 0.25] (n=1)"
    assert interval.to_json()["num_units"] == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"values": []}, "`values` must hold at least one unit"),
    ({"values": [0.1, float("nan")]}, "`values` must be finite"),
    ({"values": [0.1], "num_resamples": 0}, "`num_resamples`"),
    ({"values": [0.1], "confidence": 1.0}, "`confidence` must be in \\(0, 1\\)"),
    ({"values": [0.1], "seed": -1}, "`seed`"),
])
def test_bad_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_interval(**kwargs)


def test_statistic_returning_nan_is_refused():
    with pytest.raises(ValueError, match="`statistic` must return finite values"):
        bootstrap_interval([0.0, 1.0, 2.0], lambda x: float(np.log(x.min())) if x.min() > 0 else float("nan"),
                           num_resamples=50)
