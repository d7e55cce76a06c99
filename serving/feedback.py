"""What reps did with recommendations, and what they did anyway: the history the contact policy reads.

Feedback (accepted / done / dismissed / snoozed) is stored in ``recommendation_feedback``; logged
outbound interactions count as done actions of every catalog action of their kind, so a contact just
greeted through the CRM is on the greeting's cooldown even if no recommendation asked for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm.pair_log import OUT_BIT, RepLog
from crm.store import FEEDBACK, bump_versions, lock_for_write
from features.actions import KINDS, kind_expr
from features.frames import Tables, need, utc
from features.logs import kinds_of
from features.scan import US_PER_DAY
from serving.catalog import Catalog
from serving.engine import HISTORY_COLUMNS, LOGGED

STATUSES = ("accepted", "done", "dismissed", "snoozed")
LOOKBACK_DAYS = 90


def record_feedback(engine: Engine, rows: list[dict[str, object]]) -> int:
    """Store feedback rows (rep_id, contact_id, action, status, ts, note) under the write lock, bumping the
    reps' data versions (their cached answers change); returns how many."""
    if rows:
        with engine.begin() as conn:
            lock_for_write(conn)
            conn.execute(sa.insert(FEEDBACK), rows)
            bump_versions(conn, {str(r["rep_id"]) for r in rows})
    return len(rows)


def read_history(engine: Engine, since: pd.Timestamp | None = None, contact_ids: list[str] | None = None
                 ) -> pd.DataFrame:
    """Feedback as history rows (rep_id, contact_id, action, day, status), about these contacts if given
    (by any rep: the contact policy protects the contact). Feedback on an action on a deal without contacts
    names the deal in ``contact_id`` (the policy's target) and is always read."""
    target = sa.func.coalesce(FEEDBACK.c.contact_id, FEEDBACK.c.opportunity_id)
    query = sa.select(FEEDBACK.c.rep_id, target, FEEDBACK.c.action, FEEDBACK.c.ts, FEEDBACK.c.status)
    if since is not None:
        query = query.where(FEEDBACK.c.ts >= since.to_pydatetime())
    if contact_ids is not None:
        query = query.where(sa.or_(FEEDBACK.c.contact_id.in_(contact_ids), FEEDBACK.c.contact_id.is_(None)))
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).fetchall(), columns=["rep_id", "contact_id", "action", "day",
                                                                      "status"])
    frame["day"] = pd.to_datetime(frame["day"], utc=True)
    return frame[HISTORY_COLUMNS]


def interaction_history(tables: Tables, as_of: str | pd.Timestamp, catalog: Catalog,
                        rep_ids: list[str] | None = None) -> pd.DataFrame:
    """Outbound interactions of the last 90 days as ``logged`` actions, the latest per pair and catalog action
    of their kind, where it is still inside that action's cooldown at ``as_of``: they start cooldowns but do
    not use up the weekly cap, which is for recommended actions."""
    cutoff = utc(as_of)
    inter = need(tables, "interactions", ["ts", "rep_id", "contact_id", "channel", "direction", "depth", "occasion",
                                           "opportunity_id", "favor", "with_executive"])
    wanted = (pl.col("ts") <= cutoff) & (pl.col("ts") > cutoff - pd.Timedelta(days=LOOKBACK_DAYS)) \
        & (pl.col("direction") == "outbound")
    if rep_ids is not None:
        wanted &= pl.col("rep_id").is_in(list(rep_ids))
    by_kind = pl.LazyFrame({"kind": [a.kind for a in catalog.actions], "action": [a.name for a in catalog.actions],
                            "cooldown": [a.cooldown for a in catalog.actions]})
    # a cooldown only asks for the latest touch of each (pair, action) inside it: one row each, and none for
    # a touch older than its action's cooldown, which blocks nothing now or later (a rep's 90 days were
    # 3k rows, most of them past their cooldowns, and their hand-over to pandas half a request's history)
    rows = (inter.lazy().filter(wanted).with_columns(kind=kind_expr()).join(by_kind, on="kind")
            .filter(pl.col("ts") > pl.lit(cutoff) - pl.duration(days=pl.col("cooldown")))
            .group_by("rep_id", "contact_id", "action").agg(day=pl.col("ts").max())
            .sort("rep_id", "contact_id", "action").collect())
    return pd.DataFrame({"rep_id": rows.get_column("rep_id").to_numpy().astype(object),
                         "contact_id": rows.get_column("contact_id").to_numpy().astype(object),
                         "action": rows.get_column("action").to_numpy().astype(object),
                         "day": pd.DatetimeIndex(rows.get_column("day").to_pandas()),
                         "status": np.full(rows.height, LOGGED, dtype=object)})[HISTORY_COLUMNS]


def logged_touches(log: RepLog, as_of: str | pd.Timestamp, catalog: Catalog) -> pd.DataFrame:
    """:func:`interaction_history` of one rep from its pair logs (``crm.pair_log``): the same rows, read
    from the packed codes (kinds by ``features.logs.kinds_of``) without decoding the rows to text."""
    until = utc(as_of).value // 1000
    window = (log.ts <= until) & (log.ts > until - LOOKBACK_DAYS * US_PER_DAY) & ((log.code & OUT_BIT) > 0)
    pair = np.repeat(np.arange(len(log.contact_ids)), np.diff(log.offsets))[window]
    ts, kind = log.ts[window], kinds_of(log.code[window])
    none = np.iinfo(np.int64).min
    contacts, actions, days = [], [], []
    for action in catalog.actions:
        rows = (kind == KINDS.index(action.kind)) & (ts > until - action.cooldown * US_PER_DAY)
        if not rows.any():
            continue
        latest = np.full(len(log.contact_ids), none, np.int64)
        np.maximum.at(latest, pair[rows], ts[rows])
        hit = np.flatnonzero(latest > none)
        contacts.append(log.contact_ids[hit])
        actions.append(np.full(len(hit), action.name, dtype=object))
        days.append(latest[hit])
    if not contacts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HISTORY_COLUMNS}).astype(
            {"day": "datetime64[us, UTC]"})
    out = pd.DataFrame({"rep_id": log.rep_id, "contact_id": np.concatenate(contacts).astype(object),
                        "action": np.concatenate(actions),
                        "day": pd.DatetimeIndex(np.concatenate(days).astype("datetime64[us]")).tz_localize("UTC"),
                        "status": LOGGED})
    return out.sort_values(["contact_id", "action"], kind="stable").reset_index(drop=True)[HISTORY_COLUMNS]


def history(engine: Engine | None, tables: Tables, as_of: str | pd.Timestamp, catalog: Catalog,
            rep_ids: list[str] | None = None, contact_ids: list[str] | None = None, log: RepLog | None = None
            ) -> pd.DataFrame:
    """Feedback plus logged touches, the input of the contact policy; ``contact_ids``: the feedback about
    these contacts only (a rep's candidates: the policy reads nothing else), not the whole table's; ``log``:
    the one rep's pair logs, read instead of ``tables``' interactions (what a request holds)."""
    parts = [logged_touches(log, as_of, catalog) if log is not None else
             interaction_history(tables, as_of, catalog, rep_ids)]
    if engine is not None:
        parts.append(read_history(engine, utc(as_of) - pd.Timedelta(days=LOOKBACK_DAYS), contact_ids))
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=HISTORY_COLUMNS)
