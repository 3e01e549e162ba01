"""Typed records: round trip, strict reading (missing/unknown keys, types, versions) naming file and field."""

import dataclasses
from typing import Any, ClassVar, Literal

import numpy as np
import pytest

from grid_saliency_tf.experiment import files
from grid_saliency_tf.experiment.records import Record, RecordError


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    mcbl_per_digit: tuple[float | None, ...]


@dataclasses.dataclass(frozen=True)
class Metrics(Record):
    SCHEMA: ClassVar[str] = "test.metrics"
    SCHEMA_VERSION: ClassVar[int] = 2

    num_test: int
    mean_iou: float
    converged: bool
    mode: Literal["context", "object"]
    grid_shape: tuple[int, int]
    methods: tuple[Method, ...]
    extra: dict[str, Any]
    note: str | None = None

    def __post_init__(self):
        if self.num_test < 1:
            raise ValueError(f"Argument `num_test` must be positive; received {self.num_test}.")


def _metrics(**changes):
    values = dict(num_test=10, mean_iou=0.75, converged=True, mode="context", grid_shape=(16, 32),
                  methods=(Method("grid", (0.5, None)),), extra={"any": [1, "x"]}, note=None)
    return Metrics(**{**values, **changes})


def test_round_trip_through_a_file(tmp_path):
    metrics = _metrics()
    path = metrics.save(tmp_path / "eval" / "metrics.json")
    data = files.read_json(path)
    assert list(data)[:3] == ["schema", "schema_version", "num_test"]
    assert data["schema"] == "test.metrics" and data["schema_version"] == 2
    assert data["methods"] == [{"name": "grid", "mcbl_per_digit": [0.5, None]}]
    assert Metrics.load(path) == metrics


def test_numpy_scalars_are_written_as_numbers():
    metrics = _metrics(num_test=np.int64(10), mean_iou=np.float32(0.5))
    data = metrics.to_dict()
    assert type(data["num_test"]) is int and type(data["mean_iou"]) is float
    assert Metrics.from_dict(data) == _metrics(mean_iou=0.5)


def test_an_int_reads_as_a_float_but_not_the_reverse():
    data = _metrics().to_dict()
    assert Metrics.from_dict({**data, "mean_iou": 1}).mean_iou == 1.0
    with pytest.raises(RecordError, match=r"field `num_test` must be an int; received 1\.5"):
        Metrics.from_dict({**data, "num_test": 1.5})
    with pytest.raises(RecordError, match=r"field `num_test` must be an int; received True"):
        Metrics.from_dict({**data, "num_test": True})


def test_nan_is_refused_when_saving_naming_the_field(tmp_path):
    with pytest.raises(ValueError, match=r"Metrics\.mean_iou.*finite"):
        _metrics(mean_iou=float("nan")).save(tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def test_errors_name_the_file_and_the_field(tmp_path):
    path = tmp_path / "metrics.json"
    data = _metrics().to_dict()
    cases = {
        "missing field.*`mean_iou`": {k: v for k, v in data.items() if k != "mean_iou"},
        "unknown field.*`iou`": {**data, "iou": 0.5},
        r"`methods\[0\]\.mcbl_per_digit\[1\]` must be a float or None; received 'x'":
            {**data, "methods": [{"name": "g", "mcbl_per_digit": [0.5, "x"]}]},
        r"unknown field.*`methods\[0\]\.extra`":
            {**data, "methods": [{"name": "g", "mcbl_per_digit": [], "extra": 1}]},
        r"`grid_shape` must be a list of 2 entries": {**data, "grid_shape": [16]},
        r"`mode` must be one of 'context', 'object'; received 'both'": {**data, "mode": "both"},
        r"num_test` must be positive; received 0": {**data, "num_test": 0},
        r"is not a `test\.metrics` record.*'other'": {**data, "schema": "other"},
        r"schema version 1 of `test\.metrics` cannot be read; this code reads version 2":
            {**data, "schema_version": 1},
    }
    for message, content in cases.items():
        files.write_json(path, content)
        with pytest.raises(RecordError, match=rf"^{path}: .*{message}"):
            Metrics.load(path)


def test_an_older_version_is_read_through_upgrade():
    @dataclasses.dataclass(frozen=True)
    class Renamed(Record):
        SCHEMA: ClassVar[str] = "test.renamed"
        SCHEMA_VERSION: ClassVar[int] = 2
        iou: float

        @classmethod
        def upgrade(cls, data, version):
            if version == 1:
                return {"iou": data.pop("mean_iou")}
            return super().upgrade(data, version)

    assert Renamed.from_dict({"schema": "test.renamed", "schema_version": 1, "mean_iou": 0.5}) == Renamed(0.5)
    with pytest.raises(RecordError, match="schema version 0"):
        Renamed.from_dict({"schema": "test.renamed", "schema_version": 0, "iou": 0.5})


def test_a_record_type_must_name_its_schema():
    @dataclasses.dataclass(frozen=True)
    class Unnamed(Record):
        value: int

    with pytest.raises(TypeError, match="must set SCHEMA"):
        Unnamed(1).to_dict()


def test_unreadable_file_is_a_record_error(tmp_path):
    (tmp_path / "m.json").write_text("{")
    with pytest.raises(RecordError, match="not valid JSON"):
        Metrics.load(tmp_path / "m.json")
    with pytest.raises(FileNotFoundError):
        Metrics.load(tmp_path / "absent.json")
