"""MNIST digit sources for the toy dataset and the digit masks made from them.

Three sources, chosen by a path (TOY_DATASET_SPEC.md, "Sizes, digits and seeds"):

- None: the 10,000 digits bundled with the package (`toy_benchmark/data/mnist_10k.npz`, see the README
  there for provenance and licences). The last 100 digits of each class (in file order) form the test
  pool, the rest the training pool.
- A Keras `mnist.npz` (arrays x_train, y_train, x_test, y_test): train digits from the 60k training set,
  test digits from the 10k test set, as in the paper (supplement S1.1).
- A folder holding the four IDX files of the MNIST database (train-images-idx3-ubyte,
  train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), gzipped (.gz) or not.

A `.npz` with arrays x and y (the bundled layout) is also accepted and split like the bundled file.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import importlib.resources
import os
import zipfile
from collections.abc import Sequence

import cv2
import numpy as np

from toy_benchmark.data.variant import IMAGE_SIZE, NUM_DIGITS, SPLITS

__all__ = [
    "BUNDLED_MNIST_SHA256",
    "BUNDLED_TEST_PER_CLASS",
    "MnistDigits",
    "bundled_mnist_path",
    "digit_masks",
    "load_mnist",
]

BUNDLED_MNIST_SHA256 = "94e2480bb2d38e772966d2564f7818de27e5e7d95984370b0cfb33e5bb4a39df"
BUNDLED_TEST_PER_CLASS = 100
MASK_THRESHOLD = 0.5
_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclasses.dataclass(frozen=True, eq=False)
class MnistDigits:
    """Digits split into a training and a test pool.

    Attributes:
      train_images: uint8 (n_train, 28, 28), 0..255, white digit on black.
      train_labels: uint8 (n_train,), 0..9.
      test_images: uint8 (n_test, 28, 28).
      test_labels: uint8 (n_test,).
      source: where the digits came from ("bundled" or a path).

    Labels are stored as uint8 and all arrays are made read-only.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def __post_init__(self) -> None:
        for split in SPLITS:
            images, labels = self.images(split), self.labels(split)
            _check_arrays(images, labels, f"{self.source} ({split})")
            labels = np.asarray(labels).astype(np.uint8)
            object.__setattr__(self, f"{split}_labels", labels)
            missing = sorted(set(range(NUM_DIGITS)) - set(np.unique(labels).tolist()))
            if missing:
                raise ValueError(
                    f"MNIST source {self.source}: the {split} split has no digits of class {missing}"
                )
            images.flags.writeable = False
            labels.flags.writeable = False

    def images(self, split: str) -> np.ndarray:
        """The uint8 (n, 28, 28) images of a split ("train" or "test")."""
        return self.test_images if _check_split(split) == "test" else self.train_images

    def labels(self, split: str) -> np.ndarray:
        """The uint8 (n,) labels of a split."""
        return self.test_labels if _check_split(split) == "test" else self.train_labels

    def class_pools(self, split: str) -> tuple[np.ndarray, ...]:
        """For each digit class 0..9, the int64 indices into `images(split)` of that class, in file order."""
        labels = self.labels(split)
        return tuple(np.flatnonzero(labels == digit).astype(np.int64) for digit in range(NUM_DIGITS))

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 over both splits' arrays: equal fingerprints mean equal digits."""
        digest = hashlib.sha256(b"toy_benchmark.MnistDigits/1")
        for array in (self.train_images, self.train_labels, self.test_images, self.test_labels):
            digest.update(repr(array.shape).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"Argument `split` must be one of {SPLITS}; received {split!r}.")
    return split


def _check_arrays(images: np.ndarray, labels: np.ndarray, what: str) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"MNIST source {what}: images must be uint8 (n, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"MNIST source {what}: labels must have shape ({images.shape[0]},), got {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_DIGITS):
        raise ValueError(f"MNIST source {what}: labels must be 0..9, got {labels.min()}..{labels.max()}")


def bundled_mnist_path() -> str:
    """The path of the bundled `mnist_10k.npz` inside the installed package."""
    return str(importlib.resources.files("toy_benchmark.data").joinpath("mnist_10k.npz"))


