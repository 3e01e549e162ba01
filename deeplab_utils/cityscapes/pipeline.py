"""The explain stage of a Cityscapes run from plain arguments: what the binary hands its flags to.

Everything that can be checked before the long work is checked first, in this order, each failing
with one ValueError naming the argument: the protocol (unknown class names), the optimizer settings,
the data set (layout, missing label files, label maps of another size), the shard, the model (loadable),
the run folder (another run's settings are refused). The model's output is checked on the first image
(a 21-class model stops there, before any record is written).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import tensorflow as tf

from deeplab_utils.cityscapes.dataset import check_sizes, list_examples, select_shard
from deeplab_utils.cityscapes.distribute import combined_shard, worker_position
from deeplab_utils.cityscapes.explainer import automatic_batch_size
from deeplab_utils.cityscapes.folders import claim_run, shard_lock
from deeplab_utils.cityscapes.job import explain_examples, optimizer_settings, run_settings
from deeplab_utils.cityscapes.models import load_model
from deeplab_utils.cityscapes.protocol import Protocol
from grid_saliency_tf import GridSaliencyOptimizer
from grid_saliency_tf.experiment import Progress

__all__ = ["run_explain"]


def run_explain(dataset: str | os.PathLike, model: str | os.PathLike | Callable[..., Any],
                output_dir: str | os.PathLike, *, protocol: Protocol, split: str = "val",
                cities: Sequence[str] | None = None, max_images: int = 0,
                optimizer_overrides: dict[str, Any] | None = None, model_output: str = "probabilities",
                batch_size: int = 8, strategy: tf.distribute.Strategy | None = None, num_shards: int = 1,
                shard_index: int = 0, panel_group: str = "rider", panel_images: int = 10,
                overwrite: bool = False, verbose: int = 1, backend: str = "keras") -> dict[str, Any]:
    """Explains this process's share of a split into `output_dir` (resumable; see :mod:`~deeplab_utils.cityscapes.job`).

    Args:
        dataset: The Cityscapes folder.
        model: A model path or callable (:func:`~deeplab_utils.cityscapes.models.load_model`).
        output_dir: The run folder, shared by all shards and workers.
        protocol: Requests, thresholds and choices.
        split, cities: Which images; `max_images` > 0 keeps the first ones (by name) only.
        optimizer_overrides: Optimizer settings replacing the paper's (e.g. ``{"steps": 40}``).
        model_output: ``"probabilities"`` or ``"logits"``.
        batch_size: Requests per replica and call; 0 chooses it from GPU memory.
        strategy: A tf.distribute strategy (:func:`~deeplab_utils.cityscapes.distribute.make_strategy`).
        num_shards, shard_index: This process's shard (combined with the worker's position).
        panel_group, panel_images: Fig. S13 panels for this group in the first `panel_images` images.
        overwrite: Replace a run with other settings in `output_dir`.
        verbose: 0 for silence, 1 for a progress bar (images done/total, requests/s, time left).
        backend: How a zoo download is loaded: ``"keras"`` (native) or ``"graph"`` (frozen graph).

    Returns:
        ``{"images": done now, "skipped": done before, "requests": optimised, "shard": "i-of-n",
        "batch_size": used}``.

    Raises:
        ValueError, TypeError: As the module docstring says; records already written are kept.
    """
    settings_optimizer = optimizer_settings(optimizer_overrides, model_output=model_output)
    examples = list_examples(dataset, split, cities)
    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 0:
        raise ValueError(f"Argument `max_images` must be an integer >= 0; received {max_images!r}.")
    if max_images:
        examples = examples[:max_images]
    index, count = combined_shard(shard_index, num_shards, *worker_position(strategy))
    mine = select_shard(examples, count, index)
    sizes = check_sizes(mine)
    loaded, model_name = load_model(model, backend)
    settings = run_settings(protocol, settings_optimizer, model_name=model_name, split=split)
    claim_run(output_dir, settings, overwrite=overwrite)
    optimizer = GridSaliencyOptimizer(loaded, **settings_optimizer)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 0:
        raise ValueError(f"Argument `batch_size` must be an integer >= 0 (0: automatic); received {batch_size!r}.")
    if batch_size == 0 and mine:
        batch_size = automatic_batch_size(optimizer, sizes[0])
    panel_names = [example.name for example in examples[:panel_images]]
    with shard_lock(output_dir, index, count):
        with Progress(len(mine), description=f"shard {index + 1}/{count}", unit="img", verbose=verbose) as bar:
            summary = explain_examples(loaded, mine, output_dir, protocol=protocol, optimizer=optimizer,
                                       batch_size=max(batch_size, 1), strategy=strategy, panel_names=panel_names,
                                       panel_group=panel_group, progress=bar)
    return {**summary, "shard": f"{index}-of-{count}", "batch_size": max(batch_size, 1)}
