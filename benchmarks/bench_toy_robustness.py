r"""Is the toy benchmark's effect robust? The quick profile's protocol over variants (issue #13).

Usage:

  python benchmarks/bench_toy_robustness.py --runs_dir=/tmp/robustness --stage=train
  python benchmarks/bench_toy_robustness.py --runs_dir=/tmp/robustness --stage=report \
      [--num_test=200] [--grid_initial_value=1.0] [--grid_perturbation=noise] [--num_variants=8]
  python benchmarks/bench_toy_robustness.py --runs_dir=/tmp/robustness-e12 --epochs=12 --stage=train
  python benchmarks/bench_toy_robustness.py --runs_dir=/tmp/robustness --backbone=resnet18 --stage=train \
      --biased_only --only=d3-t7-s0 && python benchmarks/bench_toy_robustness.py --runs_dir=/tmp/robustness \
      --backbone=resnet18 --stage=probe --num_test=1000 --only=d3-t7-s0   # screen a lever on one network
  python benchmarks/bench_toy_robustness.py --runs_dir=/tmp/robustness --only=d6-t0-s0,d3-t22-s0 --stage=train
  python benchmarks/bench_toy_robustness.py --runs_dir=/tmp/robustness --stage=probe [--num_test=1000]
  python benchmarks/bench_toy_robustness.py --runs_dir=/tmp/robustness --stage=paired --grid_perturbation=blur \
      [--num_test=1000] [--only=d8-t16-s1]

`--only` names variants d<digit>-t<texture>-s<seed>, the 8 of the table (`VARIANTS`) or any other, e.g.
to swap the digit or the texture of a variant whose network did not learn its bias.

Training levers (`--epochs`, `--num_train`, `--learning_rate`, `--schedule`, `--width`) change the networks, so each
setting needs its own runs folder (a run folder holding a network trained with other settings is refused,
not overwritten); `--backbone` (paper S1.5) puts its networks under `<runs_dir>/<backbone>/` and may share
one. `--stage=train --biased_only` trains only the biased networks, enough for the probe and paired stages
(a quick screen of a lever).

Each variant is the quick profile (`toy_benchmark.benchmark.PROFILES["quick"]`) with another bias digit,
bias texture (from the procedural pool, every one valid by the imitation criterion) and dataset/model
seed; the unbiased network of a seed is shared by the variants of that seed. `--stage=train` trains
every network into the runner's run folders (`train_one`; resumable: a killed training resumes at its
last epoch). `--stage=report` evaluates every trained network (resumable: one evaluation folder per
setting, `<run>/levers/n<num_test>-init<value>[-<perturbation>]/`, so evaluation-only levers reuse the
trained networks) and prints one row per variant: the bias texture's fine-scale contrast
(`toy_benchmark.data.contrast`), the IoU drop, the bias reliance (the biased network's IoU of its digit on
its biased test images minus on the same images with unbiased textures), grid saliency mCBD and grid / IG
/ VG / SG mCBL of the biased digit with bootstrap 95% intervals over images, the constants and
perturbations that imitate the bias for the network (the probe below, on the same test images), each
effect check, the pass rate, and how many of the variants whose network learned the bias pass every
saliency check. Variants whose networks are not trained yet are listed as missing. `--stage=probe`
prints, per trained biased network, whether one of grid saliency's constants, or its blur or noise
perturbation, stands in for its bias texture (`toy_benchmark.evaluation.constant_probe`: the bias digit's
IoU with the context set to each, against intact and with the bias half swapped), which explains a
network that relies on its bias while its grid masks end empty. `--stage=paired` explains, per trained biased
network, the bias digit's images among the first --num_test with grid saliency twice, with the profile's
constant and with --grid_perturbation (blur or noise), and prints both mCBD and mCBL and their differences
paired by image, each with its bootstrap 95% interval (resumable: `<run>/levers/paired-<lever>.json`); it
needs no unbiased network. The process is set up as the toy binaries
set theirs (`make_reproducible(--global_seed)`, op determinism on), so a variant's networks are the
ones `make demo` or `toy-sweep` would train with the same settings. The numbers depend on the machine only
through floating-point order; the time on its load.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import numpy as np
from absl import app, flags

from grid_saliency_tf.experiment import bootstrap_interval
from grid_saliency_tf.experiment.binary import run_binary
from grid_saliency_tf.experiment.files import read_json, to_json_value, write_json
from grid_saliency_tf.perturbations import PERTURBATIONS
from toy_benchmark.benchmark import PROFILES, RunSpec, effect_checks, group_intervals, make_reproducible, train_one
from toy_benchmark.benchmark.intervals import grouped_mean
from toy_benchmark.data.contrast import fine_scale_contrast
from toy_benchmark.data.sources import resolve_sources
from toy_benchmark.data.streaming import dataset_from_sample_fn
from toy_benchmark.data.variant import DatasetVariant
from toy_benchmark.evaluation import (BATCH_SIZE, GRID_SALIENCY_CONSTANTS, PROBED_PERTURBATIONS, ConstantProbe,
                                     build_explainers, constant_probe, evaluate, load_model, saliency_records,
                                     summarize_saliency)
from toy_benchmark.models import BACKBONES
from toy_benchmark.training.schedule import SCHEDULES

#: (bias digit, bias texture, seed): two seeds, six digits, five textures; the first is the demo's.
VARIANTS = ((3, 0, 0), (3, 7, 0), (5, 0, 0), (6, 22, 0), (3, 0, 1), (8, 16, 1), (1, 12, 1), (9, 4, 1))
#: Methods of the table (Seg-Grad-CAM, an extra of this project, is left out to save time).
METHODS = ("grid_saliency", "vanilla_gradient", "integrated_gradients", "smooth_grad")
_SHORT = {"grid_saliency": "grid", "vanilla_gradient": "VG", "integrated_gradients": "IG", "smooth_grad": "SG"}
_CHECKS = ("iou_drop", "bias_learned", "grid_cbd_detects", "grid_cbl_at_least_0.9", "gradients_localize_worse")
#: The checks of the explanation itself; they can only hold for a network that relies on its bias.
_SALIENCY_CHECKS = _CHECKS[2:]

_RUNS_DIR = flags.DEFINE_string("runs_dir", None, "Folder of the runs.", required=True)
_STAGE = flags.DEFINE_enum("stage", "report", ["train", "report", "probe", "paired"], "Train every network; evaluate and "
                           "report; probe which constant context each biased network takes for its bias texture "
                           "(toy_benchmark.evaluation.constant_probe, on its first --num_test biased test images); or "
                           "compare grid saliency with --grid_perturbation against the constant, paired by image.")
_NUM_VARIANTS = flags.DEFINE_integer("num_variants", len(VARIANTS), "Use the first N variants.", lower_bound=1,
                                     upper_bound=len(VARIANTS))
_ONLY = flags.DEFINE_list("only", None, "Only these variants, named d<digit>-t<texture>-s<seed> (e.g. d3-t7-s0; any "
                          "digit 0-9, texture of the pool and seed, not only the 8 of the table), with the "
                          "unbiased networks of their seeds; default: the first --num_variants.")
_NUM_TEST = flags.DEFINE_integer("num_test", PROFILES["quick"].num_test, "Test images per evaluation.")
_GLOBAL_SEED = flags.DEFINE_integer("global_seed", 0, "Global seed of Python, NumPy and TensorFlow, with op "
                                    "determinism on (toy_benchmark.benchmark.make_reproducible), as the binaries.")
_EPOCHS = flags.DEFINE_integer("epochs", PROFILES["quick"].epochs, "Training epochs (a training lever: use its own "
                                "--runs_dir); the last fifth runs at a tenth of the rate, as in the profile.",
                                lower_bound=1)
_NUM_TRAIN = flags.DEFINE_integer("num_train", PROFILES["quick"].num_train, "Training images, distinct samples of "
                                  "the variant (a training lever: use its own --runs_dir).", lower_bound=1)
_LEARNING_RATE = flags.DEFINE_float("learning_rate", PROFILES["quick"].train_learning_rate, "RMSprop rate of the first "
                                    "epochs, a tenth of it for the last fifth, as in the profile (a training lever: "
                                    "use its own --runs_dir).")
flags.register_validator("learning_rate", lambda rate: rate > 0, message="--learning_rate must be positive.")
_SCHEDULE = flags.DEFINE_enum("schedule", PROFILES["quick"].train_schedule, list(SCHEDULES), "Learning-rate "
                              "schedule: step (the profile's, S1.2) or cosine (from --learning_rate to a tenth of it, "
                              "step by step; a training lever: use its own --runs_dir).")
_WIDTH = flags.DEFINE_float("width", PROFILES["quick"].width, "U-Net channel multiplier, > 0 (a training lever: "
                            "use its own --runs_dir).")
flags.register_validator("width", lambda width: width > 0, message="--width must be positive.")
_BACKBONE = flags.DEFINE_enum("backbone", PROFILES["quick"].backbones[0], list(BACKBONES),
                              "U-Net encoder (paper S1.5; a training lever: its run folders are "
                              "<runs_dir>/<backbone>/..., so it may share --runs_dir).")
_BIASED_ONLY = flags.DEFINE_bool("biased_only", False, "--stage=train trains only the biased networks (what the "
                                 "probe and paired stages need), not the unbiased network of each seed.")
_GRID_INITIAL_VALUE = flags.DEFINE_float("grid_initial_value", PROFILES["quick"].grid_initial_value,
                                         "Initial mask value of grid saliency.")
_GRID_PERTURBATION = flags.DEFINE_enum("grid_perturbation", "constant", list(PERTURBATIONS),
                                       "Perturbation of grid saliency (Sec. 3.1): the paper's constant, chosen per "
                                       "image among five grey values (S1.2), or the engine's blur or noise image; an "
                                       "evaluation lever (see --stage=probe for which one a network takes for its bias).")


def variant_profile(digit: int, texture: int, seed: int):
    """The quick profile with one bias variant and seed, and this invocation's training levers."""
    return PROFILES["quick"].replace(bias_digits=(digit,), bias_textures=(texture,), dataset_seeds=(seed,),
                                     epochs=_EPOCHS.value, width=_WIDTH.value, backbones=(_BACKBONE.value,),
                                     num_train=_NUM_TRAIN.value, train_learning_rate=_LEARNING_RATE.value,
                                     train_schedule=_SCHEDULE.value)


