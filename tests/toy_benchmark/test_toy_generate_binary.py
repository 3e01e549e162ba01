"""End-to-end tests of the `python -m toy_benchmark.generate_main` binary, including bad input."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from tests.binary_cases import run_cases
from toy_benchmark import DatasetVariant, load_dataset, make_dataset, write_dataset

pytestmark = pytest.mark.heavy  # holds tests of 15 s or more: scheduled first (tests/conftest.py)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# TensorFlow's C++ start-up log lines, printed at import whatever TF_CPP_MIN_LOG_LEVEL says (TF 2.21).
_NATIVE_LOG = re.compile(
    r"^([IWEF]\d{4} |WARNING: All log messages before absl::InitializeLog"
    r"|To enable the following instructions)"
)


def _start(*flags):
    return subprocess.Popen(
        [sys.executable, "-m", "toy_benchmark.generate_main", *flags, "--verbose=0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


def _finish(process):
    stdout, stderr = process.communicate(timeout=600)
    own_lines = [line for line in stderr.splitlines() if line.strip() and not _NATIVE_LOG.match(line)]
    return process.returncode, stdout, own_lines


def _files(folder):
    """Name -> mtime of every file but the lock (a refused writer still takes the lock, writing its pid)."""
    return {
        name: os.path.getmtime(os.path.join(folder, name))
        for name in sorted(os.listdir(folder))
        if name != ".lock"
    }


def test_binary_end_to_end_and_bad_input(tmp_path):
    # Setup for the bad-input cases: a folder holding another dataset, a folder with a broken texture.
    taken = tmp_path / "taken"
    write_dataset(taken, DatasetVariant(num_samples=20))
    taken_before = _files(taken)
    broken_textures = tmp_path / "textures"
    broken_textures.mkdir()
    cv2.imwrite(str(broken_textures / "a.png"), np.zeros((50, 50), np.uint8))
    (broken_textures / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    fresh = tmp_path / "never_created"
    good = tmp_path / "good"
    previews = tmp_path / "previews"
    common = ["--bias_strength=strong", "--bias_digit=2", "--bias_texture=7"]

    good_run = _start(  # two spawned worker processes, one per shard
        f"--output_dir={good}",
        "--num_samples=60",
        "--num_shards=2",
        "--num_workers=2",
        f"--preview_dir={previews}",
        *common,
    )
    digit_run = _start(f"--output_dir={fresh}", "--bias_strength=strong", "--bias_digit=12", "--bias_texture=1")
    code, stdout, own_stderr = _finish(good_run)
    assert code == 0, own_stderr
    assert "written" in stdout and "60 samples in 2 shard(s)" in stdout
    assert f"wrote {previews / 'samples.png'}" in stdout
    manifest = json.loads((good / "manifest.json").read_text())
    assert manifest["variant"] == DatasetVariant("strong", 2, 7, num_samples=60).to_config()
    assert sorted(os.listdir(previews)) == ["samples.png", "textures.png"]
    assert cv2.imread(str(previews / "textures.png")).shape[2] == 3
    stored = list(load_dataset(good, batch_size=60).as_numpy_iterator())[0]
    streamed = list(
        make_dataset(DatasetVariant("strong", 2, 7, num_samples=60), batch_size=60).as_numpy_iterator()
    )[0]
    for name in streamed:
        np.testing.assert_array_equal(stored[name], streamed[name])
    good_before = _files(good)

    # One bad input in a process of its own (above), the others one after the other in one process through
    # the binary's entry point (tests/binary_cases.py), then a rerun on the finished folder.
    cases = {
        "texture": [f"--output_dir={fresh}", "--bias_strength=weak", "--bias_digit=1", "--bias_texture=25"],
        "alias": [f"--output_dir={fresh}", "--bias=weak", "--bias_digit=1", "--bias_texture=2"],
        "none_with_texture": [f"--output_dir={fresh}", "--bias_strength=none", "--bias_texture=3"],
        "count": [f"--output_dir={fresh}", "--num_samples=0"],
        "taken": [f"--output_dir={taken}", "--num_samples=20", "--dataset_seed=4"],
        "unreadable": [f"--output_dir={fresh}", f"--texture_dir={broken_textures}", "--num_samples=10"],
        "rerun": [f"--output_dir={good}", "--num_samples=60", "--num_shards=2", *common],
    }
    outcomes = run_cases("toy_benchmark.generate_main", "toy-generate",
                         [[*args, "--verbose=0"] for args in cases.values()])
    results = {name: (outcome["code"], outcome["stdout"], outcome["stderr"].strip().splitlines())
               for name, outcome in zip(cases, outcomes)}
    results["digit"] = _finish(digit_run)

    # Rerunning on the finished folder verifies it and rewrites nothing.
    code, stdout, own_stderr = results.pop("rerun")
    assert code == 0 and stdout.startswith("verified"), own_stderr
    assert _files(good) == good_before

    expected = {
        "digit": "Argument `bias_digit` must be in 0..9; received 12.",
        "texture": "Argument `bias_texture` must be a texture id in 0..24",
        "alias": "Unknown command line flag 'bias'",  # one flag vocabulary: no aliases
        "none_with_texture": "Argument `bias_texture` must be None for strength 'none'; received 3.",
        "count": "Argument `num_samples` must be >= 1; received 0.",
        "taken": "holds another run (settings.variant.seed: recorded 0, requested 4)",
        "unreadable": "cannot decode texture file",
    }
    for name, (code, _, own_stderr) in results.items():
        assert code == 2, (name, own_stderr)
        assert len(own_stderr) == 1, (name, own_stderr)  # one line, no traceback
        assert own_stderr[0].startswith("toy-generate: error: ") and expected[name] in own_stderr[0], (
            own_stderr
        )
    assert not fresh.exists()
    assert _files(taken) == taken_before


def _wait_for(path, process, timeout=600):
    deadline = time.monotonic() + timeout
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.exists(), _finish(process)


@pytest.mark.slow  # two processes importing TensorFlow one after the other: 60 s on the loaded 2-core machine
def test_a_second_writer_is_refused_at_once_and_the_first_is_not_damaged(tmp_path):
    """Reported: two toy-generate into one folder, one says 'written' while its shard holds zeroed records.

    The first writer is frozen (SIGSTOP) while it writes; the second must be refused at once, naming it,
    and the first must finish a dataset that reads back equal to the streamed one.
    """
    folder = tmp_path / "ds"
    args = [f"--output_dir={folder}", "--num_samples=10000", "--num_shards=1"]
    first = _start(*args)
    _wait_for(folder / "manifest.incomplete.json", first)
    first.send_signal(signal.SIGSTOP)
    try:
        assert not (folder / "manifest.json").exists()  # frozen in the middle of writing
        code, stdout, own_stderr = _finish(_start(*args))
    finally:
        first.send_signal(signal.SIGCONT)
    assert code == 2 and stdout == "", own_stderr
    assert len(own_stderr) == 1 and own_stderr[0].startswith("toy-generate: error: ")
    assert f"is in use by process {first.pid}" in own_stderr[0]
    first_code, first_stdout, first_stderr = _finish(first)
    assert first_code == 0 and first_stdout.startswith("written"), first_stderr
    stored = load_dataset(folder, batch_size=10000).get_single_element()  # verifies the sha256 too
    streamed = make_dataset(DatasetVariant(num_samples=10000), batch_size=10000).get_single_element()
    for name in streamed:
        np.testing.assert_array_equal(stored[name], streamed[name], err_msg=name)
