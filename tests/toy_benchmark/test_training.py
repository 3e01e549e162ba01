"""Tests of toy-benchmark training: schedule, data order, resume, checkpoints, strategy, binary."""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from grid_saliency_tf.experiment import RunFolderMismatch, run_binary
from tests.binary_cases import run_cases
from toy_benchmark.models import ToyUNet
from toy_benchmark.training import (
    CHECKPOINT_DIR,
    CHECKPOINT_STATE,
    FINAL_MODEL,
    epoch_seed,
    learning_rate_at_step,
    learning_rate_for_epoch,
    prepare_batches,
    read_checkpoint_state,
    train,
)

pytestmark = pytest.mark.heavy  # holds tests of 15 s or more: scheduled first (tests/conftest.py)

REPO = pathlib.Path(__file__).resolve().parents[2]
SHAPE = (32, 32, 1)


def _dataset(n=24, seed=0, as_dict=True):
    rng = np.random.default_rng(seed)
    images = rng.random((n, *SHAPE)).astype("float32")
    labels = rng.integers(0, 11, (n, *SHAPE[:2])).astype("int32")
    if as_dict:
        return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})
    return tf.data.Dataset.from_tensor_slices((images, labels))


def _model_fn(backbone="vgg16", width=1 / 16):
    """A small U-Net; without batch norm, for it traces fastest."""
    return lambda: ToyUNet(backbone, width=width, image_shape=SHAPE, batch_norm=False, seed=3)