def planned(variants) -> list[tuple[RunSpec, Any]]:
    """(spec, profile) of every network: per seed (in order of first use), its unbiased network, then the
    biased ones, so that a stopped training leaves complete variants behind."""
    runs = []
    for seed in dict.fromkeys(s for _, _, s in variants):
        runs.append((_spec(None, None, seed), variant_profile(*variants[0][:2], seed)))
        runs += [(_spec(d, t, s), variant_profile(d, t, s)) for d, t, s in variants if s == seed]
    return runs


def _spec(digit: int | None, texture: int | None, seed: int) -> RunSpec:
    """The run of a strongly biased network (or, with digit and texture None, the unbiased one) with --backbone."""
    return RunSpec(_BACKBONE.value, "none" if digit is None else "strong", digit, texture, seed)


def to_train(variants) -> list[tuple[RunSpec, Any]]:
    """What `--stage=train` trains: `planned`, less the unbiased networks with --biased_only."""
    return [(spec, profile) for spec, profile in planned(variants) if spec.biased or not _BIASED_ONLY.value]


_NAME = re.compile(r"d([0-9])-t([0-9]+)-s([0-9]+)")


def _selected(num_textures: int) -> tuple[tuple[int, int, int], ...]:
    """The variants of this invocation: `--only`'s in their order (each once), else the first `--num_variants`.

    Args:
        num_textures: Size of the texture pool; a variant's texture must be one of its ids.

    Raises:
        app.UsageError: if a name of `--only` is not d<digit 0-9>-t<texture id>-s<seed>.
    """
    if not _ONLY.value:
        return VARIANTS[: _NUM_VARIANTS.value]
    matches = {name: _NAME.fullmatch(name) for name in dict.fromkeys(_ONLY.value)}
    bad = [name for name, match in matches.items() if match is None or int(match[2]) >= num_textures]
    if bad:
        raise app.UsageError(f"Flag --only must name variants d<digit 0-9>-t<texture 0-{num_textures - 1}>-s<seed> "
                             f"(e.g. d3-t7-s0); received {bad!r}.")
    return tuple((int(m[1]), int(m[2]), int(m[3])) for m in matches.values())


