"""A Keras layer computing grid/context saliency masks inside a Keras or ``tf.data`` pipeline."""

from __future__ import annotations

import copy
from typing import Any

import keras
import tensorflow as tf

from grid_saliency_tf.optimizer import GridSaliencyOptimizer
from grid_saliency_tf.validation import check_choice

__all__ = ["GridSaliencyLayer"]


@keras.saving.register_keras_serializable(package="grid_saliency_tf")
class GridSaliencyLayer(keras.layers.Layer):
    """Wraps a segmentation model and a :class:`GridSaliencyOptimizer` configuration as a layer.

    ``layer(images, request_masks, class_ids)`` returns one saliency mask per image: request ``i``
    explains image ``i``. The layer has no trainable weights; the wrapped model is not trained by it.
    It works eagerly, inside ``tf.function`` and inside ``tf.data.Dataset.map``. Inputs may be
    symbolic, so they are checked inside the graph (:meth:`GridSaliencyOptimizer.explain_tensors`):
    non-finite images or images outside ``value_range``, class ids outside the model's classes,
    non-binary request masks and a model output with NaN/Inf (or not probabilities for
    ``model_output="probabilities"``) raise ``InvalidArgumentError`` with a message naming the argument.
    Use :meth:`GridSaliencyOptimizer.explain` for richer results and request chunking.

    Args:
        model: A Keras segmentation model, images ``(batch, height, width, channels)`` to
            ``(batch, height_out, width_out, classes)``; or its serialised config (from ``get_config``).
        optimizer_config: Keyword arguments of :class:`GridSaliencyOptimizer` (all optional).
        output: ``"masks"`` for full-resolution masks ``(batch, height, width)`` or ``"low_res_masks"``
            for ``(batch, grid_height, grid_width)``.
        **kwargs: Base ``keras.layers.Layer`` arguments (``name``, ``dtype``...).

    Call arguments:
        images: float32 ``(batch, height, width, channels)``.
        request_masks: ``(batch, height_out, width_out)`` in {0, 1}.
        class_ids: int ``(batch,)``.

    Returns:
        float32 ``(batch, height, width)`` masks, or ``(batch, grid_height, grid_width)``.
    """

    def __init__(self, model: keras.Model | dict[str, Any], optimizer_config: dict[str, Any] | None = None,
                 output: str = "masks", **kwargs: Any) -> None:
        kwargs.pop("trainable", None)  # the layer never trains; from_config passes the stored False
        super().__init__(trainable=False, **kwargs)
        if isinstance(model, dict):  # Keras consumes the dict it deserialises: keep the caller's intact
            model = keras.saving.deserialize_keras_object(copy.deepcopy(model))
        if not isinstance(model, keras.layers.Layer):
            raise TypeError(f"Argument `model` must be a Keras model or layer; received {type(model).__name__}.")
        check_choice("output", output, ("masks", "low_res_masks"))
        if optimizer_config is not None and not isinstance(optimizer_config, dict):
            raise TypeError(f"Argument `optimizer_config` must be a dict; received {type(optimizer_config).__name__}.")
        self.model = model
        self.output_kind = output
        self._optimizer = GridSaliencyOptimizer(model, **dict(optimizer_config or {}))
        self.optimizer_config = self._optimizer.get_config()

    def call(self, images: tf.Tensor, request_masks: tf.Tensor, class_ids: tf.Tensor) -> tf.Tensor:
        images = tf.cast(images, tf.float32)
        indices = tf.range(tf.shape(images)[0], dtype=tf.int32)
        result = self._optimizer.explain_tensors(images, indices, class_ids, request_masks)
        return result["saliency" if self.output_kind == "masks" else "low_res_masks"]

    def compute_output_shape(self, images_shape: Any, request_masks_shape: Any = None,
                             class_ids_shape: Any = None) -> tuple[Any, ...]:
        if self.output_kind == "low_res_masks":
            return (images_shape[0], *self._optimizer.grid_shape)
        return (images_shape[0], images_shape[1], images_shape[2])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({
            "model": keras.saving.serialize_keras_object(self.model),
            "optimizer_config": self.optimizer_config,
            "output": self.output_kind,
        })
        return config
