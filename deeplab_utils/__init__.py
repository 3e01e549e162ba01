"""deeplab_utils: the official DeepLab model-zoo exports as differentiable models for grid saliency.

Load a zoo tarball (e.g. ``deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz``), its folder or the
``frozen_inference_graph.pb`` with :class:`DeepLabModel`; explain a predicted class of one image with
:func:`explain_image` or the binary ``deeplab-explain`` (Hoyer et al., NeurIPS 2019, Sec. 5, supplement
S2-S3). Fixture graphs in the export format come from :mod:`deeplab_utils.testing`; :func:`parity_report`
checks a loaded model against the graph's own predictions. The statistics of Sec. 5 over a whole Cityscapes split
(Fig. 6/S14, Table 1, Tables S1/S2) live in the subpackage :mod:`deeplab_utils.cityscapes` and its binary
``deeplab-cityscapes`` (docs/cityscapes.md); the COCO comparison of models by their context reliance
(supplement S3, Fig. S16) in :mod:`deeplab_utils.coco` and ``deeplab-coco`` (docs/coco.md). :class:`DeepLabV3Plus` is the same network as a native
Keras model, loaded from the zoo's checkpoint with :func:`load_deeplab` (:mod:`deeplab_utils.native`).
"""

from deeplab_utils.archive import extract_archive, locate_frozen_graph, read_frozen_graph_bytes
from deeplab_utils.frozen_graph import FrozenGraph
from deeplab_utils.graph_def import load_graph_def, parse_graph_def
from deeplab_utils.graph_tensors import ScalingStep, find_float_input, find_logits, find_scaling
from deeplab_utils.images import fit_to_crop, read_image
from deeplab_utils.labels import (
    CITYSCAPES,
    CITYSCAPES_LABEL_IDS,
    COCO_CATEGORY_IDS_OF_VOC,
    IGNORE_LABEL,
    PASCAL_VOC,
    LabelSet,
    cityscapes_label_ids_to_train_ids,
    coco_categories_to_voc_labels,
    label_set_for,
    pascal_color_map,
)
from deeplab_utils.model import DeepLabModel, parity_report
from deeplab_utils.native import DeepLabV3Plus, NativeZooModel, load_deeplab
from deeplab_utils.pipeline import explain_image
from deeplab_utils.requests import (
    MIN_REQUEST_PIXELS,
    REQUEST_EROSION_SIZE,
    RequestMasks,
    build_request_masks,
    scaled_min_size,
)
from deeplab_utils.settings import ExplainSettings

__all__ = [
    "CITYSCAPES",
    "CITYSCAPES_LABEL_IDS",
    "COCO_CATEGORY_IDS_OF_VOC",
    "DeepLabModel",
    "DeepLabV3Plus",
    "ExplainSettings",
    "FrozenGraph",
    "IGNORE_LABEL",
    "LabelSet",
    "MIN_REQUEST_PIXELS",
    "NativeZooModel",
    "PASCAL_VOC",
    "REQUEST_EROSION_SIZE",
    "RequestMasks",
    "ScalingStep",
    "build_request_masks",
    "cityscapes_label_ids_to_train_ids",
    "coco_categories_to_voc_labels",
    "explain_image",
    "extract_archive",
    "find_float_input",
    "find_logits",
    "find_scaling",
    "fit_to_crop",
    "label_set_for",
    "load_deeplab",
    "load_graph_def",
    "locate_frozen_graph",
    "parity_report",
    "parse_graph_def",
    "pascal_color_map",
    "read_frozen_graph_bytes",
    "read_image",
    "scaled_min_size",
]
