r"""Evaluates a trained toy-benchmark network (paper Sec. 4.2, Fig. 4; supplement S1.2-S1.4).

Usage (the network of `toy_benchmark.train_main --bias=strong --bias_digit=3 --bias_texture=7`):

  python -m toy_benchmark.evaluate_main --model=runs/strong-d3 --output_dir=runs/strong-d3/eval \
      --bias=strong --bias_digit=3 --bias_texture=7

Measures the IoU per digit on the unbiased test set, and on the test set of the network's own
variant (biased or not) the context saliency of grid saliency, VG, IG, SG and Seg-Grad-CAM, with the
network's predicted digit mask as request; writes `metrics.json` (schema in docs/toy_benchmark.md)
and `examples.png` (saliency in red, request outlined in blue, like Fig. 3b).
"""

from __future__ import annotations

import sys

from absl import app, flags

from toy_benchmark.evaluation import evaluator as evaluation
from toy_benchmark.data.variant import DatasetVariant

_MODEL = flags.DEFINE_string("model", None, "A .keras file or a training folder holding model.keras.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder for metrics.json and examples.png.")
_BIAS = flags.DEFINE_enum("bias", "none", ["none", "weak", "strong"], "Bias strength the network was trained on.")
_BIAS_DIGIT = flags.DEFINE_integer("bias_digit", None, "Biased digit 0-9 (weak and strong bias).")
_BIAS_TEXTURE = flags.DEFINE_integer("bias_texture", None, "Bias texture id (weak and strong bias).")
_NUM_TEST = flags.DEFINE_integer("num_test", 1000, "Test images (the paper's 1,000; i shows digit i mod 10).")
_METHODS = flags.DEFINE_list("methods", list(evaluation.METHODS), "Saliency methods to run.")
_GRID_STEPS = flags.DEFINE_integer("grid_steps", 100, "SGD steps of grid saliency (paper: 100).")
_GRID_INITIAL_VALUE = flags.DEFINE_float("grid_initial_value", 0.5, "Initial value of the grid saliency mask "
                                         "cells (paper: 0.5; see docs/toy_benchmark.md for small networks).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 50, "Images per batch.")
_NUM_EXAMPLES = flags.DEFINE_integer("num_examples", 4, "Rows of examples.png.")
_SKIP_IOU = flags.DEFINE_boolean("skip_iou", False, "Skip the IoU on the unbiased test set.")
_TEXTURES = flags.DEFINE_string("textures", None, "Folder of texture images (default: procedural).")
_MNIST = flags.DEFINE_string("mnist", None, "MNIST .npz or IDX folder (default: the bundled digits).")
flags.mark_flags_as_required(["model", "output_dir"])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        evaluation.check_methods(_METHODS.value)
        biased = DatasetVariant(_BIAS.value, _BIAS_DIGIT.value, _BIAS_TEXTURE.value, split="test",
                                num_samples=_NUM_TEST.value)
        unbiased = None if _SKIP_IOU.value else DatasetVariant("none", split="test", num_samples=_NUM_TEST.value)
        model = evaluation.load_model(_MODEL.value)
        metrics = evaluation.evaluate(
            model, _OUTPUT_DIR.value, biased_test=biased, unbiased_test=unbiased, textures=_TEXTURES.value,
            mnist=_MNIST.value, methods=_METHODS.value, batch_size=_BATCH_SIZE.value,
            num_examples=_NUM_EXAMPLES.value,
            grid_saliency={"steps": _GRID_STEPS.value, "initial_value": _GRID_INITIAL_VALUE.value},
            info={"model": _MODEL.value}, progress=True)
    except (ValueError, TypeError, OSError) as error:
        print(f"toy_benchmark.evaluate_main: error: {' '.join(str(error).split())}", file=sys.stderr)
        sys.exit(2)
    grid = metrics["saliency"]["methods"].get("grid_saliency")
    summary = f"toy_benchmark.evaluate_main: wrote {_OUTPUT_DIR.value}/{evaluation.METRICS_FILE}"
    if grid is not None and _BIAS_DIGIT.value is not None:
        digit = _BIAS_DIGIT.value
        summary += (f"; grid saliency on digit {digit}: mCBD {grid['mcbd_per_digit'][digit]}, "
                    f"mCBL {grid['mcbl_per_digit'][digit]}")
    print(summary)


def run() -> None:
    """Console-script entry point (`toy-evaluate`)."""
    app.run(main)


if __name__ == "__main__":
    run()
