"""The Cityscapes layout: the fixture writer, listing, train ids, the tf.data pipeline, shards, bad folders."""

import os

import cv2
import numpy as np
import pytest

from deeplab_utils.cityscapes.dataset import (
    check_sizes,
    list_examples,
    make_image_dataset,
    read_example,
    select_shard,
    train_ids_of,
)
from deeplab_utils.cityscapes.testing import APPEARANCE_COLORS, street_scene, write_cityscapes_fixture
from deeplab_utils.labels import CITYSCAPES


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cityscapes")
    write_cityscapes_fixture(root, cities=("bochum", "aachen"), images_per_city=2)
    return root


def test_fixture_layout_and_listing(fixture_root):
    examples = list_examples(fixture_root)
    assert [e.name for e in examples] == ["aachen/aachen_000000_000000", "aachen/aachen_000000_000001",
                                         "bochum/bochum_000000_000000", "bochum/bochum_000000_000001"]
    first = examples[0]
    assert first.image_path == fixture_root / "leftImg8bit/val/aachen/aachen_000000_000000_leftImg8bit.png"
    assert first.label_path == fixture_root / "gtFine/val/aachen/aachen_000000_000000_gtFine_labelIds.png"
    instances = cv2.imread(os.fspath(fixture_root / "gtFine/val/aachen/aachen_000000_000000_gtFine_instanceIds.png"),
                           cv2.IMREAD_UNCHANGED)
    assert instances.dtype == np.uint16 and (instances // 1000 == 25).any()   # riders: 25000 + k
    assert check_sizes(examples) == [(64, 128)] * 4
    assert [e.name for e in list_examples(fixture_root, cities=["bochum"])] == [e.name for e in examples[2:]]


def test_read_example_maps_label_ids_to_train_ids(fixture_root):
    example = list_examples(fixture_root)[0]
    image, truth = read_example(example)
    label_ids = cv2.imread(os.fspath(example.label_path), cv2.IMREAD_UNCHANGED)
    assert image.shape == (64, 128, 3) and image.dtype == np.uint8 and truth.dtype == np.uint8
    assert (truth[label_ids == 25] == CITYSCAPES.class_id("rider")).all()
    assert (truth[label_ids == 7] == CITYSCAPES.class_id("road")).all()
    # Every pixel is painted in its class's appearance colour (riders look like persons), plus noise.
    assert np.abs(image.astype(float) - APPEARANCE_COLORS[truth]).max() < 20


def test_the_tf_data_pipeline_reads_the_same(fixture_root):
    examples = list_examples(fixture_root)
    for index, image, label_ids in make_image_dataset(examples).as_numpy_iterator():
        expected_image, expected_truth = read_example(examples[index])
        np.testing.assert_array_equal(image, expected_image)
        np.testing.assert_array_equal(train_ids_of(label_ids, examples[index], image.shape[:2]), expected_truth)


def test_the_image_pipelines_decode_in_order_with_a_fixed_parallelism_and_no_autotuning(fixture_root, tmp_path):
    # With tf.data autotuning on, `next` intermittently waited about as long as the optimisation before it
    # (up to 30 % of a job outside the optimisation, BENCHMARKS.md session 5); both jobs' readers turn it off.
    from deeplab_utils.coco.dataset import load_dataset
    from deeplab_utils.coco.dataset import make_image_dataset as make_coco_dataset
    from deeplab_utils.coco.testing import write_coco_fixture

    paths = write_coco_fixture(tmp_path)
    coco = load_dataset(paths["images"], paths["instances"])
    for dataset, count in ((make_image_dataset(list_examples(fixture_root)), 4), (make_coco_dataset(coco.images), 6)):
        assert dataset.options().autotune.enabled is False
        assert [int(element[0]) for element in dataset.as_numpy_iterator()] == list(range(count))
        graph = dataset._as_serialized_graph().numpy().decode("latin-1")  # noqa: SLF001 (no public view)
        assert "ParallelMapDatasetV2" in graph


def test_street_scene_objects():
    image, labels, _ = street_scene(objects=("person_beside_bicycle",), seed=3)
    assert set(np.unique(labels)) >= {7, 8, 11, 17, 20, 21, 23, 24, 33}
    with pytest.raises(ValueError, match="Argument `objects` must name entries"):
        street_scene(objects=("tram",))
    with pytest.raises(ValueError, match="must fit side by side"):
        street_scene(objects=("car",) * 5)


def test_shards_cover_every_item_once():
    items = list(range(11))
    shards = [select_shard(items, 3, index) for index in range(3)]
    assert sorted(sum(shards, [])) == items and shards[1] == [1, 4, 7, 10]
    with pytest.raises(ValueError, match=r"Argument `shard_index` must be an integer in \[0, 3\); received 3"):
        select_shard(items, 3, 3)


def test_missing_label_file_is_named(tmp_path):
    write_cityscapes_fixture(tmp_path, cities=("aachen",), images_per_city=2)
    missing = tmp_path / "gtFine/val/aachen/aachen_000000_000001_gtFine_labelIds.png"
    missing.unlink()
    with pytest.raises(ValueError, match="must hold the fine labels of every image") as error:
        list_examples(tmp_path)
    assert str(missing) in str(error.value)


def test_label_map_of_another_size(tmp_path):
    write_cityscapes_fixture(tmp_path, cities=("aachen",), images_per_city=1)
    label = tmp_path / "gtFine/val/aachen/aachen_000000_000000_gtFine_labelIds.png"
    cv2.imwrite(os.fspath(label), np.zeros((32, 64), np.uint8))
    examples = list_examples(tmp_path)
    with pytest.raises(ValueError, match="of 32x64 for an image of 64x128"):
        check_sizes(examples)
    with pytest.raises(ValueError, match="of 32x64 for an image of 64x128"):
        read_example(examples[0])


def test_empty_or_foreign_folders(tmp_path):
    with pytest.raises(ValueError, match="no folder"):
        list_examples(tmp_path)
    (tmp_path / "leftImg8bit/val/aachen").mkdir(parents=True)
    with pytest.raises(ValueError, match="which holds none"):
        list_examples(tmp_path)
    with pytest.raises(ValueError, match="Argument `cities` must name cities"):
        list_examples(tmp_path, cities=["berlin"])
