r"""Trains a toy-benchmark U-Net (paper Sec. 4.2, supplement S1.2) on a toy-dataset variant.

Usage (a strongly biased variant streamed on the fly, a small VGG16 U-Net on the CPU):

  python -m toy_benchmark.train_main --output_dir=runs/strong-d3 --bias=strong --bias_digit=3 \
      --bias_texture=7 --num_train=10000 --backbone=vgg16 --width=0.125 --epochs=5

or from a dataset folder written by the dataset writer (`--dataset_dir=...`; variant flags given with
it must match its manifest). Defaults are the paper's: width 1, 50 epochs, batch 100, RMSprop, learning
rate 1e-3 then 1e-4 for the last fifth. Running the same command again after an interruption resumes
from the last epoch's checkpoint; `--strategy=mirrored` trains on all GPUs (or, with
`--logical_cpus=2`, on two logical CPU devices).
"""

from __future__ import annotations

import sys

import keras
import tensorflow as tf
from absl import app, flags

from toy_benchmark.training import trainer as training

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder for checkpoints, logs and model.keras.")
_DATASET_DIR = flags.DEFINE_string("dataset_dir", None, "A materialised training-set folder; if unset the "
                                   "variant given by the dataset flags is generated on the fly.")
_BIAS = flags.DEFINE_enum("bias", "none", ["none", "weak", "strong"], "Bias strength of the variant.")
_BIAS_DIGIT = flags.DEFINE_integer("bias_digit", None, "Biased digit 0-9 (weak and strong bias).")
_BIAS_TEXTURE = flags.DEFINE_integer("bias_texture", None, "Bias texture id (weak and strong bias).")
_DATASET_SEED = flags.DEFINE_integer("dataset_seed", 0, "Seed of the training-set generation.")
_NUM_TRAIN = flags.DEFINE_integer("num_train", None, "Training samples (default: the paper's 50,000).")
_NUM_VALIDATION = flags.DEFINE_integer("num_validation", 0, "Samples of the variant's test split "
                                       "evaluated after every epoch (0: none).")
_TEXTURES = flags.DEFINE_string("textures", None, "Folder of texture images (default: procedural).")
_MNIST = flags.DEFINE_string("mnist", None, "MNIST .npz or IDX folder (default: the bundled digits).")
_BACKBONE = flags.DEFINE_string("backbone", "vgg16", "Encoder: vgg16, mobilenetv2 or resnet18.")
_WIDTH = flags.DEFINE_float("width", 1.0, "Channel multiplier (1 = the published network).")
_BATCH_NORM = flags.DEFINE_boolean("batch_norm", True, "Batch norm in the decoder and VGG16.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the initial weights and the data order.")
_EPOCHS = flags.DEFINE_integer("epochs", 50, "Epochs.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 100, "Global batch size.")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", 1e-3, "Learning rate of the first epochs.")
_FINAL_LEARNING_RATE = flags.DEFINE_float("final_learning_rate", 1e-4, "Rate of the last epochs.")
_FINAL_FRACTION = flags.DEFINE_float("final_fraction", 0.2, "Fraction of epochs at the final rate.")
_STRATEGY = flags.DEFINE_enum("strategy", "default", list(training.STRATEGIES), "tf.distribute strategy.")
_LOGICAL_CPUS = flags.DEFINE_integer("logical_cpus", 0, "Split the CPU into this many logical devices "
                                     "(to try --strategy=mirrored without GPUs); 0 leaves it.")
_RESUME = flags.DEFINE_boolean("resume", True, "Resume from a checkpoint in output_dir; with "
                               "--noresume an existing checkpoint is an error.")
_TENSORBOARD = flags.DEFINE_boolean("tensorboard", True, "Write TensorBoard logs.")
_JIT_COMPILE = flags.DEFINE_boolean("jit_compile", False, "Compile the train step with XLA.")
_DETERMINISTIC = flags.DEFINE_boolean("deterministic", False, "Enable TensorFlow op determinism.")
_VERBOSE = flags.DEFINE_integer("verbose", 1, "0 silent, 1 progress bar, 2 one line per epoch.")
flags.mark_flag_as_required("output_dir")

# Dataset-variant flags and the DatasetVariant fields they set.
_VARIANT_FLAGS = {"bias": "strength", "bias_digit": "bias_digit", "bias_texture": "bias_texture",
                  "dataset_seed": "seed", "num_train": "num_samples"}


def _prepare_runtime() -> None:
    """Global TensorFlow set-up, done here and never by the library: devices, seeds, determinism."""
    if _LOGICAL_CPUS.value:
        training.configure_cpu_devices(_LOGICAL_CPUS.value)
    keras.utils.set_random_seed(_SEED.value)
    if _DETERMINISTIC.value:
        tf.config.experimental.enable_op_determinism()


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    # With --dataset_dir only the variant flags given explicitly are checked against its manifest.
    variant = {field: flags.FLAGS[name].value for name, field in _VARIANT_FLAGS.items()
               if _DATASET_DIR.value is None or flags.FLAGS[name].present}
    try:
        _prepare_runtime()
        data = training.toy_training_data(
            variant, dataset_dir=_DATASET_DIR.value, num_validation=_NUM_VALIDATION.value,
            textures=_TEXTURES.value, mnist=_MNIST.value)
        result = training.train_toy_unet(
            data, _OUTPUT_DIR.value, backbone=_BACKBONE.value, width=_WIDTH.value,
            batch_norm=_BATCH_NORM.value, seed=_SEED.value, epochs=_EPOCHS.value,
            batch_size=_BATCH_SIZE.value, learning_rate=_LEARNING_RATE.value,
            final_learning_rate=_FINAL_LEARNING_RATE.value, final_fraction=_FINAL_FRACTION.value,
            strategy=_STRATEGY.value, resume=_RESUME.value, tensorboard=_TENSORBOARD.value,
            jit_compile=_JIT_COMPILE.value, verbose=_VERBOSE.value)
    except (ValueError, TypeError, OSError, RuntimeError) as error:
        print(f"toy_benchmark.train_main: error: {' '.join(str(error).split())}", file=sys.stderr)
        sys.exit(2)
    print(f"toy_benchmark.train_main: model saved to {result.model_path}")


def run() -> None:
    """Console-script entry point (`toy-train`)."""
    app.run(main)


if __name__ == "__main__":
    run()
