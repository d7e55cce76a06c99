"""Option types shared by the commands."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from crm.sim.degrade import Degrade


def parse_day(text: str) -> dt.datetime:
    """A date or timestamp (ISO 8601, UTC unless it says otherwise)."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date or timestamp (YYYY-MM-DD or ISO 8601)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def degraded(drop: list[str] | None, thin_actions: float | None) -> Degrade:
    """The export options `guanxi simulate` and `guanxi evaluate-policy` share."""
    from crm.sim.degrade import Degrade

    try:
        return Degrade(frozenset(drop or ()), thin_actions)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
