"""tf.distribute strategies for training (none, data-parallel over all GPUs or logical CPUs, one device), and
whether TensorFlow's op determinism is on in the process (it decides whether Keras compiles with XLA)."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["STRATEGIES", "configure_cpu_devices", "make_strategy", "op_determinism_enabled"]

STRATEGIES = ("default", "mirrored", "one_device")


def op_determinism_enabled() -> bool | None:
    """Whether TensorFlow's op determinism is on in this process (None where this TensorFlow cannot tell)."""
    from tensorflow.python.framework import config  # no public getter in TF 2.21

    check = getattr(config, "is_op_determinism_enabled", None)
    return None if check is None else bool(check())


def configure_cpu_devices(count: int) -> None:
    """Splits the physical CPU into `count` logical devices (to try MirroredStrategy without GPUs).

    Must be called before TensorFlow initialises its devices (before any model or tensor is made).

    Args:
        count: Number of logical CPU devices, >= 1.

    Raises:
        ValueError: If `count` < 1.
        RuntimeError: If TensorFlow has already initialised its devices.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"Argument `count` must be an integer >= 1; received {count!r}.")
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)])


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy called `name`.

    Args:
        name: "default" (no distribution), "mirrored" (synchronous data parallelism over all GPUs, or
            over all logical CPU devices when there is no GPU) or "one_device" (the first GPU, else
            the CPU).

    Returns:
        The strategy.

    Raises:
        ValueError: On an unknown name.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Argument `strategy` must be one of {', '.join(STRATEGIES)}; received {name!r}.")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    return tf.distribute.get_strategy()
