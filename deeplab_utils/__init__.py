"""deeplab_utils."""
