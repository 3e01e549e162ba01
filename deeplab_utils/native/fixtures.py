"""Full-size official DeepLab architectures as frozen TF1 graphs and checkpoints, for tests.

The fixtures of :mod:`deeplab_utils.testing` are miniatures. Here every layer of the zoo's models is
built with ``tf.compat.v1`` ops, the official scope and variable names and the real channel counts
(tensorflow/models ``research/deeplab``: ``core/xception.py``, slim ``nets/mobilenet``), only at a
reduced image size:

- MobileNetV2 up to ``layer_18`` (``MobilenetV2/Conv``, ``expanded_conv`` .. ``expanded_conv_16``),
  any depth multiplier (channels rounded to multiples of 8), ``FusedBatchNorm`` with epsilon 1e-3,
  ReLU6, atrous depthwise convolutions through ``SpaceToBatchND`` once the output stride is reached;
- Xception-65 (entry flow with the explicit ``tf.pad`` of its strided convolutions, 16 middle-flow
  units, exit flow), ``FusedBatchNormV3`` with epsilon 1e-3;
- the head: ``image_pooling`` (average pooling over the window of the crop size), ``aspp0``, separable
  ``aspp1..`` , ``concat_projection``, for Xception the ``decoder`` at output stride 4, batch norm with
  epsilon 1e-5, ``logits/semantic``; the export's preprocessing and ``SemanticPredictions`` come from
  :mod:`deeplab_utils.testing`.

This module is written from the official code independently of :mod:`deeplab_utils.native` (it
imports nothing from it), so that parity between the two is a real check. Random weights would make
activations grow or vanish over 65 layers; the moving statistics of every batch norm are therefore set
to the batch statistics of a synthetic scene (a first pass normalises with them), and the logits
biases cancel each class's mean, so the predictions follow the image content.
"""

from __future__ import annotations

import os
import re
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from deeplab_utils.archive import FROZEN_GRAPH_NAME
from deeplab_utils.testing import FixtureGraph, _preprocess, synthetic_scene

__all__ = ["build_official_graph", "official_settings", "write_checkpoint", "write_official_tarball"]

tf1 = tf.compat.v1

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
_DATE_SUFFIX = re.compile(r"_\d{4}_\d{2}_\d{2}$")


def _round_channels(value: float, divisor: int = 8) -> int:
    """Slim's ``_make_divisible`` with ``min_value = divisor``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _scale_dimension(size: int, scale: float) -> int:
    return int((float(size) - 1.0) * scale + 1.0)


def official_settings(backbone: str, output_stride: int | None = None) -> dict:
    """The zoo's head for a backbone: ``{"output_stride", "atrous_rates", "decoder_output_stride"}``.

    MobileNetV2: output stride 8 unless given, no atrous branches, no decoder. Xception-65: output
    stride 16 unless given, rates 6/12/18 at 16 (doubled at 8), decoder at 4 (model_zoo.md).
    """
    if backbone == "mobilenet_v2":
        return {"output_stride": output_stride or 8, "atrous_rates": (), "decoder_output_stride": None}
    if backbone == "xception_65":
        stride = output_stride or 16
        return {"output_stride": stride, "atrous_rates": tuple(r * 16 // stride for r in (6, 12, 18)),
                "decoder_output_stride": 4}
    raise ValueError(f"Argument `backbone` must be 'mobilenet_v2' or 'xception_65'; received {backbone!r}.")


class _Builder:
    """Creates the official layers. In the calibration pass batch norm normalises with the batch
    moments (recorded per scope); in the final pass it uses the moving statistics, set to them."""

    def __init__(self, rng: np.random.Generator, values: dict[str, np.ndarray], calibrating: bool,
                 batch_norm_op: str) -> None:
        self.rng = rng
        self.values = values
        self.calibrating = calibrating
        self.batch_norm_op = batch_norm_op
        self.moments: dict[str, tuple[tf.Tensor, tf.Tensor]] = {}
        self.names: list[str] = []
        self.end_points: dict[str, tf.Tensor] = {}

    def parameter(self, leaf: str, shape: Sequence[int], draw: Callable[[tuple], np.ndarray]) -> tf.Tensor:
        """A variable as a frozen export holds it: a ``Const`` with the variable's name, read through
        ``<name>/read``. Its value is drawn once and reused by the second pass."""
        name = f"{tf1.get_variable_scope().name}/{leaf}"
        if name not in self.values:
            self.values[name] = np.asarray(draw(tuple(shape)), np.float32)
        self.names.append(name)
        constant = tf.constant(self.values[name], name=leaf)
        return tf.identity(constant, name=f"{leaf}/read")

    def batch_norm(self, x: tf.Tensor, epsilon: float) -> tf.Tensor:
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


def _mobilenet_v2(builder: _Builder, x: tf.Tensor, depth_multiplier: float, output_stride: int) -> tf.Tensor:
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


def _xception_65(builder: _Builder, x: tf.Tensor, output_stride: int) -> tf.Tensor:
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
                        residual = builder.depthwise(residual, f"{name}_depthwise", stride=step, rate=unit_rate,
                                                     padding=padding, activation=activation)
                        residual = builder.conv(residual, f"{name}_pointwise", depth, activation=activation)
                        builder.end_points[f"{scope.name}/{name}_pointwise"] = residual
                    if skip == "conv":
                        x = residual + builder.conv(x, "shortcut", depths[-1], stride=stride, activation=None)
                    else:
                        x = residual + x if skip == "sum" else residual
    return x


def _head(builder: _Builder, features: tf.Tensor, crop: tuple[int, int], output_stride: int,
          atrous_rates: Sequence[int]) -> tf.Tensor:
    """model.py's ``_extract_features`` after the backbone: image pooling, ASPP, concat projection."""
    pool = [_scale_dimension(size, 1.0 / output_stride) for size in crop]
    pooled = tf.nn.avg_pool2d(features, pool, pool, "VALID")
    pooled = builder.conv(pooled, "image_pooling", 256, epsilon=_HEAD_EPSILON)
    branches = [tf1.image.resize_bilinear(pooled, pool, align_corners=True),
                builder.conv(features, "aspp0", 256, epsilon=_HEAD_EPSILON)]
    for number, rate in enumerate(atrous_rates, start=1):
        branches.append(builder.split_separable(features, f"aspp{number}", 256, rate=rate))
    return builder.conv(tf.concat(branches, 3), "concat_projection", 256, epsilon=_HEAD_EPSILON)


