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
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
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
