"""Figures: overlay colours on a hand-made case, panels, PNG round trips, matplotlib only when asked."""

import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest

from grid_saliency_tf.experiment import figures

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GREY = 128  # 0.5 in [0, 1] -> rint(127.5)


def _hand_made():
    image = np.full((6, 6), 0.5, np.float32)
    saliency = np.zeros((6, 6), np.float32)
    saliency[0, 0], saliency[0, 1], saliency[0, 2] = 1.0, 0.5, 2.0  # 2.0 is clipped to 1
    request = np.zeros((6, 6), np.uint8)
    request[2:5, 2:5] = 1
    return image, saliency, request


def test_overlay_paints_saliency_red_and_outlines_the_request_blue():
    image, saliency, request = _hand_made()
    out = figures.overlay(image, saliency, request, opacity=1.0, outline_width=1)
    assert out.dtype == np.uint8 and out.shape == (6, 6, 3)
    np.testing.assert_array_equal(out[0, 0], figures.SALIENCY_COLOR)
    np.testing.assert_array_equal(out[0, 1], [192, 64, 64])  # (1 - 0.5) * 128 + 0.5 * (255, 0, 0)
    np.testing.assert_array_equal(out[0, 2], figures.SALIENCY_COLOR)
    border = request.astype(bool).copy()
    border[3, 3] = False  # the 3x3 request's outline is its 8 outer pixels
    np.testing.assert_array_equal(out[border], np.tile(figures.REQUEST_COLOR, (8, 1)))
    untouched = ~border
    untouched[0, :3] = False
    np.testing.assert_array_equal(out[untouched], np.full((untouched.sum(), 3), GREY))


def test_overlay_opacity_scale_and_several_requests():
    image, saliency, request = _hand_made()
    out = figures.overlay(image, saliency, None, opacity=0.5)
    np.testing.assert_array_equal(out[0, 0], [192, 64, 64])
    corner = np.zeros((6, 6), np.uint8)
    corner[5, :2] = 1
    big = figures.overlay(image, saliency, np.stack([request, corner]), scale=2, opacity=1.0)
    assert big.shape == (12, 12, 3)
    np.testing.assert_array_equal(big[:2, :2].reshape(-1, 3), np.tile(figures.SALIENCY_COLOR, (4, 1)))
    np.testing.assert_array_equal(big[4, 4:10], np.tile(figures.REQUEST_COLOR, (6, 1)))  # outline, scaled
    np.testing.assert_array_equal(big[6, 6], [GREY] * 3)  # inside the request
    np.testing.assert_array_equal(big[10:12, :4].reshape(-1, 3), np.tile(figures.REQUEST_COLOR, (8, 1)))
    np.testing.assert_array_equal(figures.overlay(image), np.full((6, 6, 3), GREY))


def test_overlay_takes_uint8_rgb_and_other_value_ranges():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 1] = 200
    np.testing.assert_array_equal(figures.overlay(rgb), rgb)
    np.testing.assert_array_equal(figures.overlay(np.full((2, 2, 3), 127.5), value_range=(0, 255))[0, 0],
                                  [128, 128, 128])


def test_bad_input_is_refused_naming_the_argument():
    image, saliency, request = _hand_made()
    with pytest.raises(ValueError, match=r"`saliency` must have shape \(6, 6\); received \(5, 6\)"):
        figures.overlay(image, saliency[:5])
    with pytest.raises(ValueError, match="`saliency` must not hold NaN"):
        figures.overlay(image, np.full((6, 6), np.nan))
    with pytest.raises(ValueError, match="`request_mask` must have shape"):
        figures.overlay(image, None, request[:3])
    with pytest.raises(ValueError, match="`image` must not hold NaN"):
        figures.overlay(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="`image` must have shape"):
        figures.to_uint8_rgb(np.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match="`value_range` must be finite with low < high"):
        figures.to_uint8_rgb(image, (1, 0))
    with pytest.raises(ValueError, match="`scale` must be a positive int"):
        figures.overlay(image, scale=0)
    with pytest.raises(ValueError, match=r"`opacity` must be in \[0, 1\]"):
        figures.overlay(image, opacity=1.5)
    with pytest.raises(TypeError, match="`rgb` must be uint8"):
        figures.encode_png(image)


