"""Training of the toy-benchmark segmentation networks, with checkpoints, resume and tf.distribute.

Implements the training protocol of the supplement S1.2: RMSprop on the pixel-wise (multi-class)
cross-entropy, batch size 100, 50 epochs, learning rate 1e-3 for the first 40 epochs and 1e-4 for the
last 10. With fewer epochs the schedule is scaled: the last `final_fraction` (a fifth) of the epochs run
at the final rate.

`train()` writes into `output_dir`:
    checkpoints/epoch-NNNN.weights.h5   weights and optimizer state after epoch NNNN (the last two kept)
    checkpoints/checkpoint.json         the last complete epoch, its weights file, the settings, history
    logs/                               TensorBoard event files (train/ and validation/)
    model.keras                         the trained model (Keras format), written when training ends
Every file is written to a temporary name and renamed, so an interruption at any moment leaves the
previous checkpoint intact, and calling `train()` again with the same arguments resumes from it. The
data order of epoch e is a function of (seed, e) only, so a resumed training computes the same weights
as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import pathlib
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from toy_benchmark.atomic import atomic_path
from toy_benchmark.models import BACKBONES, ToyUNet

STRATEGIES = ("default", "mirrored", "one_device")
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_STATE = "checkpoint.json"
FINAL_MODEL = "model.keras"
LOG_DIR = "logs"
_STATE_FORMAT = 1
_KEEP_CHECKPOINTS = 2

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


def learning_rate_for_epoch(epoch: int, epochs: int, *, learning_rate: float = 1e-3,
                            final_learning_rate: float = 1e-4, final_fraction: float = 0.2) -> float:
    """The step schedule of supplement S1.2: `learning_rate`, then `final_learning_rate` at the end.

    The last `round(epochs * final_fraction)` epochs use the final rate: 40 + 10 for 50 epochs,
    4 + 1 for 5 epochs, and no decay for 1 or 2 epochs.

    Args:
        epoch: 0-based epoch index.
        epochs: Number of epochs of the whole training.
        learning_rate: Rate of the first epochs.
        final_learning_rate: Rate of the last epochs.
        final_fraction: Fraction of the epochs at the final rate, in [0, 1].

    Returns:
        The learning rate of `epoch`.
    """
    final_epochs = int(math.floor(epochs * final_fraction + 0.5))
    return float(final_learning_rate if epoch >= epochs - final_epochs else learning_rate)


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffling seed of epoch `epoch`: a hash of (seed, epoch), independent of anything else."""
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1, np.uint64)[0] >> 1)


def _as_image_label(element: Any) -> tuple[tf.Tensor, tf.Tensor]:
    if isinstance(element, Mapping):
        return element["image"], element["label"]
    return element[0], element[1]


def _checked(dataset: Any, name: str) -> tf.data.Dataset:
    """Accepts a dataset of {"image", "label"} dicts or (image, label) pairs, unbatched."""
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"{name} must be a tf.data.Dataset, got {type(dataset).__name__}")
    spec = dataset.element_spec
    if isinstance(spec, Mapping):
        if "image" not in spec or "label" not in spec:
            raise ValueError(f"{name} elements must have keys 'image' and 'label', got {sorted(spec)}")
    elif not (isinstance(spec, tuple) and len(spec) >= 2):
        raise ValueError(f"{name} elements must be dicts with 'image' and 'label' or (image, label) "
                         f"pairs, got {spec}")
    image, label = _as_image_label(spec)
    if image.shape.rank != 3 or label.shape.rank not in (2, 3):
        raise ValueError(f"{name} must hold unbatched elements: image (height, width, channels) and "
                         f"label (height, width), got image {image.shape} and label {label.shape}")
    return dataset


