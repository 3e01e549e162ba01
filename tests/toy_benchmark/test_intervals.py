"""Bootstrap intervals over images for the benchmark's means and the interval-based effect checks (issue #13)."""

import dataclasses

import numpy as np
import pytest

from grid_saliency_tf.experiment import bootstrap_interval
from toy_benchmark.benchmark import MIN_CBL_IMAGES, RunSpec, effect_checks, group_intervals
from toy_benchmark.evaluation import MethodSummary, MetricsRecord, SaliencySummary, SegmentationMetrics

METHODS = ("grid_saliency", "vanilla_gradient")
BIASED = RunSpec("vgg16", "strong", 3, 0, 0)


def _segmentation(confusions):
    total = np.sum(confusions, axis=0)
    return SegmentationMetrics((0.5,) * 11, (0.5,) * 10, 0.5, len(confusions),
                               tuple(tuple(int(v) for v in row) for row in total),
                               tuple(tuple(int(v) for v in m.ravel()) for m in confusions))


def _record(digits, grid_cbl, gradient_cbl, cbd, confusions, own_confusions=None):
    """A record from per-image values (None: the image does not count), digits 0..9; ``own_confusions``
    are those on the biased test set (None: a version-3 record without them)."""
    def summary(cbl):
        per_digit = lambda values: tuple(  # noqa: E731
            float(np.mean(v)) if (v := [x for x, d in zip(values, digits) if d == k and x is not None]) else None
            for k in range(10))
        count = lambda values: tuple(sum(1 for x, d in zip(values, digits) if d == k and x is not None)  # noqa: E731
                                     for k in range(10))
        return MethodSummary(per_digit(cbd), per_digit(cbl), count(cbd), count(cbl), tuple(cbd), tuple(cbl))

    return MetricsRecord(run={}, datasets={"biased_test": {}, "unbiased_test": {}}, settings={}, seconds=1.0,
                         segmentation=_segmentation(confusions),
                         biased_segmentation=None if own_confusions is None else _segmentation(own_confusions),
                         saliency=SaliencySummary(
                             len(digits), 0, {"grid_saliency": summary(grid_cbl), "vanilla_gradient": summary(gradient_cbl)},
                             tuple(digits)))


def _confusion(digit, hit):
    matrix = np.zeros((11, 11), np.int64)
    matrix[digit, digit], matrix[digit, 10], matrix[10, 10] = hit, 100 - hit, 1000
    return matrix


