"""toy_benchmark.evaluation.constant_probe: which constant context a network takes for its bias texture."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from toy_benchmark.data import BIAS_HALF_BOTTOM, BIAS_HALF_NONE, BIAS_HALF_TOP, DatasetVariant, SampleGenerator
from toy_benchmark.evaluation import GRID_SALIENCY_CONSTANTS, PROBED_PERTURBATIONS, constant_probe

DIGIT = 3


def _brightness_model(threshold: float) -> keras.Model:
    """Predicts DIGIT on every pixel when the image's mean grey value exceeds `threshold`, else background."""
    images = keras.Input((64, 64, 1))
    mean = keras.layers.GlobalAveragePooling2D()(images)
    logits = keras.layers.Dense(11, kernel_initializer="zeros", bias_initializer="zeros")(mean)
    maps = keras.layers.UpSampling2D(64)(keras.layers.Reshape((1, 1, 11))(logits))
    model = keras.Model(images, keras.layers.Softmax()(maps))
    kernel, bias = np.zeros((1, 11), np.float32), np.full(11, -100.0, np.float32)
    kernel[0, DIGIT], bias[DIGIT], bias[10] = 100.0, -100.0 * threshold, 0.0
    model.layers[2].set_weights([kernel, bias])
    return model


def _samples(other: int = 0) -> dict[str, np.ndarray]:
    """Four images of DIGIT (a 16 x 16 square) on a white bias half and an `other` grey half, and one of 5."""
    images = np.zeros((5, 64, 64), np.uint8)
    labels = np.full((5, 64, 64), 10, np.uint8)
    halves = np.array([BIAS_HALF_TOP, BIAS_HALF_BOTTOM, BIAS_HALF_TOP, BIAS_HALF_BOTTOM, BIAS_HALF_NONE])
    for i, half in enumerate(halves):
        rows = slice(0, 32) if half == BIAS_HALF_TOP else slice(32, 64)
        images[i] = other if half != BIAS_HALF_NONE else 0
        images[i, rows] = 255 if half != BIAS_HALF_NONE else 0
        labels[i, 24:40, 24:40] = DIGIT if i < 4 else 5
        images[i, 24:40, 24:40] = 0
    return {"image": images, "label": labels, "digit": np.array([DIGIT] * 4 + [5]), "bias_half": halves}


def test_a_network_keyed_to_brightness_is_imitated_by_the_bright_constants():
    # Intact: mean 0.47 (the white half less its part of the square) > 0.3: DIGIT everywhere, IoU 256 / 4096.
    # Swapped: the bias half takes the black half's pixels, mean 0, background: IoU 0. Context set to c:
    # mean c * 3840 / 4096 (the square stays black): 0 and 0.23 stay below 0.3, 0.47, 0.70, 0.94 above.
    probe = constant_probe(_brightness_model(0.3), _samples(), DIGIT)
    assert probe.num_images == 4
    assert probe.intact == pytest.approx(256 / 4096)
    assert probe.swapped == 0.0
    assert probe.constants == pytest.approx({0.0: 0.0, 0.25: 0.0, 0.5: 256 / 4096, 0.75: 256 / 4096,
                                             1.0: 256 / 4096})
    assert probe.imitating == (0.5, 0.75, 1.0)
    data = probe.to_json()  # what the benchmark keeps as probe.json and shows in its report
    assert data["imitating"] == ["0.5", "0.75", "1"] and data["constants"]["0.25"] == 0.0
    assert (data["num_images"], data["swapped"], data["imitation_fraction"]) == (4, 0.0, 0.5)
    assert data["perturbations"] == probe.perturbations and data["imitating_perturbations"] == list(
        probe.imitating_perturbations)


