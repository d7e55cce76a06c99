"""A progress bar for long commands, shown on a terminal only (never in --json output or logs)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Bar:
    """Told the size of the work once (``start``), then each finished step (``advance``)."""

    def __init__(self, progress: Any | None, what: str) -> None:
        self._progress, self._what = progress, what
        self._task: Any = None

    def start(self, total: int, done: int = 0) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task(self._what, total=total, completed=done)

    def advance(self, *_: object) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)


@contextmanager
def progress_bar(enabled: bool, what: str) -> Iterator[Bar]:
    if not (enabled and sys.stderr.isatty()):
        yield Bar(None, what)
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True)) as progress:
        yield Bar(progress, what)
