"""Label sets of the DeepLab models explained in the paper: Cityscapes, PASCAL VOC, and COCO -> VOC.

- Cityscapes (Hoyer et al., Sec. 5 and supplement S2): the 19 train ids the DeepLab Cityscapes models
  predict, with names and colours, and the mapping of the 34 label ids of ``gtFine_labelIds.png`` to train
  ids (255 = ignored). The table is the one of the official ``cityscapesscripts/helpers/labels.py``
  (cross-checked entry by entry); it is kept here rather than importing ``cityscapesscripts``, whose
  install pulls five further packages (among them the ``typing`` backport) for a 35-row constant.
- PASCAL VOC 2012: 21 classes (background + 20) and the DeepLab colour map (the bit-interleaving map of
  the VOC development kit, ``create_pascal_label_colormap`` in research/deeplab/utils/get_dataset_colormap.py).
- COCO (supplement S3 explains the PASCAL models on COCO images): the COCO category ids of the 20 VOC
  classes, to turn COCO annotations into VOC labels.
"""

from __future__ import annotations

import dataclasses
import numpy as np

__all__ = [
    "LabelSet",
    "CITYSCAPES",
    "PASCAL_VOC",
    "CITYSCAPES_LABEL_IDS",
    "COCO_CATEGORY_IDS_OF_VOC",
    "IGNORE_LABEL",
    "cityscapes_label_ids_to_train_ids",
    "coco_categories_to_voc_labels",
    "pascal_color_map",
    "label_set_for",
]

IGNORE_LABEL = 255


def _normalise(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").replace("-", " ").split())


@dataclasses.dataclass(frozen=True)
class LabelSet:
    """Class names and colours of a segmentation model's output channels.

    Attributes:
        name: The data set (``"cityscapes"``, ``"pascal_voc"``).
        class_names: Name of output channel ``i``.
        colors: uint8 array ``(classes, 3)``, RGB.
        aliases: Other accepted spellings, e.g. COCO's ``"airplane"`` for VOC's ``"aeroplane"``.
    """

    name: str
    class_names: tuple[str, ...]
    colors: np.ndarray
    aliases: tuple[tuple[str, str], ...] = ()

    @property
    def num_classes(self) -> int:
        """Number of output channels."""
        return len(self.class_names)

    def class_id(self, name: str) -> int:
        """The output channel of a class name (case, spaces, ``_`` and ``-`` do not matter).

        Raises:
            ValueError: If the label set has no such class; the message lists the names it has.
        """
        wanted = _normalise(name)
        lookup = {_normalise(class_name): index for index, class_name in enumerate(self.class_names)}
        lookup.update({_normalise(alias): lookup[_normalise(target)] for alias, target in self.aliases})
        if wanted not in lookup:
            raise ValueError(
                f"Argument `name` must be a class of the {self.name} label set ({', '.join(self.class_names)}); "
                f"received {name!r}, which is not in the {self.name} label set."
            )
        return lookup[wanted]

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """uint8 RGB image ``(height, width, 3)`` of integer labels ``(height, width)``; ids outside the
        label set (e.g. 255) are black."""
        labels = np.asarray(labels)
        table = np.zeros((256, 3), np.uint8)
        table[: self.num_classes] = self.colors
        return table[np.clip(labels, 0, 255).astype(np.intp)]


# name, label id, train id, colour (cityscapesscripts/helpers/labels.py; "license plate" has id -1 and
# appears only in instance annotations, so it is left out of the 34 label ids).
_CITYSCAPES_TABLE: tuple[tuple[str, int, int, tuple[int, int, int]], ...] = (
    ("unlabeled", 0, 255, (0, 0, 0)),
    ("ego vehicle", 1, 255, (0, 0, 0)),
    ("rectification border", 2, 255, (0, 0, 0)),
    ("out of roi", 3, 255, (0, 0, 0)),
    ("static", 4, 255, (0, 0, 0)),
    ("dynamic", 5, 255, (111, 74, 0)),
    ("ground", 6, 255, (81, 0, 81)),
    ("road", 7, 0, (128, 64, 128)),
    ("sidewalk", 8, 1, (244, 35, 232)),
    ("parking", 9, 255, (250, 170, 160)),
    ("rail track", 10, 255, (230, 150, 140)),
    ("building", 11, 2, (70, 70, 70)),
    ("wall", 12, 3, (102, 102, 156)),
    ("fence", 13, 4, (190, 153, 153)),
    ("guard rail", 14, 255, (180, 165, 180)),
    ("bridge", 15, 255, (150, 100, 100)),
    ("tunnel", 16, 255, (150, 120, 90)),
    ("pole", 17, 5, (153, 153, 153)),
    ("polegroup", 18, 255, (153, 153, 153)),
    ("traffic light", 19, 6, (250, 170, 30)),
    ("traffic sign", 20, 7, (220, 220, 0)),
    ("vegetation", 21, 8, (107, 142, 35)),
    ("terrain", 22, 9, (152, 251, 152)),
    ("sky", 23, 10, (70, 130, 180)),
    ("person", 24, 11, (220, 20, 60)),
    ("rider", 25, 12, (255, 0, 0)),
    ("car", 26, 13, (0, 0, 142)),
    ("truck", 27, 14, (0, 0, 70)),
    ("bus", 28, 15, (0, 60, 100)),
    ("caravan", 29, 255, (0, 0, 90)),
    ("trailer", 30, 255, (0, 0, 110)),
    ("train", 31, 16, (0, 80, 100)),
    ("motorcycle", 32, 17, (0, 0, 230)),
    ("bicycle", 33, 18, (119, 11, 32)),
)

#: Name of each of the 34 Cityscapes label ids (0..33) of ``gtFine_labelIds.png``.
CITYSCAPES_LABEL_IDS: tuple[str, ...] = tuple(row[0] for row in _CITYSCAPES_TABLE)

_train_rows = sorted((row for row in _CITYSCAPES_TABLE if row[2] != IGNORE_LABEL), key=lambda row: row[2])
CITYSCAPES = LabelSet(
    name="cityscapes",
    class_names=tuple(row[0] for row in _train_rows),
    colors=np.array([row[3] for row in _train_rows], np.uint8),
    aliases=(("motorbike", "motorcycle"), ("bike", "bicycle")),
)

_LABEL_ID_TO_TRAIN_ID = np.full(256, IGNORE_LABEL, np.uint8)
for _name, _label_id, _train_id, _ in _CITYSCAPES_TABLE:
    _LABEL_ID_TO_TRAIN_ID[_label_id] = _train_id


def _lookup(ids: np.ndarray, table: np.ndarray, outside: int, name: str) -> np.ndarray:
    """``table[ids]`` for ids in 0..255, `outside` for others; uint8."""
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"Argument `{name}` must be an integer array; received dtype {ids.dtype}.")
    valid = (ids >= 0) & (ids < 256)
    return np.where(valid, table[np.clip(ids, 0, 255)], outside).astype(np.uint8)


