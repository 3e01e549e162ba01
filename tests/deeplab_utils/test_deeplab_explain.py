"""`python -m deeplab_utils.explain_main` end to end on a fixture tarball, and its library function.

The binary runs in a subprocess (its absl flags stay out of the test process, where another binary's
flags of the same name would clash); the library function `explain_image` covers the remaining cases
in-process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from deeplab_utils import build_request_masks, scaled_min_size
from deeplab_utils.explanation import ExplainSettings, explain_image
from deeplab_utils.labels import CITYSCAPES
from deeplab_utils.testing import synthetic_scene

REPO = Path(__file__).resolve().parents[2]
FAST = dict(steps=3, grid_shape=(4, 8), check_parity=True)


def _binary(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "deeplab_utils.explain_main", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


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
    min_size = scaled_min_size(10000, labels.shape)
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
    summary = json.loads((out / f"street_{slug}_summary.json").read_text())
    assert summary["optimizer"]["grid_shape"] == [16, 32] and summary["optimizer"]["mode"] == "context"
    assert summary["optimizer"]["learning_rate"] == 1.0 and summary["optimizer"]["mask_weight"] == 0.01
    assert summary["min_size_pixels"] == scaled_min_size(10000, (60, 64)) and summary["parity_mismatches"] == 0
    assert len(summary["requests"]) == count
    for number, record in enumerate(summary["requests"], start=1):
        assert record["request"] == number
        assert record["converged"] == (record["preservation_loss"] <= 0.1)
        low_res = np.array(record["low_res_mask"])
        assert low_res.shape == (16, 32) and record["empty"] == (not low_res.any())
        assert record["eroded_pixels"] >= summary["min_size_pixels"]
        saliency = cv2.imread(str(out / record["files"]["saliency"]))
        assert saliency.shape == (60, 64, 3)
        panels = cv2.imread(str(out / record["files"]["panels"]))
        assert panels.shape[0] > 200 and panels.shape[1] > panels.shape[0]
        assert json.loads((out / f"street_{slug}_r{number:02d}.json").read_text()) == record
    for suffix in ("requests.png", "all_saliency.png", "run.json"):
        assert (out / f"street_{slug}_{suffix}").is_file()
    assert not list(out.glob("*.tmp"))


@pytest.mark.parametrize("case", ["unknown_class", "corrupt_model"])
def test_binary_bad_input_is_one_line_and_exit_2(case, mnv2_tarball, scene, tmp_path):
    path, _ = scene
    model = mnv2_tarball
    class_name = "unicorn"
    if case == "corrupt_model":
        model = tmp_path / "deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz"
        model.write_bytes(mnv2_tarball.read_bytes()[:2000])
        class_name = "car"
    done = _binary(f"--model={model}", f"--image={path}", f"--class_name={class_name}",
                   f"--output_dir={tmp_path / 'out'}")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    line = _last_line(done.stderr)
    assert line.startswith("explain: error: ")
    assert ("'unicorn' is not in the cityscapes label set" in line if case == "unknown_class"
            else "corrupt or truncated" in line)


def test_resume_keeps_finished_requests_and_refuses_other_settings(mnv2_model, scene, tmp_path):
    _, image = scene
    class_name, count = _class_with_requests(mnv2_model, image)
    settings = ExplainSettings(class_name=class_name, **FAST)
    first = explain_image(mnv2_model, image, tmp_path, settings)
    record = tmp_path / f"image_{class_name.replace(' ', '-')}_r01.json"
    stamp = record.stat().st_mtime_ns
    lines = []
    second = explain_image(mnv2_model, image, tmp_path, settings, progress=lines.append)
    assert second["requests"] == first["requests"] and record.stat().st_mtime_ns == stamp
    assert sum("done in an earlier run, kept" in line for line in lines) == count
    other = ExplainSettings(class_name=class_name, **{**FAST, "steps": 4})
    with pytest.raises(ValueError, match="holds results of another run .*settings"):
        explain_image(mnv2_model, image, tmp_path, other)
    third = explain_image(mnv2_model, image, tmp_path, other, overwrite=True)
    assert third["settings"]["steps"] == 4 and record.stat().st_mtime_ns != stamp


def test_large_image_is_resized_and_said_or_refused(mnv2_model, tmp_path):
    big = synthetic_scene(130, 100, seed=1)
    lines = []
    summary = explain_image(mnv2_model, big, tmp_path / "a", ExplainSettings(class_id=0, **FAST),
                            progress=lines.append)
    assert any("130x100 is larger than the crop size 65x65: resized by 0.500 to 65x50" in l for l in lines)
    assert summary["image_size"] == [65, 50]
    with pytest.raises(ValueError, match="130x100 is larger than the model's crop size 65x65"):
        explain_image(mnv2_model, big, tmp_path / "b",
                      ExplainSettings(class_id=0, resize_to_crop=False, **FAST))


def test_whole_class_request_and_absent_class(mnv2_model, scene, tmp_path):
    _, image = scene
    labels = mnv2_model.predict_labels(image[None]).numpy()[0]
    present = int(np.bincount(labels.ravel()).argmax())
    summary = explain_image(mnv2_model, image, tmp_path,
                            ExplainSettings(class_id=present, request_mode="class", **FAST))
    assert len(summary["requests"]) == 1
    assert summary["requests"][0]["pixels"] == int((labels == present).sum())
    absent = next(c for c in range(19) if not (labels == c).any())
    lines = []
    summary = explain_image(mnv2_model, image, tmp_path, ExplainSettings(class_id=absent, **FAST),
                            progress=lines.append)
    assert summary["requests"] == [] and summary["predicted_pixels"] == 0
    assert "nothing to explain" in lines[-1]


@pytest.mark.parametrize("settings, message", [
    (dict(class_name="car", class_id=3), "give exactly one"),
    (dict(class_id=19), "class_id: expected 0..18"),
    (dict(class_name="car", labels="pascal_voc"), "has 21 classes but the model predicts 19"),
    (dict(class_name="car", request_mode="instances"), "request_mode"),
])
def test_bad_settings(mnv2_model, scene, tmp_path, settings, message):
    _, image = scene
    with pytest.raises(ValueError, match=message):
        explain_image(mnv2_model, image, tmp_path, ExplainSettings(**{**FAST, **settings}))


def test_bad_image_files(mnv2_model, tmp_path):
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    with pytest.raises(ValueError, match="is not an image file"):
        explain_image(mnv2_model, not_an_image, tmp_path, ExplainSettings(class_id=0, **FAST))
    with pytest.raises(ValueError, match="no such file"):
        explain_image(mnv2_model, tmp_path / "missing.png", tmp_path, ExplainSettings(class_id=0, **FAST))
