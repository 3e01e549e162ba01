"""The toy dataset as a `tf.data.Dataset` generated on the fly (paper Sec. 4.1, TOY_DATASET_SPEC.md).

Nothing is stored: the paper's 100 biased variants plus the unbiased one, times 5 seeds, are made as
they are read. Index batches flow through `tf.numpy_function` into the vectorised NumPy generator
(`SampleGenerator.generate`), then TensorFlow ops turn the compact sample into the element below. The
reader of materialised datasets (`reader.load_dataset`) shares this pipeline, so a stored dataset reads
back bit-identical to the streamed one.

Element spec (one sample; with batch_size set, every entry gains a leading batch dimension):

    image           float32 (64, 64, 1)  in [0, 1], texture grey levels (uint8 / 255)
    label           int32   (64, 64)     digit class 0..9 inside the digit, 10 for background
    r_gt            float32 (64, 64)     R_GT, the digit mask (1 inside the digit)
    context         float32 (64, 64)     C = 1 - R_GT (paper Eq. 6)
    c_bias          float32 (64, 64)     C_bias, the half carrying the bias texture (Eq. 7); zeros if unbiased
    digit           int32   ()           the digit class, index mod 10
    index           int64   ()           the sample index i in the variant
    mnist_index     int64   ()           the digit's index in the split's MNIST images
    fg_texture      int32   ()           foreground texture id
    top_texture     int32   ()           texture id of the upper 32 x 64 half
    bottom_texture  int32   ()           texture id of the lower 32 x 64 half
    biased          bool    ()           whether the bias was induced in this sample (digit == bias digit)
    bias_half       int32   ()           0 none, 1 top, 2 bottom
    crop_offsets    int32   (6,)         (fg_y, fg_x, top_y, top_x, bottom_y, bottom_x) of the crops
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from toy_benchmark.data.generator import SAMPLE_FIELDS, SampleGenerator
from toy_benchmark.data.mnist import MnistDigits
from toy_benchmark.data.sources import DataSources, resolve_sources
from toy_benchmark.data.textures import TexturePool
from toy_benchmark.data.variant import (
    BACKGROUND_CLASS,
    BIAS_HALF_BOTTOM,
    BIAS_HALF_TOP,
    IMAGE_SIZE,
    DatasetVariant,
)

__all__ = ["dataset_from_sample_fn", "element_spec", "make_dataset", "shard_range"]

_DEFAULT_CHUNK = 256


def shard_range(num_samples: int, shard_index: int, num_shards: int) -> tuple[int, int]:
    """The contiguous index range [start, stop) of shard `shard_index` of `num_shards`.

    Args:
      num_samples: the number of samples of the whole dataset.
      shard_index: which shard, 0..num_shards - 1.
      num_shards: how many contiguous shards the indices are split into.

    Returns:
      (start, stop), stop exclusive.

    Raises:
      ValueError: if num_shards < 1, shard_index is outside 0..num_shards - 1, or a shard would be empty.
    """
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"Argument `num_shards` must be a positive integer; received {num_shards!r}.")
    if num_shards > num_samples:
        raise ValueError(f"Argument `num_shards` must be at most num_samples ({num_samples}); received "
                         f"{num_shards}.")
    if isinstance(shard_index, bool) or not isinstance(shard_index, int) or not 0 <= shard_index < num_shards:
        raise ValueError(f"Argument `shard_index` must be in 0..{num_shards - 1}; received {shard_index!r}.")
    return shard_index * num_samples // num_shards, (shard_index + 1) * num_samples // num_shards


def element_spec(batch_size: int | None = None) -> dict[str, tf.TensorSpec]:
    """The `tf.TensorSpec` of every entry of an element (see the module docstring)."""
    lead = () if batch_size is None else (batch_size,)
    square = (IMAGE_SIZE, IMAGE_SIZE)
    spec = {
        "image": (tf.float32, (*square, 1)),
        "label": (tf.int32, square),
        "r_gt": (tf.float32, square),
        "context": (tf.float32, square),
        "c_bias": (tf.float32, square),
        "digit": (tf.int32, ()),
        "index": (tf.int64, ()),
        "mnist_index": (tf.int64, ()),
        "fg_texture": (tf.int32, ()),
        "top_texture": (tf.int32, ()),
        "bottom_texture": (tf.int32, ()),
        "biased": (tf.bool, ()),
        "bias_half": (tf.int32, ()),
        "crop_offsets": (tf.int32, (6,)),
    }
    return {name: tf.TensorSpec((*lead, *shape), dtype) for name, (dtype, shape) in spec.items()}


def _complete(compact: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Compact batch (uint8 image and label, metadata) -> element batch with float image and masks."""
    label = tf.cast(compact["label"], tf.int32)
    r_gt = tf.cast(tf.not_equal(label, BACKGROUND_CLASS), tf.float32)
    in_top = tf.range(IMAGE_SIZE)[:, None] < IMAGE_SIZE // 2  # (64, 1)
    half = compact["bias_half"][:, None, None]
    c_bias = tf.logical_or(
        tf.logical_and(tf.equal(half, BIAS_HALF_TOP), in_top),
        tf.logical_and(tf.equal(half, BIAS_HALF_BOTTOM), tf.logical_not(in_top)),
    )
    c_bias = tf.broadcast_to(tf.cast(c_bias, tf.float32), tf.shape(r_gt))
    element = {
        "image": (tf.cast(compact["image"], tf.float32) / 255.0)[..., None],
        "label": label,
        "r_gt": r_gt,
        "context": 1.0 - r_gt,
        "c_bias": c_bias,
        "biased": tf.greater(compact["bias_half"], 0),
    }
    for name in (
        "digit",
        "index",
        "mnist_index",
        "fg_texture",
        "top_texture",
        "bottom_texture",
        "bias_half",
        "crop_offsets",
    ):
        element[name] = compact[name]
    return {name: element[name] for name in element_spec()}


