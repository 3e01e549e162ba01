"""benchmarks/bench_toy_robustness.py: variant selection, training levers and its report without networks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.binary_cases import run_cases
from toy_benchmark.benchmark import PROFILES

QUICK_NUM_TEST = PROFILES["quick"].num_test  # the script's default --num_test

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "bench_toy_robustness.py")
NAME = "bench_toy_robustness"  # the program name of its messages


def _run(*args: str) -> subprocess.CompletedProcess:
    """Runs `python ARGS` from the repository root's package path, TensorFlow's logging quiet."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300)


# Imports the script and parses its flags in a child process: the binaries' tests define flags of the
# same names (--epochs, --runs_dir) in absl's global registry.
_PROBE = r"""
import importlib.util, json, sys
from absl import flags
spec = importlib.util.spec_from_file_location("bench_toy_robustness", sys.argv[1])
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)
flags.FLAGS(["bench_toy_robustness", "--runs_dir=/unused", "--epochs=12", "--width=0.25", "--num_train=24000",
             "--learning_rate=1e-2", "--schedule=cosine",
             "--only=d8-t16-s1,d3-t7-s0,d8-t16-s1,d6-t0-s0"])
from toy_benchmark.benchmark import PROFILES
quick = PROFILES["quick"].replace(bias_digits=(3,), bias_textures=(7,), dataset_seeds=(0,))
lever = script.variant_profile(3, 7, 0)
selected = script._selected(25)
constant = script.evaluation_lever()
runs = [spec.key for spec, _ in script.to_train(selected)]  # --biased_only off: every network
flags.FLAGS.grid_perturbation = "noise"
flags.FLAGS.backbone = "resnet18"
flags.FLAGS.biased_only = True
resnet = script.variant_profile(3, 7, 0)
print(json.dumps({"resnet_runs": [spec.key for spec, _ in script.to_train(selected)],
                  "resnet_backbones": [resnet.backbones, quick.backbones],
                  "resnet_only_backbone_differs": resnet.replace(epochs=quick.epochs, width=quick.width,
                                                                 num_train=quick.num_train,
                                                                 train_learning_rate=quick.train_learning_rate,
                                                                 train_schedule=quick.train_schedule,
                                                                 backbones=quick.backbones) == quick,
                  "selected": selected, "runs": runs,
                  "epochs": [lever.epochs, quick.epochs], "widths": [lever.width, quick.width],
                  "num_train": [lever.num_train, quick.num_train],
                  "learning_rates": [[lever.train_learning_rate, lever.final_learning_rate],
                                     [quick.train_learning_rate, quick.final_learning_rate]],
                  "schedules": [lever.train_schedule, quick.train_schedule],
                  "recorded_schedules": [script._spec(3, 7, 0).settings(p)["training"].get("schedule", "unrecorded")
                                         for p in (lever, quick)],
                  "only_levers_differ": lever.replace(epochs=quick.epochs, width=quick.width, num_train=quick.num_train,
                                                      train_learning_rate=quick.train_learning_rate,
                                                      train_schedule=quick.train_schedule) == quick,
                  "evaluation_levers": [constant, script.evaluation_lever()], "quick_grid": quick.grid_saliency()}))
"""


@pytest.fixture(scope="module")
def probe():
    result = _run("-c", _PROBE, SCRIPT)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_only_selects_the_named_variants_once_in_the_given_order(probe):
    # d6-t0-s0 is not among the 8 variants of the table: any digit, texture of the pool and seed can be named.
    assert probe["selected"] == [[8, 16, 1], [3, 7, 0], [6, 0, 0]]
    assert probe["runs"] == ["vgg16/none-s1", "vgg16/strong-d8-t16-s1", "vgg16/none-s0", "vgg16/strong-d3-t7-s0",
                             "vgg16/strong-d6-t0-s0"]


def test_the_training_levers_change_only_the_training_length_the_images_the_rate_the_schedule_and_the_width(probe):
    assert probe["epochs"] == [12, 6]
    assert probe["schedules"] == ["cosine", "step"]
    # The run folder records a schedule other than the paper's step (earlier folders, without it, resume).
    assert probe["recorded_schedules"] == ["cosine", "unrecorded"]
    assert probe["widths"] == [0.25, 0.125]
    assert probe["num_train"] == [24000, 12000]
    assert probe["learning_rates"] == [pytest.approx([1e-2, 1e-3]), pytest.approx([3e-3, 3e-4])]
    assert probe["only_levers_differ"]


