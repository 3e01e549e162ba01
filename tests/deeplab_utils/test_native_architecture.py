"""DeepLabV3Plus against the official architectures: variable names and shapes of the full TF1 graphs,
layer names, output sizes, the stride bookkeeping, parameter counts and constructor checks."""

import numpy as np
import pytest
import tensorflow as tf

from deeplab_utils.native import DeepLabV3Plus, layer_name, official_scope, official_variables
from deeplab_utils.native.backbones import make_divisible
from deeplab_utils.native.fixtures import official_variable_shapes

# (backbone, keyword arguments): the zoo's configurations and the other output stride of each.
CONFIGURATIONS = [
    ("mobilenet_v2", {}),
    ("mobilenet_v2", {"depth_multiplier": 0.5}),
    ("mobilenet_v2", {"output_stride": 16}),
    ("xception_65", {}),
    ("xception_65", {"output_stride": 8}),
]


@pytest.mark.parametrize("backbone,options", CONFIGURATIONS)
def test_variables_are_those_of_the_official_graph(backbone, options):
    official = official_variable_shapes(backbone, num_classes=19, **options)
    model = DeepLabV3Plus(backbone, 19, **options)
    native = {name: tuple(variable.shape) for name, variable in official_variables(model).items()}
    assert sorted(native) == sorted(official)
    assert native == official
    assert model.count_params() == sum(int(np.prod(shape)) for shape in official.values())


def test_full_architectures_have_every_block_and_unit():
    mobilenet = official_variable_shapes("mobilenet_v2")
    blocks = {name.split("/")[1] for name in mobilenet if name.startswith("MobilenetV2/")}
    assert blocks == {"Conv", "expanded_conv"} | {f"expanded_conv_{n}" for n in range(1, 17)}
    assert mobilenet["MobilenetV2/expanded_conv_16/project/weights"] == (1, 1, 960, 320)
    assert "MobilenetV2/expanded_conv/expand/weights" not in mobilenet  # the first block does not expand
    xception = official_variable_shapes("xception_65")
    units = {name.split("/xception_module")[0] for name in xception if "xception_module" in name}
    assert len(units) == 3 + 16 + 2
    last = "xception_65/exit_flow/block2/unit_1/xception_module/separable_conv3_pointwise/weights"
    assert xception[last] == (1, 1, 1536, 2048)
    assert xception["decoder/feature_projection0/weights"] == (1, 1, 256, 48)
    assert xception["aspp3_depthwise/depthwise_weights"] == (3, 3, 2048, 1)


def test_layers_carry_the_official_scopes():
    model = DeepLabV3Plus("mobilenet_v2", 21)
    for scope in ("MobilenetV2/expanded_conv_16/project", "MobilenetV2/Conv", "aspp0", "image_pooling",
                  "concat_projection", "logits/semantic"):
        assert model.get_layer(layer_name(scope)).scope == scope
    assert official_scope(layer_name("a/b_c/d")) == "a/b_c/d"
    assert model.get_layer("aspp0").name == "aspp0"
    names = {layer.name for layer in model.layers}
    assert {"logits", "probabilities", "MobilenetV2.expanded_conv_2.output"} <= names
    assert "MobilenetV2.expanded_conv_1.output" not in names  # stride 2: no residual sum


def test_mobilenet_stride_bookkeeping_matches_slim():
    # Output stride 8: expanded_conv_6 keeps stride 1 at rate 1, the blocks after it rate 2, from
    # expanded_conv_13 (nominal stride 2) on rate 4.
    model = DeepLabV3Plus("mobilenet_v2", 3, output_stride=8)
    depthwise = {n: model.get_layer(f"MobilenetV2.expanded_conv_{n}.depthwise") for n in (3, 6, 7, 13, 14)}
    assert [(depthwise[n].strides, depthwise[n].dilation_rate) for n in (3, 6, 7, 13, 14)] == [
        (2, 1), (1, 1), (1, 2), (1, 2), (1, 4)]
    assert (make_divisible(24 * 0.5), make_divisible(320 * 0.5), make_divisible(96 * 6)) == (16, 160, 576)


