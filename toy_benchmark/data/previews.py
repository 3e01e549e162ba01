"""Preview figures of the toy dataset: a texture contact sheet (like the paper's Fig. S2) and a grid of
samples with their label maps (like Fig. S1). Drawn with NumPy and OpenCV (their own layouts: a frame
around the bias texture and the bias half, a colour legend), encoded and written atomically with
`grid_saliency_tf.experiment` (`encode_png`, `write_bytes`).

Figures only: nothing in the dataset code imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import cv2
import numpy as np

from grid_saliency_tf.experiment import encode_png, write_bytes
from toy_benchmark.data.generator import SampleGenerator
from toy_benchmark.data.mnist import MnistDigits
from toy_benchmark.data.philox import derive_key, philox4x32, uniform_below
from toy_benchmark.data.sources import DataSources, resolve_sources
from toy_benchmark.data.textures import TexturePool
from toy_benchmark.data.variant import BIAS_HALF_TOP, IMAGE_SIZE, NUM_CLASSES, NUM_DIGITS, DatasetVariant

__all__ = ["CLASS_COLORS", "preview_files", "sample_grid", "texture_contact_sheet", "write_previews"]

_PREVIEW_DOMAIN = 0x9E71
_RED = (220, 30, 30)
_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)
_FONT = cv2.FONT_HERSHEY_PLAIN
# RGB colours of the label classes 0..9 (Matplotlib's tab10) and of the background class 10.
CLASS_COLORS = np.array(
    [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (188, 189, 34),
        (23, 190, 207),
        (127, 127, 127),
        (30, 30, 30),
    ],
    dtype=np.uint8,
)


def _gray_to_rgb(gray: np.ndarray, scale: int) -> np.ndarray:
    big = np.repeat(np.repeat(gray, scale, axis=0), scale, axis=1)
    return np.repeat(big[:, :, None], 3, axis=2)


def _frame(
    image: np.ndarray, top: int, left: int, height: int, width: int, color, thickness: int = 2
) -> None:
    cv2.rectangle(image, (left, top), (left + width - 1, top + height - 1), color, thickness)


def _text(image: np.ndarray, text: str, left: int, baseline: int, color=_BLACK, size: float = 1.0) -> None:
    cv2.putText(image, text, (left, baseline), _FONT, size, color, 1, cv2.LINE_AA)


def _fit(text: str, width: int, size: float = 1.0) -> str:
    while text and cv2.getTextSize(text, _FONT, size, 1)[0][0] > width:
        text = text[:-1]
    return text


def texture_contact_sheet(
    pool: TexturePool,
    *,
    seed: int = 0,
    highlight: Iterable[int] = (),
    columns: int = 5,
    scale: int = 2,
) -> np.ndarray:
    """One random 64 x 64 crop and one 32 x 64 crop of every texture, in a grid (paper Fig. S2).

    Args:
      pool: the textures.
      seed: chooses the crop positions.
      highlight: texture ids framed in red (e.g. the bias textures, as in Fig. S2).
      columns: textures per row.
      scale: nearest-neighbour magnification.

    Returns:
      uint8 RGB image (height, width, 3).
    """
    highlight = {int(t) for t in highlight}
    crop_w, gap, title = IMAGE_SIZE * scale, 6, 16
    cell_h, cell_w = title + (IMAGE_SIZE + IMAGE_SIZE // 2) * scale + gap + 8, crop_w + 36
    rows = -(-len(pool) // columns)
    sheet = np.full((rows * cell_h, columns * cell_w, 3), 255, dtype=np.uint8)
    counters = np.zeros((len(pool), 4), dtype=np.uint32)
    counters[:, 0] = np.arange(len(pool), dtype=np.uint32)
    bits = philox4x32(counters, derive_key([_PREVIEW_DOMAIN, seed]))
    for texture_id, texture in enumerate(pool.textures):
        height, width = texture.shape
        ys = uniform_below(
            bits[texture_id, [0, 2]], np.array([height - IMAGE_SIZE + 1, height - IMAGE_SIZE // 2 + 1])
        )
        xs = uniform_below(bits[texture_id, [1, 3]], width - IMAGE_SIZE + 1)
        square = texture[ys[0] : ys[0] + IMAGE_SIZE, xs[0] : xs[0] + IMAGE_SIZE]
        strip = texture[ys[1] : ys[1] + IMAGE_SIZE // 2, xs[1] : xs[1] + IMAGE_SIZE]
        top, left = (texture_id // columns) * cell_h, (texture_id % columns) * cell_w + 6
        color = _RED if texture_id in highlight else _BLACK
        _text(
            sheet,
            _fit(f"{texture_id} {pool.names[texture_id]}", cell_w - 8, 0.8),
            left,
            top + title - 4,
            color,
            0.8,
        )
        y = top + title
        sheet[y : y + IMAGE_SIZE * scale, left : left + crop_w] = _gray_to_rgb(square, scale)
        y2 = y + IMAGE_SIZE * scale + gap
        sheet[y2 : y2 + IMAGE_SIZE // 2 * scale, left : left + crop_w] = _gray_to_rgb(strip, scale)
        if texture_id in highlight:
            _frame(sheet, y - 2, left - 2, y2 + IMAGE_SIZE // 2 * scale - y + 4, crop_w + 4, _RED)
    return sheet


def sample_grid(
    samples: Mapping[str, np.ndarray], *, columns: int = NUM_DIGITS, scale: int = 2, title: str = ""
) -> np.ndarray:
    """Samples above their label maps (paper Fig. S1); the bias half of a biased sample is framed red.

    Args:
      samples: a batch from `SampleGenerator.generate` (image uint8 (n, 64, 64), label (n, 64, 64),
        bias_half (n,)), or numpy elements of a batched dataset (image float (n, 64, 64, 1) in [0, 1]).
      columns: samples per row.
      scale: nearest-neighbour magnification.
      title: a line of text above the grid.

    Returns:
      uint8 RGB image (height, width, 3).
    """
    images = np.asarray(samples["image"])
    if images.dtype != np.uint8:
        images = np.round(
            np.clip(images.reshape(images.shape[0], IMAGE_SIZE, IMAGE_SIZE), 0, 1) * 255
        ).astype(np.uint8)
    labels = np.asarray(samples["label"])
    halves = np.asarray(samples["bias_half"])
    count = images.shape[0]
    size, gap = IMAGE_SIZE * scale, 4
    header, legend = (20 if title else 0), 22
    grid_rows = -(-count // columns)
    pair_h = 2 * size + gap + 10
    canvas = np.full(
        (header + grid_rows * pair_h + legend, columns * (size + gap) + gap, 3), 255, dtype=np.uint8
    )
    if title:
        _text(canvas, _fit(title, canvas.shape[1] - 8), 4, 15)
    for j in range(count):
        top = header + (j // columns) * pair_h
        left = gap + (j % columns) * (size + gap)
        canvas[top : top + size, left : left + size] = _gray_to_rgb(images[j], scale)
        colored = CLASS_COLORS[np.clip(labels[j], 0, NUM_CLASSES - 1)]
        canvas[top + size + gap : top + 2 * size + gap, left : left + size] = np.repeat(
            np.repeat(colored, scale, axis=0), scale, axis=1
        )
        if halves[j]:
            half_top = top if halves[j] == BIAS_HALF_TOP else top + size // 2
            _frame(canvas, half_top, left, size // 2, size, _RED)
    y = canvas.shape[0] - 6
    x = gap
    for class_id in range(NUM_CLASSES):
        name = str(class_id) if class_id < NUM_DIGITS else "background"
        cv2.rectangle(canvas, (x, y - 11), (x + 11, y), tuple(int(c) for c in CLASS_COLORS[class_id]), -1)
        _text(canvas, name, x + 15, y)
        x += 15 + cv2.getTextSize(name, _FONT, 1.0, 1)[0][0] + 12
    _text(canvas, "red frame: bias half", x + 10, y, _RED)
    return canvas


def preview_files(
    directory: str | os.PathLike,
    variant: DatasetVariant,
    sources: DataSources,
    *,
    samples_per_digit: int = 3,
    overwrite: bool = False,
) -> dict[str, bytes]:
    """Renders `textures.png` and `samples.png` as PNG bytes and checks they may be written; writes nothing.

    Args:
      directory: where the files would go.
      variant: the dataset whose samples are shown (its first samples_per_digit * 10 indices).
      sources: the texture pool and digits (`resolve_sources`).
      samples_per_digit, overwrite: as in `write_previews`.

    Returns:
      {path: PNG bytes} of the two files, for `grid_saliency_tf.experiment.write_bytes`.

    Raises:
      ValueError: if a file exists, differs and overwrite is False.
    """
    generator = SampleGenerator(variant, textures=sources.textures, mnist=sources.mnist)
    count = min(variant.num_samples, samples_per_digit * NUM_DIGITS)
    batch = generator.generate(np.arange(count))
    highlight = [variant.bias_texture] if variant.biased else []
    figures = {
        "textures.png": texture_contact_sheet(sources.textures, highlight=highlight),
        "samples.png": sample_grid(
            batch, title=f"toy dataset {variant.name} (top: image, bottom: label map)"
        ),
    }
    encoded = {os.path.join(os.fspath(directory), name): encode_png(rgb) for name, rgb in figures.items()}
    for path, data in encoded.items():
        if os.path.exists(path) and not overwrite:
            with open(path, "rb") as handle:
                if handle.read() != data:
                    raise ValueError(
                        f"Argument `preview_dir` must not hold other previews unless overwriting; received "
                        f"{os.fspath(directory)!r}, where {os.path.basename(path)} exists and differs."
                    )
    return encoded


def write_previews(
    directory: str | os.PathLike,
    variant: DatasetVariant,
    *,
    textures: TexturePool | str | os.PathLike | None = None,
    mnist: MnistDigits | str | os.PathLike | None = None,
    sources: DataSources | None = None,
    samples_per_digit: int = 3,
    overwrite: bool = False,
) -> list[str]:
    """Writes `textures.png` (contact sheet, bias texture framed) and `samples.png` (first samples).

    Args:
      directory: where to write; created if absent.
      variant: the dataset whose samples are shown (its first samples_per_digit * 10 indices).
      textures, mnist: the sources (objects or paths; None for the defaults).
      sources: a `DataSources` resolved before, instead of textures and mnist.
      samples_per_digit: rows of the sample grid.
      overwrite: replace existing files that differ; without it such files make this fail before
        anything is written (identical files are left alone).

    Returns:
      The two paths.

    Raises:
      ValueError: if a file exists, differs and overwrite is False.
    """
    encoded = preview_files(directory, variant, resolve_sources(textures, mnist, sources=sources),
                            samples_per_digit=samples_per_digit, overwrite=overwrite)
    for path, data in encoded.items():
        write_bytes(path, data)
    return list(encoded)
