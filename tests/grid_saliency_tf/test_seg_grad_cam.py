"""Seg-Grad-CAM (Vinogradova et al., Eq. 1 with a pixel-set score) against a hand computation."""

import keras
import numpy as np
import pytest

from grid_saliency_tf import Requests, SegGradCAM, pixel_mask, whole_image_mask

SIZE = 8


def _tiny_model():
    """input -> 1x1 conv 'features' (3 maps, ReLU) -> 2x2 max pool -> 1x1 conv 'logits' -> upsample -> softmax."""
    inputs = keras.Input((SIZE, SIZE, 2))
    features = keras.layers.Conv2D(3, 1, activation="relu", name="features")(inputs)
    pooled = keras.layers.AveragePooling2D(2, name="pool")(features)
    logits = keras.layers.Conv2D(4, 1, name="logits")(pooled)
    upsampled = keras.layers.UpSampling2D(2, name="up")(logits)
    outputs = keras.layers.Softmax(name="softmax")(upsampled)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    model.get_layer("features").set_weights([rng.normal(size=(1, 1, 2, 3)).astype(np.float32),
                                             rng.normal(size=3).astype(np.float32)])
    model.get_layer("logits").set_weights([rng.normal(size=(1, 1, 3, 4)).astype(np.float32),
                                           rng.normal(size=4).astype(np.float32)])
    return model


def _hand_computed(model, image, class_id, mask):
    """alpha_k = mean_uv d(sum_M y^c)/dA_uv^k, L = ReLU(sum_k alpha_k A^k), by the chain rule."""
    w1, b1 = model.get_layer("features").get_weights()
    w2, _ = model.get_layer("logits").get_weights()
    features = np.maximum(image @ w1[0, 0] + b1, 0.0)  # (8, 8, 3)
    # y^c at output pixel (i, j) = sum_k w2[k, c] * mean of A^k over the 2x2 cell of (i, j).
    cell_mass = mask.reshape(SIZE // 2, 2, SIZE // 2, 2).sum(axis=(1, 3))  # (4, 4) pixels of M per cell
    d_features = np.kron(cell_mass, np.ones((2, 2)))[..., None] / 4.0 * w2[0, 0, :, class_id]  # (8, 8, 3)
    alpha = d_features.mean(axis=(0, 1))
    return np.maximum(features @ alpha, 0.0), alpha


@pytest.mark.parametrize("mask_kind", ["pixel", "object", "image"])
def test_heatmap_equals_the_hand_computed_weighted_sum(mask_kind):
    model = _tiny_model()
    images = np.random.default_rng(1).normal(size=(2, SIZE, SIZE, 2)).astype(np.float32)
    if mask_kind == "pixel":
        mask = pixel_mask((SIZE, SIZE), 3, 5)
    elif mask_kind == "object":
        mask = np.zeros((SIZE, SIZE), np.float32)
        mask[2:6, 1:4] = 1
    else:
        mask = whole_image_mask((SIZE, SIZE))
    requests = Requests([1, 0], [2, 3], np.stack([mask, mask]))
    result = SegGradCAM(model, "features").explain(images, requests)
    for i, (index, class_id) in enumerate(zip(requests.image_indices, requests.class_ids)):
        expected, alpha = _hand_computed(model, images[index], class_id, mask)
        np.testing.assert_allclose(result.weights[i], alpha, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(result.layer_heatmaps[i], expected, rtol=1e-5, atol=1e-7)
        # The layer is at input resolution here, so the upsampled heatmap is the same map.
        np.testing.assert_allclose(result.heatmaps[i], expected, rtol=1e-5, atol=1e-7)


def test_intermediate_layer_is_upsampled_to_the_input_size():
    model = _tiny_model()
    images = np.random.default_rng(2).normal(size=(1, SIZE, SIZE, 2)).astype(np.float32)
    requests = Requests([0], [1], whole_image_mask((SIZE, SIZE))[None])
    result = SegGradCAM(model, "pool", upsampling="nearest").explain(images, requests)
    assert result.layer_heatmaps.shape == (1, 4, 4) and result.heatmaps.shape == (1, SIZE, SIZE)
    np.testing.assert_allclose(result.heatmaps[0], np.kron(result.layer_heatmaps[0], np.ones((2, 2))), rtol=1e-6)
    assert np.all(result.heatmaps >= 0)


def test_batch_invariance_and_no_retracing():
    model = _tiny_model()
    images = np.random.default_rng(3).normal(size=(3, SIZE, SIZE, 2)).astype(np.float32)
    masks = np.stack([pixel_mask((SIZE, SIZE), i, i) for i in range(3)])
    explainer = SegGradCAM(model, "features")
    together = explainer.explain(images, Requests([0, 1, 2], [0, 1, 2], masks))
    alone = explainer.explain(images, Requests([2, 1, 0], [2, 1, 0], masks[::-1]))
    np.testing.assert_allclose(together.heatmaps, alone.heatmaps[::-1], rtol=1e-5, atol=1e-7)
    assert explainer.tracing_count == 1


def test_unknown_layer_and_missing_logits_are_rejected():
    model = _tiny_model()
    with pytest.raises(ValueError, match="layer_name.*'bottleneck'"):
        SegGradCAM(model, "bottleneck")
    inputs = keras.Input((SIZE, SIZE, 2))
    fused = keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="softmax", name="head")(inputs))
    with pytest.raises(ValueError, match="logits_layer"):
        SegGradCAM(fused, "head", model_output="probabilities")
    with pytest.raises(TypeError, match="model"):
        SegGradCAM(lambda x: x, "features")


