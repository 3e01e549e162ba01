"""The requests of one image: predicted components per class and ground-truth/prediction intersections.

Supplement S2.1 and Table S1/S2 (Hoyer et al., NeurIPS 2019): a model-prediction request is a
connected component of a predicted class keeping at least 10,000 pixels after the 3x3 erosion; an
error request is a connected component of ``(ground truth == A) & (prediction == B)`` keeping at least
625 pixels after erosion, and explains the prediction of class B. Both thresholds are scaled by image
area (:meth:`Protocol.pixels`). The components come from
:func:`deeplab_utils.requests.build_request_masks`, un-eroded and largest first.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from deeplab_utils.cityscapes.protocol import Protocol, group_name
from deeplab_utils.labels import CITYSCAPES
from deeplab_utils.requests import RequestMasks, build_request_masks

__all__ = ["RequestGroup", "build_requests", "check_label_map"]


@dataclasses.dataclass(frozen=True)
class RequestGroup:
    """The requests of one group (a class, or a ground-truth/prediction pair) in one image.

    Attributes:
        group: ``"rider"`` or ``"rider/person"`` (:func:`~deeplab_utils.cityscapes.protocol.group_name`).
        kind: ``"prediction"`` (Fig. 6, Table S1) or ``"error"`` (Table 1, Table S2).
        class_id: The explained class: the predicted class (B of a pair).
        ground_truth_id: A of a pair; None for prediction requests.
        requests: The kept components (``requests.masks``: bool ``(n, height, width)``), largest first.
    """

    group: str
    kind: Literal["prediction", "error"]
    class_id: int
    ground_truth_id: int | None
    requests: RequestMasks

    def __len__(self) -> int:
        return len(self.requests)


def check_label_map(name: str, labels: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    """An integer label map ``(height, width)`` (of `shape` when given), or a ValueError/TypeError naming it."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"Argument `{name}` must have shape (height, width); received {labels.shape}.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"Argument `{name}` must hold integer labels; received dtype {labels.dtype}.")
    if shape is not None and labels.shape != tuple(shape):
        raise ValueError(f"Argument `{name}` must have shape {tuple(shape)}; received {labels.shape}.")
    return labels


def build_requests(prediction: np.ndarray, ground_truth: np.ndarray, protocol: Protocol) -> list[RequestGroup]:
    """Every request group of the protocol for one image, in :attr:`Protocol.groups` order.

    Args:
        prediction: int ``(height, width)``: the model's train ids (argmax of its probabilities).
        ground_truth: int ``(height, width)``: the ground-truth train ids, 255 ignored.
        protocol: The classes, pairs, thresholds, erosion and connectivity.

    Returns:
        One :class:`RequestGroup` per group, also for groups without a request (``len == 0``).

    Raises:
        ValueError, TypeError: If the label maps are not integer ``(height, width)`` maps of one shape.
    """
    prediction = check_label_map("prediction", prediction)
    ground_truth = check_label_map("ground_truth", ground_truth, prediction.shape)
    shape = prediction.shape
    options = {"erosion_size": protocol.erosion_size, "connectivity": protocol.connectivity}
    groups = []
    min_size = protocol.pixels(protocol.min_size, shape)
    for name in protocol.prediction_classes:
        class_id = CITYSCAPES.class_id(name)
        masks = build_request_masks(prediction, class_id, min_size=min_size, **options)
        groups.append(RequestGroup(group_name(None, name), "prediction", class_id, None, masks))
    error_min_size = protocol.pixels(protocol.error_min_size, shape)
    for truth_name, predicted_name in protocol.error_pairs:
        truth_id, class_id = CITYSCAPES.class_id(truth_name), CITYSCAPES.class_id(predicted_name)
        intersection = ((ground_truth == truth_id) & (prediction == class_id)).astype(np.uint8)
        masks = build_request_masks(intersection, 1, min_size=error_min_size, **options)
        groups.append(RequestGroup(group_name(truth_name, predicted_name), "error", class_id, truth_id, masks))
    return groups
