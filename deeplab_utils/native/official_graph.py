"""The official DeepLab architectures as TF1 graphs, op for op as slim builds them (for fixtures).

Written from tensorflow/models (``research/deeplab/model.py``, ``core/xception.py``, slim
``nets/mobilenet``) with ``tf.compat.v1`` ops and the official scope and variable names, independently
of the Keras model of :mod:`deeplab_utils.native` (nothing is imported from it), so that comparing the
two is a real check:

- MobileNetV2 up to ``layer_18`` (``MobilenetV2/Conv``, ``expanded_conv`` .. ``expanded_conv_16``),
  channels scaled by the depth multiplier and rounded to multiples of 8, batch norm epsilon 1e-3,
  ReLU6, atrous depthwise convolutions through ``SpaceToBatchND`` (TF 1.x) once the output stride is
  reached;
- Xception-65: the explicit ``tf.pad`` of its strided convolutions (``fixed_padding``), 16 middle-flow
  units, the exit flow with ReLU inside its separable convolutions, batch norm epsilon 1e-3;
- the head: image pooling (average over the window of the crop size), ``aspp0``, separable ``aspp<i>``,
  ``concat_projection``, the Xception decoder at stride 4 (batch norm epsilon 1e-5), ``logits/semantic``.

:class:`GraphBuilder` holds the weights: each variable is a ``Const`` named like the variable and read
through ``<name>/read``, as in a frozen export. In its calibration pass batch norm normalises with the
batch moments (recorded per scope); with ``values=None`` it only records names and shapes.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

__all__ = ["GraphBuilder", "network", "scale_dimension", "TF1_MIN_EPSILON"]

tf1 = tf.compat.v1
TF1_MIN_EPSILON = 1.001e-5

_BACKBONE_EPSILON = 1e-3  # slim batch_norm default (MobileNetV2) and xception_arg_scope
_HEAD_EPSILON = 1e-5  # model.py: ASPP, image pooling, concat projection, decoder
# MobileNetV2 (slim V2_DEF) after the stem: (expansion factor, output channels, stride) per block.
_MOBILENET_BLOCKS = ((1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1), (6, 32, 1),
                     (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1), (6, 96, 1), (6, 96, 1),
                     (6, 96, 1), (6, 160, 2), (6, 160, 1), (6, 160, 1), (6, 320, 1))
# Xception-65 blocks: (scope, depths of the three separable convs, skip connection, units, stride,
# activation inside the separable convolutions).
_XCEPTION_BLOCKS = (
    ("entry_flow/block1", (128, 128, 128), "conv", 1, 2, False),
    ("entry_flow/block2", (256, 256, 256), "conv", 1, 2, False),
    ("entry_flow/block3", (728, 728, 728), "conv", 1, 2, False),
    ("middle_flow/block1", (728, 728, 728), "sum", 16, 1, False),
    ("exit_flow/block1", (728, 1024, 1024), "conv", 1, 2, False),
    ("exit_flow/block2", (1536, 1536, 2048), "none", 1, 1, True),
)
_DECODER_END_POINT = "entry_flow/block2/unit_1/xception_module/separable_conv2_pointwise"


def _round_channels(value: float, divisor: int = 8) -> int:
    """Slim's ``_make_divisible`` with ``min_value = divisor``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def scale_dimension(size: int, scale: float) -> int:
    return int((float(size) - 1.0) * scale + 1.0)


