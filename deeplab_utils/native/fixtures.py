"""Full-size official DeepLab models as zoo downloads (frozen graph, checkpoint, tarball), for tests.

The fixtures of :mod:`deeplab_utils.testing` are miniatures. :func:`build_official_graph` builds the
zoo's architectures layer for layer (:mod:`deeplab_utils.native.official_graph`: every MobileNetV2
block or Xception-65 unit, the official scope and variable names, the real channel counts) at a
reduced image size, with random weights, and freezes it with the export's preprocessing and
``SemanticPredictions`` (from :mod:`deeplab_utils.testing`). :func:`write_official_tarball` packs it
with its checkpoint in the zoo's layout; :func:`official_variable_shapes` gives the names and shapes
of a checkpoint without drawing any weight.

Random weights would make activations grow or vanish over 65 layers. The moving statistics of every
batch norm are therefore the batch statistics of a few synthetic scenes (a first pass normalises with
them, with the variance raised by a tenth of the layer's mean variance so that channels constant on
those scenes are not amplified on others), and the logits biases cancel each class's mean, so the
predictions follow the image content.
"""

from __future__ import annotations

import os
import re
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from deeplab_utils.archive import FROZEN_GRAPH_NAME
from deeplab_utils.native.official_graph import GraphBuilder, network, scale_dimension
from deeplab_utils.testing import FixtureGraph, _preprocess, synthetic_scene

__all__ = ["build_official_graph", "official_settings", "official_variable_shapes", "write_checkpoint",
           "write_official_tarball"]

tf1 = tf.compat.v1
_DATE_SUFFIX = re.compile(r"_\d{4}_\d{2}_\d{2}$")


