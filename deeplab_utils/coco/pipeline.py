"""The COCO comparison from plain arguments: the explain stage and the comparison stage the binary calls.

Everything that can be checked before the long work is checked first, in this order, each failing with
one ValueError naming the argument: the protocol, the optimizer settings, the model names (two or more,
unique), the annotation files against the image folder (:func:`~deeplab_utils.coco.dataset.load_dataset`),
the shard, the models (loadable), then the run folder (another run's settings are refused, and so is a
second process explaining the same shard at the same time). A model whose output is not the 21 PASCAL
VOC classes is refused at the first image, before any of that image's requests is queued.

Distribution is the Cityscapes job's (:mod:`~deeplab_utils.cityscapes.distribute`,
:mod:`~deeplab_utils.cityscapes.folders`): any number of shards (``num_shards``/``shard_index``) and
multi-worker workers write into one folder; each holds ``shards/<index>-of-<count>`` while it works;
a strategy's local replicas share every batch of requests.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Sequence

import tensorflow as tf

from deeplab_utils.cityscapes.distribute import combined_shard, worker_position
from deeplab_utils.cityscapes.folders import claim_run, shard_lock
from deeplab_utils.cityscapes.job import optimizer_settings
from deeplab_utils.cityscapes.models import load_model
from deeplab_utils.coco import plots, report
from deeplab_utils.coco.comparison import Comparison, compare_models
from deeplab_utils.coco.dataset import load_dataset
from deeplab_utils.coco.job import ComparedModel, explain_images
from deeplab_utils.coco.protocol import CocoProtocol
from deeplab_utils.coco.records import load_model_records
from grid_saliency_tf import GridSaliencyOptimizer
from grid_saliency_tf.experiment import RUN_FILE, Progress, files, figures, save_figure

__all__ = ["RUN_KIND", "SHARD_KIND", "model_name_of", "run_explain", "write_comparison", "read_run_settings"]

RUN_KIND = "deeplab_utils.coco"
#: The kind of ``shards/<index>-of-<count>``, held by the process explaining that shard while it works.
SHARD_KIND = f"{RUN_KIND}.shard"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SUFFIXES = (".tar.gz", ".tgz", ".keras", ".h5", ".pb")


def model_name_of(model: str | os.PathLike | Callable[..., Any]) -> str:
    """A default name: the file name without its suffix (the zoo's model name), or a callable's ``name``."""
    if not isinstance(model, (str, os.PathLike)):
        return str(getattr(model, "name", type(model).__name__))
    path = Path(model)
    if path.name == "frozen_inference_graph.pb":
        path = path.parent
    name = path.name
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _names(models: Sequence[Any], names: Sequence[str] | None) -> list[str]:
    if len(models) < 2:
        raise ValueError(f"Argument `models` must hold two or more models to compare; received {len(models)}.")
    names = list(names) if names else [model_name_of(model) for model in models]
    if len(names) != len(models):
        raise ValueError(f"Argument `model_names` must name every model ({len(models)}); received {names!r}.")
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"Argument `model_names` must hold names of letters, digits, '.', '_' and '-'; "
                             f"received {name!r}.")
    if len(set(names)) != len(names):
        raise ValueError(f"Argument `model_names` must be unique; received {names!r} (pass --model_names).")
    return names


def run_explain(images: str | os.PathLike, instances: str | os.PathLike, models: Sequence[Any],
                output_dir: str | os.PathLike, *, stuff: str | os.PathLike | None = None,
                model_names: Sequence[str] | None = None, protocol: CocoProtocol | None = None,
                optimizer_overrides: dict[str, Any] | None = None, model_output: str = "probabilities",
                backend: str = "keras", batch_size: int = 8, strategy: tf.distribute.Strategy | None = None,
                num_shards: int = 1, shard_index: int = 0, max_images: int = 0, overwrite: bool = False,
                verbose: int = 1) -> dict[str, Any]:
    """Explains the images with every model into `output_dir` (resumable; :mod:`~deeplab_utils.coco.job`).

    Args:
        images: The image folder (``val2017``).
        instances: ``instances_val2017.json``.
        models: Two or more model paths or callables (:func:`~deeplab_utils.cityscapes.models.load_model`).
        output_dir: The run folder.
        stuff: ``stuff_val2017.json`` or None.
        model_names: Names in the run (default: the file names without suffix).
        protocol: Requests, thresholds and choices (default: :class:`CocoProtocol`).
        optimizer_overrides: Optimizer settings replacing the Cityscapes ones (e.g. ``{"steps": 40}``).
        model_output: ``"probabilities"`` or ``"logits"`` (every model).
        backend: How a zoo download is loaded: ``"keras"`` (native) or ``"graph"``.
        batch_size: Requests per replica and optimisation call.
        strategy: A tf.distribute strategy (:func:`~deeplab_utils.cityscapes.distribute.make_strategy`).
        num_shards, shard_index: This process's shard of the images (combined with the worker's position).
        max_images: Only the first N images by name (0: all).
        overwrite: Replace a run with other settings in `output_dir`.
        verbose: 0 for silence, 1 for a progress bar.

    Returns:
        The job's summary (:func:`~deeplab_utils.coco.job.explain_images`) and ``"shard": "i-of-n"``.

    Raises:
        ValueError, TypeError: As the module docstring says.
    """
    protocol = protocol or CocoProtocol()
    settings_optimizer = optimizer_settings(optimizer_overrides, model_output=model_output)
    names = _names(models, model_names)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Argument `batch_size` must be an integer >= 1; received {batch_size!r}.")
    dataset = load_dataset(images, instances, stuff, max_images=max_images)  # before the (slow) model loading
    index, count = combined_shard(shard_index, num_shards, *worker_position(strategy))
    mine = dataset.shard(count, index)
    loaded = [load_model(model, backend) for model in models]
    settings = {"models": [{"name": name, "file": file} for name, (_, file) in zip(names, loaded)],
                "instances": Path(instances).name, "stuff": None if stuff is None else Path(stuff).name,
                "context_classes": list(dataset.context_classes), "protocol": protocol.to_settings(),
                "optimizer": {k: v for k, v in settings_optimizer.items() if k != "max_requests_per_call"}}
    claim_run(output_dir, settings, overwrite=overwrite, kind=RUN_KIND)
    compared = [ComparedModel(name, model, GridSaliencyOptimizer(model, **settings_optimizer))
                for name, (model, _) in zip(names, loaded)]
    # One process per shard: a second one is refused (RunFolderBusy) rather than doing the same work.
    with shard_lock(output_dir, index, count, kind=SHARD_KIND):
        with Progress(len(mine.images), description=f"shard {index + 1}/{count}", unit="img", verbose=verbose) as bar:
            summary = explain_images(compared, mine, output_dir, protocol=protocol, batch_size=batch_size,
                                     strategy=strategy, progress=bar)
    return {**summary, "shard": f"{index}-of-{count}"}


def read_run_settings(output_dir: str | os.PathLike) -> dict[str, Any]:
    """The settings of a COCO run folder's ``run.json``.

    Raises:
        ValueError: If the folder holds no COCO comparison run.
    """
    content = files.read_json(Path(output_dir) / RUN_FILE, missing_ok=True)
    if (not isinstance(content, dict) or content.get("kind") != RUN_KIND
            or not isinstance(content.get("settings"), dict)):
        raise ValueError(f"Argument `output_dir` must be the folder of a COCO comparison run (with {RUN_FILE}); "
                         f"received {os.fspath(output_dir)!r}.")
    return content["settings"]


def write_comparison(output_dir: str | os.PathLike, *, images: str | os.PathLike | None = None,
                     instances: str | os.PathLike | None = None, ignored: str = "exclude", seed: int = 0,
                     num_resamples: int = 1000, draw_figures: bool = True, s16_rows: int = 6,
                     folder: str = "comparison") -> Comparison:
    """Compares the models from the run's records and writes the outputs into ``<output_dir>/<folder>/``.

    Files: ``comparison.json``, ``architecture_comparison.md``, ``statistics.csv``, ``differences.csv``,
    ``context_grid_saliency.csv``, ``context_baseline.csv``; with `draw_figures`, ``context_heatmaps.png``/
    ``.pdf``; with `images` and `instances`, ``fig_s16.png``.

    Raises:
        ValueError: If the folder holds no run or no image finished by every model, or a bad choice.
    """
    settings = read_run_settings(output_dir)
    claim_run(output_dir, settings, kind=RUN_KIND)  # the folder's lock, for a moment
    run = Path(output_dir)
    models = [entry["name"] for entry in settings["models"]]
    records = {model: load_model_records(run, model) for model in models}
    protocol = CocoProtocol(**settings["protocol"])
    comparison = compare_models(records, protocol.classes, settings["context_classes"], ignored=ignored,
                                num_resamples=num_resamples, seed=seed)
    if comparison.images == 0:
        raise ValueError(f"Argument `output_dir` must hold images finished by every model; received "
                         f"{os.fspath(output_dir)!r}, which holds none yet.")
    out = run / folder
    comparison.save(out / "comparison.json")
    for name, text in (("architecture_comparison.md", report.comparison_markdown(comparison, settings)),
                       ("statistics.csv", report.statistics_csv(comparison)),
                       ("differences.csv", report.differences_csv(comparison)),
                       ("context_grid_saliency.csv", report.distribution_csv(comparison, "saliency")),
                       ("context_baseline.csv", report.distribution_csv(comparison, "baseline"))):
        files.write_text(out / name, text)
    if draw_figures:
        figure = plots.context_heatmaps(comparison)
        for suffix in (".png", ".pdf"):
            save_figure(figure, out / f"context_heatmaps{suffix}", dpi=150)
    if images is not None and instances is not None and s16_rows > 0:
        dataset = load_dataset(images, instances)
        picture = plots.s16_figure(records, run_dir=run, images=dataset.images, protocol=protocol, count=s16_rows,
                                   upsampling=settings["optimizer"].get("upsampling", "bilinear"))
        if picture is not None:
            figures.write_png(out / "fig_s16.png", picture)
    return comparison
