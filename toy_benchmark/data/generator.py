"""The toy dataset's samples: sample i of a variant is a pure function of (seed, split, variant, i).

Paper Sec. 4.1 and supplement S1.1; every open choice is pinned down in TOY_DATASET_SPEC.md:

- Sample i shows digit i mod 10. Its MNIST instance is element (i // 10) mod n_c of a seeded permutation
  of the class's pool (n_c digits), so the pool is cycled when the set needs more digits than it holds.
- The digit mask R_GT is the 28 x 28 digit resized bilinearly to 64 x 64 and thresholded at 0.5.
- image = R_GT * foreground + (1 - R_GT) * background, where the foreground is a 64 x 64 crop of the
  foreground texture and the background is a 32 x 64 crop of the top texture above a 32 x 64 crop of the
  bottom texture, each crop at a uniformly random position in its texture.
- Textures: "none" draws foreground, top and bottom uniformly from the whole pool. For the bias digit d
  (weak and strong), the bias texture t fills the top or the bottom half (probability 1/2 each) and the
  foreground and the other half are drawn from the other textures. Other digits draw from the other
  textures ("strong": t never appears without d) or from the whole pool ("weak").

Randomness: the permutations are keyed by (seed, split); the textures, halves and crop positions of
sample i by (seed, split, variant) and counter i, with the counter-based Philox4x32-10 generator. The test
split uses a fixed key instead of the seed, so the test set does not depend on the training seed. A
sample therefore comes out bit-identical whatever batch, shard or process produces it.
"""

from __future__ import annotations

import numpy as np

from toy_benchmark.data.mnist import MnistDigits, digit_masks, load_mnist
from toy_benchmark.data.philox import derive_key, philox4x32, uniform_below
from toy_benchmark.data.textures import TexturePool, procedural_textures
from toy_benchmark.data.variant import (
    BACKGROUND_CLASS,
    BIAS_HALF_BOTTOM,
    BIAS_HALF_NONE,
    BIAS_HALF_TOP,
    BIAS_STRENGTHS,
    IMAGE_SIZE,
    NUM_DIGITS,
    SPLITS,
    DatasetVariant,
)

__all__ = ["GENERATOR_VERSION", "SAMPLE_FIELDS", "SampleGenerator"]

GENERATOR_VERSION = 1
_DIGIT_DOMAIN = 0xD161
_TEXTURE_DOMAIN = 0x7E47
_TEST_SEED = 2**64 - 1  # stands in for the seed in the test split's keys; no training seed can equal it
_HALF = IMAGE_SIZE // 2

SAMPLE_FIELDS: dict[str, tuple[np.dtype, tuple[int, ...]]] = {
    "image": (np.dtype(np.uint8), (IMAGE_SIZE, IMAGE_SIZE)),
    "label": (np.dtype(np.uint8), (IMAGE_SIZE, IMAGE_SIZE)),
    "index": (np.dtype(np.int64), ()),
    "digit": (np.dtype(np.int32), ()),
    "mnist_index": (np.dtype(np.int64), ()),
    "fg_texture": (np.dtype(np.int32), ()),
    "top_texture": (np.dtype(np.int32), ()),
    "bottom_texture": (np.dtype(np.int32), ()),
    "bias_half": (np.dtype(np.int32), ()),
    "crop_offsets": (np.dtype(np.int32), (6,)),
}
"""The compact form of a sample, as `SampleGenerator.generate` returns it (per-sample dtype and shape).

image: the composed image, uint8 levels of the textures (pixel value = image / 255).
label: digit class 0..9 inside the digit mask, BACKGROUND_CLASS (10) outside.
index: the sample's index i. digit: i mod 10. mnist_index: the digit's index in the split's MNIST images.
fg_texture, top_texture, bottom_texture: texture ids. bias_half: 0 none, 1 top, 2 bottom.
crop_offsets: (fg_y, fg_x, top_y, top_x, bottom_y, bottom_x), the top-left corner of each crop in its
texture (the foreground crop is 64 x 64, the two background crops 32 x 64).
"""


