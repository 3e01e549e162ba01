"""Saliency-weighted context histograms, their aggregation, and the aggregate outputs rebuilt from records alone,
on hand-computed examples (Sec. 5, Table 1, Tables S1/S2)."""

import csv
import dataclasses
import io

import numpy as np
import pytest

from deeplab_utils.cityscapes.aggregate import Aggregate, aggregate_records
from deeplab_utils.cityscapes.folders import claim_run
from deeplab_utils.cityscapes.job import optimizer_settings, run_settings
from deeplab_utils.cityscapes.protocol import Protocol
from deeplab_utils.cityscapes.records import GroupOutcome, ImageRecord, RequestOutcome, load_records, record_name
from deeplab_utils.cityscapes.report import finding_holds
from deeplab_utils.cityscapes.statistics import NUM_BINS, group_histograms, label_histogram, normalise
from deeplab_utils.cityscapes.summary import write_aggregate
from grid_saliency_tf.experiment import RecordError, decode_png

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


# ---------------------------------------------------------------- outputs from the records alone

PROTOCOL = Protocol(prediction_classes=("rider",), error_pairs=(("person", "rider"),))


@pytest.fixture()
def run(tmp_path):
    claim_run(tmp_path, run_settings(PROTOCOL, optimizer_settings(), model_name="hand-made", split="val"))
    for record in _records():
        record.save(tmp_path / record_name(record.image))
    return tmp_path


def _csv(path):
    return list(csv.reader(io.StringIO(path.read_text())))


def test_outputs_from_the_records_alone(run):
    aggregate = write_aggregate(run, draw_figures=True)
    out = run / "aggregate"
    assert Aggregate.load(out / "statistics.json") == aggregate == aggregate_records(load_records(run), PROTOCOL.groups)
    rows = _csv(out / "fig6_grid_saliency.csv")
    assert rows[0][:3] == ["group", "images_counted", "road"] and len(rows[0]) == 21 and rows[1][:2] == ["rider", "2"]
    assert float(rows[1][2]) == pytest.approx(0.75 / 3.5, abs=1e-6) and rows[1][-1] == f"{2.25 / 3.5:.6f}"
    table_1 = _csv(out / "table_1.csv")
    assert table_1[0][:4] == ["ground_truth", "prediction", "images_counted", "road"]
    assert table_1[1][:3] == ["person", "rider", "1"] and table_1[1][3] == "0.000000"
    assert _csv(out / "table_s1.csv")[1] == ["rider", "2", "39", "2", "5", "3", "1", "1"]
    assert _csv(out / "table_s2.csv")[1][:4] == ["person", "rider", "1", "45"]
    report = (out / "report.md").read_text()
    assert "Model `hand-made`, split `val`: 2 images aggregated (the paper: 500)" in report
    assert "| rider | 2 | 39 | 5 | 3 | 1 | 1 |" in report
    assert "| rider: bicycle more than the baseline | yes | saliency bicycle 64% vs baseline bicycle 38% |" in report
    assert "| person | rider | 1 | 0% / 9% |" in report
    assert "nan" not in report.lower()
    for name in ("fig6_context_statistics.png", "fig6_context_statistics.pdf", "table_1.png", "table_1.pdf"):
        assert (out / name).stat().st_size > 1000
    assert decode_png((out / "table_1.png").read_bytes()).shape[2] == 3


def test_other_choices_and_another_folder(run):
    aggregate = write_aggregate(run, combine="max", ignored="include", draw_figures=False, folder="max")
    assert aggregate.combine == "max" and (run / "max" / "report.md").is_file()
    assert not (run / "max" / "table_1.png").exists()
    rider = aggregate.group("rider")
    np.testing.assert_allclose(rider.saliency_distribution[18], 1.75 / 3.75)


def test_a_corrupt_record_is_named(run):
    (run / "records/a/a_1.json").write_text('{"schema": "deeplab_utils.cityscapes.image", "schema_version": 1}')
    with pytest.raises(RecordError, match="a_1.json: missing field"):
        write_aggregate(run, draw_figures=False)


def test_temporaries_of_killed_writers_are_skipped(run):
    (run / "records/a/.tmp-a_2-x1y2.json").write_text("{")
    assert [record.image for record in load_records(run)] == ["a/a_1", "b/b_1"]


def test_no_run_or_no_record(tmp_path):
    with pytest.raises(ValueError, match="must be the folder of a Cityscapes run"):
        write_aggregate(tmp_path)
    claim_run(tmp_path, run_settings(PROTOCOL, optimizer_settings(), model_name="m", split="val"))
    with pytest.raises(ValueError, match="holds none yet"):
        write_aggregate(tmp_path)


def test_finding_holds():
    aggregate = aggregate_records(_records(), PROTOCOL.groups)
    assert finding_holds(aggregate, ("rider", "road", "baseline", "less")) == (
        "yes", "saliency road 21% vs baseline road 50%")
    assert finding_holds(aggregate, ("rider", "sidewalk", "road", "more"))[0] == "no"
    assert finding_holds(aggregate, ("car", "road", "baseline", "less")) == ("no data", "group not in this run")


def test_records_round_trip_and_refuse_inconsistent_outcomes(tmp_path):
    record = _records()[0]
    record.save(tmp_path / "r.json")
    assert ImageRecord.load(tmp_path / "r.json") == record
    with pytest.raises(ValueError, match="Argument `counted` must be converged and not empty"):
        dataclasses.replace(record.groups[0].requests[0], converged=False)
    with pytest.raises(ValueError, match="Argument `histogram` must hold 20 finite non-negative sums"):
        dataclasses.replace(record.groups[0].requests[0], histogram=(1.0,) * 19)
    with pytest.raises(ValueError, match="Argument `baseline` must hold 20"):
        dataclasses.replace(record.groups[0], baseline=(-1.0,) * 20)


def test_a_record_in_the_wrong_place_is_refused(run):
    (run / "records/b/b_1.json").rename(run / "records/b/b_2.json")
    with pytest.raises(RecordError, match="holds the record of another image"):
        load_records(run)


def test_histograms_of_another_label_set_have_its_classes_and_one_ignored_bin():
    # COCO's context classes: any count; labels outside it (here 7 and -1) fall into the ignored bin.
    labels = np.array([[0, 1, 2], [2, 7, -1]], np.int32)
    weights = np.array([[0.5, 1.0, 0.25], [0.25, 2.0, 4.0]])
    np.testing.assert_allclose(label_histogram(labels, weights, num_classes=3), [0.5, 1.0, 0.5, 6.0])
    distribution, total = normalise(np.array([1.0, 3.0, 0.0, 6.0]), num_classes=3)
    np.testing.assert_allclose(distribution, [0.25, 0.75, 0.0])
    assert total == 4.0
    masks = np.zeros((1, 2, 3), bool)
    masks[0, 0, 0] = True
    histograms = group_histograms(labels, masks, weights[None], np.array([True]), context="outside_request",
                                  baseline_budget=2, baseline_sharing="radius", num_classes=3)
    np.testing.assert_allclose(histograms.requests[0], [0.0, 1.0, 0.5, 6.0])
    assert histograms.baseline.shape == (4,) and histograms.baseline.sum() == 2