def test_the_backbone_lever_puts_its_networks_in_their_own_folders_and_biased_only_skips_the_unbiased(probe):
    assert probe["resnet_backbones"] == [["resnet18"], ["vgg16"]]
    assert probe["resnet_only_backbone_differs"]
    # --biased_only: the probe and paired stages need no unbiased network, so a lever can be screened on them.
    assert probe["resnet_runs"] == ["resnet18/strong-d8-t16-s1", "resnet18/strong-d3-t7-s0", "resnet18/strong-d6-t0-s0"]


def test_the_grid_perturbation_lever_names_its_folder_and_reaches_grid_saliency(probe):
    # The profile's constant perturbation keeps the folders and settings of earlier evaluations.
    constant, noise = probe["evaluation_levers"]
    assert constant == [f"n{QUICK_NUM_TEST}-init1", probe["quick_grid"]]
    assert noise == [f"n{QUICK_NUM_TEST}-init1-noise", {**probe["quick_grid"], "perturbation": "noise"}]
    assert "perturbation" not in probe["quick_grid"]


def test_report_without_trained_networks_lists_them_as_missing(tmp_path):
    result = _run(SCRIPT, f"--runs_dir={tmp_path}", "--stage=report", "--only=d3-t7-s0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert ("backbone=vgg16, epochs=6, num_train=12000, learning_rate=0.003, schedule=step, width=0.125, "
            f"num_test={QUICK_NUM_TEST}" in result.stdout)
    assert "| variant | texture contrast | IoU drop | bias reliance |" in result.stdout
    assert "variants passing every check: 0 of 0 measured; not trained yet: vgg16/strong-d3-t7-s0" in result.stdout


def test_a_malformed_variant_or_a_texture_outside_the_pool_is_refused_by_name(tmp_path):
    result = _run(SCRIPT, f"--runs_dir={tmp_path}", "--only=d3-t8-s0,d3-t25-s0,d10-t0-s0,3-7-0")
    assert result.returncode == 2
    assert "Flag --only must name variants d<digit 0-9>-t<texture 0-24>-s<seed>" in result.stderr
    assert "received ['d3-t25-s0', 'd10-t0-s0', '3-7-0']" in result.stderr
    assert "Traceback" not in result.stderr and "USAGE" not in result.stderr
    assert not os.listdir(tmp_path)


def test_an_out_of_range_lever_is_one_line_and_exit_2(tmp_path):
    # One process for the six command lines (tests/binary_cases.py); the test above runs the script itself.
    flags = ["--epochs=0", "--num_variants=9", "--width=0", "--backbone=vgg19", "--num_train=0", "--learning_rate=0"]
    outcomes = run_cases(SCRIPT, NAME, [[f"--runs_dir={tmp_path}", flag] for flag in flags])
    for flag, outcome in zip(flags, outcomes):
        lines = outcome["stderr"].strip().splitlines()
        assert outcome["code"] == 2 and len(lines) == 1, (flag, outcome)
        assert lines[0].startswith("bench_toy_robustness: error: ") and flag.split("=")[0] in lines[0], (flag, lines)
    assert not os.listdir(tmp_path)


