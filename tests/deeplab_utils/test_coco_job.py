"""The COCO explain stage on the fixture: known context use ranked, one read per image, resume, shards, wrong models.

The fixture's two VOC models (deeplab_utils.coco.testing): one predicts "boat" only with water nearby,
the other recognises boats by their own colour. The comparison must find that the first relies on
context (its boat saliency on the sea, none self-contained, a large loss without context) and the second
does not, with bootstrap intervals over images that exclude zero.
"""

import os

import pytest

from deeplab_utils.cityscapes.folders import shard_lock
from deeplab_utils.cityscapes.job import optimizer_settings
from deeplab_utils.cityscapes.testing import context_model
from deeplab_utils.coco.comparison import compare_models
from deeplab_utils.coco.dataset import load_dataset
from deeplab_utils.coco.job import ComparedModel, explain_images
from deeplab_utils.coco.protocol import CocoProtocol
from deeplab_utils.coco.records import ModelImageRecord, load_model_records, record_name
from deeplab_utils.coco.testing import self_contained_model, water_boat_model, write_coco_fixture
from grid_saliency_tf import GridSaliencyOptimizer
from grid_saliency_tf.experiment import RunFolderBusy

PROTOCOL = CocoProtocol(classes=("boat", "person", "train"))
SETTINGS = optimizer_settings({"steps": 20})  # the fixture converges in 20 steps (80 in the paper)


def _compared(name, model):
    return ComparedModel(name, model, GridSaliencyOptimizer(model, **SETTINGS))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    paths = write_coco_fixture(tmp_path_factory.mktemp("coco"))
    return load_dataset(paths["images"], paths["instances"], paths["stuff"])


@pytest.fixture(scope="module")
def models():
    return [_compared("water", water_boat_model()), _compared("plain", self_contained_model())]


