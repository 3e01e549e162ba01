"""GridSaliencyOptimizer: Eq. 2/3 on analytic models, supplement S1.2 details, batching, bad input."""

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

from grid_saliency_tf import (RUNTIME_PARAMETERS, GridSaliencyOptimizer, Requests, blurred_image, erode_masks,
                              noise_image, perturb)
from grid_saliency_tf.testing import RegionTextureModel, checkerboard, functional, square_mask

FAST = {"steps": 40}


def _texture_request(n=1):
    masks = np.stack([square_mask(20, 20, 8)] * n)
    return Requests(np.zeros(n, np.int32), np.ones(n, np.int32), masks)


def test_context_saliency_finds_the_one_needed_region(texture_model):
    optimizer = GridSaliencyOptimizer(texture_model)
    result = optimizer.explain(checkerboard(), _texture_request())
    low_res = result.low_res_masks[0]
    # The model reads the top-left quadrant = grid cells [0:2, 0:2] of a 4x4 grid.
    assert low_res[:2, :2].sum() > 0.5
    assert low_res[:2, :2].sum() / low_res.sum() > 0.99
    assert result.converged[0] and not result.empty[0]
    assert result.preservation_loss[0] <= 0.1
    np.testing.assert_allclose(result.total_loss, result.mask_loss + result.preservation_loss, rtol=1e-6)
    np.testing.assert_allclose(result.mask_loss[0], 0.05 * low_res.sum(), rtol=1e-5)
    # Nearest upsampling: every full-resolution pixel equals its grid cell.
    np.testing.assert_array_equal(result.masks[0], np.kron(low_res, np.ones((8, 8))))


@pytest.mark.parametrize("region, cell", [((16, 32, 16, 32), (slice(2, 4), slice(2, 4))),
                                          ((0, 8, 24, 32), (slice(0, 1), slice(3, 4)))])
def test_saliency_follows_the_region_the_model_reads(region, cell):
    model = functional(RegionTextureModel(region=region))
    masks = square_mask(0, 0, 8)[None] if region[0] == 16 else square_mask(24, 0, 8)[None]
    result = GridSaliencyOptimizer(model).explain(checkerboard(), Requests([0], [1], masks))
    low_res = result.low_res_masks[0]
    assert low_res[cell].sum() / max(low_res.sum(), 1e-9) > 0.99


def test_model_without_context_needs_an_empty_mask(pixel_model):
    images = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 1)).astype(np.float32)
    masks = np.stack([square_mask(4, 4, 10), square_mask(16, 10, 12)])
    result = GridSaliencyOptimizer(pixel_model).explain(images, Requests([0, 1], [1, 0], masks))
    assert result.empty.all()
    assert np.all(result.masks == 0) and np.all(result.low_res_masks == 0)
    np.testing.assert_allclose(result.preservation_loss, 0.0, atol=1e-6)
    assert result.converged.all()


def test_empty_mask_replaces_a_worse_optimised_mask(pixel_model):
    # Without the final check the optimised mask keeps mass (initial 0.5, few steps); with it, the
    # empty mask (loss 0 for a context-free model) must win.
    images = np.full((1, 32, 32, 1), 0.9, np.float32)
    requests = Requests([0], [1], square_mask(8, 8, 8)[None])
    unchecked = GridSaliencyOptimizer(pixel_model, steps=1, check_empty_mask=False).explain(images, requests)
    checked = GridSaliencyOptimizer(pixel_model, steps=1).explain(images, requests)
    assert unchecked.low_res_masks.sum() > 0 and not unchecked.empty[0]
    assert checked.empty[0] and checked.total_loss[0] < unchecked.total_loss[0]


