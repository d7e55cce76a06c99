"""How the command line reports a refused request: a clear message and an exit code, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from guanxi.services.errors import Refused

EXIT = {"invalid": 2, "conflict": 1, "forbidden": 1, "not_found": 1, "unavailable": 1}
"""2 for a usage error (a bad option value), 1 for a failure."""

__all__ = ["EXIT", "Refused", "refusals"]


@contextmanager
def refusals() -> Iterator[None]:
    """Turn :class:`Refused` into ``error: ...`` on stderr and its exit code."""
    try:
        yield
    except Refused as exc:
        # plain echo: problem lines must stay grep-able (no wrapping, no markup or emoji codes)
        typer.echo(exc.detail if exc.detail.startswith(("import ", "error: ")) else f"error: {exc.detail}", err=True)
        for e in exc.errors or []:
            typer.echo(f"{e['location']}: {e['message']}" if e.get("location") else str(e["message"]), err=True)
        raise typer.Exit(EXIT[exc.kind]) from None
