"""Atomic file writes: a reader never sees a half-written file, an interruption leaves the old one.

`atomic_path` is the one primitive: it hands out a temporary path beside the target (same suffixes,
so writers that pick a format by extension, like Keras' ``.h5``/``.keras``, work), gives it a normal
file's mode (``0666`` less the umask; ``mkstemp`` would leave it private) and renames it over the
target only when the writer returns. The dataset writer (`storage`) keeps its own documented ``.tmp``
naming, which its resume logic relies on.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["atomic_path", "write_bytes_atomic", "write_json_atomic", "write_text_atomic"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[pathlib.Path]:
    """Yields a temporary path to write; on success it replaces ``path``, on failure it is removed.

    Raises:
        OSError: If the folder is not writable.
    """
    path = pathlib.Path(path)
    suffix = "".join(path.suffixes)
    stem = path.name[: -len(suffix) or None]
    handle, temporary = tempfile.mkstemp(prefix=f".tmp-{stem}-", suffix=suffix, dir=path.parent)
    os.close(handle)
    temporary_path = pathlib.Path(temporary)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temporary_path, 0o666 & ~umask)
        yield temporary_path
        os.replace(temporary_path, path)
    finally:
        temporary_path.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """:func:`write_bytes_atomic` for UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, content: Mapping[str, Any]) -> None:
    """Writes JSON (no NaN allowed) atomically."""
    write_text_atomic(path, json.dumps(content, indent=1, allow_nan=False) + "\n")
