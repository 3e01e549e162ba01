"""Loading official weights: every source kind, strict matching, export settings read from the graph."""

import shutil

import numpy as np
import pytest

from deeplab_utils.archive import extract_archive
from deeplab_utils.native import (
    DeepLabV3Plus,
    assign_official_weights,
    from_checkpoint,
    from_frozen_graph,
    from_mapping,
    infer_architecture,
    load_deeplab,
    open_official,
    read_export_settings,
)
from deeplab_utils.native.fixtures import build_official_graph, write_checkpoint, write_official_tarball
from deeplab_utils.native.reference import ExportRunner
from deeplab_utils.testing import build_frozen_graph, synthetic_scene


@pytest.fixture(scope="module")
def official():
    """The full MobileNetV2 DeepLab (2.1 M parameters, 19 classes) exported at crop 33x33."""
    return build_official_graph("mobilenet_v2", crop_size=(33, 33), num_classes=19, seed=1)


@pytest.fixture(scope="module")
def tarball(official, tmp_path_factory):
    zoo = tmp_path_factory.mktemp("zoo")
    return write_official_tarball(zoo, "deeplabv3_mnv2_cityscapes_train_2018_02_05", official)


def _weights(model):
    return [variable.numpy() for variable in model.weights]


def test_tarball_checkpoint_and_frozen_graph_give_identical_weights(official, tarball):
    from_checkpoint = load_deeplab(tarball)
    from_graph = load_deeplab(tarball, prefer="frozen_graph")
    assert from_checkpoint.load_report.source.endswith("deeplabv3_mnv2_cityscapes_train/model.ckpt-30000")
    assert from_graph.load_report.source.endswith("frozen_inference_graph.pb")
    assert from_checkpoint.load_report.assigned == len(official.variables) == 272
    assert from_checkpoint.load_report.parameters == sum(v.size for v in official.variables.values())
    for a, b in zip(_weights(from_checkpoint), _weights(from_graph)):
        np.testing.assert_array_equal(a, b)
    weights = dict(zip([v.path for v in from_checkpoint.weights], _weights(from_checkpoint)))
    np.testing.assert_array_equal(weights["aspp0/conv/kernel"], official.variables["aspp0/weights"])
    assert (from_checkpoint.backbone, from_checkpoint.num_classes, from_checkpoint.output_stride) == (
        "mobilenet_v2", 19, 8)
    assert from_checkpoint.crop_size == (33, 33) and from_checkpoint.mode == "parity"


def test_folder_prefix_and_frozen_graph_file(official, tarball, tmp_path):
    folder = extract_archive(tarball, tmp_path / "model") / "deeplabv3_mnv2_cityscapes_train"
    reference = _weights(load_deeplab(folder))
    prefix = folder / "model.ckpt-30000"
    with pytest.raises(ValueError, match="`crop_size` must be given"):
        load_deeplab(prefix)
    for model in (load_deeplab(prefix, crop_size=(33, 33)), load_deeplab(prefix, mode="any_size"),
                  load_deeplab(folder / "frozen_inference_graph.pb")):
        for a, b in zip(_weights(model), reference):
            np.testing.assert_array_equal(a, b)
    any_size = load_deeplab(folder, mode="any_size", output_stride=16)
    assert (any_size.mode, any_size.crop_size, any_size.output_stride) == ("any_size", None, 16)


@pytest.mark.parametrize("change,named", [
    (lambda v: v.pop("MobilenetV2/expanded_conv_7/depthwise/BatchNorm/moving_variance"),
     "1 missing: MobilenetV2/expanded_conv_7/depthwise/BatchNorm/moving_variance"),
    # MobileNetV2's last 1x1 convolution (1280 channels), which DeepLab does not build.
    (lambda v: v.update({"MobilenetV2/Conv_1/weights": np.zeros((1, 1, 320, 1280), np.float32)}),
     "1 unexpected: MobilenetV2/Conv_1/weights"),
    (lambda v: v.update({"logits/semantic/biases": np.zeros(21, np.float32)}),
     r"1 with another shape: logits/semantic/biases \(21,\) \(model \(19,\)\)"),
])
def test_one_wrong_variable_is_refused_by_name_and_nothing_is_assigned(official, change, named, tmp_path):
    variables = dict(official.variables)
    change(variables)
    prefix = write_checkpoint(variables, tmp_path / "model.ckpt-1")
    with pytest.raises(ValueError, match=named):
        load_deeplab(prefix, mode="any_size")
    model = DeepLabV3Plus("mobilenet_v2", 19)
    before = _weights(model)
    with pytest.raises(ValueError, match=f"received checkpoint {prefix} with {named}"):
        assign_official_weights(model, from_checkpoint(prefix))
    for a, b in zip(_weights(model), before):
        np.testing.assert_array_equal(a, b)


