"""Reading a frozen DeepLab ``GraphDef`` and finding the tensors a differentiable wrapper needs.

The official export (tensorflow/models, research/deeplab/export_model.py) builds the graph

    ImageTensor (uint8, [1, ?, ?, 3]) -> squeeze, cast to float
      -> pad to the crop size with the mean pixel 127.5 (input_preprocess.py)
      -> expand_dims -> (2 / 255) * x - 1            (feature_extractor, "zero mean unit range")
      -> backbone (MobilenetV2/... or xception_65/...) -> ASPP, decoder -> logits/semantic
      -> bilinear resize to the crop size -> ArgMax -> slice to the image size -> SemanticPredictions

uint8 carries no gradient, so the wrapper feeds the float tensor *after* the scaling (``sub_7:0`` in
MobileNetV2 exports) and reads the logits that feed the ArgMax (``ResizeBilinear_2:0`` or
``ResizeBilinear_3:0`` depending on the export). Neither name is fixed across tarballs, so both are found
here by reading the graph:

- float input: the tensor feeding the first convolution downstream of the image input, read back through
  padding/identity ops (Xception's first convolution pads explicitly);
- logits: the first input of the ArgMax that ``SemanticPredictions`` is computed from;
- scaling: the chain of element-wise operations with constant operands that produce the float input, so
  that the wrapper can replay them, with the same constants and operand order, outside the graph.

Everything here reads protobufs only, except :class:`FrozenGraph`, which imports the graph with
``tf.compat.v1.wrap_function`` and prunes it into concrete functions.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections import deque
from typing import Iterable, Sequence

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError

from deeplab_utils.archive import read_frozen_graph_bytes

DEFAULT_IMAGE_INPUT = "ImageTensor:0"
DEFAULT_SEMANTIC_OUTPUT = "SemanticPredictions:0"

CONVOLUTION_OPS = frozenset(
    {"Conv2D", "DepthwiseConv2dNative", "_FusedConv2D", "FusedResizeAndPadConv2D", "FusedPadConv2D"}
)
# Ops between the scaled image and the first convolution that do not change its values.
PASSTHROUGH_OPS = frozenset({"Identity", "Snapshot", "Pad", "PadV2", "MirrorPad", "SpaceToBatchND"})
# Element-wise ops with one constant operand that a preprocessing chain may consist of.
SCALING_OPS = frozenset({"Mul", "Sub", "Add", "AddV2", "RealDiv"})
# Ops through which the probabilities of a multi-scale export reach its ArgMax.
_PROBABILITY_MERGE_OPS = frozenset(
    {"Identity", "Mean", "ConcatV2", "ExpandDims", "Max", "AddN", "StridedSlice", "Reshape", "Squeeze"}
)
_FLOAT_TYPES = frozenset({tf.float16.as_datatype_enum, tf.float32.as_datatype_enum,
                          tf.float64.as_datatype_enum, tf.bfloat16.as_datatype_enum})


def _node_name(tensor_or_input: str) -> str:
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
        raise ValueError(f"{source} is not a TensorFlow GraphDef (corrupt or truncated?): {error}") from error
    if not graph_def.node:
        raise ValueError(f"{source} is not a TensorFlow GraphDef (corrupt or truncated?): it has no nodes")
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


@dataclasses.dataclass(frozen=True)
class ScalingStep:
    """One element-wise operation of the preprocessing chain, e.g. ``Mul(2/255, x)``.

    Attributes:
        op: The TensorFlow op type (``"Mul"``, ``"Sub"``, ``"Add"``, ``"AddV2"`` or ``"RealDiv"``).
        constant: The constant operand (float32, scalar or broadcastable to the image).
        constant_first: Whether the constant is the op's first operand (``c - x`` rather than ``x - c``).
    """

    op: str
    constant: np.ndarray
    constant_first: bool

    def apply(self, values: tf.Tensor) -> tf.Tensor:
        """Applies the step to `values` with the same operand order as the graph."""
        constant = tf.constant(self.constant, dtype=values.dtype)
        first, second = (constant, values) if self.constant_first else (values, constant)
        if self.op == "Mul":
            return tf.multiply(first, second)
        if self.op == "Sub":
            return tf.subtract(first, second)
        if self.op in ("Add", "AddV2"):
            return tf.add(first, second)
        return tf.divide(first, second)

    def describe(self) -> str:
        value = np.array2string(np.asarray(self.constant), precision=6)
        return f"{self.op}({value}, x)" if self.constant_first else f"{self.op}(x, {value})"


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
        return [_node_name(name) for name in node.input if not name.startswith("^")]

    def node(self, tensor_name: str) -> tf.compat.v1.NodeDef:
        """The node producing `tensor_name`.

        Raises:
            ValueError: If the graph has no such node.
        """
        name = _node_name(tensor_name)
        if name not in self.nodes:
            raise ValueError(f"the graph has no node {name!r} (tensor {tensor_name!r})")
        return self.nodes[name]

    def has(self, tensor_name: str) -> bool:
        return _node_name(tensor_name) in self.nodes

    def descendants(self, tensor_name: str) -> set[str]:
        """Names of all nodes reachable from the node of `tensor_name` through data edges."""
        start = _node_name(tensor_name)
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
        queue = deque([_node_name(tensor_name)])
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

    def constant_value(self, node_name: str) -> np.ndarray | None:
        """The value of a ``Const`` node (looked up through ``Identity``), or None."""
        node = self.nodes.get(_node_name(node_name))
        while node is not None and node.op == "Identity" and node.input:
            node = self.nodes.get(_node_name(node.input[0]))
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


def _topological_order(index: GraphIndex, names: set[str]) -> list[str]:
    """Kahn's algorithm restricted to `names` (data edges only)."""
    pending = {name: 0 for name in names}
    for name in names:
        for source in index.data_inputs(index.nodes[name]):
            if source in pending:
                pending[name] += 1
    ready = deque(sorted(name for name, count in pending.items() if count == 0))
    order = []
    while ready:
        name = ready.popleft()
        order.append(name)
        for consumer in index.consumers[name]:
            if consumer in pending:
                pending[consumer] -= 1
                if pending[consumer] == 0:
                    ready.append(consumer)
    return order


