"""Tests of the MNIST sources (bundled 10k, Keras mnist.npz, IDX files) and the digit masks (S1.1)."""

import gzip
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from toy_benchmark import bundled_mnist_path, digit_masks, load_mnist


def _small_mnist_arrays():
    """A small fake 'full MNIST' made of bundled digits: 30 train and 12 test digits per class."""
    bundled = np.load(bundled_mnist_path())
    x, y = bundled["x"], bundled["y"]
    train = np.concatenate([np.flatnonzero(y == d)[:30] for d in range(10)])
    test = np.concatenate([np.flatnonzero(y == d)[30:42] for d in range(10)])
    return x[train], y[train], x[test], y[test]


def _write_idx(path, array, compress):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    with open(path, "wb") as handle:
        handle.write(gzip.compress(data) if compress else data)


def _write_idx_folder(folder, compress):
    x_train, y_train, x_test, y_test = _small_mnist_arrays()
    os.makedirs(folder, exist_ok=True)
    suffix = ".gz" if compress else ""
    for name, array in [
        ("train-images-idx3-ubyte", x_train),
        ("train-labels-idx1-ubyte", y_train),
        ("t10k-images-idx3-ubyte", x_test),
        ("t10k-labels-idx1-ubyte", y_test),
    ]:
        _write_idx(os.path.join(folder, name + suffix), array, compress)
    return x_train, y_train, x_test, y_test


def test_bundled_digits_split_last_100_of_each_class_into_the_test_pool():
    digits = load_mnist()
    raw = np.load(bundled_mnist_path())
    assert digits.train_images.shape == (9000, 28, 28) and digits.test_images.shape == (1000, 28, 28)
    for digit, pool in enumerate(digits.class_pools("test")):
        assert len(pool) == 100
        expected = raw["x"][np.flatnonzero(raw["y"] == digit)[-100:]]
        np.testing.assert_array_equal(digits.test_images[pool], expected)
    assert [len(p) for p in digits.class_pools("train")] == [n - 100 for n in np.bincount(raw["y"])]
    assert digits.source == "bundled"


def test_bundled_file_is_inside_the_package():
    path = bundled_mnist_path()
    assert os.path.dirname(path).endswith(os.path.join("toy_benchmark", "data"))
    assert os.path.isfile(os.path.join(os.path.dirname(path), "README.md"))


def test_keras_npz_uses_its_own_train_and_test_sets(tmp_path):
    x_train, y_train, x_test, y_test = _small_mnist_arrays()
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    digits = load_mnist(path)
    np.testing.assert_array_equal(digits.train_images, x_train)
    np.testing.assert_array_equal(digits.test_labels, y_test)
    assert digits.fingerprint != load_mnist().fingerprint


@pytest.mark.parametrize("compress", [False, True])
def test_idx_folder_gzipped_or_not(tmp_path, compress):
    x_train, y_train, x_test, y_test = _write_idx_folder(tmp_path / "idx", compress)
    digits = load_mnist(tmp_path / "idx")
    np.testing.assert_array_equal(digits.train_images, x_train)
    np.testing.assert_array_equal(digits.train_labels, y_train)
    np.testing.assert_array_equal(digits.test_images, x_test)
    np.testing.assert_array_equal(digits.test_labels, y_test)


def test_same_digits_from_any_source_have_the_same_fingerprint(tmp_path):
    x_train, y_train, x_test, y_test = _write_idx_folder(tmp_path / "idx", True)
    np.savez(tmp_path / "m.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    assert load_mnist(tmp_path / "idx").fingerprint == load_mnist(tmp_path / "m.npz").fingerprint


def test_corrupt_or_wrong_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Argument `mnist_path` must be an existing .*does not exist"):
        load_mnist(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_mnist(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="expected x_train, y_train, x_test, y_test"):
        load_mnist(tmp_path / "other.npz")
    np.savez(
        tmp_path / "shape.npz",
        x_train=np.zeros((5, 32, 32), np.uint8),
        y_train=np.zeros(5, np.uint8),
        x_test=np.zeros((5, 28, 28), np.uint8),
        y_test=np.zeros(5, np.uint8),
    )
    with pytest.raises(ValueError, match=r"uint8 \(n, 28, 28\)"):
        load_mnist(tmp_path / "shape.npz")
    # Truncated npz (cut in the middle of the archive).
    np.savez(
        tmp_path / "full.npz",
        x_train=np.zeros((50, 28, 28), np.uint8),
        y_train=np.zeros(50, np.uint8),
        x_test=np.zeros((50, 28, 28), np.uint8),
        y_test=np.zeros(50, np.uint8),
    )
    data = (tmp_path / "full.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.npz"):
        load_mnist(tmp_path / "cut.npz")


def test_bad_idx_files_give_clear_errors(tmp_path):
    folder = tmp_path / "idx"
    _write_idx_folder(folder, compress=False)
    os.remove(folder / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(folder)
    shutil.copy(folder / "train-labels-idx1-ubyte", folder / "t10k-labels-idx1-ubyte")  # wrong count
    with pytest.raises(ValueError, match="labels must have shape"):
        load_mnist(folder)
    data = (folder / "train-images-idx3-ubyte").read_bytes()
    (folder / "train-images-idx3-ubyte").write_bytes(data[:-100])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_mnist(folder)
    (folder / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x09\x03" + data[4:])
    with pytest.raises(ValueError, match="bad header"):
        load_mnist(folder)
    os.remove(folder / "train-images-idx3-ubyte")
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(data)[:-30])
    with pytest.raises(ValueError, match="corrupt gzip"):
        load_mnist(folder)


def test_digit_masks_threshold_a_bilinear_upsampling():
    full = np.full((1, 28, 28), 255, np.uint8)
    empty = np.zeros((1, 28, 28), np.uint8)
    assert digit_masks(full).all() and not digit_masks(empty).any()
    # A left half of 255 and a right half of 0: the edge falls exactly in the middle of the 64 columns.
    half = np.zeros((1, 28, 28), np.uint8)
    half[:, :, :14] = 255
    mask = digit_masks(half)[0]
    assert mask[:, :32].all() and not mask[:, 32:].any()


def test_digit_masks_agree_with_tensorflow_bilinear_resize():
    images = load_mnist().test_images[:200]
    resized = tf.image.resize(
        images[..., None].astype(np.float32) / 255.0, (64, 64), method="bilinear"
    ).numpy()[..., 0]
    reference = resized > 0.5
    near_threshold = np.abs(resized - 0.5) < 1e-4  # float rounding may differ only there
    masks = digit_masks(images)
    assert masks.shape == (200, 64, 64) and masks.dtype == bool
    np.testing.assert_array_equal(masks[~near_threshold], reference[~near_threshold])
    assert 0.05 < masks.mean() < 0.3
