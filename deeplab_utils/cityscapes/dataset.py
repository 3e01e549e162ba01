"""Reading the official Cityscapes layout: images, fine labels mapped to train ids, a tf.data pipeline.

The layout (Cordts et al., 2016) is ``<root>/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png``
with the fine labels beside it at ``<root>/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png``
(34 label ids, mapped to the 19 train ids with 255 ignored, :func:`deeplab_utils.labels.
cityscapes_label_ids_to_train_ids`). The paper uses the 500 images of ``val`` (supplement S2.1).

Every image is paired with its label map and both sizes are read from the PNG headers before any
work starts, so that a missing or mismatched file stops a run before it has spent time on others.
"""

from __future__ import annotations

import dataclasses
import os
import struct
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import tensorflow as tf

from deeplab_utils.labels import cityscapes_label_ids_to_train_ids

__all__ = ["CityscapesExample", "list_examples", "image_size", "check_sizes", "read_example",
           "make_image_dataset", "decode_in_order", "DECODE_PARALLELISM", "train_ids_of", "select_shard",
           "IMAGE_SUFFIX", "LABEL_SUFFIX"]

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclasses.dataclass(frozen=True)
class CityscapesExample:
    """One image of the data set and its fine labels.

    Attributes:
        name: ``"<city>/<city>_<seq>_<frame>"``, unique in a split; records and figures are named by it.
        image_path: The ``*_leftImg8bit.png`` file.
        label_path: The ``*_gtFine_labelIds.png`` file.
    """

    name: str
    image_path: Path
    label_path: Path


def list_examples(root: str | os.PathLike, split: str = "val",
                  cities: Sequence[str] | None = None) -> list[CityscapesExample]:
    """Every image of a split with its label file, sorted by name.

    Args:
        root: The Cityscapes folder holding ``leftImg8bit`` and ``gtFine``.
        split: ``"val"`` in the paper; any subfolder name.
        cities: Only these cities (subfolders); None for all.

    Returns:
        The examples, sorted by name.

    Raises:
        ValueError: If the split folder does not exist, holds no image, or an image has no label file.
    """
    root = Path(root)
    image_folder = root / "leftImg8bit" / split
    if not image_folder.is_dir():
        raise ValueError(f"Argument `dataset` must be a Cityscapes folder with leftImg8bit/{split}/<city>/"
                         f"*{IMAGE_SUFFIX}; received {str(root)!r} (no folder {str(image_folder)!r}).")
    city_folders = sorted(path for path in image_folder.iterdir() if path.is_dir())
    if cities is not None:
        known = {path.name for path in city_folders}
        unknown = [city for city in cities if city not in known]
        if unknown:
            raise ValueError(f"Argument `cities` must name cities of {str(image_folder)!r} "
                             f"({', '.join(sorted(known)) or 'none'}); received {unknown!r}.")
        city_folders = [path for path in city_folders if path.name in set(cities)]
    examples = []
    for city in city_folders:
        for image_path in sorted(city.glob(f"*{IMAGE_SUFFIX}")):
            stem = image_path.name[: -len(IMAGE_SUFFIX)]
            label_path = root / "gtFine" / split / city.name / f"{stem}{LABEL_SUFFIX}"
            if not label_path.is_file():
                raise ValueError(f"Argument `dataset` must hold the fine labels of every image; received "
                                 f"{str(root)!r}, where {str(label_path)!r} is missing for {image_path.name}.")
            examples.append(CityscapesExample(f"{city.name}/{stem}", image_path, label_path))
    if not examples:
        raise ValueError(f"Argument `dataset` must hold images *{IMAGE_SUFFIX} in leftImg8bit/{split}/<city>/; "
                         f"received {str(root)!r}, which holds none.")
    return examples


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of an image file, from the PNG header when it is a PNG (no decoding).

    Raises:
        ValueError: If the file cannot be read as an image.
    """
    with open(path, "rb") as stream:
        head = stream.read(24)
    if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return int(height), int(width)
    image = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"Argument `dataset` must hold readable images; received {str(path)!r}.")
    return int(image.shape[0]), int(image.shape[1])


def check_sizes(examples: Sequence[CityscapesExample]) -> list[tuple[int, int]]:
    """The size of each example, checking that its label map has the size of its image.

    Returns:
        ``(height, width)`` per example.

    Raises:
        ValueError: If a label map has another size than its image.
    """
    sizes = []
    for example in examples:
        size, label_size = image_size(example.image_path), image_size(example.label_path)
        if size != label_size:
            raise ValueError(f"Argument `dataset` must hold label maps of their image's size; received "
                             f"{str(example.label_path)!r} of {label_size[0]}x{label_size[1]} for an image of "
                             f"{size[0]}x{size[1]}.")
        sizes.append(size)
    return sizes


def _decode(path: Path, channels: int) -> np.ndarray:
    data = np.fromfile(path, np.uint8)
    flag = cv2.IMREAD_COLOR if channels == 3 else cv2.IMREAD_UNCHANGED
    array = cv2.imdecode(data, flag) if data.size else None
    if array is None:
        raise ValueError(f"Argument `dataset` must hold readable PNG files; received {str(path)!r}.")
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB) if channels == 3 else array


def read_example(example: CityscapesExample) -> tuple[np.ndarray, np.ndarray]:
    """The image and its ground truth in train ids.

    Returns:
        ``(image, labels)``: uint8 ``(height, width, 3)`` RGB and uint8 ``(height, width)`` with values
        0..18 or 255 (ignored).

    Raises:
        ValueError: If a file cannot be decoded, the label map is not one channel, or sizes differ.
    """
    image = _decode(example.image_path, 3)
    label_ids = _decode(example.label_path, 1)
    return image, _train_ids(label_ids, image.shape[:2], example.label_path)


def _train_ids(label_ids: np.ndarray, shape: tuple[int, int], path: Path) -> np.ndarray:
    if label_ids.ndim != 2 or not np.issubdtype(label_ids.dtype, np.integer):
        raise ValueError(f"Argument `dataset` must hold one-channel integer label maps; received "
                         f"{str(path)!r} of shape {label_ids.shape} and dtype {label_ids.dtype}.")
    if label_ids.shape != tuple(shape):
        raise ValueError(f"Argument `dataset` must hold label maps of their image's size; received "
                         f"{str(path)!r} of {label_ids.shape[0]}x{label_ids.shape[1]} for an image of "
                         f"{shape[0]}x{shape[1]}.")
    return cityscapes_label_ids_to_train_ids(label_ids)


#: Images decoded at once ahead of the consumer (the explanation of an image takes seconds, a decode
#: milliseconds, so two parallel decodes and one finished image waiting are enough).
DECODE_PARALLELISM = 2


def decode_in_order(dataset: tf.data.Dataset, load: Callable[..., Any]) -> tf.data.Dataset:
    """``dataset.map(load)`` in parallel and in order, one element ahead, with tf.data autotuning off.

    Autotuning is off on purpose: with it on, the iterator's ``next`` intermittently waited about as
    long as the optimisation that ran before it (1 to 2.5 s per image on 2 CPU cores, in 13 of 37
    runs of ``benchmarks/bench_coco.py`` and ``bench_cityscapes.py --sections share``), which put
    up to 30 % of a job's time outside the optimisation; with a fixed parallelism and autotuning off
    none of 19 runs waited (BENCHMARKS.md, "Cityscapes statistics", session 5).

    Args:
        dataset: Elements to decode (paths and indices).
        load: Maps one element to its decoded tensors.

    Returns:
        The decoding dataset.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return (dataset.map(load, num_parallel_calls=DECODE_PARALLELISM, deterministic=True).prefetch(1)
            .with_options(options))


