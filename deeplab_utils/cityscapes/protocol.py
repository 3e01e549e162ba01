"""The experimental protocol of the Cityscapes statistics: which requests, which thresholds, which choices.

Hoyer et al., NeurIPS 2019, Sec. 5 and supplement S2.1:

- model-prediction requests (Fig. 6/S14, Table S1): every connected component of a predicted class
  among rider, car, person, bicycle, motorcycle, pole and traffic sign that keeps at least 10,000
  pixels after the 3x3 border erosion;
- error requests (Table 1/S2): the ground truth of class A intersected with the prediction of class B,
  for 16 (A, B) pairs, components of at least 625 pixels after erosion; the explained class is B;
- the baseline: a fixed dilation of the contours of the kept instances, 400,000 pixels in all per image
  and class, shared among the instances;
- a request counts if its mask is not empty, its saliency is not empty and it converged (preservation
  loss <= 0.1; Table S1's caption).

Thresholds are stated at the Cityscapes resolution 1024x2048 and scaled by image area otherwise.
Where the paper is silent, :class:`Protocol` names the choice (see its attributes and
docs/cityscapes.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from deeplab_utils.labels import CITYSCAPES
from deeplab_utils.requests import CITYSCAPES_SHAPE, MIN_REQUEST_PIXELS, REQUEST_EROSION_SIZE, scaled_min_size

__all__ = [
    "PREDICTION_CLASSES",
    "ERROR_PAIRS",
    "TABLE_1_CONTEXT_CLASSES",
    "ERROR_MIN_REQUEST_PIXELS",
    "BASELINE_PIXELS",
    "CONTEXTS",
    "BASELINE_SHARINGS",
    "Protocol",
    "group_name",
    "check_request_settings",
]

#: Requested classes of Fig. 6/S14 and Table S1, in the paper's order.
PREDICTION_CLASSES: tuple[str, ...] = ("rider", "car", "person", "bicycle", "motorcycle", "pole", "traffic sign")
#: (ground truth, prediction) pairs of Table 1 and Table S2, in the paper's order.
ERROR_PAIRS: tuple[tuple[str, str], ...] = (
    ("rider", "rider"), ("rider", "person"),
    ("person", "person"), ("person", "rider"), ("person", "car"),
    ("bicycle", "bicycle"), ("bicycle", "motorcycle"),
    ("car", "car"), ("car", "motorcycle"), ("car", "person"),
    ("motorcycle", "motorcycle"), ("motorcycle", "bicycle"), ("motorcycle", "car"),
    ("pole", "pole"), ("pole", "building"), ("pole", "vegetation"),
)
#: The context classes (columns) Table 1 shows, in the paper's order.
TABLE_1_CONTEXT_CLASSES: tuple[str, ...] = (
    "road", "bicycle", "motorcycle", "car", "vegetation", "building", "sidewalk", "rider", "person", "pole")
#: Table S2: error requests keep at least this many pixels after the erosion, at 1024x2048.
ERROR_MIN_REQUEST_PIXELS = 625
#: S2.1: the baseline's dilation pixels per image and class, at 1024x2048.
BASELINE_PIXELS = 400_000
#: Which pixels are context: all but the request's own pixels, or every pixel of the image.
CONTEXTS = ("outside_request", "everywhere")
#: How the baseline's pixel budget is shared among the instances of one image and class.
BASELINE_SHARINGS = ("radius", "equal")


def group_name(ground_truth: str | None, prediction: str) -> str:
    """The name of a request group: ``"rider"`` (prediction requests) or ``"rider/person"`` (GT/prediction)."""
    return prediction if ground_truth is None else f"{ground_truth}/{prediction}"


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"Argument `{name}` must be an integer >= {low}; received {value!r}.")
    return value


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"Argument `{name}` must be one of {choices}; received {value!r}.")
    return value


def check_request_settings(protocol: Any, counts: Sequence[str]) -> None:
    """Checks the fields a request protocol shares (Cityscapes and COCO), each error naming its field:
    ``reference_shape``, the pixel counts named in `counts` (integers >= 1), ``erosion_size`` (odd),
    ``connectivity`` (4 or 8), ``context`` and ``baseline_sharing``.

    Raises:
        ValueError: For the first field out of range.
    """
    shape = protocol.reference_shape
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape)):
        raise ValueError(f"Argument `reference_shape` must be (height, width) of positive integers; received {shape!r}.")
    for name in counts:
        _check_int(name, getattr(protocol, name), 1)
    _check_int("erosion_size", protocol.erosion_size, 1)
    if protocol.erosion_size % 2 == 0:
        raise ValueError(f"Argument `erosion_size` must be odd; received {protocol.erosion_size!r}.")
    if protocol.connectivity not in (4, 8):
        raise ValueError(f"Argument `connectivity` must be 4 or 8; received {protocol.connectivity!r}.")
    _check_choice("context", protocol.context, CONTEXTS)
    _check_choice("baseline_sharing", protocol.baseline_sharing, BASELINE_SHARINGS)


def _canonical_class(name: str, argument: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"Argument `{argument}` must hold class names; received {name!r}.")
    try:
        return CITYSCAPES.class_names[CITYSCAPES.class_id(name)]
    except ValueError:
        raise ValueError(f"Argument `{argument}` must name Cityscapes classes "
                         f"({', '.join(CITYSCAPES.class_names)}); received {name!r}.") from None


@dataclasses.dataclass(frozen=True)
class Protocol:
    """What is requested and how it is counted; every field is part of a run's identity.

    Attributes:
        prediction_classes: Classes whose predicted components are explained (Fig. 6, Table S1).
        error_pairs: ``(ground truth, prediction)`` pairs whose intersections are explained (Table 1/S2).
        min_size: Minimum pixels of a prediction request after erosion, at `reference_shape` (10,000).
        error_min_size: The same for error requests (625).
        baseline_pixels: Pixels of the baseline dilation per image and requested class or pair, at
            `reference_shape` (400,000; S2.1, Fig. S13 h).
        reference_shape: ``(height, width)`` the three pixel counts refer to; they are scaled by image
            area (1024x2048, the Cityscapes resolution).
        erosion_size: Side of the square border erosion applied before the size test (3).
        connectivity: 4 or 8, for the connected components (8).
        context: ``"outside_request"`` (default; the paper is silent): the request's own pixels do not
            count, since context saliency keeps them unperturbed whatever ``M`` is there;
            ``"everywhere"``: every pixel counts.
        baseline_sharing: ``"radius"`` (default): one dilation radius for all instances of the image,
            grown until the ring holds the budget, so that each instance gets the pixels nearest to it;
            ``"equal"``: each instance gets an equal share of the budget.
    """

    prediction_classes: tuple[str, ...] = PREDICTION_CLASSES
    error_pairs: tuple[tuple[str, str], ...] = ERROR_PAIRS
    min_size: int = MIN_REQUEST_PIXELS
    error_min_size: int = ERROR_MIN_REQUEST_PIXELS
    baseline_pixels: int = BASELINE_PIXELS
    reference_shape: tuple[int, int] = CITYSCAPES_SHAPE
    erosion_size: int = REQUEST_EROSION_SIZE
    connectivity: int = 8
    context: str = "outside_request"
    baseline_sharing: str = "radius"

    def __post_init__(self) -> None:
        if isinstance(self.prediction_classes, str) or not isinstance(self.prediction_classes, (tuple, list)):
            raise TypeError(f"Argument `prediction_classes` must be a sequence of class names; "
                            f"received {self.prediction_classes!r}.")
        classes = tuple(_canonical_class(name, "prediction_classes") for name in self.prediction_classes)
        if len(set(classes)) != len(classes):
            raise ValueError(f"Argument `prediction_classes` must not repeat a class; received {classes!r}.")
        pairs = []
        for pair in self.error_pairs:
            if isinstance(pair, str) or not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"Argument `error_pairs` must hold (ground truth, prediction) pairs; "
                                 f"received {pair!r}.")
            pairs.append(tuple(_canonical_class(name, "error_pairs") for name in pair))
        if len(set(pairs)) != len(pairs):
            raise ValueError(f"Argument `error_pairs` must not repeat a pair; received {pairs!r}.")
        if not classes and not pairs:
            raise ValueError("Arguments `prediction_classes` and `error_pairs` must not both be empty; received ().")
        check_request_settings(self, ("min_size", "error_min_size", "baseline_pixels"))
        object.__setattr__(self, "prediction_classes", classes)
        object.__setattr__(self, "error_pairs", tuple(pairs))
        object.__setattr__(self, "reference_shape", tuple(self.reference_shape))

    @property
    def groups(self) -> tuple[str, ...]:
        """Every request group, prediction classes first, then the pairs (``"rider/person"``)."""
        return (tuple(group_name(None, name) for name in self.prediction_classes)
                + tuple(group_name(*pair) for pair in self.error_pairs))

    def pixels(self, count: int, image_shape: tuple[int, int]) -> int:
        """A pixel count of the protocol (stated at `reference_shape`) scaled to `image_shape`."""
        return scaled_min_size(count, image_shape, self.reference_shape)

    def to_settings(self) -> dict[str, Any]:
        """The fields as JSON data (for a run's settings)."""
        return dataclasses.asdict(self)