def test_tile_lays_out_captioned_cells():
    red = np.zeros((10, 30, 3), np.uint8)
    red[..., 0] = 255
    small = np.zeros((4, 4), np.uint8)
    grid = figures.tile([red, small, red], columns=2, labels=["a", "b", "c"], gap=2, caption_height=12)
    assert grid.shape == (2 * (12 + 10) + 2, 2 * 30 + 2, 3)
    np.testing.assert_array_equal(grid[12:22, 0:30], red)  # under its caption
    np.testing.assert_array_equal(grid[12:16, 32:36], np.zeros((4, 4, 3)))  # small, top left of its cell
    np.testing.assert_array_equal(grid[16:22, 32:62], np.full((6, 30, 3), 255))  # rest of its cell
    np.testing.assert_array_equal(grid[36:46, 0:30], red)
    assert (grid[:12, :30] < 255).any() and (grid[24:36, :30] < 255).any()  # the captions are drawn
    np.testing.assert_array_equal(grid[24:36, 32:62], np.full((12, 30, 3), 255))  # no fourth cell
    row = figures.tile([red, red], title="title", caption_height=12)
    assert row.shape == (12 + 10, 30 + 4 + 30, 3)
    with pytest.raises(ValueError, match="one caption per image"):
        figures.tile([red], labels=["a", "b"])
    with pytest.raises(ValueError, match="at least one image"):
        figures.tile([])


def test_png_round_trip_with_opencv(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = figures.write_png(tmp_path / "a.png", rgb)
    np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1], rgb)
    np.testing.assert_array_equal(figures.decode_png(path.read_bytes()), rgb)
    grey = rgb[..., 0]
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(figures.encode_png(grey), np.uint8),
                                               cv2.IMREAD_UNCHANGED), grey)
    assert os.listdir(tmp_path) == ["a.png"]
    with pytest.raises(ValueError, match="cannot decode"):
        figures.decode_png(b"not a png")


def test_matplotlib_figures_leave_no_global_state(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    figure = figures.new_figure((2, 1), dpi=50)
    figure.subplots().plot([0, 1], [1, 0])
    png = figures.save_figure(figure, tmp_path / "line.png")
    pdf = figures.save_figure(figure, tmp_path / "line.pdf")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"
    assert figures.decode_png(png.read_bytes()).shape == (50, 100, 3)
    assert matplotlib.get_backend() == backend
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []
    with pytest.raises(ValueError, match=r"`path` must end in \.png, \.pdf, \.svg"):
        figures.save_figure(figure, tmp_path / "line.jpg")


def test_panel_figure_draws_every_panel(tmp_path):
    panels = [("image", np.full((8, 16, 3), 200.0)), ("map", np.linspace(0, 1, 128).reshape(8, 16)),
              ("overlay", np.zeros((8, 16, 3), np.uint8))]
    figure = figures.panel_figure(panels, columns=2, title="test", value_range=(0, 255))
    assert len([axes for axes in figure.axes if axes.get_title()]) == 3
    figures.save_figure(figure, tmp_path / "panels.png")
    with pytest.raises(ValueError, match="at least one"):
        figures.panel_figure([])


def test_figures_work_without_matplotlib_and_import_it_only_when_asked():
    """With matplotlib made unimportable, the engine and every OpenCV figure work; the matplotlib
    helpers then raise an ImportError saying what to install (proves no import at module level)."""
    script = textwrap.dedent("""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "matplotlib":
                    raise ImportError("matplotlib blocked by the test")

        sys.meta_path.insert(0, Block())
        import numpy as np
        import grid_saliency_tf
        import grid_saliency_tf.experiment
        from grid_saliency_tf.experiment import figures
        figures.encode_png(figures.tile([figures.overlay(np.zeros((4, 4)), np.ones((4, 4)))], labels=["a"]))
        assert "matplotlib" not in sys.modules
        try:
            figures.new_figure()
        except ImportError as error:
            print("ImportError:", error)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": REPO_ROOT},
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == ("ImportError: matplotlib is needed for this figure: "
                                     "pip install 'grid-saliency-tf[viz]'")