def make_image_dataset(examples: Sequence[CityscapesExample]) -> tf.data.Dataset:
    """A tf.data pipeline decoding the examples in parallel, in order, one ahead of its consumer.

    Returns:
        A dataset of ``(index, image, label_ids)``: int64 scalar (position in `examples`), uint8
        ``(height, width, 3)`` and uint8 ``(height, width, 1)`` (label ids, not yet train ids; see
        :func:`train_ids_of`).
    """
    images = [os.fspath(example.image_path) for example in examples]
    labels = [os.fspath(example.label_path) for example in examples]
    dataset = tf.data.Dataset.from_tensor_slices((tf.range(len(examples), dtype=tf.int64), images, labels))

    def load(index: tf.Tensor, image_path: tf.Tensor, label_path: tf.Tensor):
        image = tf.io.decode_png(tf.io.read_file(image_path), channels=3)
        label = tf.io.decode_png(tf.io.read_file(label_path), channels=1)
        return index, image, label

    return decode_in_order(dataset, load)


def train_ids_of(label_ids: np.ndarray, example: CityscapesExample, shape: tuple[int, int]) -> np.ndarray:
    """Train ids ``(height, width)`` of a label map decoded by :func:`make_image_dataset`.

    Raises:
        ValueError: If the label map does not have the image's `shape`.
    """
    label_ids = np.asarray(label_ids)
    if label_ids.ndim == 3 and label_ids.shape[-1] == 1:
        label_ids = label_ids[..., 0]
    return _train_ids(label_ids, shape, example.label_path)


def select_shard(items: Sequence, num_shards: int, shard_index: int) -> list:
    """Items ``shard_index, shard_index + num_shards, ...``: a split that any number of shards covers once.

    Raises:
        ValueError: Unless ``0 <= shard_index < num_shards``.
    """
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"Argument `num_shards` must be an integer >= 1; received {num_shards!r}.")
    if isinstance(shard_index, bool) or not isinstance(shard_index, int) or not 0 <= shard_index < num_shards:
        raise ValueError(f"Argument `shard_index` must be an integer in [0, {num_shards}); received {shard_index!r}.")
    return list(items[shard_index::num_shards])
