r"""Runs the toy benchmark protocol and writes the paper's matrices, figures and a report.

Usage (the small profile for 2 CPU cores; `make demo` runs it):

  python -m toy_benchmark.sweep_main --profile=quick --runs_dir=demo_output/runs --report_dir=demo_output/report

or the full protocol of Sec. 4.2 / S1.2-S1.6 (a GPU job), or any subset of it:

  python -m toy_benchmark.sweep_main --profile=paper --runs_dir=runs --report_dir=report \
      --backbones=vgg16 --bias_strengths=weak --bias_digits=0,9 --dataset_seeds=0

Rerunning the same command skips finished runs and resumes interrupted ones (see
`toy_benchmark.benchmark.runner`). Flags left unset keep the profile's value (console script: `toy-sweep`).
The process runs with TensorFlow op determinism and global seeds set from `--global_seed`
(`toy_benchmark.benchmark.make_reproducible`): the same command on the same kind of machine writes the
same numbers.
"""

from __future__ import annotations

from absl import flags

from grid_saliency_tf.experiment import run_binary
from toy_benchmark.benchmark import runner
from toy_benchmark.benchmark.reproducibility import make_reproducible
from toy_benchmark.benchmark.profiles import PROFILES
from toy_benchmark.data.sources import resolve_sources
from toy_benchmark.training.schedule import SCHEDULES

_PROFILE = flags.DEFINE_enum("profile", "quick", list(PROFILES), "Benchmark profile.")
_RUNS_DIR = flags.DEFINE_string("runs_dir", None, "Folder of the runs (resumable).")
_REPORT_DIR = flags.DEFINE_string("report_dir", None, "Folder for report.md, figures, CSV and JSON.")
_BACKBONES = flags.DEFINE_list("backbones", None, "U-Net encoders (vgg16, mobilenetv2, resnet18).")
_BIAS_STRENGTHS = flags.DEFINE_list("bias_strengths", None, "Bias strengths of the biased networks (weak, strong).")
_BIAS_DIGITS = flags.DEFINE_list("bias_digits", None, "Biased digits.")
_BIAS_TEXTURES = flags.DEFINE_list("bias_textures", None, "Bias texture ids (default: the profile's draw).")
_DATASET_SEEDS = flags.DEFINE_list("dataset_seeds", None, "Training-set draws; each network's model seed is its "
                                   "dataset seed.")
_WIDTH = flags.DEFINE_float("width", None, "U-Net channel multiplier.")
_EPOCHS = flags.DEFINE_integer("epochs", None, "Training epochs.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", None, "Training batch size.")
_NUM_TRAIN = flags.DEFINE_integer("num_train", None, "Training images per variant.")
_TRAIN_LEARNING_RATE = flags.DEFINE_float("train_learning_rate", None, "RMSprop rate of training (a tenth of "
                                          "it for the last fifth of the epochs).")
_TRAIN_SCHEDULE = flags.DEFINE_enum("train_schedule", None, list(SCHEDULES), "Learning-rate schedule of training: "
                                    "step (S1.2) or cosine (from the rate to a tenth of it, step by step).")
_NUM_TEST = flags.DEFINE_integer("num_test", None, "Test images per evaluation.")
_GRID_STEPS = flags.DEFINE_integer("grid_steps", None, "Grid saliency SGD steps.")
_GRID_INITIAL_VALUE = flags.DEFINE_float("grid_initial_value", None, "Initial value of the grid saliency mask cells.")
_METHODS = flags.DEFINE_list("methods", None, "Saliency methods.")
_PARAMETER_SWEEPS = flags.DEFINE_boolean("parameter_sweeps", True, "Run the grid saliency parameter sweeps (Fig. S11).")
_TEXTURE_DIR = flags.DEFINE_string("texture_dir", None, "Folder of texture images (default: procedural).")
_MNIST_PATH = flags.DEFINE_string("mnist_path", None, "MNIST .npz or IDX folder (default: the bundled digits).")
_OVERWRITE = flags.DEFINE_boolean("overwrite", False, "Replace run, evaluation and report folders holding "
                                  "other settings.")
_GLOBAL_SEED = flags.DEFINE_integer("global_seed", 0, "Global seed of Python, NumPy and TensorFlow, set once (every "
                                    "draw of the benchmark has its own seed; this pins anything else).", lower_bound=0)
_DETERMINISTIC = flags.DEFINE_boolean("deterministic", True, "TensorFlow op determinism (identical numbers on the "
                                      "same kind of machine).")
_VERBOSE = flags.DEFINE_integer("verbose", 1, "0 quiet, 1 a line per run and progress bars, 2 also a line per "
                                 "epoch and evaluation step.")
flags.mark_flags_as_required(["runs_dir", "report_dir"])

# Profile fields set from flags: as given, or parsed as integers.
_TEXT_FIELDS = (_BACKBONES, _BIAS_STRENGTHS, _METHODS)
_INTEGER_FIELDS = (_BIAS_DIGITS, _BIAS_TEXTURES, _DATASET_SEEDS)
_VALUE_FIELDS = (_WIDTH, _EPOCHS, _BATCH_SIZE, _NUM_TRAIN, _TRAIN_LEARNING_RATE, _TRAIN_SCHEDULE, _NUM_TEST,
                 _GRID_STEPS, _GRID_INITIAL_VALUE)


def _integers(holder: flags.FlagHolder) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in holder.value)
    except ValueError:
        raise ValueError(f"Argument `{holder.name}` must be a comma-separated list of integers; "
                         f"received {','.join(holder.value)!r}.") from None


def _changes() -> dict:
    """The profile fields that flags set (flags and fields share their names)."""
    changes: dict = {holder.name: tuple(holder.value) for holder in _TEXT_FIELDS if holder.value is not None}
    changes.update({holder.name: _integers(holder) for holder in _INTEGER_FIELDS if holder.value is not None})
    changes.update({holder.name: holder.value for holder in _VALUE_FIELDS if holder.value is not None})
    if not _PARAMETER_SWEEPS.value:
        changes["sweep_values"] = {}
    return changes


def _print(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str]) -> None:
    del argv  # no positional arguments (refused by the wrapper)
    profile = PROFILES[_PROFILE.value].replace(**_changes())
    environment = make_reproducible(_GLOBAL_SEED.value, op_determinism=_DETERMINISTIC.value)
    sources = resolve_sources(_TEXTURE_DIR.value, _MNIST_PATH.value)
    aggregated, path = runner.run_benchmark(
        profile, _RUNS_DIR.value, report_dir=_REPORT_DIR.value, sources=sources, environment=environment,
        log=_print if _VERBOSE.value >= 1 else lambda line: None, verbose=_VERBOSE.value, overwrite=_OVERWRITE.value)
    print(f"toy-sweep: report written to {path}")
    for group, checks in aggregated["effect"].items():
        print(f"  {group}: " + ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in checks.items()))


def run() -> None:
    """Console-script entry point (`toy-sweep`)."""
    run_binary(main, name="toy-sweep")


if __name__ == "__main__":
    run()