def test_perturbation_value_is_the_candidate_with_lowest_loss_at_empty_mask(pixel_model):
    # Class 1 needs bright pixels; the grid form at M = 0 perturbs everything to the constant, so
    # the brightest candidate (1.0) has the lowest loss; for class 0 the darkest (0.0).
    images = np.full((1, 32, 32, 1), 0.8, np.float32)
    masks = np.stack([square_mask(8, 8, 8)] * 2)
    optimizer = GridSaliencyOptimizer(pixel_model, mode="grid", steps=2)
    result = optimizer.explain(images, Requests([0, 0], [1, 0], masks))
    np.testing.assert_allclose(result.perturbation_value, [1.0, 0.0])
    inputs = keras.Input((32, 32, 1))
    model_255 = keras.Model(inputs, pixel_model(keras.layers.Rescaling(1 / 255.0)(inputs)))
    scaled = GridSaliencyOptimizer(model_255, mode="grid", steps=2, value_range=(0.0, 255.0),
                                   perturbation_values=(0.25, 0.75))
    # Images in 0..255: candidates are fractions of the range, the chosen value is in image units.
    result = scaled.explain(images * 255.0, Requests([0], [1], masks[:1]))
    np.testing.assert_allclose(result.perturbation_value, [0.75 * 255.0])


def test_one_step_matches_a_hand_computed_sgd_update(texture_model):
    # One SGD step from M = 0.5 with momentum 0: M1 = clip(M0 - lr * dL/dM). Computed independently
    # with GradientTape on the same loss.
    images = checkerboard()
    masks = square_mask(20, 20, 8)[None]
    optimizer = GridSaliencyOptimizer(texture_model, steps=1, momentum=0.0, learning_rate=0.2,
                                      check_empty_mask=False, perturbation_values=(0.5,))
    result = optimizer.explain(images, Requests([0], [1], masks))

    x = tf.constant(images)
    r_in = tf.constant(masks)
    eroded = tf.constant(square_mask(21, 21, 6)[None])
    original = texture_model(x)[..., 1]
    base = x * r_in[..., None] + 0.5 * (1 - r_in[..., None])
    low_res = tf.Variable(tf.fill([1, 4, 4], 0.5))
    with tf.GradientTape() as tape:
        full = tf.repeat(tf.repeat(low_res, 8, axis=1), 8, axis=2)[..., None]
        perturbed = tf.clip_by_value(x * full + base * (1 - full), 0, 1)
        preservation = tf.reduce_sum(eroded * tf.nn.relu(original - texture_model(perturbed)[..., 1])) / 36.0
        loss = 0.05 * tf.reduce_sum(low_res) + preservation
    expected = (low_res - 0.2 * tape.gradient(loss, low_res)).numpy()
    expected = np.clip(np.where(expected < 0.2, 0.0, expected), 0, 1)
    np.testing.assert_allclose(result.low_res_masks, expected, atol=1e-5)


def test_grid_mode_also_keeps_the_needed_region(texture_model):
    result = GridSaliencyOptimizer(texture_model, mode="grid").explain(checkerboard(), _texture_request())
    low_res = result.low_res_masks[0]
    assert low_res[:2, :2].sum() / low_res.sum() > 0.99 and result.converged[0]


def test_mask_norm_mean_rescales_lambda(texture_model):
    images, requests = checkerboard(), _texture_request()
    by_sum = GridSaliencyOptimizer(texture_model, mask_weight=0.05, **FAST).explain(images, requests)
    by_mean = GridSaliencyOptimizer(texture_model, mask_weight=0.8, mask_norm="mean", **FAST).explain(images, requests)
    np.testing.assert_allclose(by_sum.low_res_masks, by_mean.low_res_masks, atol=1e-5)
    np.testing.assert_allclose(by_sum.mask_loss, by_mean.mask_loss, rtol=1e-5)


def test_logits_models_get_a_softmax(texture_model):
    inputs = keras.Input((32, 32, 1))
    logits_model = keras.Model(inputs, keras.ops.log(texture_model(inputs)))
    images, requests = checkerboard(), _texture_request()
    from_probabilities = GridSaliencyOptimizer(texture_model, **FAST).explain(images, requests)
    from_logits = GridSaliencyOptimizer(logits_model, model_output="logits", **FAST).explain(images, requests)
    np.testing.assert_allclose(from_probabilities.low_res_masks, from_logits.low_res_masks, atol=1e-4)


