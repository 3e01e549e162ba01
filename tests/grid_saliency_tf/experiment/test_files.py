"""Atomic writes keep the old file on failure or Ctrl-C and leave no temporary; JSON never holds NaN."""

import dataclasses
import os
import pathlib

import numpy as np
import pytest

from grid_saliency_tf.experiment import files


def _listing(folder):
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("interruption", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_atomic_path_keeps_the_old_file_and_leaves_no_temporary(tmp_path, interruption):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(type(interruption)):
        with files.atomic_path(target) as temporary:
            temporary.write_text("half of the new con")
            raise interruption
    assert target.read_text() == "old"
    assert _listing(tmp_path) == ["metrics.json"]


def test_atomic_path_keeps_suffixes_so_format_sniffing_writers_work(tmp_path):
    target = tmp_path / "epoch-0001.weights.h5"
    with files.atomic_path(target) as temporary:
        assert temporary.parent == tmp_path
        assert temporary.name.startswith(files.TEMPORARY_PREFIX + "epoch-0001-")
        assert temporary.name.endswith(".weights.h5")
        temporary.write_bytes(b"weights")
    assert target.read_bytes() == b"weights"
    array_target = tmp_path / "sub" / "shard.npy"  # np.save would append .npy to a name without it
    with files.atomic_path(array_target) as temporary:
        np.save(temporary, np.arange(3))
    np.testing.assert_array_equal(np.load(array_target), np.arange(3))
    assert _listing(tmp_path / "sub") == ["shard.npy"]


def test_atomic_files_get_a_normal_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        path = files.write_bytes(tmp_path / "a.bin", b"x")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_write_json_is_stable_and_converts_numpy_tuples_paths_dataclasses(tmp_path):
    @dataclasses.dataclass
    class Point:
        x: int
        y: float

    content = {"b": np.float32(0.5), "a": (1, np.int64(2)), "array": np.eye(2), "path": pathlib.Path("p"),
               "point": Point(1, 2.5), "none": None, "flag": np.bool_(True)}
    files.write_json(tmp_path / "a.json", content)
    text = (tmp_path / "a.json").read_text()
    assert text.endswith("}\n") and text.index('"b"') < text.index('"a"')  # insertion order kept
    assert files.read_json(tmp_path / "a.json") == {
        "b": 0.5, "a": [1, 2], "array": [[1.0, 0.0], [0.0, 1.0]], "path": "p", "point": {"x": 1, "y": 2.5},
        "none": None, "flag": True}
    files.write_json(tmp_path / "b.json", content)
    assert (tmp_path / "b.json").read_bytes() == (tmp_path / "a.json").read_bytes()


@pytest.mark.parametrize("bad", [float("nan"), np.float32("inf"), np.array([1.0, np.nan])])
def test_write_json_refuses_nan_and_infinity_naming_the_entry_and_keeps_the_old_file(tmp_path, bad):
    target = tmp_path / "metrics.json"
    files.write_json(target, {"ok": 1})
    with pytest.raises(ValueError, match=r"`content\.scores\.iou.*finite"):
        files.write_json(target, {"scores": {"iou": bad}})
    assert files.read_json(target) == {"ok": 1}
    assert _listing(tmp_path) == ["metrics.json"]


def test_to_json_value_refuses_non_string_keys_and_unknown_types():
    with pytest.raises(TypeError, match=r"str keys.*received the key 3"):
        files.to_json_value({"a": {3: "x"}})
    with pytest.raises(TypeError, match=r"`content\[0\]`.*received a set"):
        files.to_json_value([{1, 2}])


def test_read_json_is_strict(tmp_path):
    (tmp_path / "nan.json").write_text('{"a": NaN}')
    with pytest.raises(ValueError, match=r"nan\.json.*not valid JSON"):
        files.read_json(tmp_path / "nan.json")
    (tmp_path / "cut.json").write_text('{"a": ')
    with pytest.raises(ValueError, match=r"cut\.json.*not valid JSON"):
        files.read_json(tmp_path / "cut.json")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        files.read_json(tmp_path / "missing.json")
    assert files.read_json(tmp_path / "missing.json", missing_ok=True) is None


def test_write_text_and_bytes_check_their_argument(tmp_path):
    with pytest.raises(TypeError, match="`text` must be a str"):
        files.write_text(tmp_path / "a.txt", b"bytes")
    with pytest.raises(TypeError, match="`data` must be bytes"):
        files.write_bytes(tmp_path / "a.bin", "text")
    assert _listing(tmp_path) == []


def test_copy_file_and_stale_temporaries(tmp_path):
    source = files.write_text(tmp_path / "a.txt", "hello")
    copy = files.copy_file(source, tmp_path / "report" / "b.txt")
    assert copy.read_text() == "hello"
    (tmp_path / f"{files.TEMPORARY_PREFIX}metrics-abc.json").write_text("half")
    (tmp_path / "report" / f"{files.TEMPORARY_PREFIX}x.png").write_text("nested, not ours")
    assert files.remove_stale_temporaries(tmp_path) == [f"{files.TEMPORARY_PREFIX}metrics-abc.json"]
    assert _listing(tmp_path) == ["a.txt", "report"]
    assert len(_listing(tmp_path / "report")) == 2
