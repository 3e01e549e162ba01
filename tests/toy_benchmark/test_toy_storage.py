"""Tests of the writer and reader of materialised toy datasets (shards + manifest)."""

import hashlib
import json
import os

import numpy as np
import pytest

from toy_benchmark import DatasetVariant, load_dataset, make_dataset, read_manifest, write_dataset

VARIANT = DatasetVariant("weak", bias_digit=6, bias_texture=20, seed=11, num_samples=250)


def _collect(dataset):
    elements = list(dataset.as_numpy_iterator())
    return {name: np.concatenate([e[name] for e in elements]) for name in elements[0]}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _snapshot(folder):
    """Name -> (sha256, mtime) of every file in a folder but the lock (each writer writes its pid there)."""
    result = {}
    for name in sorted(set(os.listdir(folder)) - {".lock"}):
        path = os.path.join(folder, name)
        with open(path, "rb") as handle:
            result[name] = (hashlib.sha256(handle.read()).hexdigest(), os.stat(path).st_mtime_ns)
    return result


@pytest.mark.parametrize("num_shards", [1, 3])
def test_stored_equals_streamed_bit_for_bit(tmp_path, num_shards):
    result = write_dataset(tmp_path / "ds", VARIANT, num_shards=num_shards)
    assert result.status == "written"
    streamed = _collect(make_dataset(VARIANT, batch_size=64))
    _assert_same(_collect(load_dataset(tmp_path / "ds", batch_size=64)), streamed)
    single = list(load_dataset(tmp_path / "ds").take(3).as_numpy_iterator())
    np.testing.assert_array_equal(single[2]["image"], streamed["image"][2])
    assert load_dataset(tmp_path / "ds").element_spec == make_dataset(VARIANT).element_spec
    assert sorted(os.listdir(tmp_path / "ds")) == [".lock", "manifest.json", "run.json"] + [
        f"shard-{k:05d}-of-{num_shards:05d}.npy" for k in range(num_shards)
    ]


def test_manifest_holds_configuration_counts_and_checksums(tmp_path):
    manifest = write_dataset(tmp_path / "ds", VARIANT, num_shards=2).manifest
    assert manifest == read_manifest(tmp_path / "ds")
    assert manifest.variant == VARIANT.to_config()
    assert manifest.config["variant"] == VARIANT.content_config()
    assert manifest.sources["textures"]["source"] == "procedural"
    assert manifest.sources["mnist"]["source"] == "bundled"
    assert list(manifest.counts.per_digit) == [25] * 10
    assert manifest.counts.biased == 25 == manifest.counts.bias_half_top + manifest.counts.bias_half_bottom
    assert [(s.start, s.stop) for s in manifest.shards] == [(0, 125), (125, 250)]
    for shard in manifest.shards:
        path = tmp_path / "ds" / shard.file
        assert hashlib.sha256(path.read_bytes()).hexdigest() == shard.sha256
        assert os.path.getsize(path) == shard.bytes
    on_disk = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert on_disk["schema"] == "toy_benchmark.dataset_manifest" and on_disk["schema_version"] == 2
    run = json.loads((tmp_path / "ds" / "run.json").read_text())  # the folder's identity: the config
    assert run["kind"] == "toy_benchmark.dataset" and run["settings"] == manifest.config


def test_a_manifest_of_schema_version_1_is_still_read(tmp_path):
    folder = tmp_path / "ds"
    write_dataset(folder, VARIANT, num_shards=2)
    current = json.loads((folder / "manifest.json").read_text())
    legacy = {"format": "toy_benchmark.dataset"}  # what the writer wrote before typed records
    legacy.update({k: v for k, v in current.items() if k not in ("schema", "schema_version")})
    (folder / "manifest.json").write_text(json.dumps(legacy))
    assert read_manifest(folder) == write_dataset(tmp_path / "again", VARIANT, num_shards=2).manifest
    _assert_same(_collect(load_dataset(folder, batch_size=100)), _collect(make_dataset(VARIANT, batch_size=100)))