def test_cityscapes_settings_are_reachable_by_arguments(texture_model):
    settings = GridSaliencyOptimizer.cityscapes_defaults()
    optimizer = GridSaliencyOptimizer(texture_model, **settings)
    assert (optimizer.grid_shape, optimizer.learning_rate, optimizer.steps, optimizer.mask_weight,
            optimizer.upsampling) == ((16, 32), 1.0, 80, 0.01, "bilinear")
    result = optimizer.explain(checkerboard(), _texture_request())
    assert result.low_res_masks.shape == (1, 16, 32) and result.masks.shape == (1, 32, 32)
    assert np.all(np.isfinite(result.masks)) and result.masks.min() >= 0 and result.masks.max() <= 1


@pytest.mark.parametrize("perturbation", ["blur", "noise"])
def test_blur_and_noise_perturbations(texture_model, perturbation):
    optimizer = GridSaliencyOptimizer(texture_model, perturbation=perturbation, blur_sigma=2.0, **FAST)
    result = optimizer.explain(checkerboard(), _texture_request())
    # A blurred checkerboard or a smooth region of noise lacks the exact texture: the quadrant
    # is still the context that must be kept, and nothing else.
    low_res = result.low_res_masks[0]
    assert low_res[:2, :2].sum() > 0 and low_res[2:, :].sum() == 0 and low_res[:, 2:].sum() == 0
    assert np.isfinite(result.perturbation_value).all()


def test_requests_share_images_and_are_batch_invariant(texture_model, pixel_model):
    rng = np.random.default_rng(1)
    images = np.concatenate([checkerboard(), rng.uniform(0, 1, (2, 32, 32, 1)).astype(np.float32)])
    masks = np.stack([square_mask(20, 20, 8), square_mask(18, 4, 10), square_mask(24, 24, 6), square_mask(2, 2, 6)])
    requests = Requests([0, 0, 2, 1], [1, 0, 1, 1], masks)
    optimizer = GridSaliencyOptimizer(texture_model, **FAST)
    together = optimizer.explain(images, requests)
    for i in range(len(requests)):
        alone = optimizer.explain(images, Requests(requests.image_indices[i:i + 1], requests.class_ids[i:i + 1],
                                                   requests.masks[i:i + 1]))
        np.testing.assert_allclose(alone.low_res_masks[0], together.low_res_masks[i], atol=1e-5)
        np.testing.assert_allclose(alone.total_loss[0], together.total_loss[i], atol=1e-5)


def test_deterministic_and_no_retracing(texture_model):
    optimizer = GridSaliencyOptimizer(texture_model, **FAST)
    images, requests = checkerboard(), _texture_request(2)
    first = optimizer.explain(images, requests)
    traces = optimizer.tracing_count
    second = optimizer.explain(images + 0.0, Requests([0, 0], [1, 1], requests.masks))
    assert optimizer.tracing_count == traces == 1
    np.testing.assert_array_equal(first.masks, second.masks)


#: Settings of a Fig. S11 sweep (supplement S1.6): every runtime parameter moved away from its default.
SWEEP = [{"mask_weight": 0.2}, {"learning_rate": 0.05}, {"momentum": 0.0}, {"momentum": 0.9}, {"initial_value": 1.0},
         {"mask_weight": 0.01, "learning_rate": 1.0, "momentum": 0.75, "initial_value": 0.25}]


