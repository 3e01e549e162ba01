"""IoU/mIoU, CBD (Eq. 6) and CBL (Eq. 7): hand-computed values and zero denominators."""

import numpy as np
import pytest

from grid_saliency_tf import (confusion_matrix, context_bias_detection, context_bias_localization, iou_per_class,
                              mean_iou)


def test_confusion_matrix_and_iou_by_hand():
    labels = np.array([[[0, 0, 1, 1], [2, 2, 2, 255]]])
    predictions = np.array([[[0, 1, 1, 1], [2, 2, 0, 0]]])
    confusion = confusion_matrix(labels, predictions, 4, ignore_label=255)
    expected = np.zeros((4, 4), int)
    expected[0, 0], expected[0, 1], expected[1, 1], expected[2, 2], expected[2, 0] = 1, 1, 2, 2, 1
    np.testing.assert_array_equal(confusion, expected)
    iou, defined = iou_per_class(confusion, return_defined=True)
    np.testing.assert_allclose(iou, [1 / 3, 2 / 3, 2 / 3, 0.0])
    assert defined.tolist() == [True, True, True, False]
    assert mean_iou(confusion) == pytest.approx((1 / 3 + 2 / 3 + 2 / 3) / 3)
    assert iou_per_class(confusion, undefined_value=1.0)[3] == 1.0


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="labels"):
        confusion_matrix(np.array([0, 5]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="same size"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix(np.array([0]), np.array([0]), 0)
    with pytest.raises(ValueError, match="no pixel"):
        mean_iou(np.zeros((3, 3)))


def test_cbd_and_cbl_by_hand():
    saliency = np.zeros((2, 4, 4))
    saliency[0, :2, :] = 0.5  # all in the top half
    saliency[0, 3, 0] = 1.0  # one bottom pixel
    context = np.ones((2, 4, 4))
    context[:, 1:3, 1:3] = 0  # a 2x2 object in the middle
    bias = np.zeros((2, 4, 4))
    bias[:, :2, :] = 1  # top half is the biased context
    cbd = context_bias_detection(saliency, context)
    # Context has 12 pixels; saliency in context: top half has 6 context pixels at 0.5, plus 1.0.
    np.testing.assert_allclose(cbd, [(6 * 0.5 + 1.0) / 12, 0.0])
    cbl, defined = context_bias_localization(saliency, bias * context, context, return_defined=True)
    np.testing.assert_allclose(cbl, [3.0 / 4.0, 0.0])
    assert defined.tolist() == [True, False]
    assert context_bias_localization(saliency, bias * context, context, undefined_value=0.5)[1] == 0.5
    # The whole biased half may be passed: only its part inside C counts.
    np.testing.assert_allclose(context_bias_localization(saliency, bias, context), [3.0 / 4.0, 0.0])


def test_cbl_stays_in_unit_interval_with_saliency_on_missed_object_pixels():
    # The request R misses object pixels in the biased half; M_context is salient there (zero only on R).
    context = np.ones((1, 4, 4))
    context[0, 0:2, 1:3] = 0  # R_GT: a 2x2 object in the top (biased) half
    half = np.zeros((1, 4, 4))
    half[0, :2, :] = 1
    saliency = np.zeros((1, 4, 4))
    saliency[0, :2, :] = 1.0  # everything in the top half, incl. the 4 object pixels
    saliency[0, 3, 3] = 1.0  # one pixel in the unbiased half
    cbl = context_bias_localization(saliency, half, context)
    np.testing.assert_allclose(cbl, [4.0 / 5.0])


def test_cbd_without_context_is_the_documented_value_not_nan():
    saliency = np.ones((1, 3, 3))
    values, defined = context_bias_detection(saliency, np.zeros((1, 3, 3)), return_defined=True)
    assert values.tolist() == [0.0] and defined.tolist() == [False]


def test_metrics_reject_mismatched_shapes_and_nan():
    with pytest.raises(ValueError, match="same shape"):
        context_bias_detection(np.ones((1, 4, 4)), np.ones((1, 3, 3)))
    with pytest.raises(ValueError, match="saliency"):
        context_bias_detection(np.full((1, 2, 2), np.nan), np.ones((1, 2, 2)))


def test_confusion_matrix_refuses_fractional_labels_and_iou_a_negative_matrix():
    with pytest.raises(TypeError, match="labels.*1.5"):
        confusion_matrix(np.array([0, 1.5]), np.array([0, 1]), 3)
    with pytest.raises(TypeError, match="predictions.*0.25"):
        confusion_matrix(np.array([0, 1]), np.array([0.25, 1.0]), 3)
    # Whole-valued floats are class ids.
    np.testing.assert_array_equal(confusion_matrix(np.array([0.0, 1.0]), np.array([0, 1]), 2), np.eye(2))
    negative = np.eye(3)
    negative[0, 1] = -1
    with pytest.raises(ValueError, match="confusion.*-1"):
        iou_per_class(negative)
    with pytest.raises(ValueError, match="confusion"):
        mean_iou(np.full((2, 2), np.nan))


def test_undefined_value_must_be_a_finite_number():
    with pytest.raises(ValueError, match="undefined_value"):
        iou_per_class(np.zeros((2, 2)), undefined_value=float("nan"))
    with pytest.raises(ValueError, match="undefined_value"):
        context_bias_detection(np.ones((1, 3, 3)), np.zeros((1, 3, 3)), undefined_value=float("inf"))
