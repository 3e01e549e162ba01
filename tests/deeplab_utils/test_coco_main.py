"""`deeplab-coco` (python -m deeplab_utils.coco_main) end to end: outputs, resume, other settings, bad input.

The binary runs in a subprocess (its absl flags stay out of the test process); the cases of one test run
one after the other in that subprocess through `run_binary(coco_main.main, ...)` (tests/binary_cases.py), so
that TensorFlow is imported once. Every bad input must end with one line on stderr and exit status 2.
"""

import json

import pytest

from deeplab_utils.cityscapes.testing import context_model
from deeplab_utils.coco.testing import self_contained_model, water_boat_model, write_coco_fixture
from tests.binary_cases import run_cases


def _cases(cases):
    return run_cases("deeplab_utils.coco_main", "deeplab-coco", cases)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco_main")
    good = write_coco_fixture(root / "good", scenes=("boat_on_sea", "boats_and_person", "train_on_rails"))
    other = write_coco_fixture(root / "other", scenes=("boat_on_sea",), first_id=50)
    missing = write_coco_fixture(root / "missing", scenes=("boat_on_sea", "train_on_rails"))
    (missing["images"] / "000000000002.png").unlink()
    water_boat_model().save(root / "water.keras")
    self_contained_model().save(root / "plain.keras")
    context_model().save(root / "cityscapes.keras")
    return root, good, other, missing


def _args(root, paths, output, *extra, models=("water", "plain")):
    return [f"--images={paths['images']}", f"--instances={paths['instances']}", f"--stuff={paths['stuff']}",
            "--models=" + ",".join(str(root / f"{model}.keras") for model in models), f"--output_dir={output}",
            "--classes=boat,train", "--steps=20", "--verbose=1", "--num_resamples=200", *extra]


@pytest.mark.slow
def test_the_binary_compares_resumes_and_refuses_other_settings(data, tmp_path):
    root, good, _, _ = data
    shards = tmp_path / "shards"  # two shards of the same run into one folder, then its comparison
    first, again, other, shard_1, shard_0, compared = _cases([
        _args(root, good, tmp_path / "run"), _args(root, good, tmp_path / "run"),
        _args(root, good, tmp_path / "run", "--steps=30"),
        *(_args(root, good, shards, "--stage=explain", "--num_shards=2", f"--shard_index={index}") for index in (1, 0)),
        _args(root, good, shards, "--stage=compare")])
    assert first["code"] == 0, first["stderr"]
    assert "3 images read, 0 done before, 6 records" in first["stdout"]
    out = tmp_path / "run" / "comparison"
    for name in ("architecture_comparison.md", "comparison.json", "differences.csv", "statistics.csv",
                 "context_grid_saliency.csv", "context_heatmaps.png", "context_heatmaps.pdf", "fig_s16.png"):
        assert (out / name).is_file(), name
    assert sorted(p.name for p in (tmp_path / "run" / "records" / "water").iterdir()) == [
        "000000000001.json", "000000000002.json", "000000000003.json"]
    report = (out / "architecture_comparison.md").read_text()
    assert "| boat | salient context / request | water | plain |" in report
    comparison = json.loads((out / "comparison.json").read_text())
    boat = next(row for row in comparison["differences"]
                if (row["class_name"], row["measure"]) == ("boat", "empty_mask_loss"))
    assert boat["low"] > 0.5 and boat["images"] == 2
    assert again["code"] == 0 and "0 images read, 3 done before, 0 records" in again["stdout"]
    assert other["code"] == 2 and len(other["stderr"].strip().splitlines()) == 1
    assert "optimizer.steps: recorded 20, requested 30" in other["stderr"]
    assert shard_1["code"] == shard_0["code"] == compared["code"] == 0, (shard_1, shard_0, compared)
    assert "shard 1-of-2: 1 images read, 0 done before, 2 records" in shard_1["stdout"]
    assert "shard 0-of-2: 2 images read, 0 done before, 4 records" in shard_0["stdout"]
    assert json.loads((shards / "comparison" / "comparison.json").read_text()) == comparison


def test_bad_input_is_one_line_and_exit_status_2(data, tmp_path):
    root, good, other, missing = data
    cases = {
        "another image set": _args(root, {**good, "instances": other["instances"]}, tmp_path / "a"),
        "missing images": _args(root, missing, tmp_path / "b"),
        "stuff of other images": _args(root, {**good, "stuff": other["stuff"]}, tmp_path / "c"),
        "label set": _args(root, good, tmp_path / "d", models=("water", "cityscapes")),
        "one model": _args(root, good, tmp_path / "e", models=("water",)),
        "unknown class": _args(root, good, tmp_path / "f", "--classes=boat,road"),
        "shard outside": _args(root, good, tmp_path / "g", "--num_shards=2", "--shard_index=2"),
        "request size": _args(root, good, tmp_path / "h", "--min_size=0"),  # the shared request flags reach it
    }
    expected = {
        "another image set": "lacks 1 of 1 (first '000000000050.png')",
        "missing images": "lacks 1 of 2 (first '000000000002.png')",
        "stuff of other images": "Argument `stuff` must annotate the images of `instances`",
        "label set": "to the 21 pascal_voc class probabilities",
        "one model": "Argument `models` must hold two or more models to compare; received 1.",
        "unknown class": "Argument `classes` must name VOC object classes",
        "shard outside": "Argument `shard_index` must be in [0, 2); received 2.",
        "request size": "Argument `min_size` must be an integer >= 1; received 0.",
    }
    for (name, result) in zip(cases, _cases([[*args, "--verbose=0"] for args in cases.values()])):
        assert result["code"] == 2, (name, result)
        lines = result["stderr"].strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("deeplab-coco: "), (name, lines)
        assert expected[name] in lines[0], (name, lines[0])
    assert not list((tmp_path / "d").rglob("records/*/*.json"))


