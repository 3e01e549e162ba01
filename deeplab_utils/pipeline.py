"""Explaining one image with one DeepLab model into a run folder: plan (resume) -> compute -> write.

:func:`explain_image` is what ``deeplab-explain`` runs (Hoyer et al., NeurIPS 2019, Sec. 5, supplement
S2-S3):

1. plan (:func:`plan_explanation`): load the model, read the image (shrunk to the crop size if asked),
   resolve the class and build the optimiser; nothing is written, so bad input leaves no folder;
2. open `output_dir` as a run folder (:class:`~grid_saliency_tf.experiment.RunFolder`): a second
   process is refused at once, a run with the same settings resumes (finished requests are kept),
   other settings are refused unless `overwrite`;
3. compute (:mod:`deeplab_utils.context_explanation`, pure): the prediction, the requests, and context
   saliency for each unfinished batch of requests;
4. write, per request: ``<image>_<class>_rNN_saliency.png`` (Fig. 5/S15), ``..._rNN_panels.png``
   (Fig. S13) and the record ``..._rNN.json``; for the image: ``..._requests.png`` (prediction and
   requests), ``..._all_saliency.png`` (every request's saliency, combined for display as in Fig. S12)
   and ``..._summary.json``. Every file is written atomically.
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

from deeplab_utils import figures
from deeplab_utils.context_explanation import (
    ImagePrediction,
    RequestExplanation,
    explain_requests,
    predict_requests,
)
from deeplab_utils.images import fit_to_crop, read_image
from deeplab_utils.labels import LabelSet, label_set_for
from deeplab_utils.model import DeepLabModel
from deeplab_utils.records import ExplanationSummary, RequestRecord
from deeplab_utils.settings import ExplainSettings
from grid_saliency_tf import GridSaliencyOptimizer, upsample_mask
from grid_saliency_tf.experiment import RunFolder, save_figure, write_png

__all__ = ["ExplainPlan", "RUN_KIND", "explain_image", "plan_explanation"]

#: The kind recorded in the run folder's ``run.json``.
RUN_KIND = "deeplab_utils.explain"


@dataclasses.dataclass(frozen=True)
class ExplainPlan:
    """Everything resolved before the run folder is opened.

    Attributes:
        model: The loaded model.
        image: uint8 RGB ``(height, width, 3)``, at most the crop size.
        image_name: File stem of the image (``"image"`` for an array).
        label_set: The model's label set.
        class_id: The explained output channel.
        settings: The settings.
        optimizer: The context-saliency optimiser.
    """

    model: DeepLabModel
    image: np.ndarray
    image_name: str
    label_set: LabelSet
    class_id: int
    settings: ExplainSettings
    optimizer: GridSaliencyOptimizer

    @property
    def class_name(self) -> str:
        """The explained class's name in the label set."""
        return self.label_set.class_names[self.class_id]

    @property
    def prefix(self) -> str:
        """``<image>_<class>``, the start of every file name."""
        return f"{_slug(self.image_name)}_{_slug(self.class_name)}"

    def run_settings(self) -> dict[str, Any]:
        """What decides the results, recorded in ``run.json`` and compared on resume."""
        return {
            "model": self.model.source, "input_name": self.model.input_name,
            "logits_name": self.model.logits_name, "image": self.image_name,
            "image_size": self.image.shape[:2], "class_id": self.class_id, "class_name": self.class_name,
            "settings": dataclasses.asdict(self.settings), "optimizer": self.settings.optimizer_settings(),
        }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-") or "image"


def _resolve_class(settings: ExplainSettings, label_set: LabelSet) -> int:
    if settings.class_name is not None:
        return label_set.class_id(settings.class_name)
    if settings.class_id >= label_set.num_classes:
        raise ValueError(f"Argument `class_id` must be in 0..{label_set.num_classes - 1} for this model; "
                         f"received {settings.class_id}.")
    return int(settings.class_id)


