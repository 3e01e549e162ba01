"""Materialising a toy-dataset variant to disk: shards plus a manifest, crash-safe and resumable.

The dataset folder is a `RunFolder` of kind ``toy_benchmark.dataset`` whose settings are the dataset's
identity (`manifest.dataset_config`): one writer at a time holds its lock (a second process is refused
at once, naming the first), and a folder holding another dataset, or someone else's files, is refused
before anything is written (unless ``overwrite``, which replaces it).

Crash safety: the writer first records its plan in ``manifest.incomplete.json``; each shard is written
to a temporary file (`grid_saliency_tf.experiment.atomic_path`) and renamed when complete; the
manifest ``manifest.json`` is written (atomically) only when every shard is there. A folder without
``manifest.json`` is never read as a dataset. Rerunning the writer on the same folder resumes an
interrupted run, or verifies a finished one (regenerating a damaged shard, which is possible because
every sample is a pure function of the configuration).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import multiprocessing
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from grid_saliency_tf.experiment import RunFolder, atomic_path, to_json_value
from toy_benchmark.data.generator import SAMPLE_FIELDS, SampleGenerator
from toy_benchmark.data.manifest import (
    DATASET_KIND,
    MANIFEST_NAME,
    PARTIAL_MANIFEST_NAME,
    RECORD_DTYPE,
    DatasetCounts,
    DatasetManifest,
    Shard,
    ShardCounts,
    dataset_config,
)
from toy_benchmark.data.mnist import MnistDigits
from toy_benchmark.data.sources import DataSources, resolve_sources
from toy_benchmark.data.textures import TexturePool
from toy_benchmark.data.variant import NUM_DIGITS, DatasetVariant

__all__ = ["WRITE_STATUSES", "WriteResult", "sha256_of_file", "write_dataset"]

#: What `write_dataset` can have done.
WRITE_STATUSES = ("written", "resumed", "verified", "repaired")
_SAMPLES_PER_SHARD = 10_000
_CHUNK = 1_000


@dataclasses.dataclass(frozen=True)
class WriteResult:
    """What `write_dataset` did.

    Attributes:
        path: The dataset folder.
        status: "written" (new), "resumed" (an interrupted run finished), "verified" (already complete,
            checksums match) or "repaired" (already complete; damaged shards regenerated).
        manifest: The manifest of the finished dataset.
    """

    path: str
    status: str
    manifest: DatasetManifest


def sha256_of_file(path: str | os.PathLike) -> str:
    """The hex sha256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _shard_intact(folder: str, shard: Shard) -> bool:
    """Whether a written shard's file has the recorded size and sha256."""
    path = os.path.join(folder, shard.file)
    if not shard.written or not os.path.isfile(path) or os.path.getsize(path) != shard.bytes:
        return False
    return sha256_of_file(path) == shard.sha256


def _plan(variant: DatasetVariant, sources: DataSources, num_shards: int) -> DatasetManifest:
    num_samples = variant.num_samples
    shards = []
    for index in range(num_shards):
        start, stop = index * num_samples // num_shards, (index + 1) * num_samples // num_shards
        shards.append(Shard(f"shard-{index:05d}-of-{num_shards:05d}.npy", start, stop, stop - start))
    return DatasetManifest(
        config=dataset_config(variant, sources),
        variant=variant.to_config(),
        name=variant.name,
        num_samples=num_samples,
        sources=sources.description(),
        record_dtype=to_json_value(np.lib.format.dtype_to_descr(RECORD_DTYPE), "record_dtype"),
        shards=tuple(shards),
    )


# --- generation of shards (in-process or in worker processes) -------------------------------------------

_WORKER_GENERATOR: SampleGenerator | None = None


def _init_worker(variant: DatasetVariant, textures: TexturePool, mnist: MnistDigits) -> None:
    global _WORKER_GENERATOR
    _WORKER_GENERATOR = SampleGenerator(variant, textures=textures, mnist=mnist)


def _write_chunk(
    task: tuple[str, int, int, int], generator: SampleGenerator | None = None
) -> tuple[int, np.ndarray]:
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
    return stop - start, counts


def _generate_shards(
    folder: str,
    shards: Iterable[Shard],
    generator: SampleGenerator,
    num_workers: int,
    on_shard_done: Callable[[Shard], None],
    progress: Callable[[int], None] | None,
) -> None:
    """Writes each shard to a temporary file, chunk by chunk (in worker processes if num_workers > 1)."""
    shards = list(shards)
    with contextlib.ExitStack() as stack:
        pool = None
        if num_workers > 1 and sum(math.ceil(s.num_samples / _CHUNK) for s in shards) > 1:
            context = multiprocessing.get_context("spawn")
            initargs = (generator.variant, generator.textures, generator.mnist)
            pool = stack.enter_context(context.Pool(num_workers, initializer=_init_worker, initargs=initargs))
        for shard in shards:
            with atomic_path(os.path.join(folder, shard.file)) as temporary:
                np.lib.format.open_memmap(
                    temporary, mode="w+", dtype=RECORD_DTYPE, shape=(shard.num_samples,)).flush()
                tasks = [(os.fspath(temporary), shard.start, start, min(start + _CHUNK, shard.stop))
                         for start in range(shard.start, shard.stop, _CHUNK)]
                results = (pool.imap_unordered(_write_chunk, tasks) if pool is not None
                           else (_write_chunk(task, generator) for task in tasks))
                counts = np.zeros(NUM_DIGITS + 3, dtype=np.int64)
                for count, chunk_counts in results:
                    counts += chunk_counts
                    if progress is not None:
                        progress(count)
                shard = dataclasses.replace(
                    shard, bytes=os.path.getsize(temporary), sha256=sha256_of_file(temporary),
                    counts=ShardCounts(tuple(counts[:NUM_DIGITS].tolist()), int(counts[NUM_DIGITS + 1]),
                                       int(counts[NUM_DIGITS + 2])))
            on_shard_done(shard)


