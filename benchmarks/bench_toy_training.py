r"""Time per training epoch of the toy-benchmark U-Nets on this machine, and their sizes.

Usage:

  python benchmarks/bench_toy_training.py --images=10000 --widths=0.0625,0.125 \
      --backbones=vgg16,mobilenetv2,resnet18 [--data=synthetic|toy] [--op_determinism] [--jit_compile]

Trains each (backbone, width) for two epochs with `toy_benchmark.training.train` (batch 100, RMSprop,
checkpoints and TensorBoard logs on, as in real use) and prints the parameter count and the wall time of
the second epoch (the first one includes tracing). `--data=synthetic` feeds random tensors (network cost
only); `--data=toy` streams the unbiased toy variant (network and data generation). Figures depend on
the machine's load. `--op_determinism` sets the process up as the toy binaries do
(`toy_benchmark.benchmark.make_reproducible`: op determinism and global seeds), to measure what
reproducible numbers cost: run it with and without, alternating processes. `--jit_compile` compiles the
train step with XLA (`train(..., jit_compile=True)`, toy-train's flag of the same name), the same way.
"""

from __future__ import annotations

import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from toy_benchmark.benchmark.reproducibility import make_reproducible
from toy_benchmark.models import ToyUNet
from toy_benchmark.training import PAPER_PROTOCOL, train

_IMAGES = flags.DEFINE_integer("images", 10_000, "Images per epoch.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", PAPER_PROTOCOL.batch_size, "Batch size.")
_WIDTHS = flags.DEFINE_list("widths", ["0.0625", "0.125"], "Width multipliers.")
_BACKBONES = flags.DEFINE_list("backbones", ["vgg16", "mobilenetv2", "resnet18"], "Backbones.")
_DATA = flags.DEFINE_enum("data", "synthetic", ["synthetic", "toy"], "Training data.")
_OP_DETERMINISM = flags.DEFINE_boolean("op_determinism", False, "Op determinism and global seed 0, as the toy "
                                       "binaries run.")
_JIT_COMPILE = flags.DEFINE_boolean("jit_compile", False, "Compile the train step with XLA.")


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []
        self.cpu_times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._cpu_start = time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)
        self.cpu_times.append(time.process_time() - self._cpu_start)


def _dataset(images: int, kind: str):
    if kind == "toy":
        from toy_benchmark.data.streaming import make_dataset
        from toy_benchmark.data.variant import DatasetVariant

        variant = DatasetVariant("none", num_samples=images)
        return lambda shuffle_seed: make_dataset(variant, shuffle_seed=shuffle_seed)
    rng = np.random.default_rng(0)
    return tf.data.Dataset.from_tensor_slices({
        "image": rng.random((images, 64, 64, 1), dtype=np.float32),
        "label": rng.integers(0, 11, (images, 64, 64), dtype=np.int32)})


def main(argv):
    del argv
    if _OP_DETERMINISM.value:
        make_reproducible(0)
    dataset = _dataset(_IMAGES.value, _DATA.value)
    print(f"{_IMAGES.value} images of 64x64x1 per epoch, batch {_BATCH_SIZE.value}, data "
          f"{_DATA.value}, {len(tf.config.list_physical_devices('CPU'))} CPU device(s), op determinism "
          f"{'on' if _OP_DETERMINISM.value else 'off'}, jit_compile "
          f"{'on' if _JIT_COMPILE.value else 'off'}")
    print(f"{'backbone':<12} {'width':>7} {'parameters':>11} {'s/epoch':>8} {'ms/image':>9} {'CPU s/epoch':>12}")
    for backbone in _BACKBONES.value:
        for width in (float(w) for w in _WIDTHS.value):
            timer = _EpochTimer()
            with tempfile.TemporaryDirectory() as folder:
                result = train(lambda: ToyUNet(backbone, width=width, seed=0), dataset, folder,
                               epochs=2, batch_size=_BATCH_SIZE.value, shuffle_buffer=_IMAGES.value,
                               callbacks=[timer], jit_compile=_JIT_COMPILE.value, verbose=0)
            seconds = timer.times[-1]
            print(f"{backbone:<12} {width:>7.4g} {result.model.count_params():>11,} {seconds:>8.1f} "
                  f"{1000 * seconds / _IMAGES.value:>9.2f} {timer.cpu_times[-1]:>12.1f}", flush=True)


if __name__ == "__main__":
    app.run(main)
