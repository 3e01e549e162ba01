"""A run folder: a folder that records which run it holds, resumes it, and is written by one process.

``RunFolder.open(path, kind=..., settings=...)`` is a context manager that

1. creates the folder (and its parents);
2. takes an exclusive lock on ``<path>/.lock`` with ``fcntl.flock`` (non-blocking): while a process
   holds it, a second ``open`` - from another process, or from the same one - is refused at once with
   `RunFolderBusy` naming the folder and the holder's pid. The kernel drops the lock when the holder
   exits or dies, so there is no stale lock to clean up (local file systems; NFS may not honour it);
3. deletes the `files.atomic_path` temporaries a killed writer left at the top of the folder;
4. compares ``run.json`` with the request:

   - absent, folder empty: writes ``run.json`` (kind, settings, package version, creation time)
     atomically; ``run.resumed`` is False;
   - present with the same kind and settings: a resume; ``run.resumed`` is True;
   - present with another kind or other settings: `RunFolderMismatch` listing every differing key
     (``settings.epochs: recorded 6, requested 12``);
   - absent, but the folder holds other files: `RunFolderError` (someone else's files);

   With ``overwrite=True`` the last two cases replace the folder's contents instead (explicitly: the old
   files are deleted) and start a fresh run.

Settings are compared as JSON (`files.to_json_value`): tuples equal lists, NumPy scalars equal Python
numbers, floats are compared exactly (``0.1`` and ``0.1 + 1e-17`` are the same float, ``0.1`` and
``0.10000001`` are not), dict key order does not matter, and NaN is refused. The package version and
creation time are recorded but not compared.

Run folders nest: a sweep's folder can hold run folders, each with its own lock and ``run.json``.
`done`/`mark_done` keep per-step markers for resumable binaries. All errors derive from
`RunFolderError` (a `ValueError`), which `binary.run_binary` turns into a one-line message and exit 2.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
import pathlib
import re
import shutil
from collections.abc import Iterator, Mapping
from typing import Any

from grid_saliency_tf.experiment import files

__all__ = [
    "LOCK_FILE",
    "RUN_FILE",
    "RunFolder",
    "RunFolderBusy",
    "RunFolderError",
    "RunFolderMismatch",
    "differences",
]

RUN_FILE = "run.json"
LOCK_FILE = ".lock"
_DONE_FOLDER = ".done"
_STEP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=-]*$")


class RunFolderError(ValueError):
    """A folder that cannot be used for the requested run."""


class RunFolderBusy(RunFolderError):
    """Another process (or another `RunFolder` of this one) holds the folder's lock."""


class RunFolderMismatch(RunFolderError):
    """The folder holds a run of another kind or with other settings.

    Attributes:
        differences: One ``"key: recorded X, requested Y"`` line per differing key.
    """

    def __init__(self, message: str, differences: list[str]):
        super().__init__(message)
        self.differences = differences


def _package_version() -> str:
    from grid_saliency_tf import __version__

    return __version__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def differences(recorded: Any, requested: Any, prefix: str = "") -> list[str]:
    """``"key: recorded X, requested Y"`` for every differing leaf of two JSON values (dicts recursed)."""
    if isinstance(recorded, dict) and isinstance(requested, dict):
        lines = []
        for key in sorted(set(recorded) | set(requested)):
            name = f"{prefix}.{key}" if prefix else key
            if key not in recorded:
                lines.append(f"{name}: not recorded, requested {_short(requested[key])}")
            elif key not in requested:
                lines.append(f"{name}: recorded {_short(recorded[key])}, not requested")
            else:
                lines += differences(recorded[key], requested[key], name)
        return lines
    if isinstance(recorded, list) and isinstance(requested, list) and len(recorded) == len(requested):
        return [line for index, (a, b) in enumerate(zip(recorded, requested))
                for line in differences(a, b, f"{prefix}[{index}]")]
    if recorded == requested and type(recorded) is type(requested):
        return []
    return [f"{prefix or 'value'}: recorded {_short(recorded)}, requested {_short(requested)}"]


