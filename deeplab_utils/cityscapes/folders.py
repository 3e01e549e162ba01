"""One output folder written by any number of processes: the run's identity, a lock per shard, records.

A Cityscapes run may be split over shards (batch-scheduler jobs) and workers (machines) that all write
into one folder. :class:`grid_saliency_tf.experiment.RunFolder` allows one holder at a time, so:

- the top folder is a run folder held only for a moment (:func:`claim_run`): the first process writes
  ``run.json``; later ones, and reruns, must bring the same settings or are refused
  (`RunFolderMismatch`); while another process holds it briefly, the call waits and retries;
- each shard holds its own run folder ``shards/<index>-of-<count>`` for as long as it works
  (:func:`shard_lock`), so that the same shard cannot run twice at once;
- images are written as one record file each (``records/<city>/<image>.json``, atomically); distinct
  shards hold distinct images, so their files never collide. A record's presence marks its image done
  for every later process, whatever its sharding.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any, Iterator, Mapping

from grid_saliency_tf.experiment import RunFolder, RunFolderBusy

__all__ = ["RUN_KIND", "SHARD_KIND", "claim_run", "open_run", "shard_lock"]

RUN_KIND = "deeplab_utils.cityscapes"
SHARD_KIND = "deeplab_utils.cityscapes.shard"


@contextlib.contextmanager
def open_run(output_dir: str | os.PathLike, settings: Mapping[str, Any], *, overwrite: bool = False,
             wait_seconds: float = 60.0, kind: str = RUN_KIND) -> Iterator[RunFolder]:
    """`RunFolder.open` of the top folder, waiting up to `wait_seconds` while another process holds it.

    Raises:
        RunFolderBusy: If the folder stays busy for `wait_seconds`.
        RunFolderMismatch, RunFolderError: As `RunFolder.open`.
    """
    deadline = time.monotonic() + wait_seconds
    stack = contextlib.ExitStack()
    while True:
        try:
            run = stack.enter_context(RunFolder.open(output_dir, kind=kind, settings=settings,
                                                     overwrite=overwrite))
            break
        except RunFolderBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)
    with stack:
        yield run


def claim_run(output_dir: str | os.PathLike, settings: Mapping[str, Any], *, overwrite: bool = False,
              kind: str = RUN_KIND) -> bool:
    """Creates the run (``run.json``) or checks that the folder holds this run; then lets go of it.

    Args:
        output_dir: The run folder.
        settings: The run's identity.
        overwrite: Replace a run with other settings.
        kind: The kind of run (:data:`RUN_KIND` for Cityscapes; the COCO comparison has its own).

    Returns:
        True if the folder already held this run (a resume, or another shard's start).

    Raises:
        RunFolderMismatch: If the folder holds a run with other settings (and not `overwrite`).
        RunFolderError: If the folder holds foreign files or is not a folder (and not `overwrite`).
    """
    with open_run(output_dir, settings, overwrite=overwrite, kind=kind) as run:
        return run.resumed


@contextlib.contextmanager
def shard_lock(output_dir: str | os.PathLike, shard_index: int, num_shards: int, *,
               kind: str = SHARD_KIND) -> Iterator[RunFolder]:
    """Holds ``shards/<index>-of-<count>`` of the run for the duration of the block.

    Args:
        output_dir: The run folder.
        shard_index, num_shards: The shard (after :func:`~deeplab_utils.cityscapes.distribute.combined_shard`).
        kind: The lock folder's kind (:data:`SHARD_KIND` for Cityscapes; the COCO comparison has its own).

    Raises:
        RunFolderBusy: If another process works on this shard now.
    """
    name = f"{shard_index:04d}-of-{num_shards:04d}"
    with RunFolder.open(os.path.join(os.fspath(output_dir), "shards", name), kind=kind,
                        settings={"shard_index": shard_index, "num_shards": num_shards}) as shard:
        yield shard