def _tiny_model():
    """Two convolutions with batch norm: weights, moving statistics and optimizer state to restore."""
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=keras.initializers.HeNormal(0))(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(11, 3, padding="same", kernel_initializer=keras.initializers.HeNormal(1))(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


TRAIN_KWARGS = dict(epochs=2, batch_size=10, final_fraction=0.5, verbose=0)


class _InterruptAtIteration(keras.callbacks.Callback):
    """Simulates a crash in the middle of an epoch, after `iteration` optimizer steps."""

    def __init__(self, iteration):
        super().__init__()
        self.iteration = iteration

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.iteration:
            raise KeyboardInterrupt


def _files(folder):
    """Relative path -> bytes of every file but the lock (which holds the pid of its last holder)."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished one-epoch training (resnet18, tiny) and its arguments."""
    folder = tmp_path_factory.mktemp("trained")
    result = train(_model_fn(), _dataset(), folder, epochs=1, batch_size=10, seed=0, verbose=0)
    return folder, result


def test_learning_rate_schedule_is_40_then_10_epochs_and_scales():
    rates = [learning_rate_for_epoch(e, 50) for e in range(50)]
    assert rates == [1e-3] * 40 + [1e-4] * 10
    assert [learning_rate_for_epoch(e, 5) for e in range(5)] == [1e-3] * 4 + [1e-4]
    assert [learning_rate_for_epoch(e, 2) for e in range(2)] == [1e-3] * 2
    assert [learning_rate_for_epoch(e, 4, final_fraction=0.5) for e in range(4)] == [1e-3] * 2 + [1e-4] * 2
    assert learning_rate_for_epoch(9, 10, final_fraction=0.0) == 1e-3


def test_cosine_schedule_runs_half_a_cosine_from_the_first_rate_to_the_final_one():
    rates = [learning_rate_at_step(t, 8, learning_rate=1e-3, final_learning_rate=1e-4) for t in range(9)]
    assert rates[0] == pytest.approx(1e-3) and rates[8] == pytest.approx(1e-4)
    assert rates[4] == pytest.approx(5.5e-4)  # half way: the mean of the two rates
    assert rates[2] == pytest.approx(1e-4 + 9e-4 * (1 + np.cos(np.pi / 4)) / 2)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert rates[1] - 1e-4 == pytest.approx(rates[0] - rates[7])  # symmetric about the midpoint
    with pytest.raises(ValueError, match=r"Argument `step` must be in \[0, total_steps=8\].*received 9"):
        learning_rate_at_step(9, 8)


class _RecordRate(keras.callbacks.Callback):
    """The optimizer's learning rate at every step."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.learning_rate.numpy()))


def test_cosine_training_sets_the_rate_of_every_step_resumes_with_it_and_records_it(tmp_path):
    dataset = _dataset()  # 24 elements, batch 10: 3 steps per epoch, 6 in all
    kwargs = dict(TRAIN_KWARGS, schedule="cosine", seed=1)
    expected = [learning_rate_at_step(t, 6, learning_rate=1e-3, final_learning_rate=1e-4) for t in range(6)]
    record = _RecordRate()
    straight = train(_tiny_model, dataset, tmp_path / "straight", callbacks=[record], **kwargs)
    assert record.rates == pytest.approx(expected, rel=1e-6)  # float32 variable
    assert straight.history["learning_rate"] == [expected[2], expected[5]]
    assert json.loads((tmp_path / "straight" / "run.json").read_text())["settings"]["schedule"] == "cosine"

    with pytest.raises(KeyboardInterrupt):
        train(_tiny_model, dataset, tmp_path / "resumed", callbacks=[_InterruptAtIteration(4)], **kwargs)
    record = _RecordRate()
    resumed = train(_tiny_model, dataset, tmp_path / "resumed", callbacks=[record], **kwargs)
    assert resumed.initial_epoch == 1 and record.rates == pytest.approx(expected[3:], rel=1e-6)
    for a, b in zip(straight.model.weights + straight.model.optimizer.variables,
                    resumed.model.weights + resumed.model.optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7, err_msg=a.path)

    # The step schedule's run folder does not record the key (folders written before it resume), and
    # a training with the other schedule is refused there.
    step = train(_tiny_model, dataset, tmp_path / "step", **TRAIN_KWARGS)
    assert "schedule" not in json.loads((tmp_path / "step" / "run.json").read_text())["settings"]
    assert max(np.abs(a - b).max() for a, b in zip(step.model.get_weights(), straight.model.get_weights())) > 1e-6
    with pytest.raises(RunFolderMismatch, match="settings.schedule: not recorded, requested 'cosine'"):
        train(_tiny_model, dataset, tmp_path / "step", **kwargs)


def test_cosine_schedule_needs_a_training_set_of_known_length(tmp_path):
    unknown = _dataset().filter(lambda element: True)
    with pytest.raises(ValueError, match="Argument `schedule` 'cosine' needs a training set of known"):
        train(_tiny_model, unknown, tmp_path / "x", schedule="cosine", **TRAIN_KWARGS)
    assert not (tmp_path / "x").exists()  # refused before anything is written


def test_data_order_is_a_function_of_seed_and_epoch_only():
    def order(seed, epoch, dataset=None):
        dataset = dataset or _dataset(n=30)
        batches = prepare_batches(dataset, batch_size=7, seed=seed, epoch=epoch, shuffle_buffer=30)
        return np.concatenate([images[:, 0, 0, 0].numpy() for images, _ in batches])

    first = order(1, 3)
    np.testing.assert_array_equal(first, order(1, 3))
    np.testing.assert_array_equal(first, order(1, 3, _dataset(n=30, as_dict=False)))
    np.testing.assert_array_equal(np.sort(first), np.sort(_dataset(n=30, as_dict=False).map(
        lambda x, y: x[0, 0, 0]).batch(30).get_single_element().numpy()))  # a permutation
    assert not np.array_equal(first, order(1, 4))
    assert not np.array_equal(first, order(2, 3))
    assert epoch_seed(1, 3) == epoch_seed(1, 3) != epoch_seed(3, 1)


def test_resumed_training_equals_uninterrupted(tmp_path):
    dataset = _dataset()
    straight = train(_tiny_model, dataset, tmp_path / "straight", seed=1, **TRAIN_KWARGS)

    # Crash in the middle of the second epoch (3 steps per epoch): epoch 1's checkpoint survives.
    with pytest.raises(KeyboardInterrupt):
        train(_tiny_model, dataset, tmp_path / "resumed", seed=1,
              callbacks=[_InterruptAtIteration(4)], **TRAIN_KWARGS)
    assert read_checkpoint_state(tmp_path / "resumed").epoch == 1
    # A half-written file of a killed run is ignored and cleaned up.
    (tmp_path / "resumed" / CHECKPOINT_DIR / ".tmp-epoch-0002-x.weights.h5").write_bytes(b"\0" * 10)
    resumed = train(_tiny_model, dataset, tmp_path / "resumed", seed=1, **TRAIN_KWARGS)

    assert resumed.initial_epoch == 1 and straight.initial_epoch == 0
    for a, b in zip(straight.model.weights + straight.model.optimizer.variables,
                    resumed.model.weights + resumed.model.optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7, err_msg=a.path)
    assert resumed.history == straight.history
    assert straight.history["learning_rate"] == [1e-3, 1e-4]  # final_fraction 0.5 of 2 epochs

    # The comparison is sensitive: another data order (same initial weights) ends elsewhere.
    other = train(_tiny_model, dataset, tmp_path / "other", seed=2, **TRAIN_KWARGS)
    assert max(np.abs(a - b).max() for a, b in zip(straight.model.get_weights(),
                                                   other.model.get_weights())) > 1e-4

    # Two checkpoints kept, no temporary files left, the saved model is the trained one.
    names = sorted(p.name for p in (tmp_path / "resumed" / CHECKPOINT_DIR).iterdir())
    assert names == [CHECKPOINT_STATE, "epoch-0001.weights.h5", "epoch-0002.weights.h5"]
    assert not [p for p in (tmp_path / "resumed").rglob(".tmp-*")]
    umask = os.umask(0)
    os.umask(umask)
    for path in [resumed.model_path, *(tmp_path / "resumed" / CHECKPOINT_DIR).iterdir()]:
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path  # not mkstemp's private 0o600
    loaded = keras.models.load_model(resumed.model_path)
    images = next(iter(dataset.batch(2)))["image"]
    np.testing.assert_array_equal(loaded(images, training=False), resumed.model(images, training=False))


def test_finished_training_is_not_repeated(trained):
    folder, first = trained
    before = _files(folder)
    again = train(_model_fn(), _dataset(), folder, epochs=1, batch_size=10, seed=0, verbose=0)
    assert again.initial_epoch == 1 and again.history == first.history
    assert _files(folder) == before


def test_tensorboard_logs_hold_the_epoch_metrics(trained):
    folder, result = trained
    values = {}
    for path in (folder / "logs" / "train").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                values[value.tag] = float(tf.make_ndarray(value.tensor))
    assert values["epoch_loss"] == pytest.approx(result.history["loss"][0])
    assert values["epoch_learning_rate"] == pytest.approx(1e-3)
    assert {"epoch_accuracy", "epoch_mean_iou"} <= set(values)


@pytest.mark.parametrize("change, message", [
    (dict(model_fn=_model_fn(width=1 / 8)),
     r"holds another run \(settings.architecture.config.width: recorded 0.0625, requested 0.125; "
     r"settings.architecture.weights: recorded '.* tensors, .* parameters, shapes .*', requested '.*'\); "
     r"choose another folder, or overwrite"),
    (dict(model_fn=_model_fn(backbone="resnet18")),
     "settings.architecture.config.backbone: recorded 'vgg16', requested 'resnet18'"),
    (dict(model_fn=_tiny_model),
     "settings.architecture.class: recorded 'toy_benchmark>ToyUNet', requested 'Functional'"),
    (dict(batch_size=5), "settings.batch_size: recorded 10, requested 5"),
    (dict(seed=4), "settings.seed: recorded 0, requested 4"),
    (dict(dataset_info={"variant": "other"}), "settings.dataset.variant: not recorded, requested 'other'"),
])
def test_incompatible_checkpoint_is_refused_and_kept(trained, change, message):
    folder, _ = trained
    before = _files(folder)
    kwargs = dict(model_fn=_model_fn(), dataset=_dataset(), output_dir=folder, epochs=1,
                  batch_size=10, seed=0, verbose=0)
    kwargs.update(change)
    with pytest.raises(RunFolderMismatch, match=message) as error:
        train(**kwargs)
    assert len(str(error.value)) < 500 and "\n" not in str(error.value)
    assert _files(folder) == before


def test_overwrite_replaces_a_training_with_other_settings(trained, tmp_path):
    folder, first = trained
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "stranger.txt").write_text("from the replaced run")
    result = train(_model_fn(), _dataset(), copy, epochs=1, batch_size=5, seed=0, verbose=0, overwrite=True)
    assert result.initial_epoch == 0 and result.history != first.history  # trained anew
    assert not (copy / "stranger.txt").exists()
    assert json.loads((copy / "run.json").read_text())["settings"]["batch_size"] == 5
    again = train(_model_fn(), _dataset(), copy, epochs=1, batch_size=5, seed=0, verbose=0)
    assert again.initial_epoch == 1  # the same settings resume, with or without overwrite


def test_damaged_checkpoint_gives_a_clear_error(trained, tmp_path):
    folder, _ = trained
    missing, truncated = tmp_path / "missing", tmp_path / "truncated"
    shutil.copytree(folder, missing)
    shutil.copytree(folder, truncated)
    (missing / CHECKPOINT_DIR / "epoch-0001.weights.h5").unlink()
    with pytest.raises(ValueError, match="names weights epoch-0001.weights.h5, which are missing"):
        train(_model_fn(), _dataset(), missing, epochs=1, batch_size=10, verbose=0)
    weights = truncated / CHECKPOINT_DIR / "epoch-0001.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match="cannot be loaded"):
        train(_model_fn(), _dataset(), truncated, epochs=1, batch_size=10, verbose=0)


def test_bad_arguments(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(OSError, match="is not writable"):
        train(_model_fn(), _dataset(), blocker / "out", epochs=1, verbose=0)
    with pytest.raises(TypeError, match="Argument `dataset` must be a tf.data.Dataset"):
        train(_model_fn(), np.zeros((2, 32, 32, 1)), tmp_path / "x", verbose=0)
    with pytest.raises(ValueError, match="unbatched elements"):
        train(_model_fn(), _dataset().batch(2), tmp_path / "x", verbose=0)
    with pytest.raises(ValueError, match="Argument `epochs` must be a positive integer; received 0."):
        train(_model_fn(), _dataset(), tmp_path / "x", epochs=0)
    with pytest.raises(TypeError, match="Argument `model_fn` must return a keras.Model"):
        train(lambda: "model", _dataset(), tmp_path / "x", verbose=0)
    with pytest.raises(ValueError, match="Argument `schedule` must be one of step, cosine; received 'linear'."):
        train(_model_fn(), _dataset(), tmp_path / "x", schedule="linear", verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # nothing was written


def _run_python(code, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=timeout)


def test_mirrored_strategy_on_two_cpus_matches_one_device(tmp_path):
    """Two replicas of half a batch each make the same updates as one replica of the whole batch."""
    process = _run_python(f"""
        import keras, numpy as np, tensorflow as tf
        from toy_benchmark import training
        training.configure_cpu_devices(2)
        rng = np.random.default_rng(0)
        images = rng.random((40, 32, 32, 1)).astype("float32")
        labels = rng.integers(0, 11, (40, 32, 32)).astype("int32")
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))

        def model_fn():  # no batch norm: its statistics are per replica by design
            inputs = keras.Input((32, 32, 1))
            x = keras.layers.Conv2D(8, 3, padding="same", activation="relu",
                                    kernel_initializer=keras.initializers.HeNormal(0))(inputs)
            x = keras.layers.Conv2D(11, 3, padding="same",
                                    kernel_initializer=keras.initializers.HeNormal(1))(x)
            return keras.Model(inputs, keras.layers.Softmax()(x))

        weights = []
        for name in ["default", "mirrored"]:
            strategy = training.make_strategy(name)
            result = training.train(model_fn, dataset, r"{tmp_path}/" + name, epochs=2, batch_size=20,
                                    verbose=0, strategy=strategy)
            print(name, strategy.num_replicas_in_sync, result.history["loss"])
            weights.append(result.model.get_weights())
        print("maxdiff", max(np.abs(a - b).max() for a, b in zip(*weights)))
        print("moved", max(np.abs(a - b).max() for a, b in zip(weights[0], model_fn().get_weights())))
    """)
    assert process.returncode == 0, process.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in process.stdout.splitlines())
    assert lines["default"].startswith("1 ") and lines["mirrored"].startswith("2 ")
    assert float(lines["maxdiff"]) < 1e-5 < float(lines["moved"])


# --- The binary -------------------------------------------------------------------------------

BINARY_ARGS = ["--bias_strength=strong", "--bias_digit=3", "--bias_texture=2", "--num_train=20",
               "--num_validation=10", "--backbone=vgg16", "--width=0.0625", "--nobatch_norm",
               "--epochs=2", "--batch_size=10", "--verbose=0"]


def _run_binary(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "toy_benchmark.train_main", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=600)


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("binary") / "run"
    return output, _run_binary(f"--output_dir={output}", *BINARY_ARGS)


def test_binary_trains_a_toy_variant(binary_run):
    output, process = binary_run
    assert process.returncode == 0, process.stderr[-3000:]
    assert f"toy-train: model saved to {output / FINAL_MODEL}" in process.stdout
    model = keras.models.load_model(output / FINAL_MODEL)
    assert isinstance(model, ToyUNet) and model.get_config()["width"] == 0.0625
    assert model(np.zeros((1, 64, 64, 1), np.float32)).shape == (1, 64, 64, 11)
    state = json.loads((output / CHECKPOINT_DIR / CHECKPOINT_STATE).read_text())
    assert state["schema"] == "toy_benchmark.checkpoint" and state["schema_version"] == 2
    assert state["epoch"] == 2
    assert len(state["history"]["val_loss"]) == 2
    run = json.loads((output / "run.json").read_text())
    assert run["kind"] == "toy_benchmark.training"
    assert run["settings"]["dataset"]["variant"] == {
        "strength": "strong", "bias_digit": 3, "bias_texture": 2, "seed": 0, "split": "train",
        "num_samples": 20}


def test_binary_bad_input_is_a_one_line_error(tmp_path):
    """Bug: `--jit_compile` under the binary's default op determinism trained without XLA (Keras drops it
    then, with a Python warning only); now refused like any bad input. One process for both command lines
    (tests/binary_cases.py), with the binary's own op determinism."""
    outcomes = run_cases("toy_benchmark.train_main", "toy-train", [
        [f"--output_dir={tmp_path / 'backbone'}", *BINARY_ARGS, "--backbone=resnet50"],
        [f"--output_dir={tmp_path / 'jit'}", *BINARY_ARGS, "--jit_compile"]])
    expected = ["toy-train: error: Argument `backbone` must be one of vgg16, mobilenetv2, resnet18; received "
                "'resnet50'.",
                "toy-train: error: Argument `jit_compile` must be False while TensorFlow op determinism is on (the "
                "toy binaries turn it on; toy-train --nodeterministic leaves it off): Keras compiles no XLA train "
                "step then and would train without it; received True."]
    assert [outcome["code"] for outcome in outcomes] == [2, 2]
    assert [outcome["stderr"].strip().splitlines() for outcome in outcomes] == [[line] for line in expected]
    assert not os.listdir(tmp_path)


