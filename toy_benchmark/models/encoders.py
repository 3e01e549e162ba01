"""VGG16, MobileNetV2 and ResNet18 encoders for the toy-benchmark U-Net, at a width multiplier.

The three backbones of the toy benchmark (paper Sec. 4.2; supplement S1.2 and S1.5), built from Keras
layers with no pretrained weights so that they take the benchmark's one-channel 64 x 64 images. Each
encoder maps an input tensor `(batch, height, width, channels)` to skip features at strides 1, 2, 4, 8
and 16 (VGG16 has a stride-1 skip; the other two start with a stride-2 stem) and a bottleneck at stride
32, the last encoder layer, named `"bottleneck"` so that Seg-Grad-CAM can pick it by name.

Every channel count of the published architecture is multiplied by `width` and rounded to a multiple
of 4 (at least 4): width 1 is the published network, width 1/8 trains on a CPU.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import keras

BOTTLENECK_LAYER = "bottleneck"

# (repeats, channels) of the five VGG16 blocks (Simonyan & Zisserman, configuration D).
_VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
# (expansion t, channels c, repeats n, first stride s) of MobileNetV2 (Sandler et al., Table 2).
_MOBILENETV2_BLOCKS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
_MOBILENETV2_STEM = 32
_MOBILENETV2_HEAD = 1280
# Channels of the four ResNet18 stages, two basic blocks each (He et al., Table 1).
_RESNET18_STAGES = (64, 128, 256, 512)
_RESNET18_STEM = 64


def scale_channels(channels: int, width: float) -> int:
    """Channel count `channels * width` rounded to a multiple of 4, at least 4."""
    return max(4, int(round(channels * width / 4.0)) * 4)


@dataclasses.dataclass(frozen=True)
class EncoderFeatures:
    """What an encoder hands to the U-Net decoder.

    Attributes:
        skips: Skip tensors keyed by stride (1, 2, 4, 8, 16), each `(batch, H / s, W / s, c_s)`.
        bottleneck: The last encoder tensor, `(batch, H / 32, W / 32, c)`, output of the layer named
            `"bottleneck"`.
    """

    skips: dict[int, keras.KerasTensor]
    bottleneck: keras.KerasTensor


class LayerFactory:
    """Makes named Keras layers whose initial kernels are seeded deterministically.

    Each layer gets its own He-normal initialiser seeded with `seed + k` for the k-th layer, so that a
    model built twice with one seed has identical weights and no global random state is touched.

    Args:
        seed: Base seed of the kernel initialisers; None draws fresh random kernels.
        batch_norm: Whether `conv_bn_act` adds batch normalisation after the convolution.
    """

    def __init__(self, seed: int | None, batch_norm: bool = True):
        self.seed = seed
        self.batch_norm = batch_norm
        self._counter = itertools.count()

    def with_batch_norm(self) -> LayerFactory:
        """This factory with batch norm on, sharing its seed sequence (for MobileNetV2, ResNet18)."""
        factory = LayerFactory(self.seed, batch_norm=True)
        factory._counter = self._counter
        return factory

    def initializer(self) -> keras.initializers.Initializer:
        """A He-normal initialiser with the next seed of this factory."""
        k = next(self._counter)
        return keras.initializers.HeNormal(seed=None if self.seed is None else self.seed + k)

    def conv(self, filters: int, kernel_size: int, name: str, *, strides: int = 1,
             use_bias: bool | None = None) -> keras.layers.Conv2D:
        """A 'same'-padded Conv2D; without batch norm it has a bias unless told otherwise."""
        if use_bias is None:
            use_bias = not self.batch_norm
        return keras.layers.Conv2D(
            filters, kernel_size, strides=strides, padding="same", use_bias=use_bias,
            kernel_initializer=self.initializer(), name=name)

    def depthwise(self, strides: int, name: str) -> keras.layers.DepthwiseConv2D:
        """A 3 x 3 'same'-padded depthwise convolution without bias (batch norm follows)."""
        return keras.layers.DepthwiseConv2D(
            3, strides=strides, padding="same", use_bias=False,
            depthwise_initializer=self.initializer(), name=name)

    def conv_bn_act(self, x: keras.KerasTensor, filters: int, kernel_size: int, name: str, *,
                    strides: int = 1, activation: str | None = "relu",
                    act_name: str | None = None) -> keras.KerasTensor:
        """Convolution, batch norm (if enabled) and activation, named `name`, `name_bn`, `name_relu`."""
        x = self.conv(filters, kernel_size, name, strides=strides)(x)
        if self.batch_norm:
            x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
        if activation is not None:
            x = keras.layers.Activation(activation, name=act_name or f"{name}_{activation}")(x)
        return x


def vgg16_encoder(x: keras.KerasTensor, width: float, layers: LayerFactory) -> EncoderFeatures:
    """VGG16 (configuration D) without the classifier: 13 3 x 3 convolutions, 5 max-poolings.

    Skips are the last convolution of blocks 1-5 (strides 1-16); the bottleneck is the fifth pooling
    (stride 32). With `layers.batch_norm` every convolution is followed by batch norm (VGG16-BN).

    Args:
        x: Input `(batch, H, W, channels)`, H and W multiples of 32.
        width: Channel multiplier.
        layers: Layer factory (seeds, batch norm).

    Returns:
        The encoder features.
    """
    skips = {}
    for block, (repeats, channels) in enumerate(_VGG16_BLOCKS, start=1):
        for k in range(1, repeats + 1):
            x = layers.conv_bn_act(x, scale_channels(channels, width), 3, f"block{block}_conv{k}")
        skips[2 ** (block - 1)] = x
        name = BOTTLENECK_LAYER if block == len(_VGG16_BLOCKS) else f"block{block}_pool"
        x = keras.layers.MaxPooling2D(2, name=name)(x)
    return EncoderFeatures(skips=skips, bottleneck=x)


def _inverted_residual(x: keras.KerasTensor, expansion: int, filters: int, strides: int,
                       name: str, layers: LayerFactory) -> keras.KerasTensor:
    """MobileNetV2 block: 1 x 1 expansion, 3 x 3 depthwise, linear 1 x 1 projection, residual."""
    inputs = x
    in_channels = x.shape[-1]
    if expansion != 1:
        x = layers.conv_bn_act(x, in_channels * expansion, 1, f"{name}_expand", activation="relu6")
    x = layers.depthwise(strides, f"{name}_depthwise")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_depthwise_bn")(x)
    x = keras.layers.Activation("relu6", name=f"{name}_depthwise_relu6")(x)
    x = layers.conv_bn_act(x, filters, 1, f"{name}_project", activation=None)
    if strides == 1 and in_channels == filters:
        x = keras.layers.Add(name=f"{name}_add")([inputs, x])
    return x


def mobilenetv2_encoder(x: keras.KerasTensor, width: float, layers: LayerFactory) -> EncoderFeatures:
    """MobileNetV2 without the classifier: stem, 17 inverted residual blocks, 1 x 1 head convolution.

    Skips are the last block output at strides 2, 4, 8 and 16; the bottleneck is the ReLU6 after the
    1 x 1 head convolution (stride 32), whose 1280 channels are also scaled by `width`.

    Args:
        x: Input `(batch, H, W, channels)`, H and W multiples of 32.
        width: Channel multiplier (MobileNetV2's alpha).
        layers: Layer factory (seeds). MobileNetV2 always uses batch norm.

    Returns:
        The encoder features.
    """
    layers = layers.with_batch_norm()
    x = layers.conv_bn_act(x, scale_channels(_MOBILENETV2_STEM, width), 3, "stem_conv", strides=2,
                           activation="relu6")
    skips = {}
    stride, index = 2, 0
    for expansion, channels, repeats, first_stride in _MOBILENETV2_BLOCKS:
        if first_stride == 2:
            skips[stride] = x
            stride *= 2
        for k in range(repeats):
            x = _inverted_residual(x, expansion, scale_channels(channels, width),
                                   first_stride if k == 0 else 1, f"block{index}", layers)
            index += 1
    x = layers.conv_bn_act(x, scale_channels(_MOBILENETV2_HEAD, width), 1, "head_conv",
                           activation="relu6", act_name=BOTTLENECK_LAYER)
    return EncoderFeatures(skips=skips, bottleneck=x)


def _basic_block(x: keras.KerasTensor, filters: int, strides: int, name: str,
                 layers: LayerFactory, act_name: str | None = None) -> keras.KerasTensor:
    """ResNet basic block: two 3 x 3 convolutions, identity or 1 x 1 projection shortcut."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.conv_bn_act(x, filters, 1, f"{name}_shortcut", strides=strides,
                                      activation=None)
    x = layers.conv_bn_act(x, filters, 3, f"{name}_conv1", strides=strides)
    x = layers.conv_bn_act(x, filters, 3, f"{name}_conv2", activation=None)
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=act_name or f"{name}_out")(x)


