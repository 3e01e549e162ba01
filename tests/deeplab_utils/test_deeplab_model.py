"""DeepLabModel on fixture exports: parity with SemanticPredictions, gradients, batching, overrides."""

import numpy as np
import pytest
import tensorflow as tf

from deeplab_utils import DeepLabModel, FrozenGraph, parity_report
from deeplab_utils.testing import synthetic_scene as blocks_image

# Image sizes up to the 65x65 crop: full crop, smaller, thin, 1 pixel.
SIZES = [(65, 65), (48, 61), (9, 65), (1, 1)]


@pytest.mark.parametrize("which", ["mnv2", "xception"])
def test_argmax_equals_graph_semantic_predictions(which, mnv2_model, xception_model):
    model = mnv2_model if which == "mnv2" else xception_model
    images = [blocks_image(h, w, seed=i) for i, (h, w) in enumerate(SIZES)]
    images.append(np.random.default_rng(7).integers(0, 256, (50, 40, 3), dtype=np.uint8))
    report = parity_report(model, images)
    assert report["mismatches"] == 0, report
    # The fixtures must not be trivial: several classes are predicted across the test images.
    labels = np.concatenate([np.ravel(model.semantic_predictions(image)) for image in images])
    assert len(np.unique(labels)) >= 2


def test_tensors_found_with_different_logits_names(mnv2_model, xception_model, mnv2_graph, xception_graph):
    assert mnv2_model.input_name == mnv2_graph.float_input_name == "sub_7:0"
    assert mnv2_model.logits_name == mnv2_graph.logits_name == "ResizeBilinear_2:0"
    assert xception_model.input_name == xception_graph.float_input_name == "sub_7:0"
    assert xception_model.logits_name == xception_graph.logits_name == "ResizeBilinear_3:0"
    for model, classes in ((mnv2_model, 19), (xception_model, 21)):
        assert model.crop_size == (65, 65)
        assert model.pad_value == (127.5, 127.5, 127.5)
        assert model.num_classes == classes
        assert model.found == {"input_name": "found in the graph", "logits_name": "found in the graph"}
        text = model.describe()
        assert model.input_name in text and model.logits_name in text and "65x65" in text


def test_preprocessing_replays_the_graph_exactly(mnv2_model, mnv2_graph):
    image = blocks_image(30, 50)
    graph_input = FrozenGraph(mnv2_graph.graph_def).function(["ImageTensor:0"], ["sub_7:0"])
    inside = graph_input(tf.constant(image[None]))[0].numpy()
    outside = mnv2_model.preprocess(image[None].astype(np.float32)).numpy()
    np.testing.assert_array_equal(outside, inside)
    # Padding region holds the scaled mean pixel 127.5 -> 0.
    assert np.all(np.abs(outside[0, 30:, :, :]) < 1e-6) and np.all(np.abs(outside[0, :, 50:, :]) < 1e-6)


