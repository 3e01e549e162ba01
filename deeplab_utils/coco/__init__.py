"""Comparing segmentation models by their use of context on COCO (Hoyer et al., NeurIPS 2019, supplement S3).

Two or more PASCAL VOC models (e.g. the DeepLabv3+ MobileNetV2 and Xception-65 downloads) explain the
same COCO images with context grid saliency and the Cityscapes settings, through the Cityscapes job's
core (:mod:`deeplab_utils.cityscapes`: request queue, batch explainer, histograms, baseline, run folder);
the comparison measures their context reliance per VOC class with paired bootstrap intervals over images
(Fig. S16 as numbers). The binary is ``python -m deeplab_utils.coco_main`` (console script
``deeplab-coco``); docs/coco.md describes the inputs, the choices, the outputs and the records.

- `dataset`: images and annotations (pycocotools), VOC ground truth and context labels, tf.data.
- `protocol`: requested classes, thresholds and choices (`CocoProtocol`).
- `job`: one pass over the images with every model; `records`: one record per image and model.
- `comparison`: the reliance measures and the paired differences (`compare_models`).
- `report`, `plots`: ``architecture_comparison.md``, CSVs, heatmaps, Fig. S16; `pipeline`: what the binary calls.
- `testing`: a COCO-format fixture and two VOC models with known context use.
"""

from deeplab_utils.coco.comparison import (
    MEASURES,
    Comparison,
    ModelClassStatistics,
    PairedDifference,
    compare_models,
    measure_sums,
)
from deeplab_utils.coco.dataset import CocoDataset, CocoImage, ground_truth_maps, load_dataset, make_image_dataset
from deeplab_utils.coco.job import ComparedModel, explain_images, prediction_name
from deeplab_utils.coco.pipeline import model_name_of, read_run_settings, run_explain, write_comparison
from deeplab_utils.coco.protocol import VOC_CLASSES, CocoProtocol
from deeplab_utils.coco.records import ClassRecord, ModelImageRecord, RequestRecord, load_model_records, record_name

__all__ = [
    "ClassRecord",
    "CocoDataset",
    "CocoImage",
    "CocoProtocol",
    "Comparison",
    "ComparedModel",
    "MEASURES",
    "ModelClassStatistics",
    "ModelImageRecord",
    "PairedDifference",
    "RequestRecord",
    "VOC_CLASSES",
    "compare_models",
    "explain_images",
    "ground_truth_maps",
    "load_dataset",
    "load_model_records",
    "make_image_dataset",
    "measure_sums",
    "model_name_of",
    "prediction_name",
    "read_run_settings",
    "record_name",
    "run_explain",
    "write_comparison",
]
