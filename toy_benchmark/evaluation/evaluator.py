"""The evaluation of one trained toy network (paper Sec. 4.2, Fig. 4; supplement S1.2-S1.4).

1. IoU per digit on the **unbiased** test set (Fig. 4a; :mod:`.segmentation`).
2. On the network's own (biased) test set, with its predicted mask of the image's digit as request:
   context saliency of every method (:mod:`.explainers`), CBD (Eq. 6) and CBL (Eq. 7) per image,
   mCBD and mCBL per digit (:mod:`.saliency_metrics`), and the IoU per digit on that set from the
   same predictions. The two test sets hold the same digits, placements and context masks, only the
   textures differ, so the IoU on one against the other says whether the network relies on its bias
   texture (`toy_benchmark.benchmark.effect_checks`' ``bias_learned``).

The output folder is a `grid_saliency_tf.experiment.RunFolder` of kind ``toy_benchmark.evaluation``:
``run.json`` records the settings, ``examples.png`` shows a few explanations (saliency in red,
request outlined in blue, like Fig. 3b) and ``metrics.json`` (:class:`.MetricsRecord`), written last,
marks the evaluation finished. The same settings again find it finished and return its record (one
written before version 4 first gets its biased test set's IoU: one forward pass, saved); a folder
holding an evaluation with other settings is refused unless ``overwrite``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from grid_saliency_tf.experiment import Progress, RunFolder, figures
from toy_benchmark.data.sources import DataSources, resolve_sources
from toy_benchmark.data.streaming import make_dataset
from toy_benchmark.data.variant import NUM_CLASSES, DatasetVariant
from toy_benchmark.evaluation.explainers import METHODS, ExplainerPool, check_methods, method_settings
from toy_benchmark.evaluation.metrics_record import METRICS_FILE, MetricsRecord
from toy_benchmark.evaluation.saliency_metrics import saliency_records, summarize_saliency
from toy_benchmark.evaluation.segmentation import segmentation_from_confusions, segmentation_metrics

__all__ = ["BATCH_SIZE", "EVALUATION_KIND", "EXAMPLES_FILE", "NUM_EXAMPLES", "ModelSource", "evaluate",
           "examples_figure", "load_model", "summary_line"]

EVALUATION_KIND = "toy_benchmark.evaluation"
EXAMPLES_FILE = "examples.png"
#: Images per explanation batch, and rows of the example figure, unless told otherwise.
BATCH_SIZE = 50
NUM_EXAMPLES = 4
#: A network, a path for :func:`load_model`, or a function returning the network (called only if needed).
ModelSource = keras.Model | str | os.PathLike | Callable[[], keras.Model]
_OVERLAY = {"scale": 4, "opacity": 0.65, "outline_color": (0, 0, 255)}


def _model_file(path: str | os.PathLike) -> str:
    """The ``.keras`` file of a model path (a file, or a training folder holding ``model.keras``)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "model.keras")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Argument `model` must be a trained model (a .keras file or a training folder "
                                f"holding model.keras); received {path!r}, which does not exist.")
    return path


def load_model(path: str | os.PathLike) -> keras.Model:
    """Loads a trained network from a ``.keras`` file or a training folder holding ``model.keras``.

    Args:
        path: The file or the folder.

    Returns:
        The network, images ``(batch, 64, 64, 1)`` to probabilities ``(batch, 64, 64, 11)``.

    Raises:
        FileNotFoundError: If there is no model at ``path``.
        ValueError: If the file is not a Keras model, or not a toy segmentation network.
    """
    import toy_benchmark.models  # noqa: F401  (registers ToyUNet for deserialisation)

    path = _model_file(path)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a damaged or foreign file
        raise ValueError(f"Argument `model` must be a Keras model file; received {path!r}, which cannot be loaded "
                         f"({type(error).__name__}: {error}).") from None
    shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    output = tuple(model.outputs[0].shape[1:]) if getattr(model, "outputs", None) else None
    if shape != (64, 64, 1) or output != (64, 64, NUM_CLASSES):
        raise ValueError(f"Argument `model` must be a toy segmentation network, (64, 64, 1) -> (64, 64, "
                         f"{NUM_CLASSES}); received {path!r}, a network {shape} -> {output}.")
    return model


def _resolve_model(model: ModelSource) -> keras.Model:
    if isinstance(model, keras.Model):
        return model
    if isinstance(model, (str, os.PathLike)):
        return load_model(model)
    if callable(model):
        return model()
    raise TypeError(f"Argument `model` must be a Keras model, a path or a function returning one; "
                    f"received {type(model).__name__}.")