def official_settings(backbone: str, output_stride: int | None = None) -> dict:
    """The zoo's head for a backbone: ``{"output_stride", "atrous_rates", "decoder_output_stride"}``.

    MobileNetV2: output stride 8 unless given, no atrous branches, no decoder. Xception-65: output
    stride 16 unless given, rates 6/12/18 at 16 (doubled at 8), decoder at 4 (model_zoo.md).
    """
    if backbone == "mobilenet_v2":
        return {"output_stride": output_stride or 8, "atrous_rates": (), "decoder_output_stride": None}
    if backbone == "xception_65":
        stride = output_stride or 16
        return {"output_stride": stride, "atrous_rates": tuple(r * 16 // stride for r in (6, 12, 18)),
                "decoder_output_stride": 4}
    raise ValueError(f"Argument `backbone` must be 'mobilenet_v2' or 'xception_65'; received {backbone!r}.")


def _calibration_images(crop: tuple[int, int], seed: int) -> np.ndarray:
    """Scaled images the statistics are taken on: scenes at the crop size, smaller scenes padded with
    the mean pixel as the export pads them, and uniform noise. ``(7, crop_h, crop_w, 3)`` in [-1, 1]."""
    images = np.full((7, *crop, 3), 127.5, np.float32)
    for index in range(4):
        images[index] = synthetic_scene(crop[0], crop[1], seed=seed + index)
    for index in (4, 5):
        height, width = (crop[0] + 1) // 2 + index, crop[1] - index
        images[index, :height, :width] = synthetic_scene(height, width, seed=seed + index)
    images[6] = np.random.default_rng(seed).integers(0, 256, (*crop, 3))
    return (2.0 / 255.0) * images - 1.0


def _checked(backbone: str, depth_multiplier: float, output_stride: int | None, crop_size: Sequence[int],
             num_classes: int) -> tuple[dict, tuple[int, int]]:
    settings = official_settings(backbone, output_stride)
    stride = settings["output_stride"]
    crop = tuple(int(size) for size in crop_size)
    if stride not in (8, 16):
        raise ValueError(f"Argument `output_stride` must be 8 or 16; received {output_stride!r}.")
    if len(crop) != 2 or any(size < stride + 1 or (size - 1) % stride for size in crop):
        raise ValueError(f"Argument `crop_size` must be (height, width), each a multiple of {stride} plus 1; "
                         f"received {tuple(crop_size)!r}.")
    if num_classes < 2:
        raise ValueError(f"Argument `num_classes` must be at least 2; received {num_classes!r}.")
    if backbone == "xception_65" and depth_multiplier != 1.0:
        raise ValueError(f"Argument `depth_multiplier` must be 1.0 for xception_65; received "
                         f"{depth_multiplier!r}.")
    return settings, crop


def official_variable_shapes(backbone: str = "mobilenet_v2", **options: Any) -> dict[str, tuple[int, ...]]:
    """Names and shapes of every variable of the official model (what its checkpoint holds), read from
    the TF1 graph built without weights.

    Args:
        backbone: ``"mobilenet_v2"`` or ``"xception_65"``.
        **options: ``depth_multiplier``, ``output_stride``, ``crop_size``, ``num_classes`` as for
            :func:`build_official_graph`.

    Returns:
        Official variable name -> shape.
    """
    arguments = {"depth_multiplier": 1.0, "output_stride": None, "crop_size": (33, 33), "num_classes": 21,
                 **options}
    settings, crop = _checked(backbone, **arguments)
    with tf.Graph().as_default():
        builder = GraphBuilder(None, None, False, "FusedBatchNormV3")
        network(builder, tf1.placeholder(tf.float32, [1, *crop, 3]), backbone, crop, arguments["num_classes"],
                arguments["depth_multiplier"], settings)
    return builder.shapes


def build_official_graph(
    backbone: str = "mobilenet_v2",
    *,
    depth_multiplier: float = 1.0,
    output_stride: int | None = None,
    crop_size: Sequence[int] = (33, 33),
    num_classes: int = 21,
    seed: int = 0,
) -> FixtureGraph:
    """Builds the full official DeepLab graph with random weights and freezes it as the zoo exports.

    Args:
        backbone: ``"mobilenet_v2"`` or ``"xception_65"``.
        depth_multiplier: MobileNetV2 width (1.0 or 0.5 in the zoo); must be 1.0 for Xception.
        output_stride: 8 or 16; the zoo's default for the backbone when None (:func:`official_settings`).
        crop_size: ``(height, width)`` the export pads to, each a multiple of the output stride plus 1.
        num_classes: Classes of ``logits/semantic``.
        seed: Seed of the ``numpy.random.Generator`` drawing the weights.

    Returns:
        A :class:`~deeplab_utils.testing.FixtureGraph`; ``variables`` holds every variable by its
        official name (what the zoo's checkpoint holds).

    Raises:
        ValueError: For an unknown backbone, an output stride other than 8 or 16, a crop size the
            stride cannot divide, or fewer than 2 classes.
    """
    settings, crop = _checked(backbone, depth_multiplier, output_stride, crop_size, num_classes)
    rng = np.random.default_rng(seed)
    batch_norm_op = "FusedBatchNorm" if backbone == "mobilenet_v2" else "FusedBatchNormV3"
    values: dict[str, np.ndarray] = {}
    build = (backbone, crop, num_classes, depth_multiplier, settings)
    # Pass 1: the batch statistics of every batch norm and the class means of the logits.
    graph = tf.Graph()
    with graph.as_default():
        builder = GraphBuilder(rng, values, True, batch_norm_op)
        scaled = tf1.placeholder(tf.float32, [None, *crop, 3])
        logits, _ = network(builder, scaled, *build)
        config = tf1.ConfigProto()
        config.graph_options.rewrite_options.disable_meta_optimizer = True  # no constant folding of weights
        with tf1.Session(graph=graph, config=config) as session:
            moments, pre_bias = session.run([builder.moments, logits.op.inputs[0]],
                                            {scaled: _calibration_images(crop, seed)})
    for scope, (mean, variance) in moments.items():
        values[f"{scope}/moving_mean"], values[f"{scope}/moving_variance"] = mean, variance
    values["logits/semantic/biases"] = (-pre_bias.mean(axis=(0, 1, 2))
                                        + 0.05 * rng.standard_normal(num_classes)).astype(np.float32)
    # Pass 2: the export with those statistics, its variables as constants.
    graph = tf.Graph()
    with graph.as_default():
        builder = GraphBuilder(rng, values, False, batch_norm_op)
        image = tf1.placeholder(tf.uint8, [1, None, None, 3], name="ImageTensor")
        scaled, image_size = _preprocess(image, crop)
        logits, logits_stride = network(builder, scaled, *build)
        merged = tf1.image.resize_bilinear(logits, [scale_dimension(s, 1.0 / logits_stride) for s in crop],
                                           align_corners=True)
        full = tf1.image.resize_bilinear(merged, tf.shape(scaled)[1:3], align_corners=True)
        prediction = tf.slice(tf.argmax(full, 3), [0, 0, 0], tf.concat([[1], image_size], 0))
        tf.identity(prediction, name="SemanticPredictions")
    frozen = graph.as_graph_def(add_shapes=True)
    return FixtureGraph(frozen, scaled.name, full.name, crop, num_classes,
                        {name: values[name] for name in builder.shapes})


def write_checkpoint(variables: dict[str, np.ndarray], prefix: str | os.PathLike) -> str:
    """Writes a TF1 name-based checkpoint (``<prefix>.index``, ``<prefix>.data-00000-of-00001``).

    Args:
        variables: Official variable name -> value.
        prefix: The checkpoint prefix, e.g. ``folder/model.ckpt-30000``.

    Returns:
        The prefix, readable with ``tf.train.load_checkpoint``.
    """
    names = sorted(variables)
    tf.raw_ops.SaveV2(prefix=os.fspath(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(variables[name]) for name in names])
    return os.fspath(prefix)


def write_official_tarball(
    directory: str | os.PathLike,
    name: str,
    fixture: FixtureGraph,
    *,
    checkpoint: str | None = "model.ckpt-30000",
    frozen_graph: bool = True,
) -> Path:
    """Packs a fixture as a model-zoo tarball: ``<name>.tar.gz`` holding ``<name without date>/`` with
    ``frozen_inference_graph.pb`` and the checkpoint files.

    Args:
        directory: Existing folder to write into.
        name: Tarball name without ``.tar.gz``.
        fixture: From :func:`build_official_graph`.
        checkpoint: Checkpoint prefix inside the folder (None: no checkpoint).
        frozen_graph: Whether to include the frozen graph.

    Returns:
        The path of the tarball.

    Raises:
        ValueError: If the tarball exists (never overwritten) or it would hold nothing.
    """
    tarball = Path(directory) / f"{name}.tar.gz"
    if tarball.exists():
        raise ValueError(f"Argument `name` must not name an existing tarball; received {str(tarball)!r}.")
    if checkpoint is None and not frozen_graph:
        raise ValueError("Arguments `checkpoint` and `frozen_graph` must leave the tarball one of them to "
                         "hold; received checkpoint=None, frozen_graph=False.")
    folder_name = _DATE_SUFFIX.sub("", name)
    with tempfile.TemporaryDirectory(dir=directory) as staging:
        folder = Path(staging) / folder_name
        folder.mkdir()
        if frozen_graph:
            (folder / FROZEN_GRAPH_NAME).write_bytes(fixture.graph_def.SerializeToString(deterministic=True))
        if checkpoint is not None:
            write_checkpoint(fixture.variables, folder / checkpoint)
        partial = Path(staging) / tarball.name
        with tarfile.open(partial, "w:gz", compresslevel=1) as archive:
            archive.add(folder, arcname=folder_name)
        os.replace(partial, tarball)
    return tarball
