"""Explaining many requests in fixed-size batches, on one device or on every replica of a tf.distribute strategy.

Requests of different instances and images are optimised together: a batch holds ``batch_size``
requests per replica, each with its own copy of its image, so that every call has the same shapes and
the compiled optimisation of :class:`grid_saliency_tf.GridSaliencyOptimizer` is traced once (the last
batch is filled up with empty requests, which the engine returns as zero masks). Requests are
optimised independently (the loss is a sum of per-request terms), so a request's result does not depend
on the batch it is in.

With a strategy (``tf.distribute.MirroredStrategy`` for the GPUs of one machine, or
``MultiWorkerMirroredStrategy``), each global batch is split into one slice per local replica
(``experimental_distribute_values_from_function``) and every replica runs the compiled optimisation on
its slice (``strategy.run`` inside one ``tf.function``); nothing is reduced across replicas.

:func:`automatic_batch_size` picks the batch size from a memory budget by measuring the peak memory
of batches of 1 and 2 requests (on a GPU; CPUs report no peak memory).
"""

from __future__ import annotations

import math
import subprocess
from typing import Callable

import numpy as np
import tensorflow as tf

from grid_saliency_tf import GridSaliencyOptimizer

__all__ = ["BatchExplainer", "automatic_batch_size", "batch_size_for_budget", "gpu_memory_bytes"]

#: The engine outputs kept per request: the common ``saliency`` field and grid saliency's own.
_KEPT = ("saliency", "low_res_masks", "total_loss", "mask_loss", "preservation_loss", "perturbation_value", "empty",
         "converged", "empty_request", "empty_mask_loss")


