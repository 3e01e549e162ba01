"""Context statistics on Cityscapes at data-set scale (Hoyer et al., NeurIPS 2019, Sec. 5, supplement S2).

Explain every image of a Cityscapes split with context grid saliency, record each request's outcome,
and aggregate the records into Fig. 6/S14, Table 1 and Tables S1/S2 beside a contour-dilation baseline.
The binary is ``python -m deeplab_utils.cityscapes_main`` (console script ``deeplab-cityscapes``);
docs/cityscapes.md describes the protocol, the choices where the paper is silent, and the outputs.

- `protocol`: the classes, pairs, thresholds and choices (`Protocol`).
- `dataset`: the official layout, train ids, a tf.data pipeline, shards.
- `requests`: per image, the prediction and error requests.
- `baseline`: the 400k-pixel contour dilation.
- `statistics`: saliency-weighted ground-truth histograms.
- `explainer`: batches of requests on one device or a tf.distribute strategy.
- `job`, `folders`, `records`: the resumable, shardable run and its per-image records.
- `aggregate`, `tables`, `plots`, `examples`, `panels`, `report`, `summary`: the outputs.
- `models`: loading and checking the model; `paper`: the paper's numbers; `testing`: fixtures.
"""

from deeplab_utils.cityscapes.aggregate import BASELINE_INSTANCES, COMBINES, Aggregate, GroupStatistics, aggregate_records
from deeplab_utils.cityscapes.baseline import baseline_ring, nearest_pixels
from deeplab_utils.cityscapes.dataset import (
    CityscapesExample,
    check_sizes,
    list_examples,
    make_image_dataset,
    read_example,
    select_shard,
)
from deeplab_utils.cityscapes.explainer import BatchExplainer, automatic_batch_size, batch_size_for_budget
from deeplab_utils.cityscapes.folders import claim_run, shard_lock
from deeplab_utils.cityscapes.job import explain_examples, optimizer_settings, run_settings
from deeplab_utils.cityscapes.models import load_model, predict
from deeplab_utils.cityscapes.protocol import ERROR_PAIRS, PREDICTION_CLASSES, Protocol
from deeplab_utils.cityscapes.records import GroupOutcome, ImageRecord, RequestOutcome, load_records
from deeplab_utils.cityscapes.requests import RequestGroup, build_requests
from deeplab_utils.cityscapes.statistics import group_histograms, label_histogram, normalise
from deeplab_utils.cityscapes.summary import read_run_settings, write_aggregate

__all__ = [
    "Aggregate",
    "BASELINE_INSTANCES",
    "BatchExplainer",
    "COMBINES",
    "CityscapesExample",
    "ERROR_PAIRS",
    "GroupOutcome",
    "GroupStatistics",
    "ImageRecord",
    "PREDICTION_CLASSES",
    "Protocol",
    "RequestGroup",
    "RequestOutcome",
    "aggregate_records",
    "automatic_batch_size",
    "baseline_ring",
    "batch_size_for_budget",
    "build_requests",
    "check_sizes",
    "claim_run",
    "explain_examples",
    "group_histograms",
    "label_histogram",
    "list_examples",
    "load_model",
    "load_records",
    "make_image_dataset",
    "nearest_pixels",
    "normalise",
    "optimizer_settings",
    "predict",
    "read_example",
    "read_run_settings",
    "run_settings",
    "select_shard",
    "shard_lock",
    "write_aggregate",
]
