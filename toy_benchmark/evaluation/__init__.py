"""The evaluation wing: the five saliency methods, IoU, CBD/CBL records and the evaluation job."""

from toy_benchmark.evaluation.evaluator import EXAMPLES_FILE, evaluate, load_model
from toy_benchmark.evaluation.explainers import (GRID_SHAPE, METHODS, Explainer, MethodOutput, build_explainers,
                                                 check_methods, method_settings)
from toy_benchmark.evaluation.metrics_record import METRICS_FILE, SCHEMA_VERSION, validate_metrics
from toy_benchmark.evaluation.saliency_metrics import SaliencyRecords, saliency_records, summarize_saliency
from toy_benchmark.evaluation.segmentation import predict_labels, segmentation_metrics

__all__ = [
    "EXAMPLES_FILE",
    "Explainer",
    "GRID_SHAPE",
    "METHODS",
    "METRICS_FILE",
    "MethodOutput",
    "SCHEMA_VERSION",
    "SaliencyRecords",
    "build_explainers",
    "check_methods",
    "evaluate",
    "load_model",
    "method_settings",
    "predict_labels",
    "saliency_records",
    "segmentation_metrics",
    "summarize_saliency",
    "validate_metrics",
]
