"""Counter-based random numbers: Philox4x32-10, vectorised over counters with NumPy.

The toy dataset draws the randomness of sample i from a pure function of (key, counter), with the key
derived from (seed, split, variant) and the counter from i (TOY_DATASET_SPEC.md, "Determinism"). A
counter-based generator makes every sample independent of the batch, shard or worker that produces it.

Philox4x32-10 is the generator of Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC 2011),
the one TensorFlow's and cuRAND's stateless ops use; this module reproduces its published known-answer
vectors (see the tests). Keys are derived with NumPy's `SeedSequence`, whose hash is fixed by NumPy's
stream-compatibility policy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["derive_key", "philox4x32", "uniform_below"]

_MASK32 = np.uint64(0xFFFFFFFF)
_MULTIPLIERS = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))
_WEYL = (np.uint64(0x9E3779B9), np.uint64(0xBB67AE85))
_ROUNDS = 10


def derive_key(words: Sequence[int]) -> np.ndarray:
    """Hashes a sequence of non-negative integers into a Philox key.

    Args:
      words: non-negative integers (any size), e.g. (domain, split, seed, strength, digit, texture).

    Returns:
      The key, uint32 of shape (2,).

    Raises:
      ValueError: if a word is negative.
    """
    words = [int(w) for w in words]
    if any(w < 0 for w in words):
        raise ValueError(f"Argument `words` must be non-negative integers; received {words}.")
    return np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)


def philox4x32(counters: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Philox4x32-10 block function: one 128-bit random block per 128-bit counter.

    Args:
      counters: uint32 of shape (n, 4), the counters (word 0 first).
      key: uint32 of shape (2,).

    Returns:
      uint32 of shape (n, 4): the random blocks, a pure function of (counter, key) row by row.

    Raises:
      ValueError: if the shapes are wrong.
    """
    counters = np.asarray(counters)
    key = np.asarray(key)
    if counters.ndim != 2 or counters.shape[1] != 4:
        raise ValueError(f"Argument `counters` must have shape (n, 4); received {counters.shape}.")
    if key.shape != (2,):
        raise ValueError(f"Argument `key` must have shape (2,); received {key.shape}.")
    c0, c1, c2, c3 = (counters[:, j].astype(np.uint64) for j in range(4))
    k0, k1 = (np.uint64(int(k) & 0xFFFFFFFF) for k in key)
    for round_index in range(_ROUNDS):
        if round_index:
            k0 = (k0 + _WEYL[0]) & _MASK32
            k1 = (k1 + _WEYL[1]) & _MASK32
        p0 = c0 * _MULTIPLIERS[0]
        p1 = c2 * _MULTIPLIERS[1]
        c0, c1, c2, c3 = (
            (p1 >> np.uint64(32)) ^ c1 ^ k0,
            p1 & _MASK32,
            (p0 >> np.uint64(32)) ^ c3 ^ k1,
            p0 & _MASK32,
        )
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)


def uniform_below(bits: np.ndarray, bound: np.ndarray | int) -> np.ndarray:
    """Maps uniform 32-bit words to integers in [0, bound) by multiply-and-shift.

    The bias is below bound / 2**32 (under 1e-7 for the bounds used here), and the map is exact integer
    arithmetic, so it is the same on every platform.

    Args:
      bits: uint32 array of any shape.
      bound: positive integer(s) below 2**32, broadcastable to bits.

    Returns:
      int64 array of the broadcast shape, values in [0, bound).
    """
    product = np.asarray(bits, dtype=np.uint64) * np.asarray(bound, dtype=np.uint64)
    return (product >> np.uint64(32)).astype(np.int64)