def resnet18_encoder(x: keras.KerasTensor, width: float, layers: LayerFactory) -> EncoderFeatures:
    """ResNet18 without the classifier: 7 x 7 stem, max-pooling, four stages of two basic blocks.

    Skips are the stem (stride 2) and the outputs of stages 1-3 (strides 4, 8, 16); the bottleneck is
    the output of stage 4 (stride 32).

    Args:
        x: Input `(batch, H, W, channels)`, H and W multiples of 32.
        width: Channel multiplier.
        layers: Layer factory (seeds). ResNet18 always uses batch norm.

    Returns:
        The encoder features.
    """
    layers = layers.with_batch_norm()
    x = layers.conv_bn_act(x, scale_channels(_RESNET18_STEM, width), 7, "stem_conv", strides=2)
    skips = {2: x}
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, channels in enumerate(_RESNET18_STAGES, start=1):
        filters = scale_channels(channels, width)
        last = stage == len(_RESNET18_STAGES)
        x = _basic_block(x, filters, 1 if stage == 1 else 2, f"stage{stage}_block1", layers)
        x = _basic_block(x, filters, 1, f"stage{stage}_block2", layers,
                         act_name=BOTTLENECK_LAYER if last else None)
        if not last:
            skips[2 ** (stage + 1)] = x
    return EncoderFeatures(skips=skips, bottleneck=x)


ENCODERS: dict[str, Callable[[keras.KerasTensor, float, LayerFactory], EncoderFeatures]] = {
    "vgg16": vgg16_encoder,
    "mobilenetv2": mobilenetv2_encoder,
    "resnet18": resnet18_encoder,
}
"""The backbones by name."""