def find_float_input(graph_def: tf.compat.v1.GraphDef, image_input: str = DEFAULT_IMAGE_INPUT) -> str:
    """Finds the float tensor the backbone reads: the scaled, padded image.

    The first convolutions downstream of `image_input` (those with no convolution upstream of them) are
    located, and their data input is followed back through padding and identity ops. All of them must
    lead to one float tensor.

    Args:
        graph_def: The frozen graph.
        image_input: The uint8 image placeholder (``ImageTensor:0`` in official exports).

    Returns:
        The tensor name, e.g. ``"sub_7:0"``.

    Raises:
        ValueError: If `image_input` is missing, no convolution depends on it, the first convolutions read
            different tensors, or the tensor found is not floating point.
    """
    index = GraphIndex(graph_def)
    index.node(image_input)
    downstream = index.descendants(image_input)
    conv_above: dict[str, bool] = {}
    entries = []
    for name in _topological_order(index, downstream):
        node = index.nodes[name]
        sources = [source for source in index.data_inputs(node) if source in downstream]
        above = any(conv_above.get(source, False) or index.nodes[source].op in CONVOLUTION_OPS
                    for source in sources)
        conv_above[name] = above
        if node.op in CONVOLUTION_OPS and not above:
            entries.append(node)
    if not entries:
        raise ValueError(
            f"no float input found: no convolution in the graph depends on {image_input!r}; "
            "pass input_name"
        )
    candidates = set()
    for conv in entries:
        tensor = canonical_tensor_name(conv.input[0])
        while index.node(tensor).op in PASSTHROUGH_OPS:
            tensor = canonical_tensor_name(index.node(tensor).input[0])
        candidates.add(tensor)
    if len(candidates) > 1:
        raise ValueError(
            f"no unique float input: the first convolutions read {sorted(candidates)}; pass input_name"
        )
    tensor = candidates.pop()
    dtype = index.output_dtype(tensor)
    if dtype is not None and dtype not in _FLOAT_TYPES:
        raise ValueError(
            f"no float input found: the first convolution reads {tensor!r} of type "
            f"{tf.as_dtype(dtype).name}; pass input_name"
        )
    return tensor


