"""Evaluation of a toy network: metrics.json schema, request handling, the evaluate binary."""

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from grid_saliency_tf.experiment import RecordError
from tests.binary_cases import run_cases
from toy_benchmark.evaluation import (METHODS, ExplainerPool, MetricsRecord, SaliencyRecords, evaluate, load_model,
                                     summarize_saliency)
from toy_benchmark.models import ToyUNet
from toy_benchmark.data.streaming import make_dataset
from toy_benchmark.data.variant import DatasetVariant
from toy_benchmark.evaluation.segmentation import segmentation_metrics

pytestmark = pytest.mark.heavy  # holds tests of 15 s or more: scheduled first (tests/conftest.py)

BIASED = DatasetVariant("strong", 3, 7, split="test", num_samples=20)
UNBIASED = DatasetVariant("none", split="test", num_samples=20)


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory):
    model = ToyUNet("vgg16", width=0.0625, seed=0)
    path = tmp_path_factory.mktemp("model") / "model.keras"
    model.save(path)
    return str(path)


def test_evaluate_writes_schema_valid_metrics_and_examples_and_completes_a_version_3_record_once(tiny_model_path,
                                                                                                   tmp_path):
    """Every method's metrics in schema version 4; then the same folder as written before version 4 is
    resumed, not redone: one forward pass adds the biased test set's IoU (for the bias-reliance check) and
    the record is saved; the saliency values stay. (One evaluation for both: tracing the five explainers is
    most of its time.)"""
    model = load_model(tiny_model_path)
    arguments = dict(biased_test=BIASED, unbiased_test=UNBIASED, batch_size=10, grid_saliency={"steps": 3},
                     info={"model": tiny_model_path})
    metrics = evaluate(model, tmp_path, **arguments)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert (on_disk["schema"], on_disk["schema_version"]) == ("toy_benchmark.metrics", 4)
    assert MetricsRecord.from_dict(on_disk) == metrics == MetricsRecord.load(tmp_path / "metrics.json")
    assert metrics.seconds > 0
    assert set(on_disk["saliency"]["methods"]) == set(METHODS)
    assert on_disk["segmentation"]["num_images"] == 20
    assert sum(map(sum, on_disk["segmentation"]["confusion"])) == 20 * 64 * 64
    counts = on_disk["saliency"]["methods"]["grid_saliency"]["num_images_per_digit"]
    assert sum(counts) + on_disk["saliency"]["num_empty_requests"] == 20
    # Version 3 keeps the per-image values behind every mean (issue #13: bootstrap intervals over images).
    per_image = np.array(on_disk["segmentation"]["confusion_per_image"]).reshape(20, 11, 11)
    assert (per_image.sum(axis=(1, 2)) == 64 * 64).all()
    np.testing.assert_array_equal(per_image.sum(axis=0), on_disk["segmentation"]["confusion"])
    assert len(on_disk["saliency"]["digit_per_image"]) == 20
    for method, entry in on_disk["saliency"]["methods"].items():
        digits = np.array(on_disk["saliency"]["digit_per_image"])
        for digit in range(10):
            values = [v for v, d in zip(entry["cbd_per_image"], digits) if d == digit and v is not None]
            assert len(values) == entry["num_images_per_digit"][digit]
            if values:
                assert np.mean(values) == pytest.approx(entry["mcbd_per_digit"][digit]), method
    assert on_disk["settings"]["grid_saliency"]["steps"] == 3
    assert (tmp_path / "examples.png").stat().st_size > 0 or on_disk["saliency"]["num_empty_requests"] == 20
    # Version 4: the IoU on the biased test set, from the predictions the requests came from, equals a
    # separate pass over that set.
    assert metrics.biased_segmentation == segmentation_metrics(model, make_dataset(BIASED, batch_size=7))

    # Version 3 (no biased test set IoU) is completed once, from the model file as the binaries pass it.
    fresh = metrics
    old = json.loads((tmp_path / "metrics.json").read_text())
    old["schema_version"] = 3
    del old["biased_segmentation"]
    (tmp_path / "metrics.json").write_text(json.dumps(old))
    assert MetricsRecord.load(tmp_path / "metrics.json").biased_segmentation is None
    completed = evaluate(tiny_model_path, tmp_path, **arguments)
    assert completed == fresh  # same numbers; seconds are the first run's
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["schema_version"] == 4 and on_disk["biased_segmentation"]["num_images"] == 20
    stamp = (tmp_path / "metrics.json").stat().st_mtime_ns
    assert evaluate(tiny_model_path, tmp_path, **arguments) == fresh
    assert (tmp_path / "metrics.json").stat().st_mtime_ns == stamp  # complete now: not written again


