r"""Generates a toy-dataset variant to disk and/or writes its preview PNGs (paper Sec. 4.1, supplement S1.1).

Usage:
  python -m toy_benchmark.generate_main --output_dir=/data/toy/strong-d2-t7 --split=train \
      --bias_strength=strong --bias_digit=2 --bias_texture=7 --dataset_seed=0 --num_workers=2
  python -m toy_benchmark.generate_main --preview_dir=docs/images --bias_strength=strong \
      --bias_digit=2 --bias_texture=7 --num_samples=30

(installed as the console script `toy-generate`). Rerunning on the same --output_dir finishes an
interrupted run or verifies a finished one; a folder holding another dataset is refused unless
--overwrite, and a folder another `toy-generate` is writing is refused at once. Bad input exits with
status 2 and one line on stderr; Ctrl-C with status 130 and one line (run again to resume).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from absl import flags

from grid_saliency_tf.experiment import Progress, run_binary, write_bytes
from toy_benchmark.data.previews import preview_files
from toy_benchmark.data.sources import resolve_sources
from toy_benchmark.data.variant import BIAS_STRENGTHS, SPLITS, DatasetVariant
from toy_benchmark.data.writer import write_dataset

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder to materialise the dataset in (shards + manifest).")
_SPLIT = flags.DEFINE_enum("split", SPLITS[0], list(SPLITS), "Which split.")
_BIAS_STRENGTH = flags.DEFINE_enum("bias_strength", BIAS_STRENGTHS[0], list(BIAS_STRENGTHS),
                                   "Induced context bias.")
_BIAS_DIGIT = flags.DEFINE_integer("bias_digit", None, "Biased digit 0..9 (weak/strong only).")
_BIAS_TEXTURE = flags.DEFINE_integer("bias_texture", None, "Bias texture id in the pool (weak/strong only).")
_DATASET_SEED = flags.DEFINE_integer("dataset_seed", DatasetVariant.seed,
                                     "Seed of the training-set draw (the test split does not depend on it).")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", None, "Number of samples (default 50,000 train, 1,000 test).")
_TEXTURE_DIR = flags.DEFINE_string("texture_dir", None, "Folder of texture images (default: 25 procedural).")
_MNIST_PATH = flags.DEFINE_string("mnist_path", None, "Keras mnist.npz or IDX folder (default: bundled 10k).")
_NUM_SHARDS = flags.DEFINE_integer("num_shards", None, "Shard files (default: one per 10,000 samples).")
_NUM_WORKERS = flags.DEFINE_integer("num_workers", 1, "Worker processes generating shards.")
_PREVIEW_DIR = flags.DEFINE_string("preview_dir", None, "Folder for textures.png and samples.png.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an --output_dir holding another dataset (or other "
                               "files) and preview PNGs that differ; without it they are refused.")
_VERBOSE = flags.DEFINE_integer("verbose", 1, "0 quiet, 1 a progress bar, 2 a line per finished chunk of "
                                 "samples.", lower_bound=0, upper_bound=2)


def _printer(total: int) -> Callable[[int], None]:
    """A progress callback printing one line per call: samples done of `total`."""
    done = 0

    def report(count: int) -> None:
        nonlocal done
        done += count
        print(f"{done}/{total} samples", file=sys.stderr, flush=True)

    return report


def main(argv: list[str]) -> None:
    del argv  # run_binary refuses positional arguments
    if _OUTPUT_DIR.value is None and _PREVIEW_DIR.value is None:
        raise ValueError("Argument `output_dir` or `preview_dir` must be given; received neither.")
    variant = DatasetVariant(strength=_BIAS_STRENGTH.value, bias_digit=_BIAS_DIGIT.value,
                             bias_texture=_BIAS_TEXTURE.value, seed=_DATASET_SEED.value, split=_SPLIT.value,
                             num_samples=_NUM_SAMPLES.value)
    sources = resolve_sources(_TEXTURE_DIR.value, _MNIST_PATH.value)
    previews = {}
    if _PREVIEW_DIR.value is not None:  # checked before the dataset is written, written after it
        previews = preview_files(_PREVIEW_DIR.value, variant, sources, overwrite=_OVERWRITE.value)
    if _OUTPUT_DIR.value is not None:
        with Progress(variant.num_samples, description=variant.name, unit="img",
                      verbose=int(_VERBOSE.value == 1)) as bar:
            progress = bar.update if _VERBOSE.value < 2 else _printer(variant.num_samples)
            result = write_dataset(_OUTPUT_DIR.value, variant, sources=sources, num_shards=_NUM_SHARDS.value,
                                   num_workers=_NUM_WORKERS.value, progress=progress,
                                   overwrite=_OVERWRITE.value)
        print(f"{result.status} {result.path}: {result.manifest.num_samples} samples in "
              f"{len(result.manifest.shards)} shard(s)")
    for path, data in previews.items():
        write_bytes(path, data)
        print(f"wrote {path}")


def run() -> None:
    """Console-script entry point (`toy-generate`)."""
    run_binary(main, name="toy-generate")


if __name__ == "__main__":
    run()