def dataset_from_sample_fn(
    sample_fn: Callable[[np.ndarray], dict[str, np.ndarray]],
    num_samples: int,
    *,
    batch_size: int | None = None,
    shard_index: int = 0,
    num_shards: int = 1,
    shuffle_seed: int | None = None,
    drop_remainder: bool = False,
    num_parallel_calls: int | None = None,
) -> tf.data.Dataset:
    """The pipeline shared by the streamed and the stored dataset.

    Args:
      sample_fn: maps an int64 (batch,) array of sample indices to a dict of SAMPLE_FIELDS arrays; must
        be pure and thread-safe.
      num_samples: the number of samples in the whole dataset.
      batch_size: None for single elements, else batches of this size (the last one may be smaller
        unless drop_remainder).
      shard_index, num_shards: read only the contiguous shard `shard_range(num_samples, ...)`.
      shuffle_seed: None for index order; else the indices are shuffled (anew each epoch, reproducibly
        for a given seed). Shuffling changes the order, never a sample.
      drop_remainder: drop a last, smaller batch.
      num_parallel_calls: how many index batches are generated in parallel (default: tf.data.AUTOTUNE);
        the output order and content do not depend on it.

    Returns:
      A tf.data.Dataset of elements as in the module docstring, with known cardinality.
    """
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValueError(
            f"Argument `batch_size` must be None or a positive integer; received {batch_size!r}."
        )
    if shuffle_seed is not None and (isinstance(shuffle_seed, bool) or not isinstance(shuffle_seed, int)):
        raise TypeError(f"Argument `shuffle_seed` must be None or an integer; received {shuffle_seed!r}.")
    start, stop = shard_range(num_samples, shard_index, num_shards)
    indices = tf.data.Dataset.range(start, stop)
    if shuffle_seed is not None:
        indices = indices.shuffle(stop - start, seed=shuffle_seed, reshuffle_each_iteration=True)
    chunk = _DEFAULT_CHUNK if batch_size is None else batch_size
    indices = indices.batch(chunk, drop_remainder=batch_size is not None and drop_remainder)
    names = list(SAMPLE_FIELDS)
    dtypes = [tf.as_dtype(SAMPLE_FIELDS[name][0]) for name in names]

    def call_numpy(index_batch: np.ndarray) -> list[np.ndarray]:
        batch = sample_fn(index_batch)
        return [np.ascontiguousarray(batch[name], dtype=SAMPLE_FIELDS[name][0]) for name in names]

    def generate(index_batch: tf.Tensor) -> dict[str, tf.Tensor]:
        outputs = tf.numpy_function(call_numpy, [index_batch], dtypes, stateful=False)
        compact = {}
        for name, tensor in zip(names, outputs):
            tensor.set_shape((index_batch.shape[0], *SAMPLE_FIELDS[name][1]))
            compact[name] = tensor
        return _complete(compact)

    parallel = tf.data.AUTOTUNE if num_parallel_calls is None else num_parallel_calls
    dataset = indices.map(generate, num_parallel_calls=parallel, deterministic=True)
    if batch_size is None:
        dataset = dataset.unbatch().apply(tf.data.experimental.assert_cardinality(stop - start))
    return dataset.prefetch(tf.data.AUTOTUNE)