def find_logits(
    graph_def: tf.compat.v1.GraphDef,
    semantic_output: str = DEFAULT_SEMANTIC_OUTPUT,
    float_input: str | None = None,
) -> str:
    """Finds the logits: the float tensor the ArgMax behind the semantic prediction reduces.

    When `semantic_output` is in the graph, its ancestors are searched for ArgMax ops, nearest first;
    otherwise every ArgMax downstream of `float_input` is considered. Exactly one must be found.

    Args:
        graph_def: The frozen graph.
        semantic_output: The label output (``SemanticPredictions:0`` in official exports).
        float_input: If given, the logits must depend on it.

    Returns:
        The tensor name, e.g. ``"ResizeBilinear_2:0"``.

    Raises:
        ValueError: If no or several ArgMax ops qualify, the logits are not floating point, do not depend
            on `float_input`, or are averaged probabilities (multi-scale or flipped exports).
    """
    index = GraphIndex(graph_def)
    argmaxes: list[tf.compat.v1.NodeDef] = []
    if index.has(semantic_output):
        seen = {_node_name(semantic_output)}
        queue = deque([_node_name(semantic_output)])
        while queue and not argmaxes:
            for _ in range(len(queue)):
                node = index.nodes[queue.popleft()]
                if node.op == "ArgMax":
                    argmaxes.append(node)
                    continue
                for source in index.data_inputs(node):
                    if source not in seen and source in index.nodes:
                        seen.add(source)
                        queue.append(source)
        where = f"upstream of {semantic_output!r}"
    else:
        pool = index.descendants(float_input) if float_input else set(index.nodes)
        argmaxes = [index.nodes[name] for name in sorted(pool) if index.nodes[name].op == "ArgMax"]
        where = f"in the graph (it has no {semantic_output!r})"
    argmaxes = [node for node in argmaxes
                if index.output_dtype(canonical_tensor_name(node.input[0])) in _FLOAT_TYPES | {None}]
    if not argmaxes:
        raise ValueError(f"no logits found: no ArgMax over a float tensor {where}; pass logits_name")
    if len(argmaxes) > 1:
        names = sorted(node.name for node in argmaxes)
        raise ValueError(f"no unique logits: several ArgMax ops {where}: {names}; pass logits_name")
    logits = canonical_tensor_name(argmaxes[0].input[0])
    _check_not_probabilities(index, logits)
    if float_input is not None and _node_name(float_input) not in index.ancestors(logits):
        raise ValueError(f"logits {logits!r} do not depend on the float input {float_input!r}")
    return logits


def _check_not_probabilities(index: GraphIndex, logits: str) -> None:
    queue = deque([_node_name(logits)])
    seen = set(queue)
    while queue:
        node = index.nodes[queue.popleft()]
        if node.op == "Softmax":
            raise ValueError(
                f"the ArgMax reduces {logits!r}, an average of softmax probabilities (a multi-scale or "
                "flipped-image export); export with a single inference scale, or pass logits_name"
            )
        if node.op in _PROBABILITY_MERGE_OPS:
            for source in index.data_inputs(node):
                if source not in seen and source in index.nodes:
                    seen.add(source)
                    queue.append(source)


def find_scaling(graph_def: tf.compat.v1.GraphDef, float_input: str) -> tuple[str, tuple[ScalingStep, ...]]:
    """Reads back the element-wise preprocessing that produces `float_input`.

    Starting at `float_input`, ops with one constant operand (``Mul``, ``Sub``, ``Add``, ``AddV2``,
    ``RealDiv``) are collected until an op of another kind is reached; its output is the root (the padded
    image in 0..255 in official exports, ``ExpandDims:0``).

    Args:
        graph_def: The frozen graph.
        float_input: The float tensor the backbone reads.

    Returns:
        ``(root, steps)``: the root tensor name and the steps in the order they are applied. An empty
        chain means `float_input` is its own root.
    """
    index = GraphIndex(graph_def)
    tensor = canonical_tensor_name(float_input)
    steps: list[ScalingStep] = []
    while True:
        node = index.node(tensor)
        if node.op == "Identity":
            tensor = canonical_tensor_name(node.input[0])
            continue
        inputs = [name for name in node.input if not name.startswith("^")]
        if node.op not in SCALING_OPS or len(inputs) != 2:
            break
        values = [index.constant_value(name) for name in inputs]
        if (values[0] is None) == (values[1] is None):
            break
        constant_first = values[0] is not None
        constant = np.asarray(values[0] if constant_first else values[1], dtype=np.float32)
        steps.append(ScalingStep(node.op, constant, constant_first))
        tensor = canonical_tensor_name(inputs[1] if constant_first else inputs[0])
    return tensor, tuple(reversed(steps))


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


