"""Fixture graphs in the official DeepLab export format, built once per test session."""

from pathlib import Path

import pytest

from deeplab_utils import DeepLabModel
from deeplab_utils.testing import FixtureGraph, build_frozen_graph, write_model_tarball


@pytest.fixture(scope="session")
def mnv2_graph() -> FixtureGraph:
    """MobileNetV2-style export, crop 65x65, 19 classes (logits ``ResizeBilinear_2:0``)."""
    return build_frozen_graph("mobilenet_v2", crop_size=(65, 65), num_classes=19, seed=1)


@pytest.fixture(scope="session")
def xception_graph() -> FixtureGraph:
    """Xception-65-style export with decoder, crop 65x65, 21 classes (logits ``ResizeBilinear_3:0``)."""
    return build_frozen_graph("xception_65", crop_size=(65, 65), num_classes=21, seed=2)


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("zoo")


@pytest.fixture(scope="session")
def mnv2_tarball(zoo_dir) -> Path:
    """``deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz`` in the zoo's layout."""
    return write_model_tarball(zoo_dir, "deeplabv3_mnv2_cityscapes_train_2018_02_05", seed=1)


@pytest.fixture(scope="session")
def mnv2_model(mnv2_tarball) -> DeepLabModel:
    return DeepLabModel(mnv2_tarball)


@pytest.fixture(scope="session")
def xception_model(xception_graph) -> DeepLabModel:
    return DeepLabModel(xception_graph.graph_def)