def make_dataset(
    variant: DatasetVariant,
    *,
    batch_size: int | None = None,
    textures: TexturePool | str | os.PathLike | None = None,
    mnist: MnistDigits | str | os.PathLike | None = None,
    sources: DataSources | None = None,
    shard_index: int = 0,
    num_shards: int = 1,
    shuffle_seed: int | None = None,
    drop_remainder: bool = False,
    num_parallel_calls: int | None = None,
) -> tf.data.Dataset:
    """A toy-dataset variant generated on the fly (paper Sec. 4.1, supplement S1.1).

    Sample i is a pure function of (variant, i) (see `generator`), so the elements are the same,
    bit for bit, whatever batch_size, sharding or parallelism, and equal to what `writer.write_dataset`
    materialises. Elements come in index order (digit i mod 10) unless shuffle_seed is set; training
    should shuffle.

    Args:
      variant: which dataset (strength, bias digit and texture, seed, split, size).
      batch_size: None for single elements, else batches of this size.
      textures: a TexturePool, a folder of texture images, or None for the 25 procedural textures.
      mnist: MnistDigits, a path to `mnist.npz` or an IDX folder, or None for the bundled 10k digits.
      sources: a `DataSources` resolved before (`resolve_sources`), instead of textures and mnist.
      shard_index, num_shards: stream only a contiguous part [start, stop) of the indices.
      shuffle_seed: None for index order, else reshuffled each epoch reproducibly.
      drop_remainder: drop a last, smaller batch.
      num_parallel_calls: parallel generator calls (default AUTOTUNE); never changes the output.

    Returns:
      tf.data.Dataset of dicts: image float32 (64, 64, 1) in [0, 1]; label int32 (64, 64) with 0..9
      digit, 10 background; r_gt, context, c_bias float32 (64, 64); digit int32; index int64;
      mnist_index int64; fg_texture, top_texture, bottom_texture int32; biased bool; bias_half int32
      (0 none, 1 top, 2 bottom); crop_offsets int32 (6,). With batch_size, a leading (batch,) dimension.

    Raises:
      ValueError, TypeError: on bad arguments (bias texture outside the pool, bad shard, ...).
      FileNotFoundError: if a source path does not exist.
    """
    sources = resolve_sources(textures, mnist, sources=sources)
    generator = SampleGenerator(variant, textures=sources.textures, mnist=sources.mnist)
    return dataset_from_sample_fn(
        generator.generate, variant.num_samples, batch_size=batch_size, shard_index=shard_index, num_shards=num_shards,
        shuffle_seed=shuffle_seed, drop_remainder=drop_remainder, num_parallel_calls=num_parallel_calls
    )
