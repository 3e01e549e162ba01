"""The COCO job under tf.distribute: MirroredStrategy over two logical CPU devices equals one process, exactly.

Logical devices must be set before TensorFlow initialises its devices, so the comparison runs in a fresh
interpreter: the fixture is explained with both models once on the default device (4 requests per call)
and once with the strategy (2 per replica, the same 4 per call; both devices must return their half of
every batch), and the records and the comparisons must be equal.
"""

import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MIRRORED = textwrap.dedent('''
    import sys
    import tensorflow as tf

    tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                               [tf.config.LogicalDeviceConfiguration()] * 2)

    from deeplab_utils.cityscapes.distribute import make_strategy
    from deeplab_utils.cityscapes.job import optimizer_settings
    from deeplab_utils.coco import CocoProtocol, compare_models, load_dataset, load_model_records
    from deeplab_utils.coco.job import ComparedModel, explain_images
    from deeplab_utils.coco.testing import self_contained_model, water_boat_model, write_coco_fixture
    from grid_saliency_tf import GridSaliencyOptimizer

    strategy = make_strategy("mirrored")  # no GPU: the two logical CPU devices
    replicas, local_results = [], strategy.experimental_local_results


    def counted_local_results(value):  # how many devices return a part of each batch
        parts = local_results(value)
        replicas.append(len(parts))
        return parts


    strategy.experimental_local_results = counted_local_results
    paths = write_coco_fixture(sys.argv[1] + "/data", scenes=("boat_on_sea", "boats_and_person", "train_on_rails"))
    dataset = load_dataset(paths["images"], paths["instances"], paths["stuff"])
    protocol = CocoProtocol(classes=("boat", "train"))
    models = [ComparedModel(name, model, GridSaliencyOptimizer(model, **optimizer_settings({"steps": 20})))
              for name, model in (("water", water_boat_model()), ("plain", self_contained_model()))]
    outcome = {}
    for run, options in (("one", {"batch_size": 4}), ("mirrored", {"batch_size": 2, "strategy": strategy})):
        summary = explain_images(models, dataset, f"{sys.argv[1]}/{run}", protocol=protocol, **options)
        records = {entry.name: load_model_records(f"{sys.argv[1]}/{run}", entry.name) for entry in models}
        outcome[run] = (summary, {model: {image: (record.pixel_accuracy, record.classes)
                                          for image, record in kept.items()} for model, kept in records.items()},
                        compare_models(records, protocol.classes, dataset.context_classes, num_resamples=200))
    assert replicas and set(replicas) == {2}, replicas  # both devices returned their half of every batch
    assert outcome["one"][0]["records"] == 6 and outcome["one"][0]["requests"] > 0, outcome["one"][0]
    for part, name in enumerate(("summaries", "records", "comparisons")):
        assert outcome["one"][part] == outcome["mirrored"][part], name + " differ"
    print("EQUAL", outcome["one"][0]["requests"])
''')


@pytest.mark.slow  # a fresh TensorFlow process, two models traced twice: about 40 s on the shared 2-core machine
def test_mirrored_strategy_on_two_logical_cpus_equals_one_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "EQUAL" in done.stdout
