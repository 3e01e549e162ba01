"""A frozen DeepLab graph imported into TF2 and pruned into differentiable concrete functions."""

from __future__ import annotations

from collections import deque
from typing import Iterable, Sequence

import tensorflow as tf

from deeplab_utils.graph_def import GraphIndex, canonical_tensor_name, node_name, strip_output_shapes

__all__ = ["FrozenGraph"]


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
        queue = deque(node_name(name) for name in outputs)
        for name in queue:
            self.index.node(name)
        keep = set(queue)
        while queue:
            for source in self.index.nodes[queue.popleft()].input:
                name = node_name(source)
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
