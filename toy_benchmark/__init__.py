"""toy_benchmark."""
