"""The benchmark protocol, run and resumed (paper Sec. 4.2, Fig. 4; supplement S1.2-S1.6).

Every run is a `grid_saliency_tf.experiment.RunFolder` ``<runs_dir>/<backbone>/<variant>-s<seed>/`` of
kind ``toy_benchmark.benchmark_run``:

    run.json        the run's settings (`RunSpec.settings`); a folder holding another run is refused
                    unless ``overwrite``
    train/          the training output (checkpoints every epoch; an interrupted training resumes)
    eval/           the evaluation's run folder: metrics.json and examples.png
    result.json     the run's record (`RunRecord`): its own training and evaluation times; written
                    after the training and again after the evaluation, which marks the run finished
    probe.json      biased runs: what stands in for the bias texture for the network
                    (`toy_benchmark.evaluation.constant_probe` on the bias digit's test images)
    sweeps/         grid saliency parameter sweeps (Fig. S11), one evaluation folder per setting

Rerunning a benchmark skips the finished runs and resumes the others, so a killed job loses at most
the epoch or the evaluation it was in. The report folder is a run folder too (kind
``toy_benchmark.report``, settings: the profile), opened first, so that a report of another profile
is refused before any training. The dataset sources are resolved once per benchmark. The report's
timing is the sum of the times the runs recorded, so a rerun that only finds finished runs reports the
same compute time as the run that did the work.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable
from typing import Any, ClassVar

import keras

from grid_saliency_tf.experiment import Record, RunFolder, copy_file, read_json, write_json
from toy_benchmark.benchmark import report
from toy_benchmark.benchmark.aggregation import aggregate, profile_summary
from toy_benchmark.benchmark.profiles import PARAMETER_SWEEPS, Profile, grid_saliency_default
from toy_benchmark.benchmark.reproducibility import environment_record
from toy_benchmark.benchmark.specs import RunSpec, SweepSpec, plan_runs, plan_sweeps
from toy_benchmark.data.sources import DataSources, resolve_sources
from toy_benchmark.data.variant import DatasetVariant
from toy_benchmark.evaluation import evaluator
from toy_benchmark.evaluation.constant_probe import constant_probe
from toy_benchmark.evaluation.explainers import ExplainerPool
from toy_benchmark.evaluation.metrics_record import MetricsRecord
from toy_benchmark.training import toy_training_data, train_toy_unet

__all__ = ["PROBE_FILE", "REPORT_KIND", "RESULT_FILE", "RUN_KIND", "BenchmarkResults", "RunRecord", "probe_one",
           "run_benchmark", "run_one", "run_sweeps", "train_one"]

RUN_KIND = "toy_benchmark.benchmark_run"
REPORT_KIND = "toy_benchmark.report"
RESULT_FILE = "result.json"
PROBE_FILE = "probe.json"
_EVAL_FOLDER = "eval"
_TRAIN_FOLDER = "train"

Log = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class RunRecord(Record):
    """The record of one benchmark run: the time it spent, stored as its ``result.json``.

    Attributes:
        key: The run's folder relative to the runs folder.
        training_seconds: Wall-clock time of the training that finished the network (a training resumed
            after an interruption counts the resumed part).
        evaluation_seconds: Wall-clock time of its evaluation; None until the evaluation is finished.
    """

    SCHEMA: ClassVar[str] = "toy_benchmark.run_result"
    SCHEMA_VERSION: ClassVar[int] = 1

    key: str
    training_seconds: float
    evaluation_seconds: float | None

    @property
    def finished(self) -> bool:
        """Whether the run is trained and evaluated."""
        return self.evaluation_seconds is not None


@dataclasses.dataclass(frozen=True)
class BenchmarkResults:
    """Everything a benchmark computed, as its records.

    Attributes:
        metrics: Per run, its evaluation record.
        records: Per run, its :class:`RunRecord`.
        sweeps: Per sweep setting, its evaluation record.
        probes: Per biased run with a test image of its bias digit, its constant probe (`ConstantProbe.to_json`).
    """

    metrics: dict[RunSpec, MetricsRecord]
    records: dict[RunSpec, RunRecord]
    sweeps: dict[SweepSpec, MetricsRecord]
    probes: dict[RunSpec, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def timing(self) -> dict[str, float]:
        """Seconds the runs recorded: training, evaluation and parameter sweeps."""
        evaluated = {id(m): m for m in self.sweeps.values()}  # a repeated sweep setting shares its record
        return {"training": sum(r.training_seconds for r in self.records.values()),
                "evaluation": sum(r.evaluation_seconds or 0.0 for r in self.records.values()),
                "parameter_sweeps": sum(m.seconds for m in evaluated.values())}


def _train(spec: RunSpec, profile: Profile, run: RunFolder, sources: DataSources, verbose: int,
           overwrite: bool) -> keras.Model:
    variant = spec.train_variant(profile).to_config()
    del variant["split"]  # the training wing takes the fields of the training split's variant
    data = toy_training_data(variant, sources=sources)
    result = train_toy_unet(data, run.file(_TRAIN_FOLDER), backbone=spec.backbone, width=profile.width,
                            seed=spec.model_seed, epochs=profile.epochs, batch_size=profile.batch_size,
                            learning_rate=profile.train_learning_rate, final_learning_rate=profile.final_learning_rate,
                            schedule=profile.train_schedule,
                            tensorboard=True, overwrite=overwrite, verbose=verbose)
    return result.model


def _open_run(spec: RunSpec, profile: Profile, runs_dir: str | os.PathLike, sources: DataSources,
              overwrite: bool) -> RunFolder:
    settings = {**spec.settings(profile), "sources": sources.identity()}
    return RunFolder.open(os.path.join(runs_dir, spec.key), kind=RUN_KIND, settings=settings, overwrite=overwrite)


def _trained(spec: RunSpec, profile: Profile, run: RunFolder, record: RunRecord | None, sources: DataSources,
             log: Log, verbose: int, overwrite: bool) -> tuple[evaluator.ModelSource, RunRecord]:
    """The run's network (trained now, or the path of the finished training) and its record."""
    if record is not None:
        return run.file(_TRAIN_FOLDER), record
    log(f"[train] {spec.key}")
    start = time.monotonic()
    model = _train(spec, profile, run, sources, verbose, overwrite)
    record = RunRecord(spec.key, time.monotonic() - start, None)
    record.save(run.file(RESULT_FILE))
    return model, record


