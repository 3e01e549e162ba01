"""The variables of an official DeepLab model, read from a TF1 checkpoint or a frozen graph.

Every zoo tarball holds the TF1 checkpoint (``model.ckpt-<step>.index``/``.data-*``, or ``model.ckpt``)
beside ``frozen_inference_graph.pb``. A checkpoint is read by name (``tf.train.load_checkpoint``). In a
frozen graph the variables became ``Const`` nodes that keep their names (``MobilenetV2/Conv/weights``);
they are the constants whose name ends in a slim variable name (``weights``, ``depthwise_weights``,
``biases``, ``BatchNorm/{gamma,beta,moving_mean,moving_variance}``). Names a training run saves beside
the model (``global_step``, optimiser slots such as ``.../Momentum``) are set aside as bookkeeping and
reported, never matched against the model.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import tensorflow as tf

from deeplab_utils.archive import FROZEN_GRAPH_NAME, extract_archive, is_archive
from deeplab_utils.graph_def import parse_graph_def

__all__ = ["OfficialVariables", "from_checkpoint", "from_frozen_graph", "from_mapping", "open_official"]

VARIABLE_LEAVES = ("weights", "depthwise_weights", "biases", "BatchNorm/gamma", "BatchNorm/beta",
                   "BatchNorm/moving_mean", "BatchNorm/moving_variance")
_LEAF = re.compile(r"(^|/)(" + "|".join(re.escape(leaf) for leaf in VARIABLE_LEAVES) + r")$")
_BOOKKEEPING = re.compile(r"^global_step$|^beta[12]_power$|/(Momentum|ExponentialMovingAverage|Adam|Adam_1|"
                          r"RMSProp|RMSProp_1|Adagrad|Ftrl|Ftrl_1)$")


class OfficialVariables:
    """Official variable names and shapes, and a reader of their values.

    Args:
        source: Where they come from (for messages).
        shapes: Name -> shape of every model variable.
        read: Name -> value (float32 array of that shape).
        skipped: Names set aside as training bookkeeping (``global_step``, optimiser slots).
    """

    def __init__(self, source: str, shapes: Mapping[str, tuple[int, ...]], read: Callable[[str], np.ndarray],
                 skipped: tuple[str, ...] = ()) -> None:
        self.source = source
        self.shapes = {name: tuple(int(d) for d in shape) for name, shape in shapes.items()}
        self._read = read
        self.skipped = tuple(sorted(skipped))

    def read(self, name: str) -> np.ndarray:
        """The value of variable `name` as float32."""
        if name not in self.shapes:
            raise ValueError(f"Argument `name` must be a variable of {self.source}; received {name!r}.")
        return np.asarray(self._read(name), np.float32)

    def loaded(self) -> "OfficialVariables":
        """A copy holding every value in memory (for sources whose files are about to go)."""
        values = {name: self.read(name) for name in self.shapes}
        return OfficialVariables(self.source, self.shapes, values.__getitem__, self.skipped)

    def __len__(self) -> int:
        return len(self.shapes)


def _split_bookkeeping(shapes: Mapping[str, tuple[int, ...]]) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    kept = {name: shape for name, shape in shapes.items() if not _BOOKKEEPING.search(name)}
    return kept, [name for name in shapes if name not in kept]


def from_mapping(values: Mapping[str, np.ndarray], source: str = "mapping") -> OfficialVariables:
    """Variables from a name -> array mapping (e.g. a fixture's ``variables``); bookkeeping names are
    set aside as in a checkpoint."""
    arrays = {name: np.asarray(value) for name, value in values.items()}
    shapes, skipped = _split_bookkeeping({name: value.shape for name, value in arrays.items()})
    return OfficialVariables(source, shapes, arrays.__getitem__, tuple(skipped))


def from_checkpoint(prefix: str | os.PathLike) -> OfficialVariables:
    """Variables of a TF1 name-based checkpoint.

    Args:
        prefix: The checkpoint prefix (``.../model.ckpt-30000``, without ``.index``).

    Raises:
        ValueError: If no checkpoint can be read at `prefix`.
    """
    prefix = os.fspath(prefix)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as error:
        raise ValueError(f"Argument `prefix` must be a readable TF1 checkpoint prefix; received {prefix!r} "
                         f"({str(error).splitlines()[0]}).") from error
    shapes, skipped = _split_bookkeeping(reader.get_variable_to_shape_map())
    return OfficialVariables(f"checkpoint {prefix}", shapes, reader.get_tensor, tuple(skipped))


def from_frozen_graph(graph_def: tf.compat.v1.GraphDef, source: str = "frozen graph") -> OfficialVariables:
    """Variables of a frozen graph: its ``Const`` nodes named like slim variables."""
    float32 = tf.float32.as_datatype_enum
    nodes = {node.name: node for node in graph_def.node
             if node.op == "Const" and _LEAF.search(node.name) and node.attr["dtype"].type == float32}
    shapes = {name: tuple(dim.size for dim in node.attr["value"].tensor.tensor_shape.dim)
              for name, node in nodes.items()}
    return OfficialVariables(source, shapes, lambda name: tf.make_ndarray(nodes[name].attr["value"].tensor))


def _checkpoint_prefixes(folder: Path) -> list[Path]:
    prefixes = []
    for index in sorted(folder.rglob("*.index")):
        prefix = index.with_suffix("")
        if list(prefix.parent.glob(prefix.name + ".data-*")):
            prefixes.append(prefix)
    return prefixes


def _open_folder(folder: Path, prefer: str) -> tuple[OfficialVariables, tf.compat.v1.GraphDef | None]:
    graphs = ([path for path in folder.rglob("*.pb") if path.name == FROZEN_GRAPH_NAME]
              or list(folder.rglob("*.pb")))
    graph_def = None
    if len(graphs) == 1:
        graph_def = parse_graph_def(graphs[0].read_bytes(), str(graphs[0]))
    elif len(graphs) > 1:
        raise ValueError(f"Argument `path` must hold one frozen graph; received {str(folder)!r} with "
                         f"{sorted(str(g.relative_to(folder)) for g in graphs)}.")
    prefixes = _checkpoint_prefixes(folder)
    if len(prefixes) > 1:
        raise ValueError(f"Argument `path` must hold one checkpoint; received {str(folder)!r} with "
                         f"{sorted(str(p.relative_to(folder)) for p in prefixes)}: pass the prefix to load.")
    if prefixes and (prefer == "checkpoint" or graph_def is None):
        return from_checkpoint(prefixes[0]), graph_def
    if graph_def is None:
        raise ValueError(f"Argument `path` must hold a checkpoint (model.ckpt*.index/.data-*) or a frozen "
                         f"graph; received {str(folder)!r} with neither.")
    return from_frozen_graph(graph_def, f"frozen graph {graphs[0]}"), graph_def


def open_official(path: str | os.PathLike,
                  prefer: str = "checkpoint") -> tuple[OfficialVariables, tf.compat.v1.GraphDef | None]:
    """Opens a zoo download: a tarball, its folder, a checkpoint prefix or a frozen ``.pb``.

    From a tarball or folder holding both, the weights come from the checkpoint (``prefer="checkpoint"``)
    or the frozen graph (``prefer="frozen_graph"``); the frozen graph is returned either way, for the
    export settings (:func:`deeplab_utils.native.export.read_export_settings`).

    Args:
        path: Tarball (``.tar.gz``), folder, checkpoint prefix or ``.pb`` file.
        prefer: ``"checkpoint"`` or ``"frozen_graph"``.

    Returns:
        ``(variables, graph_def or None)``; variables from a tarball are read into memory.

    Raises:
        ValueError: If nothing readable is found, or a folder holds several checkpoints or graphs.
    """
    if prefer not in ("checkpoint", "frozen_graph"):
        raise ValueError(f"Argument `prefer` must be 'checkpoint' or 'frozen_graph'; received {prefer!r}.")
    path = Path(path)
    if path.is_file() and path.suffix == ".pb":
        graph_def = parse_graph_def(path.read_bytes(), str(path))
        return from_frozen_graph(graph_def, f"frozen graph {path}"), graph_def
    if path.is_file() and is_archive(path):
        with tempfile.TemporaryDirectory() as staging:
            folder = extract_archive(path, Path(staging) / "model")
            variables, graph_def = _open_folder(folder, prefer)
            variables = variables.loaded()
        variables.source = variables.source.replace(f"{folder}{os.sep}", f"{path}:")
        return variables, graph_def
    if path.is_dir():
        return _open_folder(path, prefer)
    if Path(f"{path}.index").is_file():
        return from_checkpoint(path), None
    raise ValueError(f"Argument `path` must be a zoo tarball, its folder, a checkpoint prefix or a .pb file; "
                     f"received {str(path)!r}.")