def _decoder(builder: _Builder, features: tf.Tensor, crop: tuple[int, int], decoder_output_stride: int) -> tf.Tensor:
    """model.py's ``refine_by_decoder`` with separable convolutions (one end point)."""
    size = [_scale_dimension(side, 1.0 / decoder_output_stride) for side in crop]
    with tf1.variable_scope("decoder"):
        projection = builder.conv(builder.end_points[f"xception_65/{_DECODER_END_POINT}"], "feature_projection0",
                                  48, epsilon=_HEAD_EPSILON)
        resized = [tf1.image.resize_bilinear(tensor, size, align_corners=True) for tensor in (features, projection)]
        features = builder.split_separable(tf.concat(resized, 3), "decoder_conv0", 256)
        return builder.split_separable(features, "decoder_conv1", 256)


def _network(builder: _Builder, scaled: tf.Tensor, backbone: str, crop: tuple[int, int], num_classes: int,
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


def _calibration_images(crop: tuple[int, int], seed: int) -> np.ndarray:
    """Scaled images the statistics are taken on: scenes at the crop size, smaller scenes padded with
    the mean pixel as the export pads them, and uniform noise. ``(7, crop_h, crop_w, 3)`` in [-1, 1]."""
    images = np.full((7, *crop, 3), 127.5, np.float32)
    for index in range(4):
        images[index] = synthetic_scene(crop[0], crop[1], seed=seed + index)
    for index in (4, 5):
        height, width = (crop[0] + 1) // 2 + index, crop[1] - index
        images[index, :height, :width] = synthetic_scene(height, width, seed=seed + index)
    images[6] = np.random.default_rng(seed).integers(0, 256, (*crop, 3))
    return (2.0 / 255.0) * images - 1.0


def build_official_graph(
    backbone: str = "mobilenet_v2",
    *,
    depth_multiplier: float = 1.0,
    output_stride: int | None = None,
    crop_size: Sequence[int] = (33, 33),
    num_classes: int = 21,
    seed: int = 0,
) -> FixtureGraph:
    """Builds the full official DeepLab graph with random weights and freezes it as the zoo exports.

    Args:
        backbone: ``"mobilenet_v2"`` or ``"xception_65"``.
        depth_multiplier: MobileNetV2 width (1.0 or 0.5 in the zoo); must be 1.0 for Xception.
        output_stride: 8 or 16; the zoo's default for the backbone when None (:func:`official_settings`).
        crop_size: ``(height, width)`` the export pads to, each a multiple of the output stride plus 1.
        num_classes: Classes of ``logits/semantic``.
        seed: Seed of the ``numpy.random.Generator`` drawing the weights.

    Returns:
        A :class:`~deeplab_utils.testing.FixtureGraph`; ``variables`` holds every variable by its
        official name (what the zoo's checkpoint holds).

    Raises:
        ValueError: For an unknown backbone, an output stride other than 8 or 16, a crop size the
            stride cannot divide, or fewer than 2 classes.
    """
    settings = official_settings(backbone, output_stride)
    stride = settings["output_stride"]
    crop = tuple(int(size) for size in crop_size)
    if stride not in (8, 16):
        raise ValueError(f"Argument `output_stride` must be 8 or 16; received {output_stride!r}.")
    if len(crop) != 2 or any(size < stride + 1 or (size - 1) % stride for size in crop):
        raise ValueError(f"Argument `crop_size` must be (height, width), each a multiple of {stride} plus 1; "
                         f"received {tuple(crop_size)!r}.")
    if num_classes < 2:
        raise ValueError(f"Argument `num_classes` must be at least 2; received {num_classes!r}.")
    if backbone == "xception_65" and depth_multiplier != 1.0:
        raise ValueError(f"Argument `depth_multiplier` must be 1.0 for xception_65; received {depth_multiplier!r}.")
    rng = np.random.default_rng(seed)
    batch_norm_op = "FusedBatchNorm" if backbone == "mobilenet_v2" else "FusedBatchNormV3"
    values: dict[str, np.ndarray] = {}
    build = (backbone, crop, num_classes, depth_multiplier, settings)
    # Pass 1: the batch statistics of every batch norm and the class means of the logits.
    graph = tf.Graph()
    with graph.as_default():
        builder = _Builder(rng, values, True, batch_norm_op)
        scaled = tf1.placeholder(tf.float32, [None, *crop, 3])
        logits, _ = _network(builder, scaled, *build)
        config = tf1.ConfigProto()
        config.graph_options.rewrite_options.disable_meta_optimizer = True  # no constant folding of weights
        with tf1.Session(graph=graph, config=config) as session:
            moments, pre_bias = session.run([builder.moments, logits.op.inputs[0]],
                                            {scaled: _calibration_images(crop, seed)})
    for scope, (mean, variance) in moments.items():
        values[f"{scope}/moving_mean"], values[f"{scope}/moving_variance"] = mean, variance
    values["logits/semantic/biases"] = (-pre_bias.mean(axis=(0, 1, 2))
                                        + 0.05 * rng.standard_normal(num_classes)).astype(np.float32)
    # Pass 2: the export with those statistics, its variables as constants.
    graph = tf.Graph()
    with graph.as_default():
        builder = _Builder(rng, values, False, batch_norm_op)
        image = tf1.placeholder(tf.uint8, [1, None, None, 3], name="ImageTensor")
        scaled, image_size = _preprocess(image, crop)
        logits, logits_stride = _network(builder, scaled, *build)
        merged = tf1.image.resize_bilinear(logits, [_scale_dimension(s, 1.0 / logits_stride) for s in crop],
                                           align_corners=True)
        full = tf1.image.resize_bilinear(merged, tf.shape(scaled)[1:3], align_corners=True)
        prediction = tf.slice(tf.argmax(full, 3), [0, 0, 0], tf.concat([[1], image_size], 0))
        tf.identity(prediction, name="SemanticPredictions")
    frozen = graph.as_graph_def(add_shapes=True)
    return FixtureGraph(frozen, scaled.name, full.name, crop, num_classes,
                        {name: values[name] for name in builder.names})


def write_checkpoint(variables: dict[str, np.ndarray], prefix: str | os.PathLike) -> str:
    """Writes a TF1 name-based checkpoint (``<prefix>.index``, ``<prefix>.data-00000-of-00001``).

    Args:
        variables: Official variable name -> value.
        prefix: The checkpoint prefix, e.g. ``folder/model.ckpt-30000``.

    Returns:
        The prefix, readable with ``tf.train.load_checkpoint``.
    """
    names = sorted(variables)
    tf.raw_ops.SaveV2(prefix=os.fspath(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(variables[name]) for name in names])
    return os.fspath(prefix)


def write_official_tarball(
    directory: str | os.PathLike,
    name: str,
    fixture: FixtureGraph,
    *,
    checkpoint: str | None = "model.ckpt-30000",
    frozen_graph: bool = True,
) -> Path:
    """Packs a fixture as a model-zoo tarball: ``<name>.tar.gz`` holding ``<name without date>/`` with
    ``frozen_inference_graph.pb`` and the checkpoint files.

    Args:
        directory: Existing folder to write into.
        name: Tarball name without ``.tar.gz``.
        fixture: From :func:`build_official_graph`.
        checkpoint: Checkpoint prefix inside the folder (None: no checkpoint).
        frozen_graph: Whether to include the frozen graph.

    Returns:
        The path of the tarball.

    Raises:
        ValueError: If the tarball exists (never overwritten) or it would hold nothing.
    """
    tarball = Path(directory) / f"{name}.tar.gz"
    if tarball.exists():
        raise ValueError(f"Argument `name` must not name an existing tarball; received {str(tarball)!r}.")
    if checkpoint is None and not frozen_graph:
        raise ValueError("Arguments `checkpoint` and `frozen_graph`: the tarball must hold one of them; "
                         "received checkpoint=None, frozen_graph=False.")
    folder_name = _DATE_SUFFIX.sub("", name)
    with tempfile.TemporaryDirectory(dir=directory) as staging:
        folder = Path(staging) / folder_name
        folder.mkdir()
        if frozen_graph:
            (folder / FROZEN_GRAPH_NAME).write_bytes(fixture.graph_def.SerializeToString(deterministic=True))
        if checkpoint is not None:
            write_checkpoint(fixture.variables, folder / checkpoint)
        partial = Path(staging) / tarball.name
        with tarfile.open(partial, "w:gz", compresslevel=1) as archive:
            archive.add(folder, arcname=folder_name)
        os.replace(partial, tarball)
    return tarball
