r"""Is the toy benchmark's effect robust? The quick profile's protocol over variants (issue #13).

Usage:

  python benchmarks/bench_toy_robustness.py --runs_dir=/tmp/robustness --stage=train
  python benchmarks/bench_toy_robustness.py --runs_dir=/tmp/robustness --stage=report [--num_test=300]

Each variant is the quick profile (`toy_benchmark.benchmark.PROFILES["quick"]`) with another bias digit,
bias texture (from the procedural pool, every one valid by the imitation criterion) and dataset/model
seed; the unbiased network of a seed is shared by the variants of that seed. `--stage=train` trains
every network (resumable: the runner's run folders, `train_one`); `--stage=report` evaluates them
(`run_one`, resumable too) and prints one row per variant: IoU drop, grid mCBD, grid / IG / VG / SG mCBL
of the biased digit with bootstrap 95% intervals, each effect check, then the pass rate. Evaluation-only
levers (`--num_test`, `--grid_initial_value`) reuse the trained networks: the run folders' evaluation
settings are part of their identity, so each lever value gets its own runs folder holding links to the
trained networks (`--trained_dir`).
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

from toy_benchmark.benchmark import PROFILES, RunSpec, train_one
from toy_benchmark.data.sources import resolve_sources

#: (bias digit, bias texture, seed): two seeds, six digits, seven textures; the first is the demo's.
VARIANTS = ((3, 0, 0), (3, 7, 0), (5, 0, 0), (6, 22, 0), (3, 0, 1), (8, 16, 1), (1, 12, 1), (9, 4, 1))

_RUNS_DIR = flags.DEFINE_string("runs_dir", None, "Folder of the runs.", required=True)
_STAGE = flags.DEFINE_enum("stage", "report", ["train", "report"], "Train every network, or evaluate and report.")
_NUM_VARIANTS = flags.DEFINE_integer("num_variants", len(VARIANTS), "Use the first N variants.")


def variant_profile(digit: int, texture: int, seed: int, **overrides):
    """The quick profile with one bias variant and seed."""
    return PROFILES["quick"].replace(bias_digits=(digit,), bias_textures=(texture,), dataset_seeds=(seed,),
                                     **overrides)


def planned(variants, **overrides):
    """(spec, profile) of every network: per seed (in order of first use), its unbiased network, then the
    biased ones, so that a stopped training leaves complete variants behind."""
    runs = []
    for seed in dict.fromkeys(s for _, _, s in variants):
        runs.append((RunSpec("vgg16", "none", None, None, seed), variant_profile(*variants[0][:2], seed, **overrides)))
        runs += [(RunSpec("vgg16", "strong", d, t, s), variant_profile(d, t, s, **overrides))
                 for d, t, s in variants if s == seed]
    return runs


def main(argv):
    del argv
    variants = VARIANTS[: _NUM_VARIANTS.value]
    sources = resolve_sources()
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    if _STAGE.value == "train":
        for spec, profile in planned(variants):
            record = train_one(spec, profile, _RUNS_DIR.value, sources=sources, log=log)
            log(f"{spec.key}: trained in {record.training_seconds:.0f} s")
        return 0
    raise NotImplementedError("report stage")


if __name__ == "__main__":
    app.run(main)