def test_a_parameter_sweep_traces_grid_saliency_once_and_logs_no_retracing(tiny_model_path, tmp_path):
    """Bug (issue 13): every Fig. S11 setting built a new optimizer, so the sweep traced the optimisation once
    per setting and TensorFlow logged "triggered tf.function retracing" warnings."""
    model = load_model(tiny_model_path)
    small = DatasetVariant("strong", 3, 7, split="test", num_samples=5)
    # Six settings: TensorFlow warns once 5 of the last 10 calls of one function traced.
    settings = [{"mask_weight": 0.2}, {"learning_rate": 1.0}, {"momentum": 0.0}, {"momentum": 0.9},
                {"initial_value": 1.0}, {"mask_weight": 0.01, "initial_value": 0.25}]
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    tf.get_logger().addHandler(handler)
    pool = ExplainerPool()
    try:
        for index, setting in enumerate(settings):
            metrics = evaluate(model, tmp_path / str(index), biased_test=small, unbiased_test=None,
                               methods=("grid_saliency",), batch_size=5, num_examples=0,
                               grid_saliency={"steps": 2, **setting}, explainer_pool=pool)
            recorded = metrics.settings["grid_saliency"]
            assert {key: recorded[key] for key in setting} == setting and recorded["steps"] == 2
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [record.getMessage() for record in records if "retracing" in record.getMessage()]
    assert pool.build(model, ("grid_saliency",), grid_saliency={"steps": 2})["grid_saliency"].tracing_count == 1
    # Another graph setting or another network: a new optimizer, not yet traced.
    assert pool.build(model, ("grid_saliency",), grid_saliency={"steps": 3})["grid_saliency"].tracing_count == 0
    assert pool.build(load_model(tiny_model_path), ("grid_saliency",),
                      grid_saliency={"steps": 3})["grid_saliency"].tracing_count == 0


def test_evaluation_folder_of_other_settings_is_refused_unless_overwrite(tiny_model_path, tmp_path):
    """Bug: an evaluation into the folder of an earlier one with other settings overwrote its metrics.json
    and examples.png. Now it is refused (naming what differs) unless `overwrite`; the same settings resume."""
    model = load_model(tiny_model_path)
    small = DatasetVariant("strong", 3, 7, split="test", num_samples=10)
    larger = DatasetVariant("strong", 3, 7, split="test", num_samples=12)
    arguments = dict(unbiased_test=None, methods=("vanilla_gradient",), batch_size=10, info={"model": "tiny"})
    first = evaluate(model, tmp_path, biased_test=small, **arguments)
    written = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    assert "metrics.json" in written
    with pytest.raises(ValueError, match="holds another run.*num_samples: recorded 10, requested 12"):
        evaluate(model, tmp_path, biased_test=larger, **arguments)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()} == written
    stamp = (tmp_path / "metrics.json").stat().st_mtime_ns
    assert evaluate(model, tmp_path, biased_test=small, **arguments) == first  # resumed: finished, not redone
    assert (tmp_path / "metrics.json").stat().st_mtime_ns == stamp
    replaced = evaluate(model, tmp_path, biased_test=larger, overwrite=True, **arguments)
    assert replaced.saliency.num_images == 12
    assert json.loads((tmp_path / "metrics.json").read_text())["saliency"]["num_images"] == 12


def _method_entry():
    return {key: [None] * 10 for key in ("mcbd_per_digit", "mcbl_per_digit")} | {
        key: [0] * 10 for key in ("num_images_per_digit", "num_cbl_images_per_digit")} | {
        "cbd_per_image": [], "cbl_per_image": [], "empty_fraction": None, "converged_fraction": None}


def test_metrics_record_rejects_bad_fields():
    good = {"schema": "toy_benchmark.metrics", "schema_version": 4, "run": {}, "seconds": 1.0,
            "datasets": {"biased_test": {}, "unbiased_test": None}, "settings": {}, "segmentation": None,
            "biased_segmentation": None,
            "saliency": {"num_images": 0, "num_empty_requests": 0, "methods": {"grid_saliency": _method_entry()},
                         "digit_per_image": []}}
    MetricsRecord.from_dict(good)
    bad = json.loads(json.dumps(good))
    bad["saliency"]["methods"]["grid_saliency"]["mcbd_per_digit"][0] = 1.5
    with pytest.raises(RecordError, match="saliency.methods.grid_saliency: Argument `mcbd_per_digit` must lie in"):
        MetricsRecord.from_dict(bad)
    bad = json.loads(json.dumps(good))
    bad["saliency"]["methods"]["grid_saliency"]["mcbl_per_digit"] = [0.1] * 9
    with pytest.raises(RecordError, match="`mcbl_per_digit` must have 10 entries"):
        MetricsRecord.from_dict(bad)
    bad = json.loads(json.dumps(good))
    bad["saliency"]["methods"]["lime"] = _method_entry()
    with pytest.raises(RecordError, match="`methods` must name some of"):
        MetricsRecord.from_dict(bad)
    bad = json.loads(json.dumps(good))
    bad["saliency"]["methods"]["grid_saliency"]["cbd_per_image"] = [0.5]  # a value no mean counted
    bad["saliency"]["methods"]["grid_saliency"]["cbl_per_image"] = [None]
    with pytest.raises(RecordError, match="`cbd_per_image` must have as many values as the means count"):
        MetricsRecord.from_dict(bad)
    assert MetricsRecord.from_dict({**good, "schema_version": 3}).biased_segmentation is None
    with pytest.raises(RecordError, match="schema version 1"):
        MetricsRecord.from_dict({**good, "schema_version": 1})
    # Version 2 held means only: refused with what to do, not read without its per-image values.
    with pytest.raises(RecordError, match="schema version 2 .* per-image values .* evaluate again"):
        MetricsRecord.from_dict({**good, "schema_version": 2})


