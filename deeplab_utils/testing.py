"""Test fixtures in the DeepLab export format: frozen graphs, model-zoo tarballs, synthetic scenes.

:func:`~deeplab_utils.fixture_graph.build_frozen_graph` builds a small random-weight graph with the
structure and names of an official export; :func:`write_model_tarball` freezes one and packs it with
its checkpoint in the model zoo's layout (``<name without date>/frozen_inference_graph.pb``,
``model.ckpt-<step>.{index,data-00000-of-00001}``); :func:`synthetic_scene` draws a test image. The
parity check of a model against its graph is a diagnostic of the model itself:
:func:`deeplab_utils.model.parity_report`.
"""

from __future__ import annotations

import os
import re
import tarfile
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from deeplab_utils.archive import FROZEN_GRAPH_NAME
from deeplab_utils import fixture_graph
from deeplab_utils.fixture_graph import BACKBONES, FixtureGraph, build_frozen_graph, synthetic_scene

__all__ = ["BACKBONES", "FixtureGraph", "build_frozen_graph", "synthetic_scene", "write_model_tarball"]

tf1 = tf.compat.v1
# The export's preprocessing as the fixtures build it; deeplab_utils.native builds on it.
_preprocess = fixture_graph._preprocess

_DATE_SUFFIX = re.compile(r"_\d{4}_\d{2}_\d{2}$")


def _write_checkpoint(variables: dict[str, np.ndarray], prefix: str, step: int) -> None:
    graph = tf.Graph()
    with graph.as_default():
        created = [tf1.get_variable(name, initializer=value) for name, value in variables.items()]
        saver = tf1.train.Saver(created)
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            saver.save(session, prefix, global_step=step, write_meta_graph=False, write_state=False)


def write_model_tarball(
    directory: str | os.PathLike,
    name: str = "deeplabv3_mnv2_cityscapes_train_2018_02_05",
    *,
    backbone: str | None = None,
    crop_size: Sequence[int] = (65, 65),
    num_classes: int | None = None,
    width: int = 8,
    seed: int = 0,
    checkpoint_step: int = 30000,
) -> Path:
    """Writes ``<directory>/<name>.tar.gz`` in the layout of a DeepLab model-zoo tarball.

    The tarball holds one folder, the name without its date (``deeplabv3_mnv2_cityscapes_train``), with
    ``frozen_inference_graph.pb`` and the checkpoint ``model.ckpt-<step>.index``/``.data-00000-of-00001``.

    Args:
        directory: Existing folder to write into.
        name: Tarball name without ``.tar.gz``.
        backbone: ``"mobilenet_v2"``/``"xception_65"``; when None, ``mnv2`` in `name` means MobileNetV2,
            anything else Xception-65 (as in the zoo's names).
        crop_size: See :func:`build_frozen_graph`.
        num_classes: When None, 19 if ``cityscapes`` is in `name`, else 21 (PASCAL VOC).
        width: See :func:`build_frozen_graph`.
        seed: See :func:`build_frozen_graph`.
        checkpoint_step: The global step in the checkpoint file names.

    Returns:
        The path of the tarball.

    Raises:
        ValueError: If the tarball exists already (it is never overwritten) or the graph arguments are
            invalid.
    """
    directory = Path(directory)
    tarball = directory / f"{name}.tar.gz"
    if tarball.exists():
        raise ValueError(f"Argument `name` must name a tarball that does not exist yet; received {name!r}: "
                         f"{str(tarball)!r} exists already.")
    backbone = backbone or ("mobilenet_v2" if "mnv2" in name else "xception_65")
    num_classes = num_classes or (19 if "cityscapes" in name else 21)
    fixture = build_frozen_graph(backbone, crop_size=crop_size, num_classes=num_classes, width=width,
                                 seed=seed)
    top = _DATE_SUFFIX.sub("", name)
    with tempfile.TemporaryDirectory(dir=directory) as staging:
        folder = Path(staging) / top
        folder.mkdir()
        (folder / FROZEN_GRAPH_NAME).write_bytes(fixture.graph_def.SerializeToString(deterministic=True))
        _write_checkpoint(fixture.variables, str(folder / "model.ckpt"), checkpoint_step)
        partial = Path(staging) / f"{name}.tar.gz"
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(folder, arcname=top)
        os.replace(partial, tarball)
    return tarball
