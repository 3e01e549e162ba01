"""COCO annotations to label maps (pycocotools): VOC ids, context classes, crowd, overlaps, bad files."""

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from deeplab_utils.coco.dataset import ground_truth_maps, load_dataset
from deeplab_utils.coco.testing import SCENE_COLORS, write_coco_fixture
from deeplab_utils.labels import PASCAL_VOC

VOC = PASCAL_VOC.class_id


def _rle(mask):
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(encoded["size"]), "counts": encoded["counts"].decode("ascii")}


def _write(folder, name, annotations, categories):
    path = folder / name
    path.write_text(json.dumps({"images": [{"id": 7, "file_name": "a.png", "height": 8, "width": 8}],
                                "annotations": annotations, "categories": categories}))
    return path


@pytest.fixture
def hand_made(tmp_path):
    """An 8x8 image: a dog (polygon), a person on it (RLE), a crowd of people (uncompressed RLE), a giraffe
    (not a VOC class); stuff: grass on the top half, "other" elsewhere, the bottom-right pixel unannotated."""
    (tmp_path / "a.png").write_bytes(b"")
    dog = [[0, 0, 6, 0, 6, 6, 0, 6]]  # rows 0..5, columns 0..5, area 36
    person = np.zeros((8, 8), bool)
    person[2:4, 2:4] = True  # area 4, on the dog: smaller instances are painted last
    crowd = np.zeros((8, 8), bool)
    crowd[6:8, 0:2] = True
    crowd_rle = {"size": [8, 8], "counts": [6, 2, 6, 2, 48]}  # column-major runs of zeros and ones
    assert np.array_equal(mask_utils.decode(mask_utils.frPyObjects(crowd_rle, 8, 8)), crowd.astype(np.uint8))
    giraffe = [[6, 0, 8, 0, 8, 4, 6, 4]]  # rows 0..3, columns 6..7
    things = [{"id": 1, "image_id": 7, "category_id": 18, "iscrowd": 0, "segmentation": dog, "area": 36.0},
              {"id": 2, "image_id": 7, "category_id": 1, "iscrowd": 0, "segmentation": _rle(person), "area": 4.0},
              {"id": 3, "image_id": 7, "category_id": 1, "iscrowd": 1, "segmentation": crowd_rle, "area": 4.0},
              {"id": 4, "image_id": 7, "category_id": 25, "iscrowd": 0, "segmentation": giraffe, "area": 8.0}]
    categories = [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}, {"id": 25, "name": "giraffe"}]
    grass, other = np.zeros((8, 8), bool), np.zeros((8, 8), bool)
    grass[:4] = True
    other[4:] = True
    other[7, 7] = False
    stuff = [{"id": 1, "image_id": 7, "category_id": 124, "iscrowd": 0, "segmentation": _rle(grass), "area": 32.0},
             {"id": 2, "image_id": 7, "category_id": 183, "iscrowd": 0, "segmentation": _rle(other), "area": 31.0}]
    return (tmp_path, _write(tmp_path, "instances.json", things, categories),
            _write(tmp_path, "stuff.json", stuff, [{"id": 124, "name": "grass"}, {"id": 183, "name": "other"}]))


def test_voc_labels_crowd_overlaps_and_a_category_absent_from_voc(hand_made):
    folder, instances, _ = hand_made
    dataset = load_dataset(folder, instances)
    voc, context = ground_truth_maps(dataset, dataset.images[0])
    expected = np.zeros((8, 8), np.uint8)
    expected[:6, :6] = VOC("dog")
    expected[2:4, 2:4] = VOC("person")  # the smaller instance on top of the larger one
    expected[6:8, 0:2] = 255  # crowd: ignored in the VOC ground truth
    # the giraffe (not in VOC) is background for a VOC model
    np.testing.assert_array_equal(voc, expected)
    assert dataset.context_classes == ("person", "dog", "giraffe")
    person, dog, giraffe, unlabelled = 0, 1, 2, 3
    assert dataset.ignored_index == unlabelled
    expected = np.full((8, 8), unlabelled)
    expected[:6, :6] = dog
    expected[2:4, 2:4] = person
    expected[6:8, 0:2] = person  # a crowd of people is people as context
    expected[0:4, 6:8] = giraffe  # kept as a context class
    np.testing.assert_array_equal(context, expected)


def test_stuff_adds_context_classes_and_other_stays_unlabelled(hand_made):
    folder, instances, stuff = hand_made
    dataset = load_dataset(folder, instances, stuff)
    assert dataset.context_classes == ("person", "dog", "giraffe", "grass")  # "other" (183) is no class
    _, context = ground_truth_maps(dataset, dataset.images[0])
    person, dog, giraffe, grass, unlabelled = 0, 1, 2, 3, dataset.ignored_index
    expected = np.full((8, 8), unlabelled)  # "other" and the unannotated pixel
    expected[:4] = grass
    expected[:6, :6] = dog  # things are painted over stuff
    expected[2:4, 2:4] = person
    expected[6:8, 0:2] = person
    expected[0:4, 6:8] = giraffe
    np.testing.assert_array_equal(context, expected)


def test_the_fixture_reads_back_with_its_colours(tmp_path):
    paths = write_coco_fixture(tmp_path, noise=0.0)
    dataset = load_dataset(paths["images"], paths["instances"], paths["stuff"])
    assert len(dataset.images) == 6 and "sea" in dataset.context_classes
    import cv2

    for image in dataset.images:
        voc, context = ground_truth_maps(dataset, image)
        pixels = cv2.cvtColor(cv2.imread(str(image.path)), cv2.COLOR_BGR2RGB)
        colors = np.array([SCENE_COLORS[name] for name in dataset.context_classes])
        labelled = context < dataset.ignored_index
        assert labelled.all()
        np.testing.assert_array_equal(pixels[labelled], colors[context[labelled]])
        assert set(np.unique(voc)) <= {0, 255, VOC("boat"), VOC("person"), VOC("train")}


def test_annotations_of_another_image_set_or_missing_images_are_refused(tmp_path):
    paths = write_coco_fixture(tmp_path / "a")
    other = write_coco_fixture(tmp_path / "b", first_id=100)
    with pytest.raises(ValueError, match=r"lacks 6 of 6 \(first '000000000100.png'\).*another image set"):
        load_dataset(paths["images"], other["instances"])
    with pytest.raises(ValueError, match="Argument `stuff` must annotate the images of `instances`"):
        load_dataset(paths["images"], paths["instances"], other["stuff"])
    (paths["images"] / "000000000003.png").unlink()
    with pytest.raises(ValueError, match=r"lacks 1 of 6 \(first '000000000003.png'\)"):
        load_dataset(paths["images"], paths["instances"])
    (tmp_path / "bad.json").write_text("{\"images\": 3}")
    with pytest.raises(ValueError, match="Argument `instances` must be a COCO annotation file"):
        load_dataset(paths["images"], tmp_path / "bad.json")
    with pytest.raises(ValueError, match="Argument `instances` must be a readable COCO annotation file"):
        load_dataset(paths["images"], tmp_path / "absent.json")