def test_probe_prints_what_constant_probe_measures_for_each_trained_network(tmp_path):
    # A network that answers 3 wherever the image is brighter than 0.45 on average (test_constant_probe.py);
    # the row must be the library's measurement on the variant's first --num_test test images.
    import numpy as np

    from tests.toy_benchmark.test_constant_probe import _brightness_model
    from toy_benchmark.data import DatasetVariant, SampleGenerator
    from toy_benchmark.evaluation import constant_probe

    model = _brightness_model(0.45)
    folder = tmp_path / "vgg16" / "strong-d3-t0-s0" / "train"
    folder.mkdir(parents=True)
    model.save(folder / "model.keras")
    (tmp_path / "vgg16" / "strong-d9-t0-s0" / "train").mkdir(parents=True)
    model.save(tmp_path / "vgg16" / "strong-d9-t0-s0" / "train" / "model.keras")
    nine, forty = run_cases(SCRIPT, NAME, [
        [f"--runs_dir={tmp_path}", "--stage=probe", "--num_test=9", "--only=d9-t0-s0,d3-t7-s0"],  # digits 0-8
        [f"--runs_dir={tmp_path}", "--stage=probe", "--num_test=40", "--only=d3-t0-s0,d3-t7-s0"]])
    assert nine["code"] == 0, nine["stderr"][-2000:]
    assert nine["stdout"].splitlines()[3:] == ["| d9 t0 s0 | no test image of the bias digit |",
                                               "| d3 t7 s0 | not trained yet |"]
    assert forty["code"] == 0, forty["stderr"][-2000:]
    samples = SampleGenerator(DatasetVariant("strong", 3, 0, split="test", num_samples=40)).generate(np.arange(40))
    probe = constant_probe(model, samples, 3)
    expected = " | ".join(["| d3 t0 s0", "4", f"{probe.intact:.2f}", f"{probe.swapped:.2f}",
                           *(f"{v:.2f}" for v in [*probe.constants.values(), *probe.perturbations.values()]),
                           ", ".join([*(f"{c:g}" for c in probe.imitating), *probe.imitating_perturbations])
                           or "none"]) + " |"
    lines = forty["stdout"].splitlines()
    assert lines[0] == "num_test=40; IoU of the bias digit on its biased test images"
    assert lines[1].startswith("| variant | images | intact | bias half swapped | context 0 | context 0.25 |")
    assert lines[1].endswith("| context 1 | context blur | context noise | imitating |")
    assert lines[3:] == [expected, "| d3 t7 s0 | not trained yet |"]
    assert probe.constants[0.0] == 0.0 and probe.constants[1.0] > 0.0  # dark context: background; white: 3


