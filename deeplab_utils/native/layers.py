"""Keras layers of the native DeepLab models: one official slim scope per :class:`ConvUnit`.

Keras forbids ``/`` in layer and variable names, so the layer of the official scope
``MobilenetV2/expanded_conv_16/project`` is named ``MobilenetV2.expanded_conv_16.project``
(:func:`layer_name`); each unit keeps its scope and maps its Keras variables to the official variable
names (:meth:`ConvUnit.official_variables`). The other layers reproduce the ops of the export between
the units: the mean-pixel padding to the crop size, the align-corners bilinear resizes and the image
pooling (over the crop window or global).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

__all__ = ["ConvUnit", "AlignedResize", "CropLike", "ImagePoolingAverage", "PadToCrop", "BroadcastLike",
           "layer_name", "official_scope"]

ACTIVATIONS = (None, "relu", "relu6")
PADDINGS = ("same", "fixed")
# The mean pixel the export pads with (feature_extractor.mean_pixel for "zero mean unit range").
MEAN_PIXEL = 127.5
_PACKAGE = "deeplab_utils"


def layer_name(scope: str) -> str:
    """The Keras layer name of an official scope: ``"a/b/c"`` -> ``"a.b.c"``."""
    return scope.replace("/", ".")


def official_scope(name: str) -> str:
    """The official scope of a Keras layer name: ``"a.b.c"`` -> ``"a/b/c"``."""
    return name.replace(".", "/")


def _spatial_size(reference: tf.Tensor) -> list:
    """``[height, width]`` of a ``(batch, height, width, channels)`` tensor: Python ints where the static
    shape knows them (so that the output of an op sized by them keeps a static shape), else tensors."""
    dynamic = tf.shape(reference)
    return [side if side is not None else dynamic[axis] for axis, side in ((1, reference.shape[1]),
                                                                           (2, reference.shape[2]))]


def _check_pair(name: str, value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in value)):
        raise ValueError(f"Argument `{name}` must be a positive int or a pair of them; received {value!r}.")
    return int(value[0]), int(value[1])


def _frozen_batch_norm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor,
                       epsilon: float) -> tf.Tensor:
    """Inference batch norm with the export's fused op, differentiated by hand.

    Forward: ``FusedBatchNormV3`` in inference mode, ``(x - mean) * gamma / sqrt(variance + epsilon) +
    beta``, the op and rounding of the frozen graph. Backward: the op's own gradient computes the
    gradients of gamma and beta (two reductions over the batch) together with that of ``x`` in one
    kernel, even when only the input gradient is wanted (saliency); here they are separate ops, so
    that the unused ones are pruned. The moving statistics get no gradient.

    Args:
        x: ``(batch, height, width, channels)``, float16/bfloat16/float32.
        gamma, beta, mean, variance: float32 ``(channels,)``.
        epsilon: Added to the variance.

    Returns:
        ``(batch, height, width, channels)`` in the dtype of `x`.
    """
    @tf.custom_gradient
    def normalise(x, gamma, beta, mean, variance):
        outputs = tf.compat.v1.nn.fused_batch_norm(x, gamma, beta, mean, variance, epsilon=epsilon,
                                                   is_training=False)[0]

        def gradient(upstream):
            inverse = tf.math.rsqrt(variance + epsilon)
            upstream32 = tf.cast(upstream, tf.float32)
            centred = tf.cast(x, tf.float32) - mean
            gamma_gradient = tf.reduce_sum(upstream32 * centred, axis=[0, 1, 2]) * inverse
            beta_gradient = tf.reduce_sum(upstream32, axis=[0, 1, 2])
            input_gradient = upstream * tf.cast(gamma * inverse, upstream.dtype)
            return input_gradient, gamma_gradient, beta_gradient, None, None

        return outputs, gradient

    return normalise(x, gamma, beta, mean, variance)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ConvUnit(keras.layers.Layer):
    """A slim convolution scope: convolution, batch norm (or biases), activation.

    ``filters=None`` makes the depthwise half of ``slim.separable_conv2d`` (variable
    ``depthwise_weights``, kernel ``(k, k, channels, 1)``); otherwise a regular convolution (``weights``,
    ``(k, k, channels, filters)``). ``padding="fixed"`` is Xception's ``fixed_padding``: pad
    ``(k_eff - 1) // 2`` before and the rest after, then a VALID convolution, which differs from SAME
    padding for strided convolutions of even-sized inputs.

    Args:
        scope: The official scope, e.g. ``"MobilenetV2/expanded_conv_3/expand"``.
        filters: Output channels, or None for a depthwise convolution.
        kernel_size: Square kernel size.
        strides: Stride.
        dilation_rate: Atrous rate.
        padding: ``"same"`` or ``"fixed"``.
        batch_norm_epsilon: Epsilon of the batch norm, or None for biases and no batch norm.
        batch_norm_momentum: Decay of the moving statistics in training.
        activation: None, ``"relu"`` or ``"relu6"``.
        **kwargs: Base layer arguments; ``name`` defaults to :func:`layer_name` of `scope`.

    Call arguments:
        inputs: ``(batch, height, width, channels)``.
        training: Batch norm uses batch statistics and updates its moving ones when True.

    Returns:
        ``(batch, height', width', filters or channels)``.
    """

    def __init__(self, scope: str, filters: int | None = None, kernel_size: int = 1, strides: int = 1,
                 dilation_rate: int = 1, padding: str = "same", batch_norm_epsilon: float | None = 1e-3,
                 batch_norm_momentum: float = 0.9997, activation: str | None = None, **kwargs: Any) -> None:
        if not isinstance(scope, str) or not scope:
            raise ValueError(f"Argument `scope` must be a non-empty string; received {scope!r}.")
        kwargs.setdefault("name", layer_name(scope))
        super().__init__(**kwargs)
        if filters is not None and (not isinstance(filters, int) or filters < 1):
            raise ValueError(f"Argument `filters` must be a positive int or None; received {filters!r}.")
        if padding not in PADDINGS:
            raise ValueError(f"Argument `padding` must be one of {PADDINGS}; received {padding!r}.")
        if activation not in ACTIVATIONS:
            raise ValueError(f"Argument `activation` must be one of {ACTIVATIONS}; received {activation!r}.")
        self.scope = scope
        self.filters = filters
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.dilation_rate = int(dilation_rate)
        self.padding = padding
        self.batch_norm_epsilon = batch_norm_epsilon
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.activation = activation
        conv_padding = "valid" if padding == "fixed" else "same"
        common = {"strides": self.strides, "padding": conv_padding, "dilation_rate": self.dilation_rate,
                  "use_bias": batch_norm_epsilon is None, "dtype": self.dtype_policy}
        if filters is None:
            self.conv = keras.layers.DepthwiseConv2D(self.kernel_size, name="depthwise", **common)
        else:
            self.conv = keras.layers.Conv2D(filters, self.kernel_size, name="conv", **common)
        self.batch_norm = None
        if batch_norm_epsilon is not None:
            self.batch_norm = keras.layers.BatchNormalization(
                epsilon=float(batch_norm_epsilon), momentum=self.batch_norm_momentum, name="BatchNorm",
                dtype=self.dtype_policy)

    def build(self, input_shape: Sequence[int | None]) -> None:
        shape = tuple(input_shape)
        self.conv.build(shape)
        if self.batch_norm is not None:
            self.batch_norm.build(self.conv.compute_output_shape(self._padded_shape(shape)))

    def _padded_shape(self, shape: tuple) -> tuple:
        if self.padding != "fixed":
            return shape
        total = self.kernel_size + (self.kernel_size - 1) * (self.dilation_rate - 1) - 1
        return (shape[0], *(None if side is None else side + total for side in shape[1:3]), shape[3])

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        x = inputs
        if self.padding == "fixed":
            total = self.kernel_size + (self.kernel_size - 1) * (self.dilation_rate - 1) - 1
            before, after = total // 2, total - total // 2
            x = tf.pad(x, [[0, 0], [before, after], [before, after], [0, 0]])
        x = self.conv(x)
        if self.batch_norm is not None:
            x = self._batch_norm(x, training)
        if self.activation == "relu":
            x = tf.nn.relu(x)
        elif self.activation == "relu6":
            x = tf.nn.relu6(x)
        return x

    def _batch_norm(self, x: tf.Tensor, training: bool | None) -> tf.Tensor:
        """Training: Keras batch norm (batch statistics, moving averages updated). Inference:
        :func:`_frozen_batch_norm`, the fused op of the export. float64, which the fused op does not
        take, goes through Keras batch norm."""
        norm = self.batch_norm
        if (training and norm.trainable) or x.dtype == tf.float64:
            return norm(x, training=training)
        statistics = [tf.convert_to_tensor(variable) for variable in
                      (norm.gamma, norm.beta, norm.moving_mean, norm.moving_variance)]
        return _frozen_batch_norm(x, *statistics, norm.epsilon)

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple:
        return self.conv.compute_output_shape(self._padded_shape(tuple(input_shape)))

    def official_variables(self) -> dict[str, keras.Variable]:
        """Official variable name -> Keras variable, e.g. ``"aspp0/weights"`` -> the kernel."""
        kernel = "weights" if self.filters is not None else "depthwise_weights"
        names = {f"{self.scope}/{kernel}": self.conv.kernel}
        if self.batch_norm is None:
            names[f"{self.scope}/biases"] = self.conv.bias
        else:
            for leaf, variable in (("gamma", self.batch_norm.gamma), ("beta", self.batch_norm.beta),
                                   ("moving_mean", self.batch_norm.moving_mean),
                                   ("moving_variance", self.batch_norm.moving_variance)):
                names[f"{self.scope}/BatchNorm/{leaf}"] = variable
        return names

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "scope": self.scope, "filters": self.filters, "kernel_size": self.kernel_size,
            "strides": self.strides, "dilation_rate": self.dilation_rate, "padding": self.padding,
            "batch_norm_epsilon": self.batch_norm_epsilon, "batch_norm_momentum": self.batch_norm_momentum,
            "activation": self.activation,
        })
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PadToCrop(keras.layers.Layer):
    """Pads images bottom and right to the export's crop size with the mean pixel, as the export does
    (``pad(x - 127.5, 0) + 127.5``, input_preprocess.py).

    Args:
        crop_size: ``(crop_height, crop_width)``.

    Call arguments:
        images: ``(batch, height, width, 3)`` in 0..255, height and width at most the crop size.

    Returns:
        ``(batch, crop_height, crop_width, 3)``.

    Raises:
        ValueError: When called on images larger than the crop size (statically known sizes); at run
            time TensorFlow's ``InvalidArgumentError``.
    """

    def __init__(self, crop_size: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crop_size = _check_pair("crop_size", crop_size)

    def call(self, images: tf.Tensor) -> tf.Tensor:
        static = images.shape[1:3]
        if any(side is not None and side > crop for side, crop in zip(static, self.crop_size)):
            raise ValueError(f"Argument `images` must be at most the crop size {self.crop_size} in parity "
                             f"mode; received images of size {tuple(static)}.")
        shape = tf.shape(images)
        check = tf.debugging.assert_less_equal(
            shape[1:3], tf.constant(self.crop_size, tf.int32),
            message=f"images must be at most the crop size {self.crop_size} in parity mode")
        with tf.control_dependencies([check]):
            paddings = [[0, 0], [0, self.crop_size[0] - shape[1]], [0, self.crop_size[1] - shape[2]], [0, 0]]
        mean = tf.constant(MEAN_PIXEL, images.dtype)
        padded = tf.pad(images - mean, paddings) + mean
        return tf.ensure_shape(padded, [None, *self.crop_size, images.shape[-1]])

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple:
        return (input_shape[0], *self.crop_size, input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "crop_size": list(self.crop_size)}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ImagePoolingAverage(keras.layers.Layer):
    """The image-level feature's pooling: the average over the window of the export crop size
    (``pool_size``, parity mode), or the global average of whatever size comes in (``None``).

    Args:
        pool_size: ``(height, width)`` of the average-pooling window, or None for global pooling.

    Call arguments:
        features: ``(batch, height, width, channels)``; in parity mode height and width equal the window.

    Returns:
        ``(batch, 1, 1, channels)``.
    """

    def __init__(self, pool_size: Sequence[int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_size = None if pool_size is None else _check_pair("pool_size", pool_size)

    def call(self, features: tf.Tensor) -> tf.Tensor:
        if self.pool_size is None:
            return tf.reduce_mean(features, axis=[1, 2], keepdims=True)
        static = tuple(features.shape[1:3])
        if None not in static and static != self.pool_size:
            raise ValueError(f"Argument `features` must be {self.pool_size} (the pooling window of the crop "
                             f"size); received features of size {static}.")
        return tf.nn.avg_pool2d(features, self.pool_size, self.pool_size, "VALID")

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple:
        return (input_shape[0], 1, 1, input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        pool = None if self.pool_size is None else list(self.pool_size)
        return {**super().get_config(), "pool_size": pool}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BroadcastLike(keras.layers.Layer):
    """Spreads a ``(batch, 1, 1, channels)`` tensor over the spatial size of a reference tensor: what
    an align-corners bilinear resize of a 1x1 map computes, exactly.

    Call arguments:
        inputs: ``[values (batch, 1, 1, channels), reference (batch, height, width, any)]``.

    Returns:
        ``(batch, height, width, channels)``.
    """

    def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
        values, reference = inputs
        height, width = _spatial_size(reference)
        shape = tf.stack([tf.shape(reference)[0], height, width, tf.shape(values)[3]])
        outputs = tf.broadcast_to(values, shape)
        outputs.set_shape([reference.shape[0], reference.shape[1], reference.shape[2], values.shape[3]])
        return outputs

    def compute_output_shape(self, input_shapes: Sequence[Sequence[int | None]]) -> tuple:
        values, reference = input_shapes
        return (reference[0], reference[1], reference[2], values[-1])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class AlignedResize(keras.layers.Layer):
    """Bilinear resize with ``align_corners=True`` (``tf.image.resize_bilinear`` of TF1, used by every
    resize of the export) to the spatial size of a reference tensor.

    Call arguments:
        inputs: ``[values (batch, h, w, channels), reference (batch, height, width, any)]``.

    Returns:
        ``(batch, height, width, channels)`` in the layer's compute dtype.
    """

    def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
        values, reference = inputs
        size = tf.stack(_spatial_size(reference))
        if values.dtype not in (tf.float16, tf.float32, tf.float64, tf.bfloat16):
            values = tf.cast(values, tf.float32)
        resized = tf.raw_ops.ResizeBilinear(images=values, size=size, align_corners=True,
                                            half_pixel_centers=False)
        resized.set_shape([values.shape[0], reference.shape[1], reference.shape[2], values.shape[3]])
        return tf.cast(resized, self.compute_dtype)

    def compute_output_shape(self, input_shapes: Sequence[Sequence[int | None]]) -> tuple:
        values, reference = input_shapes
        return (values[0], reference[1], reference[2], values[-1])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CropLike(keras.layers.Layer):
    """Crops the top-left corner of the spatial size of a reference tensor (the padded prediction back
    to the image, as the export's slice before ``SemanticPredictions``).

    Call arguments:
        inputs: ``[values (batch, H, W, channels), reference (batch, height, width, any)]``,
            ``height <= H``, ``width <= W``.

    Returns:
        ``(batch, height, width, channels)``.
    """

    def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
        values, reference = inputs
        height, width = _spatial_size(reference)
        return values[:, :height, :width, :]

    def compute_output_shape(self, input_shapes: Sequence[Sequence[int | None]]) -> tuple:
        values, reference = input_shapes
        return (values[0], reference[1], reference[2], values[-1])
