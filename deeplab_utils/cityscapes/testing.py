"""A Cityscapes-layout fixture and a model with a known context dependence, for tests and benchmarks.

No Cityscapes image can be used in tests, so :func:`write_cityscapes_fixture` writes small synthetic
street scenes in the official layout (``leftImg8bit``, ``gtFine`` label ids and instance ids). Every
pixel is painted in the Cityscapes colour of its class plus mild noise, except that persons and riders
share one colour: what tells them apart is a bicycle nearby.

:func:`context_model` is a Keras model (standard layers only, so it saves and loads as ``.keras``)
mapping 0..255 images to the 19 train-id probabilities with that rule built in:

- every class is recognised by its colour (nearest colour, ``logit_c = -||x - colour_c||^2 / T``): a car
  needs nothing but its own pixels (self-contained, supplement S2.2: its context saliency is empty);
- a person-coloured pixel is a rider if bicycle-coloured pixels lie within a window around it, else a
  person: ``logit_rider += s (2 b - 1) / 2``, ``logit_person -= s (2 b - 1) / 2`` with
  ``b = clip(gain * mean_window(exp(-||x - colour_bicycle||^2 / (2 sigma^2))) - offset, 0, 1)``.

So the context saliency of a rider must fall on the bicycle below it (as in Fig. S12 of the paper), and
a pedestrian beside a parked bicycle is predicted as a rider (an error request person/rider). It is an
instance of :func:`deeplab_utils.rule_model.color_rule_model`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import cv2
import keras
import numpy as np

from deeplab_utils.cityscapes.dataset import IMAGE_SUFFIX, LABEL_SUFFIX
from deeplab_utils.labels import CITYSCAPES, CITYSCAPES_LABEL_IDS
from deeplab_utils.rule_model import color_rule_model

__all__ = ["APPEARANCE_COLORS", "SCENE_OBJECTS", "street_scene", "write_cityscapes_fixture", "context_model"]

_TRAIN = {name: index for index, name in enumerate(CITYSCAPES.class_names)}
_LABEL_ID = {name: index for index, name in enumerate(CITYSCAPES_LABEL_IDS)}
#: The colour each class is painted in: its Cityscapes colour, but riders look like persons.
APPEARANCE_COLORS = CITYSCAPES.colors.astype(np.float32).copy()
APPEARANCE_COLORS[_TRAIN["rider"]] = APPEARANCE_COLORS[_TRAIN["person"]]
#: Objects a scene can hold: name -> parts (class, top, left, height, width), in pixels of a 64-row image.
SCENE_OBJECTS: dict[str, tuple[tuple[str, int, int, int, int], ...]] = {
    "rider_on_bicycle": (("bicycle", 52, 0, 8, 14), ("rider", 42, 3, 10, 8)),
    "person": (("person", 44, 0, 14, 7),),
    "person_beside_bicycle": (("person", 44, 0, 14, 7), ("bicycle", 50, 9, 8, 14)),
    "car": (("car", 46, 0, 12, 26),),
    "motorcycle": (("motorcycle", 50, 0, 8, 14),),
}
_GAP = 12


def _paint(labels: np.ndarray, instances: np.ndarray, name: str, box: tuple[int, int, int, int],
           instance: int = 0) -> None:
    top, left, bottom, right = box
    labels[top:bottom, left:right] = _LABEL_ID[name]
    instances[top:bottom, left:right] = _LABEL_ID[name] * 1000 + instance if instance else _LABEL_ID[name]


def street_scene(height: int = 64, width: int = 128, *, objects: Sequence[str] = ("rider_on_bicycle", "car"),
                 seed: int = 0, noise: float = 3.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic street: sky, buildings, vegetation, a pole with a sign, sidewalk, road, and objects.

    Args:
        height, width: Image size; the layout is drawn for 64 rows and scaled (keep width = 2 * height).
        objects: Names of :data:`SCENE_OBJECTS`, placed left to right on the road.
        seed: Seed of a ``numpy.random.Generator`` (positions, vegetation, noise).
        noise: Standard deviation of the Gaussian colour noise.

    Returns:
        ``(image, label_ids, instance_ids)``: uint8 RGB ``(height, width, 3)``, uint8 Cityscapes label ids
        ``(height, width)`` and uint16 instance ids (``label_id * 1000 + k`` for objects).

    Raises:
        ValueError: For an unknown object or objects that do not fit side by side.
    """
    rng = np.random.default_rng(seed)
    small_h, small_w = 64, 64 * width // height
    labels = np.full((small_h, small_w), _LABEL_ID["road"], np.uint8)
    instances = np.zeros((small_h, small_w), np.uint16)
    for name, box in (("sky", (0, 0, 13, small_w)), ("building", (13, 0, 32, small_w)),
                      ("sidewalk", (32, 0, 38, small_w)), ("road", (38, 0, 64, small_w))):
        _paint(labels, instances, name, box)
    for _ in range(2):
        left = int(rng.integers(0, small_w - 20))
        _paint(labels, instances, "vegetation", (16, left, 28, left + int(rng.integers(12, 20))))
    pole = int(rng.integers(4, small_w - 12))
    _paint(labels, instances, "pole", (12, pole, 38, pole + 4))
    _paint(labels, instances, "traffic sign", (8, pole - 3, 16, pole + 7))
    left = int(rng.integers(2, 8))
    for number, name in enumerate(objects, start=1):
        if name not in SCENE_OBJECTS:
            raise ValueError(f"Argument `objects` must name entries of {sorted(SCENE_OBJECTS)}; received {name!r}.")
        parts = SCENE_OBJECTS[name]
        extent = max(part[2] + part[4] for part in parts)
        if left + extent > small_w:
            raise ValueError(f"Argument `objects` must fit side by side into {small_w} columns; received {list(objects)}.")
        for part, top, offset, part_height, part_width in parts:
            _paint(labels, instances, part, (top, left + offset, top + part_height, left + offset + part_width),
                   instance=number)
        left += extent + _GAP + int(rng.integers(0, 4))
    size = (width, height)
    labels = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
    instances = cv2.resize(instances, size, interpolation=cv2.INTER_NEAREST)
    train = np.array([_TRAIN.get(name, 0) for name in CITYSCAPES_LABEL_IDS])[labels]
    image = APPEARANCE_COLORS[train] + rng.normal(0.0, noise, (height, width, 3))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), labels, instances


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = cv2.cvtColor(array, cv2.COLOR_RGB2BGR) if array.ndim == 3 else array
    if not cv2.imwrite(os.fspath(path), image):
        raise OSError(f"cannot write {str(path)!r}")


