"""Reading a materialised toy dataset back as the same `tf.data.Dataset` that `make_dataset` streams."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow as tf

from toy_benchmark.data.generator import SAMPLE_FIELDS
from toy_benchmark.data.manifest import RECORD_DTYPE, DatasetManifest, read_manifest
from toy_benchmark.data.streaming import dataset_from_sample_fn
from toy_benchmark.data.writer import sha256_of_file

__all__ = ["load_dataset", "verify_dataset"]


def _check_shards(folder: str, manifest: DatasetManifest, *, check_sums: bool) -> None:
    """Raises naming the first shard that is missing or has another size (or sha256, if check_sums)."""
    for shard in manifest.shards:
        path = os.path.join(folder, shard.file)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"dataset {folder!r}: shard {shard.file} is missing")
        if os.path.getsize(path) != shard.bytes or (check_sums and sha256_of_file(path) != shard.sha256):
            raise ValueError(f"dataset {folder!r}: shard {shard.file} is damaged (size or sha256 differ from "
                             "the manifest); run the dataset writer on the folder again to repair it")


def verify_dataset(path: str | os.PathLike) -> dict[str, Any]:
    """Checks every shard of a finished dataset against the size and sha256 in its manifest.

    Reads the whole dataset once (about 0.5 GB for the paper's 50,000 training samples).

    Args:
        path: A folder written by `write_dataset`.

    Returns:
        What was verified, to record: ``{"path", "name", "shards": {file: sha256}}``.

    Raises:
        FileNotFoundError: If the folder holds no dataset or a shard is missing.
        ValueError: If the dataset is unfinished, or a shard is damaged (naming it).
    """
    folder = os.fspath(path)
    manifest = read_manifest(folder)
    _check_shards(folder, manifest, check_sums=True)
    return {"path": folder, "name": manifest.name,
            "shards": {shard.file: shard.sha256 for shard in manifest.shards}}


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

    Same element structure and, sample for sample, the same values, bit for bit (see `streaming` for
    the element spec). The shard files are memory-mapped.

    Args:
        path: A folder written by `write_dataset`.
        batch_size, shard_index, num_shards, shuffle_seed, drop_remainder, num_parallel_calls: As in
            `make_dataset` (num_shards here splits the samples for reading, independent of the files).
        verify: Check every shard's sha256 against the manifest first (`verify_dataset`: reads the whole
            dataset once); without it only the sizes are checked.

    Returns:
        tf.data.Dataset of dicts: image float32 (64, 64, 1), label int32 (64, 64), r_gt, context,
        c_bias float32 (64, 64), and the metadata scalars (see `streaming`).

    Raises:
        FileNotFoundError: If the folder holds no dataset or a shard is missing.
        ValueError: If the dataset is unfinished, or a shard is damaged.
    """
    folder = os.fspath(path)
    manifest = read_manifest(folder)
    _check_shards(folder, manifest, check_sums=verify)
    arrays = []
    for shard in manifest.shards:
        records = np.load(os.path.join(folder, shard.file), mmap_mode="r")
        if records.dtype != RECORD_DTYPE or records.shape != (shard.num_samples,):
            raise ValueError(f"dataset {folder!r}: shard {shard.file} has the wrong record layout")
        arrays.append(records)
    starts = np.array([shard.start for shard in manifest.shards], dtype=np.int64)

    def read(indices: np.ndarray) -> dict[str, np.ndarray]:
        which = np.searchsorted(starts, indices, side="right") - 1
        out = np.empty(len(indices), dtype=RECORD_DTYPE)
        for shard_id in np.unique(which):
            selected = which == shard_id
            out[selected] = arrays[shard_id][indices[selected] - starts[shard_id]]
        return {name: out[name] for name in SAMPLE_FIELDS}

    return dataset_from_sample_fn(
        read, manifest.num_samples, batch_size=batch_size, shard_index=shard_index, num_shards=num_shards,
        shuffle_seed=shuffle_seed, drop_remainder=drop_remainder, num_parallel_calls=num_parallel_calls
    )
