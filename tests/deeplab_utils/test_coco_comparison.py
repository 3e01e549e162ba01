"""Context-reliance measures and paired bootstrap comparisons on hand-made records (supplement S3)."""

import numpy as np
import pytest

from deeplab_utils.coco.comparison import MEASURES, compare_models, measure_sums
from deeplab_utils.coco.records import ClassRecord, ModelImageRecord, RequestRecord

BINS = 3  # two context classes and the unlabelled bin


def _request(index=0, *, pixels=100, converged=True, empty=False, context=0.0, empty_loss=0.0, histogram=(0, 0, 0)):
    return RequestRecord(index=index, pixels=pixels, eroded_pixels=pixels, box=(0, 0, 1, 1), total_loss=0.0,
                         mask_loss=0.0, preservation_loss=0.0 if converged else 0.5, empty_mask_loss=empty_loss,
                         perturbation_value=0.0, converged=converged, empty_saliency=empty, empty_request=False,
                         counted=converged and not empty, context_saliency=context,
                         histogram=tuple(float(v) for v in histogram), low_res_mask=((0.0,),))


def _record(model, image, requests, name="boat"):
    entry = ClassRecord(name=name, class_id=4, candidates=len(requests), min_size_pixels=1,
                        requests=tuple(requests), baseline=(1.0, 1.0, 0.0), baseline_pixels=2)
    return ModelImageRecord(image=image, model=model, height=1, width=1, pixel_accuracy=1.0, classes=(entry,),
                            seconds=0.0)


def test_measures_are_ratios_of_sums_over_the_right_requests():
    entry = _record("a", "x", [_request(0, empty=True), _request(1, context=50.0, empty_loss=0.8),
                               _request(2, converged=False, context=200.0, empty_loss=1.0)]).classes[0]
    assert measure_sums(entry, "self_contained") == (1.0, 3)  # converged and empty, over all requests
    assert measure_sums(entry, "context_area") == (0.5, 2)  # 0/100 + 50/100 over the converged ones
    assert measure_sums(entry, "empty_mask_loss") == pytest.approx((1.8, 3))
    with pytest.raises(ValueError, match="Argument `measure` must be one of"):
        measure_sums(entry, "area")


def test_a_context_reader_ranks_above_a_self_contained_model_with_an_interval_excluding_zero():
    reader = {f"{i}": _record("reader", f"{i}", [_request(context=30.0 + i, empty_loss=0.9,
                                                          histogram=(3.0, 1.0, 0.5))]) for i in range(6)}
    plain = {f"{i}": _record("plain", f"{i}", [_request(empty=True)]) for i in range(6)}
    plain["extra"] = _record("plain", "extra", [_request(empty=True)])  # unpaired: left out
    comparison = compare_models({"reader": reader, "plain": plain}, ["boat"], ["sea", "sky"], num_resamples=200)
    assert comparison.images == 6 and comparison.images_incomplete == 1
    area = comparison.difference("boat", "context_area", "reader", "plain")
    assert area.estimate == pytest.approx(np.mean([(30.0 + i) / 100 for i in range(6)]))
    assert area.excludes_zero and area.low > 0 and area.images == 6 and area.requests_a == 6
    contained = comparison.difference("boat", "self_contained", "reader", "plain")
    assert (contained.estimate, contained.low, contained.high) == (-1.0, -1.0, -1.0)
    row = comparison.statistic("reader", "boat")
    assert row.measures["self_contained"] == 0.0 and row.counted == 6
    np.testing.assert_allclose(row.saliency_distribution, [0.75, 0.25])  # unlabelled excluded
    assert comparison.statistic("plain", "boat").saliency_distribution is None
    again = compare_models({"reader": reader, "plain": plain}, ["boat"], ["sea", "sky"], num_resamples=200)
    assert again == comparison  # seeded


def test_models_without_a_difference_get_an_interval_around_zero_and_pairs_need_both_models():
    rng = np.random.default_rng(0)
    records = {model: {f"{i}": _record(model, f"{i}", [_request(context=float(rng.uniform(0, 50)))])
                       for i in range(20)} for model in ("a", "b")}
    records["b"]["0"] = _record("b", "0", [], name="boat")  # no request of b in image 0: not a pair
    comparison = compare_models(records, ["boat"], ["sea", "sky"], num_resamples=300, seed=3)
    area = comparison.difference("boat", "context_area", "a", "b")
    assert area.images == 19 and area.low < 0 < area.high and not area.excludes_zero
    assert {row.measure for row in comparison.differences} == set(MEASURES)


def test_fewer_than_two_models_or_a_bad_choice_is_refused():
    records = {"a": {"x": _record("a", "x", [_request()])}}
    with pytest.raises(ValueError, match="Argument `records` must hold two or more models"):
        compare_models(records, ["boat"], ["sea", "sky"])
    with pytest.raises(ValueError, match="Argument `ignored` must be one of"):
        compare_models({**records, "b": records["a"]}, ["boat"], ["sea", "sky"], ignored="drop")
