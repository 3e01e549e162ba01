"""Atomic file writes and strict JSON: a reader never sees a half-written file or a NaN in a record.

`atomic_path` is the one primitive. It hands out a temporary path beside the target whose name ends
with the target's suffixes (so writers that choose a format by extension work: ``np.save``,
``cv2.imwrite``, Keras' ``.keras``/``.weights.h5``), gives it a normal file's mode (``0666`` less the
umask), and when the writer returns flushes it to disk and renames it over the target with
``os.replace``. If the writer raises, or the user presses Ctrl-C, the temporary file is removed and
the old target is left as it was. Temporaries are named ``.tmp-<stem>-<random><suffixes>``; a process
killed outright (``SIGKILL``, power loss) can leave one behind, which `remove_stale_temporaries` deletes
(`RunFolder` does so when it takes its lock, when no writer can be using them).

JSON written here is stable (two-space indent, keys in insertion order, a final newline) and never
holds NaN or infinity: `to_json_value` converts NumPy values, tuples, paths and dataclasses and names
the entry that cannot be written. `read_json` refuses the ``NaN``/``Infinity`` constants Python's
parser would otherwise accept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

__all__ = [
    "TEMPORARY_PREFIX",
    "atomic_path",
    "copy_file",
    "read_json",
    "remove_stale_temporaries",
    "to_json_value",
    "write_bytes",
    "write_json",
    "write_text",
]

#: Name prefix of the temporary files of `atomic_path`.
TEMPORARY_PREFIX = ".tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_folder(folder: pathlib.Path) -> None:
    """Makes a rename in `folder` durable (best effort: not every file system allows it)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[pathlib.Path]:
    """Yields a temporary path to write; on success it replaces `path`, on any failure it is removed.

    The parent folder is created if needed. Usage::

        with atomic_path("model.keras") as temporary:
            model.save(temporary)

    Args:
        path: The file to write.

    Yields:
        A `pathlib.Path` beside `path` with the same suffixes; it exists (empty) when handed out.

    Raises:
        OSError: If the folder cannot be created or written.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffix)] or path.name
    handle, name = tempfile.mkstemp(prefix=f"{TEMPORARY_PREFIX}{stem}-", suffix=suffix, dir=path.parent)
    os.close(handle)
    temporary = pathlib.Path(name)
    try:
        os.chmod(temporary, 0o666 & ~_umask())
        yield temporary
        if temporary.is_file():
            with open(temporary, "rb") as stream:
                os.fsync(stream.fileno())
        os.replace(temporary, path)
        _fsync_folder(path.parent)
    finally:
        if temporary.is_dir() and not temporary.is_symlink():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> pathlib.Path:
    """Writes `data` to `path` atomically; returns the path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"Argument `data` must be bytes; received {type(data).__name__}.")
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return pathlib.Path(path)


def write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
    """Writes `text` as UTF-8 to `path` atomically; returns the path."""
    if not isinstance(text, str):
        raise TypeError(f"Argument `text` must be a str; received {type(text).__name__}.")
    return write_bytes(path, text.encode("utf-8"))


def to_json_value(value: Any, where: str = "content") -> Any:
    """`value` as plain JSON data: dicts with str keys, lists, str, int, finite float, bool, None.

    Tuples and NumPy arrays become lists, NumPy scalars Python numbers, paths strings, dataclass
    instances dicts of their fields. Nothing is changed silently: a value that JSON cannot hold exactly
    is refused.

    Args:
        value: The data.
        where: How error messages name `value` (entries are appended: ``content.a[2]``).

    Returns:
        The converted data; ``json.loads(json.dumps(result)) == result``.

    Raises:
        ValueError: For NaN or infinity (JSON has neither).
        TypeError: For a non-str dict key or a value of another type.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.ndarray):
        return to_json_value(value.tolist(), where)
    if isinstance(value, np.generic):
        return to_json_value(value.item(), where)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Argument `{where}` must be a finite number (JSON has no NaN or infinity); "
                             f"received {value}.")
        return float(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"Argument `{where}` must have str keys (JSON turns others into strings); "
                                f"received the key {key!r}.")
            result[key] = to_json_value(item, f"{where}.{key}")
        return result
    if isinstance(value, (list, tuple)):
        return [to_json_value(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise TypeError(f"Argument `{where}` must be JSON data (dict, list, tuple, str, number, bool, None, "
                    f"NumPy value, path or dataclass); received a {type(value).__name__}.")


def write_json(path: str | os.PathLike, content: Any) -> pathlib.Path:
    """Writes `content` as stable JSON (indent 2, insertion order, final newline) atomically.

    Args:
        path: The file to write.
        content: Data accepted by `to_json_value` (NumPy values, tuples, dataclasses, ...).

    Returns:
        The path.

    Raises:
        ValueError: If `content` holds NaN or infinity (nothing is written then).
        TypeError: If `content` holds something JSON cannot represent.
    """
    text = json.dumps(to_json_value(content), indent=2, allow_nan=False)
    return write_text(path, text + "\n")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_json(path: str | os.PathLike, *, missing_ok: bool = False) -> Any:
    """Reads a JSON file strictly (``NaN``/``Infinity`` are errors).

    Args:
        path: The file.
        missing_ok: Return None when the file does not exist instead of raising.

    Returns:
        The parsed content, or None for a missing file with ``missing_ok``.

    Raises:
        FileNotFoundError: If the file does not exist (and not ``missing_ok``).
        ValueError: If the file is not valid JSON; the message names the file.
    """
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return None
        raise FileNotFoundError(f"{str(path)!r} does not exist") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{str(path)!r} is not valid JSON ({error})") from None


def copy_file(source: str | os.PathLike, target: str | os.PathLike) -> pathlib.Path:
    """Copies the bytes of `source` to `target` atomically; returns the target."""
    with atomic_path(target) as temporary:
        shutil.copyfile(source, temporary)
    return pathlib.Path(target)


def remove_stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """Deletes the `atomic_path` temporaries directly inside `folder` (not in its subfolders).

    Call it only when no other writer can be using the folder (e.g. while holding its `RunFolder`
    lock): a temporary being written by another process would be deleted too.

    Returns:
        The names removed, sorted.
    """
    folder = pathlib.Path(folder)
    removed = []
    for entry in sorted(folder.glob(f"{TEMPORARY_PREFIX}*")):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed
