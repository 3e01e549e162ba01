r"""Trains a toy-benchmark U-Net (paper Sec. 4.2, supplement S1.2) on a toy-dataset variant.

Usage (a strongly biased variant streamed on the fly, a small VGG16 U-Net on the CPU):

  python -m toy_benchmark.train_main --output_dir=runs/strong-d3 --bias_strength=strong --bias_digit=3 \
      --bias_texture=7 --num_train=10000 --backbone=vgg16 --width=0.125 --epochs=5

or from a dataset folder written by `toy-generate` (`--dataset_dir=...`; variant flags given with it
must match its manifest; its shards are verified once before training). Defaults are the paper's:
width 1, 50 epochs, batch 100, RMSprop, learning rate 1e-3 then 1e-4 for the last fifth (`--schedule=cosine`
decays from the one to the other step by step instead, a lever, not the paper's protocol). The output
folder is a run folder: the same command again resumes from the last finished epoch (also after Ctrl-C,
which exits with status 130 and one line); other settings are refused unless --overwrite.
`--strategy=mirrored` trains on all GPUs (or, with `--logical_cpus=2`, on two logical CPU devices).
Installed as the console script `toy-train`.
"""

from __future__ import annotations

from absl import flags

from grid_saliency_tf.experiment import run_binary
from toy_benchmark.benchmark.reproducibility import make_reproducible
from toy_benchmark.data.variant import BIAS_STRENGTHS, DatasetVariant
from toy_benchmark.models import BACKBONES, DEFAULT_BACKBONE, PUBLISHED_WIDTH
from toy_benchmark.training import (
    PAPER_PROTOCOL,
    SCHEDULES,
    STRATEGIES,
    configure_cpu_devices,
    toy_training_data,
    train_toy_unet,
)

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder for checkpoints, logs and model.keras.")
_DATASET_DIR = flags.DEFINE_string("dataset_dir", None, "A materialised training-set folder; if unset the "
                                   "variant given by the dataset flags is generated on the fly.")
_BIAS_STRENGTH = flags.DEFINE_enum("bias_strength", BIAS_STRENGTHS[0], list(BIAS_STRENGTHS),
                                   "Induced context bias of the variant.")
_BIAS_DIGIT = flags.DEFINE_integer("bias_digit", None, "Biased digit 0..9 (weak/strong only).")
_BIAS_TEXTURE = flags.DEFINE_integer("bias_texture", None, "Bias texture id in the pool (weak/strong only).")
_DATASET_SEED = flags.DEFINE_integer("dataset_seed", DatasetVariant.seed, "Seed of the training-set draw.")
_NUM_TRAIN = flags.DEFINE_integer("num_train", None, "Training samples (default: the paper's 50,000).")
_NUM_VALIDATION = flags.DEFINE_integer("num_validation", 0, "Samples of the variant's test split "
                                       "evaluated after every epoch (0: none).")
_TEXTURE_DIR = flags.DEFINE_string("texture_dir", None, "Folder of texture images (default: 25 procedural).")
_MNIST_PATH = flags.DEFINE_string("mnist_path", None, "Keras mnist.npz or IDX folder (default: bundled 10k).")
_BACKBONE = flags.DEFINE_string("backbone", DEFAULT_BACKBONE, f"Encoder: {', '.join(BACKBONES)}.")
_WIDTH = flags.DEFINE_float("width", PUBLISHED_WIDTH, "Channel multiplier (1 = the published network).")
_BATCH_NORM = flags.DEFINE_boolean("batch_norm", True, "Batch norm in the decoder and VGG16.")
_MODEL_SEED = flags.DEFINE_integer("model_seed", 0, "Seed of the network's initial weights and data order.")
_EPOCHS = flags.DEFINE_integer("epochs", PAPER_PROTOCOL.epochs, "Epochs.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", PAPER_PROTOCOL.batch_size, "Global batch size.")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", PAPER_PROTOCOL.learning_rate, "Rate of the first epochs.")
_FINAL_LEARNING_RATE = flags.DEFINE_float("final_learning_rate", PAPER_PROTOCOL.final_learning_rate,
                                          "Rate of the last epochs.")
_FINAL_FRACTION = flags.DEFINE_float("final_fraction", PAPER_PROTOCOL.final_fraction,
                                     "Fraction of epochs at the final rate.")
_SCHEDULE = flags.DEFINE_enum("schedule", PAPER_PROTOCOL.schedule, list(SCHEDULES), "Learning-rate schedule: "
                              "step (S1.2) or cosine (from --learning_rate to --final_learning_rate, step by step).")
_STRATEGY = flags.DEFINE_enum("strategy", STRATEGIES[0], list(STRATEGIES), "tf.distribute strategy.")
_LOGICAL_CPUS = flags.DEFINE_integer("logical_cpus", 0, "Split the CPU into this many logical devices "
                                     "(to try --strategy=mirrored without GPUs); 0 leaves it.")
_OVERWRITE = flags.DEFINE_boolean("overwrite", False, "Replace an --output_dir holding a training with other "
                                  "settings (or other files); without it such a folder is refused.")
_TENSORBOARD = flags.DEFINE_boolean("tensorboard", True, "Write TensorBoard logs.")
_JIT_COMPILE = flags.DEFINE_boolean("jit_compile", False, "Compile the train step with XLA (with "
                                   "--nodeterministic: Keras compiles no XLA step under op determinism).")
_DETERMINISTIC = flags.DEFINE_boolean("deterministic", True, "TensorFlow op determinism: the same command on the "
                                     "same kind of machine gives the same weights.")
_VERBOSE = flags.DEFINE_integer("verbose", 1, "0 quiet, 1 progress bars, 2 a line per epoch.",
                                lower_bound=0, upper_bound=2)
flags.mark_flag_as_required("output_dir")

# The DatasetVariant fields and the flags that set them.
_VARIANT_FLAGS = {"strength": _BIAS_STRENGTH, "bias_digit": _BIAS_DIGIT, "bias_texture": _BIAS_TEXTURE,
                  "seed": _DATASET_SEED, "num_samples": _NUM_TRAIN}


def _prepare_runtime() -> None:
    """Global TensorFlow set-up, done here and never by the library: devices, seeds, determinism."""
    if _LOGICAL_CPUS.value:
        configure_cpu_devices(_LOGICAL_CPUS.value)
    make_reproducible(_MODEL_SEED.value, op_determinism=_DETERMINISTIC.value)


def main(argv: list[str]) -> None:
    del argv  # run_binary refuses positional arguments
    # With --dataset_dir only the variant flags given explicitly are checked against its manifest.
    variant = {field: holder.value for field, holder in _VARIANT_FLAGS.items()
               if _DATASET_DIR.value is None or holder.present}
    _prepare_runtime()
    data = toy_training_data(variant, dataset_dir=_DATASET_DIR.value, num_validation=_NUM_VALIDATION.value,
                             textures=_TEXTURE_DIR.value, mnist=_MNIST_PATH.value)
    result = train_toy_unet(
        data, _OUTPUT_DIR.value, backbone=_BACKBONE.value, width=_WIDTH.value, batch_norm=_BATCH_NORM.value,
        seed=_MODEL_SEED.value, epochs=_EPOCHS.value, batch_size=_BATCH_SIZE.value,
        learning_rate=_LEARNING_RATE.value, final_learning_rate=_FINAL_LEARNING_RATE.value,
        final_fraction=_FINAL_FRACTION.value, schedule=_SCHEDULE.value, strategy=_STRATEGY.value,
        overwrite=_OVERWRITE.value, tensorboard=_TENSORBOARD.value, jit_compile=_JIT_COMPILE.value, verbose=_VERBOSE.value)
    print(f"toy-train: model saved to {result.model_path}")


def run() -> None:
    """Console-script entry point (`toy-train`)."""
    run_binary(main, name="toy-train")


if __name__ == "__main__":
    run()
