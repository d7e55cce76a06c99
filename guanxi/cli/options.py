"""Option types shared by the commands."""

from __future__ import annotations

import datetime as dt

import typer


def parse_day(text: str) -> dt.datetime:
    """A date or timestamp (ISO 8601, UTC unless it says otherwise)."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date or timestamp (YYYY-MM-DD or ISO 8601)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
