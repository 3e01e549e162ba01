"""tf.distribute: MirroredStrategy over two logical CPU devices gives the records of one process, exactly.

Logical devices must be configured before TensorFlow initialises its devices, so the run happens in a
fresh subprocess; it explains the fixture once on the default device and once with the strategy (each
replica optimising its half of every batch) and compares the records and the aggregate.
"""

import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = textwrap.dedent('''
    import sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from deeplab_utils.cityscapes import (Protocol, aggregate_records, claim_run, explain_examples, list_examples,
                                          load_records, optimizer_settings, run_settings)
    from deeplab_utils.cityscapes.explainer import BatchExplainer
    from deeplab_utils.cityscapes.testing import context_model, write_cityscapes_fixture
    from grid_saliency_tf import GridSaliencyOptimizer

    folder = sys.argv[1]
    write_cityscapes_fixture(f"{folder}/data", images_per_city=1)
    examples = list_examples(f"{folder}/data")
    protocol = Protocol(prediction_classes=("rider", "car"), error_pairs=(("person", "rider"),))
    model = context_model()
    optimizer = GridSaliencyOptimizer(model, **optimizer_settings({"steps": 40}))
    from deeplab_utils.cityscapes.distribute import make_strategy

    strategy = make_strategy("mirrored")   # no GPU here: the two logical CPU devices
    explainer = BatchExplainer(optimizer, batch_size=2, strategy=strategy)
    assert (explainer.replicas, explainer.global_batch) == (2, 4), (explainer.replicas, explainer.global_batch)
    results = {}
    for name, options in (("one", {"batch_size": 4}), ("mirrored", {"batch_size": 2, "strategy": strategy})):
        claim_run(f"{folder}/{name}", run_settings(protocol, optimizer.get_config(), model_name="fixture", split="val"))
        explain_examples(model, examples, f"{folder}/{name}", protocol=protocol, optimizer=optimizer, **options)
        records = load_records(f"{folder}/{name}")
        results[name] = ([record.groups for record in records], aggregate_records(records, protocol.groups))
    assert results["one"][0] == results["mirrored"][0], "records differ"
    assert results["one"][1] == results["mirrored"][1], "aggregates differ"
    assert results["one"][1].group("rider").counted == 2
    print("EQUAL")
''')


@pytest.mark.slow  # a fresh TensorFlow process and two traces: 25-30 s on the shared 2-core machine
def test_mirrored_strategy_on_two_logical_cpus_equals_one_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "EQUAL" in result.stdout


def _free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


@pytest.mark.slow  # two TensorFlow workers and a reference run of the binary: a minute or two
def test_two_multi_worker_processes_write_the_records_of_one_process(tmp_path):
    import json

    from deeplab_utils.cityscapes.records import load_records
    from deeplab_utils.cityscapes.testing import context_model, write_cityscapes_fixture

    write_cityscapes_fixture(tmp_path / "data")
    context_model().save(tmp_path / "fixture.keras")
    common = [sys.executable, "-m", "deeplab_utils.cityscapes_main", "--dataset", str(tmp_path / "data"), "--model",
              str(tmp_path / "fixture.keras"), "--prediction_classes=rider,car", "--error_pairs=person:rider",
              "--steps=40", "--batch_size=2", "--verbose=0"]
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    workers = [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]
    processes = [subprocess.Popen([*common, "--strategy=multi_worker", "--stage=explain", "--output_dir",
                                   str(tmp_path / "workers")], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env={**env, "TF_CONFIG": json.dumps(
                                      {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})})
                 for index in range(2)]
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    # Each worker took the images of its position: worker i of 2 is shard i of 2.
    assert sorted(path.name for path in (tmp_path / "workers/shards").iterdir()) == ["0000-of-0002", "0001-of-0002"]
    single = subprocess.run([*common, "--stage=explain", "--output_dir", str(tmp_path / "single")], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    distributed = {record.image: record.groups for record in load_records(tmp_path / "workers")}
    assert distributed == {record.image: record.groups for record in load_records(tmp_path / "single")}
    assert len(distributed) == 4