def _trained(spec: RunSpec) -> str | None:
    path = os.path.join(_RUNS_DIR.value, spec.key, "train")
    return path if os.path.exists(os.path.join(path, "model.keras")) else None


def evaluation_lever() -> tuple[str, dict[str, Any]]:
    """This invocation's evaluation levers: the name of their folder and grid saliency's arguments.

    The constant perturbation is the profile's: it adds neither a suffix nor an argument, so that evaluations
    made before `--grid_perturbation` existed keep their folders and settings.
    """
    grid_saliency = {**PROFILES["quick"].grid_saliency(), "initial_value": _GRID_INITIAL_VALUE.value}
    lever = f"n{_NUM_TEST.value}-init{_GRID_INITIAL_VALUE.value:g}"
    if _GRID_PERTURBATION.value != "constant":
        grid_saliency["perturbation"] = _GRID_PERTURBATION.value
        lever += f"-{_GRID_PERTURBATION.value}"
    return lever, grid_saliency


def _evaluate(spec: RunSpec, sources, log):
    """The network's evaluation with this invocation's settings (finished ones are found, not redone)."""
    model = _trained(spec)
    if model is None:
        return None
    lever, grid_saliency = evaluation_lever()
    folder = os.path.join(_RUNS_DIR.value, spec.key, "levers", lever)
    log(f"[evaluate] {spec.key} -> {folder}")
    return evaluate(model, folder, biased_test=spec.test_variant(_NUM_TEST.value),
                    unbiased_test=DatasetVariant("none", split="test", num_samples=_NUM_TEST.value), sources=sources,
                    methods=METHODS, grid_saliency=grid_saliency, verbose=1)


