"""Tests of the sample generator: bias rules (paper Sec. 4.1), composition, sizes, seeds, determinism."""

import numpy as np
import pytest

from toy_benchmark import (
    BACKGROUND_CLASS,
    DatasetVariant,
    SampleGenerator,
    TexturePool,
    digit_masks,
    load_mnist,
    procedural_textures,
)

CHI2_CRITICAL_24_DOF = 51.18  # chi-square critical value, 24 degrees of freedom, p = 0.001
CHI2_CRITICAL_23_DOF = 49.73  # the same for 23 degrees of freedom
NUM_TEXTURES = 25


def _generate(variant, **kwargs):
    return SampleGenerator(variant, **kwargs).generate(np.arange(variant.num_samples))


def _chi_square_uniform(values, categories):
    counts = np.bincount(values, minlength=categories)
    expected = len(values) / categories
    return ((counts - expected) ** 2 / expected).sum()


def _has_texture(batch, texture):
    return (
        (batch["fg_texture"] == texture)
        | (batch["top_texture"] == texture)
        | (batch["bottom_texture"] == texture)
    )


@pytest.mark.parametrize("strength", ["strong", "weak"])
def test_bias_digit_always_carries_the_bias_texture_in_exactly_one_half(strength):
    batch = _generate(DatasetVariant(strength, bias_digit=3, bias_texture=11, seed=5, num_samples=2000))
    biased = batch["digit"] == 3
    in_top, in_bottom = batch["top_texture"] == 11, batch["bottom_texture"] == 11
    assert (in_top[biased] ^ in_bottom[biased]).all()
    assert (batch["fg_texture"][biased] != 11).all()
    np.testing.assert_array_equal(batch["bias_half"][biased], np.where(in_top[biased], 1, 2))
    assert (batch["bias_half"][~biased] == 0).all()
    tops = in_top[biased].sum()
    assert abs(tops - biased.sum() / 2) < 4 * np.sqrt(biased.sum() / 4)  # top or bottom with probability 1/2
    # Foreground and other half of the biased digit: uniform over the other 24 textures.
    others = np.concatenate(
        [batch["fg_texture"][biased], np.where(in_top, batch["bottom_texture"], batch["top_texture"])[biased]]
    )
    others = others - (others > 11)
    assert _chi_square_uniform(others, NUM_TEXTURES - 1) < CHI2_CRITICAL_23_DOF


def test_strong_bias_texture_appears_if_and_only_if_the_digit_does():
    batch = _generate(DatasetVariant("strong", bias_digit=7, bias_texture=0, seed=1, num_samples=2000))
    np.testing.assert_array_equal(_has_texture(batch, 0), batch["digit"] == 7)


def test_weak_bias_texture_also_appears_with_other_digits_at_the_uniform_rate():
    batch = _generate(DatasetVariant("weak", bias_digit=2, bias_texture=4, seed=2, num_samples=2000))
    other = batch["digit"] != 2
    assert _has_texture(batch, 4)[batch["digit"] == 2].all()
    for slot in ("fg_texture", "top_texture", "bottom_texture"):
        values = batch[slot][other]
        assert _chi_square_uniform(values, NUM_TEXTURES) < CHI2_CRITICAL_24_DOF
        rate = (values == 4).mean()
        assert abs(rate - 1 / 25) < 4 * np.sqrt(1 / 25 * 24 / 25 / len(values))


def test_no_bias_draws_every_texture_uniformly():
    batch = _generate(DatasetVariant("none", seed=3, num_samples=2000))
    for slot in ("fg_texture", "top_texture", "bottom_texture"):
        assert _chi_square_uniform(batch[slot], NUM_TEXTURES) < CHI2_CRITICAL_24_DOF
        # and independently of the digit: texture ids of digit 0 vs the rest have the same mean
        assert abs(batch[slot][batch["digit"] == 0].mean() - 12) < 4 * 7.2 / np.sqrt(200)
    assert (batch["bias_half"] == 0).all()


def test_chi_square_check_detects_a_skewed_draw():
    """The statistical check above can fail: one texture drawn twice as often is caught."""
    skewed = np.concatenate([np.repeat(np.arange(25), 80), np.zeros(80, dtype=int)])
    assert _chi_square_uniform(skewed, NUM_TEXTURES) > CHI2_CRITICAL_24_DOF


@pytest.mark.parametrize("strength", ["none", "weak"])
def test_image_and_label_map_agree_with_the_composition(strength):
    """Rebuilds every sample by plain slicing from its metadata: digit mask, crops, halves."""
    variant = DatasetVariant(
        strength,
        bias_digit=None if strength == "none" else 5,
        bias_texture=None if strength == "none" else 9,
        seed=4,
        num_samples=300,
    )
    batch = _generate(variant)
    textures, mnist = procedural_textures(), load_mnist()
    masks = digit_masks(mnist.images("train")[batch["mnist_index"]])
    for j in range(variant.num_samples):
        fy, fx, ty, tx, by, bx = batch["crop_offsets"][j]
        foreground = textures.textures[batch["fg_texture"][j]][fy : fy + 64, fx : fx + 64]
        top = textures.textures[batch["top_texture"][j]][ty : ty + 32, tx : tx + 64]
        bottom = textures.textures[batch["bottom_texture"][j]][by : by + 32, bx : bx + 64]
        assert foreground.shape == (64, 64) and top.shape == bottom.shape == (32, 64)
        expected = np.where(masks[j], foreground, np.concatenate([top, bottom]))
        np.testing.assert_array_equal(batch["image"][j], expected)
        np.testing.assert_array_equal(batch["label"][j], np.where(masks[j], j % 10, BACKGROUND_CLASS))
        assert mnist.labels("train")[batch["mnist_index"][j]] == j % 10
    assert set(np.unique(batch["label"])) == set(range(11))  # 11 classes