def examples_figure(examples: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The example figure: per example a row of the input with its request, then every method's overlay.

    Args:
        examples: :attr:`SaliencyRecords.examples`: ``image`` ``(64, 64)`` in [0, 1], ``request``
            ``(64, 64)``, ``digit`` and ``maps`` (method name to saliency ``(64, 64)`` in [0, 1]).

    Returns:
        uint8 RGB ``(height, width, 3)``: captioned panels, 4x magnified.
    """
    panels, labels = [], []
    for example in examples:
        panels.append(figures.overlay(example["image"], None, example["request"], **_OVERLAY))
        labels.append(f"digit {example['digit']}")
        for name, saliency in example["maps"].items():
            panels.append(figures.overlay(example["image"], saliency, example["request"], **_OVERLAY))
            labels.append(name)
    return figures.tile(panels, columns=1 + len(examples[0]["maps"]), labels=labels)


def _variant_info(variant: DatasetVariant | None) -> dict[str, Any] | None:
    return None if variant is None else variant.to_config()


def evaluate(
    model: ModelSource,
    output_dir: str | os.PathLike,
    *,
    biased_test: DatasetVariant,
    unbiased_test: DatasetVariant | None,
    sources: DataSources | None = None,
    methods: Sequence[str] = METHODS,
    batch_size: int = BATCH_SIZE,
    num_examples: int = NUM_EXAMPLES,
    grid_saliency: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
    explainer_pool: ExplainerPool | None = None,
    overwrite: bool = False,
    verbose: int = 0,
) -> MetricsRecord:
    """Runs (or finds finished) the whole evaluation of one network in its run folder.

    Args:
        model: The trained network (images ``(batch, 64, 64, 1)`` to probabilities ``(batch, 64, 64, 11)``),
            a path for :func:`load_model`, or a function returning it; loaded only if the evaluation
            is not finished yet.
        output_dir: The evaluation's run folder (created if needed).
        biased_test: The test variant where saliency is measured (the network's training bias).
        unbiased_test: The unbiased test variant for the IoU (Fig. 4a); None to skip.
        sources: The resolved texture pool and MNIST digits (`toy_benchmark.resolve_sources`); None for
            the defaults (procedural textures, bundled digits). Their identity is part of the settings.
        methods: Saliency methods (names from :data:`METHODS`).
        batch_size: Images per explanation batch.
        num_examples: Rows of the example figure (0: no figure).
        grid_saliency: Overrides of the grid saliency toy defaults.
        info: What is evaluated, JSON data stored as the record's ``run`` (e.g. the model path).
        explainer_pool: Builds the explainers; pass one pool to the evaluations of a parameter sweep on
            one network so that grid saliency's compiled optimisation is traced once (None: a new pool).
        overwrite: Replace an evaluation with other settings in ``output_dir``.
        verbose: 0 quiet, 1 a progress bar, 2 also a line per step (on stderr).

    Returns:
        The :class:`MetricsRecord` written to ``metrics.json`` (or found there, completed with
        ``biased_segmentation`` if it lacked it).

    Raises:
        RunFolderMismatch: If ``output_dir`` holds an evaluation with other settings and not ``overwrite``.
        ValueError: For an unknown method or bad settings.
    """
    methods = check_methods(methods)
    sources = resolve_sources(sources=sources)
    if isinstance(model, (str, os.PathLike)):
        _model_file(model)  # a missing model is refused before the folder is claimed
    datasets = {"biased_test": _variant_info(biased_test), "unbiased_test": _variant_info(unbiased_test)}
    settings = {"run": dict(info or {}), "datasets": datasets, "sources": sources.identity(),
                "methods": list(methods), "grid_saliency": dict(grid_saliency or {}), "batch_size": batch_size,
                "num_examples": num_examples}
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if verbose >= 2 else (lambda line: None)
    with RunFolder.open(output_dir, kind=EVALUATION_KIND, settings=settings, overwrite=overwrite) as run:
        if run.exists(METRICS_FILE):
            say(f"evaluation in {os.fspath(output_dir)!r} is finished")
            metrics = MetricsRecord.load(run.file(METRICS_FILE))
            if metrics.biased_segmentation is None:  # written by version 3: measure what version 4 adds
                say(f"IoU on {biased_test.num_samples} biased test images (missing from a version-3 record)")
                biased = segmentation_metrics(_resolve_model(model),
                                              make_dataset(biased_test, batch_size=batch_size, sources=sources))
                metrics = dataclasses.replace(metrics, biased_segmentation=biased)
                metrics.save(run.file(METRICS_FILE))
            return metrics
        start = time.monotonic()
        model = _resolve_model(model)
        explainers = (explainer_pool or ExplainerPool()).build(model, methods, grid_saliency=grid_saliency)
        segmentation = None
        if unbiased_test is not None:
            say(f"IoU on {unbiased_test.num_samples} unbiased test images")
            segmentation = segmentation_metrics(
                model, make_dataset(unbiased_test, batch_size=batch_size, sources=sources))
        say(f"saliency of {', '.join(methods)} on {biased_test.num_samples} test images")
        with Progress(biased_test.num_samples, description="saliency", unit="img", verbose=min(verbose, 1)) as bar:
            records = saliency_records(
                model, make_dataset(biased_test, batch_size=batch_size, sources=sources), explainers,
                num_examples=num_examples, example_digit=biased_test.bias_digit,
                progress=bar.update_to)
        if records.examples:
            figures.write_png(run.file(EXAMPLES_FILE), examples_figure(records.examples))
        metrics = MetricsRecord(run=dict(info or {}), datasets=datasets,
                                settings=method_settings(explainers),
                                segmentation=segmentation, saliency=summarize_saliency(records),
                                seconds=time.monotonic() - start,
                                biased_segmentation=segmentation_from_confusions(records.confusion))
        metrics = MetricsRecord.from_dict(metrics.to_dict())  # as the file will hold it (tuples as lists)
        metrics.save(run.file(METRICS_FILE))
    return metrics


def summary_line(metrics: MetricsRecord, output_dir: str | os.PathLike) -> str:
    """One line for the user: where the metrics are, and grid saliency's mCBD and mCBL of the bias digit."""
    line = f"wrote {os.path.join(output_dir, METRICS_FILE)}"
    digit = metrics.datasets["biased_test"]["bias_digit"]
    grid = metrics.saliency.methods.get("grid_saliency")
    if grid is not None and digit is not None:
        line += f"; grid saliency on digit {digit}: mCBD {grid.mcbd_per_digit[digit]}, mCBL {grid.mcbl_per_digit[digit]}"
    return line