def _cell(entry) -> str:
    return "-" if entry is None else f"{entry['estimate']:.2f} [{entry['low']:.2f}, {entry['high']:.2f}]"


def _row(variant, contrast: float, intervals, checks, imitating: str) -> str:
    digit_cbl = [_cell(intervals[f"mcbl/{m}"]["biased_digits"]) for m in METHODS]
    grid_cbd = intervals["mcbd/grid_saliency"]
    images = intervals["mcbl/grid_saliency"]["biased_digits"]
    return " | ".join([
        f"d{variant[0]} t{variant[1]} s{variant[2]}", f"{contrast:.3f}", _cell(intervals["differences"]["iou_drop"]),
        _cell(intervals["differences"].get("bias_reliance")),
        _cell(grid_cbd["biased_digits"]), _cell(grid_cbd["other_digits"]), _cell(grid_cbd["unbiased_network"]),
        *digit_cbl, str(images["num_units"] if images else 0), imitating,
        *({True: "yes", False: "**no**", None: "-"}[checks.get(name)] for name in _CHECKS)])


def _probe_network(spec: RunSpec, sources) -> ConstantProbe | str:
    """`constant_probe` of a trained biased network on the bias digit's images among the first --num_test test
    images, or why there is none: "not trained yet" or "no test image of the bias digit"."""
    path = _trained(spec)
    if path is None:
        return "not trained yet"
    if spec.bias_digit >= _NUM_TEST.value:
        return "no test image of the bias digit"
    generator, digit_images = spec.bias_digit_images(_NUM_TEST.value, sources)
    return constant_probe(load_model(path), generator.generate(digit_images), spec.bias_digit)


def _imitating(probe: ConstantProbe | str) -> str:
    """The constants and perturbations that imitate the bias for the network, "none", or "-" without a probe."""
    if isinstance(probe, str):
        return "-"
    return ", ".join([*(f"{c:g}" for c in probe.imitating), *probe.imitating_perturbations]) or "none"


