"""The benchmark protocol: planning, resumable runs, aggregation into the paper's matrices, the binary."""

import dataclasses
import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from toy_benchmark.benchmark import (PARAMETER_SWEEPS, PROFILES, Profile, RunSpec, aggregate, plan_runs, plan_sweeps,
                                     report)
from toy_benchmark.benchmark import runner as protocol
from toy_benchmark.benchmark.reproducibility import onednn_enabled
from toy_benchmark.data import DatasetVariant, SampleGenerator
from toy_benchmark.data.sources import resolve_sources
from toy_benchmark.evaluation import (MethodSummary, MetricsRecord, SaliencySummary, SegmentationMetrics, constant_probe,
                                     load_model)

pytestmark = pytest.mark.heavy  # holds tests of 15 s or more: scheduled first (tests/conftest.py)

TINY = Profile(
    "tiny", backbones=("vgg16",), bias_strengths=("strong",), bias_digits=(3,), bias_textures=(7,), dataset_seeds=(0,),
    width=0.0625, epochs=1, batch_size=20, num_train=40, num_test=10, grid_steps=2,
    methods=("grid_saliency", "vanilla_gradient"), sweep_values={"lambda": (0.05,), "momentum": (0.0, 0.5)},
    sweep_num_test=10)


def test_paper_profile_plans_the_whole_protocol():
    paper = PROFILES["paper"]
    runs = plan_runs(paper)
    textures = paper.textures()
    assert len(textures) == 5 and len(set(textures)) == 5 and all(0 <= t < 25 for t in textures)
    # 3 backbones x (5 unbiased seeds + 2 strengths x 10 digits x 5 textures x 5 seeds)
    assert len(runs) == 3 * (5 + 2 * 10 * 5 * 5)
    assert len({run.key for run in runs}) == len(runs)
    assert (paper.epochs, paper.batch_size, paper.num_train, paper.num_test, paper.grid_steps) == (50, 100, 50_000,
                                                                                                    1_000, 100)


def test_paper_sweeps_explain_a_seeded_draw_of_5_digits_5_textures_3_seeds():
    """Fig. S11 / S1.6: sweeps "averaged over five randomly selected bias digits, five bias textures, and three
    training set generation seeds", over lambda, learning rate, momentum and initial value. Bug (issue 13): the
    plan took the first 75 biased runs of the plan order (digits 0 and 1 only, weak bias) and no momentum."""
    paper = PROFILES["paper"]
    runs = plan_runs(paper)
    sweeps = plan_sweeps(paper, runs)
    networks = list(dict.fromkeys(sweep.run for sweep in sweeps))
    drawn = paper.sweep_networks()
    # The documented draw (docs/toy_benchmark.md): seed 0 of `sweep_draw_seed`.
    assert drawn == {"backbone": "vgg16", "bias_strength": "strong", "bias_digits": (2, 3, 4, 5, 7),
                     "bias_textures": paper.textures(), "dataset_seeds": (1, 2, 4)}
    assert len(networks) == 75 and set(networks) <= set(runs)
    assert {(r.backbone, r.bias_strength) for r in networks} == {("vgg16", "strong")}
    assert {(r.bias_digit, r.bias_texture, r.dataset_seed) for r in networks} == set(itertools.product(
        drawn["bias_digits"], drawn["bias_textures"], drawn["dataset_seeds"]))
    assert networks != [r for r in runs if r.biased][:75]
    # Seeded: the same draw again, another seed another draw.
    assert paper.sweep_networks() == drawn
    assert dataclasses.replace(paper, sweep_draw_seed=1).sweep_networks()["bias_digits"] != drawn["bias_digits"]
    # Every value of every parameter, momentum around the toy default 0.5 included, on every network.
    assert tuple(paper.sweep_values) == tuple(PARAMETER_SWEEPS) == ("lambda", "learning_rate", "momentum",
                                                                      "initial_value")
    assert paper.sweep_values["momentum"] == (0.0, 0.25, 0.5, 0.75, 0.9)
    settings = {(s.parameter, s.value) for s in sweeps if s.run == networks[0]}
    assert settings == {(p, v) for p, values in paper.sweep_values.items() for v in values}
    assert len(sweeps) == 75 * sum(len(values) for values in paper.sweep_values.values())
    momentum = next(s for s in sweeps if s.parameter == "momentum" and s.value == 0.9)
    assert momentum.grid_saliency(paper) == {"steps": 100, "initial_value": 0.5, "momentum": 0.9}
    # A subset run draws from what it has: all of a list shorter than the count.
    subset = paper.replace(bias_digits=(0, 9), dataset_seeds=(0,))
    assert (subset.sweep_networks()["bias_digits"], subset.sweep_networks()["dataset_seeds"]) == ((0, 9), (0,))
    quick = PROFILES["quick"]
    quick_networks = {s.run for s in plan_sweeps(quick, plan_runs(quick))}
    assert quick_networks == {RunSpec("vgg16", "strong", 3, quick.textures()[0], 0)}
    assert "momentum" in quick.sweep_values


