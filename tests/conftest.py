"""Shared pytest configuration: quiet TensorFlow, keep tests on the CPU deterministic, let Ctrl-C reach
the binaries the tests start, and schedule the tests marked `heavy` first.

The suite runs on two xdist workers (`make test`); a worker takes tests in collection order, so a test of
a minute or two collected last keeps one worker busy while the other has finished. Running the heavy
tests first lets the many short ones even out the two workers' ends.
"""

import os
import signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def pytest_configure(config):
    """Gives SIGINT its default handler when the suite was started with it ignored.

    A shell without job control starts a background command (`make test &`, a CI step run with `&`) with
    SIGINT ignored, and an ignored signal stays ignored across `exec`: every binary a test starts would
    then ignore the Ctrl-C the tests send it (finish its work and exit 0 instead of 130). The tests
    stand for a user pressing Ctrl-C at a terminal, so the suite's processes take SIGINT as Python does by
    default; a handler set here is reset to the default action in the binaries the tests start.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config, items):
    """Moves the tests marked `heavy` to the front, keeping the order within both groups (a stable sort,
    so every xdist worker collects the same order)."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)
