"""The binaries with `--backend=keras` (the default) on a full MobileNetV2 zoo tarball: `deeplab-explain`
and the `NativeZooModel` it explains with, and the Cityscapes job's model loading."""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from deeplab_utils import MIN_REQUEST_PIXELS, build_request_masks, scaled_min_size
from deeplab_utils.archive import extract_archive
from deeplab_utils.cityscapes.models import load_model, predict
from deeplab_utils.cityscapes.testing import street_scene, write_cityscapes_fixture
from deeplab_utils.labels import CITYSCAPES
from deeplab_utils.native import DeepLabV3Plus
from deeplab_utils.native.fixtures import build_official_graph, write_official_tarball
from deeplab_utils.native.zoo_model import NativeZooModel
from deeplab_utils.records import ExplanationSummary
from deeplab_utils.testing import synthetic_scene, write_model_tarball

REPO = Path(__file__).resolve().parents[2]
CROP = (49, 65)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A Cityscapes MobileNetV2 tarball (full architecture, crop 49x65) and a street image of 45x60."""
    folder = tmp_path_factory.mktemp("zoo")
    fixture = build_official_graph("mobilenet_v2", crop_size=CROP, num_classes=19, seed=3)
    tarball = write_official_tarball(folder, "deeplabv3_mnv2_cityscapes_train_2018_02_05", fixture)
    image = synthetic_scene(45, 60, seed=8)
    cv2.imwrite(str(folder / "street.png"), image[..., ::-1])
    return tarball, folder / "street.png", image


@pytest.fixture(scope="module")
def native(zoo):
    return NativeZooModel(zoo[0])


def _environment():
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))


def _binary(*args):
    return subprocess.run([sys.executable, "-m", "deeplab_utils.explain_main", *args], cwd=REPO,
                          env=_environment(), capture_output=True, text=True, timeout=600)


def _last_line(stderr):
    return [line for line in stderr.splitlines() if line.strip()][-1]


def test_native_zoo_model_answers_like_the_wrapper(native, zoo):
    _, _, image = zoo
    assert isinstance(native.model, DeepLabV3Plus)
    assert (native.crop_size, native.num_classes) == (CROP, 19)
    assert native.source.endswith("deeplabv3_mnv2_cityscapes_train/model.ckpt-30000")
    text = native.describe()
    assert "native Keras model: mobilenet_v2, depth multiplier 1, output stride 8" in text
    assert "272 variables" in text and "crop size: 49x65" in text
    probabilities = np.asarray(native(image[None].astype(np.float32)))[0]
    labels = np.asarray(native.predict_labels(image[None]))[0]
    np.testing.assert_array_equal(probabilities.argmax(-1), labels)
    np.testing.assert_array_equal(native.semantic_predictions(image), labels)


def test_without_a_frozen_graph_parity_cannot_be_checked(zoo, tmp_path):
    folder = extract_archive(zoo[0], tmp_path / "model") / "deeplabv3_mnv2_cityscapes_train"
    model = NativeZooModel(folder / "model.ckpt-30000", crop_size=CROP)
    with pytest.raises(ValueError, match="which comes without"):
        model.semantic_predictions(zoo[2])


@pytest.mark.slow  # a subprocess that builds and compiles the model: 30-60 s on the shared machine
def test_binary_explains_with_the_native_model_by_default(native, zoo, tmp_path):
    tarball, path, image = zoo
    labels = np.asarray(native.predict_labels(image[None]))[0]
    min_size = scaled_min_size(MIN_REQUEST_PIXELS, labels.shape)
    counts = [len(build_request_masks(labels, c, min_size=min_size)) for c in range(19)]
    class_id = int(np.argmax(counts))
    out = tmp_path / "out"
    done = _binary(f"--model={tarball}", f"--image={path}", f"--class_id={class_id}", f"--output_dir={out}",
                   "--steps=3", "--grid_shape=4,8")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "native Keras model: mobilenet_v2" in done.stdout
    assert f"0 of {45 * 60} pixels differ" in done.stdout
    summary = ExplanationSummary.load(next(out.glob("*_summary.json")))
    assert summary.parity_mismatches == 0 and len(summary.requests) == counts[class_id] >= 1
    assert summary.model.endswith("deeplabv3_mnv2_cityscapes_train/model.ckpt-30000")
    assert (summary.input_name, summary.logits_name) == ("images", "logits")
    assert summary.class_name == CITYSCAPES.class_names[class_id]


@pytest.mark.slow  # two subprocesses: 20-40 s
def test_binary_refuses_graph_names_and_miniature_exports_in_one_line(zoo, tmp_path):
    tarball, path, _ = zoo
    named = _binary(f"--model={tarball}", f"--image={path}", "--class_id=1", f"--output_dir={tmp_path / 'a'}",
                    "--logits_name=ResizeBilinear_2:0")
    assert named.returncode == 2 and "Traceback" not in named.stderr
    assert "`input_name` and `logits_name` must be left out with --backend=keras" in _last_line(named.stderr)
    miniature = write_model_tarball(tmp_path, "deeplabv3_mnv2_cityscapes_train_2018_02_05")
    refused = _binary(f"--model={miniature}", f"--image={path}", "--class_id=1",
                      f"--output_dir={tmp_path / 'b'}")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    line = _last_line(refused.stderr)
    assert line.startswith("deeplab-explain: error: Argument `variables` must match the model's")
    assert "model.ckpt-30000 with " in line and " missing: MobilenetV2/" in line
    assert "with another shape" in line


def test_the_cityscapes_job_loads_a_zoo_download_as_the_native_model(zoo, native):
    tarball, _, _ = zoo
    loaded, name = load_model(tarball)
    assert isinstance(loaded, DeepLabV3Plus) and name == f"{tarball.name} (keras)"
    image = street_scene(32, 64, seed=1)[0]
    probabilities = predict(loaded, image)
    assert probabilities.shape == (32, 64, 19)
    np.testing.assert_array_equal(probabilities.argmax(-1), native.semantic_predictions(image))
    graph, graph_name = load_model(tarball, backend="graph")
    assert graph_name == tarball.name and not isinstance(graph, DeepLabV3Plus)
    with pytest.raises(ValueError, match="Argument `backend` must be one of"):
        load_model(tarball, backend="onnx")


@pytest.mark.slow  # the Cityscapes binary in a subprocess: 30-60 s
def test_the_cityscapes_binary_explains_with_the_native_model(tmp_path):
    fixture = build_official_graph("mobilenet_v2", crop_size=(65, 129), num_classes=19, seed=3)
    tarball = write_official_tarball(tmp_path, "deeplabv3_mnv2_cityscapes_train_2018_02_05", fixture)
    write_cityscapes_fixture(tmp_path / "cityscapes", images_per_city=1)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "deeplab_utils.cityscapes_main", "--dataset", str(tmp_path / "cityscapes"),
         "--model", str(tarball), "--output_dir", str(out), "--max_images=1", "--prediction_classes=car,road",
         "--error_pairs=", "--steps=3", "--stage=explain", "--verbose=0", "--batch_size=2"],
        cwd=REPO, env=_environment(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list((out / "records").rglob("*.json"))) == 1
    assert f"{tarball.name} (keras)" in (out / "run.json").read_text()
