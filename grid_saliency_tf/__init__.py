"""grid_saliency_tf: explanations for semantic segmentation networks.

Grid and context saliency (Hoyer et al., NeurIPS 2019), their gradient baselines (VG, IG, SG),
Seg-Grad-CAM (Vinogradova et al., 2020), and the metrics of the context-bias benchmark.

Experiment I/O for binaries (atomic files, records, run folders, figures) lives in
`grid_saliency_tf.experiment`, which this package does not import (docs/experiment.md).
"""

from grid_saliency_tf.explainer import DEFAULT_MAX_REQUESTS_PER_CALL, Explainer, ExplanationResult
from grid_saliency_tf.forms import FORMS, NORMALIZATIONS
from grid_saliency_tf.gradients import (
    GradientSaliency,
    GradientSaliencyResult,
    IntegratedGradients,
    SmoothGrad,
    VanillaGradient,
    integrated_gradients,
    pool_to_grid,
    smooth_grad,
    vanilla_gradient,
)
from grid_saliency_tf.layer import GridSaliencyLayer
from grid_saliency_tf.metrics import (
    confusion_matrix,
    context_bias_detection,
    context_bias_localization,
    iou_per_class,
    mean_iou,
)
from grid_saliency_tf.optimizer import RUNTIME_PARAMETERS, GridSaliencyOptimizer, GridSaliencyResult
from grid_saliency_tf.perturbations import (
    blurred_image,
    constant_image,
    context_perturbation,
    erode_masks,
    noise_image,
    perturb,
    upsample_mask,
)
from grid_saliency_tf.requests import Requests
from grid_saliency_tf.scoring import class_probabilities, request_score, select_class
from grid_saliency_tf.seg_grad_cam import SegGradCAM, SegGradCAMResult, pixel_mask, whole_image_mask

__all__ = [
    "DEFAULT_MAX_REQUESTS_PER_CALL",
    "Explainer",
    "ExplanationResult",
    "FORMS",
    "NORMALIZATIONS",
    "GradientSaliency",
    "GradientSaliencyResult",
    "GridSaliencyLayer",
    "GridSaliencyOptimizer",
    "GridSaliencyResult",
    "IntegratedGradients",
    "RUNTIME_PARAMETERS",
    "Requests",
    "SegGradCAM",
    "SegGradCAMResult",
    "SmoothGrad",
    "VanillaGradient",
    "blurred_image",
    "class_probabilities",
    "confusion_matrix",
    "constant_image",
    "context_bias_detection",
    "context_bias_localization",
    "context_perturbation",
    "erode_masks",
    "integrated_gradients",
    "iou_per_class",
    "mean_iou",
    "noise_image",
    "perturb",
    "pixel_mask",
    "pool_to_grid",
    "request_score",
    "select_class",
    "smooth_grad",
    "upsample_mask",
    "vanilla_gradient",
    "whole_image_mask",
]

__version__ = "0.1.0"