@pytest.fixture(scope="module")
def run(dataset, models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    summary = explain_images(models, dataset, folder, protocol=PROTOCOL, batch_size=4)
    return folder, summary


def _records(folder):
    return {model: load_model_records(folder, model) for model in ("water", "plain")}


def test_the_context_reader_is_ranked_above_the_self_contained_model(run, dataset):
    folder, _ = run
    comparison = compare_models(_records(folder), PROTOCOL.classes, dataset.context_classes, num_resamples=500)
    area = comparison.difference("boat", "context_area", "water", "plain")
    loss = comparison.difference("boat", "empty_mask_loss", "water", "plain")
    contained = comparison.difference("boat", "self_contained", "water", "plain")
    assert area.images == 4 and area.requests_a == 6 and area.excludes_zero and area.low > 0.3
    assert loss.excludes_zero and loss.low > 0.5
    assert contained.excludes_zero and contained.high < 0
    water = comparison.statistic("water", "boat")
    assert water.counted == 6 and water.measures["self_contained"] == 0.0
    sea = dataset.context_classes.index("sea")
    assert water.saliency_distribution[sea] > 0.9 > water.baseline_distribution[sea]
    assert comparison.statistic("plain", "boat").measures["self_contained"] == 1.0
    for name in ("person", "train"):  # recognised by colour alone in both models: no difference
        assert comparison.difference(name, "context_area", "water", "plain").estimate == 0.0


def test_each_image_is_read_once_for_every_model_and_a_rerun_reads_only_what_is_missing(run, dataset, models):
    folder, summary = run
    assert summary == {"images": 6, "skipped": 0, "records": 12, "requests": 20}
    again = explain_images(models, dataset, folder, protocol=PROTOCOL, batch_size=4)
    assert again == {"images": 0, "skipped": 6, "records": 0, "requests": 0}
    path = folder / record_name("plain", "000000000002")
    before = ModelImageRecord.load(path)
    os.remove(path)
    resumed = explain_images(models, dataset, folder, protocol=PROTOCOL, batch_size=4)
    assert resumed == {"images": 1, "skipped": 5, "records": 1, "requests": 3}
    after = ModelImageRecord.load(path)
    assert after.classes == before.classes  # the same outcome, whatever the batch it was optimised in


def test_a_model_of_another_label_set_stops_at_the_first_image_before_anything_is_written(dataset, models, tmp_path):
    wrong = _compared("cityscapes", context_model())
    with pytest.raises(ValueError, match=r"to the 21 pascal_voc class probabilities \(1, 64, 128, 21\); received "
                                         r"an output of shape \(1, 64, 128, 19\)"):
        explain_images([models[0], wrong], dataset, tmp_path, protocol=PROTOCOL)
    assert not list(tmp_path.rglob("*.json"))


def test_a_second_process_on_the_same_shard_is_refused_and_other_shards_share_the_folder(dataset, tmp_path):
    from deeplab_utils.coco.pipeline import SHARD_KIND, run_explain

    images = dataset.images[0].path.parent
    annotations = images.parent / "annotations"
    models = [water_boat_model(), self_contained_model()]
    # No aeroplane in the fixture: no request, so nothing is compiled and the test stays fast.
    arguments = dict(stuff=annotations / "stuff.json", model_names=["water", "plain"],
                     protocol=CocoProtocol(classes=("aeroplane",)), max_images=2, verbose=0)
    summary = run_explain(images, annotations / "instances.json", models, tmp_path, **arguments,
                          num_shards=2, shard_index=0)
    assert summary == {"images": 1, "skipped": 0, "records": 2, "requests": 0, "shard": "0-of-2"}
    with shard_lock(tmp_path, 1, 2, kind=SHARD_KIND):  # another process explains shard 1
        with pytest.raises(RunFolderBusy, match="is in use by process"):
            run_explain(images, annotations / "instances.json", models, tmp_path, **arguments,
                        num_shards=2, shard_index=1)
        again = run_explain(images, annotations / "instances.json", models, tmp_path, **arguments,
                            num_shards=2, shard_index=0)  # shard 0 is free: nothing left to do
        assert again == {"images": 0, "skipped": 1, "records": 0, "requests": 0, "shard": "0-of-2"}
    whole = run_explain(images, annotations / "instances.json", models, tmp_path, **arguments)
    assert whole == {"images": 1, "skipped": 1, "records": 2, "requests": 0, "shard": "0-of-1"}
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == ["0000-of-0001", "0000-of-0002", "0001-of-0002"]
    with pytest.raises(ValueError, match=r"Argument `shard_index` must be in \[0, 2\); received 2."):
        run_explain(images, annotations / "instances.json", models, tmp_path, **arguments,
                    num_shards=2, shard_index=2)


class _Preempted:
    """A progress bar that raises KeyboardInterrupt when the second image is queued (a preempted job)."""

    def __init__(self):
        self.done = 0

    def update(self, count=1):
        self.done += count
        if self.done == 2:
            raise KeyboardInterrupt


def test_two_shards_into_one_folder_equal_one_process_and_a_preempted_shard_resumes(run, dataset, models, tmp_path):
    from deeplab_utils.coco.pipeline import SHARD_KIND

    reference, _ = run
    with shard_lock(tmp_path, 1, 2, kind=SHARD_KIND), pytest.raises(KeyboardInterrupt):
        explain_images(models, dataset.shard(2, 1), tmp_path, protocol=PROTOCOL, batch_size=4, progress=_Preempted())
    written = {model: len(load_model_records(tmp_path, model)) for model in ("water", "plain")}
    assert all(count < 3 for count in written.values())  # the images queued before it are finished, no more
    summaries = []
    for index in (0, 1):  # shard 0, then shard 1 resumes, into the same folder
        with shard_lock(tmp_path, index, 2, kind=SHARD_KIND):
            summaries.append(explain_images(models, dataset.shard(2, index), tmp_path, protocol=PROTOCOL,
                                            batch_size=4))
    assert summaries[0]["images"] == 3 and summaries[0]["skipped"] == 0
    assert summaries[1]["skipped"] == min(written.values()) and summaries[1]["records"] == 6 - sum(written.values())
    shards, single = _records(tmp_path), _records(reference)
    for model in single:  # every record equal but for the wall time
        assert {name: (r.pixel_accuracy, r.classes) for name, r in shards[model].items()} == {
            name: (r.pixel_accuracy, r.classes) for name, r in single[model].items()}
    compare = dict(classes=PROTOCOL.classes, context_classes=dataset.context_classes, num_resamples=200)
    assert compare_models(shards, **compare) == compare_models(single, **compare)


def test_an_unreadable_image_stops_the_run_naming_it_and_keeps_the_records_before_it(models, tmp_path):
    paths = write_coco_fixture(tmp_path / "data", scenes=("train_on_rails", "train_on_rails", "boat_on_sea"))
    (paths["images"] / "000000000002.png").write_bytes(b"not a png")
    broken = load_dataset(paths["images"], paths["instances"], paths["stuff"])
    with pytest.raises(ValueError, match=r"must hold readable JPEG or PNG files; reading '.*000000000002.png' failed"):
        explain_images(models, broken, tmp_path / "run", protocol=PROTOCOL, batch_size=4)
    assert sorted(p.relative_to(tmp_path / "run").as_posix() for p in (tmp_path / "run").rglob("*.json")) == [
        "records/plain/000000000001.json", "records/water/000000000001.json"]