def test_context_form_and_max_normalisation_of_the_saliency():
    model = _tiny_model()
    images = np.random.default_rng(4).normal(size=(2, SIZE, SIZE, 2)).astype(np.float32)
    masks = np.zeros((2, SIZE, SIZE), np.float32)
    masks[:, 2:6, 1:4] = 1
    requests = Requests([0, 1], [1, 2], masks)
    raw = SegGradCAM(model, "features", form="grid").explain(images, requests)
    np.testing.assert_array_equal(raw.saliency, raw.heatmaps)
    context = SegGradCAM(model, "features", form="context", normalize="max").explain(images, requests)
    np.testing.assert_allclose(context.heatmaps, raw.heatmaps, rtol=1e-6)
    # What a caller would otherwise write in NumPy: the heatmap outside R, scaled to a maximum of 1.
    outside = raw.heatmaps * (1.0 - masks)
    scale = outside.max(axis=(1, 2), keepdims=True)
    assert scale.max() > 0
    expected = np.divide(outside, scale, out=np.zeros_like(outside), where=scale > 0)
    np.testing.assert_allclose(context.saliency, expected, rtol=1e-5, atol=1e-7)
    assert np.all(context.saliency[masks == 1] == 0)
    with pytest.raises(ValueError, match="form"):
        SegGradCAM(model, "features", form="both")
    with pytest.raises(ValueError, match="normalize"):
        SegGradCAM(model, "features", normalize="l1")


def test_single_channel_logits_give_opposite_weights_for_the_two_classes():
    inputs = keras.Input((SIZE, SIZE, 2))
    features = keras.layers.Conv2D(3, 1, activation="relu", name="features")(inputs)
    logit = keras.layers.Conv2D(1, 1, name="logit")(features)
    model = keras.Model(inputs, logit)
    images = np.random.default_rng(5).normal(size=(1, SIZE, SIZE, 2)).astype(np.float32)
    mask = whole_image_mask((SIZE, SIZE))
    result = SegGradCAM(model, "features", model_output="logits").explain(
        images, Requests([0, 0], [1, 0], np.stack([mask, mask])))
    assert np.abs(result.weights[0]).max() > 0
    np.testing.assert_allclose(result.weights[1], -result.weights[0], rtol=1e-6)
