"""Rebuilding a run's aggregate from its records alone: statistics, tables, figures, examples, report.

Written into ``<run>/<folder>/`` (``aggregate`` by default), each file atomically:

- ``statistics.json``: the :class:`~deeplab_utils.cityscapes.aggregate.Aggregate` record;
- ``fig6_grid_saliency.csv``, ``fig6_baseline.csv``: Fig. 6/S14 (prediction requests x 19 classes), and
  ``errors_grid_saliency.csv``, ``errors_baseline.csv``: the same for the error pairs;
- ``table_1.csv``, ``table_s1.csv``, ``table_s2.csv``;
- ``fig6_context_statistics.png``/``.pdf``, ``table_1.png``/``.pdf`` (with matplotlib);
- ``examples/<group>.png``: Fig. S15-style overlays (when the data set is given);
- ``report.md``: every table beside the paper's numbers.

Fig. S13 panels are drawn while explaining (they need the model) into ``<run>/panels/``. The run folder's
lock is taken only to check the run (as every process does), so that workers still explaining are not
held up; every file is replaced atomically, so two aggregations at once leave one complete set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from deeplab_utils.cityscapes import plots, tables
from deeplab_utils.cityscapes.aggregate import Aggregate, aggregate_records
from deeplab_utils.cityscapes.dataset import CityscapesExample
from deeplab_utils.cityscapes.examples import example_overlays
from deeplab_utils.cityscapes.folders import claim_run
from deeplab_utils.cityscapes.protocol import Protocol
from deeplab_utils.cityscapes.records import load_records
from deeplab_utils.cityscapes.report import report_markdown
from grid_saliency_tf.experiment import RUN_FILE, files, figures, save_figure

__all__ = ["write_aggregate", "read_run_settings"]


def read_run_settings(output_dir: str | os.PathLike) -> dict:
    """The settings recorded in a run folder's ``run.json``.

    Raises:
        ValueError: If the folder holds no Cityscapes run.
    """
    content = files.read_json(Path(output_dir) / RUN_FILE, missing_ok=True)
    if not isinstance(content, dict) or not isinstance(content.get("settings"), dict) \
            or "protocol" not in content["settings"]:
        raise ValueError(f"Argument `output_dir` must be the folder of a Cityscapes run (with {RUN_FILE}); "
                         f"received {os.fspath(output_dir)!r}.")
    return content["settings"]


def write_aggregate(output_dir: str | os.PathLike, *, examples: Sequence[CityscapesExample] | None = None,
                    combine: str = "sum", ignored: str = "exclude", baseline_instances: str = "all",
                    examples_per_group: int = 4, draw_figures: bool = True, folder: str = "aggregate") -> Aggregate:
    """Aggregates every record of a run folder and writes the outputs (module docstring).

    Args:
        output_dir: The run folder.
        examples: The split's examples, for the Fig. S15 overlays and the coverage line; None to skip both.
        combine, ignored, baseline_instances: Aggregation choices (:func:`aggregate_records`).
        examples_per_group: Overlays per request group (0 for none).
        draw_figures: Draw the matplotlib figures (needs matplotlib).
        folder: Subfolder of the outputs.

    Returns:
        The aggregate.

    Raises:
        ValueError: If the folder holds no run or no finished image, or for a bad choice.
        ImportError: If `draw_figures` and matplotlib is missing.
    """
    settings = read_run_settings(output_dir)
    claim_run(output_dir, settings)  # the folder's lock, for a moment: no one is replacing the run now
    run = Path(output_dir)
    records = load_records(run)
    if not records:
        raise ValueError(f"Argument `output_dir` must hold finished images to aggregate; received "
                         f"{os.fspath(output_dir)!r}, which holds none yet.")
    protocol = Protocol(**settings["protocol"])
    aggregate = aggregate_records(records, protocol.groups, combine=combine, ignored=ignored,
                                  baseline_instances=baseline_instances)
    out = run / folder
    aggregate.save(out / "statistics.json")
    texts = {
        "fig6_grid_saliency.csv": tables.distribution_csv(aggregate, "prediction", "saliency"),
        "fig6_baseline.csv": tables.distribution_csv(aggregate, "prediction", "baseline"),
        "errors_grid_saliency.csv": tables.distribution_csv(aggregate, "error", "saliency"),
        "errors_baseline.csv": tables.distribution_csv(aggregate, "error", "baseline"),
        "table_1.csv": tables.table_1_csv(aggregate),
        "table_s1.csv": tables.table_s1_csv(aggregate),
        "table_s2.csv": tables.table_s2_csv(aggregate),
        "report.md": report_markdown(aggregate, settings, images_in_split=None if examples is None else len(examples)),
    }
    for name, text in texts.items():
        files.write_text(out / name, text)
    if draw_figures:
        for name, figure in (("fig6_context_statistics", plots.context_heatmaps(aggregate)),
                             ("table_1", plots.table_1_figure(aggregate))):
            for suffix in (".png", ".pdf"):
                save_figure(figure, out / f"{name}{suffix}", dpi=150)
    if examples is not None and examples_per_group > 0:
        upsampling = settings.get("optimizer", {}).get("upsampling", "bilinear")
        for group in protocol.groups:
            picture = example_overlays(records, group, examples_per_group, run_dir=run, examples=examples,
                                       protocol=protocol, upsampling=upsampling)
            if picture is not None:
                name = group.replace("/", "-").replace(" ", "_")
                figures.write_png(out / "examples" / f"{name}.png", picture)
    return aggregate