def cityscapes_label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Maps Cityscapes label ids (``gtFine_labelIds.png``, 0..33) to the 19 train ids; others -> 255.

    Args:
        label_ids: Integer array of any shape.

    Returns:
        uint8 array of the same shape with values in 0..18 or 255.

    Raises:
        TypeError: If `label_ids` is not an integer array.
    """
    return _lookup(label_ids, _LABEL_ID_TO_TRAIN_ID, IGNORE_LABEL, "label_ids")


def pascal_color_map(num_classes: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map used by DeepLab: bits of the label spread over R, G, B, high bit first.

    Args:
        num_classes: Number of entries.

    Returns:
        uint8 array ``(num_classes, 3)``.
    """
    labels = np.arange(num_classes)
    colors = np.zeros((num_classes, 3), np.int64)
    for shift in range(7, -1, -1):
        for channel in range(3):
            colors[:, channel] |= ((labels >> channel) & 1) << shift
        labels = labels >> 3
    return colors.astype(np.uint8)


PASCAL_VOC = LabelSet(
    name="pascal_voc",
    class_names=(
        "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
        "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
        "train", "tvmonitor",
    ),
    colors=pascal_color_map(21),
    aliases=(("airplane", "aeroplane"), ("dining table", "diningtable"), ("motorcycle", "motorbike"),
             ("potted plant", "pottedplant"), ("couch", "sofa"), ("tv", "tvmonitor")),
)

#: COCO category id (instances annotations, 1..90) of each VOC class name.
COCO_CATEGORY_IDS_OF_VOC: dict[str, int] = {
    "aeroplane": 5, "bicycle": 2, "bird": 16, "boat": 9, "bottle": 44, "bus": 6, "car": 3, "cat": 17,
    "chair": 62, "cow": 21, "diningtable": 67, "dog": 18, "horse": 19, "motorbike": 4, "person": 1,
    "pottedplant": 64, "sheep": 20, "sofa": 63, "train": 7, "tvmonitor": 72,
}

_COCO_TO_VOC = np.zeros(256, np.uint8)
for _voc_name, _coco_id in COCO_CATEGORY_IDS_OF_VOC.items():
    _COCO_TO_VOC[_coco_id] = PASCAL_VOC.class_names.index(_voc_name)


def coco_categories_to_voc_labels(category_ids: np.ndarray) -> np.ndarray:
    """Maps COCO category ids to VOC labels: the 20 VOC classes keep their meaning, others -> 0.

    Args:
        category_ids: Integer array of any shape (e.g. a per-pixel COCO category map, 0 = none).

    Returns:
        uint8 array of the same shape with values in 0..20.

    Raises:
        TypeError: If `category_ids` is not an integer array.
    """
    return _lookup(category_ids, _COCO_TO_VOC, 0, "category_ids")


def label_set_for(name: str | None, num_classes: int) -> LabelSet:
    """The label set called `name`, or the one with `num_classes` classes when `name` is None/"auto".

    Args:
        name: ``"cityscapes"``, ``"pascal_voc"`` (or ``"pascal"``, ``"voc"``, ``"coco"`` for the PASCAL
            models run on COCO images), ``"auto"`` or None.
        num_classes: The model's number of output channels.

    Returns:
        The label set; for an unknown class count with ``"auto"``, generic names ``class_0``, ... and the
        PASCAL colour map.

    Raises:
        ValueError: If `name` is unknown or its label set has a different number of classes.
    """
    known = {"cityscapes": CITYSCAPES, "pascal_voc": PASCAL_VOC, "pascal": PASCAL_VOC,
             "voc": PASCAL_VOC, "coco": PASCAL_VOC}
    if name in (None, "auto"):
        for label_set in (CITYSCAPES, PASCAL_VOC):
            if label_set.num_classes == num_classes:
                return label_set
        return LabelSet("generic", tuple(f"class_{i}" for i in range(num_classes)),
                        pascal_color_map(num_classes))
    if name not in known:
        raise ValueError(f"Argument `name` must be one of {sorted(known) + ['auto']}; received {name!r}.")
    label_set = known[name]
    if label_set.num_classes != num_classes:
        raise ValueError(
            f"Argument `name` must be a label set of {num_classes} classes, as the model predicts; received "
            f"{name!r}, which has {label_set.num_classes} classes but the model predicts {num_classes}."
        )
    return label_set
