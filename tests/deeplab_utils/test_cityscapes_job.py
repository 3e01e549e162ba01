"""The explain stage end to end on the fixture: known context dependence, resume, shards, bad models.

The fixture model (deeplab_utils.cityscapes.testing.context_model) predicts "rider" only where a bicycle
is near and recognises cars by their own colour: the statistics must put rider's context on the bicycle
far above the baseline's share, and car requests must come out empty (self-contained, supplement S2.2).
"""

import json

import keras
import numpy as np
import pytest

from deeplab_utils.cityscapes.aggregate import aggregate_records
from deeplab_utils.cityscapes.dataset import list_examples
from deeplab_utils.cityscapes.folders import claim_run, shard_lock
from deeplab_utils.cityscapes.job import explain_examples, optimizer_settings, run_settings
from deeplab_utils.cityscapes.protocol import Protocol
from deeplab_utils.cityscapes.records import load_records
from deeplab_utils.cityscapes.testing import context_model, write_cityscapes_fixture
from deeplab_utils.cityscapes.summary import write_aggregate
from grid_saliency_tf import GridSaliencyOptimizer
from grid_saliency_tf.experiment import RunFolderBusy, RunFolderMismatch, decode_png

SMALL = Protocol(prediction_classes=("rider", "car"), error_pairs=(("person", "rider"),))
STEPS = {"steps": 40}


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    root = tmp_path_factory.mktemp("cityscapes")
    write_cityscapes_fixture(root)
    return list_examples(root)


@pytest.fixture(scope="module")
def model():
    return context_model()


@pytest.fixture(scope="module")
def optimizer(model):
    return GridSaliencyOptimizer(model, **optimizer_settings(STEPS))


def _run(model, optimizer, examples, folder, protocol=SMALL, **options):
    claim_run(folder, run_settings(protocol, optimizer.get_config(), model_name="fixture", split="val"))
    return explain_examples(model, examples, folder, protocol=protocol, optimizer=optimizer, **options)


@pytest.fixture(scope="module")
def reference(model, optimizer, examples, tmp_path_factory):
    """One uninterrupted one-process run of the small protocol."""
    folder = tmp_path_factory.mktemp("reference")
    _run(model, optimizer, examples, folder, batch_size=4)
    return folder, aggregate_records(load_records(folder), SMALL.groups)


def _aggregate(folder):
    return aggregate_records(load_records(folder), SMALL.groups)


def test_rider_context_is_the_bicycle_and_cars_are_self_contained(model, optimizer, examples, tmp_path):
    protocol = Protocol(prediction_classes=("rider", "car", "bicycle"),
                        error_pairs=(("rider", "rider"), ("person", "rider"), ("car", "car")))
    summary = _run(model, optimizer, examples, tmp_path, protocol=protocol, batch_size=8,
                   panel_names=[examples[0].name])
    assert summary["images"] == 4 and summary["requests"] > 20
    aggregate = aggregate_records(load_records(tmp_path), protocol.groups)
    bicycle = aggregate.class_names.index("bicycle")
    rider, car = aggregate.group("rider"), aggregate.group("car")
    assert rider.images_counted == 4 and rider.counted == rider.requests
    assert rider.saliency_distribution[bicycle] > 0.6   # the rest on the road below the bicycle
    assert rider.saliency_distribution[bicycle] > rider.baseline_distribution[bicycle] + 0.4
    assert car.requests >= 4 and car.counted == 0 and car.empty_saliency == car.requests
    assert car.saliency_distribution is None and car.baseline_distribution is not None
    # The pedestrian beside a parked bicycle is predicted as a rider: an error request person/rider.
    assert aggregate.group("person/rider").requests >= 1
    assert (tmp_path / "panels" / "aachen" / "aachen_000000_000000_rider.png").is_file()
    record = json.loads((tmp_path / "records/aachen/aachen_000000_000000.json").read_text())
    assert record["schema"] == "deeplab_utils.cityscapes.image" and len(record["groups"]) == 6
    # Fig. S15 examples are rebuilt from the records, the prediction PNGs and the data set.
    write_aggregate(tmp_path, examples=examples, examples_per_group=3, draw_figures=False)
    tile = decode_png((tmp_path / "aggregate/examples/rider.png").read_bytes())
    assert tile.shape[1] == 2 * 128 + 4 and not (tmp_path / "aggregate/examples/car.png").exists()


def test_a_rerun_skips_finished_images(model, optimizer, examples, reference):
    folder, _ = reference
    before = {path: path.read_bytes() for path in (folder / "records").rglob("*.json")}
    summary = _run(model, optimizer, examples, folder, batch_size=4)
    assert summary == {"images": 0, "skipped": 4, "requests": 0}
    assert {path: path.read_bytes() for path in (folder / "records").rglob("*.json")} == before


class _Interrupt:
    """A progress bar that raises KeyboardInterrupt when the second image finishes (like Ctrl-C)."""

    def __init__(self):
        self.done = 0
        self.bar = type("Bar", (), {"set_postfix_str": lambda *args, **kwargs: None})()

    def update(self, count=1):
        self.done += count
        if self.done == 2:
            raise KeyboardInterrupt


