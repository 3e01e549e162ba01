"""Progress: counts, rate and time left on the stream; nothing at verbose 0."""

import io

import pytest

from grid_saliency_tf.experiment.progress import Progress


def test_progress_reports_done_over_total_and_is_silent_at_verbose_0():
    stream = io.StringIO()
    with Progress(10, description="saliency", unit="img", stream=stream) as bar:
        bar.update(3)
        bar.update_to(7)
        bar.update_to(5)  # never backwards
        assert bar.done == 7
        bar.update_to(10)
    text = stream.getvalue()
    assert "saliency" in text and "10/10" in text and "img/s" in text
    quiet = io.StringIO()
    with Progress(10, verbose=0, stream=quiet) as bar:
        bar.update(10)
    assert quiet.getvalue() == "" and bar.done == 10


def test_progress_checks_its_arguments():
    with pytest.raises(ValueError, match="`total` must be a non-negative int or None; received -1"):
        Progress(-1)
    with pytest.raises(ValueError, match="`verbose` must be a non-negative int; received -1"):
        Progress(1, verbose=-1)
