"""Training of the toy-benchmark segmentation networks, with checkpoints, resume and tf.distribute.

Implements the training protocol of the supplement S1.2 (`schedule`): RMSprop on the pixel-wise
(multi-class) cross-entropy, batch size 100, 50 epochs, learning rate 1e-3 for the first 40 epochs and
1e-4 for the last 10 (`schedule="step"`; `"cosine"` decays between the same rates step by step, a lever).

`train()` writes into `output_dir`, a `RunFolder` (its settings in `run.json`, locked while training):
    checkpoints/                        the weights of the last epochs and their state (`checkpoints`)
    logs/                               TensorBoard event files (train/ and validation/)
    model.keras                         the trained model (Keras format), written when training ends
Every file is written to a temporary name and renamed, so an interruption at any moment leaves the
previous checkpoint intact, and calling `train()` again with the same arguments resumes from it. The
data order of epoch e is a function of (seed, e) only, so a resumed training computes the same weights
as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import tensorflow as tf

from grid_saliency_tf.experiment import RunFolder, atomic_path, remove_stale_temporaries
from toy_benchmark.models import BACKBONES, DEFAULT_BACKBONE, PUBLISHED_WIDTH, ToyUNet
from toy_benchmark.training import checkpoints
from toy_benchmark.training.callbacks import EpochLogger, Progress, StepLearningRate, TensorBoardLogger
from toy_benchmark.training.inputs import ToyTrainingData, check_elements, prepare_batches
from toy_benchmark.training.schedule import (
    PAPER_PROTOCOL,
    TrainingProtocol,
    check_schedule,
    epoch_seed,
    learning_rate_at_step,
    learning_rate_for_epoch,
    schedule_setting,
)
from toy_benchmark.training.strategy import make_strategy, op_determinism_enabled

__all__ = ["FINAL_MODEL", "LOG_DIR", "TRAINING_KIND", "TrainingResult", "train", "train_toy_unet"]

FINAL_MODEL = "model.keras"
LOG_DIR = "logs"
#: The `RunFolder` kind of a training folder.
TRAINING_KIND = "toy_benchmark.training"

_log = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainingResult:
    """What `train()` returns.

    Attributes:
        model: The trained model (created in the strategy's scope).
        history: Per-epoch values of loss, metrics and learning rate over all epochs, including those
            of a run that was resumed.
        model_path: The saved model, `output_dir/model.keras`.
        initial_epoch: The number of epochs already done when this call started (0 for a fresh run).
    """

    model: keras.Model
    history: dict[str, list[float]]
    model_path: pathlib.Path
    initial_epoch: int


def _make_folder(output_dir: pathlib.Path) -> None:
    """Creates `output_dir`, raising an OSError that names the argument if it cannot be made."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"Argument `output_dir` must be a writable folder; received {str(output_dir)!r}, which "
                      f"is not writable ({error.strerror or error}).") from None


def _check_arguments(epochs: Any, batch_size: Any, learning_rate: Any, final_learning_rate: Any,
                     final_fraction: Any, model_fn: Any) -> None:
    for arg, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"Argument `{arg}` must be a positive integer; received {value!r}.")
    for arg, value in (("learning_rate", learning_rate), ("final_learning_rate", final_learning_rate)):
        if not value > 0:
            raise ValueError(f"Argument `{arg}` must be positive; received {value!r}.")
    if not 0.0 <= final_fraction <= 1.0:
        raise ValueError(f"Argument `final_fraction` must be in [0, 1]; received {final_fraction!r}.")
    if not callable(model_fn):
        raise TypeError(f"Argument `model_fn` must be a callable that builds a Keras model; received "
                        f"{model_fn!r}.")


def _dataset_function(dataset: Any, shuffle_buffer: int) -> tuple[Callable[[int], tf.data.Dataset], int]:
    """(dataset_fn(shuffle_seed), shuffle buffer) for a dataset or a function returning shuffled ones."""
    if isinstance(dataset, tf.data.Dataset):
        return (lambda _: dataset), shuffle_buffer
    if callable(dataset):
        return dataset, 0
    raise TypeError("Argument `dataset` must be a tf.data.Dataset or a callable(shuffle_seed) returning one; "
                    f"received {type(dataset).__name__}.")


