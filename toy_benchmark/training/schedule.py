"""The training protocol of the toy benchmark (supplement S1.2): settings, learning-rate schedule, data order.

RMSprop on the pixel-wise cross-entropy, batch size 100, 50 epochs, learning rate 1e-3 for the first 40
epochs and 1e-4 for the last 10. With fewer epochs the schedule is scaled: the last `final_fraction`
(a fifth) of the epochs run at the final rate. The data order of epoch e is a function of (seed, e)
only, so a training resumed after an interruption sees the same batches as an uninterrupted one.

Besides the paper's step schedule (``"step"``), ``"cosine"`` decays the rate step by step from the first
rate to the final one along half a cosine (Loshchilov & Hutter 2017, without restarts): a lever of issue
#13, not the paper's protocol. The rate of a step is a function of (epoch, step) only, so resuming keeps it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["PAPER_PROTOCOL", "SCHEDULES", "TrainingProtocol", "check_schedule", "epoch_seed", "learning_rate_at_step",
           "learning_rate_for_epoch", "schedule_setting"]

#: Learning-rate schedules: the paper's step (S1.2) and a cosine decay between the same two rates.
SCHEDULES = ("step", "cosine")


@dataclasses.dataclass(frozen=True)
class TrainingProtocol:
    """The settings of the training protocol; `PAPER_PROTOCOL` holds the paper's (supplement S1.2).

    Attributes:
        epochs: Number of epochs.
        batch_size: Global batch size.
        learning_rate: RMSprop learning rate of the first epochs.
        final_learning_rate: Learning rate of the last `final_fraction` of the epochs.
        final_fraction: Fraction of the epochs at the final rate, in [0, 1].
        shuffle_buffer: Shuffle buffer (elements) for a training set given as one `tf.data.Dataset`.
        schedule: "step" (S1.2) or "cosine" (`learning_rate_at_step`; `final_fraction` unused).
    """

    epochs: int = 50
    batch_size: int = 100
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-4
    final_fraction: float = 0.2
    shuffle_buffer: int = 10_000
    schedule: str = "step"


PAPER_PROTOCOL = TrainingProtocol()


def learning_rate_for_epoch(epoch: int, epochs: int, *, learning_rate: float = PAPER_PROTOCOL.learning_rate,
                            final_learning_rate: float = PAPER_PROTOCOL.final_learning_rate,
                            final_fraction: float = PAPER_PROTOCOL.final_fraction) -> float:
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


def check_schedule(schedule: object) -> str:
    """Returns `schedule` if it is one of `SCHEDULES`; raises ValueError naming the argument otherwise."""
    if not isinstance(schedule, str) or schedule not in SCHEDULES:
        raise ValueError(f"Argument `schedule` must be one of {', '.join(SCHEDULES)}; received {schedule!r}.")
    return schedule


def schedule_setting(schedule: str, key: str = "schedule") -> dict[str, str]:
    """The schedule as a settings entry, `{key: schedule}`, or `{}` for the paper's step schedule.

    Run and report settings record the schedule only when it is not the step, so folders written before it
    was a setting (all of them step-trained) still resume; the one place that rule lives.
    """
    return {} if schedule == PAPER_PROTOCOL.schedule else {key: schedule}


def learning_rate_at_step(step: int, total_steps: int, *, learning_rate: float = PAPER_PROTOCOL.learning_rate,
                          final_learning_rate: float = PAPER_PROTOCOL.final_learning_rate) -> float:
    """The cosine schedule: half a cosine from `learning_rate` at step 0 to `final_learning_rate` at the end.

    rate(t) = final + (first - final) * (1 + cos(pi * t / T)) / 2 for step t of T (Loshchilov & Hutter
    2017, SGDR without restarts); the same two rates as the step schedule of S1.2, with the decay spread
    over the whole training instead of one step.

    Args:
        step: 0-based global step (epoch * steps_per_epoch + step within the epoch).
        total_steps: Steps of the whole training, >= 1.
        learning_rate: Rate at step 0.
        final_learning_rate: Rate the decay ends at (reached at step `total_steps`).

    Returns:
        The learning rate of `step`.

    Raises:
        ValueError: If `total_steps` < 1 or `step` is outside [0, total_steps].
    """
    if total_steps < 1 or not 0 <= step <= total_steps:
        raise ValueError(f"Argument `step` must be in [0, total_steps={total_steps}] with total_steps >= 1; "
                         f"received {step!r}.")
    decay = 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    return float(final_learning_rate + (learning_rate - final_learning_rate) * decay)


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffling seed of epoch `epoch`: a hash of (seed, epoch), independent of anything else.

    Args:
        seed: The training's data-order seed.
        epoch: 0-based epoch index.

    Returns:
        A non-negative int below 2**63.
    """
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1, np.uint64)[0] >> 1)