@pytest.mark.slow
def test_zoo_downloads_of_both_backbones_and_a_keras_model_are_compared_in_one_run(data, tmp_path):
    # Miniature exports (random weights, narrow layers) load as frozen graphs only (the native model
    # needs the official widths): --backend=graph; a .keras model is loaded as such whatever the backend.
    from deeplab_utils.testing import write_model_tarball

    root, good, _, _ = data
    names = ("deeplabv3_mnv2_pascal_train_aug_2018_01_29", "deeplabv3_pascal_train_aug_2018_01_04")
    for name in names:
        write_model_tarball(tmp_path, name, crop_size=(129, 129), seed=3)  # holds the 64x128 images
    models = ",".join([*(f"{tmp_path}/{name}.tar.gz" for name in names), str(root / "water.keras")])
    [result] = _cases([[*_args(root, good, tmp_path / "run", "--backend=graph", "--max_images=2", "--steps=2",
                               "--classes=aeroplane,boat,person,train"), f"--models={models}"]])
    assert result["code"] == 0, result["stderr"]
    settings = json.loads((tmp_path / "run" / "run.json").read_text())["settings"]
    assert [entry["name"] for entry in settings["models"]] == [*names, "water"]
    assert [entry["file"] for entry in settings["models"]] == [f"{name}.tar.gz" for name in names] + ["water.keras"]
    comparison = json.loads((tmp_path / "run" / "comparison" / "comparison.json").read_text())
    assert comparison["images"] == 2
    assert {(row["model_a"], row["model_b"]) for row in comparison["differences"]} == {
        (names[0], names[1]), (names[0], "water"), (names[1], "water")}


@pytest.mark.slow  # a full MobileNetV2 export is built, then the binary explains two images: 50-110 s
def test_a_zoo_download_as_the_native_model_is_compared_with_a_keras_model_in_one_run(data, tmp_path):
    # The full architecture (official widths, crop 65x129 holding the 64x128 images) loads as the native
    # Keras DeepLab, the default --backend=keras: its predictions must be the export's own (but for
    # near ties between the two float computations: 1 pixel of 8192 was seen to differ).
    import cv2
    import numpy as np

    from deeplab_utils.cityscapes.models import load_model, predict
    from deeplab_utils.coco.protocol import VOC_CLASSES
    from deeplab_utils.labels import PASCAL_VOC
    from deeplab_utils.native.fixtures import build_official_graph, write_official_tarball

    root, good, _, _ = data
    name = "deeplabv3_mnv2_pascal_train_aug_2018_01_29"
    tarball = write_official_tarball(tmp_path, name, build_official_graph("mobilenet_v2", crop_size=(65, 129),
                                                                          num_classes=21, seed=3))
    [result] = _cases([[*_args(root, good, tmp_path / "run", "--max_images=2", "--steps=2",
                               "--classes=" + ",".join(VOC_CLASSES)),
                        f"--models={tarball},{root / 'water.keras'}"]])
    assert result["code"] == 0, result["stderr"]
    settings = json.loads((tmp_path / "run" / "run.json").read_text())["settings"]
    assert settings["models"] == [{"name": name, "file": f"{name}.tar.gz (keras)"},
                                  {"name": "water", "file": "water.keras"}]
    comparison = json.loads((tmp_path / "run" / "comparison" / "comparison.json").read_text())
    assert comparison["images"] == 2 and comparison["models"] == [name, "water"]
    assert {(row["model_a"], row["model_b"]) for row in comparison["differences"]} == {(name, "water")}
    native = {path.stem: json.loads(path.read_text()) for path in (tmp_path / "run" / "records" / name).iterdir()}
    assert sum(len(c["requests"]) for record in native.values() for c in record["classes"]) > 0
    graph, _ = load_model(tarball, backend="graph")  # the frozen graph of the same download
    for image in sorted(native):
        pixels = cv2.imread(str(good["images"] / f"{image}.png"))[..., ::-1]
        written = cv2.imread(str(tmp_path / "run" / "predictions" / name / f"{image}.png"), cv2.IMREAD_GRAYSCALE)
        probabilities = predict(graph, pixels, label_set=PASCAL_VOC)
        chosen = np.take_along_axis(probabilities, written[..., None].astype(np.int64), axis=-1)[..., 0]
        np.testing.assert_allclose(chosen, probabilities.max(axis=-1), atol=1e-3)  # the graph's class or a tie
        assert np.mean(written == probabilities.argmax(axis=-1)) > 0.999