def _compiled_model(model_fn: Callable[[], keras.Model], learning_rate: float,
                    jit_compile: bool) -> keras.Model:
    """Builds the model with `model_fn` and compiles it with the protocol's optimizer, loss and metrics."""
    model = model_fn()
    if not isinstance(model, keras.Model):
        raise TypeError(f"Argument `model_fn` must return a keras.Model; received {type(model).__name__}.")
    num_classes = int(model.output.shape[-1])
    with warnings.catch_warnings():  # Keras's warning that it drops XLA: refused below instead
        warnings.filterwarnings("ignore", message="Model doesn't support `jit_compile=True`")
        model.compile(
            optimizer=keras.optimizers.RMSprop(learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                     keras.metrics.MeanIoU(num_classes, sparse_y_pred=False, name="mean_iou")],
            jit_compile=jit_compile,
        )
    if jit_compile and not model.jit_compile:
        condition = ("while TensorFlow op determinism is on (the toy binaries turn it on; toy-train "
                     "--nodeterministic leaves it off)" if op_determinism_enabled()
                     else "for a model with a layer that does not support XLA")
        raise ValueError(f"Argument `jit_compile` must be False {condition}: Keras compiles no XLA train step "
                         "then and would train without it; received True.")
    return model


def train(
    model_fn: Callable[[], keras.Model],
    dataset: tf.data.Dataset | Callable[[int], tf.data.Dataset],
    output_dir: str | os.PathLike,
    *,
    epochs: int = PAPER_PROTOCOL.epochs,
    batch_size: int = PAPER_PROTOCOL.batch_size,
    learning_rate: float = PAPER_PROTOCOL.learning_rate,
    final_learning_rate: float = PAPER_PROTOCOL.final_learning_rate,
    final_fraction: float = PAPER_PROTOCOL.final_fraction,
    schedule: str = PAPER_PROTOCOL.schedule,
    seed: int = 0,
    shuffle_buffer: int = PAPER_PROTOCOL.shuffle_buffer,
    validation_dataset: tf.data.Dataset | None = None,
    strategy: tf.distribute.Strategy | None = None,
    overwrite: bool = False,
    dataset_info: Mapping[str, Any] | None = None,
    data_checks: Mapping[str, Mapping[str, Any]] | None = None,
    tensorboard: bool = True,
    jit_compile: bool = False,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 1,
) -> TrainingResult:
    """Trains a segmentation network with the protocol of supplement S1.2, resuming if interrupted.

    RMSprop, pixel-wise cross-entropy over the model's softmax output (the categorical cross-entropy
    of S1.2, computed from integer labels), the step learning-rate schedule of
    `learning_rate_for_epoch` (or, with `schedule="cosine"`, `learning_rate_at_step`). Metrics: pixel
    accuracy and mean IoU over the classes.

    Args:
        model_fn: Builds the model (called inside the strategy's scope), e.g.
            `lambda: ToyUNet("vgg16", width=0.125, seed=0)`. The model maps images
            `(batch, height, width, channels)` to class probabilities `(batch, height, width, classes)`.
        dataset: Unbatched training elements: {"image": (height, width, channels), "label": (height,
            width)} dicts or (image, label) pairs, labels integer classes, in a deterministic order;
            shuffled with a `shuffle_buffer`-element buffer. Or a callable
            `dataset(shuffle_seed) -> tf.data.Dataset` returning such elements already shuffled in an
            order fixed by `shuffle_seed` (a full shuffle without a buffer, e.g.
            `lambda s: make_dataset(variant, shuffle_seed=s)`).
        output_dir: Folder for checkpoints, TensorBoard logs and the final model; created if needed.
        epochs: Total number of epochs (50 in the paper).
        batch_size: Global batch size (100 in the paper), split over the strategy's replicas.
        learning_rate: Rate of the first epochs (1e-3).
        final_learning_rate: Rate of the last `final_fraction` of the epochs (1e-4).
        final_fraction: Fraction of the epochs at the final rate (0.2: the paper's last 10 of 50).
        schedule: "step" (S1.2: `learning_rate`, then `final_learning_rate` for the last `final_fraction`
            of the epochs) or "cosine" (half a cosine from `learning_rate` to `final_learning_rate` over
            every step; needs a training set of known length; `final_fraction` unused). Recorded in the
            run's settings when not "step", so folders written before the option existed still resume.
        seed: Seed of the data order; epoch e is shuffled with a seed derived from (seed, e).
        shuffle_buffer: Shuffle buffer size in elements for a `tf.data.Dataset` `dataset` (at least
            the dataset size for a full shuffle); <= 1 keeps the dataset's order.
        validation_dataset: Optional unbatched elements evaluated after every epoch.
        strategy: tf.distribute strategy; None uses the current (default) one.
        overwrite: Replace the contents of an `output_dir` that holds a training with other settings
            (or other files); without it such a folder is refused. A folder holding this same training
            (same settings, architecture and data) is always resumed.
        dataset_info: JSON description of the training data (e.g. its manifest config), part of the
            run's settings; resuming with a different one is refused.
        data_checks: What was verified about the data (`ToyTrainingData.checks`), recorded in the run
            folder as ``.done/verified-<name>.json``.
        tensorboard: Write TensorBoard logs to `output_dir/logs`.
        jit_compile: Compile the train step with XLA. Keras does not while TensorFlow op determinism is on,
            nor for a layer without XLA support: refused then (a ValueError), not dropped silently.
        callbacks: Extra Keras callbacks for every epoch.
        verbose: Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch.

    `output_dir` is a `RunFolder` of kind ``toy_benchmark.training`` whose settings are the arguments
    above that decide the weights plus the model's architecture: a second process training into it is
    refused at once (its lock), and a folder holding a training with other settings is refused, listing
    the differences (``settings.batch_size: recorded 10, requested 5``), unless `overwrite`.

    Returns:
        A `TrainingResult` with the trained model, the full history and the saved model's path.

    Raises:
        ValueError: On bad arguments or an unreadable checkpoint.
        RunFolderMismatch: If `output_dir` holds another training (and not `overwrite`); a ValueError.
        RunFolderBusy: If another process trains into `output_dir`; a ValueError.
        TypeError: If `dataset` is not a tf.data.Dataset or `model_fn` does not build a Keras model.
        OSError: If `output_dir` cannot be written.
    """
    _check_arguments(epochs, batch_size, learning_rate, final_learning_rate, final_fraction, model_fn)
    check_schedule(schedule)
    dataset_fn, buffer = _dataset_function(dataset, shuffle_buffer)
    first_epoch = check_elements(dataset_fn(epoch_seed(seed, 0)), "dataset")
    if schedule == "cosine" and int(first_epoch.cardinality()) < 1:
        raise ValueError("Argument `schedule` 'cosine' needs a training set of known, non-zero length (its tf.data "
                         f"cardinality); received a dataset of cardinality {int(first_epoch.cardinality())}.")
    if validation_dataset is not None:
        check_elements(validation_dataset, "validation_dataset")

    settings = {
        "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
        "final_learning_rate": final_learning_rate, "final_fraction": final_fraction, "seed": seed,
        "shuffle_buffer": shuffle_buffer, "dataset": dict(dataset_info or {}), **schedule_setting(schedule),
    }
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = _compiled_model(model_fn, learning_rate, jit_compile)
    settings["architecture"] = checkpoints.architecture(model)
    output_dir = pathlib.Path(output_dir)
    _make_folder(output_dir)
    with RunFolder.open(output_dir, kind=TRAINING_KIND, settings=settings, overwrite=overwrite) as run:
        checkpoint_dir = run.file(checkpoints.CHECKPOINT_DIR)
        checkpoint_dir.mkdir(exist_ok=True)
        remove_stale_temporaries(checkpoint_dir)  # left by a killed run; nobody else writes here
        for name, check in (data_checks or {}).items():
            run.mark_done(f"verified-{name}", **check)
        initial_epoch, history = _restore(model, run, strategy, epochs)
        protocol = TrainingProtocol(epochs, batch_size, learning_rate, final_learning_rate, final_fraction,
                                    shuffle_buffer, schedule)
        extra_callbacks = list(callbacks) + ([Progress(epochs)] if verbose else [])
        if tensorboard:
            extra_callbacks.append(TensorBoardLogger(run.path / LOG_DIR))
        _fit_epochs(model, dataset_fn, buffer, validation_dataset, run.path, initial_epoch, history,
                    protocol=protocol, seed=seed, callbacks=extra_callbacks, verbose=verbose)
        model_path = run.path / FINAL_MODEL
        if initial_epoch < epochs or not model_path.exists():
            with atomic_path(model_path) as temporary:
                model.save(temporary)
    return TrainingResult(model=model, history=history, model_path=model_path,
                          initial_epoch=initial_epoch)


