"""Figures of explanations: overlays and panels drawn with OpenCV, PNG files, and matplotlib figures.

The overlay is the paper's picture of a context explanation (Hoyer et al., NeurIPS 2019, Fig. 3b, 5
and S15): the saliency ``M`` painted in red over the image, with opacity proportional to ``M``, and the
request mask ``R`` outlined in blue. `tile` lays images out in a grid with a caption above each, for
rows of examples and panel figures, without matplotlib.

matplotlib is needed only by `new_figure`, `save_figure` and `panel_figure`, and is imported inside
them (``pip install grid-saliency-tf[viz]``). They build a `matplotlib.figure.Figure` on its own Agg
canvas: no `matplotlib.use`, no pyplot, no global state, so they are safe in libraries and threads.
Every file is written atomically (`files.atomic_path`).
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from grid_saliency_tf.experiment import files

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "REQUEST_COLOR",
    "SALIENCY_COLOR",
    "decode_png",
    "encode_png",
    "new_figure",
    "overlay",
    "panel_figure",
    "save_figure",
    "tile",
    "to_uint8_rgb",
    "write_png",
]

#: RGB colours of the saliency (red) and of the request outline (blue), as in Fig. 5 of the paper.
SALIENCY_COLOR = (255, 0, 0)
REQUEST_COLOR = (0, 90, 255)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FIGURE_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


def _check_value_range(value_range: Sequence[float]) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"Argument `value_range` must be a pair (low, high); received {value_range!r}.") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"Argument `value_range` must be finite with low < high; received {value_range!r}.")
    return low, high


def to_uint8_rgb(image: Any, value_range: Sequence[float] = (0.0, 1.0)) -> np.ndarray:
    """An image as uint8 RGB: `value_range` maps linearly to 0..255 (clipped, rounded).

    Args:
        image: ``(height, width)``, ``(height, width, 1)`` (grey) or ``(height, width, 3)`` (RGB),
            any real dtype. A uint8 image is taken as it is, whatever `value_range`.
        value_range: The values shown as black and as white.

    Returns:
        uint8 ``(height, width, 3)``.

    Raises:
        ValueError: For another shape, a NaN, or a bad `value_range`.
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3) or 0 in array.shape:
        raise ValueError(f"Argument `image` must have shape (height, width), (height, width, 1) or "
                         f"(height, width, 3); received {array.shape}.")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
            raise ValueError(f"Argument `image` must hold real numbers; received dtype {array.dtype}.")
        low, high = _check_value_range(value_range)
        scaled = (array.astype(np.float64) - low) * (255.0 / (high - low))
        if np.isnan(scaled).any():
            raise ValueError("Argument `image` must not hold NaN; received an image with NaN.")
        array = np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    return np.ascontiguousarray(array)


def _check_map(name: str, value: Any, shape: tuple[int, int]) -> np.ndarray:
    array = np.asarray(value, dtype=np.float32)
    if array.shape != shape:
        raise ValueError(f"Argument `{name}` must have shape {shape}; received {array.shape}.")
    if np.isnan(array).any():
        raise ValueError(f"Argument `{name}` must not hold NaN; received a map with NaN.")
    return array


