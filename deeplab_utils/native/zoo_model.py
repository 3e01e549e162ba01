"""A model-zoo download as the native Keras model, with what the explanation pipeline reads of a model.

:class:`NativeZooModel` loads a tarball, folder, checkpoint prefix or frozen graph into a
:class:`~deeplab_utils.native.DeepLabV3Plus` in parity mode and answers like
:class:`~deeplab_utils.DeepLabModel`: ``model(images)`` gives the probabilities, ``crop_size``,
``num_classes``, ``source`` and :meth:`describe` say what was loaded, and :meth:`semantic_predictions`
is the export's own ``SemanticPredictions`` (the frozen graph run op by op), the reference of the
pipeline's parity check. ``deeplab-explain --backend=keras`` explains with it.
"""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from deeplab_utils.native.loader import build_deeplab
from deeplab_utils.native.model import DeepLabV3Plus
from deeplab_utils.native.reference import ExportRunner
from deeplab_utils.native.sources import open_official

__all__ = ["NativeZooModel"]


class NativeZooModel:
    """The native model of a zoo download (parity mode), with the interface of ``DeepLabModel``.

    Args:
        path: A zoo tarball, its folder, a checkpoint prefix or ``frozen_inference_graph.pb``.
        prefer: Where the weights come from when both are there: ``"checkpoint"`` or ``"frozen_graph"``.
        crop_size: The export's crop size, needed when `path` has no frozen graph.
        dtype: Dtype policy of the model.

    Attributes:
        model: The :class:`DeepLabV3Plus` (probabilities), a Keras model.
        source: Where the weights came from.
        input_name, logits_name: The model's input and logits layers (``"images"``, ``"logits"``).
        crop_size: ``(height, width)`` the export pads to.
        num_classes: Number of classes.

    Raises:
        ValueError: If `path` cannot be loaded (see :func:`~deeplab_utils.native.load_deeplab`).
    """

    input_name = "images"
    logits_name = "logits"

    def __init__(self, path: str | os.PathLike, *, prefer: str = "checkpoint", crop_size: Any = None,
                 dtype: Any = None) -> None:
        variables, self._graph_def = open_official(path, prefer=prefer)
        self.model: DeepLabV3Plus = build_deeplab(variables, self._graph_def, mode="parity",
                                                  crop_size=crop_size, dtype=dtype)
        self._logits_model = keras.Model(self.model.inputs, self.model.get_layer(self.logits_name).output)
        self._runner: ExportRunner | None = None
        self.source = self.model.load_report.source
        self.crop_size = self.model.crop_size
        self.num_classes = self.model.num_classes

    def __call__(self, images: Any) -> tf.Tensor:
        """Class probabilities ``(batch, height, width, classes)`` of float images ``(batch, height,
        width, 3)`` in 0..255, at most the crop size."""
        return self.model(tf.cast(images, tf.float32))

    def logits(self, images: Any) -> tf.Tensor:
        """The logits at the input resolution, ``(batch, height, width, classes)``."""
        return self._logits_model(tf.cast(images, tf.float32))

    def predict_labels(self, images: Any) -> tf.Tensor:
        """The predicted labels, int32 ``(batch, height, width)``."""
        return tf.argmax(self.logits(images), axis=-1, output_type=tf.int32)

    def semantic_predictions(self, image: Any) -> np.ndarray:
        """The export's own ``SemanticPredictions`` of one uint8 image ``(height, width, 3)``, the frozen
        graph run op by op.

        Raises:
            ValueError: If the download has no frozen graph to compare with.
        """
        if self._graph_def is None:
            raise ValueError("Argument `image` can be compared only with the SemanticPredictions of a frozen "
                             f"graph; received one for {self.source}, which comes without: turn the parity "
                             "check off.")
        if self._runner is None:
            self._runner = ExportRunner(self._graph_def)
        return self._runner(np.asarray(image))[1]

    def describe(self) -> str:
        """A multi-line summary of the model and where its weights came from."""
        model, report = self.model, self.model.load_report
        width = f", depth multiplier {model.depth_multiplier:g}" if model.backbone == "mobilenet_v2" else ""
        rates = "/".join(str(rate) for rate in model.atrous_rates) or "none"
        return "\n".join([
            f"native Keras model: {model.backbone}{width}, output stride {model.output_stride}, ASPP rates "
            f"{rates}, decoder {'yes' if model.decoder else 'no'}",
            f"weights: {report.source} ({report.assigned} variables, {report.parameters:,} values)",
            f"crop size: {self.crop_size[0]}x{self.crop_size[1]} (parity mode: padded with 127.5)",
            f"classes: {self.num_classes}",
        ])