def train_one(spec: RunSpec, profile: Profile, runs_dir: str | os.PathLike, *, sources: DataSources,
              log: Log = print, verbose: int = 0, overwrite: bool = False) -> RunRecord:
    """Trains (or resumes, or finds trained) the network of one run, without evaluating it.

    A later `run_one` on the same folder finds the training done and only evaluates. Used to train many
    networks first (benchmarks/bench_toy_robustness.py) and evaluate them with other settings later.

    Args:
        spec: The run.
        profile: Its profile.
        runs_dir: The runs folder.
        sources: The resolved texture pool and MNIST digits.
        log: Receives one line per step.
        verbose: Progress of training (0 quiet, 1 bars, 2 a line per step).
        overwrite: Replace a folder holding another run.

    Returns:
        The run's :class:`RunRecord` (its training time; the evaluation time if it was evaluated).

    Raises:
        RunFolderMismatch: If the run's folder holds another run and not ``overwrite``.
    """
    with _open_run(spec, profile, runs_dir, sources, overwrite) as run:
        record = RunRecord.load(run.file(RESULT_FILE)) if run.exists(RESULT_FILE) else None
        _, record = _trained(spec, profile, run, record, sources, log, verbose, overwrite)
    keras.backend.clear_session()
    return record


def _evaluate(spec: RunSpec, profile: Profile, run: RunFolder, model: evaluator.ModelSource, sources: DataSources,
              verbose: int, overwrite: bool) -> MetricsRecord:
    return evaluator.evaluate(
        model, run.file(_EVAL_FOLDER), biased_test=spec.test_variant(profile.num_test),
        unbiased_test=DatasetVariant("none", split="test", num_samples=profile.num_test), sources=sources,
        methods=profile.methods, grid_saliency=profile.grid_saliency(), info=spec.settings(profile),
        overwrite=overwrite, verbose=verbose)


