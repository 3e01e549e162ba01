"""Former home of the graph reading code, kept as a re-export for code written against it.

It now lives in three modules: :mod:`deeplab_utils.graph_def` (parsing, :class:`GraphIndex`),
:mod:`deeplab_utils.graph_tensors` (finding the float input, the logits, the scaling) and
:mod:`deeplab_utils.frozen_graph` (:class:`FrozenGraph`). Import from those in new code.
"""

from deeplab_utils.frozen_graph import FrozenGraph
from deeplab_utils.graph_def import (
    DEFAULT_IMAGE_INPUT,
    DEFAULT_SEMANTIC_OUTPUT,
    GraphIndex,
    canonical_tensor_name,
    load_graph_def,
    parse_graph_def,
    strip_output_shapes,
)
from deeplab_utils.graph_tensors import ScalingStep, find_float_input, find_logits, find_scaling

__all__ = [
    "DEFAULT_IMAGE_INPUT",
    "DEFAULT_SEMANTIC_OUTPUT",
    "FrozenGraph",
    "GraphIndex",
    "ScalingStep",
    "canonical_tensor_name",
    "find_float_input",
    "find_logits",
    "find_scaling",
    "load_graph_def",
    "parse_graph_def",
    "strip_output_shapes",
]