def _prepare_image(image: Any, crop_size: tuple[int, int], resize: bool,
                   say: Callable[[str], None]) -> tuple[np.ndarray, str]:
    if isinstance(image, (str, os.PathLike)):
        name, image = Path(image).stem, read_image(image)
    else:
        name, image = "image", np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"Argument `image` must be uint8 (height, width, 3); received {image.dtype} "
                             f"{image.shape}.")
    height, width = image.shape[:2]
    if height > crop_size[0] or width > crop_size[1]:
        if not resize:
            raise ValueError(
                f"Argument `image` must fit the model's crop size {crop_size[0]}x{crop_size[1]} (the exported "
                f"graph cannot take more) or be resized; received {height}x{width}, which is larger than "
                f"the model's crop size {crop_size[0]}x{crop_size[1]}."
            )
        image, scale = fit_to_crop(image, crop_size)
        say(f"image {height}x{width} is larger than the crop size {crop_size[0]}x{crop_size[1]}: "
            f"resized by {scale:.3f} to {image.shape[0]}x{image.shape[1]}")
    return image, name


def plan_explanation(model: DeepLabModel | str | os.PathLike, image: np.ndarray | str | os.PathLike,
                     settings: ExplainSettings, say: Callable[[str], None]) -> ExplainPlan:
    """Loads and checks everything an explanation needs; writes nothing.

    Args:
        model: A model, or a path it loads (tarball, folder, ``.pb``).
        image: uint8 RGB ``(height, width, 3)`` or an image file.
        settings: What to explain and how.
        say: Called with one line of text per step.

    Returns:
        The plan.

    Raises:
        ValueError, TypeError: For a model, image, class or setting that cannot be used.
    """
    if isinstance(model, (str, os.PathLike)):  # else a loaded model: DeepLabModel or NativeZooModel
        say(f"loading {model}")
        model = DeepLabModel(model)
    say(model.describe())
    label_set = label_set_for(settings.labels, model.num_classes)
    class_id = _resolve_class(settings, label_set)
    image, image_name = _prepare_image(image, model.crop_size, settings.resize_to_crop, say)
    optimizer = GridSaliencyOptimizer(model, **settings.optimizer_settings(), return_perturbations=True)
    return ExplainPlan(model, image, image_name, label_set, class_id, settings, optimizer)


def _request_record(plan: ExplainPlan, prediction: ImagePrediction, index: int,
                    explanation: RequestExplanation, files: dict[str, str]) -> RequestRecord:
    requests = prediction.requests
    return RequestRecord(
        request=index + 1, class_id=plan.class_id, class_name=plan.class_name,
        pixels=int(requests.sizes[index]), eroded_pixels=int(requests.eroded_sizes[index]),
        box_top_left_bottom_right=tuple(int(v) for v in requests.boxes[index]),
        outcome=explanation.outcome,
        saliency_mean=float(explanation.saliency.mean()),
        salient_fraction=float((explanation.saliency > 0).mean()),
        low_res_mask=tuple(tuple(float(v) for v in row) for row in np.round(explanation.low_res_saliency, 6)),
        seconds=round(explanation.seconds, 3), files=files,
    )


def _write_request(run: RunFolder, plan: ExplainPlan, prediction: ImagePrediction, index: int,
                   explanation: RequestExplanation) -> RequestRecord:
    """Writes the figures and the record of request `index`; returns the record."""
    stem = f"{plan.prefix}_r{index + 1:02d}"
    files = {"saliency": f"{stem}_saliency.png", "panels": f"{stem}_panels.png"}
    mask = prediction.requests.masks[index]
    write_png(run.file(files["saliency"]), figures.saliency_picture(plan.image, explanation.saliency, mask))
    panels = figures.s13_panels(plan.image, prediction.probabilities[..., plan.class_id], explanation, mask,
                                plan.class_name)
    title = f"{plan.image_name}: {plan.class_name}, request {index + 1}"
    save_figure(figures.panels_figure(panels, title), run.file(files["panels"]), dpi=100)
    record = _request_record(plan, prediction, index, explanation, files)
    record.save(run.file(f"{stem}.json"))
    return record


def _describe(record: RequestRecord, total: int) -> str:
    outcome = record.outcome
    state = "empty" if outcome.empty else f"salient {record.salient_fraction:.1%}"
    return (f"request {record.request}/{total} ({record.pixels} px): preservation loss "
            f"{outcome.preservation_loss:.4f}, mask loss {outcome.mask_loss:.4f}, "
            f"{'converged' if outcome.converged else 'not converged'}, {state} ({record.seconds:.1f} s)")


