"""Generates a toy-dataset variant to disk and/or writes its preview PNGs.

Usage:
  python -m toy_benchmark.generate_main --output_dir=/data/toy/strong-d2-t7 --split=train \
      --bias_strength=strong --bias_digit=2 --bias_texture=7 --seed=0 --num_workers=2
  python -m toy_benchmark.generate_main --preview_dir=docs/images --bias_strength=strong \
      --bias_digit=2 --bias_texture=7 --num_samples=30

(installed as the console script `toy-generate`). Rerunning on the same --output_dir finishes an
interrupted run or verifies a finished one; a folder with a different dataset is refused. Bad input
exits with status 2 and a one-line message on stderr.
"""

from __future__ import annotations

import sys

from absl import app, flags

from toy_benchmark.data.previews import write_previews
from toy_benchmark.data.storage import check_output_dir, write_dataset
from toy_benchmark.data.streaming import resolve_sources
from toy_benchmark.data.variant import BIAS_STRENGTHS, SPLITS, DatasetVariant

_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", None, "Folder to materialise the dataset in (shards + manifest)."
)
_SPLIT = flags.DEFINE_enum("split", "train", list(SPLITS), "Which split.")
_STRENGTH = flags.DEFINE_enum("bias_strength", "none", list(BIAS_STRENGTHS), "Induced context bias.")
_BIAS_DIGIT = flags.DEFINE_integer("bias_digit", None, "Biased digit 0..9 (weak/strong only).")
_BIAS_TEXTURE = flags.DEFINE_integer("bias_texture", None, "Bias texture id in the pool (weak/strong only).")
_SEED = flags.DEFINE_integer("seed", 0, "Training-set seed (the test split does not depend on it).")
_NUM_SAMPLES = flags.DEFINE_integer(
    "num_samples", None, "Number of samples (default 50,000 train, 1,000 test)."
)
_TEXTURE_DIR = flags.DEFINE_string("texture_dir", None, "Folder of texture images (default: 25 procedural).")
_MNIST_PATH = flags.DEFINE_string("mnist_path", None, "Keras mnist.npz or IDX folder (default: bundled 10k).")
# The names train/evaluate/sweep use for the same settings.
flags.DEFINE_alias("bias", "bias_strength")
flags.DEFINE_alias("textures", "texture_dir")
flags.DEFINE_alias("mnist", "mnist_path")
_NUM_SHARDS = flags.DEFINE_integer("num_shards", None, "Shard files (default: one per 10,000 samples).")
_NUM_WORKERS = flags.DEFINE_integer("num_workers", 1, "Worker processes generating shards.")
_PREVIEW_DIR = flags.DEFINE_string("preview_dir", None, "Folder for textures.png and samples.png.")
_OVERWRITE_PREVIEWS = flags.DEFINE_bool("overwrite_previews", False, "Replace differing preview PNGs.")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a progress bar.")


def _fail(message: str) -> None:
    print(f"toy-generate: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        _fail(f"unexpected arguments {argv[1:]}")
    if _OUTPUT_DIR.value is None and _PREVIEW_DIR.value is None:
        _fail("give --output_dir, --preview_dir or both")
    try:
        variant = DatasetVariant(
            strength=_STRENGTH.value,
            bias_digit=_BIAS_DIGIT.value,
            bias_texture=_BIAS_TEXTURE.value,
            seed=_SEED.value,
            split=_SPLIT.value,
            num_samples=_NUM_SAMPLES.value,
        )
        textures, mnist = resolve_sources(_TEXTURE_DIR.value, _MNIST_PATH.value)
        if _OUTPUT_DIR.value is not None:
            check_output_dir(_OUTPUT_DIR.value, variant, textures, mnist)
        if _PREVIEW_DIR.value is not None:
            for path in write_previews(
                _PREVIEW_DIR.value,
                variant,
                textures=textures,
                mnist=mnist,
                overwrite=_OVERWRITE_PREVIEWS.value,
            ):
                print(f"wrote {path}")
        if _OUTPUT_DIR.value is not None:
            _write(variant, textures, mnist)
    except (ValueError, TypeError, OSError) as error:
        _fail(str(error))
    except KeyboardInterrupt:
        print("toy-generate: interrupted; run the same command again to resume", file=sys.stderr)
        sys.exit(130)


def _write(variant, textures, mnist) -> None:
    bar = None
    if _PROGRESS.value:
        from tqdm import tqdm

        bar = tqdm(total=variant.num_samples, unit="img", desc=variant.name, file=sys.stderr)
    try:
        result = write_dataset(
            _OUTPUT_DIR.value,
            variant,
            textures=textures,
            mnist=mnist,
            num_shards=_NUM_SHARDS.value,
            num_workers=_NUM_WORKERS.value,
            progress=None if bar is None else bar.update,
        )
    finally:
        if bar is not None:
            bar.close()
    shards = len(result.manifest["shards"])
    print(f"{result.status} {result.path}: {result.manifest['num_samples']} samples in {shards} shard(s)")


def run() -> None:
    """Console-script entry point (`toy-generate`)."""
    app.run(main)


if __name__ == "__main__":
    run()
