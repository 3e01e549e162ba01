"""The DeepLab backbones as Keras functional graphs under the official scope names.

Written from tensorflow/models: slim ``nets/mobilenet`` (``mobilenet_v2.V2_DEF``, ``mobilenet_base``,
``conv_blocks.expanded_conv``) and ``research/deeplab/core/xception.py`` (``xception_65``). Both reach
the requested output stride as the official code does: once the running stride equals it, every later
stride becomes 1 and multiplies the atrous rate of the layers after it (``mobilenet_base``,
``stack_blocks_dense``).

- MobileNetV2, built up to ``layer_18`` (``expanded_conv_16``; DeepLab's feature extractor stops there):
  a 3x3 stride-2 ``Conv``, then 17 inverted residual blocks ``expanded_conv[_N]`` of 1x1 ``expand``
  (absent in the first block), 3x3 ``depthwise`` and linear 1x1 ``project``, a residual sum when the
  stride is 1 and the channels are unchanged. Batch norm epsilon 1e-3 (slim's default), ReLU6,
  SAME padding. Channels scale with the depth multiplier and are rounded to multiples of 8
  (``_make_divisible``), the expansion to 6 times the input channels, rounded the same way.
- Xception-65 (MSRA's aligned Xception as modified for DeepLab): ``entry_flow/conv1_1`` (3x3, stride 2,
  fixed padding) and ``conv1_2``, then 21 Xception modules of three split separable convolutions
  (``separable_convK_{depthwise,pointwise}``, batch norm epsilon 1e-3 after each half), ReLU *before*
  each (none inside) except in ``exit_flow/block2``, which applies ReLU after each half and has no
  shortcut; strided modules use fixed padding; ``conv`` shortcuts are 1x1 convolutions with batch norm.
  The output stride is halved for the blocks because of the stride-2 stem (``xception()``).
"""

from __future__ import annotations

from typing import Any, Callable

import keras

from deeplab_utils.native.layers import ConvUnit, layer_name

__all__ = ["mobilenet_v2", "xception_65", "make_divisible", "XCEPTION_DECODER_END_POINT"]

MOBILENET_EPSILON = 1e-3
MOBILENET_MOMENTUM = 0.997  # mobilenet.training_scope bn_decay
XCEPTION_EPSILON = 1e-3
XCEPTION_MOMENTUM = 0.9997
XCEPTION_DECODER_END_POINT = "xception_65/entry_flow/block2/unit_1/xception_module/separable_conv2_pointwise"

# V2_DEF after the stem: (output channels, stride) of the 17 inverted residual blocks.
_MOBILENET_V2_BLOCKS = [(16, 1), (24, 2), (24, 1), (32, 2), (32, 1), (32, 1), (64, 2), (64, 1), (64, 1),
                        (64, 1), (96, 1), (96, 1), (96, 1), (160, 2), (160, 1), (160, 1), (320, 1)]


