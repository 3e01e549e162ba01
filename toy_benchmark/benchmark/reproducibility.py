"""Reproducible numbers: the process set-up of the toy binaries and what the report records of it.

The benchmark's numbers are a function of its settings: every draw is seeded explicitly (the dataset
draw per run, the network's initial weights and data order by its model seed, the texture and sweep
draws of the profile, the noise of SmoothGrad and of grid saliency's noise perturbation), and what
remains is the arithmetic. :func:`make_reproducible`, called once by a binary before anything runs,
pins that too: TensorFlow's op determinism (ops whose result could depend on thread scheduling run a
deterministic implementation, or raise) and the global seeds of Python, NumPy and TensorFlow (which
nothing of the benchmark draws from, so that a stray unseeded draw cannot vary). Library code never
calls it (it changes process-wide state).

Two runs on the same kind of machine (CPU model, intra-op thread count, TensorFlow build, oneDNN on or
off) then write identical numbers. Another CPU, thread count or oneDNN setting differs in the last bits
(oneDNN and Eigen pick kernels and split reductions by instruction set and thread count), and training
amplifies them: with 1 instead of 2 threads the same settings train another network (every weight array
differed after 40 steps; BENCHMARKS.md), as another seed would. :func:`environment_record` is what the
report states of this.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import keras
import tensorflow as tf

from toy_benchmark.training.strategy import op_determinism_enabled

__all__ = ["environment_record", "intra_op_threads", "make_reproducible", "onednn_enabled"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def intra_op_threads() -> int:
    """The threads TensorFlow's CPU kernels split an op over in this process.

    The value set with ``tf.config.threading.set_intra_op_parallelism_threads``, else the
    ``TF_NUM_INTRAOP_THREADS`` environment variable, else TensorFlow's default: the CPUs this process may
    run on (its affinity mask, which ``os.cpu_count`` ignores).
    """
    configured = tf.config.threading.get_intra_op_parallelism_threads()
    if configured > 0:
        return configured
    try:
        from_environment = int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0"))
    except ValueError:
        from_environment = 0
    if from_environment > 0:
        return from_environment
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def onednn_enabled() -> bool | None:
    """Whether TensorFlow's CPU kernels run on oneDNN in this process; None where the build cannot tell.

    The ``TF_ENABLE_ONEDNN_OPTS`` environment variable, read when TensorFlow starts, decides it ("1" on, "0"
    off); unset, TensorFlow decides by the CPU: on (Linux) for x86 CPUs with VNNI, AVX-512 BF16 or AMX, off
    for the others (an AVX2-only CPU such as this project's 2-core AMD EPYC, where turning it on trains the
    toy U-Net about 1.6 times as fast: BENCHMARKS.md). It changes the last bits of every number, so the
    report records it; the variable alone does not say whether it is on.
    """
    try:
        from tensorflow.python.util import _pywrap_util_port  # pylint: disable=import-outside-toplevel
        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def environment_record(global_seed: int | None = None) -> dict[str, Any]:
    """What decides the last bits of the numbers besides the settings, as JSON data for the report.

    Args:
        global_seed: The global seed the binary set (:func:`make_reproducible`); None if none was set.

    Returns:
        ``{"op_determinism", "global_seed", "tensorflow", "keras", "cpu", "cpu_count", "intra_op_threads",
        "onednn", "onednn_variable"}``; ``intra_op_threads`` is :func:`intra_op_threads`, ``onednn``
        :func:`onednn_enabled` (whether oneDNN is on), ``onednn_variable`` the ``TF_ENABLE_ONEDNN_OPTS``
        setting (None when unset or empty: TensorFlow chose by the CPU).
    """
    return {"op_determinism": op_determinism_enabled(), "global_seed": global_seed, "tensorflow": tf.__version__,
            "keras": keras.__version__, "cpu": _cpu_model(), "cpu_count": os.cpu_count(),
            "intra_op_threads": intra_op_threads(), "onednn": onednn_enabled(),
            "onednn_variable": os.environ.get("TF_ENABLE_ONEDNN_OPTS") or None}


def make_reproducible(seed: int, *, op_determinism: bool = True) -> dict[str, Any]:
    """Sets up the process for reproducible numbers; for binaries, once, before any model or tensor is made.

    Args:
        seed: The global seed of Python's ``random``, NumPy and TensorFlow (``keras.utils.set_random_seed``).
        op_determinism: Turn on ``tf.config.experimental.enable_op_determinism()``.

    Returns:
        :func:`environment_record` of the process after the set-up.

    Raises:
        ValueError: If ``seed`` is not an integer in ``[0, 2**32)``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 32:
        raise ValueError(f"Argument `seed` must be an integer in [0, 2**32); received {seed!r}.")
    keras.utils.set_random_seed(seed)
    if op_determinism:
        tf.config.experimental.enable_op_determinism()
    return environment_record(seed)
