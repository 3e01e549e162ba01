"""Explaining a Cityscapes split: predict, build requests, optimise them in batches, count, record.

Per image (Sec. 5 and supplement S2 of Hoyer et al., NeurIPS 2019): the image and its fine labels are
read by a tf.data pipeline; the model predicts it; the requests of every group of the
:class:`~deeplab_utils.cityscapes.protocol.Protocol` are built; they join a queue of requests from
this and earlier images, which the :class:`~deeplab_utils.cityscapes.explainer.BatchExplainer`
optimises ``batch_size`` per replica at a time with context grid saliency; when the last request of an
image is back, its histograms (:mod:`~deeplab_utils.cityscapes.statistics`) are computed and its
:class:`~deeplab_utils.cityscapes.records.ImageRecord` is written atomically, after its prediction PNG
(and, for chosen images, its Fig. S13 panels). An image whose record exists is skipped, so a killed
run resumes where it stopped, and records of any mix of processes aggregate alike.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from deeplab_utils.cityscapes import panels as panel_figures
from deeplab_utils.cityscapes.baseline import baseline_ring
from deeplab_utils.cityscapes.dataset import CityscapesExample, make_image_dataset, read_example, train_ids_of
from deeplab_utils.cityscapes.explainer import BatchExplainer
from deeplab_utils.cityscapes.models import predict
from deeplab_utils.cityscapes.protocol import Protocol
from deeplab_utils.cityscapes.queue import ImageWork, RequestQueue
from deeplab_utils.cityscapes.records import GroupOutcome, ImageRecord, RequestOutcome, optimisation_fields, record_name
from deeplab_utils.cityscapes.requests import RequestGroup, build_requests
from deeplab_utils.cityscapes.statistics import image_histograms
from grid_saliency_tf import GridSaliencyOptimizer
from grid_saliency_tf.experiment import Progress, figures

__all__ = ["optimizer_settings", "run_settings", "explain_examples", "prediction_name"]


def optimizer_settings(overrides: dict[str, Any] | None = None, *, model_output: str = "probabilities") -> dict[str, Any]:
    """Keyword arguments of the optimizer: the Cityscapes defaults (S2.1), context mode, 0..255 images.

    Args:
        overrides: Settings replacing defaults (e.g. ``{"steps": 40}``).
        model_output: ``"probabilities"`` or ``"logits"``.
    """
    settings = {**GridSaliencyOptimizer.cityscapes_defaults(), "mode": "context", "value_range": (0.0, 255.0),
                "model_output": model_output, **(overrides or {})}
    return GridSaliencyOptimizer(lambda images: images, **settings).get_config()  # validated, complete


#: Optimizer settings that change how requests are computed, not their results: left out of a run's identity.
_HOW = ("max_requests_per_call",)


def run_settings(protocol: Protocol, optimizer: dict[str, Any], *, model_name: str, split: str) -> dict[str, Any]:
    """What decides a run's records (its identity): the model, the split, the protocol, the optimizer.

    How the work is spread (batch size, shards, strategy) is not part of it: it does not change a record.
    """
    optimizer = {key: value for key, value in optimizer.items() if key not in _HOW}
    return {"model": model_name, "split": split, "protocol": protocol.to_settings(), "optimizer": optimizer}


def prediction_name(image: str) -> str:
    """The prediction PNG (train ids) of an image inside a run folder."""
    return f"predictions/{image}.png"


def _outcome(request_group: RequestGroup, index: int, result: dict[str, Any], histogram: np.ndarray) -> RequestOutcome:
    return RequestOutcome(**optimisation_fields(request_group.requests, index, result),
                          histogram=tuple(float(v) for v in histogram))


class _Runner:
    """Finishes the images of one `explain_examples` call (histograms, baseline, panels, files); the
    :class:`~deeplab_utils.cityscapes.queue.RequestQueue` batches their requests and calls `finish` on
    its background thread."""

    def __init__(self, model: Callable[..., Any], output_dir: Path, protocol: Protocol,
                 optimizer: GridSaliencyOptimizer, explainer: BatchExplainer, panel_names: frozenset[str],
                 panel_group: str, progress: Progress | None) -> None:
        self.model, self.output_dir, self.protocol = model, output_dir, protocol
        self.optimizer = optimizer
        self.panel_names, self.panel_group, self.progress = panel_names, panel_group, progress
        self.queue = RequestQueue(explainer, self.finish)
        self.finished = 0
        self.started = time.perf_counter()

    def finish(self, work: ImageWork) -> None:
        height, width = work.prediction.shape
        budget = self.protocol.pixels(self.protocol.baseline_pixels, (height, width))
        outcomes = []
        for request_group, (results, saliency, counted, histograms) in zip(
                work.groups, image_histograms(work, self.protocol)):
            outcomes.append(GroupOutcome(
                group=request_group.group, kind=request_group.kind, class_id=request_group.class_id,
                ground_truth_id=request_group.ground_truth_id, candidates=request_group.requests.num_candidates,
                min_size_pixels=request_group.requests.min_size,
                requests=tuple(_outcome(request_group, r, results[r], histograms.requests[r])
                               for r in range(len(results))),
                combined_max=tuple(histograms.combined_max.tolist()), baseline=tuple(histograms.baseline.tolist()),
                baseline_counted=tuple(histograms.baseline_counted.tolist()),
                baseline_pixels=histograms.baseline_pixels))
            if request_group.group == self.panel_group and work.example.name in self.panel_names and results:
                self.write_panels(work, request_group, results, saliency, counted, budget)
        valid = work.ground_truth != 255
        accuracy = float((work.prediction == work.ground_truth)[valid].mean()) if valid.any() else None
        figures.write_png(self.output_dir / prediction_name(work.example.name),
                          np.repeat(work.prediction.astype(np.uint8)[..., None], 3, axis=-1))
        ImageRecord(image=work.example.name, height=height, width=width, pixel_accuracy=accuracy,
                    groups=tuple(outcomes), seconds=round(time.perf_counter() - work.started, 3),
                    ).save(self.output_dir / record_name(work.example.name))
        self.finished += 1
        if self.progress is not None:
            rate = self.queue.requests_done / max(time.perf_counter() - self.started, 1e-9)
            self.progress.bar.set_postfix_str(f"{rate:.2f} req/s", refresh=False)
            self.progress.update(1)

    def write_panels(self, work: ImageWork, request_group: RequestGroup, results: list[dict[str, Any]],
                     saliency: np.ndarray, counted: np.ndarray, budget: int) -> None:
        index = int(np.flatnonzero(counted)[0]) if counted.any() else 0
        mask = request_group.requests.masks[index]
        ring = baseline_ring(request_group.requests.masks, budget, sharing=self.protocol.baseline_sharing)
        panel = panel_figures.s13_panels(
            self.model, work.image, mask, request_group.class_id, saliency[index],
            float(results[index]["perturbation_value"]), ring, model_output=self.optimizer.model_output,
            title=f"{work.example.name}: {request_group.group}, request {index + 1}")
        name = f"panels/{work.example.name}_{request_group.group.replace('/', '-').replace(' ', '_')}.png"
        figures.write_png(self.output_dir / name, panel)


def _read(examples: Sequence[CityscapesExample]):
    """Yields ``(example, image, label_ids)`` from the tf.data pipeline; a file it cannot decode is a
    ValueError naming the file (found by decoding the remaining files one by one)."""
    if not examples:
        return
    position = 0
    iterator = make_image_dataset(examples).as_numpy_iterator()
    while True:
        try:
            index, image, label_ids = next(iterator)
        except StopIteration:
            return
        except tf.errors.OpError as error:
            for example in examples[position:]:
                read_example(example)  # raises the ValueError naming the file
            raise ValueError(f"Argument `dataset` must hold readable PNG files; reading "
                             f"{examples[position].name!r} failed: {error.message.splitlines()[0]}") from None
        position = int(index) + 1
        yield examples[int(index)], image, label_ids


def explain_examples(model: Callable[..., Any], examples: Sequence[CityscapesExample], output_dir: str | os.PathLike,
                     *, protocol: Protocol, optimizer: GridSaliencyOptimizer, batch_size: int = 8,
                     strategy: tf.distribute.Strategy | None = None, panel_names: Sequence[str] = (),
                     panel_group: str = "rider", progress: Progress | None = None) -> dict[str, int]:
    """Explains every example without a record and writes its record (module docstring).

    Args:
        model: Maps 0..255 images to Cityscapes train-id probabilities (:mod:`~deeplab_utils.cityscapes.models`);
            the optimizer must wrap the same model.
        examples: The images to do (those with a record are skipped).
        output_dir: The run folder (claimed by the caller, :mod:`~deeplab_utils.cityscapes.folders`).
        protocol: Requests, thresholds and choices.
        optimizer: Context-mode optimizer with ``value_range=(0, 255)``.
        batch_size: Requests per replica and optimisation call.
        strategy: A tf.distribute strategy whose local replicas share each batch; None for one device.
        panel_names: Images whose Fig. S13 panels are drawn (for the first counted request of `panel_group`).
        panel_group: The group of the panels.
        progress: Advanced by one per finished image (also for skipped ones).

    Returns:
        ``{"images": done now, "skipped": already done, "requests": optimised}``.

    Raises:
        ValueError: For a model whose output is not Cityscapes probabilities, an image the model cannot
            take, or a label map of another size (records already written are kept).
    """
    if optimizer.mode != "context" or tuple(optimizer.value_range) != (0.0, 255.0):
        raise ValueError(f"Argument `optimizer` must be in context mode with value_range (0.0, 255.0); received "
                         f"mode={optimizer.mode!r}, value_range={optimizer.value_range!r}.")
    output_dir = Path(output_dir)
    explainer = BatchExplainer(optimizer, batch_size=batch_size, strategy=strategy)
    runner = _Runner(model, output_dir, protocol, optimizer, explainer, frozenset(panel_names), panel_group, progress)
    pending = [example for example in examples if not (output_dir / record_name(example.name)).exists()]
    if progress is not None:
        progress.update(len(examples) - len(pending))
    try:
        for example, image, label_ids in _read(pending):
            started = time.perf_counter()
            ground_truth = train_ids_of(label_ids, example, image.shape[:2])
            prediction = predict(model, image, optimizer.model_output).argmax(axis=-1).astype(np.uint8)
            runner.queue.add(ImageWork(example, image, ground_truth, prediction,
                                  build_requests(prediction, ground_truth, protocol), started))
    except ValueError:
        runner.queue.drain()  # finish the images read before the bad one, then report it
        raise
    else:
        runner.queue.drain()
    finally:
        runner.queue.close()  # images already optimised get their records, also after an interruption
    return {"images": runner.finished, "skipped": len(examples) - len(pending), "requests": runner.queue.requests_done}
