"""What a trained network takes for its bias texture: does one of grid saliency's constants stand in for it?

Grid saliency replaces the context outside the mask by the constant of {0, 0.25, 0.5, 0.75, 1} with the
lowest preservation loss at ``M = 0`` (supplement S1.2). The imitation criterion of the texture pool
(`toy_benchmark.data.imitation`) asks whether one grey value imitates a texture's *pixels*; what decides
the explanation, though, is whether the *network* treats a constant context as its bias texture. If it does,
the mask can drop the bias half at no cost, every biased-digit mask ends empty and mCBD reads 0 although
the network relies on its bias (docs/toy_benchmark.md, "A pool at 0.2", session 11: a network whose bias
texture was the pool's coarsest took a white context for it).

`constant_probe` measures that per network: the IoU of the bias digit on its biased test images (the
network's prediction against the ground truth) intact, with the bias half swapped for the image's other
background half (an unbiased texture: the bias reliance's counterpart), and with the whole context
(every pixel outside the digit) set to each constant. A constant *imitates the bias for the network* when
it keeps at least `imitation_fraction` of the intact IoU while the swap does not.

The engine's other two perturbations (Sec. 3.1, `GridSaliencyOptimizer(perturbation=...)`) are probed the
same way: the context set to the image's Gaussian-blurred copy (``"blur"``) or to grid saliency's uniform
noise image (``"noise"``), with the optimizer's defaults (`blur_sigma` 10 pixels, noise `seed` 0). A
perturbation that imitates the bias hides it from grid saliency as a constant does; one that does not is a
candidate for explaining that network.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from grid_saliency_tf.optimizer import GridSaliencyOptimizer
from grid_saliency_tf.perturbations import CONSTANT_VALUES, PERTURBATIONS, blurred_image, noise_image
from grid_saliency_tf.validation import check_choice, check_int, check_number
from toy_benchmark.data.variant import BACKGROUND_CLASS, BIAS_HALF_NONE, BIAS_HALF_TOP, IMAGE_SIZE
from toy_benchmark.evaluation.segmentation import image_confusions, predict_labels, segmentation_from_confusions

__all__ = ["GRID_SALIENCY_CONSTANTS", "PROBED_PERTURBATIONS", "ConstantProbe", "constant_probe"]

#: The grey values grid saliency perturbs with (supplement S1.2), as fractions of the [0, 1] image range.
GRID_SALIENCY_CONSTANTS = CONSTANT_VALUES
#: The engine's perturbations other than the constant one (Sec. 3.1), probed as whole-context images.
PROBED_PERTURBATIONS = tuple(name for name in PERTURBATIONS if name != "constant")
_OPTIMIZER_DEFAULTS = inspect.signature(GridSaliencyOptimizer).parameters


@dataclass(frozen=True)
class ConstantProbe:
    """The bias digit's IoU on its biased test images under each context change.

    Every IoU is the project's (``TP / (TP + FP + FN)`` over all pixels of the images, Fig. 4a; as in the
    bias reliance of the report).

    Attributes:
        num_images: Images of the bias digit that carry the bias texture.
        intact: IoU on the images as they are.
        swapped: IoU with the bias half's context pixels replaced by the pixels 32 rows away, in the other
            half (its unbiased texture, or the digit's foreground texture where the digit crosses it).
        constants: ``{value: IoU}`` with the whole context set to each constant.
        imitation_fraction: The share of the intact IoU a constant must keep to count as imitating.
        perturbations: ``{"blur" | "noise": IoU}`` with the whole context set to that perturbation image.
    """

    num_images: int
    intact: float
    swapped: float
    constants: dict[float, float]
    imitation_fraction: float
    perturbations: dict[str, float]

    def _keeping(self, ious: dict) -> tuple:
        bar = self.imitation_fraction * self.intact
        if self.swapped >= bar:
            return ()
        return tuple(key for key, iou in ious.items() if iou >= bar)

    @property
    def imitating(self) -> tuple[float, ...]:
        """The constants that imitate the bias for the network (none when the swap keeps the IoU as well)."""
        return self._keeping(self.constants)

    @property
    def imitating_perturbations(self) -> tuple[str, ...]:
        """The probed blur / noise perturbations that imitate the bias, by the same rule as `imitating`."""
        return self._keeping(self.perturbations)

    def to_json(self) -> dict:
        """JSON data: the fields (constants keyed by their value as ``"%g"``) and the imitating ones."""
        return {"num_images": self.num_images, "intact": self.intact, "swapped": self.swapped,
                "constants": {f"{value:g}": iou for value, iou in self.constants.items()},
                "perturbations": dict(self.perturbations), "imitation_fraction": self.imitation_fraction,
                "imitating": [f"{value:g}" for value in self.imitating],
                "imitating_perturbations": list(self.imitating_perturbations)}


def constant_probe(model: keras.Model, samples: dict[str, np.ndarray], digit: int, *,
                   constants: Sequence[float] = GRID_SALIENCY_CONSTANTS,
                   imitation_fraction: float = 0.5, perturbations: Sequence[str] = PROBED_PERTURBATIONS,
                   blur_sigma: float = _OPTIMIZER_DEFAULTS["blur_sigma"].default,
                   noise_seed: int = _OPTIMIZER_DEFAULTS["seed"].default) -> ConstantProbe:
    """Whether a constant context stands in for the bias texture, for one network (module docstring).

    Args:
        model: The network, images to softmax probabilities ``(batch, 64, 64, 11)``.
        samples: Biased test samples as `toy_benchmark.data.SampleGenerator.generate` returns them; those of
            `digit` that carry the bias texture are used (``image`` uint8 ``(batch, 64, 64)``, ``label``,
            ``digit``, ``bias_half``).
        digit: The bias digit.
        constants: Grey values in [0, 1] to set the context to (default: grid saliency's five).
        imitation_fraction: In (0, 1]; a constant imitates when it keeps this share of the intact IoU.
        perturbations: Which of :data:`PROBED_PERTURBATIONS` to probe too (``()`` for none).
        blur_sigma: Standard deviation in pixels of the blur, > 0 (`GridSaliencyOptimizer`'s default).
        noise_seed: Seed of the noise image (`GridSaliencyOptimizer`'s default ``seed``).

    Returns:
        The IoUs, with the imitating constants as `ConstantProbe.imitating` and the imitating perturbations
        as `ConstantProbe.imitating_perturbations`.

    Raises:
        ValueError: if no sample shows `digit` with the bias texture, or a constant, the fraction, a
            perturbation's name or the blur's sigma is out of range.
    """
    fraction = check_number("imitation_fraction", imitation_fraction, 0.0, 1.0, low_open=True)
    values = tuple(check_number("constants", value, 0.0, 1.0) for value in constants)
    names = tuple(dict.fromkeys(check_choice("perturbations", name, PROBED_PERTURBATIONS) for name in perturbations))
    sigma = check_number("blur_sigma", blur_sigma, 0.0, low_open=True)
    seed = check_int("noise_seed", noise_seed, 0)
    chosen = (samples["digit"] == digit) & (samples["bias_half"] != BIAS_HALF_NONE)
    if not chosen.any():
        raise ValueError(f"Argument `samples` must hold images of digit {digit} with the bias texture; "
                         f"received {len(chosen)} samples without any.")
    images = samples["image"][chosen].astype(np.float32) / 255.0
    labels, halves = samples["label"][chosen], samples["bias_half"][chosen]
    context = labels == BACKGROUND_CLASS
    top = np.arange(IMAGE_SIZE)[None, :, None] < IMAGE_SIZE // 2
    bias_half = context & np.where(halves[:, None, None] == BIAS_HALF_TOP, top, ~top)
    other_half = np.roll(images, IMAGE_SIZE // 2, axis=1)  # rows of the other half, at the same columns
    swapped = np.where(bias_half, other_half, images)

    def iou(batch: np.ndarray) -> float:
        confusions = image_confusions(labels, predict_labels(model, batch[..., None]))
        return segmentation_from_confusions(confusions).iou_per_digit[digit]  # defined: every image shows it

    def perturbation_image(name: str) -> np.ndarray:
        """The perturbation image ``a`` grid saliency would use, ``(batch, 64, 64)``."""
        if name == "blur":
            return blurred_image(images[..., None], sigma).numpy()[..., 0]
        return noise_image((IMAGE_SIZE, IMAGE_SIZE, 1), seed, (0.0, 1.0)).numpy()[..., 0]

    return ConstantProbe(
        num_images=int(chosen.sum()), intact=iou(images), swapped=iou(swapped),
        constants={value: iou(np.where(context, np.float32(value), images)) for value in values},
        imitation_fraction=fraction,
        perturbations={name: iou(np.where(context, perturbation_image(name), images)) for name in names})