def _probe(variants, sources) -> None:
    """Prints per trained biased network the bias digit's IoU intact, with its bias half swapped for the other
    half's texture and with the context set to each of grid saliency's constants and to its blur and noise
    perturbation images, and the imitating ones."""
    header = ["variant", "images", "intact", "bias half swapped", *(f"context {c:g}" for c in GRID_SALIENCY_CONSTANTS),
              *(f"context {name}" for name in PROBED_PERTURBATIONS), "imitating"]
    print(f"num_test={_NUM_TEST.value}; IoU of the bias digit on its biased test images")
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for digit, texture, seed in variants:
        probe = _probe_network(_spec(digit, texture, seed), sources)
        if isinstance(probe, str):
            print(f"| d{digit} t{texture} s{seed} | {probe} |")
            continue
        cells = [f"{probe.intact:.2f}", f"{probe.swapped:.2f}",
                 *(f"{v:.2f}" for v in [*probe.constants.values(), *probe.perturbations.values()])]
        print(f"| d{digit} t{texture} s{seed} | {probe.num_images} | " + " | ".join(cells) + f" | {_imitating(probe)} |")


def _paired_values(spec: RunSpec, sources, log) -> dict[str, Any] | str:
    """Per-image CBD and CBL (Eq. 6, 7) of grid saliency with the constant and with --grid_perturbation on the
    same images of the bias digit, stored in ``<run>/levers/paired-<lever>.json`` (found there when present),
    or why there are none (as `_probe_network`)."""
    path = _trained(spec)
    if path is None:
        return "not trained yet"
    if spec.bias_digit >= _NUM_TEST.value:
        return "no test image of the bias digit"
    lever, grid_saliency = evaluation_lever()
    file = os.path.join(_RUNS_DIR.value, spec.key, "levers", f"paired-{lever}.json")
    settings = {"constant": {key: v for key, v in grid_saliency.items() if key != "perturbation"},
                _GRID_PERTURBATION.value: grid_saliency, "num_test": _NUM_TEST.value, "sources": sources.identity()}
    stored = read_json(file, missing_ok=True)
    if stored is not None and stored["settings"] == to_json_value(settings):
        return stored
    log(f"[paired] {spec.key} -> {file}")
    model = load_model(path)
    generator, digit_images = spec.bias_digit_images(_NUM_TEST.value, sources)
    dataset = dataset_from_sample_fn(lambda positions: generator.generate(digit_images[positions]), len(digit_images),
                                     batch_size=BATCH_SIZE)
    stored = {"settings": settings, "images": len(digit_images), "cbd": {}, "cbl": {}}
    for name in ("constant", _GRID_PERTURBATION.value):
        explainers = build_explainers(model, ["grid_saliency"], grid_saliency=settings[name])
        summary = summarize_saliency(saliency_records(model, dataset, explainers, num_examples=0))
        for measure in ("cbd", "cbl"):
            stored[measure][name] = getattr(summary.methods["grid_saliency"], f"{measure}_per_image")
    write_json(file, stored)
    return read_json(file)


def _mean_interval(values) -> Any:
    """Bootstrap interval of the mean of the values that count (not None), or None without one."""
    values = [v for v in values if v is not None]
    return bootstrap_interval(np.array(values)) if values else None


def _paired(variants, sources, log) -> None:
    """Prints per trained biased network grid saliency's mCBD and mCBL of the bias digit with the constant and
    with --grid_perturbation, and their differences paired by image, each with its bootstrap 95% interval."""
    other = _GRID_PERTURBATION.value
    if other == "constant":
        raise app.UsageError("Flag --grid_perturbation must name the perturbation compared with the constant "
                             "(--stage=paired); received 'constant'.")
    header = ["variant", "images", "mCBD constant", f"mCBD {other}", f"CBD {other} - constant", "mCBL constant",
              f"mCBL {other}", f"CBL {other} - constant", "CBL images constant / " + other, "mCBL low >= 0.9"]
    print(f"num_test={_NUM_TEST.value}, grid_initial_value={_GRID_INITIAL_VALUE.value:g}; bias digit's images; "
          "mean [95% bootstrap interval over images]; differences over the images where both count")
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    pooled = []  # (variant's index, paired CBL difference) of every image where both count
    for index, (digit, texture, seed) in enumerate(variants):
        values = _paired_values(_spec(digit, texture, seed), sources, log)
        if isinstance(values, str):
            print(f"| d{digit} t{texture} s{seed} | {values} |")
            continue
        cells, by_measure = [], {}
        for measure in ("cbd", "cbl"):
            a, b = values[measure]["constant"], values[measure][other]
            differences = [y - x for x, y in zip(a, b) if x is not None and y is not None]
            by_measure[measure] = [_mean_interval(a), _mean_interval(b)], differences
            cells += [_cell(m and m.to_json()) for m in [*by_measure[measure][0], _mean_interval(differences)]]
        means, differences = by_measure["cbl"]  # mCBL's intervals give the 0.9 verdicts; CBL's differences pool
        pooled += [(index, d) for d in differences]
        counts = [sum(v is not None for v in values["cbl"][name]) for name in ("constant", other)]
        verdicts = " / ".join("-" if m is None else ("yes" if m.low >= 0.9 else "no") for m in means)
        print(f"| d{digit} t{texture} s{seed} | {values['images']} | " + " | ".join(cells)
              + f" | {counts[0]} / {counts[1]} | {verdicts} |")
    if pooled:
        mean = bootstrap_interval(np.array(pooled, np.float64), grouped_mean)
        print(f"CBL {other} - constant, mean over the {len({n for n, _ in pooled})} networks of their paired means: "
              f"{_cell(mean.to_json())} ({mean.num_units} images)")