@pytest.mark.slow  # each spawned worker imports TensorFlow: 10-30 s on a loaded 2-core machine
def test_worker_processes_write_identical_shards(tmp_path):
    variant = DatasetVariant("strong", 1, 2, seed=3, num_samples=2500)  # 3 chunks of work
    one = write_dataset(tmp_path / "one", variant, num_shards=2, num_workers=1).manifest
    two = write_dataset(tmp_path / "two", variant, num_shards=2, num_workers=2).manifest
    assert [s.sha256 for s in one.shards] == [s.sha256 for s in two.shards]
    assert one == two


class _Interrupt(Exception):
    pass


def test_interrupted_writer_is_never_read_and_resumes(tmp_path):
    folder = tmp_path / "ds"
    done = []

    def crash_after_first_shard(count):
        done.append(count)
        if sum(done) > 100:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        write_dataset(folder, VARIANT, num_shards=2, progress=crash_after_first_shard)
    assert not (folder / "manifest.json").exists()
    assert (folder / "manifest.incomplete.json").exists()
    with pytest.raises(ValueError, match="must be a finished dataset.* writer was interrupted \(run the writer again"):
        load_dataset(folder)
    resumed = write_dataset(folder, VARIANT, num_shards=5)  # keeps the interrupted run's layout
    assert resumed.status == "resumed" and len(resumed.manifest.shards) == 2
    clean = write_dataset(tmp_path / "clean", VARIANT, num_shards=2).manifest
    assert resumed.manifest == clean
    assert sorted(os.listdir(folder)) == sorted(os.listdir(tmp_path / "clean"))
    _assert_same(
        _collect(load_dataset(folder, batch_size=100)), _collect(make_dataset(VARIANT, batch_size=100))
    )


def test_rerun_verifies_and_repairs(tmp_path):
    folder = tmp_path / "ds"
    write_dataset(folder, VARIANT, num_shards=2)
    before = _snapshot(folder)
    assert write_dataset(folder, VARIANT).status == "verified"
    assert _snapshot(folder) == before
    shard = folder / "shard-00001-of-00002.npy"
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="shard-00001-of-00002.npy is damaged"):
        load_dataset(folder)
    assert write_dataset(folder, VARIANT).status == "repaired"
    assert {k: v[0] for k, v in _snapshot(folder).items()} == {k: v[0] for k, v in before.items()}
    assert write_dataset(folder, VARIANT).status == "verified"


def test_a_folder_holding_something_else_is_refused_untouched(tmp_path):
    folder = tmp_path / "ds"
    write_dataset(folder, VARIANT)
    before = _snapshot(folder)
    other = DatasetVariant("weak", bias_digit=6, bias_texture=20, seed=12, num_samples=250)
    with pytest.raises(
        ValueError, match=r"holds another run \(settings.variant.seed: recorded 11, requested 12\)"
    ):
        write_dataset(folder, other)
    assert _snapshot(folder) == before
    replaced = write_dataset(folder, other, overwrite=True)  # explicitly: the old dataset is replaced
    assert replaced.status == "written" and replaced.manifest.variant["seed"] == 12
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"not ours")
    with pytest.raises(ValueError, match="is not empty and holds no run.json"):
        write_dataset(foreign, VARIANT)
    assert sorted(os.listdir(foreign)) == [".lock", "holiday.jpg"]  # the refused writer's (empty) lock


def test_test_split_written_with_another_seed_is_the_same_dataset(tmp_path):
    write_dataset(tmp_path / "ds", DatasetVariant(split="test", seed=0, num_samples=50))
    assert (
        write_dataset(tmp_path / "ds", DatasetVariant(split="test", seed=9, num_samples=50)).status
        == "verified"
    )


def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="must be a toy dataset folder.* holds no manifest.json"):
        load_dataset(tmp_path)
    write_dataset(tmp_path / "ds", VARIANT, num_shards=2)
    os.remove(tmp_path / "ds" / "shard-00000-of-00002.npy")
    with pytest.raises(FileNotFoundError, match="shard-00000-of-00002.npy is missing"):
        load_dataset(tmp_path / "ds")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="not a toy dataset manifest"):
        load_dataset(tmp_path / "bad")