_DEFAULT_SCENES = (
    ("rider_on_bicycle", "car", "person"),
    ("car", "rider_on_bicycle", "motorcycle"),
    ("person_beside_bicycle", "car", "rider_on_bicycle"),
    ("rider_on_bicycle", "person", "car"),
)


def write_cityscapes_fixture(root: str | os.PathLike, *, split: str = "val", cities: Sequence[str] = ("aachen", "bochum"),
                             images_per_city: int = 2, height: int = 64, width: int = 128, seed: int = 0,
                             scenes: Sequence[Sequence[str]] = _DEFAULT_SCENES) -> list[str]:
    """Writes synthetic scenes in the official Cityscapes layout under `root`.

    Files per image: ``leftImg8bit/<split>/<city>/<city>_000000_0000NN_leftImg8bit.png`` and, under
    ``gtFine/<split>/<city>/``, ``..._gtFine_labelIds.png`` and ``..._gtFine_instanceIds.png`` (uint16).

    Args:
        root: Folder to write into (created).
        split, cities, images_per_city: Which files.
        height, width: Image size.
        seed: Image ``k`` uses seed ``seed + k``.
        scenes: Object lists (:data:`SCENE_OBJECTS`), used in turn.

    Returns:
        The image names ``"<city>/<city>_000000_0000NN"``, sorted.
    """
    root = Path(root)
    names = []
    for city_number, city in enumerate(cities):
        for frame in range(images_per_city):
            number = city_number * images_per_city + frame
            image, labels, instances = street_scene(height, width, objects=scenes[number % len(scenes)],
                                                    seed=seed + number)
            stem = f"{city}_000000_{frame:06d}"
            _write_png(root / "leftImg8bit" / split / city / f"{stem}{IMAGE_SUFFIX}", image)
            _write_png(root / "gtFine" / split / city / f"{stem}{LABEL_SUFFIX}", labels)
            _write_png(root / "gtFine" / split / city / f"{stem}_gtFine_instanceIds.png", instances)
            names.append(f"{city}/{stem}")
    return sorted(names)


def context_model(*, cell: int = 4, window: tuple[int, int] = (7, 5), temperature: float = 50.0, sigma: float = 30.0,
                  gain: float = 12.0, offset: float = 0.25, strength: float = 12.0) -> keras.Model:
    """The fixture model: colours to classes, and "rider" only with a bicycle nearby (module docstring).

    The arguments are those of :func:`deeplab_utils.rule_model.color_rule_model` (the bicycle's colour is
    the context colour; rider and person the two classes it decides between).

    Returns:
        A Keras model ``(batch, height, width, 3)`` in 0..255 -> ``(batch, height, width, 19)``
        probabilities, for any image size.
    """
    return color_rule_model(APPEARANCE_COLORS, APPEARANCE_COLORS[_TRAIN["bicycle"]], _TRAIN["rider"], _TRAIN["person"],
                            name="cityscapes_context_fixture", cell=cell, window=window, temperature=temperature,
                            sigma=sigma, gain=gain, offset=offset, strength=strength)
