"""One contract for every method: the Explainer base, the common `saliency` field, shapes, finite values,
batch-size invariance, input kinds, no retracing, get_config round trip, bad requests."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from grid_saliency_tf import (Explainer, ExplanationResult, GridSaliencyOptimizer, IntegratedGradients, Requests,
                              SegGradCAM, SmoothGrad, VanillaGradient)
from grid_saliency_tf.testing import square_mask

SIZE = 16


def _conv_model():
    """A small random convolutional segmentation net (3 classes) with a named bottleneck."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="bottleneck")(x)
    x = keras.layers.UpSampling2D(2)(x)
    x = keras.layers.Conv2D(3, 3, padding="same", name="logits")(x)
    outputs = keras.layers.Softmax()(x)
    return keras.Model(inputs, outputs)


MODEL = None


def _model():
    global MODEL
    if MODEL is None:
        MODEL = _conv_model()
    return MODEL


METHODS = {
    "grid_saliency": lambda model: GridSaliencyOptimizer(model, steps=5),
    "vanilla_gradient": lambda model: VanillaGradient(model),
    "integrated_gradients": lambda model: IntegratedGradients(model, steps=4),
    "smooth_grad": lambda model: SmoothGrad(model, samples=3),
    "seg_grad_cam": lambda model: SegGradCAM(model, "bottleneck"),
}


def _maps(result):
    """The common field of every result: the saliency at image resolution."""
    assert isinstance(result, ExplanationResult)
    return result.saliency


def _data(n_images=3):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (n_images, SIZE, SIZE, 1)).astype(np.float32)
    masks = np.stack([square_mask(2 + i, 3 + i, 5, SIZE) for i in range(n_images)])
    class_ids = np.arange(n_images) % 3
    return images, masks, class_ids


@pytest.mark.parametrize("name", sorted(METHODS))
def test_shapes_finite_and_batch_size_invariance(name):
    explainer = METHODS[name](_model())
    images, masks, class_ids = _data()
    together = explainer.explain(images, Requests(np.arange(3), class_ids, masks))
    maps = _maps(together)
    assert maps.shape == (3, SIZE, SIZE) and maps.dtype == np.float32
    for field in dataclasses.fields(together):
        value = getattr(together, field.name)
        if value is not None:
            assert value.shape[0] == 3, field.name
            assert value.dtype == bool or np.all(np.isfinite(value)), field.name
    for i in range(3):
        alone = explainer.explain(images[i:i + 1], Requests([0], class_ids[i:i + 1], masks[i:i + 1]))
        np.testing.assert_allclose(_maps(alone)[0], maps[i], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_numpy_tensor_and_dataset_inputs(name):
    explainer = METHODS[name](_model())
    images, masks, class_ids = _data()
    reference = _maps(explainer.explain(images, Requests(np.arange(3), class_ids, masks)))
    from_tensor = _maps(explainer.explain(tf.constant(images), Requests(np.arange(3), class_ids, masks)))
    dataset = tf.data.Dataset.from_tensor_slices((images, masks, class_ids)).batch(2)
    from_dataset = _maps(explainer.explain(dataset))
    for maps in (from_tensor, from_dataset):
        np.testing.assert_allclose(maps, reference, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_bad_requests_name_the_argument(name):
    explainer = METHODS[name](_model())
    images, masks, class_ids = _data()
    with pytest.raises(ValueError, match="class_ids"):
        explainer.explain(images, Requests([0], [7], masks[:1]))
    with pytest.raises(ValueError, match="image_indices"):
        explainer.explain(images, Requests([5], [0], masks[:1]))
    with pytest.raises(ValueError, match="masks"):
        explainer.explain(images, Requests([0], [0], np.ones((1, 4, 4))))
    bad = images.copy()
    bad[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="images"):
        explainer.explain(bad, Requests([0], [0], masks[:1]))


@pytest.mark.parametrize("name", sorted(METHODS))
def test_empty_request_gives_finite_zero_maps(name):
    explainer = METHODS[name](_model())
    images, masks, class_ids = _data()
    masks[1] = 0
    maps = _maps(explainer.explain(images, Requests(np.arange(3), class_ids, masks)))
    assert np.all(np.isfinite(maps))
    # Grid saliency flags the request and returns a zero mask; for the gradient methods and
    # Seg-Grad-CAM an empty pixel set has score 0, hence zero gradients and a zero map.
    assert np.all(maps[1] == 0)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_is_an_explainer_with_a_config_round_trip(name):
    explainer = METHODS[name](_model())
    assert isinstance(explainer, Explainer)
    config = explainer.get_config()
    rebuilt = type(explainer)(_model(), **config)
    assert rebuilt.get_config() == config
    images, masks, class_ids = _data()
    requests = Requests(np.arange(3), class_ids, masks)
    np.testing.assert_allclose(_maps(rebuilt.explain(images, requests)), _maps(explainer.explain(images, requests)),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_no_retracing_on_a_second_call_with_the_same_shapes(name):
    explainer = METHODS[name](_model())
    images, masks, class_ids = _data()
    explainer.explain(images, Requests(np.arange(3), class_ids, masks))
    explainer.explain(images[::-1] * 0.5, Requests(np.arange(3)[::-1], class_ids[::-1], masks))
    assert explainer.tracing_count == 1


@pytest.mark.parametrize("name", sorted(METHODS))
def test_explain_tensors_inside_a_graph_equals_explain_and_asserts_the_checks(name):
    explainer = METHODS[name](_model())
    images, masks, class_ids = _data()
    expected = explainer.explain(images, Requests(np.arange(3), class_ids, masks))

    @tf.function
    def compiled(*args):
        return explainer.explain_tensors(*args)

    indices = np.arange(3, dtype=np.int32)
    tensors = compiled(images, indices, class_ids.astype(np.int32), masks)
    for field in dataclasses.fields(expected):
        if getattr(expected, field.name) is not None:
            np.testing.assert_allclose(tensors[field.name].numpy(), getattr(expected, field.name), rtol=1e-5,
                                       atol=1e-6, err_msg=field.name)
    with pytest.raises(tf.errors.InvalidArgumentError, match="class_ids.*3 classes; received 3"):
        compiled(images, indices, np.array([0, 1, 3], np.int32), masks)
    with pytest.raises(tf.errors.InvalidArgumentError, match="image_indices.*received 5"):
        compiled(images, np.array([0, 5, 1], np.int32), class_ids.astype(np.int32), masks)
    bad = images.copy()
    bad[1, 2, 3, 0] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="images.*1 NaN"):
        compiled(bad, indices, class_ids.astype(np.int32), masks)
