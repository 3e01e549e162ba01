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
- `explainer`: batches of requests on one device or a tf.distribute strategy; `queue`: the requests of
  many images batched for it (shared with the COCO comparison, :mod:`deeplab_utils.coco`).
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
from deeplab_utils.cityscapes.protocol import ERROR_PAIRS, PREDICTION_CLASSES, Protocol, check_request_settings
from deeplab_utils.cityscapes.queue import ImageWork, RequestQueue
from deeplab_utils.cityscapes.records import (
    GroupOutcome,
    ImageRecord,
    OptimisationOutcome,
    RequestOutcome,
    load_records,
    optimisation_fields,
)
from deeplab_utils.cityscapes.requests import RequestGroup, build_requests
from deeplab_utils.cityscapes.statistics import group_histograms, image_histograms, label_histogram, normalise
from deeplab_utils.cityscapes.summary import read_run_settings, write_aggregate

__all__ = [
    "Aggregate",
    "aggregate_records",
    "automatic_batch_size",
    "BASELINE_INSTANCES",
    "baseline_ring",
    "batch_size_for_budget",
    "BatchExplainer",
    "build_requests",
    "check_request_settings",
    "check_sizes",
    "CityscapesExample",
    "claim_run",
    "COMBINES",
    "ERROR_PAIRS",
    "explain_examples",
    "group_histograms",
    "image_histograms",
    "GroupOutcome",
    "GroupStatistics",
    "ImageRecord",
    "ImageWork",
    "label_histogram",
    "list_examples",
    "load_model",
    "load_records",
    "make_image_dataset",
    "nearest_pixels",
    "normalise",
    "optimisation_fields",
    "OptimisationOutcome",
    "optimizer_settings",
    "predict",
    "PREDICTION_CLASSES",
    "Protocol",
    "read_example",
    "read_run_settings",
    "RequestGroup",
    "RequestOutcome",
    "RequestQueue",
    "run_settings",
    "select_shard",
    "shard_lock",
    "write_aggregate",
]
