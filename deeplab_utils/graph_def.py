"""Reading a frozen DeepLab ``GraphDef`` and walking its nodes without running it.

The official export (tensorflow/models, research/deeplab/export_model.py) builds the graph

    ImageTensor (uint8, [1, ?, ?, 3]) -> squeeze, cast to float
      -> pad to the crop size with the mean pixel 127.5 (input_preprocess.py)
      -> expand_dims -> (2 / 255) * x - 1            (feature_extractor, "zero mean unit range")
      -> backbone (MobilenetV2/... or xception_65/...) -> ASPP, decoder -> logits/semantic
      -> bilinear resize to the crop size -> ArgMax -> slice to the image size -> SemanticPredictions

This module parses such a graph (:func:`parse_graph_def`, :func:`load_graph_def`) and indexes it for
data-edge traversal (:class:`GraphIndex`); :mod:`deeplab_utils.graph_tensors` finds the tensors a
differentiable wrapper needs, :mod:`deeplab_utils.frozen_graph` runs pieces of the graph. Everything
here reads protobufs only.
"""

from __future__ import annotations

import copy
import os
from collections import deque

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError

from deeplab_utils.archive import read_frozen_graph_bytes

__all__ = [
    "DEFAULT_IMAGE_INPUT",
    "DEFAULT_SEMANTIC_OUTPUT",
    "GraphIndex",
    "canonical_tensor_name",
    "load_graph_def",
    "node_name",
    "parse_graph_def",
    "strip_output_shapes",
]

DEFAULT_IMAGE_INPUT = "ImageTensor:0"
DEFAULT_SEMANTIC_OUTPUT = "SemanticPredictions:0"


def node_name(tensor_or_input: str) -> str:
    """``"^a"``, ``"a"``, ``"a:1"`` -> ``"a"``."""
    return tensor_or_input.lstrip("^").split(":")[0]


def canonical_tensor_name(tensor_or_input: str) -> str:
    """``"a"`` -> ``"a:0"``, ``"a:1"`` -> ``"a:1"``."""
    return tensor_or_input if ":" in tensor_or_input else f"{tensor_or_input}:0"


def parse_graph_def(data: bytes, source: str = "graph") -> tf.compat.v1.GraphDef:
    """Parses a serialized ``GraphDef``.

    Args:
        data: The bytes of a ``.pb`` file.
        source: Where the bytes came from, for error messages.

    Returns:
        The parsed ``tf.compat.v1.GraphDef``.

    Raises:
        ValueError: If the bytes are not a ``GraphDef`` (corrupt or truncated file) or hold no nodes.
    """
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as error:
        raise ValueError(f"Argument `data` must be a serialized GraphDef; received the bytes of {source}, which "
                         f"is not a TensorFlow GraphDef (corrupt or truncated?): {error}.") from error
    if not graph_def.node:
        raise ValueError(f"Argument `data` must be a serialized GraphDef; received the bytes of {source}, which "
                         "is not a TensorFlow GraphDef (corrupt or truncated?): it has no nodes.")
    return graph_def


def load_graph_def(path: str | os.PathLike) -> tuple[tf.compat.v1.GraphDef, str]:
    """Loads the frozen graph of a model tarball, its unpacked folder or a ``.pb`` file.

    Args:
        path: See :func:`deeplab_utils.archive.read_frozen_graph_bytes`.

    Returns:
        ``(graph_def, source)`` where `source` says which file was read.

    Raises:
        ValueError: If no frozen graph is found or it cannot be parsed.
    """
    data, source = read_frozen_graph_bytes(path)
    return parse_graph_def(data, source), source


class GraphIndex:
    """Node lookup and data-edge traversal over a ``GraphDef`` (no TensorFlow execution).

    Args:
        graph_def: The graph to index.
    """

    def __init__(self, graph_def: tf.compat.v1.GraphDef) -> None:
        self.graph_def = graph_def
        self.nodes = {node.name: node for node in graph_def.node}
        self.consumers: dict[str, list[str]] = {name: [] for name in self.nodes}
        for node in graph_def.node:
            for name in self.data_inputs(node):
                if name in self.consumers:
                    self.consumers[name].append(node.name)

    @staticmethod
    def data_inputs(node: tf.compat.v1.NodeDef) -> list[str]:
        """Names of the nodes feeding `node` through data (not control) edges."""
        return [node_name(name) for name in node.input if not name.startswith("^")]

    def node(self, tensor_name: str) -> tf.compat.v1.NodeDef:
        """The node producing `tensor_name`.

        Raises:
            ValueError: If the graph has no such node.
        """
        name = node_name(tensor_name)
        if name not in self.nodes:
            raise ValueError(f"Argument `tensor_name` must name a node of the graph; received {tensor_name!r} "
                             f"(the graph has no node {name!r}).")
        return self.nodes[name]

    def has(self, tensor_name: str) -> bool:
        """Whether the graph has the node producing `tensor_name`."""
        return node_name(tensor_name) in self.nodes

    def descendants(self, tensor_name: str) -> set[str]:
        """Names of all nodes reachable from the node of `tensor_name` through data edges."""
        start = node_name(tensor_name)
        seen: set[str] = set()
        queue = deque([start])
        while queue:
            for consumer in self.consumers.get(queue.popleft(), ()):
                if consumer not in seen:
                    seen.add(consumer)
                    queue.append(consumer)
        return seen

    def ancestors(self, tensor_name: str) -> set[str]:
        """Names of all nodes the node of `tensor_name` depends on through data edges."""
        seen: set[str] = set()
        queue = deque([node_name(tensor_name)])
        while queue:
            node = self.nodes.get(queue.popleft())
            if node is None:
                continue
            for name in self.data_inputs(node):
                if name not in seen:
                    seen.add(name)
                    queue.append(name)
        return seen

    def output_dtype(self, tensor_name: str) -> int | None:
        """The dtype enum of a tensor, read from the node's ``T``/``dtype``/``out_type`` attributes."""
        node = self.node(tensor_name)
        for key in ("T", "dtype", "out_type", "DstT"):
            if key in node.attr and node.attr[key].type:
                return node.attr[key].type
        return None

    def constant_value(self, name: str) -> np.ndarray | None:
        """The value of a ``Const`` node (looked up through ``Identity``), or None."""
        node = self.nodes.get(node_name(name))
        while node is not None and node.op == "Identity" and node.input:
            node = self.nodes.get(node_name(node.input[0]))
        if node is None or node.op != "Const":
            return None
        return tf.make_ndarray(node.attr["value"].tensor)

    def static_shape(self, tensor_name: str) -> list[int | None] | None:
        """The shape recorded in the node's ``_output_shapes`` attribute (``add_shapes=True``), or None."""
        node = self.node(tensor_name)
        index = int(canonical_tensor_name(tensor_name).split(":")[1])
        shapes = node.attr["_output_shapes"].list.shape if "_output_shapes" in node.attr else []
        if index >= len(shapes) or shapes[index].unknown_rank:
            return None
        return [None if dim.size < 0 else int(dim.size) for dim in shapes[index].dim]



def strip_output_shapes(graph_def: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """A copy of `graph_def` without ``_output_shapes`` attributes.

    Exports written with ``add_shapes=True`` record batch size 1 on every node; importing them as they
    are would make TensorFlow believe every tensor has batch 1 even when a larger batch is fed.
    """
    stripped = copy.deepcopy(graph_def)
    for node in stripped.node:
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]
    return stripped
