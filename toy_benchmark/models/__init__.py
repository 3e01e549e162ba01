"""Segmentation networks of the toy benchmark: U-Net with a VGG16, MobileNetV2 or ResNet18 encoder."""

from toy_benchmark.models.encoders import BOTTLENECK_LAYER, ENCODERS, scale_channels
from toy_benchmark.models.unet import BACKBONES, LOGITS_LAYER, PROBABILITIES_LAYER, ToyUNet

__all__ = [
    "BACKBONES",
    "BOTTLENECK_LAYER",
    "ENCODERS",
    "LOGITS_LAYER",
    "PROBABILITIES_LAYER",
    "ToyUNet",
    "scale_channels",
]
