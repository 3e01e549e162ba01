"""Context explanations of one image and one DeepLab model, written to files (Sec. 5, supplement S2-S3).

:func:`explain_image` predicts the image, builds the request masks of a class (each connected component
of at least a minimum size after the 3x3 erosion, or the whole class), optimises context saliency with
the Cityscapes settings of the paper (16x32 grid, SGD with learning rate 1, 80 steps, lambda 0.01,
bilinear upsampling) and writes, per request:

- ``<image>_<class>_rNN_saliency.png``: context saliency in red, the request outlined in blue (Fig. 5/S15);
- ``<image>_<class>_rNN_panels.png``: the intermediate panels of Fig. S13 (input, class softmax, the
  context-perturbed image ``p(x, R)`` and its softmax, the optimised image ``p_context(x, R, M*)`` and its
  softmax, the saliency ``M*``, the overlay);
- ``<image>_<class>_rNN.json``: losses, convergence (preservation loss <= 0.1, S2.1), emptiness, sizes.

and for the image ``<image>_<class>_requests.png`` (prediction and requests), ``..._all_saliency.png``
(every request's saliency, combined for display as in Fig. S12) and ``..._summary.json``. Files are
written atomically; a run interrupted and started again with the same settings resumes where it stopped,
and results of a run with other settings are never overwritten unless asked to.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from deeplab_utils import visualization
from deeplab_utils.images import fit_to_crop, read_image
from deeplab_utils.labels import LabelSet, label_set_for
from deeplab_utils.model import DeepLabModel
from deeplab_utils.outputs import json_compatible, read_json, write_bytes_atomic, write_json_atomic
from deeplab_utils.requests import REQUEST_MODES, build_request_masks, scaled_min_size
from grid_saliency_tf import GridSaliencyOptimizer, Requests, perturb, upsample_mask

__all__ = ["ExplainSettings", "explain_image", "CITYSCAPES_OPTIMIZER_SETTINGS"]

#: Supplement S2.1: 16x32 mask, SGD with learning rate 1 for 80 steps, lambda 0.01, bilinear upsampling.
CITYSCAPES_OPTIMIZER_SETTINGS = {
    "grid_shape": (16, 32),
    "learning_rate": 1.0,
    "steps": 80,
    "mask_weight": 0.01,
    "upsampling": "bilinear",
}


@dataclasses.dataclass(frozen=True)
class ExplainSettings:
    """What to explain and how; every field is recorded with the results.

    Attributes:
        class_name: Class to explain, by name in the label set (or None to use `class_id`).
        class_id: Class to explain, by output channel (or None to use `class_name`).
        labels: Label set: ``"auto"`` (by class count), ``"cityscapes"``, ``"pascal_voc"``/``"coco"``.
        request_mode: ``"components"`` (one request per connected component) or ``"class"`` (one).
        min_size: Minimum pixels of a request after the 3x3 erosion (10,000 in the paper).
        scale_min_size: Read `min_size` at Cityscapes resolution (1024x2048) and scale it by image area.
        resize_to_crop: Shrink an image larger than the model's crop size (else refuse it).
        grid_shape, learning_rate, steps, mask_weight: Grid saliency settings (defaults: Cityscapes).
        batch_size: Requests optimised together.
        check_parity: Compare the wrapper's labels with the graph's own ``SemanticPredictions``.
    """

    class_name: str | None = None
    class_id: int | None = None
    labels: str = "auto"
    request_mode: str = "components"
    min_size: int = 10000
    scale_min_size: bool = True
    resize_to_crop: bool = True
    grid_shape: tuple[int, int] = (16, 32)
    learning_rate: float = 1.0
    steps: int = 80
    mask_weight: float = 0.01
    batch_size: int = 1
    check_parity: bool = True

    def __post_init__(self) -> None:
        if (self.class_name is None) == (self.class_id is None):
            raise ValueError(
                f"class_name/class_id: give exactly one; received class_name={self.class_name!r}, "
                f"class_id={self.class_id!r}"
            )
        if self.request_mode not in REQUEST_MODES:
            raise ValueError(f"request_mode: expected one of {REQUEST_MODES}; received {self.request_mode!r}")
        if self.min_size < 0:
            raise ValueError(f"min_size: expected a non-negative number; received {self.min_size}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: expected at least 1; received {self.batch_size}")

    def optimizer_settings(self) -> dict[str, Any]:
        """Keyword arguments of ``GridSaliencyOptimizer`` (context mode, images in 0..255)."""
        return {
            **CITYSCAPES_OPTIMIZER_SETTINGS,
            "grid_shape": tuple(self.grid_shape),
            "learning_rate": self.learning_rate,
            "steps": self.steps,
            "mask_weight": self.mask_weight,
            "mode": "context",
            "value_range": (0.0, 255.0),
        }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-") or "image"


def _resolve_class(settings: ExplainSettings, label_set: LabelSet) -> int:
    if settings.class_name is not None:
        return label_set.class_id(settings.class_name)
    if not 0 <= settings.class_id < label_set.num_classes:
        raise ValueError(
            f"class_id: expected 0..{label_set.num_classes - 1} for this model; received {settings.class_id}"
        )
    return int(settings.class_id)


def _prepare_image(image: Any, crop_size: tuple[int, int], resize: bool,
                   say: Callable[[str], None]) -> tuple[np.ndarray, str]:
    if isinstance(image, (str, os.PathLike)):
        name, image = Path(image).stem, read_image(image)
    else:
        name, image = "image", np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"image: expected uint8 (height, width, 3); received {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    if height > crop_size[0] or width > crop_size[1]:
        if not resize:
            raise ValueError(
                f"image: {height}x{width} is larger than the model's crop size {crop_size[0]}x{crop_size[1]} "
                "(the exported graph cannot take it); allow resizing or crop the image"
            )
        image, scale = fit_to_crop(image, crop_size)
        say(f"image {height}x{width} is larger than the crop size {crop_size[0]}x{crop_size[1]}: "
            f"resized by {scale:.3f} to {image.shape[0]}x{image.shape[1]}")
    return image, name


def _check_previous_run(path: Path, run: dict[str, Any], overwrite: bool) -> None:
    previous = read_json(path)
    if previous is None or overwrite:
        return
    differing = sorted(key for key in set(previous) | set(run) if previous.get(key) != run.get(key))
    if differing:
        raise ValueError(
            f"output_dir holds results of another run ({path.name} differs in {', '.join(differing)}); "
            "choose another output_dir or allow overwriting"
        )


def explain_image(
    model: DeepLabModel | str | os.PathLike,
    image: np.ndarray | str | os.PathLike,
    output_dir: str | os.PathLike,
    settings: ExplainSettings,
    *,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Explains the prediction of one class in one image with context grid saliency and writes figures.

    Args:
        model: A :class:`~deeplab_utils.model.DeepLabModel` or a path it loads (tarball, folder, ``.pb``).
        image: A uint8 RGB array ``(height, width, 3)`` or an image file.
        output_dir: Folder for the results (created if needed).
        settings: What to explain and how.
        overwrite: Replace results of a run with other settings instead of refusing.
        progress: Called with one line of text per step (e.g. ``print``); None for silence.

    Returns:
        The content of the summary JSON.

    Raises:
        ValueError: For a model, image, class or setting that cannot be used; the message says why.
    """
    say = progress or (lambda line: None)
    started = time.perf_counter()
    if not isinstance(model, DeepLabModel):
        say(f"loading {model}")
        model = DeepLabModel(model)
    say(model.describe())
    label_set = label_set_for(settings.labels, model.num_classes)
    class_id = _resolve_class(settings, label_set)
    class_name = label_set.class_names[class_id]
    image, image_name = _prepare_image(image, model.crop_size, settings.resize_to_crop, say)
    height, width = image.shape[:2]
    images = image[None].astype(np.float32)

    output_dir = Path(output_dir)
    prefix = f"{_slug(image_name)}_{_slug(class_name)}"
    optimizer_settings = settings.optimizer_settings()
    run = {
        "model": model.source, "input_name": model.input_name, "logits_name": model.logits_name,
        "image": image_name, "image_size": [height, width], "class_id": class_id, "class_name": class_name,
        "settings": dataclasses.asdict(settings), "optimizer": optimizer_settings,
    }
    run = json_compatible(run)
    _check_previous_run(output_dir / f"{prefix}_run.json", run, overwrite)
    write_json_atomic(output_dir / f"{prefix}_run.json", run)

    probabilities = model(images).numpy()[0]
    labels = probabilities.argmax(-1)
    parity = None
    if settings.check_parity:
        reference = model.semantic_predictions(image)
        parity = int(np.count_nonzero(reference != labels))
        say(f"parity with the graph's SemanticPredictions: {parity} of {labels.size} pixels differ")
    min_pixels = (scaled_min_size(settings.min_size, (height, width)) if settings.scale_min_size
                  else int(settings.min_size))
    requests = build_request_masks(labels, class_id, mode=settings.request_mode, min_size=min_pixels)
    say(f"class {class_name!r} ({class_id}): {int((labels == class_id).sum())} pixels predicted, "
        f"{len(requests)} of {requests.num_candidates} "
        f"{'components' if settings.request_mode == 'components' else 'class masks'} keep at least "
        f"{min_pixels} pixels after erosion")
    write_bytes_atomic(output_dir / f"{prefix}_requests.png", visualization.encode_png(
        visualization.saliency_overlay(
            (0.5 * image + 0.5 * label_set.colorize(labels)).astype(np.uint8), None, requests.masks)))

    optimizer = GridSaliencyOptimizer(model, **optimizer_settings)
    records: list[dict[str, Any]] = []
    pending = []
    for index in range(len(requests)):
        record = read_json(output_dir / f"{prefix}_r{index + 1:02d}.json") if not overwrite else None
        if record is not None:
            say(f"request {index + 1}/{len(requests)}: done in an earlier run, kept")
            records.append(record)
        else:
            pending.append(index)
            records.append({})
    for start in range(0, len(pending), settings.batch_size):
        chunk = pending[start: start + settings.batch_size]
        chunk_started = time.perf_counter()
        masks = requests.masks[chunk].astype(np.float32)
        result = optimizer.explain(images, Requests(np.zeros(len(chunk), np.int32),
                                                    np.full(len(chunk), class_id, np.int32), masks))
        repeated = tf.repeat(tf.constant(images), len(chunk), axis=0)
        context_images = perturb(repeated, tf.constant(masks),
                                 tf.constant(result.perturbation_value, tf.float32)[:, None, None, None],
                                 (0.0, 255.0))
        optimised_images = perturb(repeated, tf.constant(result.masks), context_images, (0.0, 255.0))
        maps = model(tf.concat([context_images, optimised_images], 0)).numpy()[..., class_id]
        seconds = (time.perf_counter() - chunk_started) / len(chunk)
        for position, index in enumerate(chunk):
            number = f"r{index + 1:02d}"
            overlay = visualization.saliency_overlay(image, result.masks[position], requests.masks[index])
            files = {"saliency": f"{prefix}_{number}_saliency.png", "panels": f"{prefix}_{number}_panels.png"}
            write_bytes_atomic(output_dir / files["saliency"], visualization.encode_png(overlay))
            panels = [
                ("(a) input", image),
                (f"(b) softmax {class_name}", probabilities[..., class_id]),
                ("(c) context perturbed p(x, R)", context_images[position].numpy()),
                ("(d) softmax of (c)", maps[position]),
                ("(e) optimised image", optimised_images[position].numpy()),
                ("(f) softmax of (e)", maps[len(chunk) + position]),
                ("(g) context saliency", result.masks[position]),
                ("(h) saliency and request", overlay),
            ]
            write_bytes_atomic(output_dir / files["panels"], visualization.panels_png(
                panels, title=f"{image_name}: {class_name}, request {index + 1}"))
            record = {
                "request": index + 1, "class_id": class_id, "class_name": class_name,
                "pixels": int(requests.sizes[index]), "eroded_pixels": int(requests.eroded_sizes[index]),
                "box_top_left_bottom_right": requests.boxes[index],
                "total_loss": float(result.total_loss[position]),
                "mask_loss": float(result.mask_loss[position]),
                "preservation_loss": float(result.preservation_loss[position]),
                "perturbation_value": float(result.perturbation_value[position]),
                "converged": bool(result.converged[position]), "empty": bool(result.empty[position]),
                "saliency_mean": float(result.masks[position].mean()),
                "salient_fraction": float((result.masks[position] > 0).mean()),
                "low_res_mask": np.round(result.low_res_masks[position], 6),
                "seconds": round(seconds, 3), "files": files,
            }
            write_json_atomic(output_dir / f"{prefix}_{number}.json", record)
            records[index] = json_compatible(record)
            say(f"request {index + 1}/{len(requests)} ({record['pixels']} px): "
                f"preservation loss {record['preservation_loss']:.4f}, mask loss {record['mask_loss']:.4f}, "
                f"{'converged' if record['converged'] else 'not converged'}, "
                f"{'empty' if record['empty'] else 'salient ' + format(record['salient_fraction'], '.1%')}"
                f" ({seconds:.1f} s)")

    if records:
        low_res = tf.constant(np.array([record["low_res_mask"] for record in records], np.float32))
        combined = upsample_mask(low_res, (height, width), optimizer.upsampling).numpy().max(axis=0)
        write_bytes_atomic(output_dir / f"{prefix}_all_saliency.png", visualization.encode_png(
            visualization.saliency_overlay(image, np.clip(combined, 0, 1), requests.masks)))
    summary = {
        **run,
        "predicted_pixels": int((labels == class_id).sum()),
        "parity_mismatches": parity,
        "min_size_pixels": min_pixels,
        "candidates": requests.num_candidates,
        "requests": records,
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_json_atomic(output_dir / f"{prefix}_summary.json", summary)
    say(f"wrote {len(records)} explanation(s) to {output_dir}" if records
        else f"nothing to explain: no {class_name!r} region large enough; wrote {prefix}_summary.json")
    return summary
