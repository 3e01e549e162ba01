r"""Runs the toy benchmark protocol and writes the paper's matrices, figures and a report.

Usage (the small profile for 2 CPU cores; `make demo` runs it):

  python -m toy_benchmark.sweep_main --profile=quick --runs_dir=demo_output/runs --report_dir=demo_output/report

or the full protocol of Sec. 4.2 / S1.2-S1.6 (a GPU job), or any subset of it:

  python -m toy_benchmark.sweep_main --profile=paper --runs_dir=runs --report_dir=report \
      --backbones=vgg16 --strengths=weak --bias_digits=0,9 --seeds=0

Rerunning the same command skips finished runs and resumes interrupted ones (see
`toy_benchmark.benchmark.runner`). Flags left unset keep the profile's value.
"""

from __future__ import annotations

import dataclasses
import sys
import time

from absl import app, flags

from toy_benchmark.benchmark import report
from toy_benchmark.benchmark import runner as protocol

_PROFILE = flags.DEFINE_enum("profile", "quick", list(protocol.PROFILES), "Benchmark profile.")
_RUNS_DIR = flags.DEFINE_string("runs_dir", None, "Folder of the runs (resumable).")
_REPORT_DIR = flags.DEFINE_string("report_dir", None, "Folder for report.md, figures, CSV and JSON.")
_BACKBONES = flags.DEFINE_list("backbones", None, "U-Net encoders (vgg16, mobilenetv2, resnet18).")
_STRENGTHS = flags.DEFINE_list("strengths", None, "Bias strengths (weak, strong).")
_BIAS_DIGITS = flags.DEFINE_list("bias_digits", None, "Biased digits.")
_BIAS_TEXTURES = flags.DEFINE_list("bias_textures", None, "Bias texture ids (default: the profile's draw).")
_SEEDS = flags.DEFINE_list("seeds", None, "Training-set seeds.")
_WIDTH = flags.DEFINE_float("width", None, "U-Net channel multiplier.")
_EPOCHS = flags.DEFINE_integer("epochs", None, "Training epochs.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", None, "Training batch size.")
_NUM_TRAIN = flags.DEFINE_integer("num_train", None, "Training images per variant.")
_TRAIN_LEARNING_RATE = flags.DEFINE_float("train_learning_rate", None, "RMSprop rate of training (a tenth of "
                                          "it for the last fifth of the epochs).")
_NUM_TEST = flags.DEFINE_integer("num_test", None, "Test images per evaluation.")
_GRID_STEPS = flags.DEFINE_integer("grid_steps", None, "Grid saliency SGD steps.")
_GRID_INITIAL_VALUE = flags.DEFINE_float("grid_initial_value", None, "Initial value of the grid saliency mask "
                                         "cells (paper: 0.5).")
_METHODS = flags.DEFINE_list("methods", None, "Saliency methods.")
_PARAMETER_SWEEPS = flags.DEFINE_boolean("parameter_sweeps", True, "Run the grid saliency parameter sweeps (Fig. S11).")
_TEXTURES = flags.DEFINE_string("textures", None, "Folder of texture images (default: procedural).")
_MNIST = flags.DEFINE_string("mnist", None, "MNIST .npz or IDX folder (default: the bundled digits).")
_VERBOSE = flags.DEFINE_integer("verbose", 1, "0: run lines only; 1: progress bars too.")
flags.mark_flags_as_required(["runs_dir", "report_dir"])


def _ints(name: str, values: list[str]) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise ValueError(f"--{name} must be a comma-separated list of integers, got {','.join(values)!r}") from None


def _profile() -> protocol.Profile:
    """The chosen profile with every flag that was set applied."""
    changes: dict = {}
    for holder, field in ((_BACKBONES, "backbones"), (_STRENGTHS, "strengths"), (_METHODS, "methods")):
        if holder.value is not None:
            changes[field] = tuple(holder.value)
    for holder, field in ((_BIAS_DIGITS, "bias_digits"), (_BIAS_TEXTURES, "bias_textures"), (_SEEDS, "seeds")):
        if holder.value is not None:
            changes[field] = _ints(holder.name, holder.value)
    for holder in (_WIDTH, _EPOCHS, _BATCH_SIZE, _NUM_TRAIN, _TRAIN_LEARNING_RATE, _NUM_TEST, _GRID_STEPS,
                   _GRID_INITIAL_VALUE):
        if holder.value is not None:
            changes[holder.name] = holder.value
    if not _PARAMETER_SWEEPS.value:
        changes["sweep_values"] = {}
    return dataclasses.replace(protocol.PROFILES[_PROFILE.value], **changes).validate()


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    start = time.monotonic()
    try:
        profile = _profile()
        aggregated, examples = protocol.run_benchmark(
            profile, _RUNS_DIR.value, textures=_TEXTURES.value, mnist=_MNIST.value,
            log=lambda line: print(line, flush=True), verbose=_VERBOSE.value, report_dir=_REPORT_DIR.value)
        path = report.write_report(aggregated, _REPORT_DIR.value, runs_dir=_RUNS_DIR.value, example_figures=examples,
                                   timings={"benchmark": time.monotonic() - start})
    except (ValueError, TypeError, OSError) as error:
        print(f"toy_benchmark.sweep_main: error: {' '.join(str(error).split())}", file=sys.stderr)
        sys.exit(2)
    print(f"toy_benchmark.sweep_main: report written to {path}")
    for group, checks in aggregated["effect"].items():
        print(f"  {group}: " + ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in checks.items()))


def run() -> None:
    """Console-script entry point (`toy-sweep`)."""
    app.run(main)


if __name__ == "__main__":
    run()
