"""Parity of the native model with the frozen export of the same weights (full architectures).

The reference is the export itself, run op by op in a TF1 session (:class:`ExportRunner`): logits within
1e-4 and the argmax equal to ``SemanticPredictions`` pixel for pixel. The frozen-graph wrapper
(:class:`DeepLabModel`) runs the export after TensorFlow's graph optimiser has rewritten it, which moves
the logits by float32 rounding; against it the argmax is compared.
"""

import numpy as np
import pytest

from deeplab_utils import DeepLabModel
from deeplab_utils.native import DeepLabV3Plus, assign_official_weights, from_mapping
from deeplab_utils.native.fixtures import build_official_graph
from deeplab_utils.native.reference import ExportRunner, parity_report
from deeplab_utils.testing import synthetic_scene

CROP = (33, 33)


def _images(crop, seed=0):
    """Scenes at the crop size, smaller (padded by the export), thin, one pixel, and noise."""
    height, width = crop
    sizes = [(height, width), (height, width), (20, 27), (5, width), (1, 1)]
    images = [synthetic_scene(h, w, seed=seed + i) for i, (h, w) in enumerate(sizes)]
    images.append(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))
    return images


def _native(fixture, backbone, mode="parity", **options):
    model = DeepLabV3Plus(backbone, fixture.num_classes, mode=mode, output="logits",
                          crop_size=fixture.crop_size if mode == "parity" else None, **options)
    assign_official_weights(model, from_mapping(fixture.variables))
    return model


def _check_parity(fixture, model, images):
    with ExportRunner(fixture.graph_def) as runner:
        report = parity_report(model, runner, images)
        labels = np.concatenate([runner(image)[1].ravel() for image in images])
    assert report["max_logit_difference"] <= 1e-4, report
    assert report["mismatches"] == 0, report
    assert len(np.unique(labels)) >= 3  # the fixture predicts image content, not one class everywhere
    return report


@pytest.fixture(scope="module")
def mobilenet():
    return build_official_graph("mobilenet_v2", crop_size=CROP, num_classes=19, seed=1)


@pytest.fixture(scope="module")
def mobilenet_model(mobilenet):
    return _native(mobilenet, "mobilenet_v2")


def test_mobilenet_v2_equals_the_export(mobilenet, mobilenet_model):
    _check_parity(mobilenet, mobilenet_model, _images(CROP))


def test_mobilenet_v2_half_width_at_output_stride_16_equals_the_export():
    fixture = build_official_graph("mobilenet_v2", depth_multiplier=0.5, output_stride=16, crop_size=CROP,
                                   num_classes=21, seed=4)
    _check_parity(fixture, _native(fixture, "mobilenet_v2", depth_multiplier=0.5, output_stride=16),
                  _images(CROP, seed=4))


def test_argmax_equals_the_wrapper_on_the_optimised_graph(mobilenet, mobilenet_model):
    wrapper = DeepLabModel(mobilenet.graph_def)
    images = _images(CROP, seed=10)
    for image in images:
        logits = np.asarray(mobilenet_model(image[None].astype(np.float32)))[0]
        np.testing.assert_array_equal(logits.argmax(-1), wrapper.semantic_predictions(image))
        np.testing.assert_allclose(logits, np.asarray(wrapper.logits(image[None]))[0], atol=1e-3)


def test_batch_invariance(mobilenet_model):
    # Within float32 rounding: the convolution kernels sum in another order for another batch size.
    images = np.stack([synthetic_scene(25, 30, seed=s) for s in range(4)]).astype(np.float32)
    batched = np.asarray(mobilenet_model(images))
    for index in range(4):
        np.testing.assert_allclose(batched[index], np.asarray(mobilenet_model(images[index:index + 1]))[0],
                                   rtol=0, atol=1e-4)


def test_any_size_equals_parity_at_the_crop_size_and_differs_below(mobilenet, mobilenet_model):
    any_size = _native(mobilenet, "mobilenet_v2", mode="any_size")
    full = synthetic_scene(*CROP, seed=3)[None].astype(np.float32)
    np.testing.assert_allclose(np.asarray(any_size(full)), np.asarray(mobilenet_model(full)), atol=1e-4)
    small = synthetic_scene(17, 25, seed=3)[None].astype(np.float32)
    difference = np.abs(np.asarray(any_size(small)) - np.asarray(mobilenet_model(small)))
    assert difference.max() > 1e-2  # no padding and global pooling change the logits of a smaller image
    assert any_size(np.zeros((1, 50, 70, 3), np.float32)).shape == (1, 50, 70, 19)  # larger than the crop


@pytest.mark.slow
@pytest.mark.parametrize("output_stride", [16, 8])
def test_xception_65_equals_the_export(output_stride):
    crop = (33, 33)
    fixture = build_official_graph("xception_65", output_stride=output_stride, crop_size=crop, num_classes=21,
                                   seed=2)
    model = _native(fixture, "xception_65", output_stride=output_stride)
    _check_parity(fixture, model, _images(crop, seed=2))
