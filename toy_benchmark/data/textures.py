"""Texture pools for the toy dataset: 25 procedural textures, or a folder of the user's images.

The paper (supplement S1.1, Fig. S2) uses 25 grayscale textures of at least 400 x 400 pixels from two
websites this project cannot reach; TOY_DATASET_SPEC.md ("Textures") asks for 25 procedural ones
instead: deterministic, at least 400 x 400, visibly different at 64 x 64 and in a 32 x 64 crop. They are
made with NumPy and OpenCV from closed-form patterns and from counter-based noise (`philox`), and stored
as uint8 (256 grey levels, like the image textures of the paper); the value of a pixel is uint8 / 255.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import os
from collections.abc import Callable

import cv2
import numpy as np

from toy_benchmark.data.philox import derive_key, philox4x32

__all__ = [
    "IMAGE_EXTENSIONS",
    "MIN_TEXTURE_SIZE",
    "PROCEDURAL_TEXTURE_NAMES",
    "TexturePool",
    "load_texture_folder",
    "load_textures",
    "procedural_textures",
]

MIN_TEXTURE_SIZE = 400
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm", ".pnm")
_NOISE_DOMAIN = 0x7E97  # keeps texture noise apart from every other use of the counter-based generator


@dataclasses.dataclass(frozen=True, eq=False)
class TexturePool:
    """An ordered pool of grayscale textures; a texture's id is its position.

    Attributes:
      textures: one uint8 (height, width) array per texture, each at least 64 x 64 (the loaders make
        them at least 400 x 400); pixel value = uint8 / 255. Made read-only.
      names: one name per texture.
      source: "procedural" or the folder the images came from.
    """

    textures: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    source: str

    def __post_init__(self) -> None:
        textures = tuple(np.ascontiguousarray(t) for t in self.textures)
        if len(textures) < 2:
            raise ValueError(f"Argument `textures` must hold at least 2 textures; received {len(textures)}.")
        if len(self.names) != len(textures):
            raise ValueError(
                f"Argument `names` must have one entry per texture ({len(textures)}); received "
                f"{len(self.names)}."
            )
        for name, texture in zip(self.names, textures):
            if texture.dtype != np.uint8 or texture.ndim != 2 or min(texture.shape) < 64:
                raise ValueError(
                    f"Argument `textures` must hold uint8 (height, width) arrays with both sides >= 64; "
                    f"received {texture.dtype} {texture.shape} for texture {name!r}."
                )
            texture.flags.writeable = False
        object.__setattr__(self, "textures", textures)
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))

    def __len__(self) -> int:
        return len(self.textures)

    @functools.cached_property
    def shapes(self) -> np.ndarray:
        """int64 (num_textures, 2): (height, width) of each texture."""
        return np.array([t.shape for t in self.textures], dtype=np.int64)

    @functools.cached_property
    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """All textures in one uint8 buffer, and the int64 (num_textures,) start of each in it."""
        sizes = self.shapes.prod(axis=1)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        buffer = np.concatenate([t.ravel() for t in self.textures])
        buffer.flags.writeable = False
        return buffer, starts

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 over the textures' shapes and pixels, in order: equal fingerprints mean equal pools."""
        digest = hashlib.sha256(b"toy_benchmark.TexturePool/1")
        for texture in self.textures:
            digest.update(repr(texture.shape).encode())
            digest.update(texture.tobytes())
        return digest.hexdigest()


def load_textures(path: str | os.PathLike | None = None) -> TexturePool:
    """The procedural pool (path None) or the images of a folder (`load_texture_folder`)."""
    return procedural_textures() if path is None else load_texture_folder(path)


def load_texture_folder(path: str | os.PathLike, *, min_size: int = MIN_TEXTURE_SIZE) -> TexturePool:
    """Loads every image of a folder as a grayscale texture, in file-name order.

    Files with an extension in IMAGE_EXTENSIONS are read (other files and hidden files are ignored) and
    converted to 8-bit grayscale; a side shorter than `min_size` is tiled up to at least `min_size`.

    Args:
      path: the folder.
      min_size: the smallest side after tiling.

    Returns:
      The pool; texture id k is the k-th image in sorted file-name order.

    Raises:
      FileNotFoundError: if the folder does not exist.
      ValueError: if it holds fewer than 2 images, or an image cannot be decoded.
    """
    folder = os.fspath(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"Argument `texture_dir` must be a folder; received {folder!r}, which is not one."
        )
    names = sorted(
        name
        for name in os.listdir(folder)
        if not name.startswith(".")
        and name.lower().endswith(IMAGE_EXTENSIONS)
        and os.path.isfile(os.path.join(folder, name))
    )
    textures = []
    for name in names:
        file_path = os.path.join(folder, name)
        try:
            encoded = np.fromfile(file_path, dtype=np.uint8)
        except OSError as error:
            raise ValueError(
                f"texture_dir: cannot read texture file {file_path!r} ({error.strerror})"
            ) from None
        image = _decode_quietly(encoded) if encoded.size else None
        if image is None or image.ndim != 2 or image.size == 0:
            raise ValueError(f"texture_dir: cannot decode texture file {file_path!r} as an image")
        height, width = image.shape
        reps = (
            math.ceil(min_size / height) if height < min_size else 1,
            math.ceil(min_size / width) if width < min_size else 1,
        )
        textures.append(np.tile(image, reps) if reps != (1, 1) else image)
    if len(textures) < 2:
        raise ValueError(
            f"texture_dir {folder!r} holds {len(textures)} image(s) with extensions {IMAGE_EXTENSIONS}; "
            "need at least 2"
        )
    return TexturePool(tuple(textures), tuple(names), source=folder)


