"""Tests of the toy-benchmark U-Nets: architecture fidelity, round trips, training step, Seg-Grad-CAM."""

import keras
import numpy as np
import pytest

from toy_benchmark.models import BACKBONES, BOTTLENECK_LAYER, LOGITS_LAYER, ToyUNet, scale_channels

SHAPE = (32, 32, 1)
WIDTH = 1 / 16


def _images(n=3, shape=SHAPE, seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")


def _encoder_trainable_params(model):
    """Trainable parameters of the encoder: every layer that is not decoder, head or input."""
    return sum(int(np.prod(w.shape)) for layer in model.layers
               if not layer.name.startswith("decoder") and layer.name != LOGITS_LAYER
               for w in layer.trainable_weights)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_backbone_builds_trains_one_step_and_round_trips(backbone, tmp_path):
    model = ToyUNet(backbone, width=WIDTH, image_shape=SHAPE, seed=1)
    images = _images()

    # Output: per-pixel softmax over 11 classes; logits and bottleneck reachable by name.
    probabilities = model(images).numpy()
    assert probabilities.shape == (3, 32, 32, 11)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    logits = model.logits_model()(images).numpy()
    np.testing.assert_allclose(keras.ops.softmax(logits, axis=-1), probabilities, atol=1e-6)
    assert model.bottleneck_layer().name == BOTTLENECK_LAYER
    assert model.get_layer(BOTTLENECK_LAYER).output.shape[1:3] == (1, 1)  # stride 32

    # One training step lowers nothing in particular but must change the weights and stay finite.
    labels = np.random.default_rng(1).integers(0, 11, (3, 32, 32))
    before = [w.copy() for w in model.get_weights()]
    model.compile(keras.optimizers.RMSprop(1e-3), "sparse_categorical_crossentropy", run_eagerly=True)
    loss = model.train_on_batch(images, labels)
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    # get_config holds every constructor argument; from_config rebuilds the same architecture.
    config = model.get_config()
    assert config == {"backbone": backbone, "width": WIDTH, "num_classes": 11,
                      "image_shape": list(SHAPE), "batch_norm": True, "seed": 1,
                      "name": f"unet_{backbone}", "trainable": True}
    clone = ToyUNet.from_config(config)
    clone.set_weights(model.get_weights())
    expected = model(images, training=False).numpy()
    np.testing.assert_array_equal(clone(images, training=False).numpy(), expected)

    # The Keras format restores class, config and weights.
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is ToyUNet and loaded.get_config() == config
    np.testing.assert_array_equal(loaded(images, training=False).numpy(), expected)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_seed_fixes_the_initial_weights(backbone):
    kwargs = dict(width=WIDTH, image_shape=SHAPE)
    first = ToyUNet(backbone, seed=7, **kwargs).get_weights()
    second = ToyUNet(backbone, seed=7, **kwargs).get_weights()
    other = ToyUNet(backbone, seed=8, **kwargs).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


def test_encoders_at_width_one_match_the_published_networks():
    """Trainable encoder parameters equal the reference networks with a one-channel input."""
    shape = (64, 64, 1)
    # Keras's own VGG16 (no batch norm) and MobileNetV2 without their classifiers.
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=shape)
    mobilenet = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=shape)
    for reference, ours in [(vgg, ToyUNet("vgg16", batch_norm=False)),
                            (mobilenet, ToyUNet("mobilenetv2"))]:
        expected = sum(int(np.prod(w.shape)) for w in reference.trainable_weights)
        assert _encoder_trainable_params(ours) == expected
    # ResNet18 (He et al.): torchvision's resnet18 has 11,689,512 parameters, of which the classifier
    # holds 513,000 and the RGB stem 7*7*3*64 = 9,408; a grey stem has 7*7*1*64 = 3,136.
    assert _encoder_trainable_params(ToyUNet("resnet18")) == 11_689_512 - 513_000 - 9_408 + 3_136


def test_width_multiplier_scales_channels_and_parameters():
    assert [scale_channels(c, 0.125) for c in (64, 128, 256, 512, 1280)] == [8, 16, 32, 64, 160]
    assert scale_channels(16, 1 / 16) == 4  # never below 4
    for backbone in BACKBONES:
        small = ToyUNet(backbone, width=0.125).count_params()
        large = ToyUNet(backbone, width=0.25).count_params()
        assert 3.0 < large / small < 4.2  # convolution weights grow with the square of the width


@pytest.mark.parametrize("kwargs, message", [
    (dict(backbone="resnet50"), "Argument `backbone` must be one of vgg16, mobilenetv2, resnet18; received 'resnet50'."),
    (dict(width=0), "Argument `width` must be a positive number; received 0."),
    (dict(num_classes=1), "Argument `num_classes` must be an integer >= 2; received 1."),
    (dict(image_shape=(48, 64, 1)), "multiples of 32"),
    (dict(image_shape=(64, 64)), "Argument `image_shape` must be (height, width, channels)"),
    (dict(image_shape=(64, 64)), "received (64, 64)."),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ToyUNet(**kwargs)


def test_seg_grad_cam_explains_the_bottleneck():
    from grid_saliency_tf import Requests, SegGradCAM

    model = ToyUNet("vgg16", width=WIDTH, image_shape=SHAPE, seed=0)
    masks = np.ones((2, 32, 32), np.float32)
    result = SegGradCAM(model, BOTTLENECK_LAYER).explain(
        _images(2), Requests(image_indices=np.array([0, 1]), class_ids=np.array([3, 10]), masks=masks))
    assert result.layer_heatmaps.shape == (2, 1, 1)
    assert result.heatmaps.shape == (2, 32, 32)
    assert result.weights.shape == (2, model.get_layer(BOTTLENECK_LAYER).output.shape[-1])
