"""The shared explainer path: request chunking, refused grids, errors from inside the compiled function."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from grid_saliency_tf import (GridSaliencyOptimizer, IntegratedGradients, Requests, SegGradCAM, SmoothGrad,
                              VanillaGradient)
from grid_saliency_tf.testing import square_mask

SIZE = 16


def _model(channels=1):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIZE, SIZE, channels))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="bottleneck")(inputs)
    x = keras.layers.Conv2D(3, 3, padding="same", name="logits")(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


METHODS = {
    "grid_saliency": lambda model, **kw: GridSaliencyOptimizer(model, steps=4, **kw),
    "vanilla_gradient": lambda model, **kw: VanillaGradient(model, **kw),
    "integrated_gradients": lambda model, **kw: IntegratedGradients(model, steps=3, **kw),
    "smooth_grad": lambda model, **kw: SmoothGrad(model, samples=2, **kw),
    "seg_grad_cam": lambda model, **kw: SegGradCAM(model, "bottleneck", **kw),
}


def _data(n_requests=5, n_images=2):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (n_images, SIZE, SIZE, 1)).astype(np.float32)
    masks = np.stack([square_mask(1 + i, 2 + i, 5, SIZE) for i in range(n_requests)])
    return images, Requests(np.arange(n_requests) % n_images, np.arange(n_requests) % 3, masks)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_chunked_requests_give_the_results_of_one_call_without_retracing(name):
    model = _model()
    images, requests = _data()
    whole = METHODS[name](model, max_requests_per_call=None).explain(images, requests)
    chunked_explainer = METHODS[name](model, max_requests_per_call=2)
    chunked = chunked_explainer.explain(images, requests)
    assert chunked_explainer.tracing_count == 2  # chunks of 2, 2 and 1 requests: two shapes
    for field in whole.__dataclass_fields__:
        if getattr(whole, field) is not None:
            np.testing.assert_allclose(getattr(chunked, field), getattr(whole, field), rtol=1e-5, atol=1e-6,
                                       err_msg=field)
    chunked_explainer.explain(images, requests)
    assert chunked_explainer.tracing_count == 2
    even = METHODS[name](model, max_requests_per_call=2)
    even.explain(*_data(n_requests=4))
    assert even.tracing_count == 1


@pytest.mark.parametrize("name", sorted(METHODS))
def test_bad_max_requests_per_call_is_refused(name):
    for value in (0, 2.5, True):
        with pytest.raises((TypeError, ValueError), match="max_requests_per_call"):
            METHODS[name](_model(), max_requests_per_call=value)


@pytest.mark.parametrize("method", [GridSaliencyOptimizer, VanillaGradient])
def test_a_grid_with_more_cells_than_pixels_is_refused(method):
    images, requests = _data()
    for grid_shape in ((SIZE + 1, 4), (4, 2 * SIZE)):
        with pytest.raises(ValueError, match=r"grid_shape.*\(16, 16\)"):
            method(_model(), grid_shape=grid_shape).explain(images, requests)
    assert method(_model(), grid_shape=(SIZE, SIZE)).explain(images, requests).saliency.shape == (5, SIZE, SIZE)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_a_model_failing_inside_the_compiled_function_gives_one_clear_message(name):
    images, requests = _data()
    explainer = METHODS[name](_model(channels=3))  # the model expects 3 channels, the images have 1
    with pytest.raises(ValueError, match="model.*expected axis -1 of input shape to have value 3") as error:
        explainer.explain(images, requests)
    message = str(error.value)
    assert "in user code" not in message and "File " not in message and "\x1b[" not in message


@keras.saving.register_keras_serializable(package="grid_saliency_tests")
class BrightnessGuard(keras.layers.Layer):
    """Passes images through, with a graph assertion that no pixel exceeds 0.9 (fails at run time)."""

    def call(self, images):
        check = tf.debugging.assert_less_equal(tf.reduce_max(images), 0.9, message="pixel above 0.9")
        with tf.control_dependencies([check]):
            return tf.identity(images)


def test_a_model_failing_at_run_time_inside_the_compiled_function_gives_one_clear_message():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(3, 3, padding="same", name="bottleneck")(BrightnessGuard()(inputs))
    model = keras.Model(inputs, keras.layers.Softmax()(x))
    images, requests = _data()
    for explainer in (VanillaGradient(model), GridSaliencyOptimizer(model, steps=2, perturbation_values=(0.0, 0.5))):
        with pytest.raises(tf.errors.InvalidArgumentError, match="model.*pixel above 0.9") as error:
            explainer.explain(images, requests)
        message = str(error.value)
        assert "Graph execution error" not in message and "File " not in message and "[[" not in message
        explainer.explain(images * 0.5, requests)  # the same explainer still works on valid images


@keras.saving.register_keras_serializable(package="grid_saliency_tests")
class ValueSizedResize(keras.layers.Layer):
    """Resizes to the input's own size, computed from a value: the output size is unknown in a trace."""

    def call(self, images):
        size = tf.shape(images)[1:3] + tf.cast(tf.reduce_sum(images) * 0.0, tf.int32)
        return tf.image.resize(images, size)


def test_a_model_whose_output_shape_is_known_only_at_run_time_is_run_once_per_image_shape():
    static = _model()
    inputs = keras.Input((SIZE, SIZE, 1))
    dynamic = keras.Model(inputs, static(ValueSizedResize()(inputs)))
    images, requests = _data()
    for name in ("vanilla_gradient", "grid_saliency"):
        expected = METHODS[name](static).explain(images, requests)
        explainer = METHODS[name](dynamic)
        result = explainer.explain(images, requests)
        np.testing.assert_allclose(result.saliency, expected.saliency, rtol=1e-5, atol=1e-6)
        with pytest.raises(ValueError, match="requests.class_ids.*3 classes"):
            explainer.explain(images, Requests([0], [3], requests.masks[:1]))
    explainer = VanillaGradient(dynamic)

    @tf.function(input_signature=[tf.TensorSpec([None, SIZE, SIZE, 1])])
    def in_a_graph(images):  # there the model cannot be run to learn its output shape
        return explainer.explain_tensors(images, tf.zeros([1], tf.int32), tf.zeros([1], tf.int32),
                                         tf.zeros([1, SIZE, SIZE]))

    with pytest.raises(ValueError, match="Argument `model` must map images.*returned shape"):
        in_a_graph.get_concrete_function()
