"""A COCO-format fixture and two VOC models with known context use, for tests and benchmarks.

No COCO image can be used in tests, so :func:`write_coco_fixture` writes small synthetic scenes with an
instances file (polygons, compressed RLE, a crowd region in uncompressed RLE, a category absent from
VOC) and a COCO-Stuff file (compressed RLE, ids 92-182, 183 "other"), in COCO's format, read with
pycocotools. Every pixel is painted in the colour of its category (:data:`SCENE_COLORS`) plus noise.

The two models (:func:`water_boat_model`, :func:`self_contained_model`) map 0..255 images to the 21 VOC
probabilities by colour (:func:`deeplab_utils.rule_model.color_rule_model`); every colour that is not an
object's is nearest to background:

- ``water_boat_model`` reads context: a boat-coloured pixel is a boat only with water nearby, else a
  car (the two share the colour), so the context saliency of its boats must fall on the water;
- ``self_contained_model`` reads none: boats have a colour of their own, so its saliency is empty.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import cv2
import keras
import numpy as np
from pycocotools import mask as mask_utils

from deeplab_utils.coco.dataset import STUFF_OTHER_ID
from deeplab_utils.labels import COCO_CATEGORY_IDS_OF_VOC, PASCAL_VOC
from deeplab_utils.rule_model import color_rule_model

__all__ = ["THING_CATEGORIES", "STUFF_CATEGORIES", "SCENE_COLORS", "SCENES", "write_coco_fixture",
           "water_boat_model", "self_contained_model", "model_colors"]

#: Thing categories of the fixture: COCO id -> name (giraffe is not a VOC class).
THING_CATEGORIES = {1: "person", 3: "car", 5: "airplane", 7: "train", 9: "boat", 25: "giraffe"}
#: Stuff categories of the fixture (COCO-Stuff ids), and "other".
STUFF_CATEGORIES = {124: "grass", 147: "railroad", 149: "road", 155: "sea", 157: "sky-other", 183: "other"}
#: The colour each category is painted in (RGB).
SCENE_COLORS = {"person": (230, 180, 140), "car": (40, 200, 40), "airplane": (220, 220, 60), "train": (200, 60, 200),
                "boat": (200, 40, 40), "giraffe": (150, 120, 60), "grass": (110, 140, 110), "railroad": (95, 95, 95),
                "road": (125, 120, 120), "sea": (10, 30, 120), "sky-other": (135, 135, 145)}
_BACKGROUND_COLOR = (120.0, 120.0, 120.0)
_UNREACHABLE = (-1000.0, -1000.0, -1000.0)
#: Scenes at 64x128: stuff bands (name, top, bottom) and objects (name, top, left, height, width, how).
SCENES: dict[str, tuple[tuple[tuple[str, int, int], ...], tuple[tuple[str, int, int, int, int, str], ...]]] = {
    "boat_on_sea": ((("sky-other", 0, 24), ("sea", 24, 64)), (("boat", 30, 20, 12, 30, "polygon"),)),
    "boats_and_person": ((("sky-other", 0, 20), ("sea", 20, 64)),
                         (("boat", 26, 8, 10, 24, "rle"), ("boat", 40, 80, 12, 30, "polygon"),
                          ("person", 22, 60, 16, 6, "rle"))),
    "train_on_rails": ((("sky-other", 0, 22), ("grass", 22, 40), ("railroad", 40, 64)),
                       (("train", 28, 30, 20, 60, "polygon"),)),
    "crowd_and_giraffe": ((("sky-other", 0, 20), ("grass", 20, 50), ("road", 50, 64)),
                          (("person", 24, 4, 24, 30, "crowd"), ("person", 26, 10, 16, 8, "polygon"),
                           ("giraffe", 14, 70, 36, 20, "polygon"))),
}
_DEFAULT_SCENES = ("boat_on_sea", "boats_and_person", "train_on_rails", "boat_on_sea", "crowd_and_giraffe",
                   "boats_and_person")


def _rle(mask: np.ndarray) -> dict[str, Any]:
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(encoded["size"]), "counts": encoded["counts"].decode("ascii")}


def _uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    flat = mask.astype(np.uint8).ravel(order="F")
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    counts = np.diff(np.concatenate([[0], changes])).tolist()
    return {"size": list(mask.shape), "counts": counts}


def _segmentation(box: tuple[int, int, int, int], how: str, shape: tuple[int, int]) -> tuple[Any, np.ndarray]:
    top, left, bottom, right = box
    mask = np.zeros(shape, bool)
    mask[top:bottom, left:right] = True
    if how == "polygon":
        return [[left, top, right, top, right, bottom, left, bottom]], mask
    return (_uncompressed_rle(mask) if how == "crowd" else _rle(mask)), mask


def write_coco_fixture(root: str | os.PathLike, *, scenes: Sequence[str] = _DEFAULT_SCENES, height: int = 64,
                       width: int = 128, seed: int = 0, noise: float = 3.0, first_id: int = 1) -> dict[str, Path]:
    """Writes ``images/<id>.png``, ``annotations/instances.json`` and ``annotations/stuff.json`` under `root`.

    Args:
        root: Folder to write into (created).
        scenes: Names of :data:`SCENES`, one image each.
        height, width: Image size (the layouts are drawn for 64x128 and scaled).
        seed: Seed of the ``numpy.random.Generator`` of the colour noise.
        noise: Standard deviation of the Gaussian colour noise.
        first_id: Image id of the first image (another value makes "another image set").

    Returns:
        ``{"images": folder, "instances": file, "stuff": file}``.

    Raises:
        ValueError: For an unknown scene.
    """
    root, rng = Path(root), np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    ids = {name: key for key, name in {**THING_CATEGORIES, **STUFF_CATEGORIES}.items()}
    scale_y, scale_x = height / 64.0, width / 128.0
    images, things, stuff = [], [], []
    for number, scene in enumerate(scenes):
        if scene not in SCENES:
            raise ValueError(f"Argument `scenes` must name entries of {sorted(SCENES)}; received {scene!r}.")
        image_id = first_id + number
        canvas = np.zeros((height, width, 3), np.float64)
        bands, objects = SCENES[scene]
        covered = np.zeros((height, width), bool)
        for name, top, bottom in bands:
            box = (round(top * scale_y), 0, round(bottom * scale_y), width)
            segmentation, mask = _segmentation(box, "rle", (height, width))
            canvas[mask] = SCENE_COLORS[name]
            stuff.append({"id": len(stuff) + 1, "image_id": image_id, "category_id": ids[name], "iscrowd": 0,
                          "segmentation": segmentation, "area": float(mask.sum()), "bbox": [0, box[0], width,
                                                                                              box[2] - box[0]]})
        for name, top, left, size_y, size_x, how in objects:
            box = (round(top * scale_y), round(left * scale_x), round((top + size_y) * scale_y),
                   round((left + size_x) * scale_x))
            segmentation, mask = _segmentation(box, how, (height, width))
            canvas[mask & ~(covered if how == "crowd" else np.zeros_like(covered))] = SCENE_COLORS[name]
            covered |= mask if how != "crowd" else np.zeros_like(mask)
            things.append({"id": len(things) + 1, "image_id": image_id, "category_id": ids[name],
                           "iscrowd": int(how == "crowd"), "segmentation": segmentation, "area": float(mask.sum()),
                           "bbox": [box[1], box[0], box[3] - box[1], box[2] - box[0]]})
        other = _rle(covered)  # COCO-Stuff marks thing pixels as "other"
        stuff.append({"id": len(stuff) + 1, "image_id": image_id, "category_id": STUFF_OTHER_ID, "iscrowd": 0,
                      "segmentation": other, "area": float(covered.sum()), "bbox": [0, 0, width, height]})
        pixels = np.clip(np.rint(canvas + rng.normal(0.0, noise, canvas.shape)), 0, 255).astype(np.uint8)
        file_name = f"{image_id:012d}.png"
        if not cv2.imwrite(os.fspath(root / "images" / file_name), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)):
            raise OSError(f"cannot write {file_name!r}")
        images.append({"id": image_id, "file_name": file_name, "height": height, "width": width})
    thing_categories = [{"id": key, "name": name, "supercategory": "thing"} for key, name in THING_CATEGORIES.items()]
    stuff_categories = [{"id": key, "name": name, "supercategory": "stuff"} for key, name in STUFF_CATEGORIES.items()]
    paths = {"images": root / "images", "instances": root / "annotations" / "instances.json",
             "stuff": root / "annotations" / "stuff.json"}
    for key, annotations, categories in (("instances", things, thing_categories), ("stuff", stuff, stuff_categories)):
        paths[key].write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return paths



def model_colors(*, boat_like_car: bool) -> np.ndarray:
    """The 21 VOC colours of the fixture models: background grey, the fixture's objects in their scene
    colours, other classes unreachable; with `boat_like_car`, cars are recognised by the boat's colour."""
    colors = np.array([_UNREACHABLE] * PASCAL_VOC.num_classes)
    colors[0] = _BACKGROUND_COLOR
    for coco_id, name in THING_CATEGORIES.items():
        voc_name = next((voc for voc, key in COCO_CATEGORY_IDS_OF_VOC.items() if key == coco_id), None)
        if voc_name is not None:
            colors[PASCAL_VOC.class_id(voc_name)] = SCENE_COLORS[name]
    if boat_like_car:
        colors[PASCAL_VOC.class_id("car")] = SCENE_COLORS["boat"]
    return colors


def water_boat_model() -> keras.Model:
    """A VOC model that predicts "boat" only with water nearby, else "car" (module docstring)."""
    return color_rule_model(model_colors(boat_like_car=True), np.array(SCENE_COLORS["sea"], np.float64),
                            PASCAL_VOC.class_id("boat"), PASCAL_VOC.class_id("car"), name="water_boat_fixture")


def self_contained_model() -> keras.Model:
    """A VOC model that recognises every class by its own colour: it needs no context (module docstring)."""
    return color_rule_model(model_colors(boat_like_car=False), np.array(SCENE_COLORS["sea"], np.float64),
                            PASCAL_VOC.class_id("boat"), PASCAL_VOC.class_id("car"), strength=0.0,
                            name="self_contained_fixture")