def overlay(image: Any, saliency: Any = None, request_mask: Any = None, *,
            value_range: Sequence[float] = (0.0, 1.0), scale: int = 1, opacity: float = 0.75,
            outline_width: int | None = None, saliency_color: Sequence[int] = SALIENCY_COLOR,
            outline_color: Sequence[int] = REQUEST_COLOR) -> np.ndarray:
    """The image with the saliency in red and each request outlined in blue (paper Fig. 3b, 5, S15).

    Each pixel becomes ``(1 - a) * image + a * saliency_color`` with ``a = opacity * clip(M, 0, 1)``;
    then the outer contour of every request mask is drawn over it.

    Args:
        image: The picture, as accepted by `to_uint8_rgb` (grey or RGB, ``(height, width[, c])``).
        saliency: ``(height, width)`` map in [0, 1] (values outside are clipped), or None.
        request_mask: ``(height, width)`` or ``(n, height, width)`` masks (nonzero = inside), or None.
        value_range: The image's black and white values (ignored for uint8 images).
        scale: Integer magnification (nearest neighbour) applied before drawing, for small images.
        opacity: Opacity of the saliency colour where ``M = 1``, in [0, 1].
        outline_width: Outline thickness in output pixels; None for ``max(1, scale // 2)``.
        saliency_color, outline_color: RGB colours.

    Returns:
        uint8 RGB ``(height * scale, width * scale, 3)``.

    Raises:
        ValueError: For mismatched shapes, NaN, or an argument out of range.
    """
    picture = to_uint8_rgb(image, value_range)
    height, width = picture.shape[:2]
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"Argument `scale` must be a positive int; received {scale!r}.")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"Argument `opacity` must be in [0, 1]; received {opacity!r}.")
    thickness = max(1, scale // 2) if outline_width is None else outline_width
    if isinstance(thickness, bool) or not isinstance(thickness, (int, np.integer)) or thickness < 1:
        raise ValueError(f"Argument `outline_width` must be a positive int; received {outline_width!r}.")
    size = (width * scale, height * scale)
    canvas = cv2.resize(picture, size, interpolation=cv2.INTER_NEAREST).astype(np.float32)
    if saliency is not None:
        weights = opacity * np.clip(_check_map("saliency", saliency, (height, width)), 0.0, 1.0)
        weights = cv2.resize(weights, size, interpolation=cv2.INTER_NEAREST)[..., None]
        canvas = canvas * (1.0 - weights) + np.asarray(saliency_color, np.float32) * weights
    canvas = np.ascontiguousarray(np.clip(np.rint(canvas), 0, 255).astype(np.uint8))
    if request_mask is not None:
        masks = np.asarray(request_mask)
        masks = masks[None] if masks.ndim == 2 else masks
        if masks.ndim != 3 or masks.shape[1:] != (height, width):
            raise ValueError(f"Argument `request_mask` must have shape ({height}, {width}) or (n, {height}, "
                             f"{width}); received {np.asarray(request_mask).shape}.")
        color = tuple(int(c) for c in outline_color)
        for mask in masks:
            big = cv2.resize((mask != 0).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
            contours, _ = cv2.findContours(big, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(canvas, contours, -1, color, int(thickness))
    return canvas


def _caption(text: str, width: int, height: int) -> np.ndarray:
    strip = np.full((height, width, 3), 255, np.uint8)
    while text and cv2.getTextSize(text, _FONT, 0.4, 1)[0][0] > width - 4:
        text = text[:-1]
    cv2.putText(strip, text, (2, height - 5), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def tile(images: Sequence[Any], columns: int | None = None, *, labels: Sequence[str] | None = None,
         title: str | None = None, gap: int = 4, caption_height: int = 18,
         value_range: Sequence[float] = (0.0, 1.0)) -> np.ndarray:
    """Images in a grid on white, each under its caption, row by row (a panel figure without matplotlib).

    Cells are as large as the largest image; smaller images sit at the cell's top left.

    Args:
        images: Pictures accepted by `to_uint8_rgb`.
        columns: Images per row; None for all in one row.
        labels: One caption per image (cut to the cell width); None for no captions.
        title: A line above the grid, or None.
        gap: White pixels between cells.
        caption_height: Height of the caption strip in pixels.
        value_range: Black and white values of non-uint8 images.

    Returns:
        uint8 RGB ``(height, width, 3)``.

    Raises:
        ValueError: If `images` is empty, `labels` has another length, or an argument is out of range.
    """
    pictures = [to_uint8_rgb(image, value_range) for image in images]
    if not pictures:
        raise ValueError("Argument `images` must hold at least one image; received none.")
    columns = len(pictures) if columns is None else columns
    if isinstance(columns, bool) or not isinstance(columns, (int, np.integer)) or columns < 1:
        raise ValueError(f"Argument `columns` must be a positive int; received {columns!r}.")
    if labels is not None and len(labels) != len(pictures):
        raise ValueError(f"Argument `labels` must have one caption per image ({len(pictures)}); "
                         f"received {len(labels)}.")
    if gap < 0 or caption_height < 0:
        raise ValueError(f"Arguments `gap` and `caption_height` must be >= 0; received {gap}, {caption_height}.")
    cell_h = max(p.shape[0] for p in pictures) + (caption_height if labels is not None else 0)
    cell_w = max(p.shape[1] for p in pictures)
    columns = min(columns, len(pictures))
    rows = -(-len(pictures) // columns)
    top = caption_height if title else 0
    canvas = np.full((top + rows * cell_h + (rows - 1) * gap, columns * cell_w + (columns - 1) * gap, 3), 255,
                     np.uint8)
    if title:
        canvas[:top] = _caption(title, canvas.shape[1], top)
    for index, picture in enumerate(pictures):
        y = top + (index // columns) * (cell_h + gap)
        x = (index % columns) * (cell_w + gap)
        if labels is not None:
            canvas[y:y + caption_height, x:x + cell_w] = _caption(str(labels[index]), cell_w, caption_height)
            y += caption_height
        canvas[y:y + picture.shape[0], x:x + picture.shape[1]] = picture
    return canvas


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of a uint8 RGB ``(height, width, 3)`` or grey ``(height, width)`` image.

    Raises:
        TypeError: If the image is not uint8 (convert it with `to_uint8_rgb`; nothing is rescaled here).
        ValueError: For another shape.
    """
    array = np.asarray(rgb)
    if array.dtype != np.uint8:
        raise TypeError(f"Argument `rgb` must be uint8 (see to_uint8_rgb); received dtype {array.dtype}.")
    if array.ndim == 3 and array.shape[-1] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    elif array.ndim != 2:
        raise ValueError(f"Argument `rgb` must have shape (height, width, 3) or (height, width); "
                         f"received {array.shape}.")
    ok, data = cv2.imencode(".png", array)
    if not ok:
        raise ValueError(f"Argument `rgb` could not be encoded as PNG; received shape {array.shape}.")
    return data.tobytes()


def decode_png(data: bytes) -> np.ndarray:
    """The uint8 RGB ``(height, width, 3)`` image of PNG (or any OpenCV-readable) bytes.

    Raises:
        ValueError: If the bytes are not an image.
    """
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("Argument `data` must be the bytes of an image; OpenCV cannot decode them.")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> pathlib.Path:
    """Writes a uint8 RGB (or grey) image as a PNG file, atomically; returns the path."""
    return files.write_bytes(path, encode_png(rgb))


def _matplotlib_figure() -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("matplotlib is needed for this figure: pip install 'grid-saliency-tf[viz]'") from None
    return Figure, FigureCanvasAgg


def new_figure(figsize: tuple[float, float] = (6.4, 4.8), *, dpi: float = 100.0, **kwargs: Any) -> Figure:
    """A matplotlib `Figure` on its own Agg canvas, with no global state (no pyplot, no `matplotlib.use`).

    Args:
        figsize: Width and height in inches.
        dpi: Dots per inch.
        **kwargs: Further `Figure` arguments (e.g. ``layout="constrained"``).

    Returns:
        The figure; draw with ``figure.subplots(...)`` and save with `save_figure`.

    Raises:
        ImportError: If matplotlib is not installed.
    """
    figure_class, canvas_class = _matplotlib_figure()
    figure = figure_class(figsize=figsize, dpi=dpi, **kwargs)
    canvas_class(figure)
    return figure


def save_figure(figure: Figure, path: str | os.PathLike, *, dpi: float | None = None) -> pathlib.Path:
    """Saves a matplotlib figure atomically; the format follows the suffix (.png, .pdf or .svg).

    Raises:
        ValueError: For another suffix.
    """
    suffix = pathlib.Path(path).suffix.lower()
    if suffix not in _FIGURE_FORMATS:
        raise ValueError(f"Argument `path` must end in {', '.join(_FIGURE_FORMATS)}; received {os.fspath(path)!r}.")
    with files.atomic_path(path) as temporary:
        figure.savefig(temporary, format=_FIGURE_FORMATS[suffix], dpi=dpi if dpi is not None else "figure")
    return pathlib.Path(path)


def panel_figure(panels: Sequence[tuple[str, Any]], *, columns: int = 4, panel_width: float = 3.2,
                 title: str | None = None, colormap: str = "jet", value_range: Sequence[float] = (0.0, 1.0)
                 ) -> Figure:
    """Titled panels in a grid, like the intermediate results of supplement Fig. S13.

    Args:
        panels: ``(title, array)`` pairs: RGB ``(height, width, 3)`` arrays are shown as pictures
            (via `to_uint8_rgb` with `value_range`), 2-D ``(height, width)`` arrays as maps in [0, 1]
            (softmax scores, saliency) with a colour bar.
        columns: Panels per row.
        panel_width: Width of one panel in inches.
        title: Figure title, or None.
        colormap: matplotlib colour map of the 2-D panels.
        value_range: Black and white values of non-uint8 RGB panels.

    Returns:
        A `Figure` (see `new_figure`); save it with `save_figure`.

    Raises:
        ValueError: If `panels` is empty.
        ImportError: If matplotlib is not installed.
    """
    if not panels:
        raise ValueError("Argument `panels` must hold at least one (title, array) pair; received none.")
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"Argument `columns` must be a positive int; received {columns!r}.")
    columns = min(columns, len(panels))
    rows = -(-len(panels) // columns)
    height, width = np.asarray(panels[0][1]).shape[:2]
    panel_height = panel_width * height / width + 0.5
    figure = new_figure((panel_width * columns, panel_height * rows + (0.4 if title else 0.0)))
    for position, (name, array) in enumerate(panels):
        axes = figure.add_subplot(rows, columns, position + 1)
        array = np.asarray(array)
        if array.ndim == 3:
            axes.imshow(to_uint8_rgb(array, value_range))
        else:
            shown = axes.imshow(array, cmap=colormap, vmin=0.0, vmax=1.0)
            figure.colorbar(shown, ax=axes, fraction=0.046, pad=0.02)
        axes.set_title(name, fontsize=9)
        axes.axis("off")
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