def test_report_evaluates_with_the_grid_perturbation_lever_and_shows_the_probe(tmp_path):
    # Brightness-keyed stand-ins for the unbiased and the biased network (test_constant_probe.py): the row
    # must be computed, grid saliency must have run with the noise perturbation in its own lever folder,
    # and the probe column must be the library's on the same test images.
    import numpy as np

    from tests.toy_benchmark.test_constant_probe import _brightness_model
    from toy_benchmark.data import DatasetVariant, SampleGenerator
    from toy_benchmark.evaluation import constant_probe

    model = _brightness_model(0.45)
    for run in ("none-s0", "strong-d3-t0-s0"):
        (tmp_path / "vgg16" / run / "train").mkdir(parents=True)
        model.save(tmp_path / "vgg16" / run / "train" / "model.keras")
    result = _run(SCRIPT, f"--runs_dir={tmp_path}", "--stage=report", "--num_test=10", "--grid_perturbation=noise",
                  "--only=d3-t0-s0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "grid_initial_value=1, grid_perturbation=noise;" in result.stdout
    with open(tmp_path / "vgg16" / "strong-d3-t0-s0" / "levers" / "n10-init1-noise" / "metrics.json") as file:
        assert json.load(file)["settings"]["grid_saliency"]["perturbation"] == "noise"
    samples = SampleGenerator(DatasetVariant("strong", 3, 0, split="test", num_samples=10)).generate(np.arange(3, 10, 10))
    probe = constant_probe(model, samples, 3)
    imitating = ", ".join([*(f"{c:g}" for c in probe.imitating), *probe.imitating_perturbations]) or "none"
    rows = [line for line in result.stdout.splitlines() if line.startswith("| d3 t0 s0 |")]
    assert len(rows) == 1 and rows[0].split(" | ")[12] == imitating, rows
    assert "| CBL images | imitating (probe) | iou_drop |" in result.stdout
    assert "variants passing every check:" in result.stdout and "0 of 1 measured" in result.stdout


def _top_contrast_model(threshold: float, digit: int = 3):
    """Predicts `digit` on the centre square 24:40 while the top half's mean absolute high-pass response (3 x 3
    pixel minus neighbourhood mean) exceeds `threshold`, background elsewhere: only the top 32 rows count."""
    import keras
    import numpy as np

    images = keras.Input((64, 64, 1))
    top = keras.layers.Cropping2D(((0, 32), (0, 0)))(images)
    rectified = keras.layers.Conv2D(2, 3, activation="relu", use_bias=False)(top)  # relu(h), relu(-h)
    logits = keras.layers.Dense(64 * 64 * 11)(keras.layers.GlobalAveragePooling2D()(rectified))
    model = keras.Model(images, keras.layers.Softmax()(keras.layers.Reshape((64, 64, 11))(logits)))
    kernel = np.full((3, 3), -1 / 9, np.float32)
    kernel[1, 1] += 1.0
    model.layers[2].set_weights([np.stack([kernel, -kernel], -1)[:, :, None, :]])
    centre = np.zeros((64, 64), bool)
    centre[24:40, 24:40] = True
    weights, bias = np.zeros((2, 64, 64, 11), np.float32), np.zeros((64, 64, 11), np.float32)
    weights[:, centre, digit] = 100.0
    bias[centre, digit] = -100.0 * threshold
    bias[~centre, digit], bias[~centre, 10] = -10.0, 10.0
    model.layers[4].set_weights([weights.reshape(2, -1), bias.reshape(-1)])
    return model


def test_paired_compares_the_perturbation_with_the_constant_on_the_same_images(tmp_path):
    # A network that reads only the top half: grid saliency must keep top cells only, so every image's CBL is
    # 1 where the bias half is the top one and 0 where it is the bottom one, with either perturbation; the row
    # must be the bootstrap intervals of the stored per-image values, paired by image, and a second run must
    # find them instead of explaining again.
    import numpy as np

    from grid_saliency_tf.experiment import bootstrap_interval
    from toy_benchmark.data import BIAS_HALF_TOP, DatasetVariant, SampleGenerator

    (tmp_path / "vgg16" / "strong-d3-t0-s0" / "train").mkdir(parents=True)
    _top_contrast_model(0.03).save(tmp_path / "vgg16" / "strong-d3-t0-s0" / "train" / "model.keras")
    args = [f"--runs_dir={tmp_path}", "--stage=paired", "--num_test=60", "--grid_perturbation=blur",
            "--only=d3-t0-s0,d3-t7-s0"]
    first, second, refused = run_cases(SCRIPT, NAME, [args, args, [f"--runs_dir={tmp_path}", "--stage=paired",
                                                                    "--only=d3-t0-s0"]])
    assert first["code"] == 0 and second["code"] == 0, first["stderr"][-2000:] + second["stderr"][-2000:]
    assert "[paired] vgg16/strong-d3-t0-s0" in first["stderr"] and "[paired]" not in second["stderr"]
    assert first["stdout"] == second["stdout"]
    with open(tmp_path / "vgg16" / "strong-d3-t0-s0" / "levers" / "paired-n60-init1-blur.json") as file:
        stored = json.load(file)
    assert stored["settings"]["blur"]["perturbation"] == "blur" and "perturbation" not in stored["settings"]["constant"]
    halves = SampleGenerator(DatasetVariant("strong", 3, 0, split="test", num_samples=60)).generate(
        np.arange(3, 60, 10))["bias_half"]
    assert stored["images"] == 6
    for name in ("constant", "blur"):
        cbl = stored["cbl"][name]
        assert sum(v is not None for v in cbl) >= 4, cbl
        assert all(v == float(half == BIAS_HALF_TOP) for v, half in zip(cbl, halves) if v is not None), (cbl, halves)
    assert stored["cbd"]["constant"] != stored["cbd"]["blur"]  # the perturbation reached grid saliency

    def cell(values):
        values = [v for v in values if v is not None]
        if not values:
            return "-"
        interval = bootstrap_interval(np.array(values))
        return f"{interval.estimate:.2f} [{interval.low:.2f}, {interval.high:.2f}]"

    cells = []
    for measure in ("cbd", "cbl"):
        a, b = stored[measure]["constant"], stored[measure]["blur"]
        cells += [cell(a), cell(b), cell([y - x for x, y in zip(a, b) if x is not None and y is not None])]
    lines = first["stdout"].splitlines()
    assert lines[1] == ("| variant | images | mCBD constant | mCBD blur | CBD blur - constant | mCBL constant | mCBL blur "
                        "| CBL blur - constant | CBL images constant / blur | mCBL low >= 0.9 |")
    assert lines[3].startswith("| d3 t0 s0 | 6 | " + " | ".join(cells) + " | ")
    assert lines[4] == "| d3 t7 s0 | not trained yet |"
    assert lines[5] == f"CBL blur - constant, mean over the 1 networks of their paired means: {cells[-1]} " \
                       f"({sum(x is not None and y is not None for x, y in zip(*stored['cbl'].values()))} images)"
    assert refused["code"] == 2 and len(refused["stderr"].strip().splitlines()) == 1, refused
    assert "--grid_perturbation must name the perturbation compared with the constant" in refused["stderr"]