@pytest.mark.parametrize("change, message", [({"backbones": ("vgg19",)}, "`backbones`"),
                                             ({"bias_strengths": ("none",)}, "`bias_strengths`"),
                                             ({"bias_digits": (10,)}, "`bias_digits`"),
                                             ({"bias_textures": (25,)}, "`bias_textures`"),
                                             ({"methods": ("lime",)}, "`methods`"),
                                             ({"dataset_seeds": ()}, "`dataset_seeds`"),
                                             ({"grid_initial_value": 0.0}, "`grid_initial_value`"),
                                             ({"grid_initial_value": 1.5}, "`grid_initial_value`"),
                                             ({"sweep_num_seeds": 0}, "`sweep_num_seeds`"),
                                             ({"train_schedule": "linear"},
                                              "`train_schedule` must be one of step, cosine; received 'linear'"),
                                             ({"sweep_values": {"steps": (10,)}}, "`sweep_values`")])
def test_bad_profiles_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TINY, **change).validate()


_PER_DIGIT = 30  # images of each digit: a bootstrap resample practically always holds every digit


def _metrics(iou_digit3, cbd3, cbl3, other_cbd=0.1, gradient_cbl=0.5):
    """A record whose per-image values are constant per digit: every interval is its mean."""
    per_digit = lambda value, other: tuple(value if d == 3 else other for d in range(10))  # noqa: E731
    per_image = lambda values: tuple(values[i % 10] for i in range(10 * _PER_DIGIT))  # noqa: E731
    cbd, cbl, gradient = per_digit(cbd3, other_cbd), per_digit(cbl3, None), per_digit(gradient_cbl, None)
    gradient = gradient if cbl3 is not None else cbl
    counts = (_PER_DIGIT,) * 10
    method = dict(mcbd_per_digit=cbd, mcbl_per_digit=cbl, num_images_per_digit=counts,
                  num_cbl_images_per_digit=per_digit(_PER_DIGIT * int(cbl3 is not None), 0),
                  cbd_per_image=per_image(cbd), cbl_per_image=per_image(cbl))
    gradient = {**method, "mcbl_per_digit": gradient, "cbl_per_image": per_image(gradient)}
    return MetricsRecord(
        run={}, datasets={"biased_test": {}, "unbiased_test": {}}, settings={}, seconds=1.0,
        segmentation=_segmentation(per_digit(iou_digit3, 0.8)), saliency=SaliencySummary(
            10 * _PER_DIGIT, 0, {"grid_saliency": MethodSummary(**method), "vanilla_gradient": MethodSummary(**gradient)},
            per_image(tuple(range(10)))))


def _segmentation(iou_per_digit):
    """Image i shows digit i % 10 (100 pixels) on background; the IoU of digit d is as given (to 1e-2)."""
    per_image = []
    for index in range(10 * _PER_DIGIT):
        digit = index % 10
        hit = int(round(100 * iou_per_digit[digit]))
        matrix = np.zeros((11, 11), np.int64)
        matrix[digit, digit], matrix[digit, 10], matrix[10, 10] = hit, 100 - hit, 64 * 64 - 100
        per_image.append(tuple(int(v) for v in matrix.ravel()))
    total = np.sum([np.reshape(m, (11, 11)) for m in per_image], axis=0)
    iou = tuple(round(v, 2) for v in iou_per_digit)
    return SegmentationMetrics(iou + (0.9,), iou, 0.8, 10 * _PER_DIGIT,
                               tuple(tuple(int(v) for v in row) for row in total), tuple(per_image))


