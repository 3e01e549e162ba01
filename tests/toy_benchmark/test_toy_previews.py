"""Tests of the preview figures: texture contact sheet (Fig. S2) and sample grid (Fig. S1)."""

import numpy as np
import pytest

from toy_benchmark import (
    DatasetVariant,
    SampleGenerator,
    load_mnist,
    procedural_textures,
    sample_grid,
    texture_contact_sheet,
    write_previews,
)
from toy_benchmark.data.previews import CLASS_COLORS


def _red_pixels(image):
    return (image[..., 0] > 200) & (image[..., 1] < 60) & (image[..., 2] < 60)


def test_contact_sheet_shows_every_texture_and_frames_the_highlighted_one():
    pool = procedural_textures()
    plain = texture_contact_sheet(pool)
    framed = texture_contact_sheet(pool, highlight=[7])
    assert plain.dtype == np.uint8 and plain.ndim == 3 and plain.shape == framed.shape
    assert plain.shape[0] > 5 * 3 * 64 and plain.shape[1] > 5 * 2 * 64  # 5 x 5 cells of 64 + 32 rows at 2x
    assert not _red_pixels(plain).any() and _red_pixels(framed).sum() > 500
    np.testing.assert_array_equal(plain, texture_contact_sheet(pool))  # deterministic
    assert not np.array_equal(plain, texture_contact_sheet(pool, seed=1))  # other crops


def test_sample_grid_shows_images_label_maps_and_bias_frames():
    variant = DatasetVariant("strong", 3, 5, num_samples=20)
    batch = SampleGenerator(variant).generate(np.arange(20))
    grid = sample_grid(batch, scale=1)
    top_left_image = grid[:64, 4:68, 0]
    np.testing.assert_array_equal(top_left_image, batch["image"][0])
    label_rgb = grid[68:132, 4:68]
    np.testing.assert_array_equal(label_rgb, CLASS_COLORS[batch["label"][0]])
    assert _red_pixels(grid).sum() > 2 * 2 * 64  # two biased samples (digit 3), each framed


def test_write_previews_never_silently_overwrites(tmp_path):
    textures, mnist = procedural_textures(), load_mnist()
    variant = DatasetVariant("weak", 1, 2, num_samples=20)
    paths = write_previews(tmp_path, variant, textures=textures, mnist=mnist)
    assert sorted(p.rsplit("/", 1)[1] for p in paths) == ["samples.png", "textures.png"]
    assert write_previews(tmp_path, variant, textures=textures, mnist=mnist) == paths  # identical: fine
    other = DatasetVariant("weak", 4, 2, num_samples=20)
    before = {p: open(p, "rb").read() for p in paths}
    with pytest.raises(ValueError, match="exists and differs"):
        write_previews(tmp_path, other, textures=textures, mnist=mnist)
    assert {p: open(p, "rb").read() for p in paths} == before
    write_previews(tmp_path, other, textures=textures, mnist=mnist, overwrite=True)
    assert open(paths[1], "rb").read() != before[paths[1]]
