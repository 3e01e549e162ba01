"""Requests: fields converted without silently changing a value."""

import numpy as np
import pytest

from grid_saliency_tf import Requests


def test_requests_reject_malformed_fields():
    with pytest.raises(ValueError, match="same number"):
        Requests([0, 1], [0], np.ones((2, 4, 4)))
    with pytest.raises(ValueError, match="binary"):
        Requests([0], [0], np.full((1, 4, 4), 0.5))
    with pytest.raises(TypeError, match="class_ids"):
        Requests([0], [0.5], np.ones((1, 4, 4)))
    with pytest.raises(ValueError, match="at least one"):
        Requests([], [], np.ones((0, 4, 4)))


@pytest.mark.parametrize("field", ["image_indices", "class_ids"])
@pytest.mark.parametrize("value", [2 ** 32 + 1, 2 ** 31, -(2 ** 31) - 1, 1e10])
def test_ids_that_do_not_fit_int32_are_refused_with_the_value(field, value):
    fields = {"image_indices": [0], "class_ids": [0], "masks": np.ones((1, 4, 4))}
    fields[field] = np.array([value])
    with pytest.raises(ValueError, match=f"{field}.*{int(value)}"):
        Requests(**fields)


def test_ids_are_kept_exactly():
    requests = Requests(np.array([2 ** 31 - 1], np.int64), np.array([3.0]), np.ones((1, 4, 4), bool))
    assert requests.image_indices.tolist() == [2 ** 31 - 1] and requests.class_ids.tolist() == [3]
    assert requests.masks.dtype == np.float32
