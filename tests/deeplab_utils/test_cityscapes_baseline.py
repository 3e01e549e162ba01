"""The baseline dilation (supplement S2.1, Fig. S13 h): exact pixel budget, sharing, known shapes."""

import numpy as np
import pytest

from deeplab_utils.cityscapes.baseline import baseline_ring, nearest_pixels


def _points(shape, *points):
    masks = np.zeros((len(points), *shape), bool)
    for index, (row, col) in enumerate(points):
        masks[index, row, col] = True
    return masks


def test_a_pixel_gets_its_four_neighbours_then_its_diagonals():
    instance = _points((9, 9), (4, 4))
    four = baseline_ring(instance, 4)
    assert sorted(zip(*np.nonzero(four))) == [(3, 4), (4, 3), (4, 5), (5, 4)]
    eight = baseline_ring(instance, 8)
    assert eight.sum() == 8 and eight[3:6, 3:6].sum() == 8 and not eight[4, 4]


def test_ties_at_the_last_distance_go_in_raster_order():
    ring = baseline_ring(_points((9, 9), (4, 4)), 6)   # 4 neighbours, then 2 of the 4 diagonals
    assert ring.sum() == 6 and ring[3, 3] and ring[3, 5] and not ring[5, 3] and not ring[5, 5]


def test_the_ring_holds_exactly_the_budget_outside_the_instances_and_is_a_sublevel_set():
    instances = np.zeros((2, 64, 128), bool)
    instances[0, 10:30, 10:20] = True
    instances[1, 40:50, 90:120] = True
    ring = baseline_ring(instances, 1563)
    assert ring.sum() == 1563 and not (ring & instances.any(axis=0)).any()
    # Every ring pixel is at least as near to an instance as every pixel left out.
    import cv2
    distance = cv2.distanceTransform((~instances.any(axis=0)).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    outside = ~instances.any(axis=0) & ~ring
    assert distance[ring].max() <= distance[outside].min()


def test_radius_sharing_gives_two_equal_distant_instances_equal_rings():
    instances = np.zeros((2, 40, 200), bool)
    instances[0, 18:22, 20:24] = True
    instances[1, 18:22, 160:164] = True
    ring = baseline_ring(instances, 200, sharing="radius")
    left, right = ring[:, :100].sum(), ring[:, 100:].sum()
    assert left + right == 200 and abs(left - right) <= 8   # only the tie-break at the last radius may differ


def test_radius_sharing_favours_the_larger_instance_and_equal_sharing_does_not():
    instances = np.zeros((2, 80, 200), bool)
    instances[0, 20:60, 10:70] = True      # large: long contour
    instances[1, 38:42, 150:154] = True    # small
    radius = baseline_ring(instances, 400, sharing="radius")
    equal = baseline_ring(instances, 400, sharing="equal")
    assert radius[:, :100].sum() > 4 * radius[:, 100:].sum()
    assert equal[:, :100].sum() == 200 and equal[:, 100:].sum() == 200


def test_equal_sharing_gives_the_remainder_to_the_first_instances():
    ring = baseline_ring(_points((30, 90), (15, 10), (15, 45), (15, 80)), 10, sharing="equal")
    assert [ring[:, :30].sum(), ring[:, 30:60].sum(), ring[:, 60:].sum()] == [4, 3, 3]


def test_budget_beyond_the_image_gives_every_outside_pixel_and_no_instance_gives_nothing():
    instance = _points((5, 5), (2, 2))
    np.testing.assert_array_equal(baseline_ring(instance, 10 ** 6), ~instance[0])
    assert not baseline_ring(np.zeros((0, 5, 5), bool), 10).any()
    assert not baseline_ring(instance, 0).any()


def test_nearest_pixels_counts():
    distance = np.arange(12, dtype=np.float32).reshape(3, 4)
    candidates = np.ones((3, 4), bool)
    candidates[0, 0] = False
    chosen = nearest_pixels(distance, candidates, 3)
    assert chosen.sum() == 3 and chosen[0, 1] and chosen[0, 2] and chosen[0, 3]


@pytest.mark.parametrize("arguments, message", [
    ((np.zeros((5, 5), bool), 4), "`instances` must have shape (n, height, width)"),
    ((np.zeros((1, 5, 5), bool), -1), "`budget` must be a non-negative integer"),
    ((np.zeros((1, 5, 5), bool), 2.5), "`budget` must be a non-negative integer"),
])
def test_bad_arguments(arguments, message):
    with pytest.raises(ValueError) as error:
        baseline_ring(*arguments)
    assert message in str(error.value)
    with pytest.raises(ValueError, match="`sharing` must be one of"):
        baseline_ring(np.zeros((1, 5, 5), bool), 4, sharing="fair")