class BatchExplainer:
    """Runs a :class:`GridSaliencyOptimizer` on batches of ``batch_size`` requests per replica.

    Args:
        optimizer: The optimizer (settings fixed; context mode for the Cityscapes statistics).
        batch_size: Requests per replica and call.
        strategy: A ``tf.distribute.Strategy`` whose local replicas share each batch; None for the
            default device.

    Raises:
        ValueError: If `batch_size` is not a positive integer.
        TypeError: If `optimizer` is not a GridSaliencyOptimizer.
    """

    def __init__(self, optimizer: GridSaliencyOptimizer, *, batch_size: int,
                 strategy: tf.distribute.Strategy | None = None) -> None:
        if not isinstance(optimizer, GridSaliencyOptimizer):
            raise TypeError(f"Argument `optimizer` must be a GridSaliencyOptimizer; received {type(optimizer).__name__}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"Argument `batch_size` must be an integer >= 1; received {batch_size!r}.")
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.strategy = strategy
        # Local replicas: a multi-worker strategy counts every worker's in num_replicas_in_sync.
        self.replicas = 1 if strategy is None else len(strategy.extended.worker_devices)
        self.global_batch = batch_size * self.replicas
        self._distributed_step = None if strategy is None else tf.function(self._run_replicas)
        self.calls = 0

    def _replica_step(self, images: tf.Tensor, class_ids: tf.Tensor, masks: tf.Tensor) -> dict[str, tf.Tensor]:
        indices = tf.range(tf.shape(images)[0], dtype=tf.int32)
        outputs = self.optimizer.explain_tensors(images, indices, class_ids, masks)
        return {key: outputs[key] for key in _KEPT}

    def _run_replicas(self, images, class_ids, masks):
        return self.strategy.run(self._replica_step, args=(images, class_ids, masks))

    def _explain_global_batch(self, images: np.ndarray, class_ids: np.ndarray, masks: np.ndarray) -> dict[str, np.ndarray]:
        self.calls += 1
        if self.strategy is None:
            outputs = self._replica_step(tf.constant(images), tf.constant(class_ids), tf.constant(masks))
            return {key: value.numpy() for key, value in outputs.items()}
        size = self.batch_size

        def slice_for(array: np.ndarray) -> Callable:
            def value(context: tf.distribute.experimental.ValueContext) -> tf.Tensor:
                local = context.replica_id_in_sync_group % self.replicas  # global id -> this worker's
                return tf.constant(array[local * size: (local + 1) * size])
            return value

        distributed = [self.strategy.experimental_distribute_values_from_function(slice_for(array))
                       for array in (images, class_ids, masks)]
        outputs = self._distributed_step(*distributed)
        return {key: np.concatenate([np.asarray(part) for part in self.strategy.experimental_local_results(value)])
                for key, value in outputs.items()}

    def explain(self, images: np.ndarray, class_ids: np.ndarray, masks: np.ndarray) -> dict[str, np.ndarray]:
        """Optimises one mask per request.

        Args:
            images: float32 ``(n, height, width, 3)`` in 0..255: the image of each request.
            class_ids: int32 ``(n,)``: the explained class of each request.
            masks: float32 ``(n, height, width)`` in {0, 1}: the request masks.

        Returns:
            Arrays of ``n`` entries keyed like the fields of :class:`grid_saliency_tf.GridSaliencyResult`:
            ``saliency`` ``(n, height, width)``, ``low_res_masks``, the losses, ``perturbation_value``,
            ``empty``, ``converged``, ``empty_request``, ``empty_mask_loss``.
        """
        images = np.asarray(images, np.float32)
        class_ids = np.asarray(class_ids, np.int32)
        masks = np.asarray(masks, np.float32)
        count = images.shape[0]
        padded = math.ceil(count / self.global_batch) * self.global_batch
        if padded > count:  # empty requests on a copy of the first image: zero masks, shapes kept
            extra = padded - count
            images = np.concatenate([images, np.repeat(images[:1], extra, axis=0)])
            class_ids = np.concatenate([class_ids, np.zeros(extra, np.int32)])
            masks = np.concatenate([masks, np.zeros((extra, *masks.shape[1:]), np.float32)])
        parts = [self._explain_global_batch(images[start: start + self.global_batch],
                                            class_ids[start: start + self.global_batch],
                                            masks[start: start + self.global_batch])
                 for start in range(0, padded, self.global_batch)]
        return {key: np.concatenate([part[key] for part in parts])[:count] for key in _KEPT}


def batch_size_for_budget(peak_bytes: Callable[[int], int], budget_bytes: int, *, maximum: int = 64) -> int:
    """The largest batch whose predicted peak memory fits the budget, from two measurements.

    Peak memory is modelled as ``fixed + batch * per_request``, fitted to the peaks at batch 1 and 2.

    Args:
        peak_bytes: Measures the peak memory (bytes) of one optimisation of a batch of the given size.
        budget_bytes: Memory the optimisation may use.
        maximum: Upper bound of the result.

    Returns:
        A batch size in ``[1, maximum]`` (1 when even one request exceeds the budget).

    Raises:
        ValueError: For a non-positive budget or maximum.
    """
    if budget_bytes <= 0 or maximum < 1:
        raise ValueError(f"Arguments `budget_bytes` and `maximum` must be positive; received {budget_bytes!r} "
                         f"and {maximum!r}.")
    one, two = int(peak_bytes(1)), int(peak_bytes(2))
    per_request = max(two - one, 1)
    fixed = one - per_request
    return int(min(maximum, max(1, (budget_bytes - fixed) // per_request)))


def gpu_memory_bytes(index: int = 0) -> int | None:
    """Total memory of GPU `index` as ``nvidia-smi`` reports it; None where it cannot tell."""
    try:
        output = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                                capture_output=True, text=True, timeout=30, check=True).stdout.split()
        return int(float(output[index]) * 2 ** 20)
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return None


def automatic_batch_size(optimizer: GridSaliencyOptimizer, image_shape: tuple[int, int], *,
                         device: str = "GPU:0", memory_bytes: int | None = None, memory_fraction: float = 0.8,
                         maximum: int = 64) -> int:
    """The batch size that fills `memory_fraction` of a GPU's memory (:func:`batch_size_for_budget`).

    Runs the optimisation twice on a grey image with a square request (batch 1 and 2), reading the peak
    with ``tf.config.experimental.get_memory_info``. Untested on a GPU in this project (none was available).

    Args:
        optimizer: The optimizer of the run.
        image_shape: ``(height, width)`` of the images.
        device: The GPU measured.
        memory_bytes: The GPU's memory; None asks ``nvidia-smi``.
        memory_fraction: Share of the memory the optimisation may use.
        maximum: Upper bound of the result.

    Raises:
        ValueError: Without a GPU (CPUs report no peak memory), or when the GPU's memory is unknown: pass
            a batch size instead.
    """
    if not tf.config.list_physical_devices("GPU"):
        raise ValueError("Argument `batch_size` must be given on a machine without a GPU (the automatic choice "
                         "measures GPU memory); received 0 (automatic).")
    total = memory_bytes if memory_bytes is not None else gpu_memory_bytes(int(device.rsplit(":", 1)[-1]))
    if not total:
        raise ValueError("Argument `batch_size` must be given where the GPU's memory is unknown (nvidia-smi did "
                         "not answer); received 0 (automatic).")
    height, width = image_shape
    mask = np.zeros((height, width), np.float32)
    mask[height // 3: 2 * height // 3, width // 3: 2 * width // 3] = 1.0

    def peak(batch: int) -> int:
        tf.config.experimental.reset_memory_stats(device)
        images = tf.fill([batch, height, width, 3], 127.0)
        optimizer.explain_tensors(images, tf.range(batch), tf.zeros([batch], tf.int32),
                                  tf.constant(np.stack([mask] * batch)))
        return int(tf.config.experimental.get_memory_info(device)["peak"])

    return batch_size_for_budget(peak, int(memory_fraction * total), maximum=maximum)
