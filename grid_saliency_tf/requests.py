"""Explanation requests: which prediction of which image is to be explained.

A request is the triple (image index, class id ``c``, binary request mask ``R``) of the grid saliency
paper (Hoyer et al., NeurIPS 2019, Sec. 3.1): the saliency explains the model's prediction for class
``c`` inside ``R``. Requests point at images by index, so that many requests can share one image
without the caller copying it; every method of this package takes a batch of requests.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from grid_saliency_tf.validation import INT32_MAX, INT32_MIN, check_integer_array

__all__ = [
    "Requests",
    "validate_images",
    "validate_requests",
    "validate_model_output",
    "check_requests_fit",
]


@dataclasses.dataclass(frozen=True)
class Requests:
    """A batch of ``n`` explanation requests.

    Attributes:
        image_indices: int32 array of shape ``(n,)``: the image each request refers to, an index into the
            batch of images passed alongside.
        class_ids: int32 array of shape ``(n,)``: the class channel ``c`` of the model output.
        masks: float32 array of shape ``(n, height_out, width_out)`` with values in {0, 1}: the request
            mask ``R`` at the resolution of the model output.
    """

    image_indices: np.ndarray
    class_ids: np.ndarray
    masks: np.ndarray

    def __post_init__(self) -> None:
        indices = _as_int_vector(self.image_indices, "image_indices")
        class_ids = _as_int_vector(self.class_ids, "class_ids")
        masks = _as_numpy(self.masks)
        if masks.ndim == 2:
            masks = masks[None]
        if masks.ndim != 3:
            raise ValueError(
                "Argument `masks` must have shape (n, height, width); received shape "
                f"{tuple(masks.shape)}."
            )
        if masks.dtype == bool:
            masks = masks.astype(np.float32)
        if not np.issubdtype(masks.dtype, np.number):
            raise TypeError(f"Argument `masks` must be numeric or boolean; received dtype {masks.dtype}.")
        masks = masks.astype(np.float32)
        if not np.all(np.isfinite(masks)) or not np.all((masks == 0) | (masks == 1)):
            bad = masks[~((masks == 0) | (masks == 1))]
            raise ValueError(
                "Argument `masks` must be binary (values 0 or 1); received a value "
                f"{float(bad.flat[0])!r}."
            )
        counts = {len(indices), len(class_ids), masks.shape[0]}
        if len(counts) != 1:
            raise ValueError(
                "Arguments `image_indices`, `class_ids` and `masks` must describe the same number of "
                f"requests; received {len(indices)}, {len(class_ids)} and {masks.shape[0]}."
            )
        if len(indices) == 0:
            raise ValueError("Argument `requests` must hold at least one request; received 0.")
        object.__setattr__(self, "image_indices", indices)
        object.__setattr__(self, "class_ids", class_ids)
        object.__setattr__(self, "masks", masks)

    def __len__(self) -> int:
        return int(self.image_indices.shape[0])

    @classmethod
    def one_per_image(cls, masks: Any, class_ids: Any) -> "Requests":
        """Builds requests where request ``i`` refers to image ``i``.

        Args:
            masks: Request masks, shape ``(n, height_out, width_out)``.
            class_ids: Class ids, shape ``(n,)`` or a scalar applied to every request.

        Returns:
            The requests.
        """
        masks = _as_numpy(masks)
        n = masks.shape[0] if masks.ndim == 3 else 1
        class_ids = np.broadcast_to(_as_numpy(class_ids), (n,))
        return cls(np.arange(n), class_ids, masks)

    def subset(self, start: int, stop: int) -> "Requests":
        """Requests ``start`` to ``stop - 1``, sharing this batch's validated arrays (no copy, no new check).

        Args:
            start: First request, ``0 <= start < n``.
            stop: One past the last request; clipped to ``n`` like a slice.

        Returns:
            The requests ``start:stop`` of this batch.
        """
        subset = object.__new__(Requests)
        for field in ("image_indices", "class_ids", "masks"):
            object.__setattr__(subset, field, getattr(self, field)[start:stop])
        return subset

    @property
    def empty(self) -> np.ndarray:
        """Boolean array of shape ``(n,)``: whether a request mask holds no pixel."""
        return self.masks.reshape(len(self), -1).sum(axis=1) == 0


def _as_numpy(value: Any) -> np.ndarray:
    if isinstance(value, tf.Tensor | tf.Variable):
        return value.numpy()
    return np.asarray(value)


def _as_int_vector(value: Any, name: str) -> np.ndarray:
    if _as_numpy(value).dtype == bool:
        raise TypeError(f"Argument `{name}` must hold integers; received dtype bool.")
    array = check_integer_array(name, value, INT32_MIN, INT32_MAX)
    if array.ndim == 0:
        array = array[None]
    if array.ndim != 1:
        raise ValueError(f"Argument `{name}` must be a vector of shape (n,); received shape {array.shape}.")
    return array.astype(np.int32)


def validate_images(images: Any, name: str = "images", *, check_values: bool = True) -> tf.Tensor:
    """Converts images to a float32 tensor and checks their shape and values.

    Args:
        images: Images of shape ``(batch, height, width, channels)``, a NumPy array or a tensor.
        name: The argument name used in error messages.
        check_values: Check here that every pixel is finite; the explainers pass False and check it
            inside their compiled call instead (:mod:`grid_saliency_tf.graph_checks`), saving a pass.

    Returns:
        A float32 tensor of shape ``(batch, height, width, channels)``.

    Raises:
        TypeError: If the images are not numeric.
        ValueError: If the images are not 4-D or hold NaN or Inf.
    """
    if isinstance(images, tf.data.Dataset):
        raise TypeError(f"Argument `{name}` must be an array or tensor here; received a tf.data.Dataset.")
    try:
        tensor = tf.convert_to_tensor(images)
    except (TypeError, ValueError) as error:
        raise TypeError(f"Argument `{name}` must be a numeric array; received {type(images).__name__}.") from error
    if not (tensor.dtype.is_floating or tensor.dtype.is_integer):
        raise TypeError(f"Argument `{name}` must be numeric; received dtype {tensor.dtype.name}.")
    tensor = tf.cast(tensor, tf.float32)
    if tensor.shape.rank != 4:
        raise ValueError(
            f"Argument `{name}` must have shape (batch, height, width, channels); received shape "
            f"{tuple(tensor.shape)}."
        )
    if tensor.shape[0] == 0:
        raise ValueError(f"Argument `{name}` must hold at least one image; received shape {tuple(tensor.shape)}.")
    if check_values:
        count = int(tf.reduce_sum(tf.cast(~tf.math.is_finite(tensor), tf.int32)))
        if count:
            raise ValueError(f"Argument `{name}` must hold finite values; received {count} NaN or Inf value(s).")
    return tensor


def validate_model_output(output_shape: tf.TensorShape, num_images: int | None) -> tuple[int, int, int]:
    """Checks that a model output is a dense prediction ``(batch, height, width, classes)``.

    Args:
        output_shape: The shape of the model output on ``num_images`` images.
        num_images: The batch size given to the model; ``None`` if unknown (inside a graph).

    Returns:
        ``(height_out, width_out, classes)``.

    Raises:
        ValueError: If the output is not of shape ``(num_images, height, width, classes)`` with known
            height, width and classes.
    """
    shape = tf.TensorShape(output_shape)
    if (shape.rank != 4 or None in shape.as_list()[1:]
            or (num_images is not None and shape[0] is not None and shape[0] != num_images)):
        raise ValueError(
            "Argument `model` must map images (batch, height, width, channels) to a dense prediction "
            f"(batch, height, width, classes); on {num_images} image(s) it returned shape {tuple(shape)}."
        )
    return int(shape[1]), int(shape[2]), int(shape[3])


def validate_requests(
    requests: Requests, num_images: int, output_hw: tuple[int, int], num_classes: int
) -> None:
    """Checks that requests fit a batch of images and the model output.

    Args:
        requests: The requests.
        num_images: Number of images in the batch the requests index into.
        output_hw: ``(height_out, width_out)`` of the model output.
        num_classes: Number of classes of the model output (2 for a single-channel model).

    Raises:
        TypeError: If ``requests`` is not a :class:`Requests`.
        ValueError: If an image index or class id is out of range, or the mask shape does not match
            the model output.
    """
    if not isinstance(requests, Requests):
        raise TypeError(f"Argument `requests` must be a Requests; received {type(requests).__name__}.")
    bad = requests.image_indices[(requests.image_indices < 0) | (requests.image_indices >= num_images)]
    if bad.size:
        raise ValueError(
            f"Argument `requests.image_indices` must lie in [0, {num_images}) for a batch of {num_images} "
            f"image(s); received {int(bad[0])}."
        )
    bad = requests.class_ids[(requests.class_ids < 0) | (requests.class_ids >= num_classes)]
    if bad.size:
        raise ValueError(
            f"Argument `requests.class_ids` must lie in [0, {num_classes}) for a model with {num_classes} "
            f"classes; received {int(bad[0])}."
        )
    if tuple(requests.masks.shape[1:]) != tuple(output_hw):
        raise ValueError(
            f"Argument `requests.masks` must have the model output's spatial shape {tuple(output_hw)}; "
            f"received {tuple(requests.masks.shape[1:])}."
        )


def check_requests_fit(requests: Requests, num_images: int, output_shape: tuple[Any, int, int, int]) -> None:
    """Checks that ``requests`` fit a batch of images and the model output on it (no model call).

    Args:
        requests: The requests.
        num_images: The batch size of the images.
        output_shape: ``(batch, height_out, width_out, classes)`` of the model output on the images.

    Raises:
        TypeError, ValueError: As :func:`validate_requests`.
    """
    validate_requests(requests, num_images, (int(output_shape[1]), int(output_shape[2])), int(output_shape[3]))