def test_jit_compile_trains_with_xla_without_op_determinism(tmp_path):
    """This test process runs without op determinism (the binaries' `_main` below passes --nodeterministic):
    the train step is compiled with XLA as asked."""
    from toy_benchmark.training.strategy import op_determinism_enabled

    assert op_determinism_enabled() is False, "a test turned op determinism on in this process"
    result = train(_model_fn(), _dataset(n=10), tmp_path / "run", epochs=1, batch_size=10, jit_compile=True,
                   tensorboard=False, verbose=0)
    assert result.model.jit_compile is True
    assert np.isfinite(result.history["loss"]).all()


def test_jit_compile_is_refused_for_a_layer_without_xla_support(tmp_path):
    """The other case where Keras drops XLA: refused before anything is written, not trained without it."""
    def model_fn():
        model = _tiny_model()
        model.layers[-1].supports_jit = False  # as a layer that XLA cannot compile declares itself
        return model

    with pytest.raises(ValueError, match=r"Argument `jit_compile` must be False for a model with a layer that does "
                                         r"not support XLA: .*received True"):
        train(model_fn, _dataset(n=10), tmp_path / "run", epochs=1, batch_size=10, jit_compile=True, verbose=0)
    assert not (tmp_path / "run").exists()


def _main(capsys, *args):
    """Runs the binary in this process, under its wrapper; returns its exit code, stdout and stderr.

    Without op determinism, which the binary turns on by default and which cannot be turned off again in
    this test process."""
    import importlib

    from absl import flags

    binary = importlib.import_module("toy_benchmark.train_main")
    flags.FLAGS.unparse_flags()
    try:
        run_binary(binary.main, name="toy-train", argv=["toy_benchmark.train_main", "--nodeterministic", *args])
    except SystemExit as exit_:
        code = exit_.code or 0
    finally:
        flags.FLAGS.unparse_flags()
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _main_error(capsys, *args):
    """Runs the binary's main in this process; returns its exit code and last stderr line."""
    code, _, err = _main(capsys, *args)
    return code, err.strip().splitlines()[-1]


