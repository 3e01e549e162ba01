"""Saliency-weighted context histograms and their aggregation, computed by hand on tiny label maps (Sec. 5)."""

import dataclasses

import numpy as np
import pytest

from deeplab_utils.cityscapes.aggregate import aggregate_records
from deeplab_utils.cityscapes.records import GroupOutcome, ImageRecord, RequestOutcome
from deeplab_utils.cityscapes.statistics import NUM_BINS, group_histograms, label_histogram, normalise

ROAD, SIDEWALK, BUILDING, BICYCLE, IGNORED = 0, 1, 2, 18, 19
GT = np.array([[0, 1, 18, 255], [2, 2, 0, 1]], np.uint8)
MASKS = np.zeros((2, 2, 4), bool)
MASKS[0, 0, 0] = MASKS[1, 1, 3] = True
SALIENCY = np.array([[[1.0, 0.5, 0.25, 1.0], [0.0, 0.0, 0.0, 0.0]],
                     [[0.5, 0.0, 0.0, 0.0], [0.75, 0.0, 0.0, 1.0]]], np.float32)


def _bins(**entries):
    histogram = np.zeros(NUM_BINS)
    for index, value in entries.items():
        histogram[int(index[1:])] = value
    return histogram


def test_label_histogram_weights_and_ignored_bin():
    np.testing.assert_array_equal(label_histogram(GT), _bins(b0=2, b1=2, b2=2, b18=1, b19=1))
    np.testing.assert_array_equal(label_histogram(GT, SALIENCY[0]), _bins(b0=1.0, b1=0.5, b18=0.25, b19=1.0))
    np.testing.assert_array_equal(label_histogram(GT, where=GT == 2), _bins(b2=2))


def test_group_histograms_outside_the_request():
    result = group_histograms(GT, MASKS, SALIENCY, np.array([True, True]), context="outside_request",
                              baseline_budget=2, baseline_sharing="radius")
    # Request 0 leaves out its own pixel (0, 0); request 1 its pixel (1, 3).
    np.testing.assert_array_equal(result.requests[0], _bins(b1=0.5, b18=0.25, b19=1.0))
    np.testing.assert_array_equal(result.requests[1], _bins(b0=0.5, b2=0.75))
    # Max of the two saliencies, outside both requests.
    np.testing.assert_array_equal(result.combined_max, _bins(b1=0.5, b2=0.75, b18=0.25, b19=1.0))
    # Four pixels at distance 1; the budget of 2 takes (0, 1) and (0, 3) in raster order.
    np.testing.assert_array_equal(result.baseline, _bins(b1=1, b19=1))
    assert result.baseline_pixels == 2
    np.testing.assert_array_equal(result.baseline_counted, result.baseline)


def test_group_histograms_everywhere_and_uncounted_requests():
    result = group_histograms(GT, MASKS, SALIENCY, np.array([True, False]), context="everywhere",
                              baseline_budget=2, baseline_sharing="radius")
    np.testing.assert_array_equal(result.requests[0], _bins(b0=1.0, b1=0.5, b18=0.25, b19=1.0))
    np.testing.assert_array_equal(result.combined_max, result.requests[0])   # only request 0 counts
    np.testing.assert_array_equal(result.baseline_counted, _bins(b1=1, b2=1))  # ring of (0, 0): (0, 1), (1, 0)
    none = group_histograms(GT, MASKS, SALIENCY, np.array([False, False]), context="outside_request",
                            baseline_budget=2, baseline_sharing="radius")
    assert not none.combined_max.any() and not none.baseline_counted.any() and none.baseline.sum() == 2


def test_group_histograms_refuses_mismatched_shapes_and_unknown_context():
    with pytest.raises(ValueError, match="must have shapes"):
        group_histograms(GT, MASKS, SALIENCY[:1], np.array([True, True]), context="everywhere",
                         baseline_budget=2, baseline_sharing="radius")
    with pytest.raises(ValueError, match="Argument `context` must be one of"):
        group_histograms(GT, MASKS, SALIENCY, np.array([True, True]), context="inside",
                         baseline_budget=2, baseline_sharing="radius")


def test_normalise_excludes_or_includes_ignored_and_never_divides_by_zero():
    histogram = _bins(b0=1.0, b1=3.0, b19=4.0)
    distribution, total = normalise(histogram)
    assert total == 4.0 and distribution[0] == 0.25 and distribution[1] == 0.75 and distribution.sum() == 1.0
    distribution, total = normalise(histogram, "include")
    assert total == 8.0 and distribution[1] == 0.375 and distribution.sum() == 0.5
    distribution, total = normalise(_bins(b19=2.0))
    assert total == 0.0 and not distribution.any() and not np.isnan(distribution).any()


