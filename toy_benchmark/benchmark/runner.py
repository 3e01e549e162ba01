"""The benchmark protocol, run and resumed (paper Sec. 4.2, Fig. 4; supplement S1.2-S1.6).

Every run lives in its own folder ``<runs_dir>/<backbone>/<variant>-s<seed>/``:

    run.json        the run's settings, written first; a folder holding another run is an error
    train/          the training output (checkpoints every epoch; an interrupted training resumes)
    eval/           metrics.json and examples.png, written atomically: a run is finished iff its
                    eval/metrics.json exists and records the same settings
    sweeps/         grid saliency parameter sweeps (Fig. S11), one metrics.json per setting

Rerunning a benchmark skips the finished runs and resumes the others, so a killed job loses at most
the epoch or the evaluation it was in. The dataset sources are resolved once per benchmark.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from typing import Any

import keras

from toy_benchmark.atomic import write_json_atomic
from toy_benchmark.benchmark.aggregation import aggregate
from toy_benchmark.benchmark.profiles import Profile
from toy_benchmark.benchmark.specs import RunSpec, SweepSpec, plan_runs, plan_sweeps
from toy_benchmark.data.streaming import resolve_sources
from toy_benchmark.data.variant import DatasetVariant
from toy_benchmark.evaluation import evaluator as evaluation
from toy_benchmark.evaluation.metrics_record import METRICS_FILE
from toy_benchmark.training import trainer as training

__all__ = ["RUN_FILE", "run_benchmark", "run_one", "run_sweeps"]

RUN_FILE = "run.json"


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path!r}: {error}") from None


def _claim_folder(folder: str, config: Mapping[str, Any]) -> None:
    """Records the run's configuration in its folder, refusing a folder that belongs to another run."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, RUN_FILE)
    found = _read_json(path)
    if found is None:
        write_json_atomic(path, config)
    elif found != json.loads(json.dumps(config)):
        raise ValueError(f"{folder!r} holds a different run (see its {RUN_FILE}); choose another --runs_dir")


def _finished(path: str, config: Mapping[str, Any]) -> dict[str, Any] | None:
    metrics = _read_json(path)
    if metrics is not None and metrics.get("run") == json.loads(json.dumps(config)):
        return metrics
    return None


def run_one(spec: RunSpec, profile: Profile, runs_dir: str, *, textures: Any = None, mnist: Any = None,
            log: Callable[[str], None] = print, verbose: int = 0) -> dict[str, Any]:
    """Trains (or resumes) and evaluates one run, unless it is finished; returns its metrics."""
    folder = os.path.join(runs_dir, spec.key)
    config = spec.settings(profile)
    done = _finished(os.path.join(folder, "eval", METRICS_FILE), config)
    if done is not None:
        log(f"[skip] {spec.key}: finished")
        return done
    _claim_folder(folder, config)
    log(f"[train] {spec.key}")
    variant = spec.train_variant(profile).to_config()
    del variant["split"]
    data = training.toy_training_data(variant, textures=textures, mnist=mnist)
    result = training.train_toy_unet(data, os.path.join(folder, "train"), backbone=spec.backbone,
                                     width=profile.width, seed=spec.model_seed, epochs=profile.epochs,
                                     batch_size=profile.batch_size, learning_rate=profile.train_learning_rate,
                                     final_learning_rate=profile.final_learning_rate, tensorboard=True,
                                     verbose=verbose)
    log(f"[evaluate] {spec.key}")
    metrics = evaluation.evaluate(
        result.model, os.path.join(folder, "eval"), biased_test=spec.test_variant(profile.num_test),
        unbiased_test=DatasetVariant("none", split="test", num_samples=profile.num_test), textures=textures,
        mnist=mnist, methods=profile.methods, grid_saliency=profile.grid_saliency(), info=config,
        verbose=verbose)
    keras.backend.clear_session()
    return metrics


def run_sweeps(sweeps: list[SweepSpec], profile: Profile, runs_dir: str, *, textures: Any = None,
               mnist: Any = None, log: Callable[[str], None] = print) -> dict[SweepSpec, dict[str, Any]]:
    """Grid saliency parameter sweeps (Fig. S11) on trained biased networks, resumable."""
    results: dict[SweepSpec, dict[str, Any]] = {}
    models: dict[RunSpec, keras.Model] = {}
    for sweep in sweeps:
        config = sweep.settings(profile)
        out = os.path.join(runs_dir, sweep.run.key, sweep.folder)
        metrics = _finished(os.path.join(out, METRICS_FILE), config)
        if metrics is None:
            if sweep.run not in models:
                models.clear()
                models[sweep.run] = evaluation.load_model(os.path.join(runs_dir, sweep.run.key, "train"))
            log(f"[sweep] {sweep.run.key}: {sweep.parameter} = {sweep.value:g}")
            metrics = evaluation.evaluate(
                models[sweep.run], out, biased_test=sweep.run.test_variant(profile.sweep_num_test),
                unbiased_test=None, textures=textures, mnist=mnist, methods=("grid_saliency",), num_examples=0,
                grid_saliency=sweep.grid_saliency(profile), info=config)
        results[sweep] = metrics
    return results


def run_benchmark(profile: Profile, runs_dir: str, *, textures: Any = None, mnist: Any = None,
                  log: Callable[[str], None] = print, verbose: int = 0,
                  report_dir: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Runs (or resumes) every run and sweep of a profile and aggregates them.

    Args:
        profile: The benchmark profile.
        runs_dir: Folder of the runs.
        textures, mnist: Dataset sources (None: procedural textures, bundled MNIST), resolved once here.
        log: Receives one line per step.
        verbose: Progress bars of training and evaluation when > 0.
        report_dir: If given, every run's ``examples.png`` is copied there.

    Returns:
        ``(aggregated, examples)``: :func:`aggregate`'s result, and a map from run key to the name of
        its example figure inside ``report_dir``.
    """
    runs = plan_runs(profile)
    textures, mnist = resolve_sources(textures, mnist)
    metrics = {}
    for index, spec in enumerate(runs, 1):
        log(f"run {index}/{len(runs)}")
        metrics[spec] = run_one(spec, profile, runs_dir, textures=textures, mnist=mnist, log=log, verbose=verbose)
    sweeps = run_sweeps(plan_sweeps(profile, runs), profile, runs_dir, textures=textures, mnist=mnist, log=log)
    examples: dict[str, str] = {}
    if report_dir is not None:
        os.makedirs(report_dir, exist_ok=True)
        for spec in runs:
            source = os.path.join(runs_dir, spec.key, "eval", evaluation.EXAMPLES_FILE)
            if os.path.exists(source):
                name = f"examples_{spec.key.replace('/', '_')}.png"
                temporary = os.path.join(report_dir, name + ".tmp")
                shutil.copyfile(source, temporary)
                os.replace(temporary, os.path.join(report_dir, name))
                examples[spec.key] = name
    return aggregate(profile, metrics, sweeps), examples