def test_binary_refuses_an_incompatible_checkpoint(binary_run, capsys):
    output, process = binary_run
    assert process.returncode == 0
    before = _files(output)
    code, line = _main_error(capsys, f"--output_dir={output}", *BINARY_ARGS, "--width=0.125")
    assert code == 2 and "(settings.architecture.config.width: recorded 0.0625, requested 0.125;" in line
    assert line.startswith("toy-train: error: ") and line.endswith("choose another folder, or overwrite to replace it")
    code, line = _main_error(capsys, f"--output_dir={output}", *BINARY_ARGS, "--bias_digit=4")
    assert code == 2 and "(settings.dataset.variant.bias_digit: recorded 3, requested 4)" in line
    assert _files(output) == before
    replaced = output.parent / "replaced"
    shutil.copytree(output, replaced)
    code, out, err = _main(capsys, f"--output_dir={replaced}", *BINARY_ARGS, "--bias_digit=4", "--overwrite")
    assert code == 0 and "model saved to" in out, err
    assert json.loads((replaced / "run.json").read_text())["settings"]["dataset"]["variant"]["bias_digit"] == 4


def test_binary_checks_the_dataset_folder_against_its_flags(tmp_path, capsys):
    from toy_benchmark.data.writer import write_dataset
    from toy_benchmark.data.variant import DatasetVariant

    folder = tmp_path / "dataset"
    write_dataset(folder, DatasetVariant("strong", 3, 2, num_samples=10))
    code, line = _main_error(capsys, f"--output_dir={tmp_path / 'out'}", f"--dataset_dir={folder}",
                             "--bias_digit=4", "--bias_texture=2")
    assert code == 2
    assert line.startswith("toy-train: error: Argument `dataset_dir` must hold the requested dataset; ")
    assert line.endswith("which does not match: bias_digit=4 (manifest: 3).")
    code, line = _main_error(capsys, f"--output_dir={tmp_path / 'out'}",
                             f"--dataset_dir={tmp_path / 'nowhere'}")
    assert code == 2 and "Argument `dataset_dir` must be a folder" in line
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    code, line = _main_error(capsys, f"--output_dir={blocker / 'out'}", f"--dataset_dir={folder}")
    assert code == 2 and "is not writable" in line
    assert not (tmp_path / "out").exists()


