"""Materialising a toy-dataset variant to disk, and reading it back as the same `tf.data.Dataset`.

A dataset folder holds shards `shard-00000-of-00004.npy` (NumPy structured arrays of the compact samples
of `generator.SAMPLE_FIELDS`, one record per sample, memory-mapped when read) and `manifest.json`: the
full configuration (variant, texture pool and MNIST fingerprints and sources, generator and format
versions), the counts, and each shard's index range, size and sha256.

Crash safety: the writer first records its plan in `manifest.incomplete.json`, writes each shard to a
`.tmp` file and renames it when complete, and writes `manifest.json` (atomically) only when every shard is
there. A folder without `manifest.json` is never read as a dataset. Rerunning the writer on the same folder
resumes an interrupted run, or verifies a finished one (regenerating a damaged shard, which is possible
because every sample is a pure function of the configuration); a folder holding a different dataset, or
other files, is refused before anything is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from toy_benchmark.data.generator import GENERATOR_VERSION, SAMPLE_FIELDS, SampleGenerator
from toy_benchmark.data.mnist import MnistDigits
from toy_benchmark.data.streaming import dataset_from_sample_fn, resolve_sources
from toy_benchmark.data.textures import TexturePool
from toy_benchmark.data.variant import NUM_DIGITS, DatasetVariant

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "PARTIAL_MANIFEST_NAME",
    "RECORD_DTYPE",
    "WriteResult",
    "check_output_dir",
    "dataset_config",
    "load_dataset",
    "read_manifest",
    "write_dataset",
]

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
PARTIAL_MANIFEST_NAME = "manifest.incomplete.json"
RECORD_DTYPE = np.dtype([(name, dtype, shape) for name, (dtype, shape) in SAMPLE_FIELDS.items()])
_SAMPLES_PER_SHARD = 10_000
_CHUNK = 1_000


@dataclasses.dataclass(frozen=True)
class WriteResult:
    """What `write_dataset` did.

    Attributes:
      path: the dataset folder.
      status: "written" (new), "resumed" (an interrupted run finished), "verified" (already complete,
        checksums match) or "repaired" (already complete; damaged shards regenerated).
      manifest: the manifest of the finished dataset.
    """

    path: str
    status: str
    manifest: dict[str, Any]


def dataset_config(variant: DatasetVariant, textures: TexturePool, mnist: MnistDigits) -> dict[str, Any]:
    """The identity of a dataset's content: two folders with equal configs hold the same samples."""
    return {
        "format_version": FORMAT_VERSION,
        "generator_version": GENERATOR_VERSION,
        "variant": variant.content_config(),
        "textures": {"count": len(textures), "fingerprint": textures.fingerprint},
        "mnist": {"fingerprint": mnist.fingerprint},
    }


def _config_differences(found: dict[str, Any], wanted: dict[str, Any], prefix: str = "") -> list[str]:
    differences = []
    for key in sorted(set(found) | set(wanted)):
        a, b = found.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            differences += _config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            short = lambda v: (v[:12] + "...") if isinstance(v, str) and len(v) > 16 else v  # noqa: E731
            differences.append(f"{prefix}{key} {short(a)!r} there, {short(b)!r} requested")
    return differences


def _write_json_atomic(path: str, content: dict[str, Any]) -> None:
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=1, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the dataset manifest {path!r} ({error})") from None
    if not isinstance(content, dict) or "config" not in content or "shards" not in content:
        raise ValueError(f"{path!r} is not a toy dataset manifest")
    return content


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _shard_ok(folder: str, shard: dict[str, Any], *, check_sum: bool = True) -> bool:
    path = os.path.join(folder, shard["file"])
    if shard.get("sha256") is None or not os.path.isfile(path) or os.path.getsize(path) != shard["bytes"]:
        return False
    return not check_sum or _sha256(path) == shard["sha256"]


