"""One progress reporter for long jobs: done/total, rate and time left, on stderr; silent at verbose 0.

A thin wrapper of `tqdm` (a dependency already) that accepts both kinds of progress callback the
library uses: "this many more finished" (`update`) and "this many finished so far" (`update_to`)::

    with Progress(total=len(requests), description="requests", unit="req", verbose=verbose) as bar:
        for ...:
            bar.update(1)
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import IO

import tqdm

__all__ = ["Progress"]


class Progress:
    """A progress bar of ``total`` items (``3/10 [00:02<00:05, 1.50 img/s]``).

    Args:
        total: Number of items, or None if unknown (then no time left is shown).
        description: Text before the bar.
        unit: Name of one item.
        verbose: 0 prints nothing; 1 or more shows the bar.
        stream: Where to print; None for stderr.

    Raises:
        ValueError: For a negative `total` or `verbose`.
    """

    def __init__(self, total: int | None, *, description: str = "", unit: str = "it", verbose: int = 1,
                 stream: IO[str] | None = None):
        if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
            raise ValueError(f"Argument `total` must be a non-negative int or None; received {total!r}.")
        if isinstance(verbose, bool) or not isinstance(verbose, int) or verbose < 0:
            raise ValueError(f"Argument `verbose` must be a non-negative int; received {verbose!r}.")
        self.total = total
        self.done = 0
        self.bar = tqdm.tqdm(total=total, desc=description or None, unit=unit, disable=verbose == 0,
                             file=stream if stream is not None else sys.stderr, dynamic_ncols=True)

    def update(self, count: int = 1) -> None:
        """Records that `count` more items finished."""
        self.done += count
        self.bar.update(count)

    def update_to(self, done: int) -> None:
        """Records that `done` items have finished in all (never goes backwards)."""
        if done > self.done:
            self.update(done - self.done)

    def close(self) -> None:
        """Ends the bar (prints its final state)."""
        self.bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
