"""Segmentation quality of a toy network: IoU per digit on a test set (the unbiased one: paper Fig. 4a)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from grid_saliency_tf import confusion_matrix, iou_per_class
from toy_benchmark.data.variant import NUM_CLASSES, NUM_DIGITS
from toy_benchmark.evaluation.metrics_record import SegmentationMetrics

__all__ = ["image_confusions", "predict_labels", "segmentation_from_confusions", "segmentation_metrics"]


def predict_labels(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The network's class map.

    Args:
        model: The network, images to softmax probabilities ``(batch, 64, 64, 11)``.
        images: float ``(batch, 64, 64, 1)``.

    Returns:
        int32 ``(batch, 64, 64)``: the argmax class of every pixel.
    """
    return np.argmax(model(images, training=False), axis=-1).astype(np.int32)


def image_confusions(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """The confusion matrix of every image.

    Args:
        labels, predictions: int ``(batch, 64, 64)`` class maps (true, predicted).

    Returns:
        int64 ``(batch, 11, 11)``: pixel counts, rows the true class, columns the predicted one.
    """
    matrices = [confusion_matrix(label, prediction, NUM_CLASSES) for label, prediction in zip(labels, predictions)]
    return np.array(matrices, np.int64).reshape(-1, NUM_CLASSES, NUM_CLASSES)


def segmentation_from_confusions(per_image: np.ndarray) -> SegmentationMetrics:
    """IoU per class (and per digit) from the images' confusion matrices, summed (Fig. 4a).

    The IoU of class ``c`` is ``TP_c / (TP_c + FP_c + FN_c)`` over all pixels of the set.

    Args:
        per_image: int ``(images, 11, 11)``: :func:`image_confusions` of every test image.

    Returns:
        The IoU per class and per digit, their mean, the summed 11 x 11 matrix and each image's own (for
        bootstrap intervals over images); an IoU is None where the class is neither present nor predicted.
    """
    stacked = np.asarray(per_image, np.int64).reshape(-1, NUM_CLASSES, NUM_CLASSES)
    confusion = stacked.sum(axis=0)
    iou, defined = iou_per_class(confusion, return_defined=True)
    per_class = tuple(float(v) if d else None for v, d in zip(iou, defined))
    return SegmentationMetrics(
        iou_per_class=per_class,
        iou_per_digit=per_class[:NUM_DIGITS],
        miou=float(iou[defined].mean()) if defined.any() else None,
        num_images=len(stacked),
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
        confusion_per_image=tuple(tuple(int(v) for v in matrix.ravel()) for matrix in stacked),
    )


def segmentation_metrics(model: keras.Model, dataset: tf.data.Dataset) -> SegmentationMetrics:
    """IoU per class (and per digit) of the network over a batched test set (:func:`segmentation_from_confusions`).

    Args:
        model: The network.
        dataset: Batched toy-dataset elements (dicts with ``image`` ``(batch, 64, 64, 1)`` and ``label``
            ``(batch, 64, 64)``).

    Returns:
        The :class:`SegmentationMetrics` of the set.
    """
    per_image = [image_confusions(batch["label"].numpy(), predict_labels(model, batch["image"].numpy()))
                 for batch in dataset]
    return segmentation_from_confusions(np.concatenate(per_image) if per_image
                                        else np.zeros((0, NUM_CLASSES, NUM_CLASSES), np.int64))