class GraphBuilder:
    """Creates the official layers. In the calibration pass batch norm normalises with the batch
    moments (recorded per scope); in the final pass it uses the moving statistics, set to them."""

    def __init__(self, rng: np.random.Generator | None, values: dict[str, np.ndarray] | None,
                 calibrating: bool, batch_norm_op: str) -> None:
        self.rng = rng
        self.values = values
        self.calibrating = calibrating
        self.batch_norm_op = batch_norm_op
        self.moments: dict[str, tuple[tf.Tensor, tf.Tensor]] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.end_points: dict[str, tf.Tensor] = {}

    def parameter(self, leaf: str, shape: Sequence[int], draw: Callable[[tuple], np.ndarray]) -> tf.Tensor:
        """A variable as a frozen export holds it: a ``Const`` with the variable's name, read through
        ``<name>/read``. Its value is drawn once and reused by the second pass (zeros when only the
        shapes are wanted)."""
        name = f"{tf1.get_variable_scope().name}/{leaf}"
        self.shapes[name] = tuple(int(side) for side in shape)
        if self.values is None:
            return tf.zeros(shape, name=leaf)
        if name not in self.values:
            self.values[name] = np.asarray(draw(tuple(shape)), np.float32)
        constant = tf.constant(self.values[name], name=leaf)
        return tf.identity(constant, name=f"{leaf}/read")

    def batch_norm(self, x: tf.Tensor, epsilon: float) -> tf.Tensor:
        # TF 1.x's fused batch norm (slim's default) raised epsilon to 1.001e-5 (a cuDNN minimum), so the
        # zoo's models trained and were exported with 1.001e-5 where model.py asks for 1e-5.
        epsilon = max(epsilon, TF1_MIN_EPSILON)
        channels = int(x.shape[-1])
        rng = self.rng
        with tf1.variable_scope("BatchNorm") as scope:
            gamma = self.parameter("gamma", [channels], lambda s: 1.0 + 0.2 * rng.standard_normal(s))
            beta = self.parameter("beta", [channels], lambda s: 0.2 * rng.standard_normal(s))
            mean = self.parameter("moving_mean", [channels], np.zeros)
            variance = self.parameter("moving_variance", [channels], np.ones)
            if self.calibrating:
                # Channels that barely vary on the calibration images must not be amplified on others.
                batch_mean, batch_variance = tf.nn.moments(x, [0, 1, 2])
                batch_variance += 0.1 * tf.reduce_mean(batch_variance) + 1e-3
                self.moments[scope.name] = (batch_mean, batch_variance)
                return tf.nn.batch_normalization(x, batch_mean, batch_variance, beta, gamma, epsilon)
            if self.batch_norm_op == "FusedBatchNorm":
                return tf.raw_ops.FusedBatchNorm(x=x, scale=gamma, offset=beta, mean=mean, variance=variance,
                                                 epsilon=epsilon, is_training=False, name="FusedBatchNorm")[0]
            return tf1.nn.fused_batch_norm(x, gamma, beta, mean, variance, epsilon=epsilon,
                                           is_training=False, name="FusedBatchNorm")[0]

    def conv(self, x: tf.Tensor, scope: str, filters: int, *, kernel: int = 1, stride: int = 1,
             padding: str = "SAME", epsilon: float | None = _BACKBONE_EPSILON,
             activation: Callable | None = tf.nn.relu) -> tf.Tensor:
        """slim.conv2d: weights, then batch norm (or biases when `epsilon` is None), then activation."""
        fan_in = kernel * kernel * int(x.shape[-1])
        with tf1.variable_scope(scope):
            weights = self.parameter("weights", [kernel, kernel, int(x.shape[-1]), filters],
                                    lambda s: np.sqrt(2.0 / fan_in) * self.rng.standard_normal(s))
            y = tf.nn.conv2d(x, weights, strides=stride, padding=padding, name="Conv2D")
            if epsilon is None:
                biases = self.parameter("biases", [filters], lambda s: 0.1 * self.rng.standard_normal(s))
                return tf.nn.bias_add(y, biases, name="BiasAdd")
            y = self.batch_norm(y, epsilon)
            return activation(y) if activation is not None else y

    def depthwise(self, x: tf.Tensor, scope: str, *, stride: int = 1, rate: int = 1, padding: str = "SAME",
                  epsilon: float = _BACKBONE_EPSILON, activation: Callable | None = tf.nn.relu) -> tf.Tensor:
        """slim.separable_conv2d without pointwise part; atrous through SpaceToBatchND as in TF 1.x."""
        with tf1.variable_scope(scope):
            weights = self.parameter("depthwise_weights", [3, 3, int(x.shape[-1]), 1],
                                    lambda s: np.sqrt(2.0 / 9.0) * self.rng.standard_normal(s))
            if rate > 1:
                y = tf1.nn.with_space_to_batch(
                    x, [rate, rate], padding,
                    lambda inputs, _, pad: tf.nn.depthwise_conv2d(inputs, weights, [1, 1, 1, 1], pad),
                    filter_shape=[3, 3])
            else:
                y = tf.nn.depthwise_conv2d(x, weights, [1, stride, stride, 1], padding, name="depthwise")
            y = self.batch_norm(y, epsilon)
            return activation(y) if activation is not None else y

    def split_separable(self, x: tf.Tensor, scope: str, filters: int, *, rate: int = 1,
                        epsilon: float = _HEAD_EPSILON) -> tf.Tensor:
        """model.py's ``_split_separable_conv2d``: ``<scope>_depthwise`` and ``<scope>_pointwise``."""
        y = self.depthwise(x, f"{scope}_depthwise", rate=rate, epsilon=epsilon)
        return self.conv(y, f"{scope}_pointwise", filters, epsilon=epsilon)


