"""Finding the tensors a differentiable wrapper needs in a frozen DeepLab graph, by reading it.

uint8 carries no gradient, so the wrapper feeds the float tensor *after* the export's scaling
(``sub_7:0`` in MobileNetV2 exports) and reads the logits that feed the ArgMax (``ResizeBilinear_2:0``
or ``ResizeBilinear_3:0`` depending on the export). Neither name is fixed across tarballs, so both are
found here by reading the graph (see :mod:`deeplab_utils.graph_def` for the export's structure):

- float input (:func:`find_float_input`): the tensor feeding the first convolution downstream of the
  image input, read back through padding/identity ops (Xception's first convolution pads explicitly);
- logits (:func:`find_logits`): the first input of the ArgMax that ``SemanticPredictions`` is computed
  from;
- scaling (:func:`find_scaling`): the chain of element-wise operations with constant operands that
  produce the float input, so that the wrapper can replay them, with the same constants and operand
  order, outside the graph.
"""

from __future__ import annotations

import dataclasses
from collections import deque

import numpy as np
import tensorflow as tf

from deeplab_utils.graph_def import (
    DEFAULT_IMAGE_INPUT,
    DEFAULT_SEMANTIC_OUTPUT,
    GraphIndex,
    canonical_tensor_name,
    node_name,
)

__all__ = [
    "CONVOLUTION_OPS",
    "PASSTHROUGH_OPS",
    "SCALING_OPS",
    "ScalingStep",
    "find_float_input",
    "find_logits",
    "find_scaling",
]

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
        """The step as text, e.g. ``Mul(0.007843, x)``."""
        value = np.array2string(np.asarray(self.constant), precision=6)
        return f"{self.op}({value}, x)" if self.constant_first else f"{self.op}(x, {value})"


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
            f"Argument `graph_def` must have a float input to its first convolution; received a graph where "
            f"no convolution depends on {image_input!r} (no float input found): pass input_name."
        )
    candidates = set()
    for conv in entries:
        tensor = canonical_tensor_name(conv.input[0])
        while index.node(tensor).op in PASSTHROUGH_OPS:
            tensor = canonical_tensor_name(index.node(tensor).input[0])
        candidates.add(tensor)
    if len(candidates) > 1:
        raise ValueError(
            f"Argument `graph_def` must have one float input to its first convolutions; received a graph whose "
            f"first convolutions read {sorted(candidates)} (no unique float input): pass input_name."
        )
    tensor = candidates.pop()
    dtype = index.output_dtype(tensor)
    if dtype is not None and dtype not in _FLOAT_TYPES:
        raise ValueError(
            f"Argument `graph_def` must have a float input to its first convolution; received a graph whose "
            f"first convolution reads {tensor!r} of type {tf.as_dtype(dtype).name} (no float input found): "
            "pass input_name."
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
        seen = {node_name(semantic_output)}
        queue = deque([node_name(semantic_output)])
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
        raise ValueError(f"Argument `graph_def` must have logits under an ArgMax; received a graph with no ArgMax "
                         f"over a float tensor {where} (no logits found): pass logits_name.")
    if len(argmaxes) > 1:
        names = sorted(node.name for node in argmaxes)
        raise ValueError(f"Argument `graph_def` must have one ArgMax over its logits; received a graph with "
                         f"several ArgMax ops {where}: {names} (no unique logits): pass logits_name.")
    logits = canonical_tensor_name(argmaxes[0].input[0])
    _check_not_probabilities(index, logits)
    if float_input is not None and node_name(float_input) not in index.ancestors(logits):
        raise ValueError(f"Argument `float_input` must feed the logits; received {float_input!r}, on which the "
                         f"logits {logits!r} do not depend.")
    return logits


def _check_not_probabilities(index: GraphIndex, logits: str) -> None:
    queue = deque([node_name(logits)])
    seen = set(queue)
    while queue:
        node = index.nodes[queue.popleft()]
        if node.op == "Softmax":
            raise ValueError(
                f"Argument `graph_def` must compute its ArgMax from logits; received a graph whose ArgMax "
                f"reduces {logits!r}, an average of softmax probabilities (a multi-scale or flipped-image "
                "export): export with a single inference scale, or pass logits_name."
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
