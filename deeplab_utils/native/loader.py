"""Loading the official DeepLab weights into :class:`~deeplab_utils.native.DeepLabV3Plus`.

Each :class:`~deeplab_utils.native.layers.ConvUnit` names the official variables it holds
(``aspp0/weights``, ``aspp0/BatchNorm/gamma``, ...). Loading is strict: every variable of the source
must be used exactly once. A variable of the model missing from the source, a source variable the
model has no place for, or a shape that differs is an error that lists them all; nothing is assigned
then. Training bookkeeping saved beside the model (``global_step``, optimiser slots) is set aside and
reported.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Sequence

import keras
import tensorflow as tf

from deeplab_utils.native.export import ExportSettings, infer_architecture, read_export_settings
from deeplab_utils.native.layers import ConvUnit
from deeplab_utils.native.model import DeepLabV3Plus, zoo_atrous_rates
from deeplab_utils.native.sources import OfficialVariables, open_official

__all__ = ["LoadReport", "official_variables", "assign_official_weights", "build_deeplab", "load_deeplab"]

_LISTED = 12  # names listed per kind of problem in an error message


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """What :func:`assign_official_weights` did.

    Attributes:
        source: Where the weights came from.
        assigned: Number of variables assigned.
        parameters: Number of values assigned.
        skipped: Source names set aside as training bookkeeping.
    """

    source: str
    assigned: int
    parameters: int
    skipped: tuple[str, ...]


def official_variables(model: keras.Model) -> dict[str, keras.Variable]:
    """Official variable name -> Keras variable, over every :class:`ConvUnit` of `model`.

    Raises:
        ValueError: If two units claim the same official name.
    """
    names: dict[str, keras.Variable] = {}
    for layer in model.layers:
        if isinstance(layer, ConvUnit):
            for name, variable in layer.official_variables().items():
                if name in names:
                    raise ValueError(f"Argument `model` must name each official variable once; received "
                                     f"{name!r} twice.")
                names[name] = variable
    return names


def _listing(kind: str, items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return f"{len(items)} {kind}: {shown}{more}"


def assign_official_weights(model: keras.Model, variables: OfficialVariables) -> LoadReport:
    """Assigns official weights to a native model, refusing any mismatch.

    Args:
        model: A :class:`DeepLabV3Plus` (or any model of :class:`ConvUnit` layers).
        variables: The source, e.g. from :func:`~deeplab_utils.native.sources.open_official`.

    Returns:
        A :class:`LoadReport`.

    Raises:
        ValueError: If names are missing or unexpected or shapes differ; the message lists them (nothing
            is assigned then).
    """
    targets = official_variables(model)
    missing = sorted(set(targets) - set(variables.shapes))
    unexpected = sorted(set(variables.shapes) - set(targets))
    mismatched = sorted(f"{name} {variables.shapes[name]} (model {tuple(targets[name].shape)})"
                        for name in set(targets) & set(variables.shapes)
                        if variables.shapes[name] != tuple(targets[name].shape))
    if missing or unexpected or mismatched:
        kinds = (("missing", missing), ("unexpected", unexpected), ("with another shape", mismatched))
        problems = [_listing(kind, items) for kind, items in kinds if items]
        raise ValueError(f"Argument `variables` must match the model's {len(targets)} official variables one "
                         f"to one; received {variables.source} with " + "; ".join(problems) + ".")
    parameters = 0
    for name, target in targets.items():
        value = variables.read(name)
        target.assign(value.astype(target.dtype))
        parameters += value.size
    return LoadReport(variables.source, len(targets), parameters, variables.skipped)


def load_deeplab(path: str | os.PathLike, *, prefer: str = "checkpoint", **options: Any) -> DeepLabV3Plus:
    """Builds the native model of an official DeepLab download and loads its weights.

    Args:
        path: A zoo tarball, its folder, a checkpoint prefix (``.../model.ckpt-30000``) or a ``.pb``.
        prefer: Where the weights come from when both are there: ``"checkpoint"`` or ``"frozen_graph"``.
        **options: Keyword arguments of :func:`build_deeplab` (``mode``, ``output``, ``output_stride``,
            ``atrous_rates``, ``crop_size``, ``depth_multiplier``, ``name``, ``dtype``).

    Returns:
        The :class:`DeepLabV3Plus` with the weights loaded (see :func:`build_deeplab`).

    Raises:
        ValueError: If nothing can be read at `path`, the variables do not match the architecture
            (listed), or parity mode has no crop size.
    """
    variables, graph_def = open_official(path, prefer=prefer)
    return build_deeplab(variables, graph_def, **options)


def build_deeplab(
    variables: OfficialVariables,
    graph_def: tf.compat.v1.GraphDef | None = None,
    *,
    mode: str = "parity",
    output: str = "probabilities",
    output_stride: int | None = None,
    atrous_rates: Sequence[int] | None = None,
    crop_size: Sequence[int] | None = None,
    depth_multiplier: float | None = None,
    name: str | None = None,
    dtype: Any = None,
) -> DeepLabV3Plus:
    """Builds the native model an official model's variables describe and loads them.

    The architecture is read from the variables (backbone, depth multiplier, classes, decoder, number
    of ASPP branches); crop size, output stride, ASPP rates and the head's batch-norm epsilon from the
    frozen graph when there is one, else from the arguments or the zoo's defaults (output stride 8 for
    MobileNetV2 and 16 for Xception-65, rates 6/12/18 at 16, epsilon 1.001e-5). A graph whose settings
    cannot be read is refused unless `output_stride` (and, in parity mode, `crop_size`) are given.

    Args:
        variables: The weights (:func:`~deeplab_utils.native.sources.open_official`).
        graph_def: The frozen export of the same model, for its settings; None without one.
        mode: ``"parity"`` (needs the crop size: from the frozen graph or `crop_size`) or ``"any_size"``.
        output: ``"probabilities"`` or ``"logits"``.
        output_stride: Overrides the export's (or the default) output stride.
        atrous_rates: Overrides the export's (or the default) ASPP rates.
        crop_size: The export crop size, when no frozen graph tells it (parity mode).
        depth_multiplier: MobileNetV2 width, when the first layer's width does not tell it.
        name: Model name.
        dtype: Dtype policy, e.g. ``"mixed_float16"``.

    Returns:
        The :class:`DeepLabV3Plus` with the weights loaded; ``model.load_report`` is the
        :class:`LoadReport` and ``model.export_settings`` the :class:`ExportSettings` or None.

    Raises:
        ValueError: If the variables do not match the architecture (listed), or parity mode has no crop
            size.
    """
    settings: ExportSettings | None = None
    if graph_def is not None:
        try:
            settings = read_export_settings(graph_def)
        except ValueError:
            if output_stride is None or (mode == "parity" and crop_size is None):
                raise  # the message says what to pass; given, the graph's settings are not needed
    architecture = infer_architecture(variables)
    backbone = architecture["backbone"]
    stride = output_stride or (settings.output_stride if settings else None)
    stride = stride or (8 if backbone == "mobilenet_v2" else 16)
    if atrous_rates is None:
        atrous_rates = settings.atrous_rates if settings else zoo_atrous_rates(backbone, stride)
        if output_stride is not None and settings is not None and output_stride != settings.output_stride:
            atrous_rates = tuple(rate * settings.output_stride // output_stride for rate in atrous_rates)
    if len(atrous_rates) != architecture["atrous_branches"]:
        raise ValueError(f"Argument `atrous_rates` must give one rate per ASPP branch of {variables.source} "
                         f"({architecture['atrous_branches']}); received {tuple(atrous_rates)!r}.")
    if mode == "parity" and crop_size is None:
        if settings is None:
            raise ValueError(f"Argument `crop_size` must be given for parity mode: {variables.source} comes "
                             "without the frozen graph to read it from; received None.")
        crop_size = settings.crop_size
    head = {}
    if settings is not None and settings.head_batch_norm_epsilon is not None:
        head["head_batch_norm_epsilon"] = settings.head_batch_norm_epsilon
    model = DeepLabV3Plus(
        backbone, architecture["num_classes"],
        depth_multiplier=depth_multiplier or architecture["depth_multiplier"], output_stride=stride,
        atrous_rates=tuple(atrous_rates), decoder=architecture["decoder"], mode=mode,
        crop_size=crop_size, output=output, name=name, dtype=dtype, **head)
    model.load_report = assign_official_weights(model, variables)
    model.export_settings = settings
    return model