def test_resume_after_an_interruption_equals_an_uninterrupted_run(model, optimizer, examples, reference, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _run(model, optimizer, examples, tmp_path, batch_size=3, progress=_Interrupt())
    # The second record is written; an image already optimised and queued for finishing may follow it.
    written = len(load_records(tmp_path))
    assert 2 <= written < 4
    summary = _run(model, optimizer, examples, tmp_path, batch_size=5)
    assert summary["skipped"] == written and summary["images"] == 4 - written
    assert _aggregate(tmp_path) == reference[1]


def test_two_shards_into_one_folder_equal_one_process(model, optimizer, examples, reference, tmp_path):
    from deeplab_utils.cityscapes.dataset import select_shard

    settings = run_settings(SMALL, optimizer.get_config(), model_name="fixture", split="val")
    for index in (1, 0):   # as run_explain does: claim the run, then hold the shard
        claim_run(tmp_path, settings)
        with shard_lock(tmp_path, index, 2):
            explain_examples(model, select_shard(examples, 2, index), tmp_path, protocol=SMALL, optimizer=optimizer,
                             batch_size=2)
    assert sorted(path.name for path in (tmp_path / "shards").iterdir()) == ["0000-of-0002", "0001-of-0002"]
    assert _aggregate(tmp_path) == reference[1]
    records = {record.image: record for record in load_records(tmp_path)}
    for record in load_records(reference[0]):   # every record equal but for the wall time
        assert record.groups == records[record.image].groups


def test_a_busy_shard_and_other_settings_are_refused(optimizer, tmp_path):
    with shard_lock(tmp_path, 0, 2):
        with pytest.raises(RunFolderBusy, match="is in use by process"):
            with shard_lock(tmp_path, 0, 2):
                pass
    claim_run(tmp_path / "run", run_settings(SMALL, optimizer.get_config(), model_name="fixture", split="val"))
    other = optimizer_settings({"steps": 80})
    with pytest.raises(RunFolderMismatch, match="settings.optimizer.steps: recorded 40, requested 80"):
        claim_run(tmp_path / "run", run_settings(SMALL, other, model_name="fixture", split="val"))


def test_a_21_class_model_stops_at_the_first_image_and_writes_nothing(examples, tmp_path):
    inputs = keras.Input((None, None, 3))
    pascal = keras.Model(inputs, keras.layers.Conv2D(21, 1, activation="softmax")(inputs))
    optimizer = GridSaliencyOptimizer(pascal, **optimizer_settings(STEPS))
    with pytest.raises(ValueError, match=r"to the 19 Cityscapes train-id probabilities \(1, 64, 128, 19\); "
                                         r"received an output of shape \(1, 64, 128, 21\)"):
        explain_examples(pascal, examples, tmp_path, protocol=SMALL, optimizer=optimizer)
    assert not (tmp_path / "records").exists()


def test_logits_declared_as_probabilities_are_refused(examples, tmp_path):
    inputs = keras.Input((None, None, 3))
    logits = keras.Model(inputs, keras.layers.Conv2D(19, 1)(inputs))
    optimizer = GridSaliencyOptimizer(logits, **optimizer_settings(STEPS))
    with pytest.raises(ValueError, match="pass model_output='logits'"):
        explain_examples(logits, examples, tmp_path, protocol=SMALL, optimizer=optimizer)


def test_the_optimizer_must_be_in_context_mode_on_0_255(model, examples, tmp_path):
    grid = GridSaliencyOptimizer(model, **optimizer_settings({**STEPS, "mode": "grid"}))
    with pytest.raises(ValueError, match="must be in context mode with value_range"):
        explain_examples(model, examples, tmp_path, protocol=SMALL, optimizer=grid)


def test_the_optimizer_settings_are_the_papers_in_context_mode():
    settings = optimizer_settings()
    for key, value in GridSaliencyOptimizer.cityscapes_defaults().items():
        assert settings[key] == value
    assert settings["mode"] == "context" and settings["value_range"] == (0.0, 255.0)
    assert settings["convergence_threshold"] == 0.1 and np.isclose(settings["clip_below"], 0.2)


def test_an_unreadable_image_stops_the_run_naming_it_and_keeps_the_records_before_it(model, optimizer, examples,
                                                                                      tmp_path):
    import shutil

    from deeplab_utils.cityscapes.dataset import list_examples as listing

    root = tmp_path / "data"
    shutil.copytree(examples[0].image_path.parents[3], root)
    broken = root / "leftImg8bit/val/bochum/bochum_000000_000000_leftImg8bit.png"
    broken.write_bytes(broken.read_bytes()[:200])   # the header (and size) survive, the pixels do not
    copied = listing(root)
    with pytest.raises(ValueError, match="must hold readable PNG files; received .*bochum_000000_000000_leftImg8bit"):
        _run(model, optimizer, copied, tmp_path / "run", batch_size=16)   # still queued when reading fails
    assert [record.image for record in load_records(tmp_path / "run")] == [e.name for e in copied[:2]]
