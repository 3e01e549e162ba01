"""Atomic file writes: a reader never sees a half-written file, an interruption leaves the old one."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from typing import Any

__all__ = ["write_bytes_atomic", "write_json_atomic", "write_text_atomic"]


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path``, then renames it over ``path`` (mode 0644).

    Raises:
        OSError: If the folder is not writable.
    """
    folder = os.path.dirname(os.fspath(path)) or "."
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """:func:`write_bytes_atomic` for UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, content: Mapping[str, Any]) -> None:
    """Writes JSON (no NaN allowed) atomically."""
    write_text_atomic(path, json.dumps(content, indent=1, allow_nan=False) + "\n")