def prepare_batches(dataset: tf.data.Dataset, *, batch_size: int, seed: int | None = None,
                    epoch: int = 0, shuffle_buffer: int = 0) -> tf.data.Dataset:
    """Batches of (images, labels) for one epoch, in an order that depends only on (seed, epoch).

    Args:
        dataset: Unbatched elements, {"image": (H, W, C), "label": (H, W)} dicts or (image, label)
            pairs; images are cast to float32 and labels to int32.
        batch_size: Global batch size (split across replicas by tf.distribute).
        seed: Shuffling seed; None or `shuffle_buffer` <= 1 keeps the dataset's order.
        epoch: 0-based epoch index, mixed into the shuffling seed.
        shuffle_buffer: Size of the shuffle buffer (the whole dataset gives a full shuffle).

    Returns:
        A dataset of `(images (batch, H, W, C) float32, labels (batch, H, W) int32)`; the last batch
        may be smaller.
    """
    def to_pair(*element):
        image, label = _as_image_label(element[0] if len(element) == 1 else element)
        label = tf.cast(label, tf.int32)
        if label.shape.rank == 3:
            label = tf.squeeze(label, -1)
        return tf.cast(image, tf.float32), label

    dataset = dataset.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if seed is not None and shuffle_buffer > 1:
        dataset = dataset.shuffle(shuffle_buffer, seed=epoch_seed(seed, epoch),
                                  reshuffle_each_iteration=False)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def configure_cpu_devices(count: int) -> None:
    """Splits the physical CPU into `count` logical devices (to try MirroredStrategy without GPUs).

    Must be called before TensorFlow initialises its devices (before any model or tensor is made).

    Raises:
        ValueError: If `count` < 1.
        RuntimeError: If TensorFlow has already initialised its devices.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)])


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy called `name`.

    Args:
        name: "default" (no distribution), "mirrored" (synchronous data parallelism over all GPUs, or
            over all logical CPU devices when there is no GPU) or "one_device" (the first GPU, else
            the CPU).

    Raises:
        ValueError: On an unknown name.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")


def _write_atomic(path: pathlib.Path, write: Callable[[pathlib.Path], None]) -> None:
    """Calls `write(tmp)` on a temporary file beside `path` (same suffixes), then renames it."""
    with atomic_path(path) as temporary:
        write(temporary)


def _write_json(path: pathlib.Path, data: Any) -> None:
    _write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1, sort_keys=True)))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def _architecture(model: keras.Model) -> dict[str, Any]:
    """What must match between a checkpoint and the model that resumes from it."""
    config = None
    if isinstance(model, ToyUNet):
        config = {k: v for k, v in model.get_config().items() if k not in ("name", "trainable")}
    shapes = json.dumps([list(w.shape) for w in model.weights])
    weights = (f"{len(model.weights)} tensors, {model.count_params()} parameters, shapes "
               f"{hashlib.sha256(shapes.encode()).hexdigest()[:12]}")
    return _jsonable({"class": keras.saving.get_registered_name(type(model)), "config": config,
                      "weights": weights})


def _differences(saved: Any, wanted: Any, prefix: str = "") -> list[str]:
    """Readable differences between two JSON values, e.g. "settings.seed: checkpoint 0, now 1"."""
    if isinstance(saved, dict) and isinstance(wanted, dict) and saved and wanted:
        return [difference for key in sorted(set(saved) | set(wanted))
                for difference in _differences(saved.get(key), wanted.get(key), f"{prefix}{key}.")]
    if saved == wanted:
        return []
    return [f"{prefix[:-1]}: checkpoint {saved!r}, now {wanted!r}"]


def read_checkpoint_state(output_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The state of the last complete epoch in `output_dir`, or None if there is no checkpoint.

    Raises:
        ValueError: If the state file is unreadable or the weights file it names is missing.
    """
    path = pathlib.Path(output_dir) / CHECKPOINT_DIR / CHECKPOINT_STATE
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text())
        weights = path.parent / state["weights"]
        int(state["epoch"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"checkpoint {path} is unreadable ({error}); remove {path.parent} to start "
                         "afresh") from None
    if state.get("format") != _STATE_FORMAT:
        raise ValueError(f"checkpoint {path} has format {state.get('format')!r}, this version reads "
                         f"format {_STATE_FORMAT}")
    if not weights.exists():
        raise ValueError(f"checkpoint {path} names weights {weights.name}, which are missing")
    return state


class _EpochLogger(keras.callbacks.Callback):
    """Adds the learning rate to the epoch logs (so TensorBoard and the history get it)."""

    def __init__(self, learning_rate: float):
        super().__init__()
        self.learning_rate = learning_rate

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = self.learning_rate


class _Progress(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, with the epoch count of the whole training ("Epoch 3/50")."""

    def __init__(self, epochs: int):
        super().__init__()
        self.total_epochs = epochs

    def set_params(self, params: dict) -> None:
        super().set_params({**params, "epochs": self.total_epochs})


class _TensorBoardLogger(keras.callbacks.Callback):
    """Writes the epoch logs as TensorBoard scalars (train/ and validation/ runs).

    Uses TensorFlow's own summary ops, so the logs need the `tensorboard` package only to be viewed.
    """

    _METADATA = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))

    def __init__(self, log_dir: pathlib.Path):
        super().__init__()
        self.log_dir = log_dir
        self._writers: dict[str, Any] = {}

    def _writer(self, run: str) -> Any:
        if run not in self._writers:
            self._writers[run] = tf.summary.create_file_writer(str(self.log_dir / run))
        return self._writers[run]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            run, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            with self._writer(run).as_default():
                tf.summary.write(f"epoch_{tag}", tf.constant(float(value), tf.float32), step=epoch,
                                 metadata=self._METADATA.SerializeToString())
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def _check_output_dir(output_dir: pathlib.Path) -> None:
    """Creates `output_dir` and proves it writable, raising OSError with a readable message."""
    try:
        (output_dir / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=output_dir / CHECKPOINT_DIR)
        os.close(fd)
        os.unlink(probe)
        for stale in (output_dir / CHECKPOINT_DIR).glob(".tmp-*"):  # left by a killed run
            stale.unlink()
    except OSError as error:
        raise OSError(f"output_dir {str(output_dir)!r} is not writable: "
                      f"{error.strerror or error}") from None


def train(
    model_fn: Callable[[], keras.Model],
    dataset: tf.data.Dataset | Callable[[int], tf.data.Dataset],
    output_dir: str | os.PathLike,
    *,
    epochs: int = 50,
    batch_size: int = 100,
    learning_rate: float = 1e-3,
    final_learning_rate: float = 1e-4,
    final_fraction: float = 0.2,
    seed: int = 0,
    shuffle_buffer: int = 10_000,
    validation_dataset: tf.data.Dataset | None = None,
    strategy: tf.distribute.Strategy | None = None,
    resume: bool = True,
    dataset_info: Mapping[str, Any] | None = None,
    tensorboard: bool = True,
    jit_compile: bool = False,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 1,
) -> TrainingResult:
    """Trains a segmentation network with the protocol of supplement S1.2, resuming if interrupted.

    RMSprop, pixel-wise cross-entropy over the model's softmax output (the categorical cross-entropy
    of S1.2, computed from integer labels), the step learning-rate schedule of
    `learning_rate_for_epoch`. Metrics: pixel accuracy and mean IoU over the classes.

    Args:
        model_fn: Builds the model (called inside the strategy's scope), e.g.
            `lambda: ToyUNet("vgg16", width=0.125, seed=0)`. The model maps images
            `(batch, H, W, C)` to class probabilities `(batch, H, W, classes)`.
        dataset: Unbatched training elements: {"image": (H, W, C), "label": (H, W)} dicts or
            (image, label) pairs, labels integer classes, in a deterministic order; shuffled with a
            `shuffle_buffer`-element buffer. Or a callable `dataset(shuffle_seed) -> tf.data.Dataset`
            returning such elements already shuffled in an order fixed by `shuffle_seed` (a full
            shuffle without a buffer, e.g. `lambda s: make_dataset(variant, shuffle_seed=s)`).
        output_dir: Folder for checkpoints, TensorBoard logs and the final model; created if needed.
        epochs: Total number of epochs (50 in the paper).
        batch_size: Global batch size (100 in the paper), split over the strategy's replicas.
        learning_rate: Rate of the first epochs (1e-3).
        final_learning_rate: Rate of the last `final_fraction` of the epochs (1e-4).
        final_fraction: Fraction of the epochs at the final rate (0.2: the paper's last 10 of 50).
        seed: Seed of the data order; epoch e is shuffled with a seed derived from (seed, e).
        shuffle_buffer: Shuffle buffer size in elements for a `tf.data.Dataset` `dataset` (at least
            the dataset size for a full shuffle); <= 1 keeps the dataset's order.
        validation_dataset: Optional unbatched elements evaluated after every epoch.
        strategy: tf.distribute strategy; None uses the current (default) one.
        resume: Continue from the checkpoint in `output_dir` if there is one. If False and there is
            one, raise rather than overwrite it.
        dataset_info: JSON-able description of the training data (e.g. its manifest), stored with the
            checkpoints; resuming with a different one is refused.
        tensorboard: Write TensorBoard logs to `output_dir/logs`.
        jit_compile: Compile the train step with XLA.
        callbacks: Extra Keras callbacks for every epoch.
        verbose: Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch.

    Returns:
        A `TrainingResult` with the trained model, the full history and the saved model's path.

    Raises:
        ValueError: On bad arguments, an unreadable or incompatible checkpoint, or an existing
            checkpoint with `resume=False`.
        TypeError: If `dataset` is not a tf.data.Dataset or `model_fn` does not build a Keras model.
        OSError: If `output_dir` cannot be written.
    """
    for arg, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive integer, got {value!r}")
    for arg, value in (("learning_rate", learning_rate), ("final_learning_rate", final_learning_rate)):
        if not value > 0:
            raise ValueError(f"{arg} must be positive, got {value!r}")
    if not 0.0 <= final_fraction <= 1.0:
        raise ValueError(f"final_fraction must be in [0, 1], got {final_fraction!r}")
    if not callable(model_fn):
        raise TypeError(f"model_fn must be a callable that builds a Keras model, got {model_fn!r}")
    if isinstance(dataset, tf.data.Dataset):
        dataset_fn, buffer = (lambda _: dataset), shuffle_buffer
    elif callable(dataset):
        dataset_fn, buffer = dataset, 0
    else:
        raise TypeError("dataset must be a tf.data.Dataset or a callable(shuffle_seed) returning one, "
                        f"got {type(dataset).__name__}")
    _checked(dataset_fn(epoch_seed(seed, 0)), "dataset")
    if validation_dataset is not None:
        _checked(validation_dataset, "validation_dataset")

    output_dir = pathlib.Path(output_dir)
    checkpoint_dir = output_dir / CHECKPOINT_DIR
    state = read_checkpoint_state(output_dir)
    if state is not None and not resume:
        raise ValueError(f"output_dir {str(output_dir)!r} already holds a training checkpoint "
                         f"(epoch {state['epoch']}); resume it or choose another folder")

    settings = _jsonable({
        "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
        "final_learning_rate": final_learning_rate, "final_fraction": final_fraction, "seed": seed,
        "shuffle_buffer": shuffle_buffer, "dataset": dict(dataset_info or {}),
    })
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = model_fn()
        if not isinstance(model, keras.Model):
            raise TypeError(f"model_fn must return a keras.Model, got {type(model).__name__}")
        num_classes = int(model.output.shape[-1])
        architecture = _architecture(model)
        model.compile(
            optimizer=keras.optimizers.RMSprop(learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                     keras.metrics.MeanIoU(num_classes, sparse_y_pred=False, name="mean_iou")],
            jit_compile=jit_compile,
        )
        initial_epoch, history = 0, {}
        if state is not None:
            problems = _differences(
                {"architecture": state.get("architecture"), "settings": state.get("settings")},
                {"architecture": architecture, "settings": settings})
            if any(problem.startswith("architecture.class:") for problem in problems):
                problems = [p for p in problems if not p.startswith(("architecture.config:",
                                                                     "architecture.weights:"))]
            if problems:
                raise ValueError(f"checkpoint in {str(checkpoint_dir)!r} does not match this training "
                                 f"({'; '.join(problems)}); use another output_dir")
        _check_output_dir(output_dir)
        if state is not None:
            weights = checkpoint_dir / state["weights"]
            model.optimizer.build(model.trainable_variables)
            try:
                model.load_weights(weights)
            except (ValueError, OSError, KeyError) as error:
                message = " ".join(str(error).split())
                raise ValueError(f"checkpoint weights {str(weights)!r} cannot be loaded ({message}); "
                                 "remove the checkpoint folder to start afresh") from None
            initial_epoch, history = int(state["epoch"]), state.get("history", {})
            _log.info("Resuming %s from epoch %d of %d", output_dir, initial_epoch, epochs)

    validation = (None if validation_dataset is None
                  else prepare_batches(validation_dataset, batch_size=batch_size))
    extra_callbacks = list(callbacks) + ([_Progress(epochs)] if verbose else [])
    if tensorboard:
        extra_callbacks.append(_TensorBoardLogger(output_dir / LOG_DIR))
    for epoch in range(initial_epoch, epochs):
        rate = learning_rate_for_epoch(epoch, epochs, learning_rate=learning_rate,
                                       final_learning_rate=final_learning_rate,
                                       final_fraction=final_fraction)
        model.optimizer.learning_rate = rate
        elements = _checked(dataset_fn(epoch_seed(seed, epoch)), "dataset")
        batches = prepare_batches(elements, batch_size=batch_size, seed=seed, epoch=epoch,
                                  shuffle_buffer=buffer)
        fit = model.fit(batches, validation_data=validation, initial_epoch=epoch, epochs=epoch + 1,
                        callbacks=[_EpochLogger(rate)] + extra_callbacks, shuffle=False,
                        verbose=verbose)
        for key, values in fit.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        _save_checkpoint(model, checkpoint_dir, epoch + 1, architecture, settings, history)

    model_path = output_dir / FINAL_MODEL
    if initial_epoch < epochs or not model_path.exists():
        _write_atomic(model_path, model.save)
    return TrainingResult(model=model, history=history, model_path=model_path,
                          initial_epoch=initial_epoch)


def _save_checkpoint(model: keras.Model, checkpoint_dir: pathlib.Path, epoch: int,
                     architecture: dict, settings: dict, history: dict) -> None:
    """Writes the weights of `epoch`, then the state naming them, then drops old weights."""
    weights = checkpoint_dir / f"epoch-{epoch:04d}.weights.h5"
    _write_atomic(weights, model.save_weights)
    _write_json(checkpoint_dir / CHECKPOINT_STATE, {
        "format": _STATE_FORMAT, "epoch": epoch, "weights": weights.name,
        "architecture": architecture, "settings": settings, "history": history,
    })
    for old in sorted(checkpoint_dir.glob("epoch-*.weights.h5"))[:-_KEEP_CHECKPOINTS]:
        old.unlink()


@dataclasses.dataclass
class ToyTrainingData:
    """A toy-dataset training set, ready for `train()`.

    Attributes:
        dataset_fn: `dataset_fn(shuffle_seed)` -> the training elements, fully shuffled by the seed.
        validation: Unbatched validation elements (the variant's test split), or None.
        info: The dataset's identity (its manifest config), stored with the checkpoints.
    """

    dataset_fn: Callable[[int], tf.data.Dataset]
    validation: tf.data.Dataset | None
    info: dict[str, Any]


def toy_training_data(variant: Mapping[str, Any] | None = None, *,
                      dataset_dir: str | os.PathLike | None = None, num_validation: int = 0,
                      textures: str | os.PathLike | None = None,
                      mnist: str | os.PathLike | None = None) -> ToyTrainingData:
    """The training set of a toy-dataset variant (paper Sec. 4.1), streamed or from a folder.

    Args:
        variant: Fields of `toy_benchmark.DatasetVariant` (strength, bias_digit, bias_texture, seed,
            num_samples) of the training split. Without `dataset_dir` the variant is generated on the
            fly; with it, every field given must equal the folder's manifest.
        dataset_dir: A folder written by the dataset writer (`write_dataset`), read instead of
            generating.
        num_validation: Number of samples of the variant's test split to validate on (0: none).
        textures: Folder of texture images; None for the procedural pool.
        mnist: MNIST .npz or IDX folder; None for the bundled digits.

    Returns:
        The training data.

    Raises:
        ValueError: If the variant is invalid, the folder holds no finished dataset, or its manifest
            does not match `variant`, `textures` or `mnist`.
        FileNotFoundError: If `dataset_dir` or a source path does not exist.
    """
    from toy_benchmark.data.storage import dataset_config, load_dataset, read_manifest
    from toy_benchmark.data.streaming import make_dataset, resolve_sources
    from toy_benchmark.data.variant import DatasetVariant

    if isinstance(num_validation, bool) or not isinstance(num_validation, int) or num_validation < 0:
        raise ValueError(f"num_validation must be a non-negative integer, got {num_validation!r}")
    fields = dict(variant or {})
    if "split" in fields:
        raise ValueError(f"variant must describe the training split and not name one, got {fields!r}")
    pool, digits = resolve_sources(textures, mnist)
    if dataset_dir is None:
        train_variant = DatasetVariant(**fields, split="train")
        info = dataset_config(train_variant, pool, digits)

        def dataset_fn(shuffle_seed: int) -> tf.data.Dataset:
            return make_dataset(train_variant, textures=pool, mnist=digits, shuffle_seed=shuffle_seed)
    else:
        if not os.path.isdir(dataset_dir):
            raise FileNotFoundError(f"dataset_dir {str(dataset_dir)!r} is not a folder")
        info = read_manifest(dataset_dir)["config"]
        saved = info["variant"]
        wrong = [f"{k}={v!r} (manifest: {saved.get(k)!r})"
                 for k, v in {**fields, "split": "train"}.items() if saved.get(k) != v]
        train_variant = DatasetVariant.from_config(saved)
        sources = dataset_config(train_variant, pool, digits)
        wrong += [f"{k} fingerprint differs from the manifest's" for k in ("textures", "mnist")
                  if sources[k] != info[k]]
        if wrong:
            raise ValueError(f"dataset_dir {str(dataset_dir)!r} does not match the requested dataset: "
                             f"{', '.join(wrong)}")

        def dataset_fn(shuffle_seed: int) -> tf.data.Dataset:
            return load_dataset(dataset_dir, shuffle_seed=shuffle_seed, verify=False)

    validation = None
    if num_validation:
        test_variant = dataclasses.replace(train_variant, split="test", num_samples=num_validation)
        validation = make_dataset(test_variant, textures=pool, mnist=digits)
    return ToyTrainingData(dataset_fn=dataset_fn, validation=validation, info=_jsonable(info))


def train_toy_unet(data: ToyTrainingData, output_dir: str | os.PathLike, *, backbone: str = "vgg16",
                   width: float = 1.0, batch_norm: bool = True, seed: int = 0,
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
        raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {backbone!r}")
    return train(
        lambda: ToyUNet(backbone, width=width, batch_norm=batch_norm, seed=seed),
        data.dataset_fn, output_dir, seed=seed, validation_dataset=data.validation,
        dataset_info=data.info, strategy=make_strategy(strategy), **train_kwargs)