def test_binary_resumes_from_a_materialised_dataset(tmp_path, capsys, caplog):
    """A run on the stored dataset equals one on the streamed variant: same identity, no mismatch."""
    from toy_benchmark.data.writer import write_dataset
    from toy_benchmark.data.variant import DatasetVariant

    folder = tmp_path / "dataset"
    write_dataset(folder, DatasetVariant("none", num_samples=10))
    common = [f"--output_dir={tmp_path / 'out'}", "--width=0.0625", "--nobatch_norm", "--epochs=1",
              "--batch_size=5", "--verbose=0"]
    code, out, err = _main(capsys, *common, "--num_train=10")
    assert code == 0 and "model saved to" in out, err
    with caplog.at_level("INFO", logger="toy_benchmark"):  # absl resets the root level in app.run
        code, out, err = _main(capsys, *common, f"--dataset_dir={folder}")
    assert code == 0 and "model saved to" in out, err
    assert "from epoch 1 of 1" in caplog.text, (out, err, caplog.text)
    check = json.loads((tmp_path / "out" / ".done" / "verified-dataset.json").read_text())
    assert check["path"] == str(folder) and list(check["shards"]) == ["shard-00000-of-00001.npy"]


_NATIVE_LOG = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl::InitializeLog"
                         r"|To enable the following instructions)")


