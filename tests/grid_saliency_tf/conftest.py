"""Fixtures for the engine tests: tiny analytic models from grid_saliency_tf.testing."""

import keras
import pytest

from grid_saliency_tf.testing import PixelwiseModel, RegionTextureModel, functional


@pytest.fixture
def texture_model() -> keras.Model:
    """Class 1 everywhere depends only on the texture of the top-left quadrant."""
    return functional(RegionTextureModel())


@pytest.fixture
def pixel_model() -> keras.Model:
    """Per-pixel model: needs no context."""
    return functional(PixelwiseModel())