def _write_combined_saliency(run: RunFolder, plan: ExplainPlan, prediction: ImagePrediction,
                             records: list[RequestRecord]) -> None:
    low_res = np.array([record.low_res_mask for record in records], np.float32)
    combined = upsample_mask(tf.constant(low_res), plan.image.shape[:2], plan.optimizer.upsampling)
    combined = combined.numpy().max(axis=0)
    write_png(run.file(f"{plan.prefix}_all_saliency.png"),
              figures.saliency_picture(plan.image, np.clip(combined, 0, 1), prediction.requests.masks))


def explain_image(
    model: DeepLabModel | str | os.PathLike,
    image: np.ndarray | str | os.PathLike,
    output_dir: str | os.PathLike,
    settings: ExplainSettings,
    *,
    overwrite: bool = False,
    batch_size: int = 1,
    progress: Callable[[str], None] | None = None,
) -> ExplanationSummary:
    """Explains the prediction of one class in one image with context grid saliency and writes figures.

    Args:
        model: A :class:`~deeplab_utils.model.DeepLabModel` or a path it loads (tarball, folder, ``.pb``).
        image: A uint8 RGB array ``(height, width, 3)`` or an image file.
        output_dir: The run folder (created if needed).
        settings: What to explain and how.
        overwrite: Replace a run with other settings in `output_dir` instead of refusing.
        batch_size: Requests optimised together (results do not depend on it; memory does).
        progress: Called with one line of text per step (e.g. ``print``); None for silence.

    Returns:
        The summary, as written to ``<image>_<class>_summary.json``.

    Raises:
        ValueError: For a model, image, class or setting that cannot be used, or an `output_dir` that
            holds another run (``RunFolderMismatch``) or is in use by another process (``RunFolderBusy``).
        TypeError: For an argument of the wrong type.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Argument `batch_size` must be an integer >= 1; received {batch_size!r}.")
    say = progress or (lambda line: None)
    started = time.perf_counter()
    plan = plan_explanation(model, image, settings, say)
    with RunFolder.open(output_dir, kind=RUN_KIND, settings=plan.run_settings(), overwrite=overwrite) as run:
        prediction = predict_requests(plan.model, plan.image, plan.class_id, settings)
        requests = prediction.requests
        if prediction.parity_mismatches is not None:
            say(f"parity with the graph's SemanticPredictions: {prediction.parity_mismatches} of "
                f"{prediction.labels.size} pixels differ")
        say(f"class {plan.class_name!r} ({plan.class_id}): {int((prediction.labels == plan.class_id).sum())} "
            f"pixels predicted, {len(requests)} of {requests.num_candidates} "
            f"{'components' if settings.request_mode == 'components' else 'class masks'} keep at least "
            f"{prediction.min_size} pixels after erosion")
        write_png(run.file(f"{plan.prefix}_requests.png"),
                  figures.requests_picture(plan.image, prediction.labels, plan.label_set, requests.masks))
        records: list[RequestRecord | None] = [None] * len(requests)
        for index in range(len(requests)):
            if run.exists(f"{plan.prefix}_r{index + 1:02d}.json"):
                records[index] = RequestRecord.load(run.file(f"{plan.prefix}_r{index + 1:02d}.json"))
                say(f"request {index + 1}/{len(requests)}: done in an earlier run, kept")
        pending = [index for index, record in enumerate(records) if record is None]
        for start in range(0, len(pending), batch_size):
            chunk = pending[start: start + batch_size]
            explanations = explain_requests(plan.model, plan.optimizer, plan.image, plan.class_id,
                                            requests.masks[chunk])
            for index, explanation in zip(chunk, explanations):
                records[index] = _write_request(run, plan, prediction, index, explanation)
                say(_describe(records[index], len(requests)))
        if records:
            _write_combined_saliency(run, plan, prediction, records)
        summary = ExplanationSummary(
            **plan.run_settings(), predicted_pixels=int((prediction.labels == plan.class_id).sum()),
            parity_mismatches=prediction.parity_mismatches, min_size_pixels=prediction.min_size,
            candidates=requests.num_candidates, requests=tuple(records),
            seconds=round(time.perf_counter() - started, 3),
        )
        summary.save(run.file(f"{plan.prefix}_summary.json"))
    say(f"wrote {len(records)} explanation(s) to {output_dir}" if records
        else f"nothing to explain: no {plan.class_name!r} region large enough; wrote {plan.prefix}_summary.json")
    return summary