def run_one(spec: RunSpec, profile: Profile, runs_dir: str | os.PathLike, *, sources: DataSources,
            log: Log = print, verbose: int = 0, overwrite: bool = False) -> tuple[MetricsRecord, RunRecord]:
    """Trains (or resumes) and evaluates one run, unless it is finished (a finished run evaluated before
    metrics.json version 4 gets its biased test set's IoU, see `evaluate`).

    Args:
        spec: The run.
        profile: Its profile.
        runs_dir: The runs folder.
        sources: The resolved texture pool and MNIST digits (`toy_benchmark.resolve_sources`).
        log: Receives one line per step.
        verbose: Progress of training and evaluation (0 quiet, 1 bars, 2 a line per step).
        overwrite: Replace a folder holding another run.

    Returns:
        The run's evaluation record and its :class:`RunRecord`.

    Raises:
        RunFolderMismatch: If the run's folder holds another run and not ``overwrite``.
    """
    with _open_run(spec, profile, runs_dir, sources, overwrite) as run:
        record = RunRecord.load(run.file(RESULT_FILE)) if run.exists(RESULT_FILE) else None
        if record is not None and record.finished:
            metrics = MetricsRecord.load(run.file(f"{_EVAL_FOLDER}/{evaluator.METRICS_FILE}"))
            if metrics.biased_segmentation is not None:
                log(f"[skip] {spec.key}: finished")
                return metrics, record
            # Evaluated before metrics.json version 4: `evaluate` adds the biased test set's IoU (one pass).
            log(f"[complete] {spec.key}: IoU on the biased test set")
            return _evaluate(spec, profile, run, run.file(_TRAIN_FOLDER), sources, verbose, overwrite), record
        model, record = _trained(spec, profile, run, record, sources, log, verbose, overwrite)
        log(f"[evaluate] {spec.key}")
        metrics = _evaluate(spec, profile, run, model, sources, verbose, overwrite)
        record = dataclasses.replace(record, evaluation_seconds=metrics.seconds)
        record.save(run.file(RESULT_FILE))
    keras.backend.clear_session()
    return metrics, record


def probe_one(spec: RunSpec, profile: Profile, runs_dir: str | os.PathLike, *, sources: DataSources,
              log: Log = print) -> dict[str, Any] | None:
    """The constant probe of a trained biased run, measured once and kept as its ``probe.json``.

    Whether one of grid saliency's constants (supplement S1.2), or its blur or noise image, stands in for the
    bias texture for the network (`toy_benchmark.evaluation.constant_probe`), on the bias digit's images among
    the profile's ``num_test`` biased test images (the images the evaluation explains): an imitating
    constant lets every mask drop the bias half at no cost (docs/toy_benchmark.md).

    Returns:
        `ConstantProbe.to_json`'s data; None for an unbiased run or where no test image shows the bias digit.

    Raises:
        RunFolderMismatch: If the run's folder holds another run.
    """
    if not spec.biased or spec.bias_digit >= profile.num_test:  # sample i shows digit i mod 10
        return None
    with _open_run(spec, profile, runs_dir, sources, overwrite=False) as run:
        if run.exists(PROBE_FILE):
            return read_json(run.file(PROBE_FILE))
        log(f"[probe] {spec.key}")
        generator, digit_images = spec.bias_digit_images(profile.num_test, sources)
        samples = generator.generate(digit_images)
        probe = constant_probe(evaluator.load_model(run.file(_TRAIN_FOLDER)), samples, spec.bias_digit).to_json()
        write_json(run.file(PROBE_FILE), probe)
    keras.backend.clear_session()
    return probe


def run_sweeps(sweeps: list[SweepSpec], profile: Profile, runs_dir: str | os.PathLike, *, sources: DataSources,
               log: Log = print, verbose: int = 0, overwrite: bool = False) -> dict[SweepSpec, MetricsRecord]:
    """Grid saliency parameter sweeps (Fig. S11) on trained biased networks, resumable.

    Each network is loaded once, and only if one of its settings is not finished; its settings share one
    compiled grid saliency optimisation (`ExplainerPool`: the swept parameters are tensors of it, so
    nothing is traced again per setting). A setting equal to one already evaluated on the same network
    (the profile's own value of each parameter appears in every parameter's sweep) takes that one's record
    instead of being evaluated again.

    Returns:
        Per sweep setting, its evaluation record.
    """
    load = functools.lru_cache(maxsize=1)(evaluator.load_model)
    pool = ExplainerPool()
    results: dict[SweepSpec, MetricsRecord] = {}
    done: dict[tuple[str, tuple[tuple[str, Any], ...]], SweepSpec] = {}
    for sweep in sweeps:
        settings = {**{argument: grid_saliency_default(argument) for argument in PARAMETER_SWEEPS.values()},
                    **sweep.grid_saliency(profile)}
        setting = (sweep.run.key, tuple(sorted(settings.items())))
        if setting in done:
            results[sweep] = results[done[setting]]
            continue
        done[setting] = sweep
        folder = os.path.join(runs_dir, sweep.run.key)
        output_dir = os.path.join(folder, sweep.folder)
        if not os.path.exists(os.path.join(output_dir, evaluator.METRICS_FILE)):
            log(f"[sweep] {sweep.run.key}: {sweep.parameter} = {sweep.value:g}")
        results[sweep] = evaluator.evaluate(
            functools.partial(load, os.path.join(folder, _TRAIN_FOLDER)), output_dir,
            biased_test=sweep.run.test_variant(profile.sweep_num_test), unbiased_test=None, sources=sources,
            methods=("grid_saliency",), num_examples=0, grid_saliency=sweep.grid_saliency(profile),
            info=sweep.settings(profile), explainer_pool=pool, overwrite=overwrite, verbose=verbose)
    return results