def _own_lines(stderr):
    """stderr without TensorFlow's C++ start-up lines (printed at import whatever the log level)."""
    return [line for line in stderr.splitlines() if line.strip() and not _NATIVE_LOG.match(line)]


def test_binary_refuses_a_byte_flipped_shard_naming_it(tmp_path):
    """Reported: `toy-train --dataset_dir` on a byte-flipped shard trained without noticing."""
    from toy_benchmark.data.variant import DatasetVariant
    from toy_benchmark.data.writer import write_dataset

    folder = tmp_path / "dataset"
    write_dataset(folder, DatasetVariant(num_samples=10))
    shard = folder / "shard-00000-of-00001.npy"
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF  # same size: only the checksum tells
    shard.write_bytes(bytes(data))
    process = _run_binary(f"--output_dir={tmp_path / 'out'}", f"--dataset_dir={folder}", "--width=0.0625",
                          "--nobatch_norm", "--epochs=1", "--batch_size=5", "--verbose=0")
    assert process.returncode == 2
    assert _own_lines(process.stderr) == [
        f"toy-train: error: dataset {str(folder)!r}: shard shard-00000-of-00001.npy is damaged (size or sha256 "
        "differ from the manifest); run the dataset writer on the folder again to repair it"]
    assert not (tmp_path / "out").exists()


