"""Saliency overlays like the paper's Fig. 3b: saliency in red, the request outlined in blue.

Drawn with OpenCV so that evaluation does not need matplotlib. PNGs are written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from toy_benchmark.atomic import write_bytes_atomic

__all__ = ["saliency_overlay", "example_row", "write_png"]

_RED = np.array([255.0, 0.0, 0.0])
_BLUE_BGR = (255, 0, 0)  # OpenCV draws in BGR order on the BGR copy


def saliency_overlay(image: np.ndarray, saliency: np.ndarray, request: np.ndarray, *, scale: int = 4,
                     opacity: float = 0.65) -> np.ndarray:
    """An RGB picture of a grey image with the saliency in red and the request outlined in blue.

    Args:
        image: float ``(height, width)`` in [0, 1].
        saliency: float ``(height, width)`` in [0, 1].
        request: ``(height, width)`` in {0, 1}.
        scale: Integer upscaling factor (nearest) for visibility.
        opacity: Red opacity at saliency 1.

    Returns:
        uint8 RGB ``(height * scale, width * scale, 3)``.
    """
    size = (image.shape[1] * scale, image.shape[0] * scale)
    grey = cv2.resize(np.clip(image, 0, 1).astype(np.float32), size, interpolation=cv2.INTER_NEAREST)
    alpha = opacity * cv2.resize(np.clip(saliency, 0, 1).astype(np.float32), size, interpolation=cv2.INTER_NEAREST)
    rgb = grey[..., None] * 255.0 * (1.0 - alpha[..., None]) + _RED * alpha[..., None]
    bgr = np.ascontiguousarray(rgb[..., ::-1].astype(np.uint8))
    mask = cv2.resize(request.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(bgr, contours, -1, _BLUE_BGR, thickness=max(1, scale // 2))
    return np.ascontiguousarray(bgr[..., ::-1])


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    header = np.full((18, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(header, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, panel], axis=0)


def example_row(image: np.ndarray, request: np.ndarray, maps: Mapping[str, np.ndarray], *,
                title: str = "input", scale: int = 4) -> np.ndarray:
    """One row: the input with its request, then every method's overlay, each with a caption.

    Args:
        image: float ``(height, width)`` in [0, 1].
        request: ``(height, width)`` in {0, 1}.
        maps: Method name to saliency ``(height, width)`` in [0, 1].
        title: Caption of the input panel.
        scale: Upscaling factor.

    Returns:
        uint8 RGB image.
    """
    panels = [_label(saliency_overlay(image, np.zeros_like(image), request, scale=scale), title)]
    panels += [_label(saliency_overlay(image, saliency, request, scale=scale), name) for name, saliency in maps.items()]
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    row: list[np.ndarray] = []
    for panel in panels:
        row += [panel, gap]
    return np.concatenate(row[:-1], axis=1)


def write_png(path: str | os.PathLike, rows: Sequence[np.ndarray] | np.ndarray) -> None:
    """Writes an RGB image (or rows stacked vertically) as a PNG, atomically.

    Raises:
        OSError: If the file cannot be written.
    """
    picture = rows if isinstance(rows, np.ndarray) else np.concatenate(list(rows), axis=0)
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(picture[..., ::-1]))
    if not ok:
        raise OSError(f"could not encode a PNG for {os.fspath(path)!r}")
    write_bytes_atomic(path, encoded.tobytes())
