"""COCO images and annotations for the architecture comparison (Hoyer et al., NeurIPS 2019, supplement S3).

The images of an instances annotation file (``instances_val2017.json``) in an image folder, read with
``pycocotools``; optionally the COCO-Stuff annotation file of the same images (``stuff_val2017.json``,
the same format: RLE segmentations, category ids 92-182, 183 "other"). Everything is checked before any
work: the files parse as COCO annotations, every image they list is in the folder (an annotation file of
another image set names files the folder does not hold), and a stuff file lists the same images.

Two label maps per image (:func:`ground_truth_maps`, the choices of docs/coco.md):

- **VOC ground truth** (uint8, for the models' pixel accuracy): COCO categories that are VOC classes get
  the VOC label id (:data:`deeplab_utils.labels.COCO_CATEGORY_IDS_OF_VOC`); categories absent from VOC and
  unannotated pixels are background (0), which is what a VOC model should predict there; crowd regions
  are ignored (255).
- **Context labels** (int32, for the saliency-weighted histograms): an index into the context classes,
  COCO's thing categories then, with COCO-Stuff, its stuff categories (water, railroad, grass, road,
  sky, ...; "other" left out); unannotated pixels (and COCO-Stuff's "other") get the ignored index
  ``len(context_classes)``. Crowd regions keep their category (a crowd of people is people).

Painting order, where annotations overlap: stuff first, then crowd regions, then instances from the
largest to the smallest area (ties by annotation id), so a smaller object on a larger one stays visible.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tensorflow as tf
from pycocotools.coco import COCO

from deeplab_utils.cityscapes.dataset import decode_in_order, select_shard
from deeplab_utils.labels import COCO_CATEGORY_IDS_OF_VOC, IGNORE_LABEL, PASCAL_VOC

__all__ = ["CocoImage", "CocoDataset", "STUFF_OTHER_ID", "load_dataset", "ground_truth_maps", "make_image_dataset"]

#: COCO-Stuff's "other" category: pixels of things in the stuff annotations; not a context class.
STUFF_OTHER_ID = 183
_VOC_OF_COCO = {coco_id: PASCAL_VOC.class_names.index(name) for name, coco_id in COCO_CATEGORY_IDS_OF_VOC.items()}


@dataclasses.dataclass(frozen=True)
class CocoImage:
    """One image of the annotation file.

    Attributes:
        name: The file name without its suffix (``"000000000139"``); records are named by it.
        image_id: COCO's image id.
        path: The image file.
        height, width: Its size, as the annotation file states it.
    """

    name: str
    image_id: int
    path: Path
    height: int
    width: int


@dataclasses.dataclass(frozen=True)
class CocoDataset:
    """The images and their annotations.

    Attributes:
        images: The images, sorted by name.
        instances: The instances annotations (pycocotools).
        stuff: The COCO-Stuff annotations, or None.
        context_classes: Names of the context classes: things by category id, then stuff.
        context_ids: COCO category id of each context class.
    """

    images: tuple[CocoImage, ...]
    instances: COCO
    stuff: COCO | None
    context_classes: tuple[str, ...]
    context_ids: tuple[int, ...]

    def shard(self, num_shards: int, shard_index: int) -> CocoDataset:
        """The images ``shard_index, shard_index + num_shards, ...`` with the same annotations.

        Raises:
            ValueError: Unless ``0 <= shard_index < num_shards``
                (:func:`~deeplab_utils.cityscapes.dataset.select_shard`).
        """
        return dataclasses.replace(self, images=tuple(select_shard(self.images, num_shards, shard_index)))

    @property
    def ignored_index(self) -> int:
        """The context label of unannotated pixels: ``len(context_classes)``."""
        return len(self.context_classes)


def _read_coco(path: str | os.PathLike, argument: str) -> COCO:
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"Argument `{argument}` must be a readable COCO annotation file; received {str(path)!r} "
                         f"({type(error).__name__}).") from None
    if not isinstance(content, dict) or not all(isinstance(content.get(key), list)
                                                for key in ("images", "annotations", "categories")):
        raise ValueError(f"Argument `{argument}` must be a COCO annotation file with lists 'images', 'annotations' "
                         f"and 'categories'; received {str(path)!r}.")
    coco = COCO()
    coco.dataset = content
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco.createIndex()
    return coco


def load_dataset(image_dir: str | os.PathLike, instances_file: str | os.PathLike,
                 stuff_file: str | os.PathLike | None = None, *, max_images: int = 0) -> CocoDataset:
    """Reads and checks the annotation files against the image folder (module docstring).

    Args:
        image_dir: The folder of the images (``val2017``).
        instances_file: ``instances_val2017.json``.
        stuff_file: ``stuff_val2017.json``, or None (context classes are then the things only).
        max_images: Keep the first N images by name (0: all).

    Returns:
        The :class:`CocoDataset`.

    Raises:
        ValueError: If a file is not a COCO annotation file, the folder lacks an image the file lists (an
            annotation file of another image set), the stuff file lists other images, or nothing is left.
    """
    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 0:
        raise ValueError(f"Argument `max_images` must be an integer >= 0; received {max_images!r}.")
    folder = Path(image_dir)
    if not folder.is_dir():
        raise ValueError(f"Argument `images` must be a folder of COCO images; received {str(folder)!r}.")
    instances = _read_coco(instances_file, "instances")
    entries = sorted(instances.dataset["images"], key=lambda entry: str(entry.get("file_name")))
    if not entries:
        raise ValueError(f"Argument `instances` must list at least one image; received {str(instances_file)!r}.")
    missing = [entry.get("file_name") for entry in entries if not (folder / str(entry.get("file_name"))).is_file()]
    if missing:
        raise ValueError(f"Argument `images` must hold every image of the annotation file; received {str(folder)!r}, "
                         f"which lacks {len(missing)} of {len(entries)} (first {missing[0]!r}): is "
                         f"{str(instances_file)!r} the annotation file of another image set?")
    stuff = None
    if stuff_file is not None:
        stuff = _read_coco(stuff_file, "stuff")
        if {entry["id"] for entry in stuff.dataset["images"]} != {entry["id"] for entry in entries}:
            raise ValueError(f"Argument `stuff` must annotate the images of `instances`; received {str(stuff_file)!r}, "
                             f"which lists {len(stuff.dataset['images'])} images of another set.")
    try:
        images = tuple(CocoImage(Path(str(entry["file_name"])).stem, int(entry["id"]), folder / str(entry["file_name"]),
                                 int(entry["height"]), int(entry["width"])) for entry in entries)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"Argument `instances` must give every image an id, file_name, height and width; received "
                         f"{str(instances_file)!r} ({type(error).__name__}: {error}).") from None
    if max_images:
        images = images[:max_images]
    categories = sorted(instances.dataset["categories"], key=lambda category: category["id"])
    if stuff is not None:
        categories += sorted((category for category in stuff.dataset["categories"]
                              if category["id"] != STUFF_OTHER_ID), key=lambda category: category["id"])
    return CocoDataset(images, instances, stuff, tuple(str(category["name"]) for category in categories),
                       tuple(int(category["id"]) for category in categories))


def _annotations(coco: COCO, image_id: int) -> list[dict[str, Any]]:
    annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image_id], iscrowd=None))
    return sorted(annotations, key=lambda ann: (not ann.get("iscrowd", 0), -float(ann.get("area", 0)), ann["id"]))


def ground_truth_maps(dataset: CocoDataset, image: CocoImage) -> tuple[np.ndarray, np.ndarray]:
    """The VOC ground truth and the context labels of one image (module docstring).

    Returns:
        ``(voc, context)``: uint8 ``(height, width)`` with VOC ids 0..20 or 255 (crowd), and int32
        ``(height, width)`` with context class indices or ``dataset.ignored_index``.
    """
    index_of = {category_id: index for index, category_id in enumerate(dataset.context_ids)}
    voc = np.zeros((image.height, image.width), np.uint8)
    context = np.full((image.height, image.width), dataset.ignored_index, np.int32)
    sources = ([dataset.stuff] if dataset.stuff is not None else []) + [dataset.instances]
    for coco in sources:
        for annotation in _annotations(coco, image.image_id):
            mask = coco.annToMask(annotation).astype(bool)
            category = int(annotation["category_id"])
            context[mask] = index_of.get(category, dataset.ignored_index)
            if coco is dataset.instances:
                voc[mask] = IGNORE_LABEL if annotation.get("iscrowd", 0) else _VOC_OF_COCO.get(category, 0)
    return voc, context


def make_image_dataset(images: Sequence[CocoImage]) -> tf.data.Dataset:
    """A tf.data pipeline decoding the images (JPEG or PNG, as RGB) in parallel, in order, one ahead.

    Returns:
        A dataset of ``(index, image)``: int64 scalar (position in `images`) and uint8 ``(height, width, 3)``.
    """
    paths = [os.fspath(image.path) for image in images]
    dataset = tf.data.Dataset.from_tensor_slices((tf.range(len(images), dtype=tf.int64), paths))

    def load(index: tf.Tensor, path: tf.Tensor):
        return index, tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)

    return decode_in_order(dataset, load)