def _totals(plan: DatasetManifest) -> DatasetCounts:
    top = sum(shard.counts.bias_half_top for shard in plan.shards)
    bottom = sum(shard.counts.bias_half_bottom for shard in plan.shards)
    per_digit = np.sum([shard.counts.per_digit for shard in plan.shards], axis=0)
    return DatasetCounts(plan.num_samples, tuple(per_digit.tolist()), top + bottom, top, bottom)


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Argument `{name}` must be a positive integer; received {value!r}.")
    return value


def _repair(folder: str, manifest: DatasetManifest, generator: SampleGenerator, num_workers: int,
            progress: Callable[[int], None] | None) -> WriteResult:
    """Verifies a finished dataset; regenerates damaged shards (they must come out byte-identical)."""
    damaged = [shard for shard in manifest.shards if not _shard_intact(folder, shard)]
    if progress is not None:
        progress(sum(shard.num_samples for shard in manifest.shards if shard not in damaged))
    if not damaged:
        return WriteResult(folder, "verified", manifest)
    expected = {shard.file: shard.sha256 for shard in damaged}

    def check_repair(shard: Shard) -> None:
        if shard.sha256 != expected[shard.file]:
            raise ValueError(f"regenerated shard {shard.file} does not match the manifest's checksum; the "
                             f"folder {folder!r} was written by another version of the generator")

    _generate_shards(folder, damaged, generator, num_workers, check_repair, progress)
    return WriteResult(folder, "repaired", manifest)


def write_dataset(
    path: str | os.PathLike,
    variant: DatasetVariant,
    *,
    textures: TexturePool | str | os.PathLike | None = None,
    mnist: MnistDigits | str | os.PathLike | None = None,
    sources: DataSources | None = None,
    num_shards: int | None = None,
    num_workers: int = 1,
    progress: Callable[[int], None] | None = None,
    overwrite: bool = False,
) -> WriteResult:
    """Materialises a variant into a folder of shards with a manifest, or finishes or verifies one.

    The shard files are the same bytes whatever num_workers; the samples are the same whatever
    num_shards (and equal to `make_dataset`'s).

    Args:
        path: The dataset folder; created if absent. It must be empty, or hold this same dataset
            (finished: verified; interrupted: resumed with its original shard layout).
        variant: The dataset variant.
        textures: A TexturePool, a folder of texture images, or None for the procedural pool.
        mnist: MnistDigits, a path to ``mnist.npz`` or an IDX folder, or None for the bundled digits.
        sources: A `DataSources` resolved before, instead of `textures` and `mnist`.
        num_shards: Number of shard files; None for one per 10,000 samples.
        num_workers: Processes generating in parallel (spawned; 1 generates in this process).
        progress: Called with the number of samples finished, as they finish.
        overwrite: Replace a folder that holds another dataset or other files.

    Returns:
        A WriteResult with the status and the manifest.

    Raises:
        ValueError: On bad arguments, or if the folder holds something else (nothing is written then).
        RunFolderBusy: If another process is writing into the folder (a `ValueError`).
        FileNotFoundError: If a source path does not exist.
    """
    folder = os.fspath(path)
    sources = resolve_sources(textures, mnist, sources=sources)
    generator = SampleGenerator(variant, textures=sources.textures, mnist=sources.mnist)
    if num_shards is None:
        num_shards = max(1, min(variant.num_samples, math.ceil(variant.num_samples / _SAMPLES_PER_SHARD)))
    _check_positive("num_shards", num_shards)
    _check_positive("num_workers", num_workers)
    if num_shards > variant.num_samples:
        raise ValueError(f"Argument `num_shards` must be at most num_samples ({variant.num_samples}); "
                         f"received {num_shards}.")
    config = dataset_config(variant, sources)
    with RunFolder.open(folder, kind=DATASET_KIND, settings=config, overwrite=overwrite) as run:
        manifest_path, partial_path = run.file(MANIFEST_NAME), run.file(PARTIAL_MANIFEST_NAME)
        if manifest_path.exists():
            return _repair(folder, DatasetManifest.load(manifest_path), generator, num_workers, progress)
        if partial_path.exists():
            plan, status = DatasetManifest.load(partial_path), "resumed"
        else:
            plan, status = _plan(variant, sources, num_shards), "written"
            plan.save(partial_path)
        shards = {shard.file: shard for shard in plan.shards}
        todo = []
        for shard in plan.shards:
            if _shard_intact(folder, shard):
                if progress is not None:
                    progress(shard.num_samples)
            else:
                shards[shard.file] = dataclasses.replace(shard, bytes=None, sha256=None, counts=None)
                todo.append(shards[shard.file])

        def record(shard: Shard) -> None:
            shards[shard.file] = shard
            dataclasses.replace(plan, shards=tuple(shards.values())).save(partial_path)

        _generate_shards(folder, todo, generator, num_workers, record, progress)
        plan = dataclasses.replace(plan, shards=tuple(shards.values()))
        plan = dataclasses.replace(plan, counts=_totals(plan), complete=True)
        plan.save(manifest_path)
        partial_path.unlink()
    return WriteResult(folder, status, plan)
