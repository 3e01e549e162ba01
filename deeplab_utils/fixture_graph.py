"""Small random-weight DeepLab graphs in the official export format, for tests and for checking a graph.

No model-zoo tarball can be downloaded in tests, so :func:`build_frozen_graph` builds a tiny graph with
the structure and names of an official export (tensorflow/models, research/deeplab/export_model.py):

- ``ImageTensor``: uint8 ``[1, ?, ?, 3]``; squeezed, cast to float, padded to the crop size with 127.5
  (with the shape asserts of ``input_preprocess``), expanded back and scaled by ``(2 / 255) * x - 1``,
  which TensorFlow names ``sub_7`` as in the official MobileNetV2 exports;
- a backbone under the official scopes: ``MobilenetV2/Conv``, ``MobilenetV2/expanded_conv_N/{expand,
  depthwise,project}`` or ``xception_65/{entry,middle,exit}_flow/blockN/unit_1/xception_module/
  separable_convK_{depthwise,pointwise}``, with frozen batch norm (``FusedBatchNorm`` as in 2018 exports
  for MobileNetV2, ``FusedBatchNormV3`` for Xception) and atrous convolutions (``SpaceToBatchND``);
- ``image_pooling``, ``aspp0`` (and separable ``aspp1..`` for Xception), ``concat_projection``, for
  Xception a ``decoder`` (``feature_projection0``, ``decoder_conv{0,1}_{depthwise,pointwise}``);
- ``logits/semantic`` (``Conv2D`` + ``BiasAdd``), bilinear resizes with ``align_corners``, ``ArgMax``,
  the slice back to the image size and ``SemanticPredictions``.

The final resize is ``ResizeBilinear_2`` for MobileNetV2 and ``ResizeBilinear_3`` for Xception (the
decoder upsamples the ASPP features at the root scope), the two logits names reported for official
tarballs. The graph is frozen with ``convert_variables_to_constants``.
:func:`synthetic_scene` draws the test images the graphs are calibrated on.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf

__all__ = ["BACKBONES", "FixtureGraph", "build_frozen_graph", "synthetic_scene"]

tf1 = tf.compat.v1

BACKBONES = ("mobilenet_v2", "xception_65")


@dataclasses.dataclass(frozen=True)
class FixtureGraph:
    """A frozen fixture graph and what a loader should find in it.

    Attributes:
        graph_def: The frozen ``GraphDef``.
        float_input_name: The scaled float image the backbone reads.
        logits_name: The logits feeding the ArgMax.
        crop_size: ``(height, width)`` the graph pads to.
        num_classes: Number of classes.
        variables: Name -> value of every variable before freezing (what the checkpoint holds).
    """

    graph_def: tf1.GraphDef
    float_input_name: str
    logits_name: str
    crop_size: tuple[int, int]
    num_classes: int
    variables: dict[str, np.ndarray]


class _GraphBuilder:
    """Creates layers with official scope names and random weights drawn from one generator."""

    def __init__(self, rng: np.random.Generator, batch_norm_op: str) -> None:
        self.rng = rng
        self.batch_norm_op = batch_norm_op

    def variable(self, name: str, value: np.ndarray) -> tf.Variable:
        return tf1.get_variable(name, initializer=value.astype(np.float32))

    def batch_norm(self, x: tf.Tensor) -> tf.Tensor:
        channels = int(x.shape[-1])
        with tf1.variable_scope("BatchNorm"):
            gamma = self.variable("gamma", 1.0 + 0.1 * self.rng.standard_normal(channels))
            beta = self.variable("beta", 0.1 * self.rng.standard_normal(channels))
            mean = self.variable("moving_mean", 0.1 * self.rng.standard_normal(channels))
            variance = self.variable("moving_variance", self.rng.uniform(0.5, 1.5, channels))
            if self.batch_norm_op == "FusedBatchNorm":
                return tf.raw_ops.FusedBatchNorm(x=x, scale=gamma, offset=beta, mean=mean,
                                                 variance=variance, epsilon=1e-3, is_training=False,
                                                 name="FusedBatchNorm")[0]
            return tf1.nn.fused_batch_norm(x, gamma, beta, mean, variance, epsilon=1e-3,
                                           is_training=False, name="FusedBatchNorm")[0]

    @staticmethod
    def activate(x: tf.Tensor, activation: str | None) -> tf.Tensor:
        if activation == "relu6":
            return tf.nn.relu6(x, name="Relu6")
        if activation == "relu":
            return tf.nn.relu(x, name="Relu")
        return x

    def conv(self, x: tf.Tensor, scope: str, filters: int, kernel: int = 1, stride: int = 1,
             rate: int = 1, activation: str | None = "relu", padding: str = "SAME",
             batch_norm: bool = True) -> tf.Tensor:
        channels = int(x.shape[-1])
        with tf1.variable_scope(scope):
            std = np.sqrt(2.0 / (kernel * kernel * channels))
            weights = self.variable("weights", std * self.rng.standard_normal((kernel, kernel, channels, filters)))
            y = tf.nn.conv2d(x, weights, strides=stride, padding=padding, dilations=rate, name="Conv2D")
            if batch_norm:
                y = self.batch_norm(y)
            else:
                y = tf.nn.bias_add(y, self.variable("biases", 0.1 * self.rng.standard_normal(filters)),
                                   name="BiasAdd")
            return self.activate(y, activation)

    def depthwise(self, x: tf.Tensor, scope: str, stride: int = 1, rate: int = 1,
                  activation: str | None = "relu", op_name: str = "depthwise") -> tf.Tensor:
        channels = int(x.shape[-1])
        with tf1.variable_scope(scope):
            weights = self.variable("depthwise_weights",
                                    np.sqrt(2.0 / 9.0) * self.rng.standard_normal((3, 3, channels, 1)))
            y = tf.nn.depthwise_conv2d(x, weights, strides=[1, stride, stride, 1], padding="SAME",
                                       dilations=[rate, rate], name=op_name)
            return self.activate(self.batch_norm(y), activation)

    def separable(self, x: tf.Tensor, scope: str, filters: int, stride: int = 1, rate: int = 1,
                  activation: str | None = "relu") -> tf.Tensor:
        """Xception-style split separable conv: ``<scope>_depthwise`` then ``<scope>_pointwise``."""
        y = self.depthwise(x, f"{scope}_depthwise", stride=stride, rate=rate, activation=activation)
        return self.conv(y, f"{scope}_pointwise", filters, activation=activation)


def _scale_dimension(size: int, scale: float) -> int:
    """The official ``scale_dimension`` for Python ints: ``int((size - 1) * scale + 1)``."""
    return int((float(size) - 1.0) * scale + 1.0)


def _preprocess(image: tf.Tensor, crop_size: Sequence[int]) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 ``[1, h, w, 3]`` -> (scaled float ``[1, crop_h, crop_w, 3]``, ``[h, w]``), as exported."""
    squeezed = tf.squeeze(image, axis=[0])
    floats = tf.cast(squeezed, tf.float32, name="ToFloat")
    shape = tf.shape(floats)
    height, width = shape[0], shape[1]
    target_height = height + tf.maximum(crop_size[0] - height, 0)
    target_width = width + tf.maximum(crop_size[1] - width, 0)
    mean_pixel = tf.reshape(tf.constant([127.5, 127.5, 127.5]), [1, 1, 3])
    rank_check = tf.debugging.Assert(tf.equal(tf.rank(floats), 3), ["image must be 3-D"])
    with tf.control_dependencies([rank_check]):
        centred = floats - mean_pixel
    height_check = tf.debugging.Assert(tf.greater_equal(target_height, height), ["target_height < height"])
    width_check = tf.debugging.Assert(tf.greater_equal(target_width, width), ["target_width < width"])
    with tf.control_dependencies([height_check]):
        pad_bottom = target_height - 0 - height
    with tf.control_dependencies([width_check]):
        pad_right = target_width - 0 - width
    paddings = tf.stack([tf.stack([0, pad_bottom]), tf.stack([0, pad_right]), tf.stack([0, 0])])
    padded = tf.pad(centred, paddings) + mean_pixel
    padded.set_shape([crop_size[0], crop_size[1], 3])
    batched = tf.expand_dims(padded, 0)
    scaled = (2.0 / 255.0) * batched - 1.0
    return scaled, shape[:2]


