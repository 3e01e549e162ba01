"""Batches of requests: fixed shapes (one trace), independence of the batch, the memory-based batch size;
and the model checks of a run (Keras files, DeepLab exports, outputs that are not Cityscapes probabilities)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from deeplab_utils.cityscapes.explainer import BatchExplainer, automatic_batch_size, batch_size_for_budget
from deeplab_utils.cityscapes.job import optimizer_settings
from deeplab_utils.cityscapes.models import load_model, predict
from deeplab_utils.cityscapes.testing import context_model, street_scene
from deeplab_utils.labels import CITYSCAPES
from grid_saliency_tf import GridSaliencyOptimizer


@pytest.fixture(scope="module")
def model():
    return context_model()


@pytest.fixture(scope="module")
def requests(model):
    image, _, _ = street_scene(objects=("rider_on_bicycle", "car"), seed=4)
    labels = predict(model, image).argmax(-1)
    rider, car = CITYSCAPES.class_id("rider"), CITYSCAPES.class_id("car")
    images = np.repeat(image[None].astype(np.float32), 3, axis=0)
    masks = np.stack([labels == rider, labels == car, labels == rider]).astype(np.float32)
    return images, np.array([rider, car, rider], np.int32), masks


def test_results_do_not_depend_on_the_batch_and_padding_keeps_one_trace(model, requests):
    optimizer = GridSaliencyOptimizer(model, **optimizer_settings({"steps": 20}))
    images, class_ids, masks = requests
    batched = BatchExplainer(optimizer, batch_size=2).explain(images, class_ids, masks)   # 2 + (1 + 1 padding)
    alone = BatchExplainer(optimizer, batch_size=2).explain(images[1:2], class_ids[1:2], masks[1:2])
    assert optimizer.tracing_count == 1
    assert batched["low_res_masks"].shape == (3, 16, 32) and batched["empty"][1] and batched["low_res_masks"][0].any()
    for key, value in alone.items():
        np.testing.assert_array_equal(value[0], batched[key][1])
    np.testing.assert_array_equal(batched["low_res_masks"][0], batched["low_res_masks"][2])


def test_bad_arguments(model):
    optimizer = GridSaliencyOptimizer(model, **optimizer_settings({"steps": 1}))
    with pytest.raises(ValueError, match="Argument `batch_size` must be an integer >= 1; received 0"):
        BatchExplainer(optimizer, batch_size=0)
    with pytest.raises(TypeError, match="Argument `optimizer` must be a GridSaliencyOptimizer"):
        BatchExplainer(model, batch_size=1)


def test_batch_size_from_a_memory_budget():
    # 100 MB fixed, 30 MB per request: 1 GB fits 31 requests; 50 MB fits none, so 1.
    peak = lambda batch: 100_000_000 + 30_000_000 * batch
    assert batch_size_for_budget(peak, 1_030_000_000) == 31
    assert batch_size_for_budget(peak, 1_030_000_000, maximum=16) == 16
    assert batch_size_for_budget(peak, 50_000_000) == 1
    with pytest.raises(ValueError, match="must be positive"):
        batch_size_for_budget(peak, 0)


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="checks the CPU-only message")
def test_the_automatic_batch_size_needs_a_gpu(model):
    optimizer = GridSaliencyOptimizer(model, **optimizer_settings({"steps": 1}))
    with pytest.raises(ValueError, match="Argument `batch_size` must be given on a machine without a GPU"):
        automatic_batch_size(optimizer, (32, 64))


def test_load_a_keras_file_and_refuse_missing_paths(model, tmp_path):
    model.save(tmp_path / "fixture.keras")
    loaded, name = load_model(tmp_path / "fixture.keras")
    image = street_scene(32, 64, seed=1)[0]
    assert name == "fixture.keras"
    np.testing.assert_allclose(predict(loaded, image), predict(model, image), atol=1e-6)
    assert load_model(model) == (model, "cityscapes_context_fixture")
    with pytest.raises(ValueError, match="Argument `model` must be an existing file or folder"):
        load_model(tmp_path / "missing.tar.gz")
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="Argument `model` must be a loadable Keras model"):
        load_model(tmp_path / "broken.keras")
    with pytest.raises(TypeError, match="Argument `model` must be a path or a callable"):
        load_model(3)


def test_a_deeplab_export_is_loaded_and_its_probabilities_pass(tmp_path):
    from deeplab_utils.testing import write_model_tarball

    tarball = write_model_tarball(tmp_path, crop_size=(65, 65), seed=1)
    loaded, name = load_model(tarball, backend="graph")  # a miniature export: only the graph loads it
    assert name == "deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz"
    probabilities = predict(loaded, street_scene(32, 64, seed=1)[0])
    assert probabilities.shape == (32, 64, 19)


def test_logits_are_normalised_when_declared():
    inputs = keras.Input((None, None, 3))
    logits = keras.Model(inputs, keras.layers.Conv2D(19, 1)(inputs))
    probabilities = predict(logits, street_scene(32, 64, seed=1)[0], "logits")
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="Argument `model_output` must be one of"):
        predict(logits, street_scene(32, 64, seed=1)[0], "scores")