def main(argv):
    del argv
    # As every toy binary (so `make demo`) does; networks this script trained without it (session 4) had
    # other weights than the demo's with the same settings.
    make_reproducible(_GLOBAL_SEED.value, op_determinism=True)
    sources = resolve_sources()
    variants = _selected(len(sources.textures))
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    if _STAGE.value == "train":
        for spec, profile in to_train(variants):
            record = train_one(spec, profile, _RUNS_DIR.value, sources=sources, log=log)
            log(f"{spec.key}: trained in {record.training_seconds:.0f} s")
        return 0
    if _STAGE.value == "probe":
        _probe(variants, sources)
        return 0
    if _STAGE.value == "paired":
        _paired(variants, sources, log)
        return 0
    metrics = {spec: _evaluate(spec, sources, log) for spec, _ in planned(variants)}
    header = ["variant", "texture contrast", "IoU drop", "bias reliance", "grid mCBD biased digit", "other digits",
              "unbiased net", *(f"{_SHORT[m]} mCBL" for m in METHODS), "CBL images", "imitating (probe)", *_CHECKS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    passed, measured, learned, explained, missing = 0, 0, 0, 0, []
    for digit, texture, seed in variants:
        spec = _spec(digit, texture, seed)
        unbiased = metrics[_spec(None, None, seed)]
        if metrics[spec] is None or unbiased is None:
            missing.append(spec.key)
            continue
        intervals = group_intervals([unbiased], {spec: metrics[spec]}, METHODS)
        checks = effect_checks({"group": intervals}, METHODS)["group"]
        measured += 1
        passed += all(checks.get(name) for name in _CHECKS)
        if checks.get("bias_learned"):
            learned += 1
            explained += all(checks.get(name) for name in _SALIENCY_CHECKS)
        contrast = fine_scale_contrast(sources.textures.textures[texture])
        imitating = _imitating(_probe_network(spec, sources))
        lines.append("| " + _row((digit, texture, seed), contrast, intervals, checks, imitating) + " |")
    print(f"backbone={_BACKBONE.value}, epochs={_EPOCHS.value}, num_train={_NUM_TRAIN.value}, "
          f"learning_rate={_LEARNING_RATE.value:g}, schedule={_SCHEDULE.value}, width={_WIDTH.value:g}, "
          f"num_test={_NUM_TEST.value}, "
          f"grid_initial_value={_GRID_INITIAL_VALUE.value:g}, grid_perturbation={_GRID_PERTURBATION.value}; "
          "mean [95% bootstrap interval over images]")
    print("\n".join(lines))
    print(f"variants passing every check: {passed} of {measured} measured"
          + (f"; not trained yet: {', '.join(missing)}" if missing else ""))
    print(f"variants whose network learned the bias (bias_learned): {learned} of {measured}; of these, "
          f"{explained} pass every saliency check ({', '.join(_SALIENCY_CHECKS)})")
    return 0


if __name__ == "__main__":
    run_binary(main, name="bench_toy_robustness")
