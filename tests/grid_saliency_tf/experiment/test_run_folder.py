"""RunFolder: fresh, resume, mismatch, overwrite, foreign files, and an exclusive lock across processes."""

import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

from grid_saliency_tf.experiment import files
from grid_saliency_tf.experiment.run_folder import (
    LOCK_FILE,
    RUN_FILE,
    RunFolder,
    RunFolderBusy,
    RunFolderError,
    RunFolderMismatch,
)

SETTINGS = {"epochs": 6, "learning_rate": 0.003, "grid_shape": (16, 32), "backbone": "vgg16"}


def test_fresh_folder_records_its_run(tmp_path):
    folder = tmp_path / "runs" / "vgg16" / "strong-d3"
    with RunFolder.open(folder, kind="toy.train", settings=SETTINGS) as run:
        assert run.resumed is False and run.replaced is False
        assert run.path == folder
        run.write_json("eval/metrics.json", {"iou": np.float32(0.5)})
        assert run.read_json("eval/metrics.json") == {"iou": 0.5}
    record = files.read_json(folder / RUN_FILE)
    assert record["kind"] == "toy.train"
    assert record["settings"] == {**SETTINGS, "grid_shape": [16, 32]}
    assert set(record) == {"kind", "settings", "package_version", "created"}


def test_same_settings_resume_with_tuples_equal_to_lists_and_numpy_equal_to_python(tmp_path):
    with RunFolder.open(tmp_path, kind="toy.train", settings=SETTINGS) as run:
        run.write_text("train/log.txt", "epoch 1\n")
        created = run.record["created"]
    same = {**SETTINGS, "grid_shape": [16, 32], "epochs": np.int64(6), "learning_rate": np.float64(0.003)}
    with RunFolder.open(tmp_path, kind="toy.train", settings=dict(reversed(list(same.items())))) as run:
        assert run.resumed is True
        assert run.record["created"] == created
        assert (run.path / "train" / "log.txt").read_text() == "epoch 1\n"


def test_other_settings_are_refused_naming_each_differing_key(tmp_path):
    with RunFolder.open(tmp_path, kind="toy.train", settings=SETTINGS):
        pass
    requested = {**SETTINGS, "epochs": 12, "learning_rate": 0.003 + 1e-12, "seed": 1}
    with pytest.raises(RunFolderMismatch) as caught:
        with RunFolder.open(tmp_path, kind="toy.train", settings=requested):
            pytest.fail("a mismatching run must not be opened")
    assert caught.value.differences == [
        "settings.epochs: recorded 6, requested 12",
        "settings.learning_rate: recorded 0.003, requested 0.003000000001",
        "settings.seed: not recorded, requested 1",
    ]
    assert str(tmp_path) in str(caught.value) and "overwrite" in str(caught.value)
    with pytest.raises(RunFolderMismatch, match="kind: recorded 'toy.train', requested 'toy.evaluate'"):
        with RunFolder.open(tmp_path, kind="toy.evaluate", settings=SETTINGS):
            pass
    with pytest.raises(RunFolderMismatch, match=r"settings.epochs: recorded 6, requested 6\.0"):
        with RunFolder.open(tmp_path, kind="toy.train", settings={**SETTINGS, "epochs": 6.0}):
            pass
    assert files.read_json(tmp_path / RUN_FILE)["settings"]["epochs"] == 6


def test_overwrite_replaces_the_old_run(tmp_path):
    with RunFolder.open(tmp_path, kind="toy.train", settings=SETTINGS) as run:
        run.write_text("train/model.keras", "old model")
    with RunFolder.open(tmp_path, kind="toy.train", settings={**SETTINGS, "epochs": 12}, overwrite=True) as run:
        assert run.resumed is False and run.replaced is True
        assert sorted(os.listdir(tmp_path)) == [LOCK_FILE, RUN_FILE]
    assert files.read_json(tmp_path / RUN_FILE)["settings"]["epochs"] == 12


def test_foreign_files_are_refused_unless_overwrite(tmp_path):
    (tmp_path / "holiday.jpg").write_bytes(b"jpeg")
    with pytest.raises(RunFolderError, match=r"not empty and holds no run\.json \(holiday\.jpg\)"):
        with RunFolder.open(tmp_path, kind="toy.train", settings=SETTINGS):
            pass
    assert (tmp_path / "holiday.jpg").exists() and not (tmp_path / RUN_FILE).exists()
    with RunFolder.open(tmp_path, kind="toy.train", settings=SETTINGS, overwrite=True) as run:
        assert run.replaced is True
    assert not (tmp_path / "holiday.jpg").exists()


