"""Model outputs are checked, never silently used: NaN/Inf, false probabilities, single-channel models."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from grid_saliency_tf import (GridSaliencyOptimizer, IntegratedGradients, Requests, SegGradCAM, SmoothGrad,
                              VanillaGradient)
from grid_saliency_tf.testing import RegionTextureModel, checkerboard, functional, square_mask

SIZE = 16


@keras.saving.register_keras_serializable(package="grid_saliency_tests")
class BrokenHead(keras.layers.Layer):
    """Turns two-class logits into a broken 'probability' output.

    kinds: ``"nan"`` (softmax with NaN at pixel (0, 0)), ``"unnormalised"`` (a sigmoid per class, so the
    classes do not sum to 1), ``"negative"`` (softmax minus 0.1), ``"nan_when_dark"`` (softmax, NaN where
    an image holds a pixel below 0.15: finite on the originals in [0.2, 0.8], NaN on images perturbed
    towards 0).
    """

    def __init__(self, kind, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind

    def call(self, logits, images):
        probabilities = tf.nn.softmax(logits, axis=-1)
        if self.kind == "nan":
            corner = tf.pad(tf.ones([1, 1, 1, 1]), [[0, 0], [0, SIZE - 1], [0, SIZE - 1], [0, 1]])
            return probabilities + corner * float("nan")
        if self.kind == "unnormalised":
            return tf.sigmoid(logits)
        if self.kind == "negative":
            return probabilities - 0.1
        dark = tf.cast(tf.reduce_min(images, axis=[1, 2, 3]) < 0.15, tf.float32)
        return probabilities + tf.math.log(1.0 - dark)[:, None, None, None] * 0.0 * probabilities

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


def _broken_model(kind):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1))
    features = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="features")(inputs)
    logits = keras.layers.Conv2D(2, 1, name="logits")(features)
    return keras.Model(inputs, BrokenHead(kind)(logits, inputs))


METHODS = {
    "grid_saliency": lambda model: GridSaliencyOptimizer(model, steps=3),
    "vanilla_gradient": lambda model: VanillaGradient(model),
    "integrated_gradients": lambda model: IntegratedGradients(model, steps=3),
    "smooth_grad": lambda model: SmoothGrad(model, samples=2),
    "seg_grad_cam": lambda model: SegGradCAM(model, "features", logits_layer="logits"),
}


def _data():
    images = np.random.default_rng(0).uniform(0.2, 0.8, (2, SIZE, SIZE, 1)).astype(np.float32)
    return images, Requests([0, 1], [1, 0], np.stack([square_mask(4, 4, 6, SIZE)] * 2))


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize("kind", ["nan", "unnormalised", "negative"])
def test_broken_model_outputs_are_errors_naming_model_output(name, kind):
    explainer = METHODS[name](_broken_model(kind))
    with pytest.raises(ValueError, match="model_output") as error:
        explainer.explain(*_data())
    assert "in user code" not in str(error.value)


def test_a_model_that_returns_nan_on_perturbed_images_gives_an_error_not_nan_masks():
    optimizer = GridSaliencyOptimizer(_broken_model("nan_when_dark"), steps=3, perturbation_values=(0.0,))
    with pytest.raises(ValueError, match="model_output.*perturbed"):
        optimizer.explain(*_data())


def test_logits_of_a_broken_model_are_only_checked_for_finite_values():
    model = _broken_model("unnormalised")
    logits_model = keras.Model(model.inputs, model.get_layer("logits").output)
    for explainer in (GridSaliencyOptimizer(logits_model, steps=3, model_output="logits"),
                      VanillaGradient(logits_model, model_output="logits")):
        assert np.all(np.isfinite(explainer.explain(*_data()).saliency))


@keras.saving.register_keras_serializable(package="grid_saliency_tests")
class SingleLogitTexture(keras.layers.Layer):
    """The logit of :class:`RegionTextureModel` as one channel: ``sigmoid`` of it is class 1's probability."""

    def call(self, images):
        patch = images[:, :SIZE, :SIZE, :]
        energy = tf.reduce_mean(tf.abs(patch[:, 1:] - patch[:, :-1]), axis=[1, 2, 3])
        return tf.ones_like(images[..., :1]) * (20.0 * (energy - 0.25))[:, None, None, None]


def test_single_channel_logits_are_a_sigmoid_two_class_model():
    # softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)]: the two-class texture model is the same model.
    two_class = functional(RegionTextureModel())
    single = functional(SingleLogitTexture())
    requests = Requests([0, 0], [1, 0], np.stack([square_mask(20, 20, 8)] * 2))
    expected = GridSaliencyOptimizer(two_class, steps=40).explain(checkerboard(), requests)
    result = GridSaliencyOptimizer(single, steps=40, model_output="logits").explain(checkerboard(), requests)
    np.testing.assert_allclose(result.low_res_masks, expected.low_res_masks, atol=1e-5)
    np.testing.assert_allclose(result.preservation_loss, expected.preservation_loss, atol=1e-5)
    assert result.low_res_masks[0, :2, :2].sum() > 0.5 and result.converged[0]
    vg_expected = VanillaGradient(two_class).explain(checkerboard(), requests)
    vg = VanillaGradient(single, model_output="logits").explain(checkerboard(), requests)
    np.testing.assert_allclose(vg.maps, vg_expected.maps, rtol=1e-4, atol=1e-7)


def test_single_channel_probabilities_are_the_class_one_probability():
    two_class = functional(RegionTextureModel())
    inputs = keras.Input((32, 32, 1))
    single = keras.Model(inputs, keras.layers.Activation("sigmoid")(SingleLogitTexture()(inputs)))
    requests = Requests([0], [1], square_mask(20, 20, 8)[None])
    expected = VanillaGradient(two_class).explain(checkerboard(), requests)
    result = VanillaGradient(single).explain(checkerboard(), requests)
    np.testing.assert_allclose(result.maps, expected.maps, rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError, match="class_ids.*2"):
        VanillaGradient(single).explain(checkerboard(), Requests([0], [2], square_mask(20, 20, 8)[None]))


def test_single_channel_probabilities_outside_unit_interval_are_refused():
    inputs = keras.Input((32, 32, 1))
    scaled = keras.Model(inputs, keras.layers.Rescaling(3.0)(SingleLogitTexture()(inputs)))
    with pytest.raises(ValueError, match="model_output"):
        VanillaGradient(scaled).explain(checkerboard(), Requests([0], [1], square_mask(20, 20, 8)[None]))