def _restore(model: keras.Model, run: RunFolder, strategy: tf.distribute.Strategy,
             epochs: int) -> tuple[int, dict[str, list[float]]]:
    """Loads the last checkpoint of a resumed run into `model`; returns (epochs done, history)."""
    state = checkpoints.read_checkpoint_state(run.path) if run.resumed else None
    if state is None:
        return 0, {}
    weights = run.path / checkpoints.CHECKPOINT_DIR / state.weights
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)
        try:
            model.load_weights(weights)
        except (ValueError, OSError, KeyError) as error:
            message = " ".join(str(error).split())
            raise ValueError(f"checkpoint weights {str(weights)!r} cannot be loaded ({message}); "
                             "remove the checkpoint folder to start afresh") from None
    _log.info("Resuming %s from epoch %d of %d", run.path, state.epoch, epochs)
    return state.epoch, {key: list(values) for key, values in state.history.items()}


def _fit_epochs(model: keras.Model, dataset_fn: Callable[[int], tf.data.Dataset], buffer: int,
                validation_dataset: tf.data.Dataset | None, output_dir: pathlib.Path, initial_epoch: int,
                history: dict[str, list[float]], *, protocol: TrainingProtocol, seed: int,
                callbacks: list[keras.callbacks.Callback], verbose: int) -> None:
    """Trains epochs initial_epoch..epochs - 1, one `fit` each, saving a checkpoint after every one."""
    validation = (None if validation_dataset is None
                  else prepare_batches(validation_dataset, batch_size=protocol.batch_size))
    for epoch in range(initial_epoch, protocol.epochs):
        elements = check_elements(dataset_fn(epoch_seed(seed, epoch)), "dataset")
        batches = prepare_batches(elements, batch_size=protocol.batch_size, seed=seed, epoch=epoch,
                                  shuffle_buffer=buffer)
        fit = model.fit(batches, validation_data=validation, initial_epoch=epoch, epochs=epoch + 1,
                        callbacks=[_rate_callback(model, protocol, epoch, batches), *callbacks], shuffle=False,
                        verbose=verbose)
        for key, values in fit.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        checkpoints.save_checkpoint(model, output_dir / checkpoints.CHECKPOINT_DIR, epoch + 1, history)