def test_summary_means_skip_empty_requests_and_unbiased_cbl():
    digit = np.array([3, 3, 3, 4])
    records = SaliencyRecords(
        digit=digit, request_empty=np.array([False, False, True, False]),
        has_bias=np.array([True, True, True, False]),
        cbd={"grid_saliency": np.array([0.2, 0.4, 0.9, 0.1])},
        cbl={"grid_saliency": np.array([1.0, 0.0, 1.0, 0.0])},
        cbl_defined={"grid_saliency": np.array([True, False, True, False])},
        grid_converged=np.array([True, True, False, True]), grid_empty=np.array([False, True, False, False]),
        examples=[])
    summary = summarize_saliency(records).methods["grid_saliency"]
    assert summary.mcbd_per_digit[3] == pytest.approx(0.3)  # the empty request (0.9) is left out
    assert summary.mcbl_per_digit[3] == 1.0  # only the defined, biased image counts
    assert summary.num_cbl_images_per_digit[3] == 1
    assert summary.mcbl_per_digit[4] is None  # no bias texture on digit 4
    assert summary.empty_fraction == pytest.approx(1 / 3)
    assert summary.cbd_per_image == (0.2, 0.4, None, 0.1)  # per image, None where it does not count
    assert summary.cbl_per_image == (1.0, None, None, None)
    assert summarize_saliency(records).digit_per_image == (3, 3, 3, 4)


def _run(*args):
    return subprocess.run([sys.executable, "-m", "toy_benchmark.evaluate_main", *args], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def test_binary_end_to_end(tiny_model_path, tmp_path):
    result = _run(f"--model={tiny_model_path}", f"--output_dir={tmp_path}", "--bias_strength=strong",
                  "--bias_digit=3", "--bias_texture=7", "--num_test=10", "--grid_steps=2", "--methods=grid_saliency,vanilla_gradient",
                  "--batch_size=10")
    assert result.returncode == 0, result.stderr[-2000:]
    written = (tmp_path / "metrics.json").read_bytes()
    assert MetricsRecord.load(tmp_path / "metrics.json").saliency.num_images == 10
    # Other settings into the same folder: refused in one line, nothing overwritten (the bug of issue 9).
    other = _run(f"--model={tiny_model_path}", f"--output_dir={tmp_path}", "--bias_strength=strong",
                 "--bias_digit=3", "--bias_texture=7", "--num_test=12", "--grid_steps=2",
                 "--methods=grid_saliency,vanilla_gradient", "--batch_size=10")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    errors = [line for line in other.stderr.splitlines() if line.startswith("toy-evaluate: error:")]
    assert len(errors) == 1 and "holds another run" in errors[0] and "num_samples" in errors[0], other.stderr[-2000:]
    assert (tmp_path / "metrics.json").read_bytes() == written


def test_binary_bad_input_one_line_error(tiny_model_path, tmp_path):
    # One process for the three command lines (tests/binary_cases.py); the test above runs the binary itself.
    cases = [(["--model=/nonexistent/model.keras"], "Argument `model` must be a trained model"),
             ([f"--model={tiny_model_path}", "--bias_strength=strong", "--bias_digit=12", "--bias_texture=1"],
              "bias_digit"),
             ([f"--model={tiny_model_path}", "--methods=grid_saliency,lime"], "methods")]
    outcomes = run_cases("toy_benchmark.evaluate_main", "toy-evaluate",
                         [[*args, f"--output_dir={tmp_path}", "--num_test=10"] for args, _ in cases])
    for (args, message), outcome in zip(cases, outcomes):
        lines = outcome["stderr"].strip().splitlines()
        assert outcome["code"] == 2 and len(lines) == 1, (args, outcome)
        assert lines[0].startswith("toy-evaluate: error:") and message in lines[0], (args, lines)
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "run.json").exists()


def test_incompatible_checkpoint_is_refused(tmp_path):
    import keras

    inputs = keras.Input((32, 32, 1))
    other = keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="softmax")(inputs))
    other.save(tmp_path / "other.keras")
    with pytest.raises(ValueError, match="must be a toy segmentation network.*received .*other.keras"):
        load_model(tmp_path / "other.keras")
    (tmp_path / "broken.keras").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="must be a Keras model file.*cannot be loaded"):
        load_model(tmp_path / "broken.keras")
