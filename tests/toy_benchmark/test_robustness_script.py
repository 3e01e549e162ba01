"""benchmarks/bench_toy_robustness.py: variant selection, training levers and its report without networks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "bench_toy_robustness.py")


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def script():
    """The script imported as a module, its flags parsed with the training lever --epochs=12."""
    import importlib.util

    from absl import flags

    spec = importlib.util.spec_from_file_location("bench_toy_robustness", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "epochs" in flags.FLAGS and "only" in flags.FLAGS
    flags.FLAGS(["bench_toy_robustness", "--runs_dir=/unused", "--epochs=12", "--only=d8-t16-s1,d3-t7-s0,d8-t16-s1"])
    yield module
    flags.FLAGS.unparse_flags()
    for key in [key for key in list(flags.FLAGS) if flags.FLAGS.find_module_defining_flag(key) == module.__name__]:
        delattr(flags.FLAGS, key)


def test_only_selects_the_named_variants_once_in_the_given_order(script):
    assert script._selected() == ((8, 16, 1), (3, 7, 0))
    runs = [spec.key for spec, _ in script.planned(script._selected())]
    assert runs == ["vgg16/none-s1", "vgg16/strong-d8-t16-s1", "vgg16/none-s0", "vgg16/strong-d3-t7-s0"]


def test_the_epochs_lever_changes_only_the_training_length(script):
    from toy_benchmark.benchmark import PROFILES

    profile = script.variant_profile(3, 7, 0)
    quick = PROFILES["quick"].replace(bias_digits=(3,), bias_textures=(7,), dataset_seeds=(0,))
    assert profile.epochs == 12 and quick.epochs == 6
    assert profile.replace(epochs=6) == quick


def test_report_without_trained_networks_lists_them_as_missing(tmp_path):
    result = _run(f"--runs_dir={tmp_path}", "--stage=report", "--only=d3-t7-s0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "epochs=6, num_test=200" in result.stdout
    assert "variants passing every check: 0 of 0 measured; not trained yet: vgg16/strong-d3-t7-s0" in result.stdout


def test_an_unknown_variant_is_refused_by_name(tmp_path):
    result = _run(f"--runs_dir={tmp_path}", "--only=d3-t8-s0")
    assert result.returncode != 0
    assert "Flag --only must name variants among d3-t0-s0" in result.stderr
    assert "received ['d3-t8-s0']" in result.stderr
    assert not os.listdir(tmp_path)
