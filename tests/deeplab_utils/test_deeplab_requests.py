"""Request masks: connected components of a predicted class, sized after the 3x3 erosion."""

import numpy as np
import pytest

from deeplab_utils import build_request_masks, scaled_min_size


def _scene():
    labels = np.zeros((60, 80), np.int32)
    labels[5:35, 5:35] = 3      # 900 px, 784 after erosion
    labels[40:50, 40:50] = 3    # 100 px, 64 after erosion
    labels[52:55, 60:63] = 3    # 9 px, 1 after erosion
    labels[50:60, 70:80] = 3    # 100 px in the corner: the border does not erode, 81 after erosion
    labels[10:20, 50:60] = 5    # another class
    return labels


def test_components_are_sized_after_erosion_and_sorted():
    requests = build_request_masks(_scene(), 3, min_size=50)
    assert requests.num_candidates == 4 and len(requests) == 3
    assert requests.sizes.tolist() == [900, 100, 100]
    assert sorted(requests.eroded_sizes.tolist()) == [64, 81, 784]
    assert requests.masks.dtype == bool and requests.masks.shape == (3, 60, 80)
    assert requests.boxes[0].tolist() == [5, 5, 35, 35]
    np.testing.assert_array_equal(requests.masks.sum(axis=(1, 2)), requests.sizes)
    assert not (requests.masks[0] & requests.masks[1]).any()


def test_minimum_size_uses_eroded_pixels():
    assert len(build_request_masks(_scene(), 3, min_size=65)) == 2    # 64 < 65 <= 81
    assert len(build_request_masks(_scene(), 3, min_size=784)) == 1
    assert len(build_request_masks(_scene(), 3, min_size=785)) == 0
    assert len(build_request_masks(_scene(), 3, min_size=1, erosion_size=1)) == 4


def test_whole_class_mode():
    requests = build_request_masks(_scene(), 3, mode="class", min_size=100)
    assert len(requests) == 1 and requests.num_candidates == 1
    assert requests.sizes.tolist() == [1109]
    np.testing.assert_array_equal(requests.masks[0], _scene() == 3)


def test_absent_class_gives_no_request():
    requests = build_request_masks(_scene(), 7, min_size=0)
    assert len(requests) == 0 and requests.num_candidates == 0 and requests.masks.shape == (0, 60, 80)
    assert len(build_request_masks(_scene(), 7, mode="class")) == 0


def test_connectivity():
    labels = np.zeros((20, 20), np.int32)
    labels[2:8, 2:8] = 1
    labels[8:14, 8:14] = 1   # touches the first square at a corner only
    assert len(build_request_masks(labels, 1, min_size=1, connectivity=8)) == 1
    assert len(build_request_masks(labels, 1, min_size=1, connectivity=4)) == 2


def test_scaled_min_size():
    assert scaled_min_size(10000, (1024, 2048)) == 10000
    assert scaled_min_size(10000, (512, 1024)) == 2500
    assert scaled_min_size(10000, (65, 65)) == 21  # ceil(10000 * 4225 / 2097152)
    assert scaled_min_size(0, (65, 65)) == 0


@pytest.mark.parametrize("kwargs, error", [
    ({"labels": np.zeros((2, 2, 2), np.int32)}, ValueError),
    ({"labels": np.zeros((2, 2), np.float32)}, TypeError),
    ({"mode": "instances"}, ValueError),
    ({"min_size": -1}, ValueError),
    ({"connectivity": 6}, ValueError),
])
def test_bad_arguments(kwargs, error):
    arguments = {"labels": np.zeros((4, 4), np.int32), "class_id": 0, **kwargs}
    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        build_request_masks(**arguments)
