"""grid_saliency_tf."""