class SampleGenerator:
    """Generates the samples of one dataset variant from a texture pool and MNIST digits.

    Construction precomputes the digit permutations and the digit masks of the split (bilinear resize and
    threshold, packed to bits); `generate` is then vectorised NumPy over a batch of indices and is
    thread-safe (it only reads the precomputed state).

    Args:
      variant: the dataset variant.
      textures: the texture pool; None for the 25 procedural textures.
      mnist: the digits; None for the bundled 10k subset.

    Raises:
      ValueError: if the variant's bias texture is not an id of the pool.
    """

    def __init__(
        self,
        variant: DatasetVariant,
        *,
        textures: TexturePool | None = None,
        mnist: MnistDigits | None = None,
    ) -> None:
        if not isinstance(variant, DatasetVariant):
            raise TypeError(
                f"Argument `variant` must be a DatasetVariant; received {type(variant).__name__}."
            )
        self.variant = variant
        self.textures = procedural_textures() if textures is None else textures
        self.mnist = load_mnist() if mnist is None else mnist
        num_textures = len(self.textures)
        if variant.biased and variant.bias_texture >= num_textures:
            raise ValueError(
                f"Argument `bias_texture` must be a texture id in 0..{num_textures - 1} of the pool "
                f"({self.textures.source}); received {variant.bias_texture}."
            )
        split_code = SPLITS.index(variant.split)
        seed = _TEST_SEED if variant.split == "test" else variant.seed
        self._digit_key = derive_key([_DIGIT_DOMAIN, GENERATOR_VERSION, split_code, seed])
        bias_words = [variant.bias_digit + 1, variant.bias_texture + 1] if variant.biased else [0, 0]
        strength_code = BIAS_STRENGTHS.index(variant.strength)
        self._texture_key = derive_key(
            [_TEXTURE_DOMAIN, GENERATOR_VERSION, split_code, seed, strength_code, *bias_words]
        )
        self._init_digits()
        buffer, starts = self.textures.flat
        self._buffer = buffer
        index_dtype = np.int32 if buffer.size < 2**31 else np.int64
        self._starts = starts.astype(index_dtype)
        self._heights = self.textures.shapes[:, 0]
        self._widths = self.textures.shapes[:, 1].astype(index_dtype)
        self._columns = np.arange(IMAGE_SIZE, dtype=index_dtype)
        self._rows = np.arange(IMAGE_SIZE, dtype=index_dtype)

    @property
    def num_samples(self) -> int:
        """The number of samples of the variant."""
        return self.variant.num_samples

    def _init_digits(self) -> None:
        """Seeded permutation of each class pool, cut to the instances the variant uses, and their masks."""
        pools = self.mnist.class_pools(self.variant.split)
        num_samples = self.variant.num_samples
        used, starts, sizes = [], [], []
        offset = 0
        for digit, pool in enumerate(pools):
            counters = np.zeros((len(pool), 4), dtype=np.uint32)
            counters[:, 0] = np.arange(len(pool), dtype=np.uint32)
            counters[:, 2] = digit
            bits = philox4x32(counters, self._digit_key)
            sort_keys = (bits[:, 0].astype(np.uint64) << np.uint64(32)) | bits[:, 1]
            permuted = pool[np.argsort(sort_keys, kind="stable")]
            samples_of_digit = len(range(digit, num_samples, NUM_DIGITS))
            used.append(permuted[: min(len(pool), samples_of_digit)])
            starts.append(offset)
            sizes.append(len(pool))
            offset += len(used[-1])
        self._instances = np.concatenate(used)
        self._class_starts = np.array(starts, dtype=np.int64)
        self._class_sizes = np.array(sizes, dtype=np.int64)
        masks = digit_masks(self.mnist.images(self.variant.split)[self._instances])
        self._packed_masks = np.packbits(masks.reshape(len(masks), -1), axis=1)

    def _draw_textures(self, digits: np.ndarray, bits: np.ndarray) -> tuple[np.ndarray, ...]:
        """Foreground, top and bottom texture ids and the bias half, by the variant's rules."""
        num_textures = len(self.textures)
        variant = self.variant
        if not variant.biased:
            fg, top, bottom = (uniform_below(bits[:, j], num_textures) for j in range(3))
            return fg, top, bottom, np.full(len(digits), BIAS_HALF_NONE, dtype=np.int64)
        bias_texture = variant.bias_texture
        others = [uniform_below(bits[:, j], num_textures - 1) for j in range(3)]
        fg, top, bottom = (draw + (draw >= bias_texture) for draw in others)
        if variant.strength == "weak":
            fg, top, bottom = (
                np.where(digits == variant.bias_digit, drawn, uniform_below(bits[:, j], num_textures))
                for j, drawn in enumerate((fg, top, bottom))
            )
        is_biased = digits == variant.bias_digit
        half = np.where(bits[:, 3] >> np.uint32(31), BIAS_HALF_BOTTOM, BIAS_HALF_TOP)
        bias_half = np.where(is_biased, half, BIAS_HALF_NONE)
        top = np.where(bias_half == BIAS_HALF_TOP, bias_texture, top)
        bottom = np.where(bias_half == BIAS_HALF_BOTTOM, bias_texture, bottom)
        return fg, top, bottom, bias_half

    def _crop_indices(
        self, texture_ids: np.ndarray, ys: np.ndarray, xs: np.ndarray, height: int
    ) -> np.ndarray:
        """Flat indices into the texture buffer of (batch, height, 64) crops with corners (ys, xs)."""
        widths = self._widths[texture_ids]
        base = self._starts[texture_ids] + ys.astype(widths.dtype) * widths + xs.astype(widths.dtype)
        row_starts = base[:, None] + self._rows[None, :height] * widths[:, None]
        return row_starts[:, :, None] + self._columns[None, None, :]

    def generate(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """Generates a batch of samples.

        Args:
          indices: integer array of shape (batch,), sample indices in [0, num_samples); any order,
            repeats allowed.

        Returns:
          A dict with the fields of SAMPLE_FIELDS, each of shape (batch, *field_shape). Row j depends only
          on (variant, indices[j]).

        Raises:
          ValueError: if an index is out of range or the array is not 1-d.
        """
        indices = np.asarray(indices)
        if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
            raise ValueError(
                f"Argument `indices` must be a 1-d integer array; received {indices.dtype} {indices.shape}."
            )
        indices = indices.astype(np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_samples):
            raise ValueError(
                f"Argument `indices` must be in 0..{self.num_samples - 1}; received "
                f"{indices.min()}..{indices.max()}."
            )
        batch = len(indices)
        digits = indices % NUM_DIGITS
        positions = self._class_starts[digits] + (indices // NUM_DIGITS) % self._class_sizes[digits]
        masks = np.unpackbits(self._packed_masks[positions], axis=1).reshape(batch, IMAGE_SIZE, IMAGE_SIZE)
        masks = masks.view(bool)

        counters = np.zeros((batch, 3, 4), dtype=np.uint32)
        counters[:, :, 0] = (indices & 0xFFFFFFFF).astype(np.uint32)[:, None]
        counters[:, :, 1] = (indices >> 32).astype(np.uint32)[:, None]
        counters[:, :, 2] = np.arange(3, dtype=np.uint32)[None, :]
        bits = philox4x32(counters.reshape(-1, 4), self._texture_key).reshape(batch, 12)
        fg, top, bottom, bias_half = self._draw_textures(digits, bits)

        heights, widths = self._heights, self._widths.astype(np.int64)
        offsets = np.stack(
            [
                uniform_below(bits[:, 4], heights[fg] - IMAGE_SIZE + 1),
                uniform_below(bits[:, 5], widths[fg] - IMAGE_SIZE + 1),
                uniform_below(bits[:, 6], heights[top] - _HALF + 1),
                uniform_below(bits[:, 7], widths[top] - IMAGE_SIZE + 1),
                uniform_below(bits[:, 8], heights[bottom] - _HALF + 1),
                uniform_below(bits[:, 9], widths[bottom] - IMAGE_SIZE + 1),
            ],
            axis=1,
        )
        foreground = self._crop_indices(fg, offsets[:, 0], offsets[:, 1], IMAGE_SIZE)
        background = np.concatenate(
            [
                self._crop_indices(top, offsets[:, 2], offsets[:, 3], _HALF),
                self._crop_indices(bottom, offsets[:, 4], offsets[:, 5], _HALF),
            ],
            axis=1,
        )
        image = self._buffer[np.where(masks, foreground, background)]
        label = np.where(masks, digits.astype(np.uint8)[:, None, None], np.uint8(BACKGROUND_CLASS))
        return {
            "image": image,
            "label": label,
            "index": indices,
            "digit": digits.astype(np.int32),
            "mnist_index": self._instances[positions],
            "fg_texture": fg.astype(np.int32),
            "top_texture": top.astype(np.int32),
            "bottom_texture": bottom.astype(np.int32),
            "bias_half": bias_half.astype(np.int32),
            "crop_offsets": offsets.astype(np.int32),
        }
