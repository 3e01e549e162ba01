"""Figures of context explanations: the overlay of Fig. 5/S15 and the panels of Fig. S13.

The overlay (context saliency in red over the image, the request outlined in blue) is drawn with NumPy
and OpenCV. The panel figure uses matplotlib, imported only when it is drawn (``pip install
grid-saliency-tf[viz]``). Both return PNG bytes; writing them is the caller's business.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

__all__ = ["saliency_overlay", "encode_png", "panels_png", "REQUEST_COLOR", "SALIENCY_COLOR"]

#: RGB colour of request outlines (blue) and of context saliency (red), as in Fig. 5 of the paper.
REQUEST_COLOR = (0, 90, 255)
SALIENCY_COLOR = (255, 0, 0)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image: expected shape (height, width, 3); received {image.shape}")
    return np.clip(image, 0, 255).astype(np.uint8)


def saliency_overlay(
    image: np.ndarray,
    saliency: np.ndarray | None,
    request_masks: np.ndarray | None = None,
    *,
    strength: float = 0.75,
    outline_width: int = 2,
) -> np.ndarray:
    """The image with context saliency in red and request outlines in blue (Fig. 5 and S15).

    Args:
        image: uint8 RGB ``(height, width, 3)``.
        saliency: float ``(height, width)`` in [0, 1] (the upsampled mask), or None for outlines only.
        request_masks: One ``(height, width)`` mask or several ``(n, height, width)``, each outlined; or
            None.
        strength: Opacity of red at saliency 1.
        outline_width: Outline thickness in pixels.

    Returns:
        uint8 RGB ``(height, width, 3)``.

    Raises:
        ValueError: If the shapes do not match.
    """
    image = _check_image(image)
    canvas = image.astype(np.float32)
    if saliency is not None:
        saliency = np.asarray(saliency, np.float32)
        if saliency.shape != image.shape[:2]:
            raise ValueError(f"saliency: expected shape {image.shape[:2]}; received {saliency.shape}")
        weight = strength * np.clip(saliency, 0.0, 1.0)[..., None]
        canvas = canvas * (1.0 - weight) + np.asarray(SALIENCY_COLOR, np.float32) * weight
    canvas = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    masks = np.zeros((0, *image.shape[:2]), bool) if request_masks is None else np.asarray(request_masks)
    if masks.size:
        masks = masks[None] if masks.ndim == 2 else masks
        if masks.shape[1:] != image.shape[:2]:
            raise ValueError(f"request_masks: expected shape (n, {image.shape[0]}, {image.shape[1]}); "
                             f"received {masks.shape}")
        for mask in masks:
            contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(canvas, contours, -1, REQUEST_COLOR, outline_width)
    return canvas


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 RGB ``(height, width, 3)`` or grey ``(height, width)`` image."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(_check_image(image), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"image: cannot encode an array of shape {image.shape} as PNG")
    return data.tobytes()


def panels_png(
    panels: Sequence[tuple[str, np.ndarray]],
    *,
    columns: int = 4,
    panel_width: float = 3.2,
    title: str | None = None,
    colormap: str = "jet",
) -> bytes:
    """A grid of titled panels as PNG bytes, like Fig. S13 of the supplement.

    Args:
        panels: ``(title, array)`` pairs; RGB arrays ``(height, width, 3)`` are shown as images, 2-D
            arrays as maps in [0, 1] (softmax scores, saliency) with a colour bar.
        columns: Panels per row.
        panel_width: Width of one panel in inches.
        title: Figure title.
        colormap: Matplotlib colour map of the 2-D panels.

    Returns:
        PNG bytes.
    """
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not panels:
        raise ValueError("panels: expected at least one (title, array) pair; received none")
    rows = -(-len(panels) // columns)
    height, width = np.asarray(panels[0][1]).shape[:2]
    panel_height = panel_width * height / width + 0.5
    figure = Figure(figsize=(panel_width * columns, panel_height * rows + (0.4 if title else 0.0)))
    FigureCanvasAgg(figure)
    for position, (name, array) in enumerate(panels):
        axes = figure.add_subplot(rows, columns, position + 1)
        array = np.asarray(array)
        if array.ndim == 3:
            axes.imshow(_check_image(array))
        else:
            shown = axes.imshow(array, cmap=colormap, vmin=0.0, vmax=1.0)
            figure.colorbar(shown, ax=axes, fraction=0.046, pad=0.02)
        axes.set_title(name, fontsize=9)
        axes.axis("off")
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