def test_crops_differ_between_samples_with_the_same_texture():
    batch = _generate(DatasetVariant(num_samples=500))
    same = np.flatnonzero(batch["fg_texture"] == batch["fg_texture"][0])
    offsets = {tuple(batch["crop_offsets"][j, :2]) for j in same}
    assert len(offsets) == len(same) > 5


def test_test_set_has_100_per_digit_and_uses_each_test_digit_once():
    batch = _generate(DatasetVariant(split="test"))
    assert len(batch["index"]) == 1000
    np.testing.assert_array_equal(np.bincount(batch["digit"]), np.full(10, 100))
    assert len(np.unique(batch["mnist_index"])) == 1000  # the bundled test pool: 100 per class, each once
    np.testing.assert_array_equal(load_mnist().labels("test")[batch["mnist_index"]], batch["digit"])


def test_test_set_does_not_depend_on_the_training_seed():
    first = _generate(DatasetVariant("strong", 1, 3, seed=0, split="test", num_samples=200))
    second = _generate(DatasetVariant("strong", 1, 3, seed=12345, split="test", num_samples=200))
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


def test_different_seeds_give_different_training_sets():
    first = _generate(DatasetVariant("weak", 1, 3, seed=0, num_samples=200))
    second = _generate(DatasetVariant("weak", 1, 3, seed=1, num_samples=200))
    assert (first["mnist_index"] != second["mnist_index"]).mean() > 0.9
    assert (first["fg_texture"] != second["fg_texture"]).mean() > 0.8
    assert (first["image"] != second["image"]).any(axis=(1, 2)).all()


def test_variants_of_one_seed_show_the_same_digits():
    """Digits are keyed by (seed, split) only: the biased and unbiased test sets pair up image by image."""
    unbiased = _generate(DatasetVariant(split="test", num_samples=100))
    biased = _generate(DatasetVariant("strong", 4, 6, split="test", num_samples=100))
    np.testing.assert_array_equal(unbiased["mnist_index"], biased["mnist_index"])
    np.testing.assert_array_equal(unbiased["label"], biased["label"])


def test_class_pool_is_cycled_when_the_set_needs_more_digits():
    variant = DatasetVariant(num_samples=9020)
    pool_size = len(load_mnist().class_pools("train")[0])  # 901 zeros in the bundled training pool
    generator = SampleGenerator(variant)
    batch = generator.generate(np.array([0, 10 * pool_size, 10]))
    assert batch["mnist_index"][0] == batch["mnist_index"][1] != batch["mnist_index"][2]
    assert not np.array_equal(batch["image"][0], batch["image"][1])  # new textures and crops


def test_samples_do_not_depend_on_batching_or_order():
    variant = DatasetVariant("strong", 0, 24, seed=9, num_samples=500)
    generator = SampleGenerator(variant)
    whole = generator.generate(np.arange(500))
    order = np.random.default_rng(0).permutation(500)
    pieces = [generator.generate(chunk) for chunk in np.array_split(order, [1, 8, 100, 101, 333])]
    shuffled = {name: np.concatenate([p[name] for p in pieces]) for name in whole}
    for name in whole:
        np.testing.assert_array_equal(shuffled[name], whole[name][order])
    again = SampleGenerator(variant).generate(np.arange(500))  # a fresh generator: same samples
    for name in whole:
        np.testing.assert_array_equal(again[name], whole[name])


def test_small_user_pool_with_strong_bias():
    rng = np.random.default_rng(0)
    pool = TexturePool(
        tuple(rng.integers(0, 256, (64 + k, 80), dtype=np.uint8) for k in range(3)), ("a", "b", "c"), "test"
    )
    batch = _generate(DatasetVariant("strong", 1, 2, num_samples=300), textures=pool)
    np.testing.assert_array_equal(_has_texture(batch, 2), batch["digit"] == 1)
    assert set(np.unique(batch["fg_texture"])) == {0, 1}
    assert (batch["crop_offsets"][:, 0] <= pool.shapes[batch["fg_texture"], 0] - 64).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="Argument `bias_texture` must be a texture id in 0..24 .*; received 25."):
        SampleGenerator(DatasetVariant("weak", 1, 25, num_samples=10))
    generator = SampleGenerator(DatasetVariant(num_samples=10))
    with pytest.raises(ValueError, match=r"Argument `indices` must be in 0..9; received 0..10."):
        generator.generate(np.array([0, 10]))
    with pytest.raises(ValueError, match="Argument `indices` must be a 1-d integer array"):
        generator.generate(np.array([0.5]))
    with pytest.raises(TypeError, match="Argument `variant` must be a DatasetVariant"):
        SampleGenerator({"strength": "none"})


def test_a_smaller_set_is_a_prefix_of_a_larger_one():
    small = _generate(DatasetVariant("weak", 8, 1, seed=6, num_samples=40))
    large = SampleGenerator(DatasetVariant("weak", 8, 1, seed=6, num_samples=50_000)).generate(np.arange(40))
    for name in small:
        np.testing.assert_array_equal(small[name], large[name])
