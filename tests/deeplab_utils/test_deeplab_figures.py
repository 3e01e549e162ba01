"""Figures: red context saliency, blue request outlines, and the Fig. S13 panels with the optimiser's own
perturbation image."""

import cv2
import numpy as np
import pytest

from deeplab_utils import ExplainSettings, build_request_masks
from deeplab_utils.context_explanation import explain_requests
from deeplab_utils.figures import (
    OUTLINE_WIDTH,
    SALIENCY_OPACITY,
    panels_figure,
    requests_picture,
    s13_panels,
    saliency_picture,
)
from deeplab_utils.labels import CITYSCAPES
from deeplab_utils.testing import synthetic_scene
from grid_saliency_tf import GridSaliencyOptimizer, Requests, perturb
from grid_saliency_tf.experiment import REQUEST_COLOR, SALIENCY_COLOR, decode_png, encode_png, overlay
from grid_saliency_tf.perturbations import blurred_image


def _scene():
    image = np.full((40, 50, 3), 100, np.uint8)
    saliency = np.zeros((40, 50), np.float32)
    saliency[:, :10] = 1.0
    request = np.zeros((40, 50), bool)
    request[15:25, 25:40] = True
    return image, saliency, request


def test_saliency_picture_paints_saliency_red_and_outlines_requests_blue():
    image, saliency, request = _scene()
    out = saliency_picture(image, saliency, request)
    red = np.rint((1 - SALIENCY_OPACITY) * 100 + SALIENCY_OPACITY * np.array(SALIENCY_COLOR))
    assert out[20, 5].tolist() == red.tolist() == [216, 25, 25]   # fully salient -> red at 0.75
    assert out[5, 45].tolist() == [100, 100, 100]                 # neither -> untouched
    assert out[15, 30].tolist() == list(REQUEST_COLOR)            # request border -> blue
    assert out[16, 30].tolist() == list(REQUEST_COLOR)            # outlines are OUTLINE_WIDTH = 2 wide
    assert OUTLINE_WIDTH == 2
    assert out[20, 32].tolist() == [100, 100, 100]                # request interior is not filled
    # The shared overlay it is built on, at full opacity and a 1-pixel outline.
    full = overlay(image, saliency, request, opacity=1.0, outline_width=1)
    assert full[20, 5].tolist() == list(SALIENCY_COLOR) and full[15, 30].tolist() == list(REQUEST_COLOR)
    assert full[16, 30].tolist() == [100, 100, 100]
    half = overlay(image, saliency * 0.5, None, opacity=1.0)
    assert half[20, 5].tolist() == [178, 50, 50]                  # halfway between grey and red
    with pytest.raises(ValueError, match="saliency"):
        saliency_picture(image, saliency[:10], request)


def test_requests_picture_blends_the_prediction_and_outlines_every_request():
    image, _, request = _scene()
    labels = np.zeros((40, 50), np.int64)
    labels[request] = 12  # rider, red
    out = requests_picture(image, labels, CITYSCAPES, request[None])
    assert out[5, 5].tolist() == [114, 82, 114]                   # half grey, half road (128, 64, 128)
    assert out[20, 32].tolist() == [177, 50, 50]                  # half grey, half rider (255, 0, 0)
    assert out[15, 30].tolist() == list(REQUEST_COLOR)
    no_requests = requests_picture(image, labels, CITYSCAPES, np.zeros((0, 40, 50), bool))
    assert no_requests[15, 30].tolist() == [177, 50, 50]          # no request: no outline


def test_png_round_trip_keeps_rgb_order():
    image = np.zeros((4, 6, 3), np.uint8)
    image[..., 0] = 255
    decoded = cv2.imdecode(np.frombuffer(encode_png(image), np.uint8), cv2.IMREAD_COLOR)
    assert decoded[0, 0].tolist() == [0, 0, 255]  # OpenCV reads BGR: red stays red
    assert decode_png(encode_png(image))[0, 0].tolist() == [255, 0, 0]


@pytest.fixture(scope="module")
def blur_explanation(mnv2_model):
    """One whole-class request explained with the blur perturbation (2 steps, 2x2 grid)."""
    image = synthetic_scene(40, 48, seed=3)
    probabilities = mnv2_model(image[None]).numpy()[0]
    labels = probabilities.argmax(-1)
    class_id = int(np.bincount(labels.ravel()).argmax())
    masks = build_request_masks(labels, class_id, mode="class", min_size=1).masks
    settings = ExplainSettings(class_id=class_id, perturbation="blur", steps=2, grid_shape=(2, 2))
    optimizer = GridSaliencyOptimizer(mnv2_model, **settings.optimizer_settings(), return_perturbations=True)
    result = optimizer.explain(image[None].astype(np.float32),
                               Requests([0], [class_id], masks.astype(np.float32)))
    [explanation] = explain_requests(mnv2_model, optimizer, image, class_id, masks)
    return image, probabilities[..., class_id], masks[0], optimizer, explanation, result


def test_explain_requests_needs_an_optimizer_that_returns_its_perturbations(mnv2_model):
    optimizer = GridSaliencyOptimizer(mnv2_model, **ExplainSettings(class_id=0).optimizer_settings())
    with pytest.raises(ValueError, match="Argument `optimizer` must be built with return_perturbations=True"):
        explain_requests(mnv2_model, optimizer, synthetic_scene(8, 8), 0, np.ones((1, 8, 8), bool))


def test_s13_panel_shows_the_perturbation_the_optimizer_used_for_blur(blur_explanation):
    image, class_score, mask, optimizer, explanation, result = blur_explanation
    blurred = blurred_image(image[None].astype(np.float32), optimizer.blur_sigma).numpy()
    assert blurred.std() > 1.0  # not a constant image: a value re-derived from the mean would differ
    np.testing.assert_array_equal(explanation.perturbation_image, result.perturbation_images[0])
    np.testing.assert_allclose(explanation.perturbation_image, blurred[0], atol=1e-3)
    expected = perturb(image[None].astype(np.float32), mask[None].astype(np.float32), blurred, (0.0, 255.0))
    panels = dict(s13_panels(image, class_score, explanation, mask, "road"))
    np.testing.assert_allclose(panels["(c) context perturbed p(x, R)"], expected.numpy()[0], atol=1e-3)
    np.testing.assert_array_equal(panels["(c) context perturbed p(x, R)"][mask], image[mask])


def test_panels_figure_draws_every_panel(blur_explanation, tmp_path):
    image, class_score, mask, _, explanation, _ = blur_explanation
    panels = s13_panels(image, class_score, explanation, mask, "road")
    assert [title[:3] for title, _ in panels] == ["(a)", "(b)", "(c)", "(d)", "(e)", "(f)", "(g)", "(h)"]
    figure = panels_figure(panels, "test")
    assert len(figure.axes) == 8 + 4  # eight panels and a colour bar for each of the four maps
    from grid_saliency_tf.experiment import save_figure
    path = save_figure(figure, tmp_path / "panels.png", dpi=100)
    picture = cv2.imread(str(path))
    assert picture is not None and picture.shape[1] > picture.shape[0] > 100
    with pytest.raises(ValueError, match="panels"):
        panels_figure([], "empty")
