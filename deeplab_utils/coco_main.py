r"""Compare segmentation models by their use of context on COCO (Hoyer et al., NeurIPS 2019, supplement S3, Fig. S16).

Usage:
  python -m deeplab_utils.coco_main --images=/data/coco/val2017 \
      --instances=/data/coco/annotations/instances_val2017.json \
      --stuff=/data/coco/annotations/stuff_val2017.json \
      --models=deeplabv3_mnv2_pascal_train_aug_2018_01_29.tar.gz,deeplabv3_pascal_train_aug_2018_01_04.tar.gz \
      --model_names=MN,XC --output_dir=coco_run

(or the console script ``deeplab-coco``). Reads each image once and explains it with every model
(predicted components of the VOC classes; context grid saliency with the Cityscapes settings; one
record per image and model), then compares the models from the records: per class, the context
statistics and three measures of context reliance, with paired bootstrap intervals over images, in
``comparison/architecture_comparison.md`` beside heatmaps and a Fig. S16-style figure (docs/coco.md).
Rerun the same command to resume; split the work with --num_shards/--shard_index (one output folder)
or --strategy=mirrored|multi_worker, as ``deeplab-cityscapes``; --stage=compare rebuilds the
comparison from the records alone. Bad input ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

from absl import flags

from deeplab_utils.cityscapes.distribute import make_strategy
from deeplab_utils.coco.pipeline import run_explain, write_comparison
from deeplab_utils.coco.protocol import VOC_CLASSES, CocoProtocol
from deeplab_utils.run_flags import (define_distribution_flags, define_model_flags, define_optimizer_flags,
                                     define_request_flags)
from grid_saliency_tf.experiment import run_binary

_DEFAULT = CocoProtocol()

_IMAGES = flags.DEFINE_string("images", None, "COCO image folder (val2017).")
_INSTANCES = flags.DEFINE_string("instances", None, "Instances annotation file (instances_val2017.json).")
_STUFF = flags.DEFINE_string("stuff", None, "COCO-Stuff annotation file (stuff_val2017.json); optional.")
_MODELS = flags.DEFINE_list("models", None, "Two or more models: zoo tarball, its folder, .pb, or .keras/.h5.")
_MODEL_NAMES = flags.DEFINE_list("model_names", None, "Names of the models (default: file names).")
_LOADING = define_model_flags()
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Run folder (resumable, shared by shards).", required=True)
_STAGE = flags.DEFINE_enum("stage", "all", ["all", "explain", "compare"],
                           "explain, compare (from the records alone), or both.")
_MAX_IMAGES = flags.DEFINE_integer("max_images", 0, "Only the first N images by name (0: all).")
_CLASSES = flags.DEFINE_list("classes", list(VOC_CLASSES), "Requested VOC classes.")
_REFERENCE = flags.DEFINE_list("reference_shape", [str(v) for v in _DEFAULT.reference_shape],
                               "Height,width at which --min_size and --baseline_pixels are stated.")
_OPTIMIZER = define_optimizer_flags(_DEFAULT.erosion_size)
_REQUESTS = define_request_flags(_DEFAULT, reference="--reference_shape, scaled by image area")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 8, "Requests per replica and optimisation call.")
_DISTRIBUTION = define_distribution_flags()
_IGNORED = flags.DEFINE_enum("ignored", "exclude", ["exclude", "include"], "Unannotated pixels in the normaliser.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the bootstrap.")
_NUM_RESAMPLES = flags.DEFINE_integer("num_resamples", 1000, "Bootstrap resamples.")
_S16_ROWS = flags.DEFINE_integer("s16_rows", 6, "Rows (image, class) of the Fig. S16 figure.")
_FIGURES = flags.DEFINE_boolean("figures", True, "Draw the matplotlib heatmaps.")
_COMPARISON_DIR = flags.DEFINE_string("comparison_dir", "comparison", "Subfolder of the comparison.")
_OVERWRITE = flags.DEFINE_boolean("overwrite", False, "Replace a run with other settings in --output_dir.")
_VERBOSE = flags.DEFINE_integer("verbose", 1, "0: silent; 1: progress bar and summary.")


def _shape(values: list[str]) -> tuple[int, int]:
    try:
        return tuple(int(value) for value in values)
    except ValueError:
        raise ValueError(f"Argument `reference_shape` must be two integers; received {values!r}.") from None


def main(argv: list[str]) -> None:
    distribution = _DISTRIBUTION()
    strategy = make_strategy(distribution["strategy"])  # before any other TensorFlow work
    overrides = _OPTIMIZER()
    protocol = CocoProtocol(classes=tuple(_CLASSES.value), reference_shape=_shape(_REFERENCE.value),
                            erosion_size=overrides["erosion_size"], **_REQUESTS())
    say = print if _VERBOSE.value else (lambda *args: None)
    if _STAGE.value in ("all", "explain"):
        if not _IMAGES.value or not _INSTANCES.value or not _MODELS.value:
            raise ValueError("Arguments `images`, `instances` and `models` must be given to explain; received "
                             f"images={_IMAGES.value!r}, instances={_INSTANCES.value!r}, models={_MODELS.value!r}.")
        summary = run_explain(_IMAGES.value, _INSTANCES.value, _MODELS.value, _OUTPUT_DIR.value, stuff=_STUFF.value,
                              model_names=_MODEL_NAMES.value, protocol=protocol, optimizer_overrides=overrides,
                              **_LOADING(), batch_size=_BATCH_SIZE.value,
                              strategy=strategy, num_shards=distribution["num_shards"],
                              shard_index=distribution["shard_index"], max_images=_MAX_IMAGES.value,
                              overwrite=_OVERWRITE.value, verbose=_VERBOSE.value)
        say(f"shard {summary['shard']}: {summary['images']} images read, {summary['skipped']} done before, "
            f"{summary['records']} records, {summary['requests']} requests")
    if _STAGE.value in ("all", "compare"):
        comparison = write_comparison(_OUTPUT_DIR.value, images=_IMAGES.value, instances=_INSTANCES.value,
                                      ignored=_IGNORED.value, seed=_SEED.value, num_resamples=_NUM_RESAMPLES.value,
                                      draw_figures=_FIGURES.value, s16_rows=_S16_ROWS.value,
                                      folder=_COMPARISON_DIR.value)
        say(f"compared {len(comparison.models)} models on {comparison.images} images: "
            f"{_OUTPUT_DIR.value}/{_COMPARISON_DIR.value}/architecture_comparison.md")


def run() -> None:
    """Entry point of the ``deeplab-coco`` console script."""
    run_binary(main, name="deeplab-coco")


if __name__ == "__main__":
    run()
