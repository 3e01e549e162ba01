"""The bundled MNIST digits and their provenance notes are installed with the package."""

import os
import shutil
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_build_includes_the_bundled_digits_and_their_readme(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy(os.path.join(REPO_ROOT, name), source / name)
    for package in ("toy_benchmark", "grid_saliency_tf", "deeplab_utils"):
        if os.path.isdir(os.path.join(REPO_ROOT, package)):
            shutil.copytree(
                os.path.join(REPO_ROOT, package),
                source / package,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
    result = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py"], cwd=source, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    built = source / "build" / "lib" / "toy_benchmark" / "data"
    assert (built / "mnist_10k.npz").read_bytes() == (
        source / "toy_benchmark" / "data" / "mnist_10k.npz"
    ).read_bytes()
    assert "CC BY-SA 3.0" in (built / "README.md").read_text()
