"""Input handling shared by every explainer: arrays, tensors and ``tf.data`` pipelines.

Every explainer takes ``explain(images, requests)`` with images as a NumPy array or tensor of shape
``(batch, height, width, channels)`` and a :class:`~grid_saliency_tf.requests.Requests`, or a
``tf.data.Dataset`` (and no requests) whose elements carry one request per image: a tuple
``(images, request_masks, class_ids)`` or a dict with the keys ``"images"``, ``"request_masks"``
and ``"class_ids"``, batched or not.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, TypeVar

import numpy as np
import tensorflow as tf

from grid_saliency_tf.requests import Requests, validate_images

__all__ = ["iterate_request_batches", "split_requests", "concatenate_results"]

_DICT_KEYS = ("images", "request_masks", "class_ids")
ResultT = TypeVar("ResultT")


def _split_element(element: Any) -> tuple[Any, Any, Any]:
    if isinstance(element, dict):
        missing = [key for key in _DICT_KEYS if key not in element]
        if missing:
            raise ValueError(
                f"Argument `images` (a tf.data.Dataset) must yield dicts with keys {_DICT_KEYS}; "
                f"received an element without {missing}."
            )
        return tuple(element[key] for key in _DICT_KEYS)  # type: ignore[return-value]
    if isinstance(element, (tuple, list)) and len(element) == 3:
        return tuple(element)  # type: ignore[return-value]
    raise ValueError(
        "Argument `images` (a tf.data.Dataset) must yield (images, request_masks, class_ids) tuples "
        f"or dicts with keys {_DICT_KEYS}; received an element of type {type(element).__name__}."
    )


def iterate_request_batches(images: Any, requests: Requests | None, *,
                            check_values: bool = True) -> Iterator[tuple[tf.Tensor, Requests]]:
    """Yields validated ``(images, requests)`` batches from any supported input.

    Args:
        images: Images ``(batch, height, width, channels)`` as an array or tensor, or a
            ``tf.data.Dataset`` as described in the module docstring.
        requests: The requests for array/tensor images; must be ``None`` for a dataset.
        check_values: Check that every pixel is finite (see :func:`validate_images`).

    Yields:
        ``(images, requests)`` with images a float32 tensor of shape ``(batch, height, width,
        channels)``.

    Raises:
        ValueError: If requests are missing for arrays, or given for a dataset.
    """
    if isinstance(images, tf.data.Dataset):
        if requests is not None:
            raise ValueError(
                "Argument `requests` must be None when `images` is a tf.data.Dataset (its elements carry "
                f"the requests); received {type(requests).__name__}."
            )
        for element in images:
            batch_images, masks, class_ids = _split_element(element)
            batch_images = tf.convert_to_tensor(batch_images)
            if batch_images.shape.rank == 3:
                batch_images, masks, class_ids = batch_images[None], np.asarray(masks)[None], np.asarray(class_ids)[None]
            requests_of_batch = Requests.one_per_image(masks, class_ids)
            yield validate_images(batch_images, check_values=check_values), requests_of_batch
        return
    if requests is None:
        raise ValueError("Argument `requests` is required when `images` is an array or tensor; received None.")
    if not isinstance(requests, Requests):
        raise TypeError(f"Argument `requests` must be a Requests; received {type(requests).__name__}.")
    yield validate_images(images, check_values=check_values), requests


def split_requests(requests: Requests, size: int | None) -> Iterator[Requests]:
    """Splits requests into consecutive chunks of at most ``size`` requests (all of them for ``None``).

    Args:
        requests: ``n`` requests.
        size: The largest chunk, >= 1, or ``None``.

    Yields:
        :class:`Requests` of ``size`` requests each, the last one possibly smaller, in order.
    """
    if size is None or len(requests) <= size:
        yield requests
        return
    for start in range(0, len(requests), size):
        yield requests.subset(start, start + size)


def concatenate_results(results: list[ResultT]) -> ResultT:
    """Concatenates per-batch result dataclasses field by field along the request axis.

    Args:
        results: Non-empty list of results of one dataclass type whose fields are arrays ``(n, ...)``
            or ``None`` (a field not asked for, ``None`` in every result).

    Returns:
        One result of the same type.

    Raises:
        ValueError: If ``results`` is empty (a dataset without elements).
    """
    if not results:
        raise ValueError("Argument `images` (a tf.data.Dataset) must yield at least one element; received none.")
    if len(results) == 1:
        return results[0]
    first = results[0]
    fields = {}
    for field in dataclasses.fields(first):  # type: ignore[arg-type]
        values = [getattr(result, field.name) for result in results]
        fields[field.name] = None if values[0] is None else np.concatenate(values, axis=0)
    return type(first)(**fields)
