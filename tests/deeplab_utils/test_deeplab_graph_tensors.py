"""Tensor discovery by reading the GraphDef, and refusal of graphs it cannot serve."""

import numpy as np
import pytest
import tensorflow as tf

from deeplab_utils import DeepLabModel, find_float_input, find_logits, find_scaling
from deeplab_utils.graph_def import GraphIndex, strip_output_shapes

tf1 = tf.compat.v1


def _freeze(build, names=None):
    """Builds a small graph with `build(image)` after the official uint8 input and returns its GraphDef;
    the names of the tensors `build` returns are stored in the list `names`."""
    graph = tf.Graph()
    with graph.as_default():
        image = tf1.placeholder(tf.uint8, [1, None, None, 3], name="ImageTensor")
        tensors = build(image) or ()
        if names is not None:
            names.extend(tensor.name for tensor in tensors)
    return graph.as_graph_def(add_shapes=True)


def _padded(image, crop=17):
    floats = tf.cast(tf.squeeze(image, [0]), tf.float32)
    shape = tf.shape(floats)
    padded = tf.pad(floats - 127.5, [[0, crop - shape[0]], [0, crop - shape[1]], [0, 0]]) + 127.5
    padded.set_shape([crop, crop, 3])
    return tf.expand_dims(padded, 0)


def _conv(x, classes=4, seed=0):
    weights = tf.constant(np.random.default_rng(seed).standard_normal((3, 3, int(x.shape[-1]), classes)),
                          tf.float32)
    return tf.nn.conv2d(x, weights, 1, "SAME")


def test_fixture_names_and_scaling(mnv2_graph, xception_graph):
    for fixture in (mnv2_graph, xception_graph):
        graph_def = fixture.graph_def
        assert find_float_input(graph_def) == fixture.float_input_name
        assert find_logits(graph_def, float_input=fixture.float_input_name) == fixture.logits_name
        root, steps = find_scaling(graph_def, fixture.float_input_name)
        assert root == "ExpandDims:0"
        assert [(s.op, s.constant_first) for s in steps] == [("Mul", True), ("Sub", False)]
        assert steps[0].constant == np.float32(2.0 / 255.0) and steps[1].constant == np.float32(1.0)
    # Xception's first convolution reads the scaled image through an explicit Pad.
    index = GraphIndex(xception_graph.graph_def)
    pad = index.node("xception_65/entry_flow/Pad")
    assert pad.input[0] == "sub_7"
    assert index.node("xception_65/entry_flow/conv1_1/Conv2D").input[0] == "xception_65/entry_flow/Pad"


def test_export_records_batch_one_shapes_that_stripping_removes(mnv2_graph):
    index = GraphIndex(mnv2_graph.graph_def)
    assert index.static_shape("sub_7:0") == [1, 65, 65, 3]
    assert index.static_shape("ResizeBilinear_2:0") == [1, 65, 65, 19]
    stripped = GraphIndex(strip_output_shapes(mnv2_graph.graph_def))
    assert stripped.static_shape("sub_7:0") is None
    assert "_output_shapes" in index.node("sub_7").attr  # the original is left untouched


def test_graph_without_convolution_has_no_float_input():
    def build(image):
        logits = tf.tile(tf.reduce_mean(_padded(image), axis=3, keepdims=True), [1, 1, 1, 4])
        tf.identity(tf.argmax(logits, 3), name="SemanticPredictions")

    graph_def = _freeze(build)
    with pytest.raises(ValueError, match="Argument `graph_def` must have a float input .*no convolution depends on "
                                         r"'ImageTensor:0' \(no float input found\)"):
        find_float_input(graph_def)
    with pytest.raises(ValueError, match="no float input found"):
        DeepLabModel(graph_def)


def test_graph_whose_first_conv_reads_integers_has_no_float_input():
    def build(image):
        tf.raw_ops.Conv2D(input=tf.cast(image, tf.int32), filter=tf.ones([1, 1, 3, 2], tf.int32),
                          strides=[1, 1, 1, 1], padding="SAME", name="conv")

    with pytest.raises(ValueError, match="reads 'Cast:0' of type int32"):
        find_float_input(_freeze(build))


def test_graph_without_argmax_has_no_logits():
    def build(image):
        scaled = _padded(image) / 127.5 - 1.0
        tf.identity(tf.nn.softmax(_conv(scaled)), name="SemanticPredictions")
        return [scaled]

    names = []
    graph_def = _freeze(build, names)
    assert find_float_input(graph_def) == names[0]
    with pytest.raises(ValueError, match=r"Argument `graph_def` must have logits .*no ArgMax .*\(no logits found\)"):
        find_logits(graph_def)
    with pytest.raises(ValueError, match="no logits found"):
        DeepLabModel(graph_def)


def test_multi_scale_export_averaging_probabilities_is_refused():
    def build(image):
        scaled = _padded(image) * (2.0 / 255.0) - 1.0
        first = tf.nn.softmax(_conv(scaled, seed=0))
        second = tf.nn.softmax(_conv(scaled, seed=1))
        merged = tf.reduce_mean(tf.concat([first[..., None], second[..., None]], 4), axis=4)
        tf.identity(tf.argmax(merged, 3), name="SemanticPredictions")

    with pytest.raises(ValueError, match="average of softmax probabilities"):
        find_logits(_freeze(build))


def test_several_argmax_without_semantic_output_are_ambiguous():
    def build(image):
        scaled = _padded(image) * (2.0 / 255.0) - 1.0
        tf.argmax(_conv(scaled, seed=0), 3, name="first")
        tf.argmax(_conv(scaled, seed=1), 3, name="second")

    graph_def = _freeze(build)
    with pytest.raises(ValueError, match="several ArgMax ops"):
        find_logits(graph_def)


def test_preprocessing_that_resizes_is_refused():
    def build(image):
        floats = tf.cast(image, tf.float32)
        resized = tf1.image.resize_bilinear(floats, [17, 17], align_corners=True)
        tf.identity(tf.argmax(_conv(resized * (2.0 / 255.0) - 1.0), 3), name="SemanticPredictions")

    with pytest.raises(ValueError, match="is not 'pad to the crop size 17x17 with a constant'"):
        DeepLabModel(_freeze(build))


def test_minimal_export_without_batch_norm_loads_and_matches():
    def build(image):
        scaled = _padded(image) * (2.0 / 255.0) - 1.0
        logits = _conv(scaled)
        tf.identity(tf.argmax(logits, 3), name="SemanticPredictions")
        return [scaled, logits]

    names = []
    model = DeepLabModel(_freeze(build, names))
    assert [model.input_name, model.logits_name] == names and model.crop_size == (17, 17)
    assert [s.op for s in model.scaling] == ["Mul", "Sub"]
    image = np.random.default_rng(0).integers(0, 256, (11, 17, 3), dtype=np.uint8)
    np.testing.assert_array_equal(model.predict_labels(image[None])[0].numpy(),
                                  model.semantic_predictions(image)[:11, :17])