def make_divisible(value: float, divisor: int = 8) -> int:
    """slim's channel rounding: the nearest multiple of `divisor` (at least `divisor`), never more than
    10% below `value`."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class _Stride:
    """The running output stride and atrous rate of ``mobilenet_base``/``stack_blocks_dense``."""

    def __init__(self, target: int, current: int = 1) -> None:
        self.target = target
        self.current = current
        self.rate = 1

    def step(self, stride: int) -> tuple[int, int]:
        """(stride, rate) a layer of nominal `stride` gets."""
        if self.current == self.target:
            rate = self.rate
            self.rate *= stride
            return 1, rate
        self.current *= stride
        return stride, 1


def mobilenet_v2(images: keras.KerasTensor, *, depth_multiplier: float = 1.0, output_stride: int = 8,
                 dtype: Any = None) -> keras.KerasTensor:
    """MobileNetV2 features of DeepLab.

    Args:
        images: Scaled images ``(batch, height, width, 3)`` in [-1, 1].
        depth_multiplier: Channel multiplier (1.0 and 0.5 in the model zoo).
        output_stride: 8, 16 or 32.
        dtype: Dtype policy of the layers.

    Returns:
        ``(batch, ceil(height / output_stride), ceil(width / output_stride), 320 * m)``.
    """
    def unit(scope: str, **kwargs) -> ConvUnit:
        return ConvUnit(f"MobilenetV2/{scope}", batch_norm_epsilon=MOBILENET_EPSILON,
                        batch_norm_momentum=MOBILENET_MOMENTUM, dtype=dtype, **kwargs)

    x = unit("Conv", filters=make_divisible(32 * depth_multiplier), kernel_size=3, strides=2,
             activation="relu6")(images)
    stride = _Stride(output_stride, current=2)
    for index, (channels, nominal_stride) in enumerate(_MOBILENET_V2_BLOCKS):
        block = "expanded_conv" if index == 0 else f"expanded_conv_{index}"
        layer_stride, rate = stride.step(nominal_stride)
        inputs = x.shape[-1]
        outputs = make_divisible(channels * depth_multiplier)
        expansion = inputs if index == 0 else make_divisible(inputs * 6)
        y = x
        if expansion > inputs:
            y = unit(f"{block}/expand", filters=expansion, activation="relu6")(y)
        y = unit(f"{block}/depthwise", kernel_size=3, strides=layer_stride, dilation_rate=rate,
                 activation="relu6")(y)
        y = unit(f"{block}/project", filters=outputs)(y)
        if layer_stride == 1 and outputs == inputs:
            y = keras.layers.Add(name=layer_name(f"MobilenetV2/{block}/output"), dtype=dtype)([x, y])
        x = y
    return x


def _xception_module(x: keras.KerasTensor, scope: str, depths: tuple[int, int, int], skip: str, stride: int,
                     rate: int, inner_activation: bool, end_points: dict[str, keras.KerasTensor],
                     dtype: Any) -> keras.KerasTensor:
    def unit(name: str, **kwargs) -> Callable:
        return ConvUnit(f"{scope}/{name}", batch_norm_epsilon=XCEPTION_EPSILON,
                        batch_norm_momentum=XCEPTION_MOMENTUM, dtype=dtype, **kwargs)

    activation = "relu" if inner_activation else None
    residual = x
    for index, depth in enumerate(depths):
        if not inner_activation:
            relu_name = "Relu" if index == 0 else f"Relu_{index}"
            residual = keras.layers.ReLU(name=layer_name(f"{scope}/{relu_name}"), dtype=dtype)(residual)
        strided = stride if index == 2 else 1
        name = f"separable_conv{index + 1}"
        residual = unit(f"{name}_depthwise", kernel_size=3, strides=strided, dilation_rate=rate,
                        padding="fixed" if strided > 1 else "same", activation=activation)(residual)
        residual = unit(f"{name}_pointwise", filters=depth, activation=activation)(residual)
        end_points[f"{scope}/{name}_pointwise"] = residual
    if skip == "conv":
        shortcut = unit("shortcut", filters=depths[-1], strides=stride)(x)
        return keras.layers.Add(name=layer_name(scope), dtype=dtype)([residual, shortcut])
    if skip == "sum":
        return keras.layers.Add(name=layer_name(scope), dtype=dtype)([residual, x])
    return keras.layers.Identity(name=layer_name(scope), dtype=dtype)(residual)


def xception_65(images: keras.KerasTensor, *, output_stride: int = 16,
                dtype: Any = None) -> tuple[keras.KerasTensor, dict[str, keras.KerasTensor]]:
    """Xception-65 features of DeepLab (multi grid 1, 1, 1 as in the zoo's models).

    Args:
        images: Scaled images ``(batch, height, width, 3)`` in [-1, 1].
        output_stride: 8, 16 or 32.
        dtype: Dtype policy of the layers.

    Returns:
        ``(features, end_points)``: features ``(batch, ceil(height / output_stride),
        ceil(width / output_stride), 2048)`` and the separable convolutions' outputs by official scope,
        among them the decoder's :data:`XCEPTION_DECODER_END_POINT` (stride 4, 256 channels, after batch
        norm, no ReLU).
    """
    common = {"batch_norm_epsilon": XCEPTION_EPSILON, "batch_norm_momentum": XCEPTION_MOMENTUM,
              "activation": "relu", "dtype": dtype}
    x = ConvUnit("xception_65/entry_flow/conv1_1", filters=32, kernel_size=3, strides=2, padding="fixed",
                 **common)(images)
    x = ConvUnit("xception_65/entry_flow/conv1_2", filters=64, kernel_size=3, **common)(x)
    stride = _Stride(output_stride // 2)
    blocks = [("entry_flow/block1", (128, 128, 128), "conv", 2),
              ("entry_flow/block2", (256, 256, 256), "conv", 2),
              ("entry_flow/block3", (728, 728, 728), "conv", 2)]
    blocks += [("middle_flow/block1", (728, 728, 728), "sum", 1)] * 16
    blocks += [("exit_flow/block1", (728, 1024, 1024), "conv", 2),
               ("exit_flow/block2", (1536, 1536, 2048), "none", 1)]
    units: dict[str, int] = {}
    end_points: dict[str, keras.KerasTensor] = {}
    for block, depths, skip, nominal_stride in blocks:
        units[block] = units.get(block, 0) + 1
        layer_stride, rate = stride.step(nominal_stride)
        x = _xception_module(x, f"xception_65/{block}/unit_{units[block]}/xception_module", depths, skip,
                             layer_stride, rate, block == "exit_flow/block2", end_points, dtype)
    return x, end_points
