"""Whether a constant grey value imitates a texture: the criterion every bias texture must pass.

Grid saliency perturbs the context with a constant grey value (supplement S1.2: the one of {0, 0.25,
0.5, 0.75, 1} with the lowest preservation loss at ``M = 0``). If one grey value lies close to most
pixels of a bias half, replacing the half by that constant leaves the bias in place for the network,
the preservation loss stays low without the half, and the mask has nothing to keep: the bias is hidden
from constant perturbations (docs/toy_benchmark.md, finding 1).

The criterion is measured where the bias lives, on the 32 x 64 half a texture fills: for each of
``num_crops`` seeded random crops, the largest share of its pixels within ``tolerance`` (0.1) of one
grey value ``c``, taken over every ``c`` in [0, 1] (the 256 uint8 levels, which hold the engine's five
constants). The texture is imitated when the ``quantile`` (0.9) of that share over the crops exceeds
``max_share`` (0.6). The threshold sits between the textures that measured as imitated (shares 0.74 to
0.95: 6 dot_grid, 7 dark_spots, 9 hatching, 16 fine_grain, 17 specks of the earlier pool) and the bias
texture that showed the effect (0.38: 0 fine_horizontal_grating); a binary pattern of equal parts has
0.5.
"""

from __future__ import annotations

import numpy as np

from grid_saliency_tf.validation import check_int, check_number

__all__ = ["IMITATION_MAX_SHARE", "IMITATION_TOLERANCE", "constant_share", "is_imitated_by_a_constant"]

#: Grey values within this distance of the constant count as imitated pixels (units of the [0, 1] range).
IMITATION_TOLERANCE = 0.1
#: A texture is imitated when one constant is within the tolerance of more than this share of a half.
IMITATION_MAX_SHARE = 0.6


def constant_share(texture: np.ndarray, *, crop_shape: tuple[int, int] = (32, 64), num_crops: int = 64,
                   tolerance: float = IMITATION_TOLERANCE, quantile: float = 0.9, seed: int = 0) -> float:
    """The share of a bias half's pixels that one constant grey value imitates (the ``quantile`` over crops).

    Args:
      texture: uint8 (height, width), pixel value = uint8 / 255; both sides at least those of `crop_shape`.
      crop_shape: (height, width) of the crops: a bias half of a 64 x 64 image.
      num_crops: number of random crops.
      tolerance: a pixel is imitated by ``c`` when ``|value - c| <= tolerance``.
      quantile: which quantile of the per-crop shares is returned (0.9: nine crops in ten at most).
      seed: seed of the crop positions.

    Returns:
      A float in [0, 1]: the `quantile` over crops of ``max_c mean(|crop - c| <= tolerance)``.

    Raises:
      ValueError: if the texture is not a uint8 2-D array at least `crop_shape` large, or an argument is
        out of range.
    """
    texture = np.asarray(texture)
    if texture.dtype != np.uint8 or texture.ndim != 2:
        raise ValueError(f"Argument `texture` must be a uint8 (height, width) array; received {texture.dtype} "
                         f"{texture.shape}.")
    height, width = (check_int("crop_shape", side, low=1) for side in crop_shape)
    if texture.shape[0] < height or texture.shape[1] < width:
        raise ValueError(f"Argument `texture` must be at least {height} x {width}; received {texture.shape}.")
    num_crops = check_int("num_crops", num_crops, low=1)
    tolerance = check_number("tolerance", tolerance, low=0.0, high=1.0)
    quantile = check_number("quantile", quantile, low=0.0, high=1.0)
    radius = int(np.floor(tolerance * 255 + 1e-9))  # levels j with |j - c| <= radius
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, texture.shape[0] - height + 1, num_crops)
    xs = rng.integers(0, texture.shape[1] - width + 1, num_crops)
    shares = np.empty(num_crops)
    for index, (y, x) in enumerate(zip(ys, xs)):
        counts = np.bincount(texture[y : y + height, x : x + width].ravel(), minlength=256)
        cumulative = np.concatenate([[0], np.cumsum(counts)])
        levels = np.arange(256)
        within = cumulative[np.minimum(levels + radius + 1, 256)] - cumulative[np.maximum(levels - radius, 0)]
        shares[index] = within.max() / (height * width)
    return float(np.quantile(shares, quantile))


def is_imitated_by_a_constant(texture: np.ndarray, *, max_share: float = IMITATION_MAX_SHARE,
                              seed: int = 0) -> bool:
    """Whether one constant grey value imitates a bias half of the texture (`constant_share` > `max_share`).

    Args:
      texture: uint8 (height, width), at least 32 x 64.
      max_share: the largest share a valid bias texture may leave to one constant (default 0.6).
      seed: seed of the crop positions.

    Returns:
      True when the texture hides a bias from constant perturbations by this criterion.
    """
    max_share = check_number("max_share", max_share, low=0.0, high=1.0)
    return constant_share(texture, seed=seed) > max_share
