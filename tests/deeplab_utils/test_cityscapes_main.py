"""`deeplab-cityscapes` (python -m deeplab_utils.cityscapes_main) end to end: outputs, resume, bad input.

The binary runs in subprocesses (its absl flags stay out of the test process). The bad-input cases run
one after the other in a single subprocess through the binary's own `run_binary(main, ...)`
(tests/binary_cases.py), so that TensorFlow is imported once: each must end with one line on stderr and exit status 2.
"""

import json
import os
import signal
import subprocess
import sys
import time

import cv2
import keras
import numpy as np
import pytest

from deeplab_utils.cityscapes.testing import context_model, write_cityscapes_fixture
from tests.binary_cases import run_cases

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("main")
    write_cityscapes_fixture(root / "good")
    write_cityscapes_fixture(root / "missing", images_per_city=1)
    (root / "missing/gtFine/val/bochum/bochum_000000_000000_gtFine_labelIds.png").unlink()
    write_cityscapes_fixture(root / "small_label", images_per_city=1)
    cv2.imwrite(str(root / "small_label/gtFine/val/aachen/aachen_000000_000000_gtFine_labelIds.png"),
                np.zeros((32, 64), np.uint8))
    (root / "empty").mkdir()
    context_model().save(root / "fixture.keras")
    inputs = keras.Input((None, None, 3))
    keras.Model(inputs, keras.layers.Conv2D(21, 1, activation="softmax")(inputs)).save(root / "pascal.keras")
    return root


def _binary(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "deeplab_utils.cityscapes_main", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def test_bad_input_ends_with_one_line_and_status_2_and_keeps_what_was_written(data, tmp_path):
    good = ["--dataset", str(data / "good"), "--model", str(data / "fixture.keras"), "--verbose=0"]
    quick = ["--max_images=1", "--prediction_classes=car", "--error_pairs=", "--steps=5", "--stage=explain"]
    run = str(tmp_path / "run")
    cases = [
        ([*good, *quick, "--output_dir", run], 0, None),
        ([*good, *quick, "--output_dir", run, "--steps=6"], 2, "holds another run (settings.optimizer.steps: "
                                                               "recorded 5, requested 6)"),
        ([*good, "--output_dir", str(tmp_path / "a"), "--prediction_classes=rider,unicorn"], 2,
         "Argument `prediction_classes` must name Cityscapes classes"),
        ([*good, "--output_dir", str(tmp_path / "b"), "--error_pairs=rider-person"], 2,
         "Argument `error_pairs` must hold GT:prediction pairs; received 'rider-person'"),
        (["--dataset", str(data / "empty"), "--model", str(data / "fixture.keras"), "--output_dir",
          str(tmp_path / "c")], 2, "(no folder"),
        (["--dataset", str(data / "missing"), "--model", str(data / "fixture.keras"), "--output_dir",
          str(tmp_path / "d")], 2, "bochum_000000_000000_gtFine_labelIds.png' is missing"),
        (["--dataset", str(data / "small_label"), "--model", str(data / "fixture.keras"), "--output_dir",
          str(tmp_path / "e")], 2, "of 32x64 for an image of 64x128"),
        (["--dataset", str(data / "good"), "--model", str(data / "pascal.keras"), "--output_dir",
          str(tmp_path / "f"), "--verbose=0"], 2, "received an output of shape (1, 64, 128, 21)"),
        (["--dataset", str(data / "good"), "--output_dir", str(tmp_path / "g")], 2,
         "Arguments `dataset` and `model` must be given to explain"),
        (["--stage=aggregate", "--output_dir", str(tmp_path / "h")], 2, "must be the folder of a Cityscapes run"),
        (["--output_dir", run, "--panel_class=bus"], 2, "Argument `panel_class` must be a requested class"),
    ]
    outcomes = run_cases("deeplab_utils.cityscapes_main", "deeplab-cityscapes", [case[0] for case in cases])
    for (args, code, message), outcome in zip(cases, outcomes):
        assert outcome["code"] == code, (args, outcome)
        if message is not None:
            lines = outcome["stderr"].strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("deeplab-cityscapes: error: "), (args, outcome)
            assert message in lines[0], (args, lines[0])
    # The refused run left the first run's record as it was; the 21-class model wrote no record.
    assert (tmp_path / "run/records/aachen/aachen_000000_000000.json").is_file()
    assert not (tmp_path / "f/records").exists()


@pytest.mark.slow  # three runs of the binary: about a minute on the shared 2-core machine
def test_outputs_and_resume_after_a_kill_equal_an_uninterrupted_run(data, tmp_path):
    common = ["--dataset", str(data / "good"), "--model", str(data / "fixture.keras"), "--steps=40",
              "--batch_size=4", "--panel_images=1"]
    whole = _binary(*common, "--output_dir", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert "aggregated 4 images" in whole.stdout
    aggregate = tmp_path / "whole/aggregate"
    for name in ("statistics.json", "report.md", "table_1.csv", "table_s1.csv", "table_s2.csv", "fig6_grid_saliency.csv",
                 "fig6_baseline.csv", "fig6_context_statistics.png", "fig6_context_statistics.pdf", "table_1.png",
                 "examples/rider.png"):
        assert (aggregate / name).is_file(), name
    assert (tmp_path / "whole/panels/aachen/aachen_000000_000000_rider.png").is_file()
    report = (aggregate / "report.md").read_text()
    assert "| rider | 4 | 39 |" in report and "rider: bicycle more than the baseline | yes |" in report

    killed = subprocess.Popen([sys.executable, "-m", "deeplab_utils.cityscapes_main", *common, "--stage=explain",
                               "--output_dir", str(tmp_path / "killed"), "--verbose=0"], cwd=REPO, env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = tmp_path / "killed/records"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(records.rglob("*.json"))) < 1 and killed.poll() is None:
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert 1 <= len(list(records.rglob("*.json"))) < 4
    resumed = _binary(*common, "--output_dir", str(tmp_path / "killed"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "done before" in resumed.stdout
    assert (tmp_path / "killed/aggregate/statistics.json").read_text() == (aggregate / "statistics.json").read_text()
