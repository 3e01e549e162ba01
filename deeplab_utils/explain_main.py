r"""Context explanations of a DeepLab model-zoo model on one image (Hoyer et al., NeurIPS 2019, Sec. 5).

Usage:
  python -m deeplab_utils.explain_main \
      --model=deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz \
      --image=frankfurt_000000_000294_leftImg8bit.png --class_name=rider --output_dir=explanations

(or the console script ``deeplab-explain`` with the same flags). Predicts the image, takes each connected
component of the predicted class that keeps at least --min_size pixels after a 3x3 erosion (at Cityscapes
resolution, scaled by image area; or one request for the whole class with --request_mode=class), runs
context grid saliency with the Cityscapes settings (16x32 grid, learning rate 1, 80 steps, lambda 0.01,
bilinear upsampling) and writes per request the saliency overlay (Fig. 5/S15), the intermediate panels
(Fig. S13) and a JSON of losses, convergence and emptiness. Bad input ends with a one-line error and
exit status 2.
"""

from __future__ import annotations

import sys
from typing import Sequence

from absl import app, flags

from deeplab_utils.explanation import ExplainSettings, explain_image
from deeplab_utils.model import DeepLabModel

_MODEL = flags.DEFINE_string(
    "model", None, "Model-zoo tarball, its unpacked folder, or frozen_inference_graph.pb.", required=True)
_IMAGE = flags.DEFINE_string("image", None, "Image file (PNG, JPEG, ...).", required=True)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder for the figures and JSON files.", required=True)
_CLASS_NAME = flags.DEFINE_string("class_name", None, "Class to explain, e.g. 'rider' or 'traffic sign'.")
_CLASS_ID = flags.DEFINE_integer("class_id", None, "Class to explain, by output channel.")
_LABELS = flags.DEFINE_enum("labels", "auto", ["auto", "cityscapes", "pascal_voc", "coco"],
                            "Label set; 'auto' picks Cityscapes for 19 classes, PASCAL VOC for 21.")
_REQUEST_MODE = flags.DEFINE_enum("request_mode", "components", ["components", "class"],
                                  "One request per connected component, or one for the whole class.")
_MIN_SIZE = flags.DEFINE_integer("min_size", 10000, "Minimum request pixels after the 3x3 erosion.")
_SCALE_MIN_SIZE = flags.DEFINE_boolean(
    "scale_min_size", True, "Read --min_size at Cityscapes resolution (1024x2048), scaled by image area.")
_RESIZE = flags.DEFINE_boolean(
    "resize_to_crop", True, "Shrink an image larger than the model's crop size (else refuse it).")
_STEPS = flags.DEFINE_integer("steps", 80, "Optimisation steps.")
_GRID = flags.DEFINE_list("grid_shape", ["16", "32"], "Rows,columns of the saliency grid.")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", 1.0, "SGD learning rate.")
_MASK_WEIGHT = flags.DEFINE_float("mask_weight", 0.01, "lambda, the weight of the mask size.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 1, "Requests optimised together.")
_INPUT_NAME = flags.DEFINE_string("input_name", None, "Float input tensor; found in the graph by default.")
_LOGITS_NAME = flags.DEFINE_string("logits_name", None, "Logits tensor; found in the graph by default.")
_CHECK_PARITY = flags.DEFINE_boolean(
    "check_parity", True, "Compare the labels with the graph's own SemanticPredictions.")
_OVERWRITE = flags.DEFINE_boolean("overwrite", False, "Replace results of a run with other settings.")


def _print(line: str) -> None:
    print(line, flush=True)


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        grid = tuple(int(value) for value in _GRID.value)
        settings = ExplainSettings(
            class_name=_CLASS_NAME.value, class_id=_CLASS_ID.value, labels=_LABELS.value,
            request_mode=_REQUEST_MODE.value, min_size=_MIN_SIZE.value, scale_min_size=_SCALE_MIN_SIZE.value,
            resize_to_crop=_RESIZE.value, grid_shape=grid, learning_rate=_LEARNING_RATE.value,
            steps=_STEPS.value, mask_weight=_MASK_WEIGHT.value, batch_size=_BATCH_SIZE.value,
            check_parity=_CHECK_PARITY.value)
        _print(f"loading {_MODEL.value}")
        model = DeepLabModel(_MODEL.value, input_name=_INPUT_NAME.value, logits_name=_LOGITS_NAME.value)
        explain_image(model, _IMAGE.value, _OUTPUT_DIR.value, settings, overwrite=_OVERWRITE.value,
                      progress=_print)
    except (ValueError, TypeError, OSError) as error:
        message = " ".join(str(error).split())
        print(f"explain: error: {message}", file=sys.stderr, flush=True)
        sys.exit(2)


def run() -> None:
    """Entry point of the ``deeplab-explain`` console script."""
    app.run(main)


if __name__ == "__main__":
    run()
