"""Requests of one image: predicted components per class and GT/prediction intersections, on hand-made maps."""

import numpy as np
import pytest

from deeplab_utils.cityscapes.protocol import Protocol
from deeplab_utils.cityscapes.requests import build_requests
from deeplab_utils.labels import CITYSCAPES

RIDER, PERSON, CAR, ROAD = (CITYSCAPES.class_id(name) for name in ("rider", "person", "car", "road"))
# At 64x128 the paper's thresholds are ceil(10000 / 256) = 40 and ceil(625 / 256) = 3 pixels.
PROTOCOL = Protocol(prediction_classes=("rider", "car"), error_pairs=(("rider", "person"), ("person", "rider"),
                                                                       ("car", "car")))


def _maps():
    truth = np.full((64, 128), ROAD, np.uint8)
    prediction = np.full((64, 128), ROAD, np.uint8)
    truth[10:20, 10:20] = RIDER          # a rider, 100 px
    prediction[10:20, 10:15] = RIDER     # its left half predicted rider (50 px, 24 after erosion: too small)
    prediction[10:20, 15:20] = PERSON    # its right half predicted person (GT rider / pred person: 50 px)
    truth[30:40, 30:40] = PERSON
    prediction[30:40, 30:40] = RIDER     # a person predicted rider, 100 px (64 after erosion)
    truth[40:52, 60:80] = CAR
    prediction[40:52, 60:80] = CAR       # a correct car, 240 px
    prediction[5:6, 100:110] = CAR       # a predicted car line, 10 px, over road (no GT car)
    truth[60:64, 0:4] = 255              # ignored pixels count as no class
    return prediction, truth


def test_groups_in_protocol_order_with_kinds_and_classes():
    groups = build_requests(*_maps(), PROTOCOL)
    assert [g.group for g in groups] == ["rider", "car", "rider/person", "person/rider", "car/car"]
    assert [g.kind for g in groups] == ["prediction", "prediction", "error", "error", "error"]
    assert [g.class_id for g in groups] == [RIDER, CAR, PERSON, RIDER, CAR]
    assert [g.ground_truth_id for g in groups] == [None, None, RIDER, PERSON, CAR]


def test_prediction_requests_use_the_scaled_threshold_after_erosion():
    rider, car = build_requests(*_maps(), PROTOCOL)[:2]
    # rider: the 10x5 half (24 px after erosion) fails 40, the 10x10 block (64) passes.
    assert rider.requests.num_candidates == 2 and len(rider) == 1
    assert rider.requests.min_size == 40 and rider.requests.eroded_sizes.tolist() == [64]
    np.testing.assert_array_equal(rider.requests.masks[0], _block((30, 40), (30, 40)))
    # car: the 240 px car passes, the 1-row line erodes to nothing.
    assert car.requests.num_candidates == 2 and car.requests.sizes.tolist() == [240]


def test_error_requests_are_ground_truth_and_prediction_intersections():
    _, _, rider_person, person_rider, car_car = build_requests(*_maps(), PROTOCOL)
    assert rider_person.requests.min_size == 3
    np.testing.assert_array_equal(rider_person.requests.masks[0], _block((10, 20), (15, 20)))
    np.testing.assert_array_equal(person_rider.requests.masks[0], _block((30, 40), (30, 40)))
    np.testing.assert_array_equal(car_car.requests.masks[0], _block((40, 52), (60, 80)))  # not the line: no GT car
    assert [len(g) for g in (rider_person, person_rider, car_car)] == [1, 1, 1]


def _block(rows, cols):
    mask = np.zeros((64, 128), bool)
    mask[rows[0]:rows[1], cols[0]:cols[1]] = True
    return mask


def test_maps_of_different_shapes_are_refused():
    prediction, truth = _maps()
    with pytest.raises(ValueError, match=r"Argument `ground_truth` must have shape \(64, 128\); received \(32, 64\)"):
        build_requests(prediction, truth[:32, :64], PROTOCOL)
    with pytest.raises(TypeError, match="Argument `prediction` must hold integer labels"):
        build_requests(prediction.astype(np.float32), truth, PROTOCOL)
