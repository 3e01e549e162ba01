"""Spreading a Cityscapes run: tf.distribute strategies, and the shard each process works on.

- ``"none"``: the default device.
- ``"mirrored"``: ``tf.distribute.MirroredStrategy`` over all GPUs of the machine (or, without a GPU,
  all logical CPU devices): every batch of requests is split among them (:class:`~deeplab_utils.cityscapes.explainer.BatchExplainer`).
- ``"multi_worker"``: ``tf.distribute.MultiWorkerMirroredStrategy`` from ``TF_CONFIG``: each worker
  takes the images of its own shard (worker ``i`` of ``n``) and splits its batches among its local
  replicas. Nothing is reduced across replicas or workers, so workers need not keep pace with each
  other. Create the strategy before any other TensorFlow work (TensorFlow's rule).

Plain shards (``num_shards``/``shard_index``, for batch schedulers) compose with workers: worker ``w``
of ``W`` running shard ``s`` of ``S`` takes images ``s * W + w, s * W + w + S * W, ...``.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["STRATEGIES", "make_strategy", "worker_position", "combined_shard"]

STRATEGIES = ("none", "mirrored", "multi_worker")


def make_strategy(name: str) -> tf.distribute.Strategy | None:
    """The strategy called `name` (module docstring); None for ``"none"``.

    Raises:
        ValueError: For an unknown name.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Argument `strategy` must be one of {STRATEGIES}; received {name!r}.")
    if name == "none":
        return None
    if name == "mirrored":  # all GPUs, or all logical CPU devices where there is no GPU
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    return tf.distribute.MultiWorkerMirroredStrategy()


def worker_position(strategy: tf.distribute.Strategy | None) -> tuple[int, int]:
    """``(worker index, number of workers)`` of this process; ``(0, 1)`` without a multi-worker strategy."""
    if strategy is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return 0, 1
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec().as_dict()
    workers = len(spec.get("worker", [])) + len(spec.get("chief", []))
    index = resolver.task_id + (len(spec.get("chief", [])) if resolver.task_type == "worker" else 0)
    return int(index), max(int(workers), 1)


def combined_shard(shard_index: int, num_shards: int, worker_index: int, num_workers: int) -> tuple[int, int]:
    """The ``(index, count)`` of the images of shard `shard_index` of `num_shards` run by one worker.

    Raises:
        ValueError: Unless ``0 <= shard_index < num_shards`` and ``0 <= worker_index < num_workers``.
    """
    for name, index, count in (("shard_index", shard_index, num_shards), ("worker_index", worker_index, num_workers)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"Argument `{name}` needs a count >= 1; received {count!r}.")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            raise ValueError(f"Argument `{name}` must be in [0, {count}); received {index!r}.")
    return shard_index * num_workers + worker_index, num_shards * num_workers