def _rate_callback(model: keras.Model, protocol: TrainingProtocol, epoch: int,
                   batches: tf.data.Dataset) -> keras.callbacks.Callback:
    """Sets the learning rate of `epoch` (step schedule: now, once; cosine: before every step)."""
    if protocol.schedule == "step":
        rate = learning_rate_for_epoch(epoch, protocol.epochs, learning_rate=protocol.learning_rate,
                                       final_learning_rate=protocol.final_learning_rate,
                                       final_fraction=protocol.final_fraction)
        model.optimizer.learning_rate = rate
        return EpochLogger(rate)
    steps = int(batches.cardinality())  # known: `train` checked the training set's length
    total = steps * protocol.epochs
    return StepLearningRate(lambda step: learning_rate_at_step(step, total, learning_rate=protocol.learning_rate,
                                                               final_learning_rate=protocol.final_learning_rate),
                            epoch * steps)


def train_toy_unet(data: ToyTrainingData, output_dir: str | os.PathLike, *, backbone: str = DEFAULT_BACKBONE,
                   width: float = PUBLISHED_WIDTH, batch_norm: bool = True, seed: int = 0,
                   strategy: str = "default", **train_kwargs: Any) -> TrainingResult:
    """Trains a `ToyUNet` on toy-dataset data: `train()` with the model and data of the benchmark.

    Args:
        data: From `toy_training_data`.
        output_dir: As in `train`.
        backbone, width, batch_norm: Of the `ToyUNet`; its initial weights are seeded with `seed`.
        seed: Seed of the initial weights and of the data order.
        strategy: Name of a tf.distribute strategy (see `make_strategy`).
        **train_kwargs: Further arguments of `train` (epochs, batch_size, learning rates, ...).

    Returns:
        As `train`.

    Raises:
        As `train`, and ValueError on an unknown backbone or strategy (before anything is written).
    """
    if backbone not in BACKBONES:
        raise ValueError(f"Argument `backbone` must be one of {', '.join(BACKBONES)}; received {backbone!r}.")
    return train(
        lambda: ToyUNet(backbone, width=width, batch_norm=batch_norm, seed=seed),
        data.dataset_fn, output_dir, seed=seed, validation_dataset=data.validation,
        dataset_info=data.info, data_checks=data.checks, strategy=make_strategy(strategy), **train_kwargs)
