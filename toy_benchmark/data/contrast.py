"""A texture's fine-scale contrast: how much neighbouring pixels differ, the candidate property of issue #13.

Whether a small network of the quick profile learns its bias texture as a shortcut was decided by the
texture, not the digit or the seed (docs/toy_benchmark.md, "Digit and texture swapped"). Of the texture
statistics compared there, this one separated the textures the networks learned from those they ignored,
and it predicted the outcome of four further trainings chosen before they ran. It is measured here so
that the robustness report can show it beside each variant; it is not yet a criterion of the pool
(measured on 11 textures and 17 networks, one per digit, texture and seed).

The contrast is the mean absolute difference of vertically adjacent pixels plus that of horizontally
adjacent pixels, on the [0, 1] scale (pixel value = uint8 / 255): 0 for a constant, 1 for one-pixel
stripes of black and white, 2 for a one-pixel black-and-white checkerboard.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fine_scale_contrast"]


def fine_scale_contrast(texture: np.ndarray) -> float:
    """Mean |vertical neighbour difference| + mean |horizontal neighbour difference| of a texture.

    Args:
      texture: uint8 (height, width), both sides at least 2; pixel value = uint8 / 255.

    Returns:
      A float in [0, 2].

    Raises:
      ValueError: if the texture is not a uint8 2-D array of at least 2 x 2 pixels.
    """
    texture = np.asarray(texture)
    if texture.dtype != np.uint8 or texture.ndim != 2 or min(texture.shape) < 2:
        raise ValueError(f"Argument `texture` must be a uint8 (height, width) array of at least 2 x 2 pixels; "
                         f"received {texture.dtype} {texture.shape}.")
    values = texture.astype(np.float64) / 255.0
    return float(np.abs(np.diff(values, axis=0)).mean() + np.abs(np.diff(values, axis=1)).mean())
