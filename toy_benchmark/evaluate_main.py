r"""Evaluates a trained toy-benchmark network (paper Sec. 4.2, Fig. 4; supplement S1.2-S1.4).

Usage (the network of `toy_benchmark.train_main --bias_strength=strong --bias_digit=3 --bias_texture=7`):

  python -m toy_benchmark.evaluate_main --model=runs/strong-d3 --output_dir=runs/strong-d3/eval \
      --bias_strength=strong --bias_digit=3 --bias_texture=7

Measures the IoU per digit on the unbiased test set, and on the test set of the network's own
variant (biased or not) the context saliency of grid saliency, VG, IG, SG and Seg-Grad-CAM, with the
network's predicted digit mask as request; writes `metrics.json` (schema in docs/toy_benchmark.md)
and `examples.png` (saliency in red, request outlined in blue, like Fig. 3b). The same command again
finds the evaluation finished; a folder holding an evaluation with other settings is refused unless
`--overwrite` (console script: `toy-evaluate`). Runs with TensorFlow op determinism and global seeds set
from `--global_seed` (`toy_benchmark.benchmark.make_reproducible`).
"""

from __future__ import annotations

from absl import flags

from grid_saliency_tf.experiment import run_binary
from toy_benchmark.benchmark.profiles import PAPER
from toy_benchmark.benchmark.reproducibility import make_reproducible
from toy_benchmark.data.sources import resolve_sources
from toy_benchmark.data.variant import BIAS_STRENGTHS, DatasetVariant
from toy_benchmark.evaluation import evaluator
from toy_benchmark.evaluation.explainers import METHODS

_MODEL = flags.DEFINE_string("model", None, "A .keras file or a training folder holding model.keras.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder for metrics.json and examples.png.")
_BIAS_STRENGTH = flags.DEFINE_enum("bias_strength", "none", list(BIAS_STRENGTHS),
                                   "Bias strength the network was trained on.")
_BIAS_DIGIT = flags.DEFINE_integer("bias_digit", None, "Biased digit 0-9 (weak and strong bias).")
_BIAS_TEXTURE = flags.DEFINE_integer("bias_texture", None, "Bias texture id (weak and strong bias).")
_NUM_TEST = flags.DEFINE_integer("num_test", PAPER.num_test, "Test images (i shows digit i mod 10).")
_METHODS = flags.DEFINE_list("methods", list(METHODS), "Saliency methods to run.")
_GRID_STEPS = flags.DEFINE_integer("grid_steps", PAPER.grid_steps, "SGD steps of grid saliency.")
_GRID_INITIAL_VALUE = flags.DEFINE_float("grid_initial_value", PAPER.grid_initial_value, "Initial value of the "
                                         "grid saliency mask cells (see docs/toy_benchmark.md for small networks).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", evaluator.BATCH_SIZE, "Images per batch.")
_NUM_EXAMPLES = flags.DEFINE_integer("num_examples", evaluator.NUM_EXAMPLES, "Rows of examples.png.")
_SKIP_IOU = flags.DEFINE_boolean("skip_iou", False, "Skip the IoU on the unbiased test set.")
_TEXTURE_DIR = flags.DEFINE_string("texture_dir", None, "Folder of texture images (default: procedural).")
_MNIST_PATH = flags.DEFINE_string("mnist_path", None, "MNIST .npz or IDX folder (default: the bundled digits).")
_OVERWRITE = flags.DEFINE_boolean("overwrite", False, "Replace an evaluation with other settings in --output_dir.")
_VERBOSE = flags.DEFINE_integer("verbose", 1, "0 quiet, 1 progress bars, 2 a line per step.")
_GLOBAL_SEED = flags.DEFINE_integer("global_seed", 0, "Global seed of Python, NumPy and TensorFlow, set once.",
                                    lower_bound=0)
_DETERMINISTIC = flags.DEFINE_boolean("deterministic", True, "TensorFlow op determinism.")
flags.mark_flags_as_required(["model", "output_dir"])


def main(argv: list[str]) -> None:
    del argv  # no positional arguments (refused by the wrapper)
    make_reproducible(_GLOBAL_SEED.value, op_determinism=_DETERMINISTIC.value)
    biased = DatasetVariant(_BIAS_STRENGTH.value, _BIAS_DIGIT.value, _BIAS_TEXTURE.value, split="test",
                            num_samples=_NUM_TEST.value)
    unbiased = None if _SKIP_IOU.value else DatasetVariant("none", split="test", num_samples=_NUM_TEST.value)
    metrics = evaluator.evaluate(
        _MODEL.value, _OUTPUT_DIR.value, biased_test=biased, unbiased_test=unbiased,
        sources=resolve_sources(_TEXTURE_DIR.value, _MNIST_PATH.value), methods=_METHODS.value,
        batch_size=_BATCH_SIZE.value, num_examples=_NUM_EXAMPLES.value,
        grid_saliency={"steps": _GRID_STEPS.value, "initial_value": _GRID_INITIAL_VALUE.value},
        info={"model": _MODEL.value}, overwrite=_OVERWRITE.value, verbose=_VERBOSE.value)
    print(f"toy-evaluate: {evaluator.summary_line(metrics, _OUTPUT_DIR.value)}")


def run() -> None:
    """Console-script entry point (`toy-evaluate`)."""
    run_binary(main, name="toy-evaluate")


if __name__ == "__main__":
    run()