def load_mnist(path: str | os.PathLike | None = None) -> MnistDigits:
    """Loads MNIST digits from the bundled subset, a Keras `mnist.npz` or a folder of IDX files.

    Args:
      path: None for the bundled 10k digits; a `.npz` file; or a folder holding the four IDX files.

    Returns:
      The digits with their train and test pools.

    Raises:
      FileNotFoundError: if the path (or one of the IDX files) does not exist.
      ValueError: if a file is corrupt or does not hold MNIST digits.
    """
    if path is None:
        bundled = bundled_mnist_path()
        with open(bundled, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        if digest != BUNDLED_MNIST_SHA256:
            raise ValueError(
                f"bundled MNIST file {bundled} is corrupt: sha256 {digest}, expected {BUNDLED_MNIST_SHA256}"
            )
        x, y = _read_npz(bundled, ("x", "y"))
        return _split_subset(x, y, "bundled")
    path = os.fspath(path)
    if os.path.isdir(path):
        return _load_idx_folder(path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Argument `mnist_path` must be an existing .npz file or IDX folder; received {path!r}, which "
            "does not exist."
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"mnist_path {path!r} is not a readable .npz file or IDX folder ({error})") from None
    if {"x_train", "y_train", "x_test", "y_test"} <= keys:
        x_train, y_train, x_test, y_test = _read_npz(path, ("x_train", "y_train", "x_test", "y_test"))
        return MnistDigits(x_train, y_train, x_test, y_test, source=path)
    if {"x", "y"} <= keys:
        x, y = _read_npz(path, ("x", "y"))
        return _split_subset(x, y, path)
    raise ValueError(
        f"mnist_path {path!r} holds arrays {sorted(keys)}; expected x_train, y_train, x_test, y_test "
        "(Keras mnist.npz) or x, y"
    )


def _read_npz(path: str, keys: Sequence[str]) -> list[np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = [np.array(archive[key]) for key in keys]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"mnist_path {path!r} is corrupt ({error})") from None
    for key, array in zip(keys, arrays):
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"mnist_path {path!r}: array {key} must hold integers, got {array.dtype}")
    images = [a for k, a in zip(keys, arrays) if k.startswith("x")]
    if any(a.size and (a.min() < 0 or a.max() > 255) for a in images):
        raise ValueError(f"mnist_path {path!r}: pixel values must be in 0..255")
    return [a.astype(np.uint8) if k.startswith("x") else a.astype(np.int64) for k, a in zip(keys, arrays)]


def _split_subset(x: np.ndarray, y: np.ndarray, source: str) -> MnistDigits:
    _check_arrays(x.astype(np.uint8), y, source)
    is_test = np.zeros(len(y), dtype=bool)
    for digit in range(NUM_DIGITS):
        members = np.flatnonzero(y == digit)
        if len(members) <= BUNDLED_TEST_PER_CLASS:
            raise ValueError(
                f"MNIST source {source}: class {digit} has {len(members)} digits; the 10k-subset layout "
                f"needs more than {BUNDLED_TEST_PER_CLASS} per class (the last {BUNDLED_TEST_PER_CLASS} "
                "form the test pool)"
            )
        is_test[members[-BUNDLED_TEST_PER_CLASS:]] = True
    labels = y.astype(np.uint8)
    return MnistDigits(x[~is_test], labels[~is_test], x[is_test], labels[is_test], source=source)


def _load_idx_folder(folder: str) -> MnistDigits:
    arrays = {}
    for key, stem in _IDX_FILES.items():
        candidates = [stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"]
        found = [
            os.path.join(folder, name) for name in candidates if os.path.isfile(os.path.join(folder, name))
        ]
        if not found:
            raise FileNotFoundError(f"mnist_path {folder!r}: no file {stem} (or {stem}.gz) in the folder")
        arrays[key] = _read_idx(found[0], ndim=3 if key.endswith("images") else 1)
    return MnistDigits(
        arrays["train_images"],
        arrays["train_labels"],
        arrays["test_images"],
        arrays["test_labels"],
        source=folder,
    )


def _read_idx(path: str, ndim: int) -> np.ndarray:
    """Reads an IDX file of unsigned bytes (magic 0x0000080N), gzipped or not."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(f"mnist_path: {path!r} is a corrupt gzip file ({error})") from None
    if len(raw) < 4 + 4 * ndim or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
        raise ValueError(f"mnist_path: {path!r} is not an IDX file of {ndim}-d unsigned bytes (bad header)")
    shape = tuple(int.from_bytes(raw[4 + 4 * j : 8 + 4 * j], "big") for j in range(ndim))
    body = raw[4 + 4 * ndim :]
    if len(body) != int(np.prod(shape)):
        raise ValueError(
            f"mnist_path: {path!r} is truncated or corrupt: header says {shape} "
            f"({int(np.prod(shape))} bytes), found {len(body)} bytes"
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(shape).copy()


def digit_masks(images: np.ndarray) -> np.ndarray:
    """Digit masks of the paper (supplement S1.1): bilinear upsampling to 64 x 64, threshold 0.5.

    Each 28 x 28 digit is scaled to [0, 1], resized bilinearly (OpenCV INTER_LINEAR, half-pixel
    centres, the convention of tf.image.resize) and thresholded: mask = value > 0.5.

    Args:
      images: uint8 (n, 28, 28).

    Returns:
      bool (n, 64, 64); each mask depends only on its own digit.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"Argument `images` must have shape (n, height, width); received {images.shape}.")
    masks = np.empty((images.shape[0], IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
    for j, image in enumerate(images):
        scaled = image.astype(np.float32) / np.float32(255.0)
        resized = cv2.resize(scaled, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_LINEAR)
        masks[j] = resized > MASK_THRESHOLD
    return masks