def _mobilenet_v2(builder: GraphBuilder, x: tf.Tensor, depth_multiplier: float,
                  output_stride: int) -> tf.Tensor:
    """slim ``mobilenet_base`` with V2_DEF up to ``layer_18``; atrous once `output_stride` is reached."""
    with tf1.variable_scope("MobilenetV2"):
        x = builder.conv(x, "Conv", _round_channels(32 * depth_multiplier), kernel=3, stride=2,
                         activation=tf.nn.relu6)
        current_stride, rate = 2, 1
        for number, (expansion, channels, stride) in enumerate(_MOBILENET_BLOCKS):
            if current_stride == output_stride:
                layer_stride, layer_rate, rate = 1, rate, rate * stride
            else:
                layer_stride, layer_rate, current_stride = stride, 1, current_stride * stride
            outputs = _round_channels(channels * depth_multiplier)
            inputs = int(x.shape[-1])
            with tf1.variable_scope("expanded_conv" + (f"_{number}" if number else "")):
                inner = _round_channels(inputs * expansion, 8 if expansion > 1 else 1)
                y = x
                if inner > inputs:
                    y = builder.conv(y, "expand", inner, activation=tf.nn.relu6)
                y = builder.depthwise(y, "depthwise", stride=layer_stride, rate=layer_rate,
                                      activation=tf.nn.relu6)
                y = builder.conv(y, "project", outputs, activation=None)
                x = y + x if layer_stride == 1 and outputs == inputs else y
    return x


