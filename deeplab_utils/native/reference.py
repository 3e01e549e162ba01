"""The frozen export itself as the reference of the native model: run op by op, compared pixel by pixel.

:class:`ExportRunner` feeds a uint8 image to ``ImageTensor`` of a frozen DeepLab export in a TF1 session
and fetches the logits at the crop size (the ArgMax's input) and ``SemanticPredictions``. By default
TensorFlow's graph optimiser (grappler) is switched off, so the export's ops run as written; with
``optimize=True`` they run as :class:`~deeplab_utils.DeepLabModel` runs them, after grappler has
rewritten the graph (it fuses batch norm into the convolutions of a frozen graph, which moves float32
results by a few units in the last place, amplified through the network).

:func:`parity_report` compares a native model in parity mode with the export on a list of images.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from deeplab_utils.graph_def import (
    DEFAULT_IMAGE_INPUT,
    DEFAULT_SEMANTIC_OUTPUT,
    canonical_tensor_name,
    strip_output_shapes,
)
from deeplab_utils.graph_tensors import find_logits

__all__ = ["ExportRunner", "parity_report"]

tf1 = tf.compat.v1


class ExportRunner:
    """A frozen export in its own TF1 session: one uint8 image in, (logits, labels) out.

    Args:
        graph_def: The frozen graph.
        optimize: Let grappler rewrite the graph (as a ``tf.function`` would); off by default.
        logits_name: The logits feeding the ArgMax; found in the graph when None.
        image_input: The uint8 input.
        semantic_output: The label output.

    Raises:
        ValueError: If the logits cannot be found.
    """

    def __init__(self, graph_def: tf1.GraphDef, *, optimize: bool = False, logits_name: str | None = None,
                 image_input: str = DEFAULT_IMAGE_INPUT,
                 semantic_output: str = DEFAULT_SEMANTIC_OUTPUT) -> None:
        self.optimize = optimize
        self.logits_name = canonical_tensor_name(
            logits_name or find_logits(graph_def, semantic_output))
        self._graph = tf.Graph()
        with self._graph.as_default():
            tf1.import_graph_def(strip_output_shapes(graph_def), name="")
        config = tf1.ConfigProto()
        config.graph_options.rewrite_options.disable_meta_optimizer = not optimize
        self._session = tf1.Session(graph=self._graph, config=config)
        self._fetches = [self._graph.get_tensor_by_name(self.logits_name),
                         self._graph.get_tensor_by_name(canonical_tensor_name(semantic_output))]
        self._input = self._graph.get_tensor_by_name(canonical_tensor_name(image_input))

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Runs one image.

        Args:
            image: uint8 ``(height, width, 3)``, at most the crop size.

        Returns:
            ``(logits, labels)``: float32 ``(crop_height, crop_width, classes)`` and int
            ``(height, width)``.
        """
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"Argument `image` must be uint8 (height, width, 3); received {image.dtype} "
                             f"{image.shape}.")
        logits, labels = self._session.run(self._fetches, {self._input: image[None]})
        return logits[0], labels[0]

    def close(self) -> None:
        """Frees the session."""
        self._session.close()

    def __enter__(self) -> "ExportRunner":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def parity_report(model: Any, runner: ExportRunner, images: Sequence[np.ndarray]) -> dict[str, Any]:
    """Compares a native model (parity mode, ``output="logits"``) with the export, image by image.

    Args:
        model: A :class:`~deeplab_utils.native.DeepLabV3Plus` returning logits.
        runner: The export.
        images: uint8 images ``(height, width, 3)``, each at most the crop size.

    Returns:
        ``{"max_logit_difference", "max_logit", "pixels", "mismatches", "per_image"}``: the largest
        absolute difference of the logits over the images' pixels, the largest absolute logit, and the
        pixels whose argmax differs from ``SemanticPredictions`` (total and per image).
    """
    worst, largest, pixels, per_image = 0.0, 0.0, 0, []
    for image in images:
        image = np.asarray(image, np.uint8)
        height, width = image.shape[:2]
        reference, labels = runner(image)
        logits = np.asarray(model(image[None].astype(np.float32)))[0]
        reference = reference[:height, :width]
        worst = max(worst, float(np.abs(logits - reference).max()))
        largest = max(largest, float(np.abs(reference).max()))
        per_image.append(int(np.count_nonzero(logits.argmax(-1) != labels)))
        pixels += labels.size
    return {"max_logit_difference": worst, "max_logit": largest, "pixels": pixels,
            "mismatches": sum(per_image), "per_image": per_image}
