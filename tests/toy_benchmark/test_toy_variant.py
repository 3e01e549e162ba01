"""Tests of DatasetVariant, the configuration of one toy dataset (paper Sec. 4.1)."""

import numpy as np
import pytest

from toy_benchmark import DatasetVariant


def test_defaults_follow_the_paper_sizes():
    assert DatasetVariant().num_samples == 50_000
    assert DatasetVariant(split="test").num_samples == 1_000
    assert DatasetVariant(split="test", num_samples=20).num_samples == 20


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(strength="strong", bias_digit=10, bias_texture=0),
            ValueError,
            "Argument `bias_digit` must be in 0..9; received 10.",
        ),
        (dict(strength="weak", bias_digit=-1, bias_texture=0), ValueError, "bias_digit"),
        (
            dict(strength="none", bias_texture=3),
            ValueError,
            "Argument `bias_texture` must be None for strength 'none'; received 3.",
        ),
        (dict(strength="none", bias_digit=3), ValueError, "Argument `bias_digit` must be None"),
        (dict(strength="strong", bias_digit=1), ValueError, "Argument `bias_texture` must be given for strength 'strong'; received None."),
        (dict(strength="strong", bias_texture=1), ValueError, "Argument `bias_digit` must be given for strength 'strong'; received None."),
        (dict(strength="medium"), ValueError, "Argument `strength` must be one of"),
        (dict(split="val"), ValueError, "Argument `split` must be one of"),
        (dict(num_samples=0), ValueError, "Argument `num_samples` must be >= 1; received 0."),
        (dict(num_samples=-5), ValueError, "num_samples"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(seed=1.5), TypeError, "Argument `seed` must be an integer"),
        (dict(strength="weak", bias_digit=True, bias_texture=1), TypeError, "bias_digit"),
    ],
)
def test_bad_values_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        DatasetVariant(**kwargs)


def test_numpy_integers_are_accepted_and_config_round_trips():
    variant = DatasetVariant("strong", np.int64(2), np.int32(7), seed=np.int64(3), num_samples=100)
    assert variant.bias_digit == 2 and type(variant.bias_digit) is int
    assert DatasetVariant.from_config(variant.to_config()) == variant
    assert variant.name == "strong-d2-t7-seed3-train-n100"
    with pytest.raises(ValueError, match="must hold only DatasetVariant fields; received unknown keys"):
        DatasetVariant.from_config({**variant.to_config(), "colour": 1})


def test_content_config_ignores_the_seed_of_the_test_split_only():
    assert (
        DatasetVariant(split="test", seed=1).content_config()
        == DatasetVariant(split="test", seed=2).content_config()
    )
    assert DatasetVariant(seed=1).content_config() != DatasetVariant(seed=2).content_config()
