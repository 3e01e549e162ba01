"""Segmentation networks of the toy benchmark: U-Net with a VGG16, MobileNetV2 or ResNet18 encoder."""

from toy_benchmark.models.encoders import BOTTLENECK_LAYER, ENCODERS, scale_channels
from toy_benchmark.models.unet import (
    BACKBONES,
    DEFAULT_BACKBONE,
    LOGITS_LAYER,
    PROBABILITIES_LAYER,
    PUBLISHED_WIDTH,
    ToyUNet,
)

__all__ = [
    "BACKBONES",
    "BOTTLENECK_LAYER",
    "DEFAULT_BACKBONE",
    "ENCODERS",
    "LOGITS_LAYER",
    "PROBABILITIES_LAYER",
    "PUBLISHED_WIDTH",
    "ToyUNet",
    "scale_channels",
]
