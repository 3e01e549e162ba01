"""Argument checks shared by every explainer, in one dialect.

Every check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong value) with
the message ``"Argument `name` must ...; received <value>."`` and returns the value converted to its
plain Python type, so that constructors store exactly what ``get_config`` returns.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "MODEL_OUTPUTS",
    "check_bool",
    "check_choice",
    "check_grid_fits",
    "check_int",
    "check_integer_array",
    "check_model",
    "check_model_output_kind",
    "check_number",
    "check_optional_int",
    "check_pair",
    "check_positive_int",
]

#: What a model may return: class probabilities (e.g. after a softmax) or unnormalised logits.
MODEL_OUTPUTS = ("probabilities", "logits")
#: The range of the int32 ids the compiled explanations index with.
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """Checks that ``value`` is one of ``choices``.

    Args:
        name: The argument's name, for the message.
        value: The value received.
        choices: The allowed values.

    Returns:
        ``value``.

    Raises:
        ValueError: If ``value`` is not one of ``choices``.
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"Argument `{name}` must be one of {tuple(choices)}; received {value!r}.")
    return value


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False) -> float:
    """Checks that ``value`` is a finite real number in ``[low, high]`` (``(low, high]`` if ``low_open``).

    Args:
        name: The argument's name, for the message.
        value: The value received.
        low, high: Optional bounds.
        low_open: Exclude ``low`` itself.

    Returns:
        ``value`` as a float.

    Raises:
        TypeError: If ``value`` is not a real number (a bool is not one).
        ValueError: If it is NaN, infinite or out of bounds.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Argument `{name}` must be a number; received {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"Argument `{name}` must be finite; received {value!r}.")
    if low is not None and (number <= low if low_open else number < low):
        raise ValueError(f"Argument `{name}` must be {'>' if low_open else '>='} {low}; received {value!r}.")
    if high is not None and number > high:
        raise ValueError(f"Argument `{name}` must be <= {high}; received {value!r}.")
    return number


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Checks that ``value`` is an integer (not a bool) in ``[low, high]``.

    Args:
        name: The argument's name, for the message.
        value: The value received.
        low, high: Optional bounds.

    Returns:
        ``value`` as an int.

    Raises:
        TypeError: If ``value`` is not an integer.
        ValueError: If it is out of bounds.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"Argument `{name}` must be an integer; received {value!r}.")
    if low is not None and value < low:
        raise ValueError(f"Argument `{name}` must be an integer >= {low}; received {value!r}.")
    if high is not None and value > high:
        raise ValueError(f"Argument `{name}` must be an integer <= {high}; received {value!r}.")
    return int(value)


def check_integer_array(name: str, value: Any, low: int | None = None, high: int | None = None) -> np.ndarray:
    """Checks that an array holds integers (an integer or bool dtype, or whole finite floats) in ``[low, high]``.

    Values are never truncated: ``1.5`` is refused, not read as 1, and a value outside ``[low, high]``
    (e.g. the int32 range, where ``2**32 + 1`` would wrap around to 1) is refused, not wrapped.

    Args:
        name: The argument's name, for the message.
        value: An array-like or a tensor (anything with ``.numpy()``).
        low, high: Optional bounds.

    Returns:
        The values as an int64 array of the same shape.

    Raises:
        TypeError: If the values are not integers.
        ValueError: If a value is out of bounds.
    """
    array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    if array.dtype.kind == "f":
        fractional = ~np.isfinite(array) | (array != np.round(array))
        if np.any(fractional):
            raise TypeError(f"Argument `{name}` must hold integers; received {array[fractional].flat[0]!r}.")
    elif array.dtype.kind not in "iub":
        raise TypeError(f"Argument `{name}` must hold integers; received dtype {array.dtype}.")
    outside = np.zeros(array.shape, bool)
    if low is not None:
        outside |= array < low
    if high is not None:
        outside |= array > high
    if np.any(outside):
        raise ValueError(f"Argument `{name}` must hold integers in [{low}, {high}]; received "
                         f"{int(array[outside].flat[0])}.")
    return array.astype(np.int64)


def check_positive_int(name: str, value: Any) -> int:
    """:func:`check_int` with ``low=1``."""
    return check_int(name, value, 1)


def check_optional_int(name: str, value: Any, low: int) -> int | None:
    """:func:`check_int` that also accepts ``None``."""
    return None if value is None else check_int(name, value, low)


def check_bool(name: str, value: Any) -> bool:
    """Checks that ``value`` is a bool (``0``/``1`` are refused: a setting is never guessed).

    Raises:
        TypeError: If ``value`` is not a bool.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Argument `{name}` must be a bool; received {value!r}.")
    return bool(value)


def check_pair(name: str, value: Any, check: Callable[[str, Any], Any], what: str) -> tuple[Any, Any]:
    """Checks a pair such as ``grid_shape`` or ``value_range``, each element with ``check``.

    Args:
        name: The argument's name; the elements are named ``name[0]`` and ``name[1]``.
        value: The value received, a tuple or list of two elements.
        check: ``check(element_name, element)`` returning the converted element.
        what: The expected form for the message, e.g. ``"(grid_height, grid_width)"``.

    Returns:
        The converted pair as a tuple.

    Raises:
        TypeError, ValueError: If ``value`` is not a pair, or from ``check``.
    """
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"Argument `{name}` must be a pair {what}; received {value!r}.")
    return check(f"{name}[0]", value[0]), check(f"{name}[1]", value[1])


def check_grid_fits(grid_shape: tuple[int, int], image_hw: tuple[int, int]) -> None:
    """Refuses a grid with more cells than the image has pixels along an axis.

    Such a grid cannot be pooled to (Sec. 3.2) and its cells would be upsampled to less than a pixel.

    Args:
        grid_shape: ``(grid_height, grid_width)``.
        image_hw: ``(height, width)`` of the images.

    Raises:
        ValueError: If ``grid_height > height`` or ``grid_width > width``.
    """
    if grid_shape[0] > image_hw[0] or grid_shape[1] > image_hw[1]:
        raise ValueError(
            f"Argument `grid_shape` must not have more cells than the images have pixels along an axis "
            f"(images of height and width {tuple(image_hw)}); received {tuple(grid_shape)}."
        )


def check_model_output_kind(model_output: Any) -> str:
    """Checks the ``model_output`` argument shared by all explainers (see :data:`MODEL_OUTPUTS`)."""
    return check_choice("model_output", model_output, MODEL_OUTPUTS)


def check_model(model: Any) -> Callable[..., Any]:
    """Checks that ``model`` can be called on a batch of images.

    Raises:
        TypeError: If ``model`` is not callable.
    """
    if not callable(model):
        raise TypeError(
            f"Argument `model` must be callable (a Keras model or a function); received {type(model).__name__}."
        )
    return model