def test_training_bookkeeping_is_set_aside_and_reported(official, tmp_path):
    variables = {**official.variables, "global_step": np.array(30000, np.int64),
                 "aspp0/weights/Momentum": official.variables["aspp0/weights"]}
    prefix = write_checkpoint(variables, tmp_path / "model.ckpt")
    model = load_deeplab(prefix, mode="any_size")
    assert model.load_report.skipped == ("aspp0/weights/Momentum", "global_step")
    assert model.load_report.assigned == 272


def test_export_settings_are_read_from_the_graph(official):
    assert read_export_settings(official.graph_def).__dict__ == {
        "crop_size": (33, 33), "output_stride": 8, "atrous_rates": (),
        "head_batch_norm_epsilon": pytest.approx(1.001e-5, rel=1e-6)}
    # The miniature Xception export: separable ASPP at rates 1, 2, 3 (SpaceToBatchND), output stride 16.
    miniature = build_frozen_graph("xception_65", crop_size=(49, 49), num_classes=3)
    assert read_export_settings(miniature.graph_def).__dict__ == {
        "crop_size": (49, 49), "output_stride": 16, "atrous_rates": (1, 2, 3),
        "head_batch_norm_epsilon": pytest.approx(1e-3, rel=1e-6)}


def test_the_head_epsilon_of_the_graph_is_used(official, tmp_path):
    # An export whose head batch norms ran with epsilon 1e-2: the loaded model must reproduce it exactly.
    graph_def = type(official.graph_def)()
    graph_def.CopyFrom(official.graph_def)
    for node in graph_def.node:
        if node.op.startswith("FusedBatchNorm") and not node.name.startswith("MobilenetV2/"):
            node.attr["epsilon"].f = 1e-2
    (tmp_path / "frozen_inference_graph.pb").write_bytes(graph_def.SerializeToString())
    model = load_deeplab(tmp_path / "frozen_inference_graph.pb", output="logits")
    assert model.get_config()["head_batch_norm_epsilon"] == pytest.approx(1e-2, rel=1e-6)
    image = synthetic_scene(33, 30, seed=5)
    with ExportRunner(graph_def) as runner:
        reference = runner(image)[0][:33, :30]
    np.testing.assert_array_equal(np.asarray(model(image[None].astype(np.float32)))[0], reference)


def test_architecture_is_inferred_from_names_and_shapes(official):
    assert infer_architecture(from_frozen_graph(official.graph_def)) == {
        "backbone": "mobilenet_v2", "depth_multiplier": 1.0, "num_classes": 19, "decoder": False,
        "atrous_branches": 0}
    half = {name: np.zeros(shape) for name, shape in {"MobilenetV2/Conv/weights": (3, 3, 3, 16),
                                                      "logits/semantic/weights": (1, 1, 256, 21)}.items()}
    assert infer_architecture(from_mapping(half))["depth_multiplier"] == 0.5
    with pytest.raises(ValueError, match="MobilenetV2/ or xception_65/"):
        infer_architecture(from_mapping({"resnet_v1_101/conv1/weights": np.zeros(3)}))


def test_sources_that_cannot_be_used_are_refused(official, tarball, tmp_path):
    with pytest.raises(ValueError, match="`path`"):
        open_official(tmp_path / "missing.tar.gz")
    folder = extract_archive(tarball, tmp_path / "two") / "deeplabv3_mnv2_cityscapes_train"
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(folder / f"model.ckpt-30000{suffix}", folder / f"model.ckpt-60000{suffix}")
    with pytest.raises(ValueError, match="one checkpoint"):
        open_official(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither"):
        open_official(tmp_path / "empty")
    with pytest.raises(ValueError, match="one rate per ASPP branch"):
        load_deeplab(tarball, atrous_rates=(6,))


def test_settings_the_graph_does_not_tell_can_be_given(official, tmp_path):
    # An export whose image pooling is not an AvgPool over the crop window (a global mean): the output
    # stride and crop size cannot be read, the loader says so, and they can be passed instead.
    graph_def = type(official.graph_def)()
    graph_def.CopyFrom(official.graph_def)
    pool = next(node for node in graph_def.node if node.op == "AvgPool")
    pool.op = "Mean"
    path = tmp_path / "frozen_inference_graph.pb"
    path.write_bytes(graph_def.SerializeToString())
    with pytest.raises(ValueError, match="pass output_stride and crop_size"):
        load_deeplab(path)
    model = load_deeplab(path, output_stride=8, crop_size=(33, 33))
    assert (model.output_stride, model.crop_size, model.export_settings) == (8, (33, 33), None)
    (tmp_path / "official.pb").write_bytes(official.graph_def.SerializeToString())
    for a, b in zip(_weights(model), _weights(load_deeplab(tmp_path / "official.pb"))):
        np.testing.assert_array_equal(a, b)
