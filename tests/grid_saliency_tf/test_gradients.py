"""VG, IG and SG on the request score (Sec. 3.2): analytic gradients, completeness, forms, pooling."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from grid_saliency_tf import (IntegratedGradients, Requests, SmoothGrad, VanillaGradient, integrated_gradients,
                              pool_to_grid, smooth_grad, vanilla_gradient)
from grid_saliency_tf.testing import PixelwiseModel, functional, square_mask

WEIGHT = 8.0


@keras.saving.register_keras_serializable(package="grid_saliency_tests")
class CoupledModel(keras.layers.Layer):
    """A non-linear model mixing pixels: p_1 = sigmoid(a * x * mean(x) + b * x^2 - 1)."""

    def call(self, images):
        x = images[..., 0]
        mean = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
        logit = 3.0 * x * mean + 2.0 * x * x - 1.0
        return tf.stack([tf.sigmoid(-logit), tf.sigmoid(logit)], axis=-1)


def _images(batch=2, size=32, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 1.0, (batch, size, size, 1)).astype(np.float32)


def _requests():
    return Requests([0, 1], [1, 0], np.stack([square_mask(4, 4, 8), square_mask(16, 12, 10)]))


def _analytic_vg(images, requests):
    """dS/dx for the pixelwise model: R/|R| * dp_c/dx, with dp_1/dx = w s (1 - s)."""
    maps = []
    for index, class_id, mask in zip(requests.image_indices, requests.class_ids, requests.masks):
        s = 1.0 / (1.0 + np.exp(-WEIGHT * (images[index, ..., 0] - 0.5)))
        derivative = WEIGHT * s * (1.0 - s) * (1.0 if class_id == 1 else -1.0)
        maps.append(mask * derivative / mask.sum())
    return np.stack(maps)


def test_vanilla_gradient_equals_the_analytic_gradient():
    model = functional(PixelwiseModel(weight=WEIGHT))
    images, requests = _images(), _requests()
    result = VanillaGradient(model, form="grid", absolute=False).explain(images, requests)
    expected = _analytic_vg(images, requests)
    np.testing.assert_allclose(result.maps, expected, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(result.grid_maps, expected.reshape(2, 4, 8, 4, 8).mean(axis=(2, 4)), rtol=1e-4,
                               atol=1e-8)
    absolute = vanilla_gradient(model, images, requests, form="grid")
    np.testing.assert_allclose(absolute.maps, np.abs(expected), rtol=1e-4, atol=1e-7)


def test_context_form_is_zero_inside_the_request_and_grid_form_outside():
    model = functional(CoupledModel())
    images, requests = _images(), _requests()
    grid = VanillaGradient(model, form="grid").explain(images, requests)
    context = VanillaGradient(model, form="context").explain(images, requests)
    np.testing.assert_allclose(context.maps, grid.maps * (1.0 - requests.masks), rtol=1e-6)
    assert np.all(context.maps[requests.masks == 1] == 0)
    assert np.all(context.maps[requests.masks == 0] > 0)  # the coupled model reads every pixel


def test_integrated_gradients_completeness():
    model = functional(CoupledModel())
    images, requests = _images(), _requests()
    result = integrated_gradients(model, images, requests, form="grid", absolute=False, steps=400)
    scores = []
    for baseline in (np.zeros_like(images), images):
        probabilities = model(baseline).numpy()
        scores.append([(probabilities[i, ..., c] * m).sum() / m.sum()
                       for i, c, m in zip(requests.image_indices, requests.class_ids, requests.masks)])
    expected = np.array(scores[1]) - np.array(scores[0])
    np.testing.assert_allclose(result.maps.sum(axis=(1, 2)), expected, rtol=1e-2, atol=1e-4)
    assert np.all(np.abs(expected) > 1e-2)


def test_integrated_gradients_without_input_factor_is_the_average_gradient():
    model = functional(PixelwiseModel(weight=WEIGHT))
    images, requests = _images(), _requests()
    steps = 5
    result = IntegratedGradients(model, steps=steps, form="grid", absolute=False,
                                 multiply_by_input=False).explain(images, requests)
    expected = np.mean([_analytic_vg(images * k / steps, requests) for k in range(1, steps + 1)], axis=0)
    np.testing.assert_allclose(result.maps, expected, rtol=1e-4, atol=1e-7)


def test_smooth_grad_with_zero_noise_equals_vanilla_gradient():
    model = functional(CoupledModel())
    images, requests = _images(), _requests()
    vg = VanillaGradient(model).explain(images, requests)
    sg = smooth_grad(model, images, requests, noise_level=0.0, samples=3)
    np.testing.assert_allclose(sg.maps, vg.maps, rtol=1e-5, atol=1e-9)


def test_smooth_grad_is_seeded_and_averages_noisy_gradients():
    model = functional(PixelwiseModel(weight=WEIGHT))
    images, requests = _images(), _requests()
    first = SmoothGrad(model, samples=4, seed=3, form="grid").explain(images, requests)
    again = SmoothGrad(model, samples=4, seed=3, form="grid").explain(images, requests)
    other = SmoothGrad(model, samples=4, seed=4, form="grid").explain(images, requests)
    np.testing.assert_array_equal(first.maps, again.maps)
    assert not np.allclose(first.maps, other.maps)
    # Hand computation with the same noise: sigma = 0.15 (max - min) per image.
    expected = np.zeros_like(requests.masks)
    for k in range(4):
        noise = tf.random.stateless_normal((32, 32, 1), seed=[3, k]).numpy()
        sigma = 0.15 * (images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3)))
        noisy = images + sigma[:, None, None, None] * noise[None]
        expected += _analytic_vg(noisy, requests) / 4.0
    np.testing.assert_allclose(first.maps, np.abs(expected), rtol=1e-3, atol=1e-7)


def test_pooling_uses_area_means_when_the_grid_does_not_divide_the_image():
    maps = tf.reshape(tf.range(36, dtype=tf.float32), [1, 6, 6])
    np.testing.assert_allclose(pool_to_grid(maps, (3, 2)).numpy()[0],
                               maps.numpy()[0].reshape(3, 2, 2, 3).mean(axis=(1, 3)))
    pooled = pool_to_grid(maps, (4, 4)).numpy()
    assert pooled.shape == (1, 4, 4)
    np.testing.assert_allclose(pooled.mean(), maps.numpy().mean(), rtol=1e-5)


def test_max_normalisation_scales_the_pooled_map_to_one():
    model = functional(CoupledModel())
    result = VanillaGradient(model, normalize="max").explain(_images(), _requests())
    np.testing.assert_allclose(result.grid_maps.max(axis=(1, 2)), 1.0, rtol=1e-6)


@pytest.mark.parametrize("method", [VanillaGradient, IntegratedGradients, SmoothGrad])
def test_no_retracing_on_second_call(method):
    explainer = method(functional(CoupledModel()))
    explainer.explain(_images(), _requests())
    explainer.explain(_images(seed=1), _requests())
    assert explainer.tracing_count == 1


@pytest.mark.parametrize("kwargs, name", [({"form": "both"}, "form"), ({"grid_shape": (4,)}, "grid_shape"),
                                          ({"normalize": "l2"}, "normalize"), ({"absolute": 1}, "absolute")])
def test_bad_settings_name_the_argument(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name):
        VanillaGradient(functional(CoupledModel()), **kwargs)
    with pytest.raises(ValueError, match="steps"):
        IntegratedGradients(functional(CoupledModel()), steps=0)
    with pytest.raises(ValueError, match="noise_level"):
        SmoothGrad(functional(CoupledModel()), noise_level=-1.0)


@pytest.mark.parametrize("method", [VanillaGradient, IntegratedGradients, SmoothGrad])
def test_saliency_is_the_pooled_map_at_image_resolution(method):
    result = method(functional(CoupledModel()), normalize="max").explain(_images(), _requests())
    np.testing.assert_array_equal(result.saliency, np.kron(result.grid_maps, np.ones((1, 8, 8))))
    np.testing.assert_allclose(result.saliency.max(axis=(1, 2)), 1.0, rtol=1e-6)
    bilinear = method(functional(CoupledModel()), upsampling="bilinear").explain(_images(), _requests())
    expected = tf.image.resize(bilinear.grid_maps[..., None], (32, 32), method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(bilinear.saliency, expected, rtol=1e-6)