def _decode_quietly(encoded: np.ndarray) -> np.ndarray | None:
    """cv2.imdecode to 8-bit grey, without OpenCV's own log lines for a broken file (we raise instead)."""
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    finally:
        cv2.utils.logging.setLogLevel(previous)


# --- procedural textures --------------------------------------------------------------------------------


def _noise(size: int, texture_id: int, *, sigma: float = 0.0) -> np.ndarray:
    """Uniform noise in [0, 1) from the counter-based generator, optionally Gaussian-blurred and rescaled."""
    counters = np.zeros((math.ceil(size * size / 4), 4), dtype=np.uint32)
    counters[:, 0] = np.arange(counters.shape[0], dtype=np.uint32)
    bits = philox4x32(counters, derive_key([_NOISE_DOMAIN, texture_id])).ravel()[: size * size]
    noise = (bits >> np.uint32(8)).astype(np.float32).reshape(size, size) / np.float32(2**24)
    if sigma:
        noise = cv2.GaussianBlur(noise, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        noise = (noise - noise.min()) / (noise.max() - noise.min())
    return noise


def _equalized(values: np.ndarray) -> np.ndarray:
    """The ranks of the values scaled to [0, 1]: the same pattern with a uniform histogram."""
    ranks = np.argsort(np.argsort(values, axis=None), kind="stable").reshape(values.shape)
    return ranks / (values.size - 1)


def _points(size: int, texture_id: int, count: int) -> np.ndarray:
    """`count` random points in [0, size)^2 (float64 (count, 2), y then x)."""
    counters = np.zeros((count, 4), dtype=np.uint32)
    counters[:, 0] = np.arange(count, dtype=np.uint32)
    counters[:, 3] = 1
    bits = philox4x32(counters, derive_key([_NOISE_DOMAIN, texture_id]))[:, :2]
    return bits.astype(np.float64) / 2**32 * size


def _nearest_distances(size: int, points: np.ndarray, *, tile: int = 16) -> tuple[np.ndarray, np.ndarray,
                                                                                  np.ndarray]:
    """Per pixel: distance to the nearest and second nearest point (toroidal), and the nearest's index.

    Tile by tile, only the points that can be among a tile's two nearest are measured: a point whose
    distance to the tile (its nearest pixel) exceeds the second smallest farthest-pixel distance of all
    points is farther than two points from every pixel. The distances are the same float32 expressions
    as a pass over every point, so the result is bit for bit that of the pass (ties go to the lower
    index, tested), in a small fraction of its time (BENCHMARKS.md, "Procedural texture pool").

    Args:
        size: Side of the square, toroidal image.
        points: ``(count, 2)`` points, y then x, in ``[0, size)``.
        tile: Side of the tiles.

    Returns:
        float32 ``(size, size)`` nearest and second nearest distances (inf where fewer than two points),
        int64 ``(size, size)`` index of the nearest point.
    """
    coordinates = np.arange(size, dtype=np.float32)

    def toroidal(values: np.ndarray) -> np.ndarray:  # (count, size): distance of each point to each row/column
        distance = np.abs(coordinates[None, :] - values[:, None])
        return np.minimum(distance, size - distance)

    along_y, along_x = toroidal(points[:, 0].astype(np.float32)), toroidal(points[:, 1].astype(np.float32))
    starts = range(0, size, tile)
    near_y = [along_y[:, start:start + tile].min(axis=1) for start in starts]
    far_y = [along_y[:, start:start + tile].max(axis=1) for start in starts]
    near_x = [along_x[:, start:start + tile].min(axis=1) for start in starts]
    far_x = [along_x[:, start:start + tile].max(axis=1) for start in starts]
    first = np.empty((size, size), dtype=np.float32)
    second = np.full((size, size), np.inf, dtype=np.float32)
    owner = np.empty((size, size), dtype=np.int64)
    for row, y in enumerate(starts):
        for column, x in enumerate(starts):
            farthest = np.hypot(far_y[row], far_x[column])
            bound = np.partition(farthest, 1)[1] if len(farthest) > 1 else np.inf
            candidates = np.flatnonzero(np.hypot(near_y[row], near_x[column]) <= bound * (1 + 1e-6))
            distance = np.hypot(along_y[candidates, y:y + tile][:, :, None],
                                along_x[candidates, x:x + tile][:, None, :])
            nearest = distance.argmin(axis=0)  # the first of equal minima: the lower index, as the pass
            first[y:y + tile, x:x + tile] = np.take_along_axis(distance, nearest[None], axis=0)[0]
            owner[y:y + tile, x:x + tile] = candidates[nearest]
            if len(candidates) > 1:
                second[y:y + tile, x:x + tile] = np.partition(distance, 1, axis=0)[1]
    return first, second, owner


def _grating(yy, xx, angle_degrees: float, period: float) -> np.ndarray:
    """Phase in periods along the direction `angle_degrees` (0 = varies along y, i.e. horizontal bars)."""
    angle = math.radians(angle_degrees)
    return (yy * math.cos(angle) + xx * math.sin(angle)) / period


def _sine(phase) -> np.ndarray:
    return 0.5 + 0.5 * np.sin(2 * np.pi * phase)


def _square(phase, duty: float = 0.5) -> np.ndarray:
    return (np.mod(phase, 1.0) < duty).astype(np.float64)


def _lines(phase, width_periods: float) -> np.ndarray:
    """1 on thin lines (a smooth profile of half-width `width_periods`), 0 between."""
    distance = np.abs(np.mod(phase + 0.5, 1.0) - 0.5)
    return np.clip(1.5 - distance / width_periods, 0.0, 1.0)


def _bricks(yy, xx) -> np.ndarray:
    row = np.floor(yy / 14)
    shifted = xx + (np.mod(row, 2) * 16)
    mortar = (np.mod(yy, 14) < 3) | (np.mod(shifted, 32) < 3)
    return np.where(mortar, 1.0, 0.0)


def _bullseyes(yy, xx) -> np.ndarray:
    cy = np.mod(yy, 44) - 22
    cx = np.mod(xx + 22 * np.mod(np.floor(yy / 44), 2), 44) - 22
    radius = np.hypot(cy, cx)
    return np.where(radius < 20, _square(radius / 6), 0.5)


def _hexagons(yy, xx) -> np.ndarray:
    """Hexagons on a hexagonal lattice (cube-coordinate rounding; cells about 17 px apart)."""
    scale = 10.0
    q = (xx * math.sqrt(3) / 3 - yy / 3) / scale
    r = yy * 2 / 3 / scale
    x, z = q, r
    y = -x - z
    rx, ry, rz = np.round(x), np.round(y), np.round(z)
    dx, dy, dz = np.abs(rx - x), np.abs(ry - y), np.abs(rz - z)
    edge = np.maximum(np.maximum(dx, dy), dz)
    return (edge > 0.4).astype(np.float64)


def _zigzag(yy, xx) -> np.ndarray:
    triangle = np.abs(np.mod(xx / 24, 1.0) - 0.5) * 24
    return _square((yy + triangle) / 12, duty=0.45)


def _procedural_specs(size: int) -> list[tuple[str, Callable[[], np.ndarray], float, float]]:
    """(name, pattern in [0, 1], low, high): the pattern is mapped linearly onto [low, high]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)

    def cells() -> np.ndarray:
        first, second, _ = _nearest_distances(size, _points(size, 13, 300))
        return np.clip((second - first) / 8.0, 0.0, 1.0)

    def mosaic() -> np.ndarray:
        points = _points(size, 14, 2000)
        _, _, owner = _nearest_distances(size, points)
        shades = np.mod(np.arange(len(points)) * 0.618034, 1.0)
        return shades[owner]

    def wood() -> np.ndarray:
        radius = np.hypot(yy + 300, xx - size / 2) + 10 * _noise(size, 21, sigma=10)
        return _sine(radius / 7) ** 2

    def marble() -> np.ndarray:
        turbulence = _noise(size, 22, sigma=6) + 0.5 * _noise(size, 122, sigma=2.5)
        return _equalized(np.abs(np.sin(2 * np.pi * ((xx + yy) / 90 + 2.2 * turbulence))))

    def labyrinth() -> np.ndarray:
        noise = _noise(size, 24)
        band = cv2.GaussianBlur(noise, (0, 0), 2.5) - cv2.GaussianBlur(noise, (0, 0), 5.0)
        return (band > 0).astype(np.float64)

    def bricks() -> np.ndarray:
        return np.clip(_bricks(yy, xx) * 0.5 + 0.6 * _equalized(_noise(size, 8, sigma=1.0)), 0.0, 1.0)

    def specks() -> np.ndarray:
        noise = _noise(size, 17)
        return np.where(noise > 0.75, 1.0, noise * 0.55)

    def dark_spots() -> np.ndarray:
        return 1.0 - np.clip((_equalized(_noise(size, 7, sigma=2.5)) - 0.5) * 2.5 + 0.5, 0.0, 1.0)

    def clouds() -> np.ndarray:
        return _equalized(_noise(size, 15, sigma=10) + 0.8 * _noise(size, 115, sigma=2.5))

    return [
        ("fine_horizontal_grating", lambda: _sine(_grating(yy, xx, 0, 6)), 0.15, 0.85),
        ("coarse_vertical_stripes", lambda: _square(_grating(yy, xx, 90, 20)), 0.35, 0.95),
        ("diagonal_grating", lambda: _sine(_grating(yy, xx, 45, 10)), 0.0, 0.6),
        ("antidiagonal_bars", lambda: _square(_grating(yy, xx, -45, 14), duty=0.45), 0.2, 1.0),
        ("checkerboard", lambda: _square(xx / 16) != _square(yy / 16), 0.1, 0.9),
        ("fine_checkerboard", lambda: _square(xx / 6) != _square(yy / 6), 0.38, 0.62),
        ("dot_grid", lambda: np.clip(1.6 - np.hypot(np.mod(yy, 12) - 6, np.mod(xx, 12) - 6) / 3.5, 0, 1), 0.05, 0.9),
        ("dark_spots", dark_spots, 0.15, 0.95),
        ("bricks", bricks, 0.45, 0.95),
        ("hatching", lambda: _lines(_grating(yy, xx, 60, 8), 0.2), 0.3, 0.8),
        (
            "cross_hatching",
            lambda: (
                1
                - np.maximum(_lines(_grating(yy, xx, 45, 10), 0.12), _lines(_grating(yy, xx, -45, 10), 0.12))
            ),
            0.1,
            0.95,
        ),
        ("waves", lambda: _sine((yy + 7 * np.sin(2 * np.pi * xx / 48)) / 12), 0.1, 0.7),
        ("bullseyes", lambda: _bullseyes(yy, xx), 0.2, 0.8),
        ("cells", cells, 0.0, 0.75),
        ("mosaic", mosaic, 0.0, 1.0),
        ("clouds", clouds, 0.3, 1.0),
        ("fine_grain", lambda: _equalized(_noise(size, 16, sigma=0.8)), 0.2, 0.8),
        ("specks", specks, 0.05, 1.0),
        ("zigzag", lambda: _zigzag(yy, xx), 0.0, 1.0),
        ("hexagons", lambda: _hexagons(yy, xx), 0.15, 0.7),
        (
            "plaid",
            lambda: 0.5 * _sine(_grating(yy, xx, 0, 24)) + 0.5 * _square(_grating(yy, xx, 90, 9), 0.3),
            0.1,
            0.9,
        ),
        ("wood", wood, 0.1, 0.8),
        ("marble", marble, 0.58, 1.0),
        ("diamonds", lambda: _square((xx + yy) / 20) != _square((xx - yy) / 20), 0.25, 0.75),
        ("labyrinth", labyrinth, 0.0, 0.45),
    ]


PROCEDURAL_TEXTURE_NAMES: tuple[str, ...] = tuple(spec[0] for spec in _procedural_specs(8))


@functools.lru_cache(maxsize=2)
def procedural_textures(size: int = MIN_TEXTURE_SIZE) -> TexturePool:
    """The 25 procedural textures of the project (TOY_DATASET_SPEC.md "Textures"), deterministic.

    Gratings at several angles and frequencies, checkerboards, dots, bricks, hatching, cross-hatching,
    waves, bullseyes, cells, a mosaic, band-limited noise, specks, zigzags, hexagons, a plaid, wood,
    marble, diamonds and a labyrinth, with varied mean brightness and contrast. The result is cached
    (the arrays are read-only).

    Args:
      size: the side of every texture, at least 64 (default 400, the paper's minimum).

    Returns:
      A pool of 25 uint8 (size, size) textures; ids and names in PROCEDURAL_TEXTURE_NAMES order.

    Raises:
      ValueError: if size < 64.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 64:
        raise ValueError(f"Argument `size` must be an integer >= 64; received {size!r}.")
    textures, names = [], []
    for name, pattern, low, high in _procedural_specs(size):
        values = low + (high - low) * np.asarray(pattern(), dtype=np.float64)
        textures.append(np.round(np.clip(values, 0.0, 1.0) * 255).astype(np.uint8))
        names.append(name)
    return TexturePool(tuple(textures), tuple(names), source="procedural")