def test_unreadable_run_json_and_a_file_path_are_refused(tmp_path):
    (tmp_path / RUN_FILE).write_text("{")
    with pytest.raises(RunFolderError, match="unreadable run.json"):
        with RunFolder.open(tmp_path, kind="k", settings={}):
            pass
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match="exists and is not a folder"):
        with RunFolder.open(tmp_path / "file", kind="k", settings={}):
            pass


def test_stale_temporaries_are_removed_and_steps_are_remembered(tmp_path):
    with RunFolder.open(tmp_path, kind="k", settings={}) as run:
        assert not run.done("train")
        run.mark_done("train", epochs=3)
    (tmp_path / f"{files.TEMPORARY_PREFIX}metrics-x.json").write_text("half")  # a killed writer's
    with RunFolder.open(tmp_path, kind="k", settings={}) as run:
        assert run.done("train") and not run.done("evaluate")
        assert not (tmp_path / f"{files.TEMPORARY_PREFIX}metrics-x.json").exists()
        with pytest.raises(ValueError, match="`step`"):
            run.done("../escape")
        with pytest.raises(ValueError, match="`name` must be a relative path"):
            run.file("../outside.json")


def test_nested_run_folders(tmp_path):
    with RunFolder.open(tmp_path / "sweep", kind="sweep", settings={"values": [0.1, 0.2]}) as sweep:
        for value in (0.1, 0.2):
            with sweep.child(f"lambda={value:g}", kind="eval", settings={"lambda": value}) as run:
                run.write_json("metrics.json", {"value": value})
    with RunFolder.open(tmp_path / "sweep", kind="sweep", settings={"values": [0.1, 0.2]}) as sweep:
        assert sweep.resumed
        with sweep.child("lambda=0.1", kind="eval", settings={"lambda": 0.1}) as run:
            assert run.resumed and run.read_json("metrics.json") == {"value": 0.1}


def test_the_same_process_cannot_open_a_folder_twice(tmp_path):
    with RunFolder.open(tmp_path, kind="k", settings={}):
        with pytest.raises(RunFolderBusy, match=rf"in use by process {os.getpid()}"):
            with RunFolder.open(tmp_path, kind="k", settings={}):
                pass
    with RunFolder.open(tmp_path, kind="k", settings={}) as run:  # released on exit
        assert run.resumed


def test_the_lock_is_released_when_the_body_raises(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with RunFolder.open(tmp_path, kind="k", settings={}):
            raise KeyboardInterrupt
    with RunFolder.open(tmp_path, kind="k", settings={}) as run:
        assert run.resumed


def _hold(folder, ready, release):
    with RunFolder.open(folder, kind="k", settings={"a": 1}):
        ready.set()
        release.wait(60)


@pytest.mark.parametrize("ending", ["exits", "dies"])
def test_a_second_process_is_refused_at_once_and_can_open_after_the_first_ends(tmp_path, ending):
    context = multiprocessing.get_context("fork")  # the parent's modules are already imported
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(tmp_path, ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        started = time.monotonic()
        with pytest.raises(RunFolderBusy, match=rf"{tmp_path}.*in use by process {holder.pid}"):
            with RunFolder.open(tmp_path, kind="k", settings={"a": 1}):
                pass
        assert time.monotonic() - started < 1.0
        if ending == "exits":
            release.set()
        else:
            os.kill(holder.pid, signal.SIGKILL)
        holder.join(60)
        assert holder.exitcode == (0 if ending == "exits" else -signal.SIGKILL)
    finally:
        if holder.is_alive():
            holder.kill()
            holder.join()
    with RunFolder.open(tmp_path, kind="k", settings={"a": 1}) as run:
        assert run.resumed


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="`kind` must be a non-empty str"):
        with RunFolder.open(tmp_path, kind="", settings={}):
            pass
    with pytest.raises(ValueError, match=r"`settings\.rate` must be a finite number"):
        with RunFolder.open(tmp_path, kind="k", settings={"rate": float("nan")}):
            pass
    assert os.listdir(tmp_path) == []
