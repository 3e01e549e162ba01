"""The queue of requests across images: fixed-size batches for the explainer, images finished in the background.

Shared by the Cityscapes statistics and the COCO architecture comparison (Hoyer et al., NeurIPS 2019,
Sec. 5 and supplement S3). Requests of one image join the queue after those of earlier images; every
time the queue holds a global batch, the :class:`~deeplab_utils.cityscapes.explainer.BatchExplainer`
optimises it; when the last request of an image is back, the image is handed to a ``finish`` function
(histograms, records) on a background thread, so that finishing overlaps the next optimisation (NumPy,
OpenCV and TensorFlow release the GIL in their long operations).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from typing import Any, Callable, Protocol as TypingProtocol

import numpy as np

from deeplab_utils.cityscapes.explainer import BatchExplainer
from deeplab_utils.requests import RequestMasks

__all__ = ["ImageWork", "RequestQueue"]


class _Group(TypingProtocol):
    class_id: int
    requests: RequestMasks


@dataclasses.dataclass
class ImageWork:
    """One image (for one model) on its way through the queue.

    Attributes:
        example: What the image is (a data set entry; the finishing function reads it).
        image: uint8 ``(height, width, 3)``.
        ground_truth: The ground-truth label map ``(height, width)``.
        prediction: The predicted labels ``(height, width)``.
        groups: Request groups, each with ``class_id`` and ``requests`` (:class:`~deeplab_utils.requests.RequestMasks`).
        started: ``time.perf_counter()`` when the image was read.
        results: ``(group, request) -> {output name: value}``, filled by the queue.
    """

    example: Any
    image: np.ndarray
    ground_truth: np.ndarray
    prediction: np.ndarray
    groups: list[_Group]
    started: float
    results: dict[tuple[int, int], dict[str, Any]] = dataclasses.field(default_factory=dict)

    @property
    def requests(self) -> list[tuple[int, int]]:
        """``(group, request)`` of every request, in group order."""
        return [(g, r) for g, group in enumerate(self.groups) for r in range(len(group.requests))]

    def group_results(self, g: int) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
        """The explained requests of group `g`, once every result is back.

        Returns:
            ``(results, saliency, counted)``: the outputs of each request, float32 ``(n, height, width)``
            saliency maps, and bool ``(n,)``: converged, non-empty saliency, non-empty request (Table S1).
        """
        results = [self.results[(g, r)] for r in range(len(self.groups[g].requests))]
        saliency = (np.stack([result["saliency"] for result in results]) if results
                    else np.zeros((0, *self.prediction.shape), np.float32))
        counted = np.array([bool(res["converged"]) and not res["empty"] and not res["empty_request"]
                            for res in results], bool)
        return results, saliency, counted


class RequestQueue:
    """Batches the requests of many images for one explainer; finishes each image when its requests are back.

    Args:
        explainer: Optimises ``explainer.global_batch`` requests per call.
        finish: Called with an :class:`ImageWork` whose ``results`` are complete (on a background thread).
    """

    def __init__(self, explainer: BatchExplainer, finish: Callable[[ImageWork], None]) -> None:
        self.explainer, self.finish = explainer, finish
        self.queue: list[tuple[ImageWork, int, int]] = []
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="finish")
        self.finishing: list[concurrent.futures.Future] = []
        self.requests_done = 0

    def add(self, work: ImageWork) -> None:
        """Queues the requests of `work` and optimises every full batch."""
        if self.queue and self.queue[-1][0].image.shape != work.image.shape:
            self.drain()  # one batch holds images of one size
        self.queue += [(work, g, r) for g, r in work.requests]
        if not work.requests:
            self.submit(work)
        while len(self.queue) >= self.explainer.global_batch:
            self.run(self.queue[: self.explainer.global_batch])
            del self.queue[: self.explainer.global_batch]

    def drain(self) -> None:
        """Optimises what is left in the queue (the last batch filled with empty requests)."""
        while self.queue:
            self.run(self.queue[: self.explainer.global_batch])
            del self.queue[: self.explainer.global_batch]

    def run(self, batch: list[tuple[ImageWork, int, int]]) -> None:
        """Optimises one batch and hands every image whose requests are all back to `finish`."""
        images = np.stack([work.image for work, _, _ in batch]).astype(np.float32)
        class_ids = np.array([work.groups[g].class_id for work, g, _ in batch], np.int32)
        masks = np.stack([work.groups[g].requests.masks[r] for work, g, r in batch]).astype(np.float32)
        outputs = self.explainer.explain(images, class_ids, masks)
        self.requests_done += len(batch)
        for position, (work, g, r) in enumerate(batch):
            work.results[(g, r)] = {key: value[position] for key, value in outputs.items()}
            if len(work.results) == len(work.requests):
                self.submit(work)

    def submit(self, work: ImageWork) -> None:
        """Finishes `work` on the background thread; raises what an earlier finishing raised. At most
        two images wait to be finished (each holds its image and maps in memory)."""
        while self.finishing and (self.finishing[0].done() or len(self.finishing) >= 2):
            self.finishing.pop(0).result()
        self.finishing.append(self.pool.submit(self.finish, work))

    def close(self) -> None:
        """Waits until every submitted image is finished; raises the first error."""
        try:
            for future in self.finishing:
                future.result()
        finally:
            self.pool.shutdown(wait=True)
