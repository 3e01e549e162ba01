"""Figures: red context saliency, blue request outlines, and the Fig. S13 panel grid."""

import cv2
import numpy as np
import pytest

from deeplab_utils.visualization import REQUEST_COLOR, SALIENCY_COLOR, encode_png, panels_png, saliency_overlay


def test_overlay_paints_saliency_red_and_outlines_requests_blue():
    image = np.full((40, 50, 3), 100, np.uint8)
    saliency = np.zeros((40, 50), np.float32)
    saliency[:, :10] = 1.0
    request = np.zeros((40, 50), bool)
    request[15:25, 25:40] = True
    out = saliency_overlay(image, saliency, request, strength=1.0, outline_width=1)
    assert out[20, 5].tolist() == list(SALIENCY_COLOR)          # fully salient -> red
    assert out[5, 45].tolist() == [100, 100, 100]               # neither -> untouched
    assert out[15, 30].tolist() == list(REQUEST_COLOR)          # request border -> blue
    assert out[20, 32].tolist() == [100, 100, 100]              # request interior is not filled
    half = saliency_overlay(image, saliency * 0.5, None, strength=1.0)
    assert half[20, 5].tolist() == [178, 50, 50]                # halfway between grey and red
    with pytest.raises(ValueError, match="saliency"):
        saliency_overlay(image, saliency[:10], request)


def test_png_round_trip_keeps_rgb_order():
    image = np.zeros((4, 6, 3), np.uint8)
    image[..., 0] = 255
    decoded = cv2.imdecode(np.frombuffer(encode_png(image), np.uint8), cv2.IMREAD_COLOR)
    assert decoded[0, 0].tolist() == [0, 0, 255]  # OpenCV reads BGR: red stays red


def test_panels_png_draws_every_panel():
    rng = np.random.default_rng(0)
    panels = [("image", rng.integers(0, 256, (30, 60, 3), dtype=np.uint8))] + [
        (f"map {i}", rng.uniform(size=(30, 60))) for i in range(4)]
    data = panels_png(panels, columns=3, title="test")
    figure = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert figure is not None and figure.shape[1] > figure.shape[0] > 100
    with pytest.raises(ValueError, match="panels"):
        panels_png([])