def _run_all(profile: Profile, runs_dir: str | os.PathLike, sources: DataSources, log: Log, verbose: int,
             overwrite: bool) -> BenchmarkResults:
    runs = plan_runs(profile)
    metrics, records = {}, {}
    for index, spec in enumerate(runs, 1):
        log(f"run {index}/{len(runs)}")
        metrics[spec], records[spec] = run_one(spec, profile, runs_dir, sources=sources, log=log, verbose=verbose,
                                               overwrite=overwrite)
    probes = {spec: probe_one(spec, profile, runs_dir, sources=sources, log=log) for spec in runs}
    sweeps = run_sweeps(plan_sweeps(profile, runs), profile, runs_dir, sources=sources, log=log, verbose=verbose,
                        overwrite=overwrite)
    return BenchmarkResults(metrics, records, sweeps, {spec: p for spec, p in probes.items() if p is not None})


def run_benchmark(profile: Profile, runs_dir: str | os.PathLike, *, report_dir: str | os.PathLike | None = None,
                  sources: DataSources | None = None, environment: dict[str, Any] | None = None, log: Log = print,
                  verbose: int = 0, overwrite: bool = False) -> tuple[dict[str, Any], str | None]:
    """Runs (or resumes) every run and sweep of a profile, aggregates them and writes the report.

    Args:
        profile: The benchmark profile.
        runs_dir: Folder of the runs.
        report_dir: The report's run folder (report.md, figures, CSV, JSON, every run's examples); None
            for no report.
        sources: The resolved texture pool and MNIST digits (`toy_benchmark.resolve_sources`), used by every
            run; None for the defaults (procedural textures, bundled digits).
        environment: How the process was set up for reproducible numbers (the binary's
            `make_reproducible` record), stored in the report as ``environment``; None records this
            process as it is (`environment_record`).
        log: Receives one line per step.
        verbose: Progress of training and evaluation (0 quiet, 1 bars, 2 a line per step).
        overwrite: Replace run, evaluation and report folders holding other settings.

    Returns:
        ``(aggregated, report_path)``: :func:`~toy_benchmark.benchmark.aggregation.aggregate`'s result with
        ``environment`` added, and the path of ``report.md`` (None without ``report_dir``).

    Raises:
        RunFolderMismatch: If a folder holds other settings and not ``overwrite``.
        ValueError: If the profile does not validate.
    """
    profile.validate()
    sources = resolve_sources(sources=sources)
    environment = {"environment": dict(environment or environment_record())}
    if report_dir is None:
        results = _run_all(profile, runs_dir, sources, log, verbose, overwrite)
        return {**aggregate(profile, results.metrics, results.sweeps, results.timing(), probes=results.probes),
                **environment}, None
    settings = {"profile": profile_summary(profile), "sources": sources.identity()}
    with RunFolder.open(report_dir, kind=REPORT_KIND, settings=settings, overwrite=overwrite) as folder:
        results = _run_all(profile, runs_dir, sources, log, verbose, overwrite)
        examples = {}
        for spec in results.metrics:
            source = os.path.join(runs_dir, spec.key, _EVAL_FOLDER, evaluator.EXAMPLES_FILE)
            if os.path.exists(source):
                examples[spec.key] = f"examples_{spec.key.replace('/', '_')}.png"
                copy_file(source, folder.file(examples[spec.key]))
        aggregated = {**aggregate(profile, results.metrics, results.sweeps, results.timing(), examples,
                                  probes=results.probes), **environment}
        path = report.write_report(aggregated, folder.path, runs_dir=os.fspath(runs_dir))
    return aggregated, path
