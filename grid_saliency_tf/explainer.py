"""The one contract of every explanation method: the :class:`Explainer` base and its result.

Settings go to the constructor (and come back from ``get_config``); data goes to :meth:`Explainer.explain`,
a template that every method shares: it takes arrays, tensors or a ``tf.data.Dataset``, checks the
requests against the model's output shape (found by tracing the model, not by running it), splits the
requests into chunks of at most ``max_requests_per_call``, runs one compiled ``tf.function`` per chunk
(built once per explainer: equal chunk shapes never retrace), raises the first failed in-graph check
(:mod:`grid_saliency_tf.graph_checks`) and concatenates the chunks' results. A method only implements
:meth:`Explainer._explain_graph`, the graph from request images to its result tensors.

A method's scalar settings that do not change the graph's structure (:meth:`Explainer._runtime_settings`,
e.g. grid saliency's learning rate) enter the compiled function as float32 tensors, not as constants:
explainers that differ only in them can share one trace (``GridSaliencyOptimizer.with_parameters``).

Every result is an :class:`ExplanationResult`: its ``saliency`` field is the saliency at image resolution,
``(n, height, width)``, whatever the method; method-specific fields come with it.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import re
from typing import Any, Callable, ClassVar

import numpy as np
import tensorflow as tf

from grid_saliency_tf import graph_checks, scoring
from grid_saliency_tf.inputs import concatenate_results, iterate_request_batches, split_requests
from grid_saliency_tf.requests import Requests, check_requests_fit, validate_model_output
from grid_saliency_tf.validation import check_model, check_model_output_kind, check_optional_int

__all__ = ["DEFAULT_MAX_REQUESTS_PER_CALL", "Explainer", "ExplanationResult"]

#: Requests explained by one compiled call unless the constructor says otherwise. Memory grows linearly
#: with it: see ``docs/engine.md`` ("Memory budget") for the estimate per request.
DEFAULT_MAX_REQUESTS_PER_CALL = 64

_ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")
_GRAPH_NOISE = ("Graph execution error", "Detected at node", 'File "', "[[{{node", "in user code:")


@dataclasses.dataclass(frozen=True)
class ExplanationResult:
    """What every method returns for ``n`` requests (subclasses add method-specific fields).

    Attributes:
        saliency: float32 ``(n, height, width)``: the saliency of each request at image resolution,
            non-negative for every method with its default settings.
    """

    saliency: np.ndarray


class Explainer(abc.ABC):
    """Base of every explanation method: settings in the constructor, one compiled graph, one ``explain``.

    Subclasses set :attr:`result_type`, implement :meth:`_explain_graph`, extend :meth:`get_config`
    with their own settings, and may add checks through :meth:`_check_image_size` (Python, static
    shapes) and :meth:`_image_checks` (in the graph).

    Args:
        model: A Keras model or callable mapping float32 images ``(batch, height, width, channels)`` to
            a dense prediction ``(batch, height_out, width_out, classes)``; ``classes = 1`` is a sigmoid
            model, read as two classes (see :mod:`grid_saliency_tf.scoring`).
        model_output: ``"probabilities"`` if the model returns class probabilities, ``"logits"`` if a
            softmax (a sigmoid for one channel) must be applied. Checked on every call.
        max_requests_per_call: Requests explained by one compiled call; more are split into chunks of
            this size, with the same results as one call (requests are independent). ``None``: no limit.

    Raises:
        TypeError, ValueError: For an argument of the wrong type or out of range; the message names it.
    """

    #: The dataclass of :meth:`explain`'s result.
    result_type: ClassVar[type[ExplanationResult]] = ExplanationResult

    def __init__(self, model: Callable[..., Any], *, model_output: str = "probabilities",
                 max_requests_per_call: int | None = DEFAULT_MAX_REQUESTS_PER_CALL) -> None:
        self.model = check_model(model)
        self.model_output = check_model_output_kind(model_output)
        self.max_requests_per_call = check_optional_int("max_requests_per_call", max_requests_per_call, 1)
        self._output_fn = tf.function(self._score_output)
        self._output_shapes: dict[tuple[int | None, ...], tuple[int | None, int, int, int]] = {}
        # TensorFlow counts retracing per Python code object, which every explainer's bound method shares:
        # five explainers traced once each would read as one function traced five times. The partial
        # gives each explainer's compiled function its own count (a real retrace still warns).
        self._explain_fn = tf.function(functools.partial(self._checked_explain))

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument but the model, such that ``type(self)(model, **config)`` rebuilds it."""
        return {"model_output": self.model_output, "max_requests_per_call": self.max_requests_per_call}

    @property
    def tracing_count(self) -> int:
        """How often the compiled explanation has been traced (once per distinct input shape)."""
        return int(self._explain_fn.experimental_get_tracing_count())

    # ------------------------------------------------------------------ public API

    def explain(self, images: Any, requests: Requests | None = None) -> ExplanationResult:
        """Explains every request.

        Args:
            images: Images ``(batch, height, width, channels)`` as a NumPy array or tensor (in
                ``value_range`` for grid saliency) with ``requests``; or a ``tf.data.Dataset`` of
                ``(images, request_masks, class_ids)`` (one request per image, see
                :mod:`grid_saliency_tf.inputs`) with ``requests=None``.
            requests: ``n`` requests into ``images``, masks at the resolution of the model output.

        Returns:
            A :attr:`result_type` with ``n`` entries in request order; ``saliency`` is
            ``(n, height, width)``.

        Raises:
            TypeError, ValueError: For images with NaN/Inf or of the wrong rank; requests that do not fit
                the images or the model output; a model output that is not ``(batch, height, width,
                classes)``, holds NaN/Inf, or is not probabilities for ``model_output="probabilities"``;
                a model that fails on the images (one message, the model's own error at its end).
        """
        results = []
        for batch_images, batch_requests in iterate_request_batches(images, requests, check_values=False):
            output_shape = self._output_shape(batch_images.shape, batch_images)
            check_requests_fit(batch_requests, int(batch_images.shape[0]), output_shape)
            self._check_image_size((int(batch_images.shape[1]), int(batch_images.shape[2])))
            for chunk in split_requests(batch_requests, self.max_requests_per_call):
                tensors, checks = self._run_compiled(
                    self._explain_fn, batch_images.shape, batch_images, tf.constant(chunk.image_indices),
                    tf.constant(chunk.class_ids), tf.constant(chunk.masks), self._runtime_tensors())
                graph_checks.raise_failed_check({name: (ok.numpy(), message.numpy())
                                                 for name, (ok, message) in checks.items()})
                results.append(self.result_type(**{name: value.numpy() for name, value in tensors.items()}))
        return concatenate_results(results)

    def explain_tensors(self, images: tf.Tensor, image_indices: tf.Tensor, class_ids: tf.Tensor,
                        masks: tf.Tensor) -> dict[str, tf.Tensor]:
        """The graph-compatible core of :meth:`explain`, usable inside ``tf.function``, Keras or ``tf.data``.

        All requests run in one call (no chunking). Every check of :meth:`explain` that needs values
        becomes a ``tf.debugging`` assertion raising ``InvalidArgumentError`` with the same message;
        shape errors raise ``ValueError`` while tracing.

        Args:
            images: float32 ``(batch, height, width, channels)`` with static height, width and channels.
            image_indices: int32 ``(n,)``, indices into ``images``.
            class_ids: int32 ``(n,)``.
            masks: float32 ``(n, height_out, width_out)`` in {0, 1}, at the model output's resolution.

        Returns:
            Dict of tensors keyed like the fields of :attr:`result_type`.
        """
        images = tf.cast(images, tf.float32)
        image_indices, class_ids = tf.cast(image_indices, tf.int32), tf.cast(class_ids, tf.int32)
        masks = tf.cast(masks, tf.float32)
        output_shape = self._output_shape(tf.TensorShape([None, *images.shape[1:]]))
        if tuple(masks.shape[1:]) != tuple(output_shape[1:3]):
            raise ValueError(f"Argument `masks` must have the model output's spatial shape {tuple(output_shape[1:3])}; "
                             f"received {tuple(masks.shape[1:])}.")
        self._check_image_size((int(images.shape[1]), int(images.shape[2])))
        before = {**graph_checks.index_check(image_indices, tf.shape(images)[0]),
                  **graph_checks.class_id_check(class_ids, int(output_shape[3])),
                  **graph_checks.binary_check(masks)}
        with tf.control_dependencies(graph_checks.assert_checks(before)):
            image_indices = tf.identity(image_indices)
        results, checks = self._explain_fn(images, image_indices, class_ids, masks, self._runtime_tensors())
        with tf.control_dependencies(graph_checks.assert_checks(checks)):
            return {name: tf.identity(value) for name, value in results.items()}

    # ------------------------------------------------------------------ hooks for the methods

    @abc.abstractmethod
    def _explain_graph(self, request_images: tf.Tensor, class_ids: tf.Tensor, masks: tf.Tensor,
                       **settings: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """The method's graph, traced inside the compiled explanation.

        Args:
            request_images: float32 ``(n, height, width, channels)``, the image of every request.
            class_ids: int32 ``(n,)``.
            masks: float32 ``(n, height_out, width_out)`` request masks.
            **settings: float32 scalars, the values of :meth:`_runtime_settings` (none by default); the
                graph must read these settings from here, never from ``self``.

        Returns:
            ``(results, probabilities)``: the result tensors keyed like :attr:`result_type`'s fields,
            ``saliency`` ``(n, height, width)`` among them, and ``f(x)`` of the original request images
            ``(n, height_out, width_out, classes)``, a pass the method makes anyway, for the checks.
        """

    def _runtime_settings(self) -> dict[str, float]:
        """Scalar settings passed to the compiled graph as tensors (keyword arguments of :meth:`_explain_graph`).

        Explainers of one class and model whose settings differ only in these can share one compiled
        function; the default has none.
        """
        return {}

    def _score_output(self, images: tf.Tensor) -> tf.Tensor:
        """The output whose ``(height_out, width_out, classes)`` the requests index: ``f(x)``."""
        return scoring.class_probabilities(self.model, images, self.model_output)

    def _check_image_size(self, image_hw: tuple[int, int]) -> None:
        """Python checks of settings against the image size, before any compiled call."""

    def _image_checks(self, images: tf.Tensor) -> graph_checks.Checks:
        """In-graph checks of the images ``(batch, height, width, channels)``."""
        return graph_checks.finite_images_check(images)

    # ------------------------------------------------------------------ internals

    def _runtime_tensors(self) -> dict[str, tf.Tensor]:
        return {name: tf.constant(value, tf.float32) for name, value in self._runtime_settings().items()}

    def _checked_explain(self, images: tf.Tensor, image_indices: tf.Tensor, class_ids: tf.Tensor, masks: tf.Tensor,
                         settings: dict[str, tf.Tensor]) -> tuple[dict[str, tf.Tensor], graph_checks.Checks]:
        results, probabilities = self._explain_graph(tf.gather(images, image_indices), class_ids, masks, **settings)
        checks = {**self._image_checks(images), **graph_checks.output_checks(probabilities, self.model_output),
                  **graph_checks.results_check(results, self.model_output)}
        return results, checks

    def _output_shape(self, images_shape: tf.TensorShape,
                      images: tf.Tensor | None = None) -> tuple[int | None, int, int, int]:
        """The shape of :meth:`_score_output` on images of ``images_shape``, cached per image shape.

        It is read from a trace of the model, which costs no model pass. Only a model whose output shape
        is not static in a trace (its size depends on values) is run, once per image shape, on ``images``
        (eager images; inside a graph such a model is refused).
        """
        key = tuple(tf.TensorShape(images_shape).as_list())
        if key not in self._output_shapes:
            spec = tf.TensorSpec(images_shape, tf.float32)
            concrete = self._run_compiled(self._output_fn.get_concrete_function, images_shape, spec)
            shape = concrete.structured_outputs.shape
            if shape.rank == 4 and None in shape.as_list()[1:] and images is not None:
                shape = self._run_compiled(self._output_fn, images_shape, images).shape
            height, width, classes = validate_model_output(shape, key[0])
            self._output_shapes[key] = (key[0], height, width, classes)
        return self._output_shapes[key]

    def _run_compiled(self, function: Callable[..., Any], images_shape: tf.TensorShape, *args: Any) -> Any:
        """Calls (or traces) a compiled function; an error inside it becomes one message naming `model`."""
        try:
            return function(*args)
        except tf.errors.OpError as error:
            hint = ""
            if isinstance(error, tf.errors.ResourceExhaustedError):
                hint = f" Lower `max_requests_per_call` (now {self.max_requests_per_call})."
            message = self._model_error_message(_error_text(error.message), images_shape) + hint
            raise type(error)(error.node_def, error.op, message) from None
        except (ValueError, TypeError) as error:
            metadata = getattr(error, "ag_error_metadata", None)
            if metadata is None:
                raise
            raise type(error)(self._model_error_message(_error_text(metadata.cause_message), images_shape)) from None

    def _model_error_message(self, text: str, images_shape: tf.TensorShape) -> str:
        if text.startswith("Argument `"):
            return text
        return (f"Argument `model` must run on images of shape {tuple(images_shape)} inside the compiled "
                f"explanation (model_output={self.model_output!r}); received this error from it: {text}")


def _error_text(message: str) -> str:
    """The error itself from a TensorFlow or Keras message: no stack, no node names, no colour codes."""
    message = _ANSI_CODES.sub("", message).split("Arguments received by")[0]
    lines = []
    for line in message.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(_GRAPH_NOISE):
            continue
        lines.append(re.sub(r"\s*\[Op:[^\]]*\]$", "", stripped))
    text = " ".join(lines)
    return re.sub(r"^(\w+(Error|Exception)): ", "", text)