def _fixed_pad(x: tf.Tensor, rate: int = 1) -> tf.Tensor:
    """xception.fixed_padding for a 3x3 kernel."""
    total = 3 + 2 * (rate - 1) - 1
    return tf.pad(x, [[0, 0], [total // 2, total - total // 2], [total // 2, total - total // 2], [0, 0]])


def _xception_65(builder: GraphBuilder, x: tf.Tensor, output_stride: int) -> tf.Tensor:
    """core/xception.py's xception_65 (multi grid 1, 1, 1); records the decoder end point."""
    with tf1.variable_scope("xception_65"):
        x = builder.conv(_fixed_pad(x), "entry_flow/conv1_1", 32, kernel=3, stride=2, padding="VALID")
        x = builder.conv(x, "entry_flow/conv1_2", 64, kernel=3)
        target, current_stride, rate = output_stride // 2, 1, 1
        for block, depths, skip, units, block_stride, inner_activation in _XCEPTION_BLOCKS:
            for unit in range(units):
                if current_stride == target:
                    stride, unit_rate, rate = 1, rate, rate * block_stride
                else:
                    stride, unit_rate, current_stride = block_stride, 1, current_stride * block_stride
                with tf1.variable_scope(f"{block}/unit_{unit + 1}/xception_module") as scope:
                    residual = x
                    for index, depth in enumerate(depths):
                        name = f"separable_conv{index + 1}"
                        step = stride if index == 2 else 1
                        if not inner_activation:
                            residual = tf.nn.relu(residual)
                        activation = tf.nn.relu if inner_activation else None
                        padding = "SAME"
                        if step > 1:
                            residual, padding = _fixed_pad(residual, unit_rate), "VALID"
                        residual = builder.depthwise(residual, f"{name}_depthwise", stride=step,
                                                     rate=unit_rate, padding=padding, activation=activation)
                        residual = builder.conv(residual, f"{name}_pointwise", depth, activation=activation)
                        builder.end_points[f"{scope.name}/{name}_pointwise"] = residual
                    if skip == "conv":
                        x = residual + builder.conv(x, "shortcut", depths[-1], stride=stride, activation=None)
                    else:
                        x = residual + x if skip == "sum" else residual
    return x


def _head(builder: GraphBuilder, features: tf.Tensor, crop: tuple[int, int], output_stride: int,
          atrous_rates: Sequence[int]) -> tf.Tensor:
    """model.py's ``_extract_features`` after the backbone: image pooling, ASPP, concat projection."""
    pool = [scale_dimension(size, 1.0 / output_stride) for size in crop]
    pooled = tf.nn.avg_pool2d(features, pool, pool, "VALID")
    pooled = builder.conv(pooled, "image_pooling", 256, epsilon=_HEAD_EPSILON)
    branches = [tf1.image.resize_bilinear(pooled, pool, align_corners=True),
                builder.conv(features, "aspp0", 256, epsilon=_HEAD_EPSILON)]
    for number, rate in enumerate(atrous_rates, start=1):
        branches.append(builder.split_separable(features, f"aspp{number}", 256, rate=rate))
    return builder.conv(tf.concat(branches, 3), "concat_projection", 256, epsilon=_HEAD_EPSILON)


def _decoder(builder: GraphBuilder, features: tf.Tensor, crop: tuple[int, int],
             decoder_output_stride: int) -> tf.Tensor:
    """model.py's ``refine_by_decoder`` with separable convolutions (one end point)."""
    size = [scale_dimension(side, 1.0 / decoder_output_stride) for side in crop]
    with tf1.variable_scope("decoder"):
        end_point = builder.end_points[f"xception_65/{_DECODER_END_POINT}"]
        projection = builder.conv(end_point, "feature_projection0", 48, epsilon=_HEAD_EPSILON)
        resized = [tf1.image.resize_bilinear(tensor, size, align_corners=True)
                   for tensor in (features, projection)]
        features = builder.split_separable(tf.concat(resized, 3), "decoder_conv0", 256)
        return builder.split_separable(features, "decoder_conv1", 256)


def network(builder: GraphBuilder, scaled: tf.Tensor, backbone: str, crop: tuple[int, int], num_classes: int,
             depth_multiplier: float, settings: dict) -> tuple[tf.Tensor, int]:
    """Scaled image -> ``logits/semantic`` output; also returns the logits' output stride."""
    if backbone == "mobilenet_v2":
        features = _mobilenet_v2(builder, scaled, depth_multiplier, settings["output_stride"])
    else:
        features = _xception_65(builder, scaled, settings["output_stride"])
    features = _head(builder, features, crop, settings["output_stride"], settings["atrous_rates"])
    logits_stride = settings["output_stride"]
    if settings["decoder_output_stride"] is not None:
        logits_stride = settings["decoder_output_stride"]
        features = _decoder(builder, features, crop, logits_stride)
    with tf1.variable_scope("logits"):
        return builder.conv(features, "semantic", num_classes, epsilon=None), logits_stride
