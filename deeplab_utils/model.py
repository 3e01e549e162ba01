"""The official DeepLab frozen graphs as differentiable TF2 models.

:class:`DeepLabModel` maps float images ``(batch, height, width, 3)`` in 0..255 to class probabilities
``(batch, height, width, classes)``, so that grid saliency (Hoyer et al., NeurIPS 2019, Sec. 3 and 5)
and every other method of ``grid_saliency_tf`` run on the Cityscapes and PASCAL VOC/COCO models of the
DeepLab model zoo unchanged. It does outside the graph what the exported graph does inside: pad to the
crop size with the mean pixel, scale to [-1, 1], and crop the prediction back to the image size.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from deeplab_utils.archive import extract_archive, is_archive
from deeplab_utils.frozen_graph import FrozenGraph
from deeplab_utils.graph_def import (
    DEFAULT_IMAGE_INPUT,
    DEFAULT_SEMANTIC_OUTPUT,
    canonical_tensor_name,
    load_graph_def,
)
from deeplab_utils.graph_tensors import find_float_input, find_logits, find_scaling

__all__ = ["DeepLabModel", "parity_report"]

# Probe image of the preprocessing check; small enough for any crop size, large enough to see padding.
_PROBE_SIZE = 7


class DeepLabModel:
    """A frozen DeepLab export (model-zoo tarball, its folder, or ``frozen_inference_graph.pb``) as a
    differentiable callable: ``model(images) -> probabilities``.

    The exported graph reads a uint8 ``ImageTensor`` of batch 1, which carries no gradient. The model
    instead feeds the float tensor the backbone reads (after padding and scaling; ``sub_7:0`` in
    MobileNetV2 exports) and returns the softmax of the logits that feed the graph's ArgMax
    (``ResizeBilinear_2:0``/``ResizeBilinear_3:0``). Both are found by reading the graph
    (:func:`~deeplab_utils.graph_tensors.find_float_input`, :func:`~deeplab_utils.graph_tensors.find_logits`)
    unless given. The padding value and the crop size are measured by running the graph's own
    preprocessing on probe images, and the model refuses to load if that preprocessing is anything but
    "pad to the crop size, then element-wise scaling" (e.g. a graph that resizes its input).

    Batching: official exports fix batch 1 only in ``ImageTensor`` and its preprocessing (the image is
    squeezed to 3-D, padded, and expanded back). The network behind the float input is batch-agnostic
    (convolutions, average pooling and resizes with sizes derived from the crop size), so the float
    input is replaced by a placeholder of unknown batch size and one call processes the whole batch.
    If TensorFlow's shape inference finds that an op behind the float input fixes the batch (a graph
    exported otherwise), the model falls back to one graph call per image (``tf.map_fn``); batches are
    accepted either way and `batching_note` says which path is used and why.

    Args:
        model: A model-zoo tarball (``.tar.gz``), its unpacked folder, a ``.pb`` file, or a
            ``tf.compat.v1.GraphDef``.
        input_name: The float input tensor; found in the graph when None.
        logits_name: The logits tensor; found in the graph when None.
        image_input_name: The uint8 image input of the export.
        semantic_output_name: The label output of the export.
        extract_dir: For a tarball: unpack it here in full (safely) and load from the folder. When None,
            the graph is read from the tarball in place.
        batch_images: Force (True) or forbid (False) batched graph calls; None decides from the graph.

    Raises:
        ValueError: If the graph cannot be found or parsed, the tensors cannot be found, the given names
            are not in the graph, or the preprocessing is not padding plus scaling.
        TypeError: If `model` is neither a path nor a ``GraphDef``.
    """

    def __init__(
        self,
        model: str | os.PathLike | tf.compat.v1.GraphDef,
        *,
        input_name: str | None = None,
        logits_name: str | None = None,
        image_input_name: str = DEFAULT_IMAGE_INPUT,
        semantic_output_name: str = DEFAULT_SEMANTIC_OUTPUT,
        extract_dir: str | os.PathLike | None = None,
        batch_images: bool | None = None,
    ) -> None:
        self.model = model
        self.image_input_name = canonical_tensor_name(image_input_name)
        self.semantic_output_name = canonical_tensor_name(semantic_output_name)
        self.extract_dir = extract_dir
        if isinstance(model, tf.compat.v1.GraphDef):
            graph_def, source = model, "GraphDef"
        elif isinstance(model, (str, os.PathLike)):
            path = model
            if extract_dir is not None and is_archive(model):
                path = extract_archive(model, extract_dir)
            graph_def, source = load_graph_def(path)
        else:
            raise TypeError(
                "Argument `model` must be a path (tarball, folder or .pb) or a tf.compat.v1.GraphDef; "
                f"received a {type(model).__name__}."
            )
        self.source = source
        self._graph = FrozenGraph(graph_def, source)
        index = self._graph.index
        for argument, name in (("image_input_name", self.image_input_name),
                               ("input_name", input_name), ("logits_name", logits_name)):
            if name is not None and not index.has(name):
                raise ValueError(f"Argument `{argument}` must name a tensor of the graph {source}; received "
                                 f"{name!r}.")

        self.found: dict[str, str] = {}
        if input_name is None:
            input_name = find_float_input(graph_def, self.image_input_name)
            self.found["input_name"] = "found in the graph"
        else:
            self.found["input_name"] = "given"
        self.input_name = canonical_tensor_name(input_name)
        if logits_name is None:
            logits_name = find_logits(graph_def, self.semantic_output_name, self.input_name)
            self.found["logits_name"] = "found in the graph"
        else:
            self.found["logits_name"] = "given"
        self.logits_name = canonical_tensor_name(logits_name)
        self.scaled_from, self.scaling = find_scaling(graph_def, self.input_name)
        self.crop_size, self.pad_value = self._probe_preprocessing()

        self._batched = False
        self.batching_note = ""
        self._build_forward(batch_images)
        self._probabilities_fn = tf.function(self._probabilities, reduce_retracing=True, autograph=False)
        self._logits_fn = tf.function(self._cropped_logits, reduce_retracing=True, autograph=False)
        self._reference_fn = None

    # Loading
    def _probe_preprocessing(self) -> tuple[tuple[int, int], tuple[float, float, float]]:
        """Runs ImageTensor -> (root, float input) on probe images; returns (crop_size, pad_value)."""
        try:
            preprocess = self._graph.function([self.image_input_name], [self.scaled_from, self.input_name])
            root, _ = preprocess(tf.zeros([1, 1, 1, 3], tf.uint8))
        except (tf.errors.OpError, ValueError, TypeError) as error:
            raise ValueError(
                f"Argument `input_name` must be computed from {self.image_input_name!r} by the graph's "
                f"preprocessing; received {self.input_name!r}, which cannot be run from it: "
                f"{str(error).splitlines()[0]}."
            ) from error
        if root.shape.rank != 4 or root.shape[0] != 1 or root.shape[-1] != 3:
            raise ValueError(
                f"Argument `input_name` must be an image tensor (1, crop_height, crop_width, 3); received "
                f"{self.input_name!r}, which has shape {tuple(root.shape)} for one 1x1 image."
            )
        crop = (int(root.shape[1]), int(root.shape[2]))
        # The bottom-right pixel is padding unless the crop is 1x1 (then no padding ever happens).
        pad_value = tuple(float(v) for v in root[0, -1, -1, :]) if crop != (1, 1) else (127.5,) * 3
        height, width = min(_PROBE_SIZE, crop[0]), min(_PROBE_SIZE, crop[1])
        probe = np.random.default_rng(0).integers(0, 256, size=(1, height, width, 3), dtype=np.uint8)
        root, scaled = preprocess(tf.constant(probe))
        expected_root = self._pad(tf.constant(probe, tf.float32), crop, pad_value)
        if (tuple(root.shape) != tuple(expected_root.shape)
                or not np.allclose(root.numpy(), expected_root.numpy(), rtol=0, atol=1e-4)):
            raise ValueError(
                f"Argument `model` must pad its input to the crop size and scale it; received a graph whose "
                f"preprocessing up to {self.scaled_from!r} is not 'pad to the crop size {crop[0]}x{crop[1]} "
                "with a constant' (does the export resize its input?): pass input_name to feed another tensor."
            )
        expected = self._scale(expected_root)
        if not np.allclose(scaled.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6):
            raise ValueError(
                f"Argument `model` must scale its input element-wise; received a graph where replaying the "
                f"scaling {self.describe_scaling()} does not reproduce {self.input_name!r}."
            )
        return crop, pad_value

    def _build_forward(self, batch_images: bool | None) -> None:
        shape = (*self.crop_size, 3)
        reason = ""
        if batch_images is not False:
            try:
                function, output_shape = self._graph.batched_function(self.input_name, self.logits_name, shape)
            except (ValueError, TypeError, tf.errors.OpError) as error:
                function, output_shape = None, None
                reason = f"importing the graph with an unknown batch size failed ({str(error).splitlines()[0]})"
            if output_shape is not None and (output_shape.rank != 4 or output_shape[0] is not None):
                reason = (f"shape inference fixes the logits {self.logits_name!r} to "
                          f"{output_shape} for an input of unknown batch size")
                function = None
            if function is not None:
                self._forward = function
                self._batched = True
                self.num_classes = output_shape[-1]
                self.batching_note = "one graph call per batch (the network is batch-agnostic)"
            elif batch_images:
                raise ValueError(f"Argument `batch_images` must not be True for a graph that cannot be "
                                 f"batched; received True, but {reason}.")
        if not self._batched:
            self._forward = self._graph.function([self.input_name], [self.logits_name])
            output_shape = self._forward.structured_outputs[0].shape
            self.num_classes = output_shape[-1]
            self.batching_note = ("one graph call per image: "
                                  + (reason or "batch_images=False"))
        spatial = tuple(output_shape[1:3]) if output_shape.rank == 4 else (None, None)
        if None not in spatial and spatial != tuple(self.crop_size):
            raise ValueError(
                f"Argument `logits_name` must name logits at the crop size {self.crop_size[0]}x"
                f"{self.crop_size[1]} of the float input (after the graph's final resize); received "
                f"{self.logits_name!r}, which are {spatial[0]}x{spatial[1]}."
            )
        if self.num_classes is None:
            logits = self._graph_logits(tf.zeros([1, *shape]))
            self.num_classes = logits.shape[-1]
        self.num_classes = int(self.num_classes)

    # The computation
    @staticmethod
    def _pad(images: tf.Tensor, crop_size: Sequence[int], pad_value: Sequence[float]) -> tf.Tensor:
        """Pads bottom and right to the crop size as the export does: ``pad(x - mean, 0) + mean``."""
        shape = tf.shape(images)
        paddings = [[0, 0], [0, crop_size[0] - shape[1]], [0, crop_size[1] - shape[2]], [0, 0]]
        mean = tf.constant(pad_value, images.dtype)
        padded = tf.pad(images - mean, paddings) + mean
        padded.set_shape([images.shape[0], crop_size[0], crop_size[1], images.shape[-1]])
        return padded

    def _scale(self, padded: tf.Tensor) -> tf.Tensor:
        for step in self.scaling:
            padded = step.apply(padded)
        return padded

    def preprocess(self, images: Any) -> tf.Tensor:
        """What the graph does before its float input: pad to the crop size with the mean pixel, scale.

        Args:
            images: float images, shape ``(batch, height, width, 3)``, values in 0..255, height and width
                at most the crop size.

        Returns:
            float32 tensor ``(batch, crop_height, crop_width, 3)``, the value of the float input.
        """
        images = self._check_images(images)
        return self._scale(self._pad(images, self.crop_size, self.pad_value))

    def _graph_logits(self, inputs: tf.Tensor) -> tf.Tensor:
        if self._batched:
            return self._forward(inputs)
        spec = tf.TensorSpec([*self.crop_size, None], tf.float32)
        return tf.map_fn(lambda image: self._forward(image[None])[0][0], inputs, fn_output_signature=spec)

    def graph_logits(self, inputs: Any) -> tf.Tensor:
        """The pruned graph itself: float input -> logits, both at the crop size.

        Args:
            inputs: float32 ``(batch, crop_height, crop_width, 3)``, already padded and scaled.

        Returns:
            float32 ``(batch, crop_height, crop_width, classes)``.
        """
        return self._graph_logits(tf.convert_to_tensor(inputs, tf.float32))

    def _cropped_logits(self, images: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(images)
        tf.debugging.assert_less_equal(
            shape[1:3], tf.constant(self.crop_size, tf.int32),
            message=f"images must not be larger than the crop size {self.crop_size}")
        logits = self._graph_logits(self._scale(self._pad(images, self.crop_size, self.pad_value)))
        return logits[:, : shape[1], : shape[2], :]

    def _probabilities(self, images: tf.Tensor) -> tf.Tensor:
        return tf.nn.softmax(self._cropped_logits(images), axis=-1)

    def _check_images(self, images: Any) -> tf.Tensor:
        if isinstance(images, np.ndarray) and images.dtype == np.uint8:
            images = images.astype(np.float32)
        images = tf.convert_to_tensor(images)
        if not images.dtype.is_floating and not images.dtype.is_integer:
            raise TypeError(f"Argument `images` must be a float or integer tensor; received dtype "
                            f"{images.dtype.name}.")
        images = tf.cast(images, tf.float32)
        if images.shape.rank is not None and (images.shape.rank != 4 or images.shape[-1] not in (3, None)):
            raise ValueError(
                f"Argument `images` must have shape (batch, height, width, 3); received {tuple(images.shape)}."
            )
        height, width = (images.shape[1], images.shape[2]) if images.shape.rank == 4 else (None, None)
        if (height is not None and height > self.crop_size[0]) or (width is not None and width > self.crop_size[1]):
            raise ValueError(
                f"Argument `images` must be at most the crop size {self.crop_size[0]}x{self.crop_size[1]} the graph "
                f"was exported with (resize with deeplab_utils.fit_to_crop); received {height}x{width}, which "
                f"is larger than the crop size {self.crop_size[0]}x{self.crop_size[1]}."
            )
        return images

    def __call__(self, images: Any) -> tf.Tensor:
        """Class probabilities at the input resolution.

        Args:
            images: float (or uint8) images, shape ``(batch, height, width, 3)``, values in 0..255,
                height and width at most `crop_size`.

        Returns:
            float32 tensor ``(batch, height, width, classes)``: the softmax of the graph's logits.

        Raises:
            ValueError: If the images are not ``(batch, height, width, 3)`` or larger than the crop size.
        """
        return self._probabilities_fn(self._check_images(images))

    def logits(self, images: Any) -> tf.Tensor:
        """The graph's logits (before its ArgMax) at the input resolution, ``(batch, height, width,
        classes)``; same arguments as :meth:`__call__`."""
        return self._logits_fn(self._check_images(images))

    def predict_labels(self, images: Any) -> tf.Tensor:
        """The predicted labels, ``(batch, height, width)`` int32: the argmax of :meth:`logits`."""
        return tf.argmax(self.logits(images), axis=-1, output_type=tf.int32)

    def semantic_predictions(self, image: Any) -> np.ndarray:
        """The graph's own ``SemanticPredictions`` for one uint8 image (the reference for parity checks).

        Args:
            image: uint8 array ``(height, width, 3)`` or ``(1, height, width, 3)``.

        Returns:
            int array ``(height, width)``.

        Raises:
            ValueError: If the graph has no semantic output or the image is not uint8 RGB.
        """
        image = np.asarray(image)
        if image.ndim == 3:
            image = image[None]
        if image.dtype != np.uint8 or image.ndim != 4 or image.shape[0] != 1 or image.shape[-1] != 3:
            raise ValueError(
                f"Argument `image` must be one uint8 image (height, width, 3); received {image.dtype} "
                f"{image.shape}."
            )
        if not self._graph.index.has(self.semantic_output_name):
            raise ValueError(f"Argument `semantic_output_name` must name an output of the graph {self.source}; "
                             f"received {self.semantic_output_name!r}.")
        if self._reference_fn is None:
            self._reference_fn = self._graph.function([self.image_input_name], [self.semantic_output_name])
        return np.asarray(self._reference_fn(tf.constant(image))[0])[0]

    # Reporting
    def describe_scaling(self) -> str:
        """The preprocessing chain as text, e.g. ``Mul(0.007843, x) -> Sub(x, 1.0)``."""
        return " -> ".join(step.describe() for step in self.scaling) or "none"

    def describe(self) -> str:
        """A multi-line summary of what was found in the graph."""
        pad = (f"{self.pad_value[0]:g}" if len(set(self.pad_value)) == 1
               else "(" + ", ".join(f"{v:g}" for v in self.pad_value) + ")")
        return "\n".join([
            f"graph: {self.source}",
            f"float input: {self.input_name} ({self.found['input_name']})",
            f"logits: {self.logits_name} ({self.found['logits_name']})",
            f"crop size: {self.crop_size[0]}x{self.crop_size[1]}, padded with {pad}",
            f"scaling: {self.describe_scaling()} (from {self.scaled_from})",
            f"classes: {self.num_classes}",
            f"batching: {self.batching_note}",
        ])

    @property
    def batched(self) -> bool:
        """Whether one graph call processes a whole batch."""
        return self._batched

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (the model as given, names as resolved)."""
        return {
            "model": self.model if not isinstance(self.model, tf.compat.v1.GraphDef) else "GraphDef",
            "input_name": self.input_name,
            "logits_name": self.logits_name,
            "image_input_name": self.image_input_name,
            "semantic_output_name": self.semantic_output_name,
            "extract_dir": None if self.extract_dir is None else str(self.extract_dir),
            "batch_images": self._batched,
        }


def parity_report(model: DeepLabModel, images: Sequence[np.ndarray]) -> dict[str, Any]:
    """Compares ``model.predict_labels`` with the graph's own ``SemanticPredictions``, pixel for pixel.

    The diagnostic that the wrapper (padding, scaling, cropping done outside the graph) reproduces the
    export: run it on a few of your images after loading a real tarball.

    Args:
        model: The model to check.
        images: uint8 images ``(height, width, 3)``, each at most the crop size.

    Returns:
        ``{"pixels": total, "mismatches": count, "equal": bool, "per_image": [count, ...]}``.

    Raises:
        ValueError: If an image is not uint8 ``(height, width, 3)`` or is larger than the crop size.
    """
    per_image = []
    total = 0
    for image in images:
        image = np.asarray(image)
        reference = model.semantic_predictions(image)
        labels = np.asarray(model.predict_labels(image[None]))[0]
        per_image.append(int(np.count_nonzero(labels != reference)))
        total += reference.size
    return {"pixels": total, "mismatches": sum(per_image), "equal": sum(per_image) == 0,
            "per_image": per_image}
