"""Shared pytest configuration: quiet TensorFlow, keep tests on the CPU deterministic, and schedule the
tests marked `heavy` first.

The suite runs on two xdist workers (`make test`); a worker takes tests in collection order, so a test of
a minute or two collected last keeps one worker busy while the other has finished. Running the heavy
tests first lets the many short ones even out the two workers' ends.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def pytest_collection_modifyitems(config, items):
    """Moves the tests marked `heavy` to the front, keeping the order within both groups (a stable sort,
    so every xdist worker collects the same order)."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)
