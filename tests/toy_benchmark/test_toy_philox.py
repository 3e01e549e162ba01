"""Tests of the counter-based generator behind the toy dataset's determinism."""

import numpy as np
import pytest

from toy_benchmark.data.philox import derive_key, philox4x32, uniform_below


@pytest.mark.parametrize(
    "counter, key, expected",
    [
        # Known-answer vectors of Random123 (kat_vectors, philox4x32 with 10 rounds).
        ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
        ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
        (
            [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
            [0xA4093822, 0x299F31D0],
            [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
        ),
    ],
)
def test_philox_matches_published_known_answers(counter, key, expected):
    out = philox4x32(np.array([counter], dtype=np.uint32), np.array(key, dtype=np.uint32))
    np.testing.assert_array_equal(out[0], np.array(expected, dtype=np.uint32))


def test_philox_rows_are_independent_of_the_batch():
    key = derive_key([1, 2, 3])
    counters = np.random.default_rng(0).integers(0, 2**32, size=(50, 4), dtype=np.uint64).astype(np.uint32)
    whole = philox4x32(counters, key)
    one_by_one = np.concatenate([philox4x32(counters[j : j + 1], key) for j in range(50)])
    np.testing.assert_array_equal(whole, one_by_one)


def test_derive_key_separates_words_and_rejects_negatives():
    assert not np.array_equal(derive_key([1, 2]), derive_key([2, 1]))
    np.testing.assert_array_equal(derive_key([5, 7]), derive_key([5, 7]))
    with pytest.raises(ValueError, match="Argument `words` must be non-negative integers"):
        derive_key([1, -1])


def test_uniform_below_covers_the_range_uniformly():
    counters = np.zeros((20000, 4), dtype=np.uint32)
    counters[:, 0] = np.arange(20000)
    bits = philox4x32(counters, derive_key([9])).ravel()
    values = uniform_below(bits, 7)
    assert values.min() == 0 and values.max() == 6
    counts = np.bincount(values, minlength=7)
    expected = len(values) / 7
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 22.46  # chi-square critical value, 6 degrees of freedom, p = 0.001
    assert uniform_below(np.array([0xFFFFFFFF], dtype=np.uint32), 337)[0] == 336
