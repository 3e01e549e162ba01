"""Reproducible numbers (issue 13): the same settings give identical weights and metrics, run after run.

Every draw of the benchmark is seeded by its settings, so two trainings and evaluations in one process
agree bit for bit. The binaries also set the process up with `make_reproducible` (op determinism, global
seeds), tested in a fresh process since op determinism cannot be turned off again; the slow test runs
the sweep binary twice.
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import keras
import pytest

from toy_benchmark.benchmark import make_reproducible
from toy_benchmark.data.variant import DatasetVariant
from toy_benchmark.evaluation import evaluate
from toy_benchmark.training import toy_training_data, train

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _network(seed):
    inputs = keras.Input((64, 64, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                            kernel_initializer=keras.initializers.HeNormal(seed))(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Conv2D(11, 3, padding="same", kernel_initializer=keras.initializers.HeNormal(seed + 1))(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


def _train_and_evaluate(folder, seed, data, *, evaluation=True):
    """Weights digest and metrics.json numbers (without its wall-clock time) of one training and evaluation."""
    trained = train(lambda: _network(seed), data.dataset_fn, folder / "train", epochs=2, batch_size=10, seed=seed,
                    tensorboard=False, verbose=0)
    weights = hashlib.sha256(b"".join(w.tobytes() for w in trained.model.get_weights())).hexdigest()
    if not evaluation:
        return weights, None
    metrics = evaluate(trained.model, folder / "eval", biased_test=DatasetVariant("strong", 3, 0, split="test",
                                                                                  num_samples=10),
                       unbiased_test=DatasetVariant("none", split="test", num_samples=10),
                       methods=("grid_saliency", "smooth_grad"), batch_size=10, num_examples=0,
                       grid_saliency={"steps": 5, "initial_value": 1.0}).to_dict()
    del metrics["seconds"]
    return weights, metrics


def test_training_and_evaluation_twice_give_identical_weights_and_metrics(tmp_path):
    """Same settings: bit-identical weights and metrics (the seeded SmoothGrad noise included); another model
    seed changes the weights, so the comparison can fail."""
    data = toy_training_data({"strength": "strong", "bias_digit": 3, "bias_texture": 0, "num_samples": 20})
    first = _train_and_evaluate(tmp_path / "first", 0, data)
    second = _train_and_evaluate(tmp_path / "second", 0, data)
    assert first == second
    assert _train_and_evaluate(tmp_path / "other", 1, data, evaluation=False)[0] != first[0]


def test_make_reproducible_sets_op_determinism_and_the_global_seeds():
    script = textwrap.dedent("""
        import json, random
        import numpy as np
        import tensorflow as tf
        from toy_benchmark.benchmark import environment_record, make_reproducible
        before = environment_record()
        draws = []
        for _ in range(2):
            record = make_reproducible(3)
            draws.append([random.random(), float(np.random.random()), float(tf.random.uniform(()))])
        print(json.dumps({"before": before, "record": record, "draws": draws}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, cwd=os.getcwd())
    assert done.returncode == 0, done.stderr[-3000:]
    output = json.loads(done.stdout.strip().splitlines()[-1])
    first, second = output["draws"]
    assert first == second
    assert (output["before"]["op_determinism"], output["before"]["global_seed"]) == (False, None)
    assert (output["record"]["op_determinism"], output["record"]["global_seed"]) == (True, 3)
    assert output["record"]["cpu"] and output["record"]["cpu_count"] >= 1
    for bad in (-1, 2 ** 32, 1.5, True, "0"):
        with pytest.raises(ValueError, match=r"Argument `seed` must be an integer in \[0, 2\*\*32\); received"):
            make_reproducible(bad)


def test_the_record_names_the_intra_op_thread_count_and_the_onednn_state_that_train_the_network():
    # The same CPU and core count with another thread count trains other weights (BENCHMARKS.md, session 14):
    # the record must tell those runs apart, through the environment variable and the API alike. oneDNN on or
    # off changes the numbers as well, and unset TF_ENABLE_ONEDNN_OPTS does not mean on (TensorFlow leaves it off
    # on CPUs without VNNI, AVX-512 BF16 or AMX, this project's machines), so the record says whether it is on.
    script = textwrap.dedent("""
        import json, os, sys
        import tensorflow as tf
        from toy_benchmark.benchmark.reproducibility import environment_record
        if sys.argv[1] == "api":
            tf.config.threading.set_intra_op_parallelism_threads(3)
        record = environment_record()
        print(json.dumps([record["intra_op_threads"], len(os.sched_getaffinity(0)), record["onednn"],
                          record["onednn_variable"]]))
    """)
    found = {}
    for name, extra, argument in [("default", {}, "none"),
                                  ("variable", {"TF_NUM_INTRAOP_THREADS": "1", "TF_ENABLE_ONEDNN_OPTS": "1"}, "none"),
                                  ("api", {"TF_ENABLE_ONEDNN_OPTS": "0"}, "api")]:
        env = {key: value for key, value in ENV.items()
               if key not in ("TF_NUM_INTRAOP_THREADS", "TF_ENABLE_ONEDNN_OPTS")}
        done = subprocess.run([sys.executable, "-c", script, argument], capture_output=True, text=True,
                              env={**env, **extra}, cwd=os.getcwd())
        assert done.returncode == 0, done.stderr[-3000:]
        found[name] = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["default"][0] == found["default"][1]  # TensorFlow's default: the CPUs the process may use
    assert found["variable"][0] == 1 and found["api"][0] == 3
    assert isinstance(found["default"][2], bool) and found["default"][3] is None  # TensorFlow chose, and said what
    assert found["variable"][2:] == [True, "1"] and found["api"][2:] == [False, "0"]


def _tiny_sweep(folder):
    return [sys.executable, "-m", "toy_benchmark.sweep_main", f"--runs_dir={folder / 'runs'}",
            f"--report_dir={folder / 'report'}", "--profile=quick", "--width=0.0625", "--epochs=1", "--batch_size=20",
            "--num_train=40", "--num_test=10", "--grid_steps=3", "--methods=grid_saliency,vanilla_gradient,smooth_grad",
            "--verbose=0"]


def _numbers(folder):
    """Every metrics.json of a benchmark (relative path -> its data without the wall-clock time)."""
    found = {}
    for path in sorted((folder / "runs").rglob("metrics.json")):
        data = json.loads(path.read_text())
        del data["seconds"]
        found[str(path.relative_to(folder))] = data
    return found


@pytest.mark.slow
def test_two_runs_of_the_sweep_binary_write_identical_metrics(tmp_path):
    """`make demo` twice (a tiny profile, two processes): every metrics.json number and the report's
    matrices, summaries, effect checks and sweeps are identical."""
    summaries, numbers = [], []
    for name in ("first", "second"):
        done = subprocess.run(_tiny_sweep(tmp_path / name), capture_output=True, text=True, env=ENV)
        assert done.returncode == 0, done.stderr[-3000:]
        summary = json.loads((tmp_path / name / "report" / "summary.json").read_text())
        summaries.append({key: summary[key] for key in ("matrices", "summary", "effect", "sweeps")})
        numbers.append(_numbers(tmp_path / name))
        assert summary["environment"]["op_determinism"] is True and summary["environment"]["global_seed"] == 0
    assert len(numbers[0]) > 2  # two evaluations and the distinct Fig. S11 settings of the biased network
    assert numbers[0] == numbers[1]
    assert summaries[0] == summaries[1]