def test_derived_parameters_share_one_trace_and_match_fresh_optimizers(texture_model):
    """Bug (issue 13): every sweep setting built a new optimizer, i.e. a new tf.function and a new trace."""
    base = GridSaliencyOptimizer(texture_model, steps=10)
    images, requests = checkerboard(), _texture_request(2)
    default = base.explain(images, requests)
    assert base.tracing_count == 1
    for changes in SWEEP:
        derived = base.with_parameters(**changes)
        result = derived.explain(images, requests)
        assert derived.tracing_count == base.tracing_count == 1, changes
        fresh = GridSaliencyOptimizer(texture_model, steps=10, **changes)
        assert derived.get_config() == fresh.get_config()
        expected = fresh.explain(images, requests)
        for field in ("low_res_masks", "total_loss", "mask_loss", "preservation_loss"):
            np.testing.assert_array_equal(getattr(result, field), getattr(expected, field), err_msg=str(changes))
    assert base.get_config() == GridSaliencyOptimizer(texture_model, steps=10).get_config()  # unchanged
    np.testing.assert_array_equal(base.explain(images, requests).low_res_masks, default.low_res_masks)


def test_momentum_reaches_the_update(texture_model):
    """One step from M0 with velocity 0 is momentum-free; the second adds ``momentum * v1`` (S1.2)."""
    images, requests = checkerboard(), _texture_request()
    base = GridSaliencyOptimizer(texture_model, steps=2, check_empty_mask=False, clip_below=0.0)
    masks = {m: base.with_parameters(momentum=m).explain(images, requests).low_res_masks[0] for m in (0.0, 0.5, 0.9)}
    assert not np.array_equal(masks[0.0], masks[0.9])
    one = GridSaliencyOptimizer(texture_model, steps=1, check_empty_mask=False, clip_below=0.0)
    first = one.explain(images, requests).low_res_masks[0]
    first_step = first - 0.5  # v1 = -lr g(M0), the same for every momentum
    # M2 - M2(momentum 0) = momentum * v1 where no clip to [0, 1] binds.
    free = np.all([(m > 0) & (m < 1) for m in (first, masks[0.9], masks[0.0])], axis=0)
    assert free.any()
    np.testing.assert_allclose((masks[0.9] - masks[0.0])[free], 0.9 * first_step[free], atol=1e-5)


