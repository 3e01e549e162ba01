r"""Context statistics of a segmentation model on Cityscapes (Hoyer et al., NeurIPS 2019, Sec. 5, supplement S2).

Usage:
  python -m deeplab_utils.cityscapes_main --dataset=/data/cityscapes \
      --model=deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz --output_dir=cityscapes_run

(or the console script ``deeplab-cityscapes``). Explains every image of the split (predict; requests of
the 7 classes and 16 error pairs; context grid saliency with the Cityscapes settings; histograms; one
record per image), then aggregates the records into Fig. 6/S14, Table 1, Tables S1/S2, examples and
``report.md`` (see docs/cityscapes.md). Defaults are the paper's. Rerun the same command to resume;
split the work with --num_shards/--shard_index (one output folder) or --strategy=mirrored|multi_worker;
rebuild the aggregate from the records alone with --stage=aggregate. A zoo download is explained as the
native Keras DeepLab (--backend=keras, the default; docs/deeplab_native.md) or its frozen graph
(--backend=graph). Bad input ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

from absl import flags

from deeplab_utils.cityscapes.dataset import list_examples
from deeplab_utils.cityscapes.distribute import make_strategy
from deeplab_utils.cityscapes.pipeline import run_explain
from deeplab_utils.cityscapes.protocol import ERROR_PAIRS, PREDICTION_CLASSES, Protocol
from deeplab_utils.cityscapes.summary import write_aggregate
from deeplab_utils.run_flags import (define_distribution_flags, define_model_flags, define_optimizer_flags,
                                     define_request_flags)
from grid_saliency_tf.experiment import run_binary

_DEFAULT_PROTOCOL = Protocol()

_DATASET = flags.DEFINE_string("dataset", None, "Cityscapes folder (leftImg8bit/, gtFine/).")
_SPLIT = flags.DEFINE_string("split", "val", "Split (the paper: the 500 images of val).")
_CITIES = flags.DEFINE_list("cities", None, "Only these cities (default: all).")
_MAX_IMAGES = flags.DEFINE_integer("max_images", 0, "Only the first N images by name (0: all).")
_MODEL = flags.DEFINE_string("model", None, "Zoo tarball, its folder, .pb, or a Keras .keras/.h5 model.")
_LOADING = define_model_flags()
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Run folder (resumable, shared by shards).", required=True)
_STAGE = flags.DEFINE_enum("stage", "all", ["all", "explain", "aggregate"],
                           "explain, aggregate (from the records alone), or both.")
_CLASSES = flags.DEFINE_list("prediction_classes", list(PREDICTION_CLASSES), "Requested classes (Fig. 6, Table S1).")
_PAIRS = flags.DEFINE_list("error_pairs", [f"{truth}:{prediction}" for truth, prediction in ERROR_PAIRS],
                           "GT:prediction pairs (Table 1, Table S2); empty for none.")
_ERROR_MIN_SIZE = flags.DEFINE_integer("error_min_size", _DEFAULT_PROTOCOL.error_min_size,
                                       "Error requests: pixels after erosion at 1024x2048.")
_OPTIMIZER = define_optimizer_flags(_DEFAULT_PROTOCOL.erosion_size)
_REQUESTS = define_request_flags(_DEFAULT_PROTOCOL, reference="1024x2048")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 8, "Requests per replica and call; 0 picks it from GPU memory.")
_DISTRIBUTION = define_distribution_flags()
_PANEL_CLASS = flags.DEFINE_string("panel_class", "rider", "Group of the Fig. S13 panels (default: rider if "
                                   "requested, else the first group).")
_PANEL_IMAGES = flags.DEFINE_integer("panel_images", 10, "Fig. S13 panels for the first N images.")
_COMBINE = flags.DEFINE_enum("combine", "sum", ["sum", "max"], "Instances of an image: sum histograms, or max saliency.")
_IGNORED = flags.DEFINE_enum("ignored", "exclude", ["exclude", "include"], "Ignored ground truth in the normaliser.")
_BASELINE_INSTANCES = flags.DEFINE_enum("baseline_instances", "all", ["all", "counted"],
                                        "Baseline around all kept instances or the counted ones.")
_EXAMPLES = flags.DEFINE_integer("examples", 4, "Fig. S15 examples per group.")
_FIGURES = flags.DEFINE_boolean("figures", True, "Draw the matplotlib figures.")
_AGGREGATE_DIR = flags.DEFINE_string("aggregate_dir", "aggregate", "Subfolder of the aggregate.")
_OVERWRITE = flags.DEFINE_boolean("overwrite", False, "Replace a run with other settings in --output_dir.")
_VERBOSE = flags.DEFINE_integer("verbose", 1, "0: silent; 1: progress bar and summary.")


def _pairs(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        parts = value.split(":")
        if len(parts) != 2:
            raise ValueError(f"Argument `error_pairs` must hold GT:prediction pairs; received {value!r}.")
        pairs.append((parts[0], parts[1]))
    return tuple(pairs)


def main(argv: list[str]) -> None:
    distribution = _DISTRIBUTION()
    strategy = make_strategy(distribution["strategy"])  # before any other TensorFlow work
    protocol = Protocol(prediction_classes=tuple(_CLASSES.value), error_pairs=_pairs(_PAIRS.value),
                        error_min_size=_ERROR_MIN_SIZE.value, erosion_size=_OPTIMIZER()["erosion_size"],
                        **_REQUESTS())
    panel_group = _PANEL_CLASS.value
    if panel_group not in protocol.groups and not flags.FLAGS["panel_class"].present:
        panel_group = protocol.groups[0]  # the default, rider, is not requested: panels of the first group
    if panel_group not in protocol.groups:
        raise ValueError(f"Argument `panel_class` must be a requested class or GT/prediction pair "
                         f"({', '.join(protocol.groups)}); received {panel_group!r}.")
    say = print if _VERBOSE.value else (lambda *args: None)
    if _STAGE.value in ("all", "explain"):
        if not _DATASET.value or not _MODEL.value:
            raise ValueError("Arguments `dataset` and `model` must be given to explain; received "
                             f"dataset={_DATASET.value!r}, model={_MODEL.value!r}.")
        overrides = _OPTIMIZER()
        summary = run_explain(
            _DATASET.value, _MODEL.value, _OUTPUT_DIR.value, protocol=protocol, split=_SPLIT.value,
            cities=_CITIES.value, max_images=_MAX_IMAGES.value, optimizer_overrides=overrides,
            batch_size=_BATCH_SIZE.value, strategy=strategy, num_shards=distribution["num_shards"],
            shard_index=distribution["shard_index"], panel_group=panel_group, panel_images=_PANEL_IMAGES.value,
            overwrite=_OVERWRITE.value, verbose=_VERBOSE.value, **_LOADING())
        say(f"shard {summary['shard']}: {summary['images']} images explained, {summary['skipped']} done before, "
            f"{summary['requests']} requests (batch {summary['batch_size']})")
    if _STAGE.value in ("all", "aggregate"):
        examples = None
        if _DATASET.value:
            examples = list_examples(_DATASET.value, _SPLIT.value, _CITIES.value)
            examples = examples[: _MAX_IMAGES.value] if _MAX_IMAGES.value else examples
        aggregate = write_aggregate(_OUTPUT_DIR.value, examples=examples, combine=_COMBINE.value,
                                    ignored=_IGNORED.value, baseline_instances=_BASELINE_INSTANCES.value,
                                    examples_per_group=_EXAMPLES.value, draw_figures=_FIGURES.value,
                                    folder=_AGGREGATE_DIR.value)
        say(f"aggregated {aggregate.images} images into {_OUTPUT_DIR.value}/{_AGGREGATE_DIR.value}/report.md")


def run() -> None:
    """Entry point of the ``deeplab-cityscapes`` console script."""
    run_binary(main, name="deeplab-cityscapes")


if __name__ == "__main__":
    run()
