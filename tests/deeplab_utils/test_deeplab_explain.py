"""`deeplab-explain` end to end on a fixture tarball, and its library function `explain_image`.

The binary runs in a subprocess (its absl flags stay out of the test process, where another binary's
flags of the same name would clash); the library function covers the remaining cases in-process.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from deeplab_utils import ExplainSettings, MIN_REQUEST_PIXELS, build_request_masks, explain_image, scaled_min_size
from deeplab_utils.labels import CITYSCAPES
from deeplab_utils.records import ExplanationSummary, RequestRecord
from deeplab_utils.testing import synthetic_scene
from grid_saliency_tf.experiment import RunFolderBusy, RunFolderMismatch
from tests.binary_cases import run_cases

pytestmark = pytest.mark.heavy  # holds tests of 15 s or more: scheduled first (tests/conftest.py)

REPO = Path(__file__).resolve().parents[2]
FAST = dict(steps=3, grid_shape=(4, 8), check_parity=True)


def _command(*args):
    # The fixture tarballs are miniatures of the export, which only the graph backend loads; the keras
    # backend runs on full-architecture fixtures in test_native_explain.py.
    return [sys.executable, "-m", "deeplab_utils.explain_main", "--backend=graph", *args]


def _environment():
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))


def _binary(*args, timeout=300):
    return subprocess.run(_command(*args), cwd=REPO, env=_environment(), capture_output=True, text=True,
                          timeout=timeout)


def _last_line(stderr):
    return [line for line in stderr.splitlines() if line.strip()][-1]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    image = synthetic_scene(60, 64, seed=5)
    path = tmp_path_factory.mktemp("images") / "street.png"
    cv2.imwrite(str(path), image[..., ::-1])
    return path, image


def _class_with_requests(model, image):
    """A Cityscapes class name whose prediction has the most requests at the default minimum size."""
    labels = model.predict_labels(image[None]).numpy()[0]
    min_size = scaled_min_size(MIN_REQUEST_PIXELS, labels.shape)
    counts = [len(build_request_masks(labels, c, min_size=min_size)) for c in range(model.num_classes)]
    assert max(counts) >= 1
    return CITYSCAPES.class_names[int(np.argmax(counts))], max(counts)


def test_binary_writes_figures_and_json(mnv2_tarball, mnv2_model, scene, tmp_path):
    path, image = scene
    class_name, count = _class_with_requests(mnv2_model, image)
    out = tmp_path / "out"
    done = _binary(f"--model={mnv2_tarball}", f"--image={path}", f"--class_name={class_name}",
                   f"--output_dir={out}", "--steps=4")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "float input: sub_7:0 (found in the graph)" in done.stdout
    assert "logits: ResizeBilinear_2:0 (found in the graph)" in done.stdout
    assert "0 of 3840 pixels differ" in done.stdout
    assert f"request {count}/{count}" in done.stdout

    slug = class_name.replace(" ", "-")
    summary = ExplanationSummary.load(out / f"street_{slug}_summary.json")
    # The paper's Cityscapes settings, from their one source.
    assert summary.optimizer["grid_shape"] == [16, 32] and summary.optimizer["mode"] == "context"
    assert summary.optimizer["learning_rate"] == 1.0 and summary.optimizer["mask_weight"] == 0.01
    assert summary.optimizer["upsampling"] == "bilinear" and summary.optimizer["erosion_size"] == 3
    assert summary.min_size_pixels == scaled_min_size(10000, (60, 64)) and summary.parity_mismatches == 0
    assert len(summary.requests) == count
    for number, record in enumerate(summary.requests, start=1):
        assert record.request == number
        assert record.outcome.converged == (record.outcome.preservation_loss <= 0.1)
        low_res = np.array(record.low_res_mask)
        assert low_res.shape == (16, 32) and record.outcome.empty == (not low_res.any())
        assert record.eroded_pixels >= summary.min_size_pixels
        saliency = cv2.imread(str(out / record.files["saliency"]))
        assert saliency.shape == (60, 64, 3)
        panels = cv2.imread(str(out / record.files["panels"]))
        assert panels.shape[0] > 200 and panels.shape[1] > panels.shape[0]
        assert RequestRecord.load(out / f"street_{slug}_r{number:02d}.json") == record
    for suffix in ("requests.png", "all_saliency.png"):
        assert (out / f"street_{slug}_{suffix}").is_file()
    assert (out / "run.json").is_file()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".tmp")) == []


def test_binary_bad_input_is_one_line_and_exit_2(mnv2_tarball, scene, tmp_path):
    # Both command lines in one process through the binary's entry point (tests/binary_cases.py); the tests
    # around run the binary itself.
    path, _ = scene
    corrupt = tmp_path / "deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz"
    corrupt.write_bytes(mnv2_tarball.read_bytes()[:2000])
    cases = {"unknown_class": (mnv2_tarball, "unicorn", "received 'unicorn', which is not in the cityscapes label set"),
             "corrupt_model": (corrupt, "car", "corrupt or truncated")}
    outcomes = run_cases("deeplab_utils.explain_main", "deeplab-explain", [
        ["--backend=graph", f"--model={model}", f"--image={path}", f"--class_name={class_name}",
         f"--output_dir={tmp_path / case}"] for case, (model, class_name, _) in cases.items()])
    for (case, (_, _, message)), outcome in zip(cases.items(), outcomes):
        lines = outcome["stderr"].strip().splitlines()
        assert outcome["code"] == 2 and len(lines) == 1, (case, outcome)
        assert lines[0].startswith("deeplab-explain: error: ") and message in lines[0], (case, lines)


def test_resume_keeps_finished_requests_and_refuses_other_settings(mnv2_model, scene, tmp_path):
    _, image = scene
    class_name, count = _class_with_requests(mnv2_model, image)
    settings = ExplainSettings(class_name=class_name, **FAST)
    first = explain_image(mnv2_model, image, tmp_path, settings)
    record = tmp_path / f"image_{class_name.replace(' ', '-')}_r01.json"
    stamp = record.stat().st_mtime_ns
    lines = []
    second = explain_image(mnv2_model, image, tmp_path, settings, progress=lines.append)
    assert second.requests == first.requests and record.stat().st_mtime_ns == stamp
    assert sum("done in an earlier run, kept" in line for line in lines) == count
    other = ExplainSettings(class_name=class_name, **{**FAST, "steps": 4})
    with pytest.raises(RunFolderMismatch, match="holds another run .*settings.steps: recorded 3, requested 4"):
        explain_image(mnv2_model, image, tmp_path, other)
    third = explain_image(mnv2_model, image, tmp_path, other, overwrite=True)
    assert third.settings["steps"] == 4 and record.stat().st_mtime_ns != stamp
    # How many requests go together does not change the results, so it is no setting of the run.
    fourth = explain_image(mnv2_model, image, tmp_path, other, batch_size=2)
    assert fourth.requests == third.requests


def test_large_image_is_resized_and_said_or_refused(mnv2_model, tmp_path):
    big = synthetic_scene(130, 100, seed=1)
    lines = []
    summary = explain_image(mnv2_model, big, tmp_path / "a", ExplainSettings(class_id=0, **FAST),
                            progress=lines.append)
    assert any("130x100 is larger than the crop size 65x65: resized by 0.500 to 65x50" in l for l in lines)
    assert summary.image_size == (65, 50)
    with pytest.raises(ValueError, match="Argument `image` must fit .*received 130x100, which is larger than "
                                         "the model's crop size 65x65"):
        explain_image(mnv2_model, big, tmp_path / "b",
                      ExplainSettings(class_id=0, resize_to_crop=False, **FAST))


def test_whole_class_request_and_absent_class(mnv2_model, scene, tmp_path):
    _, image = scene
    labels = mnv2_model.predict_labels(image[None]).numpy()[0]
    present = int(np.bincount(labels.ravel()).argmax())
    summary = explain_image(mnv2_model, image, tmp_path / "present",
                            ExplainSettings(class_id=present, request_mode="class", **FAST))
    assert len(summary.requests) == 1
    assert summary.requests[0].pixels == int((labels == present).sum())
    absent = next(c for c in range(19) if not (labels == c).any())
    lines = []
    summary = explain_image(mnv2_model, image, tmp_path / "absent", ExplainSettings(class_id=absent, **FAST),
                            progress=lines.append)
    assert summary.requests == () and summary.predicted_pixels == 0
    assert "nothing to explain" in lines[-1]


@pytest.mark.parametrize("settings, message", [
    (dict(class_name="car", class_id=3), "Arguments `class_name` and `class_id` must be given exactly one"),
    (dict(class_id=19), r"Argument `class_id` must be in 0..18 for this model; received 19\."),
    (dict(class_name="car", labels="pascal_voc"), "has 21 classes but the model predicts 19"),
    (dict(class_name="car", request_mode="instances"), "Argument `request_mode` must be one of"),
    (dict(class_name="car", steps=-1), "Argument `steps` must be an integer >= 0; received -1"),
])
def test_bad_settings(mnv2_model, scene, tmp_path, settings, message):
    _, image = scene
    with pytest.raises(ValueError, match=message):
        explain_image(mnv2_model, image, tmp_path / "out", ExplainSettings(**{**FAST, **settings}))
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_bad_batch_size(mnv2_model, scene, tmp_path):
    with pytest.raises(ValueError, match="Argument `batch_size` must be an integer >= 1; received 0"):
        explain_image(mnv2_model, scene[1], tmp_path, ExplainSettings(class_id=0, **FAST), batch_size=0)


def test_bad_image_files(mnv2_model, tmp_path):
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    with pytest.raises(ValueError, match=r"^Argument `path` must be an image file; .*is not an image file"):
        explain_image(mnv2_model, not_an_image, tmp_path, ExplainSettings(class_id=0, **FAST))
    with pytest.raises(ValueError, match=r"^Argument `path` must be an image file; .*no such file"):
        explain_image(mnv2_model, tmp_path / "missing.png", tmp_path, ExplainSettings(class_id=0, **FAST))


def _wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _checkerboard_run(mnv2_model, tmp_path, steps):
    """Arguments of a run with a dozen small requests (a checkerboard), and the folder it writes."""
    # A checkerboard gives many small requests, so that the first process holds the folder for a while
    # and returns to Python (where Ctrl-C is handled) between requests.
    rows, columns = np.mgrid[:65, :65]
    image = np.where((((rows // 13) + (columns // 13)) % 2).astype(bool)[..., None],
                     np.uint8([30, 200, 30]), np.uint8([200, 30, 200]))
    path = tmp_path / "checkerboard.png"
    cv2.imwrite(str(path), image[..., ::-1])
    labels = mnv2_model.predict_labels(image[None]).numpy()[0]
    counts = [len(build_request_masks(labels, c, min_size=1)) for c in range(mnv2_model.num_classes)]
    assert max(counts) >= 10
    out = tmp_path / "out"
    settings = ExplainSettings(class_id=int(np.argmax(counts)), min_size=1, scale_min_size=False, steps=steps,
                               grid_shape=(4, 4), check_parity=False)
    args = [f"--image={path}", f"--class_id={settings.class_id}", f"--output_dir={out}", "--min_size=1",
            "--noscale_min_size", f"--steps={steps}", "--grid_shape=4,4", "--nocheck_parity"]
    return path, settings, args, out


def test_second_process_is_refused_at_once_and_ctrl_c_is_one_line_and_exit_130(mnv2_tarball, mnv2_model,
                                                                                 tmp_path):
    path, settings, args, out = _checkerboard_run(mnv2_model, tmp_path, steps=200)
    first = subprocess.Popen(_command(f"--model={mnv2_tarball}", *args), cwd=REPO, env=_environment(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (out / "run.json").exists() or first.poll() is not None, 120, "the first run")
        assert first.poll() is None, first.communicate()[1][-2000:]
        # This test's process is the second one: refused at once (the model here is the same graph).
        started = time.monotonic()
        with pytest.raises(RunFolderBusy, match=f"is in use by process {first.pid}"):
            explain_image(mnv2_model, path, out, settings)
        assert time.monotonic() - started < 30
        assert first.poll() is None  # the first process was still at work when the second was refused
        first.send_signal(signal.SIGINT)
        _, stderr = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    assert _last_line(stderr) == "deeplab-explain: interrupted; run the same command again to resume"


@pytest.mark.slow
def test_binary_refuses_a_busy_folder_and_other_settings_unless_overwrite_and_resumes(mnv2_tarball, mnv2_model,
                                                                                       tmp_path):
    _, _, args, out = _checkerboard_run(mnv2_model, tmp_path, steps=200)
    model = f"--model={mnv2_tarball}"
    first = subprocess.Popen(_command(model, *args), cwd=REPO, env=_environment(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (out / "run.json").exists() or first.poll() is not None, 120, "the first run")
        second = _binary(model, *args, timeout=120)
        assert first.poll() is None  # the first process was still at work when the second was refused
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert _last_line(second.stderr).startswith("deeplab-explain: error: ")
        assert f"is in use by process {first.pid}" in _last_line(second.stderr)
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 130
    finished = len(list(out.glob("*_r[0-9][0-9].json")))

    # Other settings are refused, naming what differs; the same command resumes, keeping what was done.
    fewer_steps = [arg if not arg.startswith("--steps=") else "--steps=2" for arg in args]
    other = _binary(model, *fewer_steps)
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert "holds another run" in _last_line(other.stderr)
    assert "settings.steps: recorded 200, requested 2" in _last_line(other.stderr)
    again = _binary(model, *args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("done in an earlier run, kept") == finished
    replaced = _binary(model, *fewer_steps, "--overwrite", "--verbose=0")
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    assert replaced.stdout == ""  # --verbose=0 is quiet
    summary = next(out.glob("*_summary.json"))
    assert ExplanationSummary.load(summary).settings["steps"] == 2
