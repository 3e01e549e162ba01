r"""Context explanations of a DeepLab model-zoo model on one image (Hoyer et al., NeurIPS 2019, Sec. 5).

Usage:
  deeplab-explain --model=deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz \
      --image=frankfurt_000000_000294_leftImg8bit.png --class_name=rider --output_dir=explanations

(or ``python -m deeplab_utils.explain_main`` with the same flags). Predicts the image, takes each
connected component of the predicted class that keeps at least --min_size pixels after a 3x3 erosion
(at Cityscapes resolution, scaled by image area; or one request for the whole class with
--request_mode=class), runs context grid saliency with the Cityscapes settings of
``GridSaliencyOptimizer.cityscapes_defaults()`` and writes into the run folder --output_dir, per request,
the saliency overlay (Fig. 5/S15), the intermediate panels (Fig. S13) and a JSON record; see
:mod:`deeplab_utils.pipeline`. The same command again resumes; other settings are refused unless
--overwrite; a second process on the same folder is refused. --backend=keras (the default) explains
the native Keras model loaded from the download's checkpoint (:mod:`deeplab_utils.native`, parity mode:
the export's crop and padding), --backend=graph the frozen graph through ``DeepLabModel``. Bad input
ends with one line ``deeplab-explain: error: ...`` and exit status 2, Ctrl-C with one line and exit
status 130.
"""

from __future__ import annotations

from absl import flags

from deeplab_utils.model import DeepLabModel
from deeplab_utils.native.zoo_model import NativeZooModel
from deeplab_utils.pipeline import explain_image
from deeplab_utils.requests import MIN_REQUEST_PIXELS, REQUEST_MODES
from deeplab_utils.settings import LABEL_SETS, ExplainSettings
from grid_saliency_tf import GridSaliencyOptimizer
from grid_saliency_tf.experiment import run_binary
from grid_saliency_tf.perturbations import PERTURBATIONS, UPSAMPLING_METHODS

_PAPER = GridSaliencyOptimizer.cityscapes_defaults()

_MODEL = flags.DEFINE_string(
    "model", None, "Model-zoo tarball, its unpacked folder, or frozen_inference_graph.pb.", required=True)
_IMAGE = flags.DEFINE_string("image", None, "Image file (PNG, JPEG, ...).", required=True)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Run folder for the figures and JSON records.",
                                  required=True)
_OVERWRITE = flags.DEFINE_boolean("overwrite", False, "Replace a run with other settings in --output_dir.")
_VERBOSE = flags.DEFINE_integer("verbose", 1, "0: quiet; 1: one line per step.", lower_bound=0)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 1, "Requests optimised together.", lower_bound=1)
_CLASS_NAME = flags.DEFINE_string("class_name", None, "Class to explain, e.g. 'rider' or 'traffic sign'.")
_CLASS_ID = flags.DEFINE_integer("class_id", None, "Class to explain, by output channel.")
_LABELS = flags.DEFINE_enum("labels", "auto", LABEL_SETS,
                            "Label set; 'auto' picks Cityscapes for 19 classes, PASCAL VOC for 21.")
_REQUEST_MODE = flags.DEFINE_enum("request_mode", "components", REQUEST_MODES,
                                  "One request per connected component, or one for the whole class.")
_MIN_SIZE = flags.DEFINE_integer("min_size", MIN_REQUEST_PIXELS, "Minimum request pixels after the 3x3 erosion.")
_SCALE_MIN_SIZE = flags.DEFINE_boolean(
    "scale_min_size", True, "Read --min_size at Cityscapes resolution (1024x2048), scaled by image area.")
_RESIZE = flags.DEFINE_boolean(
    "resize_to_crop", True, "Shrink an image larger than the model's crop size (else refuse it).")
_STEPS = flags.DEFINE_integer("steps", _PAPER["steps"], "Optimisation steps.")
_GRID = flags.DEFINE_list("grid_shape", [str(size) for size in _PAPER["grid_shape"]],
                          "Rows,columns of the saliency grid.")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", _PAPER["learning_rate"], "SGD learning rate.")
_MASK_WEIGHT = flags.DEFINE_float("mask_weight", _PAPER["mask_weight"], "lambda, the weight of the mask size.")
_UPSAMPLING = flags.DEFINE_enum("upsampling", _PAPER["upsampling"], UPSAMPLING_METHODS,
                                "Upsampling of the saliency grid.")
_PERTURBATION = flags.DEFINE_enum("perturbation", "constant", PERTURBATIONS, "Perturbation image.")
_BACKEND = flags.DEFINE_enum(
    "backend", "keras", ["keras", "graph"],
    "keras: the native Keras DeepLab (deeplab_utils.native) with the download's checkpoint; graph: its "
    "frozen graph (DeepLabModel).")
_INPUT_NAME = flags.DEFINE_string("input_name", None,
                                   "--backend=graph: float input tensor; found in the graph by default.")
_LOGITS_NAME = flags.DEFINE_string("logits_name", None,
                                   "--backend=graph: logits tensor; found in the graph by default.")
_CHECK_PARITY = flags.DEFINE_boolean(
    "check_parity", True, "Compare the labels with the graph's own SemanticPredictions.")


def _settings() -> ExplainSettings:
    try:
        grid = tuple(int(value) for value in _GRID.value)
    except ValueError:
        raise ValueError(f"Argument `grid_shape` must be two integers; received {','.join(_GRID.value)!r}.") from None
    return ExplainSettings(
        class_name=_CLASS_NAME.value, class_id=_CLASS_ID.value, labels=_LABELS.value,
        request_mode=_REQUEST_MODE.value, min_size=_MIN_SIZE.value, scale_min_size=_SCALE_MIN_SIZE.value,
        resize_to_crop=_RESIZE.value, grid_shape=grid, learning_rate=_LEARNING_RATE.value, steps=_STEPS.value,
        mask_weight=_MASK_WEIGHT.value, upsampling=_UPSAMPLING.value, perturbation=_PERTURBATION.value,
        check_parity=_CHECK_PARITY.value)


def main(argv: list[str]) -> None:
    """Reads the flags and hands them to :func:`deeplab_utils.pipeline.explain_image`."""
    del argv  # run_binary refuses positional arguments
    settings = _settings()
    say = (lambda line: print(line, flush=True)) if _VERBOSE.value >= 1 else None
    if say:
        say(f"loading {_MODEL.value}")
    if _BACKEND.value == "graph":
        model = DeepLabModel(_MODEL.value, input_name=_INPUT_NAME.value, logits_name=_LOGITS_NAME.value)
    elif _INPUT_NAME.value is not None or _LOGITS_NAME.value is not None:
        raise ValueError("Arguments `input_name` and `logits_name` must be left out with --backend=keras "
                         f"(they name graph tensors); received {_INPUT_NAME.value!r}, "
                         f"{_LOGITS_NAME.value!r}.")
    else:
        model = NativeZooModel(_MODEL.value)
    explain_image(model, _IMAGE.value, _OUTPUT_DIR.value, settings, overwrite=_OVERWRITE.value,
                  batch_size=_BATCH_SIZE.value, progress=say)


def run() -> None:
    """Entry point of the ``deeplab-explain`` console script."""
    run_binary(main, name="deeplab-explain")


if __name__ == "__main__":
    run()
