"""Perturbations p(x, M), p_context (Eq. 3), erosion, blur and mask upsampling."""

import numpy as np
import tensorflow as tf

from grid_saliency_tf import blurred_image, constant_image, context_perturbation, erode_masks, perturb, upsample_mask


def test_perturb_interpolates_and_clips():
    x = tf.constant(np.linspace(0, 1, 16, dtype=np.float32).reshape(1, 4, 4, 1))
    m = tf.constant(np.tile([0.0, 0.25, 0.75, 1.0], (4, 1))[None].astype(np.float32))
    a = constant_image(tf.constant([0.5]), (0.0, 1.0))
    expected = x.numpy()[..., 0] * m.numpy() + 0.5 * (1 - m.numpy())
    np.testing.assert_allclose(perturb(x, m, a, (0.0, 1.0)).numpy()[..., 0], expected, rtol=1e-6)
    clipped = perturb(x, tf.zeros_like(m), tf.constant(3.0), (0.0, 1.0))
    assert float(tf.reduce_max(clipped)) == 1.0


def test_context_perturbation_at_empty_mask_keeps_only_the_request():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 255, (2, 6, 6, 3)).astype(np.float32))
    r = np.zeros((2, 6, 6), np.float32)
    r[:, 1:3, 2:5] = 1
    a = constant_image(tf.constant([0.0, 1.0]), (0.0, 255.0))
    empty = context_perturbation(x, tf.constant(r), tf.zeros_like(r), a, (0.0, 255.0)).numpy()
    expected = x.numpy() * r[..., None] + np.array([0.0, 255.0])[:, None, None, None] * (1 - r[..., None])
    np.testing.assert_allclose(empty, expected, rtol=1e-6)
    full = context_perturbation(x, tf.constant(r), tf.ones_like(r), a, (0.0, 255.0)).numpy()
    np.testing.assert_allclose(full, x.numpy(), rtol=1e-6)


def test_erosion_with_3x3_kernel_matches_opencv_semantics():
    masks = np.zeros((1, 8, 8), np.float32)
    masks[0, 2:7, 1:6] = 1  # 5x5 square
    masks[0, 0, :] = 1  # a line along the top border
    eroded = erode_masks(tf.constant(masks), 3).numpy()[0]
    expected = np.zeros((8, 8), np.float32)
    expected[3:6, 2:5] = 1
    np.testing.assert_array_equal(eroded, expected)
    border = np.zeros((1, 8, 8), np.float32)
    border[0, :3, :3] = 1  # corner square: pixels outside the image do not erode
    eroded = erode_masks(tf.constant(border), 3).numpy()[0]
    assert eroded[:2, :2].all() and eroded.sum() == 4


def test_blur_keeps_constants_and_smooths():
    constant = tf.fill([1, 10, 12, 2], 0.3)
    np.testing.assert_allclose(blurred_image(constant, 2.0).numpy(), 0.3, rtol=1e-5)
    rows, cols = np.mgrid[:10, :12]
    board = ((rows + cols) % 2).astype(np.float32)[None, :, :, None]
    blurred = blurred_image(tf.constant(board), 2.0).numpy()
    assert blurred.std() < 0.05 * board.std() and abs(blurred.mean() - board.mean()) < 0.05


def test_upsampling_nearest_and_bilinear():
    low = tf.constant([[[0.0, 1.0], [1.0, 0.0]]])
    nearest = upsample_mask(low, (4, 4), "nearest").numpy()[0]
    np.testing.assert_array_equal(nearest, np.kron(low.numpy()[0], np.ones((2, 2))))
    bilinear = upsample_mask(low, (4, 4), "bilinear").numpy()[0]
    assert 0 < bilinear[1, 1] < 1 and bilinear.min() >= 0 and bilinear.max() <= 1
