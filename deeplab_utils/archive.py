"""Locating and safely unpacking the frozen graph of a DeepLab model-zoo download.

The DeepLab model zoo (tensorflow/models, research/deeplab/g3doc/model_zoo.md) ships each model as a
gzipped tarball such as ``deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz`` that holds one folder with
``frozen_inference_graph.pb`` and the checkpoint files (``model.ckpt-*.index``/``.data-*``). Users may
hand us the tarball, the folder it unpacks to, or the ``.pb`` itself; :func:`read_frozen_graph_bytes`
accepts all three. Tarballs are read in place (only the graph member is read, nothing is written), or
unpacked in full with :func:`extract_archive`, which refuses every member that would land outside the
target folder (absolute paths, ``..``, links, devices).
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path

FROZEN_GRAPH_NAME = "frozen_inference_graph.pb"

_TAR_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error)


def is_archive(path: str | os.PathLike) -> bool:
    """Whether `path` is a tar archive (plain or compressed) that can be opened.

    Args:
        path: A file path.

    Returns:
        True for a readable tar file; False for anything else, including a corrupt gzip stream.
    """
    path = Path(path)
    if not path.is_file():
        return False
    try:
        return tarfile.is_tarfile(path)
    except _TAR_ERRORS:
        return False


def _looks_like_archive_name(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"))


def _unsafe_reason(member: tarfile.TarInfo, target: Path) -> str | None:
    """Why extracting `member` into `target` would be unsafe, or None when it is safe."""
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    parts = Path(name.replace("\\", "/")).parts
    if ".." in parts:
        return "path with '..'"
    if member.issym() or member.islnk():
        return "link"
    if not (member.isfile() or member.isdir()):
        return "special file (device, fifo)"
    resolved = (target / name).resolve()
    if resolved != target and target not in resolved.parents:
        return "path outside the target folder"
    return None


def _corrupt(path: Path, error: BaseException, member: str | None = None) -> ValueError:
    where = f" at {member!r}" if member is not None else ""
    return ValueError(f"Argument `path` must be a readable model archive; received {str(path)!r}, which is "
                      f"corrupt or truncated{where} ({error}).")


def _open_archive(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:*")
    except _TAR_ERRORS as error:
        raise _corrupt(path, error) from error


def _archive_members(archive: tarfile.TarFile, path: Path) -> list[tarfile.TarInfo]:
    try:
        return archive.getmembers()
    except _TAR_ERRORS as error:
        raise _corrupt(path, error) from error


def extract_archive(path: str | os.PathLike, target_dir: str | os.PathLike) -> Path:
    """Unpacks a model tarball into `target_dir`, refusing any member that would leave it.

    The archive is checked whole before anything is written, then unpacked into a temporary folder
    beside `target_dir` and moved into place, so an interrupted or refused unpacking leaves no partial
    folder behind. An existing, non-empty `target_dir` is never overwritten.

    Args:
        path: The ``.tar``/``.tar.gz``/``.tgz`` file.
        target_dir: The folder to create; its parent must exist or be creatable.

    Returns:
        The resolved `target_dir`.

    Raises:
        ValueError: If `path` is not a readable archive, is corrupt or truncated, holds an unsafe member
            (absolute path, ``..``, symbolic or hard link, device) or `target_dir` is not empty.
    """
    path = Path(path)
    target = Path(target_dir).resolve()
    if not path.is_file():
        raise ValueError(f"Argument `path` must be an archive file; received {str(path)!r}: no such file.")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValueError(f"Argument `target_dir` must not exist or be an empty folder; received {str(target)!r}, "
                         "which exists and is not an empty folder.")
    with _open_archive(path) as archive:
        members = _archive_members(archive, path)
        for member in members:
            reason = _unsafe_reason(member, target)
            if reason is not None:
                raise ValueError(
                    f"Argument `path` must be an archive of plain files and folders inside it; received "
                    f"{str(path)!r}, refusing member {member.name!r} ({reason})."
                )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for member in members:
                if member.isdir():
                    (staging / member.name).mkdir(parents=True, exist_ok=True)
                    continue
                destination = staging / member.name
                destination.parent.mkdir(parents=True, exist_ok=True)
                try:
                    source = archive.extractfile(member)
                    with source, open(destination, "wb") as handle:
                        shutil.copyfileobj(source, handle)
                except _TAR_ERRORS as error:
                    raise _corrupt(path, error, member.name) from error
            if target.exists():
                target.rmdir()
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def _pick_graph(candidates: list[str], where: str) -> str:
    """Chooses the frozen graph among member/file names (relative paths) found in `where`."""
    frozen = [name for name in candidates if Path(name).name == FROZEN_GRAPH_NAME]
    if len(frozen) == 1:
        return frozen[0]
    if len(frozen) > 1:
        raise ValueError(f"Argument `path` must hold one frozen graph; received {where}, which holds several "
                         f"{FROZEN_GRAPH_NAME} files: {sorted(frozen)}.")
    graphs = [name for name in candidates if name.endswith(".pb")]
    if len(graphs) == 1:
        return graphs[0]
    if not graphs:
        raise ValueError(f"Argument `path` must hold one frozen graph; received {where}, which holds no frozen "
                         f"graph ({FROZEN_GRAPH_NAME} or another .pb file).")
    raise ValueError(
        f"Argument `path` must hold one frozen graph; received {where}, which holds no {FROZEN_GRAPH_NAME} "
        f"and several .pb files {sorted(graphs)}: pass the one to load."
    )


def locate_frozen_graph(path: str | os.PathLike) -> Path:
    """Finds the frozen graph file in a folder (searched recursively) or checks a ``.pb`` path.

    Args:
        path: A ``.pb`` file or the folder a model tarball unpacks to.

    Returns:
        The path of the ``.pb`` file.

    Raises:
        ValueError: If `path` does not exist, or a folder holds no (or several) frozen graphs.
    """
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise ValueError(f"Argument `path` must be a model tarball, its folder or a .pb file; received "
                         f"{str(path)!r}: no such file or folder.")
    names = [str(file.relative_to(path)) for file in sorted(path.rglob("*.pb")) if file.is_file()]
    return path / _pick_graph(names, f"folder {str(path)!r}")


def read_frozen_graph_bytes(path: str | os.PathLike) -> tuple[bytes, str]:
    """Reads the serialized frozen graph from a tarball, an unpacked folder or a ``.pb`` file.

    A tarball is read in place: only its graph member is decompressed, nothing is written to disk.

    Args:
        path: The model tarball (``.tar.gz``, ``.tgz``, ``.tar``), its unpacked folder, or the ``.pb``.

    Returns:
        ``(data, source)``: the serialized ``GraphDef`` and a human-readable description of where it came
        from (``"archive.tar.gz:folder/frozen_inference_graph.pb"`` or the file path).

    Raises:
        ValueError: If nothing is found at `path`, the archive is corrupt, truncated or holds no frozen
            graph, or the graph member is not a regular file.
    """
    path = Path(path)
    if path.is_file() and (_looks_like_archive_name(path) or is_archive(path)):
        with _open_archive(path) as archive:
            members = {member.name: member for member in _archive_members(archive, path)}
            regular = [name for name, member in members.items() if member.isfile()]
            chosen = _pick_graph(regular, f"archive {str(path)!r}")
            try:
                with archive.extractfile(members[chosen]) as handle:
                    data = handle.read()
            except _TAR_ERRORS as error:
                raise _corrupt(path, error, chosen) from error
        return data, f"{path}:{chosen}"
    graph_path = locate_frozen_graph(path)
    return graph_path.read_bytes(), str(graph_path)