def test_aggregate_builds_fig4_matrices_and_effect_checks():
    unbiased = RunSpec("vgg16", "none", None, None, 0)
    biased = [RunSpec("vgg16", "strong", 3, 7, 0), RunSpec("vgg16", "strong", 3, 7, 1)]
    metrics = {unbiased: _metrics(0.8, 0.05, None), biased[0]: _metrics(0.4, 0.6, 0.9), biased[1]: _metrics(0.6, 0.4, 1.0)}
    result = aggregate(TINY, metrics)
    matrices = result["matrices"]["vgg16/strong"]
    assert matrices["miou"][0][3] == 0.8 and matrices["miou"][4][3] == pytest.approx(0.5)  # row "3" = index 4
    assert matrices["mcbd/grid_saliency"][4][3] == pytest.approx(0.5)
    assert matrices["mcbl/grid_saliency"][4][3] == pytest.approx(0.95)
    assert matrices["miou"][1][0] is None  # no network biased towards digit 0
    checks = result["effect"]["vgg16/strong"]
    assert checks == {"iou_drop": True, "grid_cbd_detects": True, "grid_cbl_at_least_0.9": True,
                      "gradients_localize_worse": True}
    # Values that differ by less than the margin are no effect (a 0.001 mCBD over 0.0 detects nothing).
    metrics[unbiased] = _metrics(0.8, 0.0, None, other_cbd=0.0)
    metrics[biased[0]] = _metrics(0.79, 0.001, 0.5, other_cbd=0.0)
    metrics[biased[1]] = _metrics(0.79, 0.001, 0.5, other_cbd=0.0)
    checks = aggregate(TINY, metrics)["effect"]["vgg16/strong"]
    assert not any(checks.values())
    metrics[biased[0]] = _metrics(0.9, 0.05, 0.5)
    metrics[biased[1]] = _metrics(0.9, 0.05, 0.5)
    checks = aggregate(TINY, metrics)["effect"]["vgg16/strong"]
    assert not any(checks.values())


