"""The evaluation of one trained toy network (paper Sec. 4.2, Fig. 4; supplement S1.2-S1.4).

1. IoU per digit on the **unbiased** test set (Fig. 4a; :mod:`.segmentation`).
2. On the network's own (biased) test set, with its predicted mask of the image's digit as request:
   context saliency of every method (:mod:`.explainers`), CBD (Eq. 6) and CBL (Eq. 7) per image,
   mCBD and mCBL per digit (:mod:`.saliency_metrics`).

The results go to ``metrics.json`` (:mod:`.metrics_record`) and a figure of a few examples,
``examples.png`` (saliency in red, request outlined in blue, like Fig. 3b).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import tqdm

from toy_benchmark.atomic import write_json_atomic
from toy_benchmark.data.variant import NUM_CLASSES, DatasetVariant
from toy_benchmark.evaluation import overlays
from toy_benchmark.evaluation.explainers import METHODS, check_methods, method_settings
from toy_benchmark.evaluation.metrics_record import METRICS_FILE, SCHEMA_VERSION, validate_metrics
from toy_benchmark.evaluation.saliency_metrics import saliency_records, summarize_saliency
from toy_benchmark.evaluation.segmentation import segmentation_metrics

__all__ = ["BATCH_SIZE", "EXAMPLES_FILE", "NUM_EXAMPLES", "evaluate", "load_model", "summary_line"]

EXAMPLES_FILE = "examples.png"
#: Images per explanation batch, and rows of the example figure, unless told otherwise.
BATCH_SIZE = 50
NUM_EXAMPLES = 4


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

    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "model.keras")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no trained model at {path!r} (expected a .keras file or a training folder)")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a damaged or foreign file
        raise ValueError(f"cannot load a Keras model from {path!r}: {type(error).__name__}: {error}") from None
    shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    output = tuple(model.outputs[0].shape[1:]) if getattr(model, "outputs", None) else None
    if shape != (64, 64, 1) or output != (64, 64, NUM_CLASSES):
        raise ValueError(
            f"model {path!r} is not a toy segmentation network: input {shape}, output {output}; "
            f"expected (64, 64, 1) -> (64, 64, {NUM_CLASSES})"
        )
    return model


def _variant_info(variant: DatasetVariant | None) -> dict[str, Any] | None:
    return None if variant is None else dataclasses.asdict(variant)


def evaluate(
    model: keras.Model | str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    biased_test: DatasetVariant,
    unbiased_test: DatasetVariant | None,
    textures: Any = None,
    mnist: Any = None,
    methods: Sequence[str] = METHODS,
    batch_size: int = BATCH_SIZE,
    num_examples: int = NUM_EXAMPLES,
    grid_saliency: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
    verbose: int = 0,
) -> dict[str, Any]:
    """Runs the whole evaluation of one network and writes ``metrics.json`` and ``examples.png``.

    Args:
        model: The trained network, images ``(batch, 64, 64, 1)`` to probabilities ``(batch, 64, 64, 11)``,
            or the path :func:`load_model` reads it from.
        output_dir: Folder for the outputs (created if needed).
        biased_test: The test variant where saliency is measured (the network's training bias).
        unbiased_test: The unbiased test variant for the IoU (Fig. 4a); None to skip.
        textures, mnist: Sources, as for :func:`toy_benchmark.make_dataset`.
        methods: Saliency methods (names from :data:`METHODS`).
        batch_size: Images per explanation batch.
        num_examples: Rows of the example figure.
        grid_saliency: Overrides of the grid saliency toy defaults.
        info: Extra JSON-serialisable fields stored under ``"run"`` (e.g. the model path).
        verbose: 0 quiet, 1 a progress bar on stderr.

    Returns:
        The metrics dictionary written to ``metrics.json`` (see :func:`validate_metrics`).
    """
    from toy_benchmark.data.streaming import make_dataset

    methods = check_methods(methods)
    if not isinstance(model, keras.Model):
        model = load_model(model)
    os.makedirs(output_dir, exist_ok=True)
    metrics: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run": dict(info or {}),
        "datasets": {"biased_test": _variant_info(biased_test), "unbiased_test": _variant_info(unbiased_test)},
        "settings": method_settings(model, methods, grid_saliency=grid_saliency),
    }
    if unbiased_test is not None:
        metrics["segmentation"] = segmentation_metrics(
            model, make_dataset(unbiased_test, batch_size=batch_size, textures=textures, mnist=mnist))
    bar = tqdm.tqdm(total=biased_test.num_samples, desc="saliency", unit="img", disable=verbose < 1)
    previous = [0]

    def advance(done: int) -> None:
        bar.update(done - previous[0])
        previous[0] = done

    try:
        records = saliency_records(
            model, make_dataset(biased_test, batch_size=batch_size, textures=textures, mnist=mnist), methods,
            grid_saliency=grid_saliency, num_examples=num_examples, example_digit=biased_test.bias_digit,
            progress=advance)
    finally:
        bar.close()
    metrics["saliency"] = summarize_saliency(records)
    validate_metrics(metrics)
    write_json_atomic(os.path.join(output_dir, METRICS_FILE), metrics)
    if records.examples:
        rows = [overlays.example_row(example["image"], example["request"], example["maps"],
                                     title=f"digit {example['digit']}") for example in records.examples]
        overlays.write_png(os.path.join(output_dir, EXAMPLES_FILE), rows)
    return metrics


def summary_line(metrics: Mapping[str, Any], output_dir: str | os.PathLike) -> str:
    """One line for the user: where the metrics are, and grid saliency's mCBD and mCBL of the bias digit."""
    line = f"wrote {os.path.join(output_dir, METRICS_FILE)}"
    digit = metrics["datasets"]["biased_test"]["bias_digit"]
    grid = metrics["saliency"]["methods"].get("grid_saliency")
    if grid is not None and digit is not None:
        line += f"; grid saliency on digit {digit}: mCBD {grid['mcbd_per_digit'][digit]}, mCBL {grid['mcbl_per_digit'][digit]}"
    return line