def _wait_for(path, process, timeout=600):
    deadline = time.monotonic() + timeout
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.exists(), process.communicate()


@pytest.mark.slow
def test_ctrl_c_prints_one_line_exits_130_and_the_rerun_resumes(tmp_path):
    """Reported: Ctrl-C during toy-train printed a raw KeyboardInterrupt traceback."""
    output = tmp_path / "run"
    args = [f"--output_dir={output}", "--num_train=600", "--width=0.0625", "--nobatch_norm", "--epochs=3",
            "--batch_size=20", "--verbose=0"]
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.Popen([sys.executable, "-m", "toy_benchmark.train_main", *args], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(output / CHECKPOINT_DIR / CHECKPOINT_STATE, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 130
    assert _own_lines(stderr) == ["toy-train: interrupted; run the same command again to resume"]
    done = read_checkpoint_state(output).epoch
    assert 1 <= done < 3 and not list(output.rglob(".tmp-*"))
    resumed = _run_binary(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming {output} from epoch {done} of 3" in resumed.stderr
    assert read_checkpoint_state(output).epoch == 3 and (output / FINAL_MODEL).exists()


@pytest.mark.slow
def test_binary_killed_mid_training_resumes_to_the_same_weights(tmp_path):
    """SIGKILL after the first checkpoint, run again: the weights equal an uninterrupted run's."""
    import signal
    import time

    args = ["--num_train=200", "--backbone=resnet18", "--width=0.125", "--epochs=3", "--batch_size=20",
            "--verbose=0", "--strategy=mirrored", "--logical_cpus=2"]
    straight = _run_binary(f"--output_dir={tmp_path / 'straight'}", *args)
    assert straight.returncode == 0, straight.stderr[-3000:]

    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "toy_benchmark.train_main", f"--output_dir={killed}",
                                *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    state = killed / CHECKPOINT_DIR / CHECKPOINT_STATE
    deadline = time.monotonic() + 600
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert read_checkpoint_state(killed).epoch < 3
    resumed = _run_binary(f"--output_dir={killed}", *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming" in resumed.stderr

    a = keras.models.load_model(tmp_path / "straight" / FINAL_MODEL)
    b = keras.models.load_model(killed / FINAL_MODEL)
    for u, v in zip(a.weights, b.weights):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-6, atol=1e-7, err_msg=u.path)
