"""Keras callbacks of the trainer: learning rate per epoch or per step, progress bar, TensorBoard scalars."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

__all__ = ["EpochLogger", "Progress", "StepLearningRate", "TensorBoardLogger"]


class EpochLogger(keras.callbacks.Callback):
    """Adds the learning rate to the epoch logs (so TensorBoard and the history get it).

    Args:
        learning_rate: The rate of the epoch being trained.
    """

    def __init__(self, learning_rate: float):
        super().__init__()
        self.learning_rate = learning_rate

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = self.learning_rate


class StepLearningRate(keras.callbacks.Callback):
    """Sets the optimizer's learning rate before every step and logs the epoch's last one.

    For schedules that change the rate within an epoch (the cosine schedule); the rate is read from the
    optimizer's variable inside the compiled train step, so setting it does not retrace.

    Args:
        rate_of_step: Learning rate of a 0-based global step.
        first_step: Global step of the epoch's first batch (epoch * steps per epoch).
    """

    def __init__(self, rate_of_step: Callable[[int], float], first_step: int):
        super().__init__()
        self.rate_of_step = rate_of_step
        self.first_step = first_step
        self.last_rate: float | None = None

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.last_rate = self.rate_of_step(self.first_step + batch)
        self.model.optimizer.learning_rate = self.last_rate

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None and self.last_rate is not None:
            logs["learning_rate"] = self.last_rate


class Progress(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, with the epoch count of the whole training ("Epoch 3/50").

    Args:
        epochs: Number of epochs of the whole training.
    """

    def __init__(self, epochs: int):
        super().__init__()
        self.total_epochs = epochs

    def set_params(self, params: dict) -> None:
        super().set_params({**params, "epochs": self.total_epochs})


class TensorBoardLogger(keras.callbacks.Callback):
    """Writes the epoch logs as TensorBoard scalars (train/ and validation/ runs).

    Uses TensorFlow's own summary ops, so the logs need the `tensorboard` package only to be viewed.

    Args:
        log_dir: The folder of the event files (`train/` and `validation/` are made in it).
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
