"""Cityscapes, PASCAL VOC and COCO label definitions."""

import numpy as np
import pytest

from deeplab_utils import (
    CITYSCAPES,
    CITYSCAPES_LABEL_IDS,
    COCO_CATEGORY_IDS_OF_VOC,
    PASCAL_VOC,
    cityscapes_label_ids_to_train_ids,
    coco_categories_to_voc_labels,
    label_set_for,
    pascal_color_map,
)


def test_cityscapes_train_ids():
    assert CITYSCAPES.num_classes == 19
    assert CITYSCAPES.class_names == (
        "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
        "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle",
        "bicycle")
    assert tuple(CITYSCAPES.colors[CITYSCAPES.class_id("rider")]) == (255, 0, 0)
    assert tuple(CITYSCAPES.colors[CITYSCAPES.class_id("car")]) == (0, 0, 142)
    assert tuple(CITYSCAPES.colors[0]) == (128, 64, 128)
    assert len({tuple(c) for c in CITYSCAPES.colors}) == 19


def test_cityscapes_label_ids_map_to_train_ids():
    assert len(CITYSCAPES_LABEL_IDS) == 34 and CITYSCAPES_LABEL_IDS[26] == "car"
    label_ids = np.arange(-1, 40).reshape(1, -1)
    train_ids = cityscapes_label_ids_to_train_ids(label_ids)[0]
    expected = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11,
                25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
    for label_id, train_id in zip(range(-1, 40), train_ids):
        assert train_id == expected.get(label_id, 255), label_id
    # Every train id is hit exactly once, and names agree between the two tables.
    for label_id, train_id in expected.items():
        assert CITYSCAPES.class_names[train_id] == CITYSCAPES_LABEL_IDS[label_id]
    with pytest.raises(TypeError, match="label_ids"):
        cityscapes_label_ids_to_train_ids(np.zeros(3, np.float32))


def test_pascal_color_map_and_classes():
    colors = pascal_color_map(256)
    assert colors[:5].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]
    assert colors[15].tolist() == [192, 128, 128]  # person
    assert colors[255].tolist() == [224, 224, 192]  # the VOC boundary/ignore colour
    assert len({tuple(c) for c in colors}) == 256
    assert PASCAL_VOC.num_classes == 21 and PASCAL_VOC.class_names[15] == "person"
    np.testing.assert_array_equal(PASCAL_VOC.colors, colors[:21])


def test_coco_ids_of_voc_classes():
    assert set(COCO_CATEGORY_IDS_OF_VOC) == set(PASCAL_VOC.class_names[1:])
    assert len(set(COCO_CATEGORY_IDS_OF_VOC.values())) == 20
    assert COCO_CATEGORY_IDS_OF_VOC["person"] == 1 and COCO_CATEGORY_IDS_OF_VOC["tvmonitor"] == 72
    coco = np.array([[0, 1, 5, 90, 72, 64, 300]])
    voc = coco_categories_to_voc_labels(coco)
    assert voc.tolist() == [[0, 15, 1, 0, 20, 16, 0]]  # person, aeroplane, (toothbrush), tv, plant


def test_class_lookup_is_forgiving_and_errors_list_the_names():
    assert CITYSCAPES.class_id("Traffic_Sign") == 7
    assert PASCAL_VOC.class_id("airplane") == PASCAL_VOC.class_id("aeroplane") == 1
    assert PASCAL_VOC.class_id("dining table") == 11
    with pytest.raises(ValueError, match=r"Argument `name` must be a class of the cityscapes label set \(road, "
                                         r"sidewalk.*; received 'unicorn', which is not in the cityscapes label set\."):
        CITYSCAPES.class_id("unicorn")


def test_label_set_choice():
    assert label_set_for("auto", 19) is CITYSCAPES
    assert label_set_for(None, 21) is PASCAL_VOC
    assert label_set_for("coco", 21) is PASCAL_VOC
    generic = label_set_for("auto", 5)
    assert generic.class_names[4] == "class_4" and generic.colors.shape == (5, 3)
    with pytest.raises(ValueError, match="has 19 classes but the model predicts 21"):
        label_set_for("cityscapes", 21)
    with pytest.raises(ValueError, match=r"Argument `name` must be one of \['cityscapes', .*received 'ade20k'\."):
        label_set_for("ade20k", 150)


def test_colorize():
    labels = np.array([[0, 12], [255, 18]])
    rgb = CITYSCAPES.colorize(labels)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert rgb[0, 1].tolist() == [255, 0, 0] and rgb[1, 0].tolist() == [0, 0, 0]