def _pair(rng, *, num_images=200, grid_cbl=None, hit_biased=0, hit_unbiased=60, hit_own=None):
    digits = [i % 10 for i in range(num_images)]
    grid = [(grid_cbl[i // 10] if grid_cbl is not None else float(rng.uniform(0.8, 1.0))) if d == 3 else None
            for i, d in enumerate(digits)]
    gradient = [float(rng.uniform(0.3, 0.7)) if d == 3 else None for d in digits]
    biased_cbd = [float(rng.uniform(0.3, 0.5)) if d == 3 else float(rng.uniform(0.0, 0.02)) for d in digits]
    unbiased_cbd = [float(rng.uniform(0.0, 0.02)) for _ in digits]
    hits = lambda hit3: [_confusion(d, hit3 if d == 3 else 70) for d in digits]  # noqa: E731
    none = [None] * num_images
    own = None if hit_own is None else hits(hit_own)
    return (_record(digits, none, none, unbiased_cbd, hits(hit_unbiased)),
            _record(digits, grid, gradient, biased_cbd, hits(hit_biased), own))


def test_intervals_match_the_shared_bootstrap_and_count_images_and_networks():
    unbiased, biased = _pair(np.random.default_rng(0))
    result = group_intervals([unbiased], {BIASED: biased}, METHODS)
    grid_cbl = result["mcbl/grid_saliency"]["biased_digits"]
    values = [v for v in biased.saliency.methods["grid_saliency"].cbl_per_image if v is not None]
    expected = bootstrap_interval(np.column_stack([np.full(len(values), 3.0), values]),
                                  lambda sample: float(sample[:, 1].mean()), seed=0)
    assert (grid_cbl["estimate"], grid_cbl["low"], grid_cbl["high"]) == pytest.approx(
        (expected.estimate, expected.low, expected.high))
    assert grid_cbl["num_units"] == 20 and grid_cbl["num_networks"] == 1
    assert grid_cbl["estimate"] == pytest.approx(biased.saliency.methods["grid_saliency"].mcbl_per_digit[3])
    other = result["mcbd/grid_saliency"]["other_digits"]
    assert other["num_units"] == 180 and other["low"] <= other["estimate"] <= other["high"]
    # IoU: a ratio of summed pixel counts, resampled by image and paired between the networks.
    iou = result["miou"]
    assert iou["biased_digits"]["estimate"] == 0.0 and iou["unbiased_network"]["estimate"] == pytest.approx(0.6)
    assert iou["other_digits"]["estimate"] == pytest.approx(0.7) and iou["biased_digits"]["num_units"] == 200
    drop = result["differences"]["iou_drop"]
    assert drop["estimate"] == pytest.approx(0.6) and drop["low"] == pytest.approx(0.6)  # same ratio in every image
    assert drop["num_networks"] == 2
    assert result["differences"]["best_gradient_method"] == "vanilla_gradient"
    assert result["differences"]["grid_minus_best_gradient_cbl"]["low"] > 0.2
    # Reproducible: the same seed gives the same intervals, another seed other ones.
    assert group_intervals([unbiased], {BIASED: biased}, METHODS) == result
    assert group_intervals([unbiased], {BIASED: biased}, METHODS, seed=1) != result


def test_checks_pass_only_where_the_interval_supports_the_effect():
    """Issue #13: a grid mCBL of 0.913 on 20 images read as "mCBL >= 0.9" though its interval reaches far
    below; the interval-based check refuses it and accepts a mean whose interval clears 0.9."""
    rng = np.random.default_rng(0)
    lucky = [1.0] * 16 + [0.6, 0.65, 0.75, 0.26]  # mean 0.913, the old single-run figure
    unbiased, biased = _pair(rng, grid_cbl=lucky)
    intervals = group_intervals([unbiased], {BIASED: biased}, METHODS)
    cbl = intervals["mcbl/grid_saliency"]["biased_digits"]
    assert cbl["estimate"] == pytest.approx(0.913) and cbl["low"] < 0.9
    checks = effect_checks({"g": intervals}, METHODS)["g"]
    assert checks == {"iou_drop": True, "grid_cbd_detects": True, "grid_cbl_at_least_0.9": False,
                      "gradients_localize_worse": True}
    unbiased, biased = _pair(rng, grid_cbl=[1.0] * 19 + [0.9])
    assert all(effect_checks({"g": group_intervals([unbiased], {BIASED: biased}, METHODS)}, METHODS)["g"].values())


def test_localisation_checks_need_enough_images():
    """Issue #13: at the paper's initial value 0.5 only 4 of 20 biased-digit masks kept context, all on the
    bias: mCBL 1.00 [1.00, 1.00] on 4 images "passed". Fewer than MIN_CBL_IMAGES images pass nothing."""
    rng = np.random.default_rng(2)
    few = [1.0] * (MIN_CBL_IMAGES - 1) + [None] * (21 - MIN_CBL_IMAGES)
    unbiased, biased = _pair(rng, grid_cbl=few)
    intervals = group_intervals([unbiased], {BIASED: biased}, METHODS)
    cbl = intervals["mcbl/grid_saliency"]["biased_digits"]
    assert (cbl["low"], cbl["num_units"]) == (1.0, MIN_CBL_IMAGES - 1)
    assert intervals["differences"]["grid_minus_best_gradient_cbl"]["low"] > 0
    checks = effect_checks({"g": intervals}, METHODS)["g"]
    assert not checks["grid_cbl_at_least_0.9"] and not checks["gradients_localize_worse"]
    assert all(effect_checks({"g": intervals}, METHODS, min_images=MIN_CBL_IMAGES - 1)["g"].values())


def test_overlapping_intervals_detect_nothing():
    rng = np.random.default_rng(1)
    unbiased, biased = _pair(rng, hit_biased=58)  # an IoU drop of 0.02: less than the margin
    intervals = group_intervals([unbiased], {BIASED: biased}, METHODS)
    assert not effect_checks({"g": intervals}, METHODS)["g"]["iou_drop"]
    digits = list(biased.saliency.digit_per_image)
    noisy = [float(rng.uniform(0.0, 0.5)) for _ in digits]  # biased digit no different from the others
    none = [None] * len(digits)
    confusions = [np.reshape(m, (11, 11)) for m in biased.segmentation.confusion_per_image]
    flat = _record(digits, none, none, noisy, confusions)
    intervals = group_intervals([unbiased], {BIASED: flat}, METHODS)
    assert not effect_checks({"g": intervals}, METHODS)["g"]["grid_cbd_detects"]


def test_iou_of_networks_measured_on_other_images_is_refused():
    unbiased, biased = _pair(np.random.default_rng(0))
    _, fewer = _pair(np.random.default_rng(0), num_images=100)
    with pytest.raises(ValueError, match="Argument `metrics` must hold IoUs measured on the same unbiased test images"):
        group_intervals([unbiased], {BIASED: fewer}, METHODS)


def test_an_iou_drop_without_reliance_on_the_bias_is_no_learned_bias():
    """Issue #13, bias texture 7: the biased network's digit-3 IoU on the unbiased test set dropped (0.77 to
    0.41: the IoU-drop check passed), but it was as low on its own biased test set (it segmented 3 worse
    everywhere and kept its prediction with the context replaced by any constant), so there was no
    context bias for grid saliency to find. The reliance (IoU on the biased test images minus on the
    same images with unbiased textures, paired) tells the two apart."""
    rng = np.random.default_rng(3)
    unbiased, worse_everywhere = _pair(rng, hit_biased=30, hit_own=30)
    intervals = group_intervals([unbiased], {BIASED: worse_everywhere}, METHODS)
    reliance = intervals["differences"]["bias_reliance"]
    assert reliance["estimate"] == pytest.approx(0.0) and reliance["num_units"] == 200
    assert reliance["num_networks"] == 1
    checks = effect_checks({"g": intervals}, METHODS)["g"]
    assert checks["iou_drop"] and not checks["bias_learned"]
    # A network that relies on its texture: 90 of 100 digit pixels with it, 30 without.
    unbiased, relies = _pair(rng, hit_biased=30, hit_own=90)
    intervals = group_intervals([unbiased], {BIASED: relies}, METHODS)
    reliance = intervals["differences"]["bias_reliance"]
    assert (reliance["estimate"], reliance["low"]) == pytest.approx((0.6, 0.6))  # same in every image
    assert effect_checks({"g": intervals}, METHODS)["g"]["bias_learned"]
    # Without the biased test set's IoU (a version-3 record) the check is left out, not guessed.
    unbiased, old = _pair(rng, hit_biased=30)
    intervals = group_intervals([unbiased], {BIASED: old}, METHODS)
    assert intervals["differences"]["bias_reliance"] is None
    assert "bias_learned" not in effect_checks({"g": intervals}, METHODS)["g"]
    # Measured on other images than the unbiased test set's (another count): not paired, left out.
    unbiased, relies = _pair(rng, hit_biased=30, hit_own=90)
    own = relies.biased_segmentation
    fewer = dataclasses.replace(relies, biased_segmentation=_segmentation(
        np.reshape(own.confusion_per_image[:100], (100, 11, 11))))
    assert group_intervals([unbiased], {BIASED: fewer}, METHODS)["differences"]["bias_reliance"] is None


def test_bias_reliance_pairs_each_network_with_its_own_bias_digit():
    rng = np.random.default_rng(4)
    unbiased, three = _pair(rng, hit_biased=20, hit_own=80)
    digits = [i % 10 for i in range(200)]
    five = _record(digits, [None] * 200, [None] * 200, [0.0] * 200,
                   [_confusion(d, 50 if d == 5 else 70) for d in digits],
                   [_confusion(d, 60 if d == 5 else 70) for d in digits])
    biased = {BIASED: three, RunSpec("vgg16", "strong", 5, 0, 0): five}
    reliance = group_intervals([unbiased], biased, METHODS)["differences"]["bias_reliance"]
    assert reliance["estimate"] == pytest.approx((0.6 + 0.1) / 2) and reliance["num_networks"] == 2
