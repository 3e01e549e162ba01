"""Explaining COCO images with several models in one pass: predict, request, optimise, record.

Supplement S3 of Hoyer et al. (NeurIPS 2019) with the Cityscapes machinery (Sec. 5, S2): each image is
read and decoded once (a tf.data pipeline) and its ground truth drawn once
(:func:`~deeplab_utils.coco.dataset.ground_truth_maps`); then every model that has no record of it yet
predicts it, its requests are built (predicted components of each VOC class,
:func:`deeplab_utils.requests.build_request_masks`) and queued in that model's
:class:`~deeplab_utils.cityscapes.queue.RequestQueue`, which optimises them ``batch_size`` at a time
with the model's context grid saliency (:class:`~deeplab_utils.cityscapes.explainer.BatchExplainer`).
When the last request of an image is back, its histograms
(:func:`~deeplab_utils.cityscapes.statistics.image_histograms` over the context classes) and reliance
measures are computed and the :class:`~deeplab_utils.coco.records.ModelImageRecord` is written, after
the prediction PNG. A rerun skips what has a record, so a killed run resumes where it stopped, and
shards of the images (processes, workers) may write into one folder: their records never collide.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import tensorflow as tf

from deeplab_utils.cityscapes.explainer import BatchExplainer
from deeplab_utils.cityscapes.models import predict
from deeplab_utils.cityscapes.queue import ImageWork, RequestQueue
from deeplab_utils.cityscapes.records import optimisation_fields
from deeplab_utils.cityscapes.requests import RequestGroup
from deeplab_utils.cityscapes.statistics import image_histograms
from deeplab_utils.coco.dataset import CocoDataset, CocoImage, ground_truth_maps, make_image_dataset
from deeplab_utils.coco.protocol import CocoProtocol
from deeplab_utils.coco.records import ClassRecord, ModelImageRecord, RequestRecord, record_name
from deeplab_utils.labels import IGNORE_LABEL, PASCAL_VOC
from deeplab_utils.requests import build_request_masks
from grid_saliency_tf import GridSaliencyOptimizer
from grid_saliency_tf.experiment import Progress, figures

__all__ = ["ComparedModel", "explain_images", "prediction_name"]


@dataclasses.dataclass(frozen=True)
class ComparedModel:
    """One model of the comparison.

    Attributes:
        name: Its name in the run (records, tables, figure columns).
        model: Maps 0..255 images ``(batch, height, width, 3)`` to the 21 VOC probabilities (or logits).
        optimizer: Its context-mode optimizer with ``value_range=(0, 255)``, wrapping `model`.
    """

    name: str
    model: Callable[..., Any]
    optimizer: GridSaliencyOptimizer


def prediction_name(model: str, image: str) -> str:
    """The prediction PNG (VOC ids) of an image and model inside a run folder."""
    return f"predictions/{model}/{image}.png"


@dataclasses.dataclass(frozen=True)
class _Example:
    image: CocoImage
    model: str
    pixel_accuracy: float | None


def _request(group: RequestGroup, index: int, result: dict[str, Any], histogram: np.ndarray,
             context_saliency: float) -> RequestRecord:
    return RequestRecord(**optimisation_fields(group.requests, index, result),
                         empty_mask_loss=float(result["empty_mask_loss"]), context_saliency=context_saliency,
                         histogram=tuple(float(v) for v in histogram))


class _Finisher:
    """Turns an explained image of one model into its record (called by the model's queue)."""

    def __init__(self, output_dir: Path, protocol: CocoProtocol, num_context_classes: int) -> None:
        self.output_dir, self.protocol, self.num_context_classes = output_dir, protocol, num_context_classes
        self.finished = 0
        self.lock = threading.Lock()  # the queues of several models finish on their own threads

    def __call__(self, work: ImageWork) -> None:
        example: _Example = work.example
        height, width = work.prediction.shape
        classes = []
        for group, (results, saliency, counted, histograms) in zip(
                work.groups, image_histograms(work, self.protocol, num_classes=self.num_context_classes)):
            requests = []
            for r, result in enumerate(results):
                outside = ~group.requests.masks[r] if self.protocol.context == "outside_request" else True
                mass = float(np.sum(saliency[r], where=outside, dtype=np.float64))
                requests.append(_request(group, r, result, histograms.requests[r], mass))
            classes.append(ClassRecord(name=group.group, class_id=group.class_id,
                                       candidates=group.requests.num_candidates,
                                       min_size_pixels=group.requests.min_size, requests=tuple(requests),
                                       baseline=tuple(histograms.baseline.tolist()),
                                       baseline_pixels=histograms.baseline_pixels))
        figures.write_png(self.output_dir / prediction_name(example.model, example.image.name),
                          np.repeat(work.prediction.astype(np.uint8)[..., None], 3, axis=-1))
        ModelImageRecord(image=example.image.name, model=example.model, height=height, width=width,
                         pixel_accuracy=example.pixel_accuracy, classes=tuple(classes),
                         seconds=round(time.perf_counter() - work.started, 3),
                         ).save(self.output_dir / record_name(example.model, example.image.name))
        with self.lock:
            self.finished += 1


def _read(images: Sequence[CocoImage]) -> Iterator[tuple[CocoImage, np.ndarray]]:
    """Yields ``(image, pixels)`` from the tf.data pipeline; an undecodable file is a ValueError naming it."""
    if not images:
        return
    position = 0
    iterator = make_image_dataset(images).as_numpy_iterator()
    while True:
        try:
            index, pixels = next(iterator)
        except StopIteration:
            return
        except tf.errors.OpError as error:
            raise ValueError(f"Argument `images` must hold readable JPEG or PNG files; reading "
                             f"{str(images[position].path)!r} failed: {error.message.splitlines()[0]}") from None
        position = int(index) + 1
        image = images[int(index)]
        if pixels.shape[:2] != (image.height, image.width):
            raise ValueError(f"Argument `instances` must state the size of every image; received "
                             f"{image.height}x{image.width} for {str(image.path)!r}, which is "
                             f"{pixels.shape[0]}x{pixels.shape[1]}.")
        yield image, pixels


def _groups(prediction: np.ndarray, protocol: CocoProtocol) -> list[RequestGroup]:
    min_size = protocol.pixels(protocol.min_size, prediction.shape)
    return [RequestGroup(name, "prediction", PASCAL_VOC.class_id(name), None,
                         build_request_masks(prediction, PASCAL_VOC.class_id(name), min_size=min_size,
                                             erosion_size=protocol.erosion_size, connectivity=protocol.connectivity))
            for name in protocol.classes]


def explain_images(models: Sequence[ComparedModel], dataset: CocoDataset, output_dir: str | Path, *,
                   protocol: CocoProtocol, batch_size: int = 8, strategy: tf.distribute.Strategy | None = None,
                   progress: Progress | None = None) -> dict[str, int]:
    """Explains every image with every model lacking its record, in one pass (module docstring).

    Args:
        models: The compared models (each with its optimizer).
        dataset: The images and annotations (a shard's: :meth:`~deeplab_utils.coco.dataset.CocoDataset.shard`).
        output_dir: The run folder (claimed by the caller, with the shard's lock held).
        protocol: Requests, thresholds and choices.
        batch_size: Requests per replica and optimisation call (per model).
        strategy: A tf.distribute strategy whose local replicas share each batch
            (:func:`~deeplab_utils.cityscapes.distribute.make_strategy`); None for one device.
        progress: Advanced by one per image (also for images every model had done).

    Returns:
        ``{"images": images read, "skipped": images every model had done, "records": written,
        "requests": optimised}``; every image is read at most once.

    Raises:
        ValueError: For an optimizer not in context mode on 0..255, a model whose output is not the 21 VOC
            probabilities, or an unreadable image (records written before it are kept).
    """
    for entry in models:
        if entry.optimizer.mode != "context" or tuple(entry.optimizer.value_range) != (0.0, 255.0):
            raise ValueError(f"Argument `models` must have optimizers in context mode with value_range (0.0, 255.0); "
                             f"received mode={entry.optimizer.mode!r}, value_range={entry.optimizer.value_range!r} "
                             f"for {entry.name!r}.")
    output_dir = Path(output_dir)
    finisher = _Finisher(output_dir, protocol, len(dataset.context_classes))
    queues = {entry.name: RequestQueue(BatchExplainer(entry.optimizer, batch_size=batch_size, strategy=strategy),
                                             finisher)
              for entry in models}
    todo = {image.name: [entry for entry in models if not (output_dir / record_name(entry.name, image.name)).exists()]
            for image in dataset.images}
    pending = [image for image in dataset.images if todo[image.name]]
    if progress is not None:
        progress.update(len(dataset.images) - len(pending))
    read = 0
    try:
        for image, pixels in _read(pending):
            read += 1
            started = time.perf_counter()
            voc, context = ground_truth_maps(dataset, image)
            valid = voc != IGNORE_LABEL
            predictions = [predict(entry.model, pixels, entry.optimizer.model_output, label_set=PASCAL_VOC)
                           .argmax(axis=-1).astype(np.uint8) for entry in todo[image.name]]  # all checked first
            for entry, prediction in zip(todo[image.name], predictions):
                accuracy = float((prediction == voc)[valid].mean()) if valid.any() else None
                queues[entry.name].add(ImageWork(_Example(image, entry.name, accuracy), pixels, context, prediction,
                                                 _groups(prediction, protocol), started))
            if progress is not None:
                progress.update(1)
    except ValueError:
        for queue in queues.values():
            queue.drain()  # finish the images read before the bad one, then report it
        raise
    else:
        for queue in queues.values():
            queue.drain()
    finally:
        for queue in queues.values():
            queue.close()
    return {"images": read, "skipped": len(dataset.images) - len(pending), "records": finisher.finished,
            "requests": sum(queue.requests_done for queue in queues.values())}
