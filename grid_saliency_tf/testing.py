"""Tiny analytic models whose explanations are known in advance, for tests and sanity checks.

:class:`RegionTextureModel` needs exactly one region of context; :class:`PixelwiseModel` needs none.
Grid saliency in context mode must put its mass on that region for the first and return an empty
mask for the second; both are serialisable Keras layers.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

__all__ = ["RegionTextureModel", "PixelwiseModel", "functional", "checkerboard", "square_mask"]

SIZE = 32


@keras.saving.register_keras_serializable(package="grid_saliency_tf.testing")
class RegionTextureModel(keras.layers.Layer):
    """Predicts class 1 everywhere iff one region of the image holds high-frequency texture.

    The score is the mean absolute vertical difference of the pixels inside ``region`` (rows and
    columns as ``(top, bottom, left, right)``); a constant image has none, so no constant
    perturbation can stand in for the region: context saliency must keep it. Two classes;
    probabilities ``softmax([0, gain * (energy - threshold)])`` at every pixel.
    """

    def __init__(self, region: tuple[int, int, int, int] = (0, SIZE // 2, 0, SIZE // 2), gain: float = 20.0,
                 threshold: float = 0.25, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.region = tuple(int(v) for v in region)
        self.gain = float(gain)
        self.threshold = float(threshold)

    def call(self, images: tf.Tensor) -> tf.Tensor:
        """Images ``(batch, height, width, channels)`` to probabilities ``(batch, height, width, 2)``."""
        top, bottom, left, right = self.region
        patch = images[:, top:bottom, left:right, :]
        energy = tf.reduce_mean(tf.abs(patch[:, 1:] - patch[:, :-1]), axis=[1, 2, 3])
        logit = self.gain * (energy - self.threshold)
        plane = tf.ones_like(images[..., 0]) * logit[:, None, None]
        return tf.nn.softmax(tf.stack([tf.zeros_like(plane), plane], axis=-1), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "region": self.region, "gain": self.gain, "threshold": self.threshold}


@keras.saving.register_keras_serializable(package="grid_saliency_tf.testing")
class PixelwiseModel(keras.layers.Layer):
    """Per-pixel model with no context: ``p_1(x)_ij = sigmoid(weight * (x_ij - 0.5))`` (channel mean)."""

    def __init__(self, weight: float = 8.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weight = float(weight)

    def call(self, images: tf.Tensor) -> tf.Tensor:
        """Images ``(batch, height, width, channels)`` to probabilities ``(batch, height, width, 2)``."""
        logit = self.weight * (tf.reduce_mean(images, axis=-1) - 0.5)
        return tf.stack([tf.sigmoid(-logit), tf.sigmoid(logit)], axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight": self.weight}


def functional(layer: keras.layers.Layer, size: int = SIZE, channels: int = 1) -> keras.Model:
    """Wraps a layer into a functional model on ``(size, size, channels)`` images."""
    inputs = keras.Input((size, size, channels))
    return keras.Model(inputs, layer(inputs))


def checkerboard(batch: int = 1, size: int = SIZE, channels: int = 1) -> np.ndarray:
    """A 0/1 checkerboard, float32 ``(batch, size, size, channels)``: maximal vertical texture."""
    rows, cols = np.mgrid[:size, :size]
    board = ((rows + cols) % 2).astype(np.float32)
    return np.repeat(np.repeat(board[None, :, :, None], batch, 0), channels, 3)


def square_mask(top: int, left: int, side: int, size: int = SIZE) -> np.ndarray:
    """A float32 ``(size, size)`` mask with a ``side x side`` square of ones at ``(top, left)``."""
    mask = np.zeros((size, size), np.float32)
    mask[top:top + side, left:left + side] = 1.0
    return mask