class _Lock:
    """An exclusive, non-blocking ``flock`` on a file; the kernel releases it if the process dies."""

    def __init__(self, path: pathlib.Path, folder: pathlib.Path):
        self._handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._handle, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(self._handle)
            raise RunFolderBusy(f"{str(folder)!r} is in use by process {holder} (it holds {LOCK_FILE}); "
                                "wait for it to finish or stop it") from None
        except BaseException:
            os.close(self._handle)
            raise
        os.ftruncate(self._handle, 0)
        os.pwrite(self._handle, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._handle >= 0:
            os.close(self._handle)  # closing the last descriptor drops the flock
            self._handle = -1


def _clear(folder: pathlib.Path) -> None:
    """Deletes everything in `folder` except the lock file."""
    for entry in folder.iterdir():
        if entry.name == LOCK_FILE:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


class RunFolder:
    """An opened run folder, held exclusively until its `open` context exits.

    Attributes:
        path: The folder.
        kind: What the run is (e.g. ``"toy_benchmark.train"``).
        settings: The run's settings, JSON-normalised.
        resumed: True if the folder already held this run when it was opened.
        replaced: True if ``overwrite`` deleted another run's (or foreign) files when it was opened.
        record: The content of ``run.json``.
    """

    def __init__(self, path: pathlib.Path, kind: str, settings: dict[str, Any], record: dict[str, Any],
                 resumed: bool, replaced: bool):
        self.path = path
        self.kind = kind
        self.settings = settings
        self.record = record
        self.resumed = resumed
        self.replaced = replaced

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r}, kind={self.kind!r}, resumed={self.resumed})"

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: str | os.PathLike, *, kind: str, settings: Mapping[str, Any],
             overwrite: bool = False) -> Iterator["RunFolder"]:
        """Opens (creating, resuming or, with `overwrite`, replacing) a run folder and locks it.

        Args:
            path: The folder; created with its parents if absent.
            kind: What the run is; part of the identity compared on resume.
            settings: Everything that decides the run's outputs (JSON data; see `files.to_json_value`).
            overwrite: Replace the contents of a folder holding another run or foreign files.

        Yields:
            The `RunFolder`; the lock is released when the context exits (also on an exception).

        Raises:
            RunFolderBusy: If another holder has the folder.
            RunFolderMismatch: If the folder holds another run (and not `overwrite`).
            RunFolderError: If `path` is not a folder, holds foreign files (and not `overwrite`), or
                its ``run.json`` is unreadable (and not `overwrite`).
            ValueError, TypeError: For a bad `kind` or `settings`.
        """
        if not isinstance(kind, str) or not kind:
            raise TypeError(f"Argument `kind` must be a non-empty str; received {kind!r}.")
        if not isinstance(settings, Mapping):
            raise TypeError(f"Argument `settings` must be a mapping; received {type(settings).__name__}.")
        settings = files.to_json_value(settings, "settings")
        folder = pathlib.Path(path)
        if folder.exists() and not folder.is_dir():
            raise RunFolderError(f"{str(folder)!r} exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        lock = _Lock(folder / LOCK_FILE, folder)
        try:
            run = cls._claim(folder, kind, settings, overwrite)
            yield run
        finally:
            lock.release()

    @classmethod
    def _claim(cls, folder: pathlib.Path, kind: str, settings: dict[str, Any], overwrite: bool) -> "RunFolder":
        files.remove_stale_temporaries(folder)
        run_file = folder / RUN_FILE
        problem = None
        try:
            recorded = files.read_json(run_file, missing_ok=True)
        except ValueError as error:
            recorded, problem = None, RunFolderError(f"{str(folder)!r} has an unreadable {RUN_FILE} ({error})")
        if recorded is not None:
            if not isinstance(recorded, dict) or "kind" not in recorded or "settings" not in recorded:
                problem = RunFolderError(f"{str(run_file)!r} is not a run record (no kind and settings)")
            else:
                found = differences({"kind": recorded["kind"], "settings": recorded["settings"]},
                                    {"kind": kind, "settings": settings})
                if not found:
                    return cls(folder, kind, settings, recorded, resumed=True, replaced=False)
                problem = RunFolderMismatch(
                    f"{str(folder)!r} holds another run ({'; '.join(found)}); choose another folder, "
                    "or overwrite to replace it", found)
        elif problem is None:
            foreign = sorted(entry.name for entry in folder.iterdir() if entry.name != LOCK_FILE)
            if foreign:
                shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
                problem = RunFolderError(f"{str(folder)!r} is not empty and holds no {RUN_FILE} ({shown}); "
                                         "choose an empty folder, or overwrite to replace its contents")
        if problem is not None and not overwrite:
            raise problem
        if problem is not None:
            _clear(folder)
        record = {
            "kind": kind,
            "settings": settings,
            "package_version": _package_version(),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        files.write_json(run_file, record)
        return cls(folder, kind, settings, record, resumed=False, replaced=problem is not None)

    def file(self, name: str | os.PathLike) -> pathlib.Path:
        """The path of `name` inside the folder (its parent folders are created).

        Raises:
            ValueError: If `name` is absolute or leads outside the folder.
        """
        relative = pathlib.PurePath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ValueError(f"Argument `name` must be a relative path inside the run folder; received "
                             f"{os.fspath(name)!r}.")
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def exists(self, name: str | os.PathLike) -> bool:
        """Whether `name` exists inside the folder."""
        return (self.path / pathlib.PurePath(name)).exists()

    def atomic_path(self, name: str | os.PathLike) -> contextlib.AbstractContextManager[pathlib.Path]:
        """`files.atomic_path` for `name` inside the folder."""
        return files.atomic_path(self.file(name))

    def write_bytes(self, name: str | os.PathLike, data: bytes) -> pathlib.Path:
        """`files.write_bytes` to `name` inside the folder."""
        return files.write_bytes(self.file(name), data)

    def write_text(self, name: str | os.PathLike, text: str) -> pathlib.Path:
        """`files.write_text` to `name` inside the folder."""
        return files.write_text(self.file(name), text)

    def write_json(self, name: str | os.PathLike, content: Any) -> pathlib.Path:
        """`files.write_json` to `name` inside the folder."""
        return files.write_json(self.file(name), content)

    def read_json(self, name: str | os.PathLike, *, missing_ok: bool = False) -> Any:
        """`files.read_json` of `name` inside the folder."""
        return files.read_json(self.file(name), missing_ok=missing_ok)

    def _marker(self, step: str) -> pathlib.Path:
        if not isinstance(step, str) or not _STEP_NAME.match(step):
            raise ValueError(f"Argument `step` must be a name of letters, digits and _.=-; received {step!r}.")
        return self.path / _DONE_FOLDER / f"{step}.json"

    def done(self, step: str) -> bool:
        """Whether `mark_done(step)` was called in this run (now or before an interruption)."""
        return self._marker(step).exists()

    def mark_done(self, step: str, **info: Any) -> None:
        """Records that `step` finished (atomically, with the time and `info` as JSON)."""
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        files.write_json(self._marker(step), {"step": step, "finished": stamp, **info})

    def child(self, name: str, *, kind: str, settings: Mapping[str, Any],
              overwrite: bool = False) -> contextlib.AbstractContextManager["RunFolder"]:
        """`RunFolder.open` of the subfolder `name` (a run inside this one, e.g. of a sweep)."""
        return RunFolder.open(self.file(name), kind=kind, settings=settings, overwrite=overwrite)
