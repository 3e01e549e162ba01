"""Writing result files atomically, so an interrupted run never leaves a half-written file behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_bytes_atomic", "write_json_atomic", "read_json", "json_compatible"]


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Writes `data` to a temporary file beside `path`, then renames it onto `path`.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def _to_json(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write a {type(value).__name__} to JSON")


def json_compatible(content: Any) -> Any:
    """`content` as it reads back from JSON (tuples become lists, NumPy values Python ones)."""
    return json.loads(json.dumps(content, default=_to_json, allow_nan=True))


def write_json_atomic(path: str | os.PathLike, content: Any) -> Path:
    """Writes `content` (NumPy values allowed) as indented JSON, atomically."""
    text = json.dumps(content, indent=2, default=_to_json, allow_nan=True)
    return write_bytes_atomic(path, (text + "\n").encode("utf-8"))


def read_json(path: str | os.PathLike) -> Any:
    """Reads a JSON file; None if it does not exist.

    Raises:
        ValueError: If the file is not valid JSON.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{str(path)!r} is not valid JSON: {error}") from error
