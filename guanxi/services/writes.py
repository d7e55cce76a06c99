"""Writes from the API: interactions and recommendation feedback, checked, locked and versioned.

Every write takes the store's write lock, so counts are exact when many clients post at once, and bumps
the data version of the reps it touches, so every worker's cache sees it on its next request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy.engine import Engine

from crm.importer import ConflictError, ImportOptions, import_frames
from crm.validate import ValidationError
from guanxi.services.errors import Refused
from guanxi.settings import Settings
from serving.catalog import Catalog
from serving.feedback import record_feedback
from serving.store_data import StoreData


@dataclass(frozen=True)
class InteractionsWritten:
    received: int
    inserted: int
    duplicates: int
    updated: int


def _outside(ts: object, settings: Settings) -> str | None:
    """Why ``ts`` (an aware datetime) is refused, if it is: compared as datetimes, since years like 1 or
    9999 do not fit a pandas timestamp."""
    lo, hi = (t.to_pydatetime() for t in settings.ts_window())
    assert isinstance(ts, dt.datetime)
    if lo <= ts <= hi:
        return None
    return f"{ts.isoformat()} is outside the accepted range {lo.date()} .. {hi:%Y-%m-%d %H:%M} UTC"


def _errors(exc: ValidationError, what: str) -> list[dict[str, object]]:
    return [{"row": p.row - 1, "location": f"{what}[{p.row - 1}].{p.column}", "message": p.reason}
            for p in exc.report.problems]


def write_interactions(engine: Engine, rows: list[dict[str, object]], settings: Settings,
                       may_write: Callable[[str], bool], update: bool = False) -> InteractionsWritten:
    """Store posted interactions, all or none.

    Args:
        rows: the interactions, ``ts`` as aware datetimes.
        may_write: whether the caller may write for a rep (its key's scope).
        update: replace stored rows with the same id and other content (else they are a conflict); the
            stored row's rep must be writable too, so a scoped key cannot take over another team's row.
    """
    for i, row in enumerate(rows):
        if not may_write(str(row["rep_id"])):
            raise Refused("forbidden", f"interactions[{i}]: this API key may not write for rep {row['rep_id']!r}")
    outside = [{"row": i, "location": f"interactions[{i}].ts", "message": message}
               for i, row in enumerate(rows) if (message := _outside(row["ts"], settings))]
    if outside:
        raise Refused("invalid", f"{len(outside)} problem(s); nothing was written: {outside[0]['location']}: "
                      f"{outside[0]['message']}", outside)

    def authorize(table: str, stored: pd.DataFrame) -> None:
        for rep in stored.get("rep_id", pd.Series(dtype=str)).dropna().astype(str).unique():
            if not may_write(rep):
                raise Refused("forbidden", f"an interaction to update belongs to rep {rep!r}, which this API key "
                              "may not write for")

    frame = pd.DataFrame([{**row, "ts": pd.Timestamp(row["ts"]).tz_convert("UTC")} for row in rows]).astype(object)
    frame = frame.where(frame.notna(), None)
    options = ImportOptions(update=update, window=settings.ts_window(), erasure_key=settings.erasure_key(),
                            authorize=authorize, counts=False)
    try:
        result = import_frames(engine, {"interactions": frame}, {"interactions": "interactions"}, options)
    except ConflictError as exc:
        raise Refused("conflict", f"{exc.report.count} field(s) differ from stored interactions with the same id; "
                      "nothing was written (on_conflict=update replaces them)", _errors(exc, "interactions")) from None
    except ValidationError as exc:
        raise Refused("invalid", f"{exc.report.count} problem(s); nothing was written",
                      _errors(exc, "interactions")) from None
    return InteractionsWritten(received=len(rows), inserted=result.inserted["interactions"],
                               duplicates=result.unchanged["interactions"], updated=result.updated["interactions"])


def write_feedback(data: StoreData, row: dict[str, object], settings: Settings, catalog: Catalog) -> int:
    """Store one feedback row (ts default now, within the accepted window) about a catalog action and a
    known contact — or, for an action on a deal without contacts, a known deal; returns how many rows were
    stored."""
    if row["action"] not in catalog.names:
        raise Refused("invalid", f"action {row['action']!r} is not in the catalog ({', '.join(catalog.names)})",
                      [{"location": "body.action", "message": "not in the catalog"}])
    deal = catalog[str(row["action"])].target == "deal"
    noun, table = ("deal", "opportunities") if deal else ("contact", "contacts")
    about, other = ("opportunity_id", "contact_id") if deal else ("contact_id", "opportunity_id")
    if row.get(about) is None or row.get(other) is not None:
        raise Refused("invalid", f"action {row['action']!r} is about a {noun}: give {about} and not {other}",
                      [{"location": f"body.{about}", "message": "required"}])
    if not (data.static()[table][about] == row[about]).any():
        raise Refused("invalid", f"no {noun} {row[about]!r}",
                      [{"location": f"body.{about}", "message": f"unknown {noun}"}])
    ts = row.get("ts") or dt.datetime.now(dt.UTC)
    if message := _outside(ts, settings):
        raise Refused("invalid", f"ts: {message}", [{"location": "body.ts", "message": message}])
    status = row["status"]
    return record_feedback(data.engine, [{**row, "status": getattr(status, "value", status),
                                          "kind": catalog[str(row["action"])].kind,
                                          "ts": pd.Timestamp(ts).tz_convert("UTC").to_pydatetime()}])