def _unique_name(index: GraphIndex, base: str) -> str:
    name, count = base, 0
    while name in index.nodes:
        count += 1
        name = f"{base}_{count}"
    return name


class FrozenGraph:
    """A frozen ``GraphDef`` imported into TF2 and pruned into differentiable concrete functions.

    Args:
        graph_def: The frozen graph.
        source: Where it was read from (for messages).
    """

    def __init__(self, graph_def: tf.compat.v1.GraphDef, source: str = "graph") -> None:
        self.graph_def = graph_def
        self.source = source
        self.index = GraphIndex(graph_def)

    def _subgraph(self, outputs: Iterable[str]) -> tf.compat.v1.GraphDef:
        """The nodes `outputs` depend on (data and control edges), without ``_output_shapes``."""
        queue = deque(_node_name(name) for name in outputs)
        for name in queue:
            self.index.node(name)
        keep = set(queue)
        while queue:
            for source in self.index.nodes[queue.popleft()].input:
                name = _node_name(source)
                if name not in keep and name in self.index.nodes:
                    keep.add(name)
                    queue.append(name)
        subgraph = tf.compat.v1.GraphDef()
        subgraph.versions.CopyFrom(self.graph_def.versions)
        subgraph.library.CopyFrom(self.graph_def.library)
        subgraph.node.extend(node for node in self.graph_def.node if node.name in keep)
        return strip_output_shapes(subgraph)

    def function(self, inputs: Sequence[str], outputs: Sequence[str]) -> tf.types.experimental.ConcreteFunction:
        """Prunes the graph to a concrete function from the tensors `inputs` to the tensors `outputs`.

        Only the nodes the outputs depend on are imported.

        Args:
            inputs: Tensor names to feed.
            outputs: Tensor names to fetch.

        Returns:
            A concrete function taking the inputs positionally and returning a list of outputs.
        """
        subgraph = self._subgraph(outputs)

        def import_graph() -> None:
            tf.compat.v1.import_graph_def(subgraph, name="")

        wrapped = tf.compat.v1.wrap_function(import_graph, [])
        graph = wrapped.graph
        return wrapped.prune(
            [graph.get_tensor_by_name(canonical_tensor_name(name)) for name in inputs],
            [graph.get_tensor_by_name(canonical_tensor_name(name)) for name in outputs],
        )

    def batched_function(
        self, float_input: str, output: str, input_shape: Sequence[int], dtype: tf.DType = tf.float32
    ) -> tuple[tf.types.experimental.ConcreteFunction, tf.TensorShape]:
        """Prunes the graph from a new placeholder of unknown batch size, mapped onto `float_input`.

        Official exports fix the batch at 1 only in their uint8 input and preprocessing; the network
        itself is batch-agnostic. Replacing the float input by a ``(None, height, width, channels)``
        placeholder therefore lets one call process a batch.

        Args:
            float_input: The tensor to replace.
            output: The tensor to fetch.
            input_shape: ``(height, width, channels)`` of the float input.
            dtype: Its dtype.

        Returns:
            ``(function, output_shape)``: the concrete function and the static shape TensorFlow infers
            for `output` (its batch dimension is None when nothing in the graph fixes it).
        """
        subgraph = self._subgraph([output])
        name = _unique_name(self.index, "deeplab_utils_batched_input")
        shape = [None, *input_shape]

        def import_graph() -> None:
            placeholder = tf.compat.v1.placeholder(dtype, shape, name=name)
            tf.compat.v1.import_graph_def(
                subgraph, input_map={canonical_tensor_name(float_input): placeholder}, name=""
            )

        wrapped = tf.compat.v1.wrap_function(import_graph, [])
        graph = wrapped.graph
        fetched = graph.get_tensor_by_name(canonical_tensor_name(output))
        function = wrapped.prune(graph.get_tensor_by_name(f"{name}:0"), fetched)
        return function, fetched.shape
