"""Figures of a COCO comparison: context heatmaps side by side per model, and Fig. S16 (supplement S3).

- :func:`context_heatmaps`: one heatmap per model, requested classes x context classes, the grid-saliency
  distribution (matplotlib, imported lazily); the columns are the context classes that hold the largest
  shares of any row (COCO has 171 of them).
- :func:`s16_figure`: the same images and classes, one column per model: the image with the model's
  saliency in red and its request outlined in blue (OpenCV, no matplotlib), rebuilt from the records
  and the prediction PNGs as the Cityscapes examples are.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import cv2
import numpy as np
import tensorflow as tf

from deeplab_utils.cityscapes.panels import shrink
from deeplab_utils.cityscapes.plots import heatmap, shared_vmax
from deeplab_utils.coco.comparison import Comparison
from deeplab_utils.coco.dataset import CocoImage
from deeplab_utils.coco.job import prediction_name
from deeplab_utils.coco.protocol import CocoProtocol
from deeplab_utils.coco.records import ModelImageRecord
from deeplab_utils.labels import PASCAL_VOC
from deeplab_utils.requests import build_request_masks
from grid_saliency_tf import upsample_mask
from grid_saliency_tf.experiment import figures, new_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["context_columns", "context_heatmaps", "choose_s16_examples", "s16_figure"]


def context_columns(comparison: Comparison, per_row: int = 6) -> list[int]:
    """Indices of the context classes among the `per_row` largest shares of any row, in class order."""
    chosen: set[int] = set()
    for row in comparison.statistics:
        if row.saliency_distribution is not None:
            values = np.asarray(row.saliency_distribution)
            chosen.update(int(i) for i in np.argsort(-values, kind="stable")[:per_row] if values[i] > 0)
    return sorted(chosen) or list(range(min(per_row, len(comparison.context_classes))))


def context_heatmaps(comparison: Comparison, per_row: int = 6) -> "Figure":
    """Grid-saliency context distributions, one heatmap per model, on one colour scale.

    Raises:
        ImportError: Without matplotlib.
    """
    columns = context_columns(comparison, per_row)
    names = [comparison.context_classes[index] for index in columns]
    classes = list(dict.fromkeys(row.class_name for row in comparison.statistics
                                 if any(other.class_name == row.class_name and other.counted
                                        for other in comparison.statistics)))
    matrices = []
    for model in comparison.models:
        values = np.full((max(len(classes), 1), len(columns)), np.nan)  # NaN only marks blank cells
        for r, name in enumerate(classes):
            distribution = comparison.statistic(model, name).saliency_distribution
            if distribution is not None:
                values[r] = np.asarray(distribution)[columns]
        matrices.append(values)
    vmax = shared_vmax(*matrices)
    figure = new_figure((1.0 + (0.45 * len(columns) + 1.5) * len(matrices), 1.5 + 0.35 * max(len(classes), 1)),
                        layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(matrices), sharey=True))
    shown = None
    for model, axis, values in zip(comparison.models, axes, matrices):
        labels = [f"{name} ({comparison.statistic(model, name).counted})" for name in classes] or ["(none)"]
        shown = heatmap(axis, values, labels, names, f"{model}: grid saliency", vmax)
    figure.colorbar(shown, ax=list(axes), fraction=0.02, pad=0.01)
    return figure


def choose_s16_examples(records: Mapping[str, Mapping[str, ModelImageRecord]], classes: Sequence[str],
                        count: int) -> list[tuple[str, str]]:
    """The first `count` ``(image, class)`` pairs, in image-name then class order, where every model has a
    converged request of the class; a pair whose requests are all self-contained comes after the others."""
    models = list(records)
    images = sorted(set.intersection(*(set(records[model]) for model in models)))
    chosen, later = [], []
    for image in images:
        for name in classes:
            entries = [records[model][image].of_class(name) for model in models]
            if all(entry.requests and entry.requests[0].converged for entry in entries):
                salient = any(not entry.requests[0].empty_saliency for entry in entries)
                (chosen if salient else later).append((image, name))
    return (chosen + later)[:count]


def s16_figure(records: Mapping[str, Mapping[str, ModelImageRecord]], *, run_dir: str | os.PathLike,
               images: Sequence[CocoImage], protocol: CocoProtocol, count: int = 6, upsampling: str = "bilinear",
               width: int = 320) -> np.ndarray | None:
    """Fig. S16: rows of ``(image, class)``, one column per model (module docstring); None if no pair.

    Args:
        records: Per model, its records by image name.
        run_dir: The run folder (prediction PNGs).
        images: The data set's images, matched by name.
        protocol: The run's protocol (to rebuild the requests from the predictions).
        count: Rows.
        upsampling: The optimizer's upsampling of the grid masks.
        width: Pictures wider than this are shrunk to it.

    Raises:
        ValueError: If an image of a chosen pair is not among `images` or a prediction PNG is missing.
    """
    by_name = {image.name: image for image in images}
    pictures, labels = [], []
    for image_name, class_name in choose_s16_examples(records, protocol.classes, count):
        if image_name not in by_name:
            raise ValueError(f"Argument `images` must hold the images of the records; received none for "
                             f"{image_name!r}.")
        pixels = cv2.cvtColor(cv2.imread(os.fspath(by_name[image_name].path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        for model, model_records in records.items():
            path = Path(run_dir) / prediction_name(model, image_name)
            if not path.is_file():
                raise ValueError(f"Argument `run_dir` must hold the prediction of {image_name!r} by {model!r}; "
                                 f"{str(path)!r} is missing.")
            prediction = figures.decode_png(path.read_bytes())[..., 0]
            entry = model_records[image_name].of_class(class_name)
            masks = build_request_masks(prediction, PASCAL_VOC.class_id(class_name),
                                        min_size=entry.min_size_pixels, erosion_size=protocol.erosion_size,
                                        connectivity=protocol.connectivity)
            request = entry.requests[0]
            low_res = tf.constant(np.asarray(request.low_res_mask, np.float32)[None])
            saliency = upsample_mask(low_res, pixels.shape[:2], upsampling).numpy()[0]
            pictures.append(shrink(figures.overlay(pixels, saliency, masks.masks[0]), width))
            labels.append(f"{model}: {class_name}, loss {request.preservation_loss:.2f}")
    if not pictures:
        return None
    return figures.tile(pictures, len(records), labels=labels,
                        title="Fig. S16: saliency (red), request (blue)")