@pytest.mark.slow  # about 2 minutes: three tiny benchmark runs end to end (resume, skip, re-evaluate)
def test_runs_resume_finished_runs_are_skipped_and_the_folder_of_another_run_is_refused(tmp_path):
    lines = []
    runs, report_dir = tmp_path / "runs", tmp_path / "report"
    first, path = protocol.run_benchmark(TINY, runs, report_dir=report_dir, log=lines.append)
    text = open(path).read()
    for figure in ("fig4_vgg16_strong.png", "figS10_cbl_per_backbone.png", "figS11_parameter_sweeps.png"):
        assert figure in text and (report_dir / figure).stat().st_size > 0
    assert "| vgg16/strong |" in text and (report_dir / "matrices" / "vgg16_strong_miou.csv").exists()
    assert sum(line.startswith("[train]") for line in lines) == 2
    # The bias-reliance check (issue #13) reaches the summary and the report.
    reliance = first["intervals"]["vgg16/strong"]["differences"]["bias_reliance"]
    assert reliance["num_units"] == TINY.num_test and "bias_learned" in first["effect"]["vgg16/strong"]
    assert "network relies on the bias" in text and "| bias reliance (biased network" in text
    # Sweeps: lambda 0.05 and momentum 0.5 are both the profile's own setting, evaluated once; momentum
    # reaches the optimiser (its recorded settings).
    assert [line for line in lines if line.startswith("[sweep]")] == [
        "[sweep] vgg16/strong-d3-t7-s0: lambda = 0.05", "[sweep] vgg16/strong-d3-t7-s0: momentum = 0"]
    sweeps_dir = runs / "vgg16" / "strong-d3-t7-s0" / "sweeps"
    assert sorted(path.name for path in sweeps_dir.iterdir()) == ["lambda=0.05", "momentum=0"]
    recorded = json.loads((sweeps_dir / "momentum=0" / "metrics.json").read_text())["settings"]["grid_saliency"]
    assert (recorded["momentum"], recorded["mask_weight"]) == (0.0, 0.05)
    assert first["sweeps"]["momentum"]["0.5"] == first["sweeps"]["lambda"]["0.05"]
    assert "momentum" in first["profile"]["grid_saliency_parameters"]
    assert "| momentum | 0 |" in text and "drawn with seed 0" in text
    assert "## Reproducibility" in text
    # The thread count decides the networks as much as the CPU does (1 vs 2 threads train other weights), so the
    # report names it; a run with another count is compared by intervals, not digit for digit.
    threads = first["environment"]["intra_op_threads"]
    assert isinstance(threads, int) and threads >= 1 and f"CPUs, {threads} intra-op threads, TensorFlow" in text
    assert all(seconds > 0 for seconds in first["timing"].values()), first["timing"]
    assert "Compute time recorded by the runs" in text
    assert "examples_vgg16_strong-d3-t7-s0.png" in text and (report_dir / "examples_vgg16_strong-d3-t7-s0.png").exists()
    # The constant probe of the biased network (issue #13): measured once on the evaluation's images of the bias
    # digit (1 of the 10 test images), kept in the run folder, in the summary and as a row of the report.
    assert [line for line in lines if line.startswith("[probe]")] == ["[probe] vgg16/strong-d3-t7-s0"]
    samples = SampleGenerator(DatasetVariant("strong", 3, 7, split="test", num_samples=TINY.num_test)).generate(
        np.arange(3, TINY.num_test, 10))
    expected = constant_probe(load_model(runs / "vgg16" / "strong-d3-t7-s0" / "train"), samples, 3).to_json()
    assert first["probes"] == {"vgg16/strong-d3-t7-s0": expected} and expected["num_images"] == 1
    assert json.loads((runs / "vgg16" / "strong-d3-t7-s0" / protocol.PROBE_FILE).read_text()) == expected
    assert not (runs / "vgg16" / "none-s0" / protocol.PROBE_FILE).exists()
    row = " | ".join(f"{v:.3f}" for v in [expected["intact"], expected["swapped"], *expected["constants"].values(),
                                          *expected["perturbations"].values()])
    assert "## What stands in for the bias (constant probe)" in text
    assert "| run | images | intact | bias half swapped | context 0 | context 0.25 | context 0.5 | context 0.75 | " \
           "context 1 | context blur | context noise | imitating |" in text
    assert f"| vgg16/strong-d3-t7-s0 | 1 | {row} | " in text
    # The report is drawn from the aggregated data alone: summary.json gives the same report.md again.
    again = report.write_report(json.loads((report_dir / "summary.json").read_text()), tmp_path / "again",
                                runs_dir=str(runs))
    assert open(again).read() == text
    # Under op determinism (the binaries') the report says what another CPU or thread count changes: the networks.
    deterministic = json.loads((report_dir / "summary.json").read_text())
    deterministic["environment"]["op_determinism"] = True
    text_deterministic = open(report.write_report(deterministic, tmp_path / "deterministic", runs_dir=str(runs))).read()
    assert ("(CPU, intra-op thread count, TensorFlow build, oneDNN on or off) write identical numbers"
            in text_deterministic)
    # oneDNN on or off changes the numbers too (and is off by default on AVX2-only CPUs): the report says which,
    # and who chose; an older record (only the environment variable, unset) is named as such.
    on_off = "on" if first["environment"]["onednn"] else "off"
    assert first["environment"]["onednn"] is onednn_enabled()
    chosen = first["environment"]["onednn_variable"]
    assert chosen == (os.environ.get("TF_ENABLE_ONEDNN_OPTS") or None)
    who = "TensorFlow's choice for this CPU" if chosen is None else f"TF_ENABLE_ONEDNN_OPTS={chosen}"
    assert f"oneDNN {on_off} ({who})." in text
    for record, expected in [
            ({"onednn": True, "onednn_variable": "1"}, "oneDNN on (TF_ENABLE_ONEDNN_OPTS=1)."),
            ({"onednn": False, "onednn_variable": None}, "oneDNN off (TensorFlow's choice for this CPU)."),
            ({"onednn": None}, "oneDNN by TensorFlow's choice for this CPU (whether on not recorded)."),
            ({"onednn": "0"}, "oneDNN by TF_ENABLE_ONEDNN_OPTS=0 (whether on not recorded).")]:
        older = json.loads((report_dir / "summary.json").read_text())
        older["environment"] = {key: value for key, value in older["environment"].items()
                                if not key.startswith("onednn")} | record
        assert expected in open(report.write_report(older, tmp_path / "older", runs_dir=str(runs))).read(), record
    assert "training amplifies them into other networks, as another seed would" in text_deterministic
    # The paper's step schedule is neither recorded in the profile nor named; another schedule is named.
    assert "train_schedule" not in first["profile"] and "learning-rate schedule" not in text
    cosine = json.loads((report_dir / "summary.json").read_text())
    cosine["profile"]["train_schedule"] = "cosine"
    text_cosine = open(report.write_report(cosine, tmp_path / "cosine", runs_dir=str(runs))).read()
    assert f"{TINY.num_train} images (cosine learning-rate schedule), " in text_cosine
    metrics_file = runs / "vgg16" / "strong-d3-t7-s0" / "eval" / "metrics.json"
    stamp = os.stat(metrics_file).st_mtime_ns
    lines.clear()
    second, _ = protocol.run_benchmark(TINY, runs, log=lines.append)
    assert not any(line.startswith(("[train]", "[evaluate]", "[sweep]", "[probe]")) for line in lines)
    assert second["probes"] == first["probes"]
    assert sum(line.startswith("[skip]") for line in lines) == 2
    assert os.stat(metrics_file).st_mtime_ns == stamp
    assert first["matrices"] == second["matrices"]
    # The rerun's timing is what the runs recorded, not the rerun's few seconds ("benchmark 0 s", issue 9).
    assert second["timing"] == first["timing"]
    # A run evaluated before metrics.json version 4 is completed (its biased test set's IoU), not redone.
    old = json.loads(metrics_file.read_text())
    old["schema_version"] = 3
    del old["biased_segmentation"]
    metrics_file.write_text(json.dumps(old))
    lines.clear()
    completed, _ = protocol.run_benchmark(TINY, runs, log=lines.append)
    assert [line for line in lines if line.startswith(("[train]", "[evaluate]", "[complete]"))] == [
        "[complete] vgg16/strong-d3-t7-s0: IoU on the biased test set"]
    assert completed["intervals"] == first["intervals"] and completed["effect"] == first["effect"]
    assert json.loads(metrics_file.read_text())["schema_version"] == 4
    # A killed evaluation leaves no metrics.json and an unfinished record: that run alone is evaluated again.
    result_file = metrics_file.parent.parent / protocol.RESULT_FILE
    record = protocol.RunRecord.load(result_file)
    dataclasses.replace(record, evaluation_seconds=None).save(result_file)
    metrics_file.unlink()
    lines.clear()
    protocol.run_benchmark(TINY, runs, log=lines.append)
    assert [line for line in lines if line.startswith(("[train]", "[evaluate]"))] == ["[evaluate] vgg16/strong-d3-t7-s0"]
    # The folder of a run with other settings is refused, naming what differs; nothing is trained.
    sources = resolve_sources(None, None)
    for other, difference in [(dataclasses.replace(TINY, num_test=12), "num_test: recorded 10, requested 12"),
                              (dataclasses.replace(TINY, train_schedule="cosine"),
                               "training.schedule: not recorded, requested 'cosine'")]:
        with pytest.raises(ValueError, match=f"holds another run.*{difference}"):
            protocol.run_one(RunSpec("vgg16", "none", None, None, 0), other, runs, sources=sources,
                             log=lines.append)