def _request(index, histogram, converged=True, empty=False):
    return RequestOutcome(index=index, pixels=10, eroded_pixels=4, box=(0, 0, 2, 5), total_loss=0.1, mask_loss=0.05,
                          preservation_loss=0.05 if converged else 0.5, perturbation_value=0.0, converged=converged,
                          empty_saliency=empty, empty_request=False, counted=converged and not empty,
                          histogram=tuple(histogram), low_res_mask=((0.0, 1.0),))


def _group(group, requests, combined, baseline):
    truth, _, prediction = group.rpartition("/")
    return GroupOutcome(group=group, kind="error" if truth else "prediction", class_id=12,
                        ground_truth_id=11 if truth else None, candidates=len(requests), min_size_pixels=40,
                        requests=tuple(requests), combined_max=tuple(combined), baseline=tuple(baseline),
                        baseline_counted=tuple(baseline), baseline_pixels=int(sum(baseline)))


def _records():
    zero = _bins()
    first = ImageRecord(image="a/a_1", height=2, width=4, pixel_accuracy=0.5, seconds=1.0, groups=(
        _group("rider", [_request(0, _bins(b1=0.5, b18=0.25, b19=1.0)),
                         _request(1, _bins(b0=9.0), converged=False)],
               combined=_bins(b1=0.5, b18=0.25, b19=1.0), baseline=_bins(b0=3, b1=1)),
        _group("person/rider", [], zero, zero)))
    second = ImageRecord(image="b/b_1", height=2, width=4, pixel_accuracy=1.0, seconds=1.0, groups=(
        _group("rider", [_request(0, _bins(b0=0.5, b18=1.5)), _request(1, _bins(b0=0.25, b18=0.5)),
                         _request(2, zero, empty=True)],
               combined=_bins(b0=0.5, b18=1.5), baseline=_bins(b0=1, b18=3)),
        _group("person/rider", [_request(0, _bins(b2=2.0))], _bins(b2=2.0), _bins(b2=4.0))))
    return [second, first]


def test_aggregate_sums_counted_requests_over_images():
    aggregate = aggregate_records(_records(), ["rider", "person/rider"])
    rider = aggregate.group("rider")
    assert (rider.images, rider.images_counted, rider.requests, rider.counted) == (2, 2, 5, 3)
    assert (rider.not_converged, rider.empty_saliency) == (1, 1)
    # Sums of the counted requests: road 0.5 + 0.25, sidewalk 0.5, bicycle 0.25 + 1.5 + 0.5, ignored 1.0.
    np.testing.assert_array_equal(rider.saliency, _bins(b0=0.75, b1=0.5, b18=2.25, b19=1.0))
    expected = np.zeros(19)
    expected[[0, 1, 18]] = [0.75 / 3.5, 0.5 / 3.5, 2.25 / 3.5]
    np.testing.assert_allclose(rider.saliency_distribution, expected, rtol=1e-15)
    np.testing.assert_allclose(np.asarray(rider.baseline_distribution)[[0, 1, 18]], [0.5, 0.125, 0.375], rtol=1e-15)
    pair = aggregate.group("person/rider")
    assert (pair.kind, pair.images, pair.images_counted) == ("error", 1, 1)
    assert pair.saliency_distribution[2] == 1.0
    assert aggregate.images == 2 and aggregate.mean_pixel_accuracy == 0.75


def test_aggregate_choices():
    rider_max = aggregate_records(_records(), ["rider"], combine="max").group("rider")
    np.testing.assert_array_equal(rider_max.saliency, _bins(b0=0.5, b1=0.5, b18=1.75, b19=1.0))
    rider_all = aggregate_records(_records(), ["rider"], ignored="include").group("rider")
    assert rider_all.saliency_distribution[18] == 2.25 / 4.5
    with pytest.raises(ValueError, match="Argument `combine` must be one of"):
        aggregate_records(_records(), ["rider"], combine="mean")


def test_aggregate_of_a_group_without_saliency_has_no_distribution():
    records = [dataclasses.replace(record, groups=record.groups[:1]) for record in _records()]
    records = [dataclasses.replace(records[0], groups=(dataclasses.replace(
        records[0].groups[0], requests=tuple(dataclasses.replace(r, converged=False, counted=False,
                                                                 preservation_loss=0.5)
                                             for r in records[0].groups[0].requests)),))]
    rider = aggregate_records(records, ["rider"]).group("rider")
    assert rider.counted == 0 and rider.saliency_distribution is None and rider.baseline_distribution is not None


def test_aggregate_refuses_a_duplicate_image_and_a_missing_group():
    with pytest.raises(ValueError, match="one record per image"):
        aggregate_records(_records() + _records()[:1], ["rider"])
    with pytest.raises(ValueError, match="has no group 'car'"):
        aggregate_records(_records(), ["car"])
