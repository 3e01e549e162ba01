"""U-Net for the toy benchmark: a VGG16, MobileNetV2 or ResNet18 encoder and a U-Net decoder.

The segmentation network of the toy benchmark (paper Sec. 4.2; supplement S1.2, S1.5): U-Net
(Ronneberger et al. 2015) with an exchangeable encoder and a pixel-wise softmax over 11 classes (digits
0-9 and background). The decoder follows the common "U-Net with a classification backbone" layout: five
stages, each upsampling by 2 (nearest neighbour), concatenating the encoder skip of that stride (if the
encoder has one) and applying two 3 x 3 convolutions with batch norm and ReLU; a 3 x 3 convolution named
`"logits"` gives the class scores and a softmax layer named `"probabilities"` the model output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from toy_benchmark.models.encoders import BOTTLENECK_LAYER, ENCODERS, LayerFactory, scale_channels

LOGITS_LAYER = "logits"
PROBABILITIES_LAYER = "probabilities"
BACKBONES = tuple(ENCODERS)
#: The backbone of the paper's toy-benchmark network, and the width multiplier of the published networks.
DEFAULT_BACKBONE = "vgg16"
PUBLISHED_WIDTH = 1.0
# Channels of the five decoder stages at width 1 (strides 16, 8, 4, 2, 1).
_DECODER_CHANNELS = (256, 128, 64, 32, 16)
_DECODER_STRIDES = (16, 8, 4, 2, 1)


def _check_image_shape(image_shape: Any) -> tuple[int, int, int]:
    """Validates `image_shape` = (height, width, channels), height and width multiples of 32."""
    try:
        shape = tuple(int(v) for v in image_shape)
    except (TypeError, ValueError):
        raise TypeError(f"Argument `image_shape` must be 3 integers (height, width, channels); received "
                        f"{image_shape!r}.")
    if len(shape) != 3 or min(shape) < 1 or shape[0] % 32 or shape[1] % 32:
        raise ValueError("Argument `image_shape` must be (height, width, channels) with height and width "
                         f"positive multiples of 32 (the encoder's stride); received {image_shape!r}.")
    return shape


@keras.saving.register_keras_serializable(package="toy_benchmark")
class ToyUNet(keras.Model):
    """U-Net with a VGG16, MobileNetV2 or ResNet18 encoder, no pretrained weights.

    A functional Keras model: `model(images)` maps images `(batch, height, width, channels)` to
    class probabilities `(batch, height, width, num_classes)` (softmax over the last axis). The layer
    named `"logits"` holds the class scores before the softmax (`logits_model()` returns a model
    sharing the weights that outputs them), and the layer named `"bottleneck"` is the end of the
    encoder (stride 32), the layer Seg-Grad-CAM explains.

    Args:
        backbone: Encoder: "vgg16", "mobilenetv2" or "resnet18".
        width: Channel multiplier of encoder and decoder, > 0; 1.0 is the published architecture
            (channels are rounded to multiples of 4, at least 4).
        num_classes: Output classes (11 for the toy benchmark: 10 digits and background).
        image_shape: (height, width, channels) of the input; height and width multiples of 32.
        batch_norm: Batch norm after the convolutions of the decoder and the VGG16 encoder (VGG16-BN);
            MobileNetV2 and ResNet18 always have their batch norms.
        seed: Seed of the kernel initialisers (each layer gets its own); None for fresh random weights.
        name: Model name; defaults to "unet_<backbone>".
        **kwargs: Passed to `keras.Model` (e.g. `trainable`, `dtype`).

    Raises:
        ValueError: On an unknown backbone, a non-positive width or num_classes, or a bad image_shape.
        TypeError: On arguments of the wrong type.
    """

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        *,
        width: float = PUBLISHED_WIDTH,
        num_classes: int = 11,
        image_shape: Sequence[int] = (64, 64, 1),
        batch_norm: bool = True,
        seed: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        if not isinstance(backbone, str) or backbone.lower() not in ENCODERS:
            raise ValueError(
                f"Argument `backbone` must be one of {', '.join(BACKBONES)}; received {backbone!r}."
            )
        backbone = backbone.lower()
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
            raise ValueError(f"Argument `width` must be a positive number; received {width!r}.")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"Argument `num_classes` must be an integer >= 2; received {num_classes!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"Argument `seed` must be an integer or None; received {seed!r}.")
        image_shape = _check_image_shape(image_shape)
        width = float(width)

        layers = LayerFactory(seed, batch_norm=bool(batch_norm))
        inputs = keras.Input(shape=image_shape, name="image")
        features = ENCODERS[backbone](inputs, width, layers)
        x = features.bottleneck
        for stride, channels in zip(_DECODER_STRIDES, _DECODER_CHANNELS):
            filters = scale_channels(channels, width)
            x = keras.layers.UpSampling2D(2, name=f"decoder{stride}_up")(x)
            if stride in features.skips:
                x = keras.layers.Concatenate(name=f"decoder{stride}_concat")(
                    [x, features.skips[stride]])
            x = layers.conv_bn_act(x, filters, 3, f"decoder{stride}_conv1")
            x = layers.conv_bn_act(x, filters, 3, f"decoder{stride}_conv2")
        logits = layers.conv(num_classes, 3, LOGITS_LAYER, use_bias=True)(x)
        probabilities = keras.layers.Activation("softmax", dtype="float32",
                                                name=PROBABILITIES_LAYER)(logits)
        super().__init__(inputs=inputs, outputs=probabilities, name=name or f"unet_{backbone}",
                         **kwargs)

        self.backbone = backbone
        self.width = width
        self.num_classes = num_classes
        self.image_shape = image_shape
        self.batch_norm = bool(batch_norm)
        self.seed = seed

    def logits_model(self) -> keras.Model:
        """A model sharing this model's weights that outputs the logits `(batch, H, W, classes)`."""
        return keras.Model(self.inputs[0], self.get_layer(LOGITS_LAYER).output,
                           name=f"{self.name}_logits")

    def bottleneck_layer(self) -> keras.layers.Layer:
        """The last encoder layer (stride 32), named "bottleneck"."""
        return self.get_layer(BOTTLENECK_LAYER)

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument, plus Keras's `name` and `trainable`."""
        return {
            "backbone": self.backbone,
            "width": self.width,
            "num_classes": self.num_classes,
            "image_shape": list(self.image_shape),
            "batch_norm": self.batch_norm,
            "seed": self.seed,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ToyUNet:
        """Rebuilds the model from `get_config()` (architecture only; weights are not in the config)."""
        return cls(**config)
