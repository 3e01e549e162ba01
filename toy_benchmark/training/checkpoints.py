"""Checkpoints of a training: the weights of the last epochs and the state naming the last complete one.

A training folder holds::

    checkpoints/epoch-NNNN.weights.h5   weights and optimizer state after epoch NNNN (the last two kept)
    checkpoints/checkpoint.json         a `CheckpointState`: the last complete epoch, its weights, history

Every file is written to a temporary name and renamed (`grid_saliency_tf.experiment.atomic_path`), so
an interruption at any moment leaves the previous checkpoint intact. What the checkpoints belong to
(architecture and settings) is the training folder's `run.json` (a `RunFolder`), not the state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
from typing import Any, ClassVar

import keras

from grid_saliency_tf.experiment import Record, RecordError, atomic_path, to_json_value
from toy_benchmark.models import ToyUNet

__all__ = [
    "CHECKPOINT_DIR",
    "CHECKPOINT_STATE",
    "CheckpointState",
    "architecture",
    "read_checkpoint_state",
    "save_checkpoint",
]

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_STATE = "checkpoint.json"
_KEEP_CHECKPOINTS = 2


@dataclasses.dataclass(frozen=True)
class CheckpointState(Record):
    """The last complete epoch of a training (``checkpoints/checkpoint.json``).

    Schema version 2. Version 1 (``{"format": 1, ...}``, which also held the settings now in
    ``run.json``) is not read: such a folder has no ``run.json`` and is refused as a whole.

    Attributes:
        epoch: Number of complete epochs.
        weights: File name (in the checkpoint folder) of the weights and optimizer state after `epoch`.
        history: Per-epoch values of loss, metrics and learning rate, epochs 1..`epoch`.
    """

    SCHEMA: ClassVar[str] = "toy_benchmark.checkpoint"
    SCHEMA_VERSION: ClassVar[int] = 2

    epoch: int
    weights: str
    history: dict[str, list[float]]


def architecture(model: keras.Model) -> dict[str, Any]:
    """What must match between a checkpoint and the model that resumes from it.

    Args:
        model: The model (built).

    Returns:
        ``{"class", "config" (of a ToyUNet, else None), "weights" (count, parameters, shapes hash)}``
        as JSON data.
    """
    config = None
    if isinstance(model, ToyUNet):
        config = {k: v for k, v in model.get_config().items() if k not in ("name", "trainable")}
    shapes = json.dumps([list(w.shape) for w in model.weights])
    weights = (f"{len(model.weights)} tensors, {model.count_params()} parameters, shapes "
               f"{hashlib.sha256(shapes.encode()).hexdigest()[:12]}")
    return to_json_value({"class": keras.saving.get_registered_name(type(model)), "config": config,
                          "weights": weights}, "architecture")


def read_checkpoint_state(output_dir: str | os.PathLike) -> CheckpointState | None:
    """The state of the last complete epoch in `output_dir`, or None if there is no checkpoint.

    Args:
        output_dir: The training folder.

    Returns:
        The state, or None.

    Raises:
        ValueError: If the state file is unreadable or the weights file it names is missing.
    """
    path = pathlib.Path(output_dir) / CHECKPOINT_DIR / CHECKPOINT_STATE
    if not path.exists():
        return None
    try:
        state = CheckpointState.load(path)
    except RecordError as error:
        raise ValueError(f"checkpoint {str(path)!r} is unreadable ({error}); remove {str(path.parent)!r} to "
                         "start afresh") from None
    if not (path.parent / state.weights).exists():
        raise ValueError(f"checkpoint {str(path)!r} names weights {state.weights}, which are missing; remove "
                         f"{str(path.parent)!r} to start afresh")
    return state


def save_checkpoint(model: keras.Model, checkpoint_dir: str | os.PathLike, epoch: int,
                    history: dict[str, list[float]]) -> CheckpointState:
    """Writes the weights of `epoch`, then the state naming them, then drops old weights.

    Args:
        model: The model after `epoch` epochs (weights and optimizer state are saved).
        checkpoint_dir: The checkpoint folder.
        epoch: Number of complete epochs.
        history: Per-epoch values so far.

    Returns:
        The state written.

    Raises:
        ValueError: If the history holds NaN or infinity (a record never holds them).
    """
    checkpoint_dir = pathlib.Path(checkpoint_dir)
    weights = checkpoint_dir / f"epoch-{epoch:04d}.weights.h5"
    state = CheckpointState(epoch=epoch, weights=weights.name, history=history)
    state.to_dict()  # refuses NaN before anything is written
    with atomic_path(weights) as temporary:
        model.save_weights(temporary)
    state.save(checkpoint_dir / CHECKPOINT_STATE)
    for old in sorted(checkpoint_dir.glob("epoch-*.weights.h5"))[:-_KEEP_CHECKPOINTS]:
        old.unlink()
    return state
