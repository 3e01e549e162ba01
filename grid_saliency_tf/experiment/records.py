"""Typed JSON records: frozen dataclasses stored with a schema name and an integer schema version.

A record type is a frozen dataclass deriving from `Record` that names its schema::

    @dataclasses.dataclass(frozen=True)
    class Metrics(Record):
        SCHEMA: ClassVar[str] = "toy_benchmark.metrics"
        SCHEMA_VERSION: ClassVar[int] = 2

        mean_iou: float
        iou_per_digit: tuple[float | None, ...]
        settings: dict[str, Any]

    Metrics(0.9, (0.8,) * 10, {}).save("eval/metrics.json")
    metrics = Metrics.load("eval/metrics.json")

The file holds ``{"schema": ..., "schema_version": ..., <the fields in order>}``. Reading is strict: a
missing or unknown key, a value of the wrong type, another schema or another version is a `RecordError`
naming the file and the field (``eval/metrics.json: field `iou_per_digit[3]` must be a float or None;
received 'x'.``). A type that can read an older version overrides `upgrade`.

Field types understood: ``bool``, ``int``, ``float`` (an int in the file is accepted), ``str``,
``None``, unions with None (``float | None``), ``tuple[X, ...]``, ``tuple[X, Y]``, ``list[X]``,
``dict[str, X]`` / ``Mapping[str, X]``, ``Literal[...]``, nested dataclasses (records or plain), and
``Any`` (any JSON value, unchecked). Writing converts NumPy scalars and arrays, tuples and nested
dataclasses, and refuses NaN and infinity (`files.to_json_value`); `save` checks that what it writes
reads back as an equal record before writing anything.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from grid_saliency_tf.experiment import files

__all__ = ["Record", "RecordError"]

_R = TypeVar("_R", bound="Record")
_NONE = type(None)


class RecordError(ValueError):
    """A record file or dictionary that does not match its record type."""


def _fail(where: str, expected: str, value: Any) -> typing.NoReturn:
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise RecordError(f"field `{where}` must be {expected}; received {shown}.")


def _describe(hint: Any) -> str:
    if hint is Any:
        return "any JSON value"
    if hint is _NONE:
        return "None"
    if isinstance(hint, type):
        return {bool: "a bool", int: "an int", float: "a float", str: "a str"}.get(hint, f"a {hint.__name__}")
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(arg) for arg in typing.get_args(hint))
    return f"a {getattr(origin, '__name__', str(hint))}"


def _decode(value: Any, hint: Any, where: str) -> Any:
    """Checks one JSON value against a type hint and converts it (lists to tuples, dicts to dataclasses)."""
    if hint is Any:
        return value
    if hint is _NONE:
        if value is not None:
            _fail(where, "None", value)
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and _NONE in args:
            return None
        for arg in args:
            if arg is _NONE:
                continue
            try:
                return _decode(value, arg, where)
            except RecordError as error:
                if not str(error).startswith(f"field `{where}` must"):
                    raise  # a nested field of this alternative is wrong: that is the useful message
        _fail(where, _describe(hint), value)
    if origin is typing.Literal:
        if value not in args or isinstance(value, bool) != any(isinstance(a, bool) for a in args if a == value):
            _fail(where, _describe(hint), value)
        return value
    if origin in (tuple, list):
        if not isinstance(value, list):
            _fail(where, f"a list ({_describe(hint)})", value)
        if origin is list:
            return [_decode(item, args[0] if args else Any, f"{where}[{i}]") for i, item in enumerate(value)]
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            item_hint = args[0] if args else Any
            return tuple(_decode(item, item_hint, f"{where}[{i}]") for i, item in enumerate(value))
        if len(value) != len(args):
            _fail(where, f"a list of {len(args)} entries", value)
        return tuple(_decode(item, arg, f"{where}[{i}]") for i, (item, arg) in enumerate(zip(value, args)))
    if origin in (dict, Mapping, typing.Mapping) or hint in (dict, Mapping):
        if not isinstance(value, dict):
            _fail(where, "an object", value)
        item_hint = args[1] if len(args) == 2 else Any
        return {key: _decode(item, item_hint, f"{where}.{key}") for key, item in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            _fail(where, f"an object ({hint.__name__})", value)
        return _build(hint, value, f"{where}.")
    if hint is bool:
        if not isinstance(value, bool):
            _fail(where, "a bool", value)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(where, "an int", value)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(where, "a float", value)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            _fail(where, "a str", value)
        return value
    raise TypeError(f"records cannot store fields of type {hint!r} (field `{where}`)")


def _build(cls: type, data: Mapping[str, Any], prefix: str, skip: frozenset[str] = frozenset()) -> Any:
    """Builds dataclass `cls` from `data`, requiring exactly its init fields."""
    hints = typing.get_type_hints(cls)
    fields = [field for field in dataclasses.fields(cls) if field.init]
    names = {field.name for field in fields}
    unknown = sorted(set(data) - names - skip)
    if unknown:
        raise RecordError(f"unknown field(s) {', '.join(f'`{prefix}{k}`' for k in unknown)}; "
                          f"{cls.__name__} has {', '.join(sorted(names)) or 'no fields'}.")
    missing = [field.name for field in fields if field.name not in data]
    if missing:
        raise RecordError(f"missing field(s) {', '.join(f'`{prefix}{k}`' for k in missing)}.")
    values = {field.name: _decode(data[field.name], hints[field.name], f"{prefix}{field.name}")
              for field in fields}
    try:
        return cls(**values)
    except (ValueError, TypeError) as error:
        if isinstance(error, RecordError):
            raise
        raise RecordError(f"{prefix.rstrip('.') or cls.__name__}: {error}") from None


@dataclasses.dataclass(frozen=True)
class Record:
    """Base of frozen dataclasses stored as JSON with a schema name and version.

    Subclasses set the class variables `SCHEMA` (a dotted name, e.g. ``"toy_benchmark.metrics"``) and
    `SCHEMA_VERSION` (an int, raised whenever the fields change), and are decorated with
    ``@dataclasses.dataclass(frozen=True)``.
    """

    SCHEMA: ClassVar[str] = ""
    SCHEMA_VERSION: ClassVar[int] = 0

    @classmethod
    def _check_schema(cls) -> None:
        if not isinstance(cls.SCHEMA, str) or not cls.SCHEMA:
            raise TypeError(f"{cls.__name__} must set SCHEMA to a non-empty str; received {cls.SCHEMA!r}.")
        if isinstance(cls.SCHEMA_VERSION, bool) or not isinstance(cls.SCHEMA_VERSION, int) \
                or cls.SCHEMA_VERSION < 1:
            raise TypeError(f"{cls.__name__} must set SCHEMA_VERSION to a positive int; "
                            f"received {cls.SCHEMA_VERSION!r}.")
        if not dataclasses.is_dataclass(cls) or "__dataclass_fields__" not in cls.__dict__:
            raise TypeError(f"{cls.__name__} must be decorated with @dataclasses.dataclass(frozen=True).")

    def to_dict(self) -> dict[str, Any]:
        """``{"schema", "schema_version", <fields in order>}`` as plain JSON data.

        Raises:
            ValueError: If a field holds NaN or infinity.
            TypeError: If a field holds something JSON cannot represent.
        """
        self._check_schema()
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        content = {"schema": self.SCHEMA, "schema_version": self.SCHEMA_VERSION, **fields}
        return files.to_json_value(content, where=type(self).__name__)

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        """Converts the fields of an older schema version to the current one.

        The default reads only the current version. Override it to read old files: return the fields
        (without ``schema``/``schema_version``) as the current version has them.

        Raises:
            RecordError: Always, in this default.
        """
        raise RecordError(f"schema version {version} of `{cls.SCHEMA}` cannot be read; this code reads "
                          f"version {cls.SCHEMA_VERSION}.")

    @classmethod
    def from_dict(cls: type[_R], data: Mapping[str, Any], *, source: str | None = None) -> _R:
        """Builds the record from `to_dict`'s output, checking every key and type.

        Args:
            data: The dictionary (as read from JSON).
            source: How errors name where `data` came from (a file name); None for "`Name` record".

        Raises:
            RecordError: On another schema or version, a missing or unknown key, or a wrong value type.
        """
        cls._check_schema()
        origin = source or f"{cls.__name__} record"
        try:
            if not isinstance(data, Mapping):
                raise RecordError(f"must be a JSON object; received a {type(data).__name__}.")
            if data.get("schema") != cls.SCHEMA:
                raise RecordError(f"is not a `{cls.SCHEMA}` record (its schema is {data.get('schema')!r}).")
            version = data.get("schema_version")
            if isinstance(version, bool) or not isinstance(version, int):
                _fail("schema_version", "an int", version)
            fields = {key: value for key, value in data.items() if key not in ("schema", "schema_version")}
            if version != cls.SCHEMA_VERSION:
                fields = cls.upgrade(dict(fields), version)
            return _build(cls, fields, "")
        except RecordError as error:
            raise RecordError(f"{origin}: {error}") from None

    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Writes the record as JSON, atomically, after checking that `load` will accept it.

        Raises:
            RecordError: If a field's value does not match its type (nothing is written).
            ValueError, TypeError: As `to_dict`.
        """
        content = self.to_dict()
        type(self).from_dict(content, source=os.fspath(path))  # what is written must read back
        return files.write_json(path, content)

    @classmethod
    def load(cls: type[_R], path: str | os.PathLike) -> _R:
        """Reads a record written by `save`.

        Raises:
            FileNotFoundError: If the file does not exist.
            RecordError: If it is not valid JSON or does not match this record type (names the file).
        """
        path = os.fspath(path)
        try:
            data = files.read_json(path)
        except FileNotFoundError:
            raise
        except ValueError as error:
            raise RecordError(str(error)) from None
        return cls.from_dict(data, source=path)
