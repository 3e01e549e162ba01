"""The segmentation model of a Cityscapes run: a DeepLab export, or any Keras model, checked on use.

Accepted: a DeepLab model-zoo tarball, its folder or ``frozen_inference_graph.pb`` (e.g.
``deeplabv3_mnv2_cityscapes_train_2018_02_05``; loaded as the native Keras DeepLab of
:mod:`deeplab_utils.native`, or with ``backend="graph"`` as :class:`deeplab_utils.model.DeepLabModel`), a
saved Keras model (``.keras``/``.h5``) or an in-memory callable: anything mapping float images
``(batch, height, width, 3)`` in 0..255 to the 19 Cityscapes train-id probabilities (or logits, with
``model_output="logits"``) at the input resolution.

:func:`predict` checks every output before it is used: its shape (a 21-class PASCAL model is refused
at the first image, before anything is written) and, for declared probabilities, that they are
probabilities.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from deeplab_utils.labels import CITYSCAPES, LabelSet
from deeplab_utils.model import DeepLabModel
from grid_saliency_tf.scoring import class_probabilities
from grid_saliency_tf.validation import check_model_output_kind

__all__ = ["BACKENDS", "KERAS_SUFFIXES", "load_model", "predict"]

KERAS_SUFFIXES = (".keras", ".h5")
BACKENDS = ("keras", "graph")


def load_model(model: str | os.PathLike | Callable[..., Any],
               backend: str = "keras") -> tuple[Callable[..., Any], str]:
    """The model to explain and its name (for the run's settings).

    Args:
        model: A path (zoo tarball, its folder, ``.pb``, ``.keras``/``.h5``) or a callable model.
        backend: For a zoo download: ``"keras"``, the native Keras DeepLab loaded from its checkpoint in
            parity mode (:func:`deeplab_utils.native.load_deeplab`), or ``"graph"``, the frozen graph
            (:class:`~deeplab_utils.model.DeepLabModel`).

    Returns:
        ``(model, name)``: the callable and the file name (``type name`` for a callable), with
        `` (keras)`` appended for the native model, so that a run is not resumed with the other backend.

    Raises:
        ValueError: If the path does not exist or cannot be loaded.
        TypeError: If `model` is neither a path nor callable.
    """
    if backend not in BACKENDS:
        raise ValueError(f"Argument `backend` must be one of {BACKENDS}; received {backend!r}.")
    if callable(model) and not isinstance(model, (str, os.PathLike)):
        return model, getattr(model, "name", type(model).__name__)
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"Argument `model` must be a path or a callable model; received {type(model).__name__}.")
    path = Path(model)
    if not path.exists():
        raise ValueError(f"Argument `model` must be an existing file or folder; received {str(path)!r}.")
    if path.suffix in KERAS_SUFFIXES:
        import keras  # a DeepLab export does not need Keras loading

        try:
            return keras.saving.load_model(path, compile=False), path.name
        except (ValueError, TypeError, OSError) as error:
            raise ValueError(f"Argument `model` must be a loadable Keras model; received {str(path)!r} "
                             f"({' '.join(str(error).split())[:200]}).") from None
    if backend == "keras":
        from deeplab_utils.native import load_deeplab

        return load_deeplab(path), f"{path.name} (keras)"
    return DeepLabModel(path), path.name


def predict(model: Callable[..., Any], image: np.ndarray, model_output: str = "probabilities", *,
            label_set: LabelSet = CITYSCAPES) -> np.ndarray:
    """Class probabilities of one image, checked to be probabilities of `label_set` (Cityscapes train ids).

    Args:
        model: See the module docstring.
        image: uint8 ``(height, width, 3)``.
        model_output: ``"probabilities"`` or ``"logits"`` (a softmax is applied).
        label_set: The classes the model must predict (PASCAL VOC for the COCO comparison).

    Returns:
        float32 ``(height, width, classes)`` (19 for Cityscapes).

    Raises:
        ValueError: If the output is not ``(1, height, width, classes)``, or declared probabilities are not
            non-negative values summing to 1 over the classes.
    """
    check_model_output_kind(model_output)
    height, width = image.shape[:2]
    output = class_probabilities(model, tf.constant(image[None], tf.float32), model_output)
    shape = tuple(output.shape)
    classes = label_set.num_classes
    kind = "Cityscapes train-id" if label_set is CITYSCAPES else f"{label_set.name} class"
    if shape != (1, height, width, classes):
        raise ValueError(f"Argument `model` must map a (1, {height}, {width}, 3) image to the {classes} {kind} "
                         f"probabilities (1, {height}, {width}, {classes}); received an output of shape {shape}.")
    probabilities = output.numpy()[0]
    if not np.isfinite(probabilities).all():
        raise ValueError("Argument `model` must return finite values; received NaN or infinity.")
    sums = probabilities.sum(axis=-1)
    if model_output == "probabilities" and (probabilities.min() < -1e-4 or np.abs(sums - 1.0).max() > 1e-3):
        raise ValueError(f"Argument `model` must return probabilities (non-negative, summing to 1 over the classes) "
                         f"when model_output='probabilities'; received sums in [{sums.min():.3g}, {sums.max():.3g}]; "
                         f"pass model_output='logits' for a model returning logits.")
    return probabilities