@pytest.mark.parametrize("which", ["mnv2", "xception"])
def test_class_score_gradient_is_finite_and_nonzero(which, mnv2_model, xception_model):
    model = mnv2_model if which == "mnv2" else xception_model
    images = tf.constant(np.stack([blocks_image(40, 60, seed=s) for s in (3, 4)]).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(images)
        probabilities = model(images)
        score = tf.reduce_sum(probabilities[:, 10:30, 20:40, 1])
    gradient = tape.gradient(score, images).numpy()
    assert probabilities.shape == (2, 40, 60, model.num_classes)
    np.testing.assert_allclose(probabilities.numpy().sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.isfinite(gradient))
    assert np.abs(gradient[0]).max() > 0 and np.abs(gradient[1]).max() > 0


def test_batched_and_per_image_calls_agree(mnv2_graph, mnv2_model):
    per_image = DeepLabModel(mnv2_graph.graph_def, batch_images=False)
    assert mnv2_model.batched and not per_image.batched
    assert "per image" in per_image.batching_note
    images = np.stack([blocks_image(33, 47, seed=s) for s in range(3)]).astype(np.float32)
    np.testing.assert_allclose(per_image(images).numpy(), mnv2_model(images).numpy(), atol=1e-5)
    single = np.concatenate([mnv2_model(images[i: i + 1]).numpy() for i in range(3)])
    np.testing.assert_allclose(mnv2_model(images).numpy(), single, atol=1e-5)


def test_logits_and_labels_are_cropped_to_the_input(xception_model):
    images = np.stack([blocks_image(20, 37, seed=s) for s in range(2)])
    logits = xception_model.logits(images)
    labels = xception_model.predict_labels(images)
    assert logits.shape == (2, 20, 37, 21) and labels.shape == (2, 20, 37)
    np.testing.assert_array_equal(labels.numpy(), np.argmax(logits.numpy(), -1))
    full = xception_model.graph_logits(xception_model.preprocess(images)).numpy()
    np.testing.assert_allclose(logits.numpy(), full[:, :20, :37], atol=1e-6)


def test_calls_inside_tf_function_do_not_retrace(mnv2_model):
    calls = []

    @tf.function
    def score(images):
        calls.append(1)
        return tf.reduce_sum(mnv2_model(images)[..., 2])

    images = tf.constant(np.stack([blocks_image(30, 30, seed=s) for s in range(2)]).astype(np.float32))
    first = score(images)
    second = score(images + 1.0)
    assert len(calls) == 1 and np.isfinite(first.numpy()) and np.isfinite(second.numpy())


def test_names_can_be_overridden(mnv2_graph):
    model = DeepLabModel(mnv2_graph.graph_def, input_name="sub_7", logits_name="ResizeBilinear_2:0")
    assert model.input_name == "sub_7:0" and model.logits_name == "ResizeBilinear_2:0"
    assert model.found == {"input_name": "given", "logits_name": "given"}
    # Logits before the final resize are 9x9, not at the crop size: refused with the reason.
    for batch_images in (None, False):
        with pytest.raises(ValueError, match="Argument `logits_name` must name logits at the crop size 65x65 .*"
                                             "received 'ResizeBilinear_1:0', which are 9x9"):
            DeepLabModel(mnv2_graph.graph_def, logits_name="ResizeBilinear_1:0", batch_images=batch_images)


@pytest.mark.parametrize("kwargs, message", [
    ({"input_name": "no_such_node:0"}, "input_name"),
    ({"logits_name": "missing"}, "logits_name"),
    ({"image_input_name": "Image:0"}, "image_input_name"),
])
def test_unknown_names_are_refused(mnv2_graph, kwargs, message):
    with pytest.raises(ValueError, match=message):
        DeepLabModel(mnv2_graph.graph_def, **kwargs)


def test_bad_images_are_refused(mnv2_model):
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*larger than the crop size 65x65"):
        mnv2_model(np.zeros((1, 66, 40, 3), np.float32))
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*shape"):
        mnv2_model(np.zeros((1, 20, 20), np.float32))
    with pytest.raises(TypeError):
        mnv2_model(tf.constant([["a"]]))
    with pytest.raises(TypeError, match="model"):
        DeepLabModel(42)


def test_loads_from_tarball_folder_and_pb(mnv2_tarball, tmp_path, mnv2_model):
    folder_model = DeepLabModel(mnv2_tarball, extract_dir=tmp_path / "unpacked")
    pb = tmp_path / "unpacked" / "deeplabv3_mnv2_cityscapes_train" / "frozen_inference_graph.pb"
    assert pb.is_file()
    assert sorted(p.name for p in pb.parent.iterdir()) == [
        "frozen_inference_graph.pb", "model.ckpt-30000.data-00000-of-00001", "model.ckpt-30000.index"]
    pb_model = DeepLabModel(pb)
    assert "frozen_inference_graph.pb" in mnv2_model.source and mnv2_tarball.name in mnv2_model.source
    image = blocks_image(25, 25)[None]
    reference = mnv2_model(image).numpy()
    for model in (folder_model, pb_model, DeepLabModel(tmp_path / "unpacked")):
        np.testing.assert_array_equal(model(image).numpy(), reference)
