"""The evaluation wing: the five saliency methods, IoU, CBD/CBL records, ``metrics.json`` and the job."""

from toy_benchmark.evaluation.constant_probe import (GRID_SALIENCY_CONSTANTS, PROBED_PERTURBATIONS, ConstantProbe,
                                                    constant_probe)
from toy_benchmark.evaluation.evaluator import (BATCH_SIZE, EVALUATION_KIND, EXAMPLES_FILE, NUM_EXAMPLES,
                                                ModelSource, evaluate, examples_figure, load_model, summary_line)
from toy_benchmark.evaluation.explainers import (GRID_SHAPE, METHODS, ExplainerPool, MethodOutput, build_explainers,
                                                 check_methods, explain, method_settings)
from toy_benchmark.evaluation.metrics_record import (METRICS_FILE, MethodSummary, MetricsRecord, SaliencySummary,
                                                     SegmentationMetrics)
from toy_benchmark.evaluation.saliency_metrics import SaliencyRecords, saliency_records, summarize_saliency
from toy_benchmark.evaluation.segmentation import predict_labels, segmentation_metrics

__all__ = [
    "BATCH_SIZE",
    "ConstantProbe",
    "EVALUATION_KIND",
    "EXAMPLES_FILE",
    "ExplainerPool",
    "GRID_SALIENCY_CONSTANTS",
    "GRID_SHAPE",
    "METHODS",
    "METRICS_FILE",
    "MethodOutput",
    "MethodSummary",
    "MetricsRecord",
    "ModelSource",
    "NUM_EXAMPLES",
    "PROBED_PERTURBATIONS",
    "SaliencyRecords",
    "SaliencySummary",
    "SegmentationMetrics",
    "build_explainers",
    "check_methods",
    "constant_probe",
    "evaluate",
    "examples_figure",
    "explain",
    "load_model",
    "method_settings",
    "predict_labels",
    "saliency_records",
    "segmentation_metrics",
    "summarize_saliency",
    "summary_line",
]