def _inspect_folder(folder: str, config: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """('absent' | 'empty' | 'partial' | 'complete', manifest); raises if the folder is not ours to write."""
    if not os.path.exists(folder):
        return "absent", None
    if not os.path.isdir(folder):
        raise ValueError(f"output_dir {folder!r} exists and is not a folder")
    for name, state in ((MANIFEST_NAME, "complete"), (PARTIAL_MANIFEST_NAME, "partial")):
        manifest_path = os.path.join(folder, name)
        if os.path.exists(manifest_path):
            manifest = _read_json(manifest_path)
            differences = _config_differences(manifest["config"], config)
            if differences:
                raise ValueError(
                    f"output_dir {folder!r} holds a different dataset ({'; '.join(differences)}); "
                    "choose another folder"
                )
            return state, manifest
    if os.listdir(folder):
        raise ValueError(
            f"output_dir {folder!r} is not empty and holds no toy dataset; choose an empty folder"
        )
    return "empty", None


def check_output_dir(
    path: str | os.PathLike, variant: DatasetVariant, textures: TexturePool, mnist: MnistDigits
) -> str:
    """Whether `write_dataset` may write this variant into `path`, without writing anything.

    Returns:
      "absent", "empty", "partial" (an interrupted run of this dataset) or "complete" (this dataset).

    Raises:
      ValueError: if the folder holds a different dataset, or other files.
    """
    return _inspect_folder(os.fspath(path), dataset_config(variant, textures, mnist))[0]


def _plan(
    variant: DatasetVariant, textures: TexturePool, mnist: MnistDigits, num_shards: int
) -> dict[str, Any]:
    num_samples = variant.num_samples
    shards = []
    for shard_index in range(num_shards):
        start, stop = shard_index * num_samples // num_shards, (shard_index + 1) * num_samples // num_shards
        shards.append(
            {
                "file": f"shard-{shard_index:05d}-of-{num_shards:05d}.npy",
                "start": start,
                "stop": stop,
                "num_samples": stop - start,
                "bytes": None,
                "sha256": None,
                "counts": None,
            }
        )
    return {
        "format": "toy_benchmark.dataset",
        "config": dataset_config(variant, textures, mnist),
        "variant": variant.to_config(),
        "name": variant.name,
        "num_samples": num_samples,
        "sources": {
            "textures": {
                "source": textures.source,
                "names": list(textures.names),
                "shapes": textures.shapes.tolist(),
            },
            "mnist": {
                "source": mnist.source,
                "train_digits": len(mnist.train_labels),
                "test_digits": len(mnist.test_labels),
            },
        },
        "record_dtype": json.loads(json.dumps(np.lib.format.dtype_to_descr(RECORD_DTYPE))),
        "shards": shards,
    }


# --- generation of shards (in-process or in worker processes) -------------------------------------------

_WORKER_GENERATOR: SampleGenerator | None = None


def _init_worker(variant: DatasetVariant, textures: TexturePool, mnist: MnistDigits) -> None:
    global _WORKER_GENERATOR
    _WORKER_GENERATOR = SampleGenerator(variant, textures=textures, mnist=mnist)


def _write_chunk(
    task: tuple[str, int, int, int], generator: SampleGenerator | None = None
) -> tuple[str, int, np.ndarray]:
    """Writes samples [start, stop) into the shard file (rows from start - shard_start); returns counts."""
    path, shard_start, start, stop = task
    generator = generator or _WORKER_GENERATOR
    batch = generator.generate(np.arange(start, stop, dtype=np.int64))
    records = np.lib.format.open_memmap(path, mode="r+")
    rows = records[start - shard_start : stop - shard_start]
    for name in SAMPLE_FIELDS:
        rows[name] = batch[name]
    records.flush()
    del records, rows
    counts = np.concatenate(
        [np.bincount(batch["digit"], minlength=NUM_DIGITS), np.bincount(batch["bias_half"], minlength=3)]
    )
    return path, stop - start, counts


def _generate_shards(
    folder: str,
    shards: list[dict[str, Any]],
    generator: SampleGenerator,
    num_workers: int,
    on_shard_done: Callable[[dict[str, Any]], None],
    progress: Callable[[int], None] | None,
) -> None:
    tasks, pending = [], {}
    for shard in shards:
        temporary = os.path.join(folder, shard["file"] + ".tmp")
        np.lib.format.open_memmap(
            temporary, mode="w+", dtype=RECORD_DTYPE, shape=(shard["num_samples"],)
        ).flush()
        pending[temporary] = [shard, shard["num_samples"], np.zeros(NUM_DIGITS + 3, dtype=np.int64)]
        for start in range(shard["start"], shard["stop"], _CHUNK):
            tasks.append((temporary, shard["start"], start, min(start + _CHUNK, shard["stop"])))

    def collect(result: tuple[str, int, np.ndarray]) -> None:
        temporary, count, counts = result
        entry = pending[temporary]
        entry[1] -= count
        entry[2] += counts
        if progress is not None:
            progress(count)
        if entry[1] == 0:
            shard = entry[0]
            shard["sha256"] = _sha256(temporary)
            shard["bytes"] = os.path.getsize(temporary)
            shard["counts"] = {
                "per_digit": entry[2][:NUM_DIGITS].tolist(),
                "bias_half_top": int(entry[2][NUM_DIGITS + 1]),
                "bias_half_bottom": int(entry[2][NUM_DIGITS + 2]),
            }
            os.replace(temporary, os.path.join(folder, shard["file"]))
            on_shard_done(shard)

    if num_workers == 1 or len(tasks) == 1:
        for task in tasks:
            collect(_write_chunk(task, generator))
        return
    context = multiprocessing.get_context("spawn")
    initargs = (generator.variant, generator.textures, generator.mnist)
    with context.Pool(min(num_workers, len(tasks)), initializer=_init_worker, initargs=initargs) as pool:
        for result in pool.imap_unordered(_write_chunk, tasks):
            collect(result)


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def write_dataset(
    path: str | os.PathLike,
    variant: DatasetVariant,
    *,
    textures: TexturePool | str | os.PathLike | None = None,
    mnist: MnistDigits | str | os.PathLike | None = None,
    num_shards: int | None = None,
    num_workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> WriteResult:
    """Materialises a variant into a folder of shards with a manifest, or finishes or verifies one.

    The shard files are the same bytes whatever num_workers; the samples are the same whatever
    num_shards (and equal to `make_dataset`'s).

    Args:
      path: the dataset folder; created if absent. It must be empty, or hold this same dataset (finished:
        verified; interrupted: resumed with its original shard layout).
      variant: the dataset variant.
      textures: a TexturePool, a folder of texture images, or None for the procedural pool.
      mnist: MnistDigits, a path to `mnist.npz` or an IDX folder, or None for the bundled digits.
      num_shards: number of shard files; None for one per 10,000 samples.
      num_workers: processes generating in parallel (spawned; 1 generates in this process).
      progress: called with the number of samples finished, as they finish.

    Returns:
      A WriteResult with the status and the manifest.

    Raises:
      ValueError: on bad arguments, or if the folder holds something else (nothing is written then).
      FileNotFoundError: if a source path does not exist.
    """
    folder = os.fspath(path)
    pool, digits = resolve_sources(textures, mnist)
    generator = SampleGenerator(variant, textures=pool, mnist=digits)
    if num_shards is None:
        num_shards = max(1, min(variant.num_samples, math.ceil(variant.num_samples / _SAMPLES_PER_SHARD)))
    _check_positive("num_shards", num_shards)
    _check_positive("num_workers", num_workers)
    if num_shards > variant.num_samples:
        raise ValueError(f"num_shards must be at most num_samples ({variant.num_samples}), got {num_shards}")
    config = dataset_config(variant, pool, digits)
    state, existing = _inspect_folder(folder, config)
    manifest_path = os.path.join(folder, MANIFEST_NAME)
    partial_path = os.path.join(folder, PARTIAL_MANIFEST_NAME)

    if state == "complete":
        damaged = [shard for shard in existing["shards"] if not _shard_ok(folder, shard)]
        if progress is not None:
            progress(sum(shard["num_samples"] for shard in existing["shards"] if shard not in damaged))
        if not damaged:
            return WriteResult(folder, "verified", existing)
        expected = {shard["file"]: shard["sha256"] for shard in damaged}

        def check_repair(shard: dict[str, Any]) -> None:
            if shard["sha256"] != expected[shard["file"]]:
                raise ValueError(
                    f"regenerated shard {shard['file']} does not match the manifest's checksum; the folder "
                    f"{folder!r} was written by another version of the generator"
                )

        _generate_shards(folder, [dict(s) for s in damaged], generator, num_workers, check_repair, progress)
        return WriteResult(folder, "repaired", existing)

    if state == "partial":
        plan = existing
        status = "resumed"
    else:
        os.makedirs(folder, exist_ok=True)
        plan = _plan(variant, pool, digits, num_shards)
        _write_json_atomic(partial_path, plan)
        status = "written"
    todo = []
    for shard in plan["shards"]:
        if shard["sha256"] is not None and _shard_ok(folder, shard):
            if progress is not None:
                progress(shard["num_samples"])
        else:
            shard["sha256"] = None
            todo.append(shard)

    def record(_: dict[str, Any]) -> None:
        _write_json_atomic(partial_path, plan)

    _generate_shards(folder, todo, generator, num_workers, record, progress)
    per_digit = np.sum([s["counts"]["per_digit"] for s in plan["shards"]], axis=0)
    plan["counts"] = {
        "num_samples": variant.num_samples,
        "per_digit": per_digit.tolist(),
        "biased": int(
            sum(s["counts"]["bias_half_top"] + s["counts"]["bias_half_bottom"] for s in plan["shards"])
        ),
        "bias_half_top": int(sum(s["counts"]["bias_half_top"] for s in plan["shards"])),
        "bias_half_bottom": int(sum(s["counts"]["bias_half_bottom"] for s in plan["shards"])),
    }
    plan["complete"] = True
    _write_json_atomic(manifest_path, plan)
    os.remove(partial_path)
    return WriteResult(folder, status, plan)


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a finished dataset folder.

    Raises:
      FileNotFoundError: if the folder holds no dataset.
      ValueError: if the dataset is unfinished or the manifest is damaged.
    """
    folder = os.fspath(path)
    manifest_path = os.path.join(folder, MANIFEST_NAME)
    if not os.path.exists(manifest_path):
        if os.path.exists(os.path.join(folder, PARTIAL_MANIFEST_NAME)):
            raise ValueError(
                f"dataset {folder!r} is unfinished (its writer was interrupted); "
                "run the writer again to finish it"
            )
        raise FileNotFoundError(f"no toy dataset in {folder!r} (no {MANIFEST_NAME})")
    manifest = _read_json(manifest_path)
    if (
        manifest.get("format") != "toy_benchmark.dataset"
        or manifest["config"].get("format_version") != FORMAT_VERSION
    ):
        raise ValueError(
            f"{manifest_path!r} is not a toy dataset manifest of format version {FORMAT_VERSION}"
        )
    return manifest


def load_dataset(
    path: str | os.PathLike,
    *,
    batch_size: int | None = None,
    shard_index: int = 0,
    num_shards: int = 1,
    shuffle_seed: int | None = None,
    drop_remainder: bool = False,
    num_parallel_calls: int | None = None,
    verify: bool = True,
) -> tf.data.Dataset:
    """Reads a materialised dataset back as the `tf.data.Dataset` that `make_dataset` streams.

    Same element structure and, sample for sample, the same values, bit for bit (see `streaming` for the
    element spec). The shard files are memory-mapped.

    Args:
      path: a folder written by `write_dataset`.
      batch_size, shard_index, num_shards, shuffle_seed, drop_remainder, num_parallel_calls: as in
        `make_dataset` (num_shards here splits the samples for reading, independent of the files).
      verify: check every shard's sha256 against the manifest first (reads the whole dataset once).

    Returns:
      tf.data.Dataset of dicts: image float32 (64, 64, 1), label int32 (64, 64), r_gt, context, c_bias
      float32 (64, 64), and the metadata scalars (see `streaming`).

    Raises:
      FileNotFoundError: if the folder holds no dataset or a shard is missing.
      ValueError: if the dataset is unfinished, or a shard is damaged.
    """
    folder = os.fspath(path)
    manifest = read_manifest(folder)
    shards = manifest["shards"]
    arrays = []
    for shard in shards:
        file_path = os.path.join(folder, shard["file"])
        if not os.path.isfile(file_path):
            raise FileNotFoundError(f"dataset {folder!r}: shard {shard['file']} is missing")
        if not _shard_ok(folder, shard, check_sum=verify):
            raise ValueError(f"dataset {folder!r}: shard {shard['file']} is damaged (size or sha256 differ)")
        records = np.load(file_path, mmap_mode="r")
        if records.dtype != RECORD_DTYPE or records.shape != (shard["num_samples"],):
            raise ValueError(f"dataset {folder!r}: shard {shard['file']} has the wrong record layout")
        arrays.append(records)
    starts = np.array([shard["start"] for shard in shards], dtype=np.int64)

    def read(indices: np.ndarray) -> dict[str, np.ndarray]:
        which = np.searchsorted(starts, indices, side="right") - 1
        out = np.empty(len(indices), dtype=RECORD_DTYPE)
        for shard_id in np.unique(which):
            selected = which == shard_id
            out[selected] = arrays[shard_id][indices[selected] - starts[shard_id]]
        return {name: out[name] for name in SAMPLE_FIELDS}

    return dataset_from_sample_fn(
        read,
        manifest["num_samples"],
        batch_size=batch_size,
        shard_index=shard_index,
        num_shards=num_shards,
        shuffle_seed=shuffle_seed,
        drop_remainder=drop_remainder,
        num_parallel_calls=num_parallel_calls,
    )
