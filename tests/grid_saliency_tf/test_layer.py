"""GridSaliencyLayer: eager, symbolic, tf.function and tf.data use; get_config round trip; .keras save."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from grid_saliency_tf import GridSaliencyLayer, GridSaliencyOptimizer, Requests
from grid_saliency_tf.testing import checkerboard, square_mask

CONFIG = {"steps": 30, "grid_shape": [4, 4]}


def _inputs(n=2):
    images = np.concatenate([checkerboard(), np.full((n - 1, 32, 32, 1), 0.4, np.float32)])
    masks = np.stack([square_mask(20, 20, 8)] * n)
    class_ids = np.ones(n, np.int32)
    return images, masks, class_ids


def test_eager_call_equals_the_optimizer(texture_model):
    images, masks, class_ids = _inputs()
    layer = GridSaliencyLayer(texture_model, CONFIG)
    expected = GridSaliencyOptimizer(texture_model, **CONFIG).explain(
        images, Requests(np.arange(2), class_ids, masks))
    np.testing.assert_allclose(layer(images, masks, class_ids).numpy(), expected.masks, atol=1e-6)
    low_res = GridSaliencyLayer(texture_model, CONFIG, output="low_res_masks")(images, masks, class_ids)
    np.testing.assert_allclose(low_res.numpy(), expected.low_res_masks, atol=1e-6)


def test_get_config_round_trip_and_keras_file(texture_model, tmp_path):
    images, masks, class_ids = _inputs()
    layer = GridSaliencyLayer(texture_model, CONFIG, name="saliency")
    config = layer.get_config()
    rebuilt = GridSaliencyLayer.from_config(config)
    assert rebuilt.get_config() == config
    np.testing.assert_allclose(rebuilt(images, masks, class_ids).numpy(), layer(images, masks, class_ids).numpy())
    # Inside a functional model (symbolic call) saved to and loaded from the .keras format.
    image_in = keras.Input((32, 32, 1))
    mask_in = keras.Input((32, 32))
    class_in = keras.Input((), dtype="int32")
    wrapper = keras.Model([image_in, mask_in, class_in], layer(image_in, mask_in, class_in))
    path = tmp_path / "saliency.keras"
    wrapper.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded([images, masks, class_ids]).numpy(),
                               layer(images, masks, class_ids).numpy(), atol=1e-6)


def test_inside_tf_function_and_tf_data(texture_model):
    images, masks, class_ids = _inputs(3)
    layer = GridSaliencyLayer(texture_model, CONFIG)
    eager = layer(images, masks, class_ids).numpy()
    compiled = tf.function(lambda i, m, c: layer(i, m, c))(images, masks, class_ids).numpy()
    np.testing.assert_allclose(compiled, eager, atol=1e-6)
    dataset = tf.data.Dataset.from_tensor_slices((images, masks, class_ids)).batch(2).map(
        lambda i, m, c: (i, layer(i, m, c)))
    streamed = np.concatenate([saliency.numpy() for _, saliency in dataset])
    np.testing.assert_allclose(streamed, eager, atol=1e-6)


def test_bad_arguments(texture_model):
    with pytest.raises(TypeError, match="model"):
        GridSaliencyLayer(lambda x: x)
    with pytest.raises(ValueError, match="output"):
        GridSaliencyLayer(texture_model, output="losses")
    with pytest.raises(ValueError, match="steps"):
        GridSaliencyLayer(texture_model, {"steps": -3})
    images, masks, class_ids = _inputs()
    images[0, 0, 0, 0] = np.inf
    with pytest.raises(tf.errors.InvalidArgumentError, match="images"):
        GridSaliencyLayer(texture_model, CONFIG)(images, masks, class_ids)


def test_class_id_outside_the_models_classes_is_an_error_not_an_empty_mask(texture_model):
    images, masks, _ = _inputs()
    layer = GridSaliencyLayer(texture_model, CONFIG)
    with pytest.raises(tf.errors.InvalidArgumentError, match="class_ids.*2 classes"):
        layer(images, masks, np.array([1, 2], np.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="class_ids"):
        tf.function(lambda i, m, c: layer(i, m, c))(images, masks, np.array([-1, 0], np.int32))


def test_non_binary_request_masks_and_nan_outputs_are_errors_inside_the_graph(texture_model):
    images, masks, class_ids = _inputs()
    layer = GridSaliencyLayer(texture_model, CONFIG)
    with pytest.raises(tf.errors.InvalidArgumentError, match="masks"):
        layer(images, masks * 0.5, class_ids)
    inputs = keras.Input((32, 32, 1))
    nan_model = keras.Model(inputs, keras.layers.Lambda(lambda x: texture_model(x) * float("nan"))(inputs))
    with pytest.raises(tf.errors.InvalidArgumentError, match="model_output"):
        GridSaliencyLayer(nan_model, CONFIG)(images, masks, class_ids)
