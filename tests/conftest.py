"""Shared pytest configuration: quiet TensorFlow and keep tests on the CPU deterministic."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
