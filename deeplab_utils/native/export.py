"""What a checkpoint does not say: the settings a DeepLab model was exported with, and the architecture
its variables describe.

A checkpoint holds weights only. The frozen graph of the same tarball also fixes the crop size it pads
to (run its own preprocessing on a 1x1 image, as :class:`~deeplab_utils.DeepLabModel` does), the output
stride (the image pooling averages over ``scale_dimension(crop, 1 / output_stride)``, model.py), the
ASPP rates (the dilation of each ``aspp<i>_depthwise``, an attribute of the convolution or the block
shape of the ``SpaceToBatchND`` in front of it) and the epsilon the head's batch norms ran with. The
backbone, MobileNetV2's depth multiplier, the class count, the decoder and the number of ASPP branches
follow from the variables' names and shapes.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import tensorflow as tf

from deeplab_utils.frozen_graph import FrozenGraph
from deeplab_utils.graph_def import DEFAULT_IMAGE_INPUT, GraphIndex
from deeplab_utils.graph_tensors import find_float_input
from deeplab_utils.native.sources import OfficialVariables

__all__ = ["ExportSettings", "read_export_settings", "infer_architecture"]

_STRIDES = (4, 8, 16, 32)
_ASPP = re.compile(r"^aspp(\d+)_depthwise/depthwise_weights$")


@dataclasses.dataclass(frozen=True)
class ExportSettings:
    """Settings of an export read from its frozen graph.

    Attributes:
        crop_size: ``(height, width)`` the graph pads its input to.
        output_stride: The backbone's output stride.
        atrous_rates: Rates of ``aspp1``, ``aspp2``, ... (empty without atrous branches).
        head_batch_norm_epsilon: The epsilon of ``concat_projection``'s batch norm (1.001e-5 in TF 1.x
            exports), or None when the graph has no fused batch norm there.
    """

    crop_size: tuple[int, int]
    output_stride: int
    atrous_rates: tuple[int, ...]
    head_batch_norm_epsilon: float | None = None


def _scale_dimension(size: int, scale: float) -> int:
    return int((float(size) - 1.0) * scale + 1.0)


def _producer(index: GraphIndex, tensor: str):
    node = index.node(tensor)
    while node.op == "Identity":
        node = index.node(node.input[0])
    return node


def _op_in_scope(index: GraphIndex, prefix: str, ops: tuple[str, ...]):
    """The one op of a type in `ops` under scope `prefix` (e.g. ``image_pooling/``), or None."""
    matches = [node for node in index.nodes.values() if node.name.startswith(prefix) and node.op in ops]
    return matches[0] if len(matches) == 1 else None


def _dilation(index: GraphIndex, conv) -> int:
    rate = max(conv.attr["dilations"].list.i or [1])
    source = _producer(index, conv.input[0])
    if source.op == "SpaceToBatchND":
        block = index.constant_value(source.input[1])
        rate = max(rate, int(np.max(block)))
    return int(rate)


def read_export_settings(graph_def: tf.compat.v1.GraphDef,
                         image_input: str = DEFAULT_IMAGE_INPUT) -> ExportSettings:
    """Reads crop size, output stride and ASPP rates from a frozen DeepLab export.

    Args:
        graph_def: The frozen graph.
        image_input: Its uint8 image input.

    Returns:
        The :class:`ExportSettings`.

    Raises:
        ValueError: If the preprocessing cannot be run, the image pooling is not an average over a fixed
            window (``image_pooling`` fed by ``AvgPool``), or the window fits several output strides.
    """
    float_input = find_float_input(graph_def, image_input)
    try:
        probe = FrozenGraph(graph_def).function([image_input], [float_input])
        shape = probe(tf.zeros([1, 1, 1, 3], tf.uint8))[0].shape
    except (tf.errors.OpError, ValueError, TypeError) as error:
        raise ValueError(f"Argument `graph_def` must be a DeepLab export whose preprocessing runs; "
                         f"running it failed: {str(error).splitlines()[0]}") from error
    crop = (int(shape[1]), int(shape[2]))
    index = GraphIndex(graph_def)
    conv = _op_in_scope(index, "image_pooling/", ("Conv2D",))
    pool = _producer(index, conv.input[0]) if conv is not None else None
    if pool is None or pool.op != "AvgPool":
        found = pool.op if pool is not None else "no image_pooling convolution"
        raise ValueError("Argument `graph_def` must pool the image-level feature with AvgPool over the crop "
                         f"window (an export with a crop size); received {found}: pass output_stride and "
                         "crop_size instead.")
    window = tuple(int(k) for k in pool.attr["ksize"].list.i[1:3])
    strides = [s for s in _STRIDES if tuple(_scale_dimension(c, 1.0 / s) for c in crop) == window]
    if len(strides) != 1:
        raise ValueError(f"Argument `graph_def` must have a pooling window that tells the output stride; "
                         f"received the window {window} for the crop {crop} (candidates {strides}): pass "
                         "output_stride and crop_size instead.")
    rates = {}
    for node in index.nodes.values():
        match = _ASPP.match(node.name)
        if match:
            conv = _op_in_scope(index, f"aspp{match.group(1)}_depthwise/", ("DepthwiseConv2dNative",))
            if conv is not None:
                rates[int(match.group(1))] = _dilation(index, conv)
    norm = _op_in_scope(index, "concat_projection/BatchNorm/",
                        ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"))
    epsilon = float(norm.attr["epsilon"].f) if norm is not None else None
    return ExportSettings(crop, strides[0], tuple(rates[k] for k in sorted(rates)), epsilon)


def infer_architecture(variables: OfficialVariables) -> dict:
    """Backbone, depth multiplier, class count, decoder and ASPP branch count from the variables.

    Args:
        variables: An official model's variables.

    Returns:
        ``{"backbone", "depth_multiplier", "num_classes", "decoder", "atrous_branches"}``.

    Raises:
        ValueError: If neither backbone scope is found, or ``logits/semantic/weights`` is missing.
    """
    shapes = variables.shapes
    if "MobilenetV2/Conv/weights" in shapes:
        backbone, depth_multiplier = "mobilenet_v2", shapes["MobilenetV2/Conv/weights"][-1] / 32.0
    elif any(name.startswith("xception_65/") for name in shapes):
        backbone, depth_multiplier = "xception_65", 1.0
    else:
        raise ValueError(f"Argument `variables` must hold MobilenetV2/ or xception_65/ variables; received "
                         f"{variables.source} with neither.")
    if "logits/semantic/weights" not in shapes:
        raise ValueError(f"Argument `variables` must hold logits/semantic/weights; received "
                         f"{variables.source} without it.")
    branches = sum(1 for name in shapes if _ASPP.match(name))
    return {"backbone": backbone, "depth_multiplier": depth_multiplier,
            "num_classes": int(shapes["logits/semantic/weights"][-1]),
            "decoder": any(name.startswith("decoder/") for name in shapes), "atrous_branches": branches}