def _mobilenet_v2(builder: _GraphBuilder, x: tf.Tensor, width: int) -> tuple[tf.Tensor, None]:
    """MobileNetV2 at output stride 8: three stride-2 stages, then an atrous residual block."""
    with tf1.variable_scope("MobilenetV2"):
        x = builder.conv(x, "Conv", width, kernel=3, stride=2, activation="relu6")
        with tf1.variable_scope("expanded_conv"):
            x = builder.depthwise(x, "depthwise", activation="relu6")
            x = builder.conv(x, "project", width, activation=None)
        blocks = [(width + width // 2, 2, 1), (2 * width, 2, 1), (2 * width, 1, 2)]
        for number, (filters, stride, rate) in enumerate(blocks, start=1):
            with tf1.variable_scope(f"expanded_conv_{number}"):
                y = builder.conv(x, "expand", 3 * int(x.shape[-1]), activation="relu6")
                y = builder.depthwise(y, "depthwise", stride=stride, rate=rate, activation="relu6")
                y = builder.conv(y, "project", filters, activation=None)
                x = tf.add(x, y, name="add") if stride == 1 and filters == int(x.shape[-1]) else y
    return x, None


def _xception_module(builder: _GraphBuilder, x: tf.Tensor, scope: str, filters: int, stride: int,
                     rate: int, shortcut: str) -> tuple[tf.Tensor, tf.Tensor]:
    with tf1.variable_scope(f"{scope}/unit_1/xception_module"):
        residual = x
        for number in (1, 2, 3):
            residual = builder.separable(tf.nn.relu(residual), f"separable_conv{number}", filters,
                                         stride=stride if number == 3 else 1, rate=rate, activation=None)
            if number == 2:
                decoder_feature = residual
        if shortcut == "conv":
            x = builder.conv(x, "shortcut", filters, stride=stride, activation=None)
        return (residual + x if shortcut != "none" else residual), decoder_feature


def _xception_65(builder: _GraphBuilder, x: tf.Tensor, width: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Xception-65 at output stride 16 (entry flow with explicit padding, middle and exit flow)."""
    with tf1.variable_scope("xception_65"):
        with tf1.variable_scope("entry_flow"):
            padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], name="Pad")
            x = builder.conv(padded, "conv1_1", width, kernel=3, stride=2, padding="VALID")
            x = builder.conv(x, "conv1_2", width, kernel=3)
            x, _ = _xception_module(builder, x, "block1", width + width // 2, 2, 1, "conv")
            x, decoder_feature = _xception_module(builder, x, "block2", 2 * width, 2, 1, "conv")
            x, _ = _xception_module(builder, x, "block3", 2 * width, 2, 1, "conv")
        with tf1.variable_scope("middle_flow"):
            x, _ = _xception_module(builder, x, "block1", 2 * width, 1, 1, "sum")
        with tf1.variable_scope("exit_flow"):
            x, _ = _xception_module(builder, x, "block1", 3 * width, 1, 2, "conv")
            x, _ = _xception_module(builder, x, "block2", 4 * width, 1, 2, "none")
    return x, decoder_feature


def _aspp(builder: _GraphBuilder, features: tf.Tensor, pool_size: int, depth: int,
          atrous_rates: Sequence[int]) -> tf.Tensor:
    pooled = tf.nn.avg_pool2d(features, pool_size, pool_size, "VALID", name="AvgPool2D/AvgPool")
    pooled = builder.conv(pooled, "image_pooling", depth)
    pooled = tf1.image.resize_bilinear(pooled, [pool_size, pool_size], align_corners=True)
    branches = [pooled, builder.conv(features, "aspp0", depth)]
    for number, rate in enumerate(atrous_rates, start=1):
        branches.append(builder.separable(features, f"aspp{number}", depth, rate=rate))
    return builder.conv(tf.concat(branches, 3), "concat_projection", depth)


def build_frozen_graph(
    backbone: str = "mobilenet_v2",
    *,
    crop_size: Sequence[int] = (65, 65),
    num_classes: int = 19,
    width: int = 8,
    seed: int = 0,
) -> FixtureGraph:
    """Builds and freezes a random-weight DeepLabv3(+) graph in the official export format.

    Args:
        backbone: ``"mobilenet_v2"`` (output stride 8, no decoder, as the Cityscapes/PASCAL MobileNetV2
            exports) or ``"xception_65"`` (output stride 16, separable ASPP and decoder at stride 4).
        crop_size: ``(height, width)`` the graph pads to; each ``4k + 1`` as in official exports
            (MobileNetV2 needs a multiple of 8 plus 1, Xception of 16 plus 1).
        num_classes: Number of classes of ``logits/semantic``.
        width: Channels of the first layer; the others are small multiples of it.
        seed: Seed of the weights (a ``numpy.random.Generator``; no global seed is touched).

    Returns:
        The frozen graph and the names a loader should find.

    Raises:
        ValueError: For an unknown backbone or a crop size the backbone cannot divide.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"Argument `backbone` must be one of {BACKBONES}; received {backbone!r}.")
    stride = 8 if backbone == "mobilenet_v2" else 16
    crop = tuple(int(size) for size in crop_size)
    if len(crop) != 2 or any(size < stride + 1 or (size - 1) % stride for size in crop):
        raise ValueError(
            f"Argument `crop_size` must be (height, width), each a multiple of {stride} plus 1 for {backbone}; "
            f"received {tuple(crop_size)}."
        )
    if num_classes < 2:
        raise ValueError(f"Argument `num_classes` must be an integer >= 2; received {num_classes!r}.")
    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        image = tf1.placeholder(tf.uint8, [1, None, None, 3], name="ImageTensor")
        scaled, image_size = _preprocess(image, crop)
        if backbone == "mobilenet_v2":
            builder = _GraphBuilder(rng, "FusedBatchNorm")
            features, decoder_feature = _mobilenet_v2(builder, scaled, width)
        else:
            builder = _GraphBuilder(rng, "FusedBatchNormV3")
            features, decoder_feature = _xception_65(builder, scaled, width)
        pool_height = _scale_dimension(crop[0], 1.0 / stride)
        if pool_height != _scale_dimension(crop[1], 1.0 / stride):
            raise ValueError(f"Argument `crop_size` must be square for the fixtures; received {tuple(crop_size)}.")
        depth = 2 * width
        rates = () if backbone == "mobilenet_v2" else (1, 2, 3)
        features = _aspp(builder, features, pool_height, depth, rates)
        logits_stride = stride
        if decoder_feature is not None:
            logits_stride = 4
            size = [_scale_dimension(crop[0], 0.25), _scale_dimension(crop[1], 0.25)]
            features = tf1.image.resize_bilinear(features, size, align_corners=True)
            with tf1.variable_scope("decoder"):
                projected = builder.conv(decoder_feature, "feature_projection0", width)
                projected = tf1.image.resize_bilinear(projected, size, align_corners=True)
                features = tf.concat([features, projected], 3)
                features = builder.separable(features, "decoder_conv0", depth)
                features = builder.separable(features, "decoder_conv1", depth)
        with tf1.variable_scope("logits"):
            logits = builder.conv(features, "semantic", num_classes, activation=None, batch_norm=False)
        size = [_scale_dimension(crop[0], 1.0 / logits_stride), _scale_dimension(crop[1], 1.0 / logits_stride)]
        logits = tf1.image.resize_bilinear(logits, size, align_corners=True)
        logits = tf1.image.resize_bilinear(logits, tf.shape(scaled)[1:3], align_corners=True)
        labels = tf.argmax(logits, 3)
        labels = tf.slice(labels, [0, 0, 0], tf.concat([[1], image_size], 0))
        tf.identity(labels, name="SemanticPredictions")
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            # Random features share a large class-independent part, so one class would win everywhere.
            # Biases that cancel each class's mean logit on a synthetic scene make the prediction follow
            # the image content instead.
            pre_bias = graph.get_tensor_by_name("logits/semantic/Conv2D:0")
            scene = synthetic_scene(crop[0], crop[1], seed=seed)
            mean_logits = session.run(pre_bias, {image: scene[None]}).mean(axis=(0, 1, 2))
            biases = next(v for v in tf1.global_variables() if v.op.name == "logits/semantic/biases")
            session.run(biases.assign(-mean_logits + 0.05 * rng.standard_normal(num_classes)))
            variables = {variable.op.name: value for variable, value in
                         zip(tf1.global_variables(), session.run(tf1.global_variables()))}
            frozen = tf1.graph_util.convert_variables_to_constants(
                session, graph.as_graph_def(add_shapes=True), ["SemanticPredictions"])
    return FixtureGraph(frozen, scaled.name, logits.name, crop, num_classes, variables)


def synthetic_scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A uint8 RGB test image: flat coloured rectangles with mild noise, so that a fixture model
    predicts segments rather than pixel noise.

    Args:
        height: Rows.
        width: Columns.
        seed: Seed of a ``numpy.random.Generator``.

    Returns:
        uint8 array ``(height, width, 3)``.
    """
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3), np.float64)
    image[:] = rng.uniform(0, 255, 3)
    for _ in range(4):
        top, left = rng.integers(0, max(1, height - 4)), rng.integers(0, max(1, width - 4))
        bottom, right = top + rng.integers(4, max(5, height)), left + rng.integers(4, max(5, width))
        image[top:bottom, left:right] = rng.uniform(0, 255, 3)
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)
