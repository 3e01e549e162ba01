"""Tests of make_dataset, the toy dataset streamed as a tf.data.Dataset."""

import numpy as np
import pytest
import tensorflow as tf

from toy_benchmark import (
    DatasetVariant,
    DataSources,
    SampleGenerator,
    element_spec,
    make_dataset,
    resolve_sources,
)

VARIANT = DatasetVariant("strong", bias_digit=4, bias_texture=13, seed=7, num_samples=120)


def _collect(dataset):
    """All elements of a dataset (batched or not) as one dict of numpy arrays, in order."""
    elements = list(dataset.as_numpy_iterator())
    if elements[0]["image"].ndim == 3:
        return {name: np.stack([e[name] for e in elements]) for name in elements[0]}
    return {name: np.concatenate([e[name] for e in elements]) for name in elements[0]}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_element_structure_matches_the_contract():
    dataset = make_dataset(VARIANT)
    assert dataset.element_spec == element_spec()
    assert dataset.cardinality().numpy() == 120
    element = next(iter(dataset))
    assert element["image"].shape == (64, 64, 1) and element["image"].dtype == tf.float32
    assert element["label"].shape == (64, 64) and element["label"].dtype == tf.int32
    for name in ("r_gt", "context", "c_bias"):
        assert element[name].shape == (64, 64) and element[name].dtype == tf.float32
    assert element["index"].dtype == tf.int64 and element["biased"].dtype == tf.bool
    batched = make_dataset(VARIANT, batch_size=32)
    assert batched.element_spec["image"].shape.as_list() == [None, 64, 64, 1]
    assert make_dataset(VARIANT, batch_size=32, drop_remainder=True).element_spec[
        "image"
    ].shape.as_list() == [32, 64, 64, 1]


def test_values_and_masks_are_consistent():
    data = _collect(make_dataset(VARIANT, batch_size=50))
    raw = SampleGenerator(VARIANT).generate(np.arange(120))
    np.testing.assert_array_equal(data["image"][..., 0], raw["image"].astype(np.float32) / 255)
    assert data["image"].min() >= 0 and data["image"].max() <= 1
    np.testing.assert_array_equal(data["label"], raw["label"])
    np.testing.assert_array_equal(data["r_gt"], (data["label"] != 10).astype(np.float32))
    np.testing.assert_array_equal(data["context"], 1 - data["r_gt"])
    np.testing.assert_array_equal(data["index"], np.arange(120))
    np.testing.assert_array_equal(data["digit"], np.arange(120) % 10)
    np.testing.assert_array_equal(data["biased"], data["digit"] == 4)
    # C_bias marks exactly the half whose texture is the bias texture, and only for biased samples.
    for j in range(120):
        expected = np.zeros((64, 64), np.float32)
        if data["top_texture"][j] == 13 and data["biased"][j]:
            expected[:32] = 1
        if data["bottom_texture"][j] == 13 and data["biased"][j]:
            expected[32:] = 1
        np.testing.assert_array_equal(data["c_bias"][j], expected)
    assert data["c_bias"][data["biased"]].sum(axis=(1, 2)).min() == 32 * 64


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_samples_do_not_depend_on_batch_size(batch_size):
    _assert_same(_collect(make_dataset(VARIANT)), _collect(make_dataset(VARIANT, batch_size=batch_size)))


def test_shards_and_parallelism_do_not_change_samples():
    whole = _collect(make_dataset(VARIANT, batch_size=16, num_parallel_calls=1))
    parts = [
        _collect(make_dataset(VARIANT, num_shards=3, shard_index=k, num_parallel_calls=4)) for k in range(3)
    ]
    joined = {name: np.concatenate([p[name] for p in parts]) for name in whole}
    _assert_same(whole, joined)
    assert [len(p["index"]) for p in parts] == [40, 40, 40]


def test_shuffling_reorders_but_never_changes_a_sample():
    ordered = _collect(make_dataset(VARIANT))
    shuffled = _collect(make_dataset(VARIANT, shuffle_seed=3, batch_size=10))
    order = shuffled["index"]
    assert sorted(order) == list(range(120)) and list(order) != list(range(120))
    _assert_same({k: v[order] for k, v in ordered.items()}, shuffled)
    again = _collect(make_dataset(VARIANT, shuffle_seed=3, batch_size=10))
    np.testing.assert_array_equal(again["index"], order)  # reproducible for a seed


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="Argument `batch_size` must be None or a positive integer; received 0."):
        make_dataset(VARIANT, batch_size=0)
    with pytest.raises(ValueError, match="Argument `shard_index` must be in 0..2; received 3."):
        make_dataset(VARIANT, num_shards=3, shard_index=3)
    with pytest.raises(ValueError, match="bias_texture"):
        make_dataset(DatasetVariant("weak", 1, 99, num_samples=10))
    with pytest.raises(FileNotFoundError, match="texture_dir"):
        make_dataset(VARIANT, textures="/nonexistent/folder")


def test_sources_resolved_once_give_the_same_samples():
    sources = resolve_sources()  # procedural textures, bundled digits
    assert isinstance(sources, DataSources)
    assert resolve_sources(sources=sources) is sources
    assert sources.identity() == {"textures": {"count": 25, "fingerprint": sources.textures.fingerprint},
                                  "mnist": {"fingerprint": sources.mnist.fingerprint}}
    _assert_same(_collect(make_dataset(VARIANT, sources=sources, batch_size=40)),
                 _collect(make_dataset(VARIANT, batch_size=40)))
    with pytest.raises(ValueError, match="Argument `sources` must be given alone"):
        make_dataset(VARIANT, sources=sources, textures="/some/folder")
    with pytest.raises(TypeError, match=r"Argument `sources` must be a DataSources \(.*\); received tuple"):
        make_dataset(VARIANT, sources=(sources.textures, sources.mnist))
