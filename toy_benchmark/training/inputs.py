"""What the trainer reads: batches in a reproducible order, and the training set of a toy-dataset variant.

`prepare_batches` turns unbatched (image, label) elements into the batches of one epoch, shuffled by
a seed derived from (seed, epoch) only (`schedule.epoch_seed`). `toy_training_data` gives the training
set of a variant of the toy dataset (paper Sec. 4.1), streamed on the fly or read from a folder
written by `toy_benchmark.write_dataset`; a folder's shards are checked against their sha256 once,
before training, and the check is returned with the data so the trainer records it in its run.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

import tensorflow as tf

from toy_benchmark.data.manifest import dataset_config, read_manifest
from toy_benchmark.data.reader import load_dataset, verify_dataset
from toy_benchmark.data.sources import DataSources, resolve_sources
from toy_benchmark.data.streaming import make_dataset
from toy_benchmark.data.variant import DatasetVariant
from toy_benchmark.training.schedule import epoch_seed

__all__ = ["ToyTrainingData", "check_elements", "prepare_batches", "toy_training_data"]


def _as_image_label(element: Any) -> tuple[tf.Tensor, tf.Tensor]:
    if isinstance(element, Mapping):
        return element["image"], element["label"]
    return element[0], element[1]


def check_elements(dataset: Any, name: str) -> tf.data.Dataset:
    """Checks that `dataset` holds unbatched {"image", "label"} dicts or (image, label) pairs.

    Args:
        dataset: The dataset to check.
        name: The argument's name, for the error messages.

    Returns:
        `dataset`, unchanged.

    Raises:
        TypeError: If `dataset` is not a `tf.data.Dataset`.
        ValueError: If its elements are not image (height, width, channels) and label (height, width).
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"Argument `{name}` must be a tf.data.Dataset; received {type(dataset).__name__}.")
    spec = dataset.element_spec
    if isinstance(spec, Mapping):
        if "image" not in spec or "label" not in spec:
            raise ValueError(f"Argument `{name}` must have elements with keys 'image' and 'label'; received "
                             f"keys {sorted(spec)}.")
    elif not (isinstance(spec, tuple) and len(spec) >= 2):
        raise ValueError(f"Argument `{name}` must have elements that are dicts with 'image' and 'label' or "
                         f"(image, label) pairs; received {spec}.")
    image, label = _as_image_label(spec)
    if image.shape.rank != 3 or label.shape.rank not in (2, 3):
        raise ValueError(f"Argument `{name}` must hold unbatched elements: image (height, width, channels) "
                         f"and label (height, width); received image {image.shape} and label {label.shape}.")
    return dataset


def prepare_batches(dataset: tf.data.Dataset, *, batch_size: int, seed: int | None = None,
                    epoch: int = 0, shuffle_buffer: int = 0) -> tf.data.Dataset:
    """Batches of (images, labels) for one epoch, in an order that depends only on (seed, epoch).

    Args:
        dataset: Unbatched elements, {"image": (height, width, channels), "label": (height, width)}
            dicts or (image, label) pairs; images are cast to float32 and labels to int32.
        batch_size: Global batch size (split across replicas by tf.distribute).
        seed: Shuffling seed; None or `shuffle_buffer` <= 1 keeps the dataset's order.
        epoch: 0-based epoch index, mixed into the shuffling seed.
        shuffle_buffer: Size of the shuffle buffer (the whole dataset gives a full shuffle).

    Returns:
        A dataset of `(images (batch, height, width, channels) float32, labels (batch, height, width)
        int32)`; the last batch may be smaller.
    """
    def to_pair(*element):
        image, label = _as_image_label(element[0] if len(element) == 1 else element)
        label = tf.cast(label, tf.int32)
        if label.shape.rank == 3:
            label = tf.squeeze(label, -1)
        return tf.cast(image, tf.float32), label

    dataset = dataset.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if seed is not None and shuffle_buffer > 1:
        dataset = dataset.shuffle(shuffle_buffer, seed=epoch_seed(seed, epoch),
                                  reshuffle_each_iteration=False)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclasses.dataclass