def test_xception_fixed_padding_and_atrous_units():
    model = DeepLabV3Plus("xception_65", 3, output_stride=16)
    entry = model.get_layer("xception_65.entry_flow.block3.unit_1.xception_module.separable_conv3_depthwise")
    assert (entry.strides, entry.padding, entry.dilation_rate) == (2, "fixed", 1)
    exit_unit = model.get_layer(
        "xception_65.exit_flow.block1.unit_1.xception_module.separable_conv3_depthwise")
    assert (exit_unit.strides, exit_unit.padding) == (1, "same")  # output stride reached: stride becomes 1
    last = model.get_layer("xception_65.exit_flow.block2.unit_1.xception_module.separable_conv1_depthwise")
    assert (last.dilation_rate, last.activation) == (2, "relu")
    assert [model.get_layer(f"aspp{i}_depthwise").dilation_rate for i in (1, 2, 3)] == [6, 12, 18]
    assert DeepLabV3Plus("xception_65", 3, output_stride=8).atrous_rates == (12, 24, 36)


@pytest.mark.parametrize("backbone", ["mobilenet_v2", "xception_65"])
def test_any_size_outputs_the_input_size(backbone):
    model = DeepLabV3Plus(backbone, 5)
    probabilities = model(np.random.default_rng(0).uniform(0, 255, (2, 37, 50, 3)).astype(np.float32))
    assert probabilities.shape == (2, 37, 50, 5) and probabilities.dtype == "float32"
    np.testing.assert_allclose(np.asarray(probabilities).sum(-1), 1.0, rtol=1e-5)


def test_parity_mode_outputs_the_image_size_and_refuses_larger_images():
    model = DeepLabV3Plus("mobilenet_v2", 4, mode="parity", crop_size=(33, 41), output="logits")
    assert model(np.zeros((1, 20, 41, 3), np.float32)).shape == (1, 20, 41, 4)
    with pytest.raises(ValueError, match="at most the crop size"):
        model(np.zeros((1, 34, 20, 3), np.float32))


@pytest.mark.parametrize("options,message", [
    ({"backbone": "resnet"}, "`backbone`"),
    ({"mode": "exact"}, "`mode`"),
    ({"output": "labels"}, "`output`"),
    ({"num_classes": 0}, "`num_classes`"),
    ({"output_stride": 4}, "`output_stride`"),
    ({"backbone": "xception_65", "depth_multiplier": 0.5}, "`depth_multiplier`"),
    ({"decoder": True}, "`decoder`"),
    ({"atrous_rates": (6, 0)}, "`atrous_rates`"),
    ({"mode": "parity"}, "`crop_size`"),
    ({"crop_size": (33, 33)}, "`crop_size`"),
    ({"mode": "parity", "crop_size": (0, 5)}, "`crop_size`"),
])
def test_constructor_refuses_bad_arguments(options, message):
    arguments = {"backbone": "mobilenet_v2", "num_classes": 3, **options}
    with pytest.raises(ValueError, match=message):
        DeepLabV3Plus(arguments.pop("backbone"), arguments.pop("num_classes"), **arguments)


@pytest.mark.parametrize("mode", ["parity", "any_size"])
def test_static_image_sizes_give_static_output_shapes(mode):
    # The engine traces models on (None, height, width, 3) and needs the output's height, width and
    # classes statically (grid_saliency_tf.validation.validate_model_output).
    model = DeepLabV3Plus("xception_65", 5, mode=mode, crop_size=(33, 41) if mode == "parity" else None)
    function = tf.function(lambda images: model(images))
    concrete = function.get_concrete_function(tf.TensorSpec([None, 30, 41, 3]))
    assert concrete.structured_outputs.shape.as_list() == [None, 30, 41, 5]
    dynamic = function.get_concrete_function(tf.TensorSpec([None, None, None, 3]))
    assert dynamic.structured_outputs.shape.as_list() == [None, None, None, 5]
