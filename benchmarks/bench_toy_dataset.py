"""Benchmark: generating the toy dataset (paper Sec. 4.1) streamed, and materialised to disk.

Usage:
  .venv/bin/python benchmarks/bench_toy_dataset.py              # streamed 50,000 + 1,000, writer, reader
  .venv/bin/python benchmarks/bench_toy_dataset.py --quick      # 5,000 + 1,000, no writer
  .venv/bin/python benchmarks/bench_toy_dataset.py --num_train=10000   # a smaller training set

Prints the seconds to build the procedural texture pool (once per process: every binary's start pays it),
and images per second for: the raw NumPy generator (one thread), the tf.data stream of the paper's
train (50,000) and test (1,000) sets with batch 100 and unbatched, the writer (in-process and with 2
worker processes, spawn start-up included), the check of every shard's sha256 that `toy-train
--dataset_dir` does once before training (`verify_dataset`) and the reader; and the memory peak (VmHWM)
of the process.
The process is pinned to at most 2 cores. Figures depend on the machine's load: compare rows of one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from toy_benchmark import (  # noqa: E402
    DatasetVariant,
    SampleGenerator,
    load_dataset,
    make_dataset,
    procedural_textures,
    resolve_sources,
    verify_dataset,
    write_dataset,
)


def _memory_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MiB, from /proc."""
    values = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, amount, _ = line.split()
                values[key] = int(amount) / 1024
    return values.get("VmRSS:", float("nan")), values.get("VmHWM:", float("nan"))


def _consume(dataset: tf.data.Dataset) -> int:
    count = 0
    for element in dataset:
        count += int(element["index"].shape[0]) if element["index"].shape.rank else 1
    return count


def _row(name: str, images: int, seconds: float) -> None:
    rss, peak = _memory_mb()
    print(
        f"| {name:<58} | {images:>7} | {seconds:>7.2f} | {images / seconds:>9.0f} | {peak:>8.0f} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="5,000 training images and no writer")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--num_train", type=int, default=None, help="training images (default 50,000)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        available = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(available[: args.cores]))
    tf.config.threading.set_intra_op_parallelism_threads(args.cores)
    tf.config.threading.set_inter_op_parallelism_threads(args.cores)
    num_train = args.num_train or (5_000 if args.quick else 50_000)

    start = time.perf_counter()
    pool = procedural_textures()  # built here, then cached for the process
    print(f"procedural texture pool: {len(pool)} textures of {pool.textures[0].shape[0]} px built in "
          f"{time.perf_counter() - start:.2f} s")
    sources = resolve_sources()  # the pool above, bundled digits: loaded once
    train = DatasetVariant("strong", bias_digit=2, bias_texture=7, seed=0, num_samples=num_train)
    test = DatasetVariant("strong", bias_digit=2, bias_texture=7, split="test")
    rss, _ = _memory_mb()
    print(
        f"cores: {len(os.sched_getaffinity(0))}, load average: {os.getloadavg()[0]:.1f}, "
        f"RSS after imports and texture pool: {rss:.0f} MiB"
    )
    print(f"| {'what':<58} | {'images':>7} | {'seconds':>7} | {'images/s':>9} | {'peak MiB':>8} |")
    print(f"|{'-' * 60}|{'-' * 8}:|{'-' * 8}:|{'-' * 10}:|{'-' * 9}:|")

    start = time.perf_counter()
    generator = SampleGenerator(train, textures=sources.textures, mnist=sources.mnist)
    for begin in range(0, num_train, 1000):
        generator.generate(np.arange(begin, min(begin + 1000, num_train)))
    _row("NumPy generator, 1 thread, batches of 1000 (incl. setup)", num_train, time.perf_counter() - start)

    for batch_size, label in ((100, "batch 100"), (None, "unbatched")):
        start = time.perf_counter()
        count = _consume(make_dataset(train, batch_size=batch_size, sources=sources))
        count += _consume(make_dataset(test, batch_size=batch_size, sources=sources))
        _row(f"make_dataset train {num_train} + test 1000, {label}", count, time.perf_counter() - start)

    if args.quick:
        return
    folder = tempfile.mkdtemp(prefix="bench_toy_dataset_")
    try:
        for workers in (1, 2):
            target = os.path.join(folder, f"workers{workers}")
            start = time.perf_counter()
            shards = len(write_dataset(target, train, sources=sources, num_workers=workers).manifest.shards)
            _row(
                f"write_dataset train {num_train}, {workers} worker(s), {shards} shard(s)",
                num_train,
                time.perf_counter() - start,
            )
        start = time.perf_counter()
        verify_dataset(os.path.join(folder, "workers1"))
        seconds = time.perf_counter() - start
        _row(f"verify_dataset train {num_train} (sha256 of every shard)", num_train, seconds)
        start = time.perf_counter()
        count = _consume(load_dataset(os.path.join(folder, "workers1"), batch_size=100))
        _row(
            f"load_dataset train {num_train}, batch 100, sha256 verified", count, time.perf_counter() - start
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