def test_report_reads_aggregated_data_only():
    """The report modules import nothing of the runner, the evaluation, the training or the data."""
    import ast
    import pathlib

    import toy_benchmark.benchmark as benchmark

    for name in ("report.py", "report_figures.py"):
        tree = ast.parse((pathlib.Path(benchmark.__file__).parent / name).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        project = {module for module in imported if module.split(".")[0] == "toy_benchmark"}
        assert project <= {"toy_benchmark.benchmark"}, (name, project)


def _sweep_command(tmp_path):
    return [sys.executable, "-m", "toy_benchmark.sweep_main", f"--runs_dir={tmp_path / 'runs'}",
            f"--report_dir={tmp_path / 'report'}"]


ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_sweep_binary_bad_input(tmp_path):
    bad = subprocess.run(_sweep_command(tmp_path) + ["--backbones=vgg19"], capture_output=True, text=True, env=ENV)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "toy-sweep: error: Argument `backbones` must name encoders among" in bad.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_sweep_binary_writes_the_report_and_a_rerun_keeps_its_timing(tmp_path):
    tiny = ["--profile=quick", "--width=0.0625", "--epochs=1", "--batch_size=20", "--num_train=40", "--num_test=10",
            "--grid_steps=2", "--methods=grid_saliency,vanilla_gradient", "--noparameter_sweeps", "--verbose=0"]
    ok = subprocess.run(_sweep_command(tmp_path) + tiny, capture_output=True, text=True, env=ENV)
    assert ok.returncode == 0, ok.stderr[-3000:]
    report = (tmp_path / "report" / "report.md").read_text()
    assert "fig4_vgg16_strong.png" in report and (tmp_path / "report" / "fig4_vgg16_strong.png").exists()
    assert (tmp_path / "report" / "matrices" / "vgg16_strong_miou.csv").exists()
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["timing"]["training"] > 0 and summary["timing"]["evaluation"] > 0
    # Bug (issue 9): a rerun of a finished sweep rewrote the report's timing as "benchmark 0 s".
    again = subprocess.run(_sweep_command(tmp_path) + tiny, capture_output=True, text=True, env=ENV)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["timing"] == summary["timing"]
    assert (tmp_path / "report" / "report.md").read_text() == report
    # Another profile into the same report folder is refused before any training.
    other = subprocess.run(_sweep_command(tmp_path) + tiny + ["--num_test=12"], capture_output=True, text=True,
                           env=ENV)
    assert other.returncode == 2 and "holds another run" in other.stderr and "Traceback" not in other.stderr


@pytest.fixture(scope="module")
def quick_profile_summary(tmp_path_factory):
    """`make demo` end to end (about 12 minutes on 2 cores); its summary.json."""
    folder = tmp_path_factory.mktemp("quick")
    ok = subprocess.run(_sweep_command(folder) + ["--profile=quick", "--verbose=0"],
                        capture_output=True, text=True, env=ENV)
    assert ok.returncode == 0, ok.stderr[-3000:]
    with open(folder / "report" / "summary.json", encoding="utf-8") as stream:
        return json.load(stream)


@pytest.mark.slow
def test_quick_profile_shows_the_papers_effect(quick_profile_summary):
    """Sec. 4.2 / Fig. 4, measured on bootstrap 95% intervals over images (issue #13): the biased network's
    IoU of its digit drops on the unbiased test set (paired interval above 0) and is higher on its biased
    test set than on the same images with unbiased textures (it relies on its bias); grid saliency mCBD of the
    biased digit is above the other digits' and the unbiased network's (intervals apart); the lower bound
    of grid saliency mCBL of the biased digit is at least 0.9; VG, IG and SG localise the bias worse
    (paired interval of the difference to the best of them above 0)."""
    checks = quick_profile_summary["effect"]["vgg16/strong"]
    numbers = quick_profile_summary["summary"]["vgg16/strong"]
    intervals = quick_profile_summary["intervals"]["vgg16/strong"]
    assert checks == {"iou_drop": True, "bias_learned": True, "grid_cbd_detects": True,
                      "grid_cbl_at_least_0.9": True, "gradients_localize_worse": True}, intervals
    grid_cbl = intervals["mcbl/grid_saliency"]["biased_digits"]
    assert grid_cbl["low"] >= 0.9 and grid_cbl["num_networks"] == 1, grid_cbl
    assert intervals["differences"]["iou_drop"]["low"] > 0
    assert intervals["differences"]["grid_minus_best_gradient_cbl"]["low"] > 0
    grid_cbd = numbers["mcbd/grid_saliency"]
    assert grid_cbd["biased_digits"] > 0.05 >= grid_cbd["other_digits"], grid_cbd
    for method in ("vanilla_gradient", "integrated_gradients", "smooth_grad"):
        assert numbers[f"mcbl/{method}"]["biased_digits"] < numbers["mcbl/grid_saliency"]["biased_digits"]
    # The constant probe in the report: no constant (nor blur or noise) stands in for texture 0 for this
    # network, which loses its digit when the bias half is swapped: why the constant perturbation can show it.
    probe = quick_profile_summary["probes"]["vgg16/strong-d3-t0-s0"]
    assert probe["imitating"] == [] and probe["imitating_perturbations"] == [], probe
    assert probe["num_images"] == 100 and probe["swapped"] < 0.5 * probe["intact"], probe


@pytest.mark.slow
def test_quick_profile_sweep_shows_the_initialisation_plateau(quick_profile_summary):
    """The finding behind the quick profile's initial mask value: from the paper's M = 0.5 these small
    networks' grid saliency keeps nothing for the biased digit; from M = 1 it detects the bias."""
    sweep = quick_profile_summary["sweeps"]["initial_value"]
    by_value = {float(value): entries[0] for value, entries in sweep.items()}
    assert by_value[0.5]["mcbd_biased"] <= 0.05 < by_value[1.0]["mcbd_biased"], by_value
