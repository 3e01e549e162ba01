"""Fig. S15-style examples: counted requests of one class with their saliency, from the records.

Each example is the image with the request's saliency in red and the request outlined in blue
(supplement Fig. S15). The request mask is rebuilt from the prediction PNG the run wrote and the
image's ground truth with the run's protocol (the same function that built it); the saliency is the
record's grid mask (rounded to 4 decimals) upsampled as the optimizer does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from deeplab_utils.cityscapes.dataset import CityscapesExample, read_example
from deeplab_utils.cityscapes.job import prediction_name
from deeplab_utils.cityscapes.panels import shrink
from deeplab_utils.cityscapes.protocol import Protocol
from deeplab_utils.cityscapes.records import ImageRecord
from deeplab_utils.cityscapes.requests import build_requests
from grid_saliency_tf import upsample_mask
from grid_saliency_tf.experiment import figures

__all__ = ["choose_examples", "example_overlays"]


def choose_examples(records: Sequence[ImageRecord], group: str, count: int) -> list[tuple[str, int]]:
    """The first `count` counted requests of `group` in image-name order: ``(image, request index)``."""
    chosen = []
    for record in sorted(records, key=lambda record: record.image):
        for outcome in record.groups:
            if outcome.group == group:
                chosen += [(record.image, request.index) for request in outcome.requests if request.counted]
    return chosen[:count]


def example_overlays(records: Sequence[ImageRecord], group: str, count: int, *, run_dir: str | os.PathLike,
                     examples: Sequence[CityscapesExample], protocol: Protocol, upsampling: str = "bilinear",
                     width: int = 512) -> np.ndarray | None:
    """A tile of up to `count` overlays of `group`, two per row; None if the group has no counted request.

    Args:
        records: The run's image records.
        group: The request group (``"rider"``, ``"rider/person"``).
        count: How many examples.
        run_dir: The run folder (for the prediction PNGs).
        examples: The data set's examples (for images and ground truth), matched by name.
        protocol: The run's protocol.
        upsampling: The optimizer's upsampling of the grid mask.
        width: Overlays wider than this are shrunk to it.

    Raises:
        ValueError: If an image of a chosen request is not among `examples` or its prediction PNG is missing.
    """
    by_name = {example.name: example for example in examples}
    by_image = {record.image: record for record in records}
    pictures, labels = [], []
    for image_name, index in choose_examples(records, group, count):
        if image_name not in by_name:
            raise ValueError(f"Argument `examples` must hold the images of the records; received none for {image_name!r}.")
        image, ground_truth = read_example(by_name[image_name])
        prediction_file = Path(run_dir) / prediction_name(image_name)
        if not prediction_file.is_file():
            raise ValueError(f"Argument `run_dir` must hold the prediction of {image_name!r}; {str(prediction_file)!r} is missing.")
        prediction = figures.decode_png(prediction_file.read_bytes())[..., 0]
        request_group = next(g for g in build_requests(prediction, ground_truth, protocol) if g.group == group)
        outcome = next(o for o in by_image[image_name].groups if o.group == group).requests[index]
        low_res = tf.constant(np.asarray(outcome.low_res_mask, np.float32)[None])
        saliency = upsample_mask(low_res, image.shape[:2], upsampling).numpy()[0]
        pictures.append(shrink(figures.overlay(image, saliency, request_group.requests.masks[index]), width))
        labels.append(f"{image_name.split('/')[-1]} #{index + 1} loss {outcome.preservation_loss:.3f}")
    if not pictures:
        return None
    return figures.tile(pictures, 2, labels=labels, title=f"{group}: grid saliency (red), request (blue)")