def test_blur_and_noise_contexts_are_probed_like_the_constants():
    # Brightness-keyed at 0.3 on white/black halves (intact mean 1920 / 4096 = 0.47). Noise context: mean
    # 0.5 * 3840 / 4096 = 0.47 (+- 0.005 for 3840 uniform pixels) > 0.3: DIGIT. Blur: a blur with symmetric
    # padding keeps the image's mass (1920), at most 256 of it falling on the square: mean >= 0.44 > 0.3.
    probe = constant_probe(_brightness_model(0.3), _samples(), DIGIT)
    assert probe.perturbations == pytest.approx({"blur": 256 / 4096, "noise": 256 / 4096})
    assert probe.imitating_perturbations == ("blur", "noise")
    assert PROBED_PERTURBATIONS == ("blur", "noise")


def test_noise_does_not_imitate_a_brighter_bias_and_a_vanishing_blur_keeps_the_image():
    # White bias half, grey 128 other half, threshold 0.6: intact mean (1920 + 1920 * 128 / 255) / 4096 = 0.70;
    # swapped 3840 * 0.50 / 4096 = 0.47; context 0.75: 0.70, 1: 0.94 (DIGIT), 0.5: 0.47 (not); noise 0.47
    # (+- 0.005, not); a blur of sigma 1e-3 is the image itself, so it keeps the intact IoU.
    probe = constant_probe(_brightness_model(0.6), _samples(other=128), DIGIT, blur_sigma=1e-3)
    assert probe.intact == pytest.approx(256 / 4096) and probe.swapped == 0.0
    assert probe.imitating == (0.75, 1.0)
    assert probe.perturbations == pytest.approx({"blur": 256 / 4096, "noise": 0.0})
    assert probe.imitating_perturbations == ("blur",)


def test_only_the_perturbations_asked_for_are_probed():
    probe = constant_probe(_brightness_model(0.3), _samples(), DIGIT, perturbations=("noise", "noise"))
    assert tuple(probe.perturbations) == ("noise",)
    assert constant_probe(_brightness_model(0.3), _samples(), DIGIT, perturbations=()).perturbations == {}


def test_nothing_imitates_when_the_network_does_not_need_the_bias_half():
    probe = constant_probe(_brightness_model(-1.0), _samples(), DIGIT)  # DIGIT whatever the image
    assert probe.swapped == probe.intact == pytest.approx(256 / 4096)
    assert probe.imitating == ()


def test_only_the_constants_asked_for_are_probed():
    probe = constant_probe(_brightness_model(0.3), _samples(), DIGIT, constants=(0.0, 1.0), imitation_fraction=1.0)
    assert tuple(probe.constants) == (0.0, 1.0) and probe.imitating == (1.0,)
    assert GRID_SALIENCY_CONSTANTS == (0.0, 0.25, 0.5, 0.75, 1.0)


def test_generated_samples_are_probed_and_the_result_is_deterministic():
    samples = SampleGenerator(DatasetVariant("strong", DIGIT, 0, split="test", num_samples=40)).generate(np.arange(40))
    model = _brightness_model(0.45)
    first, second = (constant_probe(model, samples, DIGIT) for _ in range(2))
    assert first == second and first.num_images == 4
    assert 0.0 <= first.swapped <= 1.0 and all(0.0 <= v <= 1.0 for v in first.constants.values())


@pytest.mark.parametrize("kwargs, match", [
    ({"imitation_fraction": 0.0}, "imitation_fraction.*> 0.0; received 0.0"),
    ({"imitation_fraction": 1.5}, "imitation_fraction.*<= 1.0; received 1.5"),
    ({"constants": (0.5, 1.2)}, "constants.*<= 1.0; received 1.2"),
    ({"digit": 7}, "digit 7 with the bias texture; received 5 samples"),
    ({"perturbations": ("blur", "zoom")}, "perturbations.*received 'zoom'"),
    ({"blur_sigma": 0.0}, "blur_sigma.*> 0.0; received 0.0"),
    ({"noise_seed": -1}, "noise_seed.*>= 0; received -1"),
])
def test_bad_arguments_name_the_argument_and_the_value(kwargs, match):
    arguments = {"digit": DIGIT, **kwargs}
    with pytest.raises(ValueError, match=match):
        constant_probe(_brightness_model(0.3), _samples(), **arguments)
