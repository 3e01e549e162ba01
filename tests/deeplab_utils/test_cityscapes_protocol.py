"""The protocol of the Cityscapes statistics: the paper's classes and pairs, checked names, scaled sizes."""

import pytest

from deeplab_utils.cityscapes.protocol import ERROR_PAIRS, PREDICTION_CLASSES, Protocol, group_name


def test_defaults_are_the_papers():
    protocol = Protocol()
    assert protocol.prediction_classes == ("rider", "car", "person", "bicycle", "motorcycle", "pole", "traffic sign")
    assert len(ERROR_PAIRS) == 16 and ERROR_PAIRS[1] == ("rider", "person") and ERROR_PAIRS[-1] == ("pole", "vegetation")
    assert (protocol.min_size, protocol.error_min_size, protocol.baseline_pixels) == (10000, 625, 400000)
    assert protocol.reference_shape == (1024, 2048) and protocol.erosion_size == 3
    assert protocol.groups[:7] == PREDICTION_CLASSES and protocol.groups[7] == "rider/rider"
    assert len(protocol.groups) == 23


def test_class_names_are_canonicalised():
    protocol = Protocol(prediction_classes=("Traffic_Sign", "motorbike"), error_pairs=[["bike", "RIDER"]])
    assert protocol.prediction_classes == ("traffic sign", "motorcycle")
    assert protocol.error_pairs == (("bicycle", "rider"),)
    assert protocol.groups == ("traffic sign", "motorcycle", "bicycle/rider")
    assert group_name(None, "car") == "car" and group_name("car", "person") == "car/person"


@pytest.mark.parametrize("arguments, message", [
    ({"prediction_classes": ("rider", "unicorn")}, "`prediction_classes` must name Cityscapes classes"),
    ({"error_pairs": (("rider", "dragon"),)}, "`error_pairs` must name Cityscapes classes"),
    ({"error_pairs": (("rider",),)}, "`error_pairs` must hold (ground truth, prediction) pairs"),
    ({"prediction_classes": ("car", "car")}, "must not repeat"),
    ({"prediction_classes": (), "error_pairs": ()}, "must not both be empty"),
    ({"min_size": 0}, "`min_size` must be an integer >= 1"),
    ({"erosion_size": 2}, "`erosion_size` must be odd"),
    ({"connectivity": 6}, "`connectivity` must be 4 or 8"),
    ({"context": "inside"}, "`context` must be one of"),
    ({"baseline_sharing": "greedy"}, "`baseline_sharing` must be one of"),
    ({"reference_shape": (1024,)}, "`reference_shape` must be (height, width)"),
])
def test_bad_arguments_are_refused_by_name(arguments, message):
    with pytest.raises(ValueError, match="Arguments? `") as error:
        Protocol(**arguments)
    assert message in str(error.value) and "received" in str(error.value)


def test_prediction_classes_as_one_string_is_refused():
    with pytest.raises(TypeError, match="`prediction_classes` must be a sequence"):
        Protocol(prediction_classes="rider")


def test_pixel_counts_scale_with_area():
    protocol = Protocol()
    assert protocol.pixels(10000, (1024, 2048)) == 10000
    assert protocol.pixels(10000, (512, 1024)) == 2500
    assert protocol.pixels(400000, (64, 128)) == 1563   # ceil(400000 / 256)
    assert protocol.pixels(625, (64, 128)) == 3          # ceil(2.44)


def test_settings_round_trip():
    protocol = Protocol(prediction_classes=("rider",), error_pairs=(("person", "rider"),), context="everywhere")
    assert Protocol(**protocol.to_settings()) == protocol
