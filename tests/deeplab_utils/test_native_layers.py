"""The layers of the native DeepLab: analytic checks against the TF1 ops the export uses."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from deeplab_utils.native import AlignedResize, BroadcastLike, ConvUnit
from deeplab_utils.native import CropLike, ImagePoolingAverage, PadToCrop

RNG = np.random.default_rng(0)


def _round_trip(layer, *inputs):
    rebuilt = type(layer).from_config(layer.get_config())
    assert rebuilt.get_config() == layer.get_config()
    symbolic = layer(*[keras.Input(x.shape[1:]) for x in inputs])  # symbolic call
    assert tuple(symbolic.shape[1:]) == tuple(layer(*inputs).shape[1:]) or None in symbolic.shape[1:]
    return rebuilt


def _impulse_response(padding, row):
    unit = ConvUnit("unit", filters=1, kernel_size=3, strides=2, padding=padding, batch_norm_epsilon=None)
    image = np.zeros((1, 4, 4, 1), np.float32)
    image[0, row, 1, 0] = 1.0  # one pixel, in a column every first output column sees
    unit.build(image.shape)
    unit.conv.kernel.assign(np.ones((3, 3, 1, 1), np.float32))
    unit.conv.bias.assign(np.zeros(1, np.float32))
    return np.asarray(unit(image))[0, :, 0, 0]


def test_fixed_padding_centres_strided_windows_on_even_inputs():
    # Output row i of a 3x3 stride-2 convolution sees input rows 2i-1..2i+1 with fixed padding (one row
    # before, one after) but 2i..2i+2 with TensorFlow's SAME padding (none before, one after).
    np.testing.assert_array_equal(_impulse_response("fixed", 2), [0.0, 1.0])
    np.testing.assert_array_equal(_impulse_response("same", 2), [1.0, 1.0])
    np.testing.assert_array_equal(_impulse_response("fixed", 0), [1.0, 0.0])


def test_batch_norm_inference_and_training_updates():
    unit = ConvUnit("scope/unit", filters=2, batch_norm_epsilon=1e-3, batch_norm_momentum=0.9,
                    activation="relu")
    x = RNG.normal(size=(3, 5, 5, 4)).astype(np.float32)
    unit.build(x.shape)
    kernel, gamma, beta = RNG.normal(size=(1, 1, 4, 2)), np.array([1.5, 0.5]), np.array([0.2, -0.1])
    mean, variance = np.array([0.3, -0.2]), np.array([2.0, 0.7])
    for variable, value in zip(unit.official_variables().values(), (kernel, gamma, beta, mean, variance)):
        variable.assign(value.astype(np.float32))
    conv = np.einsum("nhwc,co->nhwo", x, kernel[0, 0])
    expected = np.maximum((conv - mean) * gamma / np.sqrt(variance + 1e-3) + beta, 0)
    np.testing.assert_allclose(np.asarray(unit(x)), expected, rtol=1e-5, atol=1e-5)
    unit(x, training=True)
    expected_mean = 0.9 * mean + 0.1 * conv.mean(axis=(0, 1, 2))
    np.testing.assert_allclose(unit.batch_norm.moving_mean.numpy(), expected_mean, rtol=1e-5, atol=1e-6)
    unit.trainable = False  # frozen batch norm: inference even in training (Keras convention)
    frozen_mean = unit.batch_norm.moving_mean.numpy()
    unit(x, training=True)
    np.testing.assert_array_equal(unit.batch_norm.moving_mean.numpy(), frozen_mean)


def test_official_variable_names_and_config_round_trip():
    depthwise = ConvUnit("aspp1_depthwise", kernel_size=3, dilation_rate=6, batch_norm_epsilon=1e-5)
    logits = ConvUnit("logits/semantic", filters=7, batch_norm_epsilon=None)
    x = RNG.normal(size=(1, 9, 9, 8)).astype(np.float32)
    _round_trip(depthwise, x)
    _round_trip(logits, x)
    assert {name: tuple(v.shape) for name, v in depthwise.official_variables().items()} == {
        "aspp1_depthwise/depthwise_weights": (3, 3, 8, 1), "aspp1_depthwise/BatchNorm/gamma": (8,),
        "aspp1_depthwise/BatchNorm/beta": (8,), "aspp1_depthwise/BatchNorm/moving_mean": (8,),
        "aspp1_depthwise/BatchNorm/moving_variance": (8,)}
    assert sorted(logits.official_variables()) == ["logits/semantic/biases", "logits/semantic/weights"]
    assert logits.name == "logits.semantic" and depthwise(x).shape == (1, 9, 9, 8)


def test_inference_batch_norm_gradients_equal_those_of_the_fused_op():
    unit = ConvUnit("unit", filters=3, batch_norm_epsilon=1e-3)
    x = tf.constant(RNG.normal(size=(2, 4, 5, 2)).astype(np.float32))
    unit.build(x.shape)
    norm = unit.batch_norm
    for variable, value in ((norm.gamma, [1.2, 0.4, -0.7]), (norm.beta, [0.1, 0.0, -0.3]),
                            (norm.moving_mean, [0.2, -0.5, 0.1]), (norm.moving_variance, [0.5, 2.0, 1.0])):
        variable.assign(np.asarray(value, np.float32))
    weights = tf.constant(RNG.normal(size=(2, 4, 5, 3)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(unit(x) * weights)
        conv = unit.conv(x)
        fused = tf.compat.v1.nn.fused_batch_norm(conv, norm.gamma, norm.beta, norm.moving_mean,
                                                 norm.moving_variance, epsilon=1e-3, is_training=False)[0]
        theirs = tf.reduce_sum(fused * weights)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for target in (x, norm.gamma, norm.beta, unit.conv.kernel):
        np.testing.assert_allclose(tape.gradient(ours, target).numpy(), tape.gradient(theirs, target).numpy(),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options,message", [
    ({"scope": ""}, "`scope`"), ({"filters": 0}, "`filters`"), ({"padding": "valid"}, "`padding`"),
    ({"activation": "gelu"}, "`activation`"),
])
def test_conv_unit_refuses_bad_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        ConvUnit(**{"scope": "unit", **options})


def test_pad_to_crop_pads_with_the_mean_pixel():
    images = RNG.integers(0, 256, (2, 3, 4, 3)).astype(np.float32)
    layer = PadToCrop((5, 6))
    padded = np.asarray(_round_trip(layer, images)(images))
    assert padded.shape == (2, 5, 6, 3)
    np.testing.assert_array_equal(padded[:, :3, :4], images)  # integer pixels survive x - 127.5 + 127.5
    assert np.all(padded[:, 3:] == 127.5) and np.all(padded[:, :, 4:] == 127.5)
    with pytest.raises(ValueError, match="at most the crop size"):
        layer(np.zeros((1, 6, 6, 3), np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 3])])(tf.zeros([1, 2, 7, 3]))
    with pytest.raises(ValueError, match="`crop_size`"):
        PadToCrop((0, 3))


def test_image_pooling_over_the_window_or_global():
    features = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(ImagePoolingAverage((3, 4))(features)),
                               features.mean(axis=(1, 2), keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ImagePoolingAverage(None)(features)),
                               features.mean(axis=(1, 2), keepdims=True), rtol=1e-6)
    with pytest.raises(ValueError, match="pooling window"):
        ImagePoolingAverage((3, 3))(features)


def test_resizes_and_crop_reproduce_the_tf1_ops():
    values = RNG.normal(size=(2, 3, 5, 4)).astype(np.float32)
    reference = np.zeros((2, 9, 13, 1), np.float32)
    resized = np.asarray(AlignedResize()([values, reference]))
    expected = tf.compat.v1.image.resize_bilinear(values, [9, 13], align_corners=True).numpy()
    np.testing.assert_array_equal(resized, expected)
    np.testing.assert_array_equal(resized[:, ::4, ::3], values)  # align corners: the input grid is kept
    single = values[:, :1, :1]
    np.testing.assert_array_equal(np.asarray(BroadcastLike()([single, reference])),
                                  tf.compat.v1.image.resize_bilinear(single, [9, 13], align_corners=True))
    np.testing.assert_array_equal(np.asarray(CropLike()([resized, reference[:, :4, :6]])), resized[:, :4, :6])
