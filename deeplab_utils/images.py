"""Reading images and fitting them into a DeepLab export's crop size.

An exported DeepLab graph pads its input up to the crop size it was exported with (513x513 for PASCAL
VOC, 1025x2049 for Cityscapes) and cannot take a larger image: its image pooling averages over a fixed
window. :func:`fit_to_crop` shrinks an image that does not fit, keeping its aspect ratio.
"""

from __future__ import annotations

import os
from typing import Sequence

import cv2
import numpy as np

__all__ = ["read_image", "fit_to_crop"]


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Reads an image file as uint8 RGB ``(height, width, 3)`` (grey images are repeated to 3 channels,
    an alpha channel is dropped).

    Raises:
        ValueError: If the file does not exist or is not an image OpenCV can decode.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Argument `path` must be an image file; received {path!r}: no such file.")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f"Argument `path` must be an image file; received {path!r}, which is not an image file "
                         "OpenCV can read.")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def fit_to_crop(image: np.ndarray, crop_size: Sequence[int]) -> tuple[np.ndarray, float]:
    """Shrinks `image` (area interpolation, aspect ratio kept) so that it fits into `crop_size`.

    Args:
        image: ``(height, width, channels)`` array.
        crop_size: ``(crop_height, crop_width)``.

    Returns:
        ``(image, scale)``: the image unchanged with scale 1.0 when it fits, else the resized image and
        the factor applied to both sides.
    """
    height, width = image.shape[:2]
    scale = min(crop_size[0] / height, crop_size[1] / width)
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, min(crop_size[1], int(round(width * scale)))),
            max(1, min(crop_size[0], int(round(height * scale)))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale
