"""Grid saliency (context mode, Cityscapes-style settings) runs on the wrapper as on the graph itself."""

import numpy as np
import tensorflow as tf

from deeplab_utils import FrozenGraph, build_request_masks
from deeplab_utils.testing import synthetic_scene
from grid_saliency_tf import GridSaliencyOptimizer, Requests


def _graph_by_hand(graph_def, float_input, logits, crop):
    """The official preprocessing written out: pad with 127.5, (2/255) x - 1, one graph call per image."""
    function = FrozenGraph(graph_def).function([float_input], [logits])

    def model(images):
        height, width = images.shape[1], images.shape[2]
        padded = tf.pad(images, [[0, 0], [0, crop[0] - height], [0, crop[1] - width], [0, 0]],
                        constant_values=127.5)
        scaled = (2.0 / 255.0) * padded - 1.0
        outputs = tf.concat([function(scaled[i: i + 1])[0] for i in range(images.shape[0])], 0)
        return tf.nn.softmax(outputs[:, :height, :width], axis=-1)

    return model


def test_context_saliency_on_wrapper_matches_saliency_on_the_graph(mnv2_model, mnv2_graph):
    image = synthetic_scene(48, 64, seed=3)
    labels = mnv2_model.predict_labels(image[None]).numpy()[0]
    # The class with the most separate segments, two of them as requests.
    class_id = max(range(mnv2_model.num_classes),
                   key=lambda c: len(build_request_masks(labels, c, min_size=20)))
    masks = build_request_masks(labels, class_id, min_size=20).masks[:2]
    assert len(masks) == 2
    requests = Requests(np.zeros(len(masks), np.int32), np.full(len(masks), class_id), masks)
    # The Cityscapes settings but fewer steps and a coarser grid; the empty-mask check is off so that the
    # optimised masks themselves are compared (here the empty mask would win for these requests).
    settings = dict(grid_shape=(4, 8), steps=6, learning_rate=1.0, mask_weight=0.01, upsampling="bilinear",
                    mode="context", value_range=(0.0, 255.0), check_empty_mask=False)
    images = image[None].astype(np.float32)
    result = GridSaliencyOptimizer(mnv2_model, **settings).explain(images, requests)
    by_hand = _graph_by_hand(mnv2_graph.graph_def, mnv2_graph.float_input_name, mnv2_graph.logits_name,
                             mnv2_graph.crop_size)
    expected = GridSaliencyOptimizer(by_hand, **settings).explain(images, requests)

    assert result.masks.shape == (len(masks), 48, 64) and result.low_res_masks.shape == (len(masks), 4, 8)
    for field in ("low_res_masks", "total_loss", "mask_loss", "preservation_loss", "perturbation_value"):
        np.testing.assert_allclose(getattr(result, field), getattr(expected, field), atol=1e-4, err_msg=field)
    np.testing.assert_array_equal(result.converged, expected.converged)
    np.testing.assert_array_equal(result.empty, expected.empty)
    assert np.all(np.isfinite(result.total_loss)) and np.all((result.masks >= 0) & (result.masks <= 1))
    # Gradients reached the mask through the wrapper: the cells moved apart from their common start.
    assert result.low_res_masks.reshape(2, -1).std(axis=1).min() > 1e-3