def test_a_sweep_of_derived_optimizers_logs_no_retracing_warning(texture_model):
    """Bug (issue 13): the Fig. S11 sweep printed TensorFlow's "triggered tf.function retracing" warning."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = tf.get_logger()
    logger.addHandler(handler)
    try:
        base = GridSaliencyOptimizer(texture_model, steps=3)
        images, requests = checkerboard(), _texture_request(2)
        for changes in SWEEP + SWEEP:
            base.with_parameters(**changes).explain(images, requests)
        assert not [r for r in records if "retracing" in r.getMessage()]
        # The capture sees the warning when one compiled function does retrace (5 shapes in 5 calls).
        for n in range(1, 6):
            base.explain(images, _texture_request(n))
        assert [r for r in records if "triggered tf.function retracing" in r.getMessage()]
    finally:
        logger.removeHandler(handler)


def test_only_runtime_parameters_can_be_derived(texture_model):
    base = GridSaliencyOptimizer(texture_model, steps=1)
    assert RUNTIME_PARAMETERS == ("mask_weight", "learning_rate", "momentum", "initial_value")
    with pytest.raises(ValueError, match="Argument `steps` must be among .*received 5"):
        base.with_parameters(steps=5)
    with pytest.raises(ValueError, match="`momentum`"):
        base.with_parameters(momentum=1.5)
    with pytest.raises((ValueError, TypeError), match="`learning_rate`"):
        base.with_parameters(learning_rate=0.0)


def test_numpy_tensor_and_dataset_inputs_agree(texture_model):
    optimizer = GridSaliencyOptimizer(texture_model, **FAST)
    images = np.concatenate([checkerboard(), checkerboard() * 0.5])
    masks = np.stack([square_mask(20, 20, 8)] * 2)
    requests = Requests([0, 1], [1, 1], masks)
    from_numpy = optimizer.explain(images, requests)
    from_tensor = optimizer.explain(tf.constant(images), requests)
    dataset = tf.data.Dataset.from_tensor_slices((images, masks, np.array([1, 1]))).batch(1)
    from_dataset = optimizer.explain(dataset)
    dict_dataset = tf.data.Dataset.from_tensor_slices(
        {"images": images, "request_masks": masks, "class_ids": np.array([1, 1])})
    from_dicts = optimizer.explain(dict_dataset)
    for other in (from_tensor, from_dataset, from_dicts):
        np.testing.assert_allclose(other.low_res_masks, from_numpy.low_res_masks, atol=1e-6)


def test_empty_request_is_flagged_with_zero_mask_and_finite_losses(texture_model):
    masks = np.stack([np.zeros((32, 32), np.float32), square_mask(20, 20, 8)])
    result = GridSaliencyOptimizer(texture_model, **FAST).explain(checkerboard(), Requests([0, 0], [1, 1], masks))
    assert result.empty_request.tolist() == [True, False]
    assert result.empty[0] and not result.converged[0]
    assert np.all(result.masks[0] == 0)
    for field in ("total_loss", "mask_loss", "preservation_loss", "perturbation_value"):
        assert np.all(np.isfinite(getattr(result, field)))
    assert result.total_loss[0] == 0.0


def test_single_pixel_request_keeps_its_pixel_for_the_loss(texture_model):
    # Erosion would remove a one-pixel request; the uneroded mask is used instead.
    result = GridSaliencyOptimizer(texture_model).explain(
        checkerboard(), Requests([0], [1], square_mask(25, 25, 1)[None]))
    assert not result.empty_request[0] and result.converged[0]
    assert result.low_res_masks[0, :2, :2].sum() > 0.5


@pytest.mark.parametrize(
    "make_requests, message",
    [
        (lambda: Requests([3], [1], square_mask(0, 0, 4)[None]), "image_indices"),
        (lambda: Requests([0], [2], square_mask(0, 0, 4)[None]), "class_ids"),
        (lambda: Requests([0], [1], np.ones((1, 16, 16))), "masks"),
    ],
)
def test_requests_that_do_not_fit_are_rejected(texture_model, make_requests, message):
    with pytest.raises(ValueError, match=message):
        GridSaliencyOptimizer(texture_model, steps=1).explain(checkerboard(), make_requests())


def test_bad_images_and_models_are_rejected(texture_model):
    optimizer = GridSaliencyOptimizer(texture_model, steps=1)
    requests = _texture_request()
    images = checkerboard()
    images[0, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="images.*NaN"):
        optimizer.explain(images, requests)
    with pytest.raises(ValueError, match="images"):
        optimizer.explain(checkerboard()[0], requests)
    with pytest.raises(ValueError, match="value_range"):
        optimizer.explain(checkerboard() * 255.0, requests)
    with pytest.raises(ValueError, match="model"):
        GridSaliencyOptimizer(lambda x: tf.reduce_mean(x, axis=[1, 2]), steps=1).explain(checkerboard(), requests)
    with pytest.raises(TypeError, match="model"):
        GridSaliencyOptimizer("not a model")
    with pytest.raises(ValueError, match="requests"):
        optimizer.explain(checkerboard())


@pytest.mark.parametrize(
    "kwargs, name",
    [({"grid_shape": (0, 4)}, "grid_shape"), ({"steps": -1}, "steps"), ({"learning_rate": 0.0}, "learning_rate"),
     ({"mode": "global"}, "mode"), ({"upsampling": "cubic"}, "upsampling"), ({"perturbation_values": ()},
     "perturbation_values"), ({"value_range": (1.0, 0.0)}, "value_range"), ({"erosion_size": 2}, "erosion_size"),
     ({"mask_norm": "l2"}, "mask_norm"), ({"model_output": "scores"}, "model_output"),
     ({"initial_value": 1.5}, "initial_value"), ({"momentum": float("nan")}, "momentum")],
)
def test_bad_settings_name_the_argument(texture_model, kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        GridSaliencyOptimizer(texture_model, **kwargs)


def test_get_config_rebuilds_the_optimizer(texture_model):
    optimizer = GridSaliencyOptimizer(texture_model, grid_shape=(2, 8), mode="grid", steps=7)
    rebuilt = GridSaliencyOptimizer(texture_model, **optimizer.get_config())
    assert rebuilt.get_config() == optimizer.get_config()


def test_perturbation_images_are_returned_only_on_request(texture_model):
    assert GridSaliencyOptimizer(texture_model, **FAST).explain(checkerboard(), _texture_request()) \
        .perturbation_images is None
    with pytest.raises(TypeError, match="return_perturbations"):
        GridSaliencyOptimizer(texture_model, return_perturbations="yes")


@pytest.mark.parametrize("perturbation", ["constant", "blur", "noise"])
def test_returned_perturbation_images_are_the_ones_used(texture_model, perturbation):
    images = np.concatenate([checkerboard(), np.random.default_rng(0).uniform(0, 1, (1, 32, 32, 1))]).astype(
        np.float32)
    masks = np.stack([square_mask(20, 20, 8), square_mask(2, 2, 6), square_mask(10, 10, 8)])
    requests = Requests([0, 1, 0], [1, 0, 0], masks)
    optimizer = GridSaliencyOptimizer(texture_model, perturbation=perturbation, blur_sigma=2.0, steps=5,
                                      return_perturbations=True, mode="grid", check_empty_mask=False)
    result = optimizer.explain(images, requests)
    request_images = images[requests.image_indices]
    assert result.perturbation_images.shape == request_images.shape
    if perturbation == "constant":
        expected = np.broadcast_to(result.perturbation_value[:, None, None, None], request_images.shape)
    elif perturbation == "blur":
        expected = blurred_image(tf.constant(request_images), 2.0).numpy()
    else:
        expected = np.broadcast_to(noise_image((32, 32, 1), 0, (0.0, 1.0)).numpy(), request_images.shape)
    np.testing.assert_allclose(result.perturbation_images, expected, atol=1e-6)
    np.testing.assert_allclose(result.perturbation_value, expected.mean(axis=(1, 2, 3)), atol=1e-5)
    # The images reproduce the optimiser's loss: p(x, M) = x M + a (1 - M) (grid form, Eq. 2).
    perturbed = perturb(tf.constant(request_images), tf.constant(result.masks), result.perturbation_images,
                        (0.0, 1.0))
    original = texture_model(request_images).numpy()
    after = texture_model(perturbed).numpy()
    eroded = erode_masks(tf.constant(masks), 3).numpy()
    for i, class_id in enumerate(requests.class_ids):
        drop = np.maximum(original[i, ..., class_id] - after[i, ..., class_id], 0)
        np.testing.assert_allclose((eroded[i] * drop).sum() / eroded[i].sum(), result.preservation_loss[i],
                                   atol=1e-5)


def test_empty_mask_loss_is_the_preservation_loss_without_context(texture_model, pixel_model):
    # A model that needs the top-left quadrant loses much without context; a per-pixel model loses nothing.
    reading = GridSaliencyOptimizer(texture_model, steps=5).explain(checkerboard(), _texture_request())
    assert reading.empty_mask_loss[0] > 0.5
    images = np.random.default_rng(0).uniform(0, 1, (1, 32, 32, 1)).astype(np.float32)
    free = GridSaliencyOptimizer(pixel_model, steps=5).explain(images, Requests([0], [1], square_mask(4, 4, 10)[None]))
    np.testing.assert_allclose(free.empty_mask_loss, 0.0, atol=1e-6)
    # Where the empty mask is returned, its loss is the returned preservation loss.
    np.testing.assert_allclose(free.preservation_loss, free.empty_mask_loss, atol=1e-7)
    # An empty request gets zero, as its other losses.
    empty = GridSaliencyOptimizer(pixel_model, steps=1).explain(images, Requests([0], [1], np.zeros((1, 32, 32))))
    np.testing.assert_array_equal(empty.empty_mask_loss, [0.0])