class ToyTrainingData:
    """A toy-dataset training set, ready for `trainer.train`.

    Attributes:
        dataset_fn: `dataset_fn(shuffle_seed)` -> the training elements, fully shuffled by the seed.
        validation: Unbatched validation elements (the variant's test split), or None.
        info: The dataset's identity (its manifest config), part of the training run's settings.
        checks: What was verified about the data before training (e.g. the sha256 of every shard of a
            dataset folder), recorded in the training folder; empty for streamed data.
    """

    dataset_fn: Callable[[int], tf.data.Dataset]
    validation: tf.data.Dataset | None
    info: dict[str, Any]
    checks: dict[str, Any] = dataclasses.field(default_factory=dict)


def toy_training_data(variant: Mapping[str, Any] | None = None, *,
                      dataset_dir: str | os.PathLike | None = None, num_validation: int = 0,
                      textures: str | os.PathLike | None = None, mnist: str | os.PathLike | None = None,
                      sources: DataSources | None = None) -> ToyTrainingData:
    """The training set of a toy-dataset variant (paper Sec. 4.1), streamed or from a folder.

    Args:
        variant: Fields of `toy_benchmark.DatasetVariant` (strength, bias_digit, bias_texture, seed,
            num_samples) of the training split. Without `dataset_dir` the variant is generated on the
            fly; with it, every field given must equal the folder's manifest.
        dataset_dir: A folder written by the dataset writer (`write_dataset`), read instead of
            generating. Its shards are verified against their sha256 here, once (a damaged shard is
            refused, naming it); the epochs then read them without checking again.
        num_validation: Number of samples of the variant's test split to validate on (0: none).
        textures: Folder of texture images; None for the procedural pool.
        mnist: MNIST .npz or IDX folder; None for the bundled digits.
        sources: A `toy_benchmark.DataSources` resolved before, instead of `textures` and `mnist`.

    Returns:
        The training data.

    Raises:
        ValueError: If the variant is invalid, the folder holds no finished dataset, a shard is
            damaged, or its manifest does not match `variant`, `textures` or `mnist`.
        FileNotFoundError: If `dataset_dir` or a source path does not exist.
    """
    if isinstance(num_validation, bool) or not isinstance(num_validation, int) or num_validation < 0:
        raise ValueError(f"Argument `num_validation` must be a non-negative integer; received "
                         f"{num_validation!r}.")
    fields = dict(variant or {})
    if "split" in fields:
        raise ValueError(f"Argument `variant` must describe the training split and not name one; received "
                         f"{fields!r}.")
    sources = resolve_sources(textures, mnist, sources=sources)
    checks: dict[str, Any] = {}
    if dataset_dir is None:
        train_variant = DatasetVariant(**fields, split="train")
        info = dataset_config(train_variant, sources)

        def dataset_fn(shuffle_seed: int) -> tf.data.Dataset:
            return make_dataset(train_variant, sources=sources, shuffle_seed=shuffle_seed)
    else:
        if not os.path.isdir(dataset_dir):
            raise FileNotFoundError(f"Argument `dataset_dir` must be a folder; received "
                                    f"{str(dataset_dir)!r}.")
        info = read_manifest(dataset_dir).config
        saved = info["variant"]
        wrong = [f"{k}={v!r} (manifest: {saved.get(k)!r})"
                 for k, v in {**fields, "split": "train"}.items() if saved.get(k) != v]
        train_variant = DatasetVariant.from_config(saved)
        requested = dataset_config(train_variant, sources)
        wrong += [f"{k} fingerprint differs from the manifest's" for k in ("textures", "mnist")
                  if requested[k] != info[k]]
        if wrong:
            raise ValueError(f"Argument `dataset_dir` must hold the requested dataset; received "
                             f"{str(dataset_dir)!r}, which does not match: {', '.join(wrong)}.")
        checks = {"dataset": verify_dataset(dataset_dir)}

        def dataset_fn(shuffle_seed: int) -> tf.data.Dataset:
            return load_dataset(dataset_dir, shuffle_seed=shuffle_seed, verify=False)

    validation = None
    if num_validation:
        test_variant = dataclasses.replace(train_variant, split="test", num_samples=num_validation)
        validation = make_dataset(test_variant, sources=sources)
    return ToyTrainingData(dataset_fn=dataset_fn, validation=validation, info=info, checks=checks)
