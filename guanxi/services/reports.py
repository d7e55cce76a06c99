"""What happened to the recommendations: offered (served by the API or a page), accepted, done, dismissed
and snoozed, by week, action and element — the acceptance a team reviews and the effect model can learn
from."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm.store import FEEDBACK, SERVED
from serving.catalog import Catalog
from serving.feedback import STATUSES

COLUMNS = ["week", "action", "element", "offered", *STATUSES]


def _weekly(frame: pd.DataFrame) -> pd.Series:
    ts = pd.to_datetime(frame["ts"], utc=True)
    return (ts.dt.tz_convert(None).dt.to_period("W-SUN").dt.start_time.dt.strftime("%Y-%m-%d")) if len(frame) \
        else pd.Series(dtype=str)


def feedback_report(engine: Engine, catalog: Catalog, weeks: int | None = None) -> pd.DataFrame:
    """One row per (week starting Monday, action): recommendations offered and feedback by status."""
    with engine.connect() as conn:
        served = pd.DataFrame(conn.execute(sa.select(SERVED.c.ts, SERVED.c.action)).all(), columns=["ts", "action"])
        fed = pd.DataFrame(conn.execute(sa.select(FEEDBACK.c.ts, FEEDBACK.c.action, FEEDBACK.c.status)).all(),
                           columns=["ts", "action", "status"])
    offered = served.assign(week=_weekly(served)).groupby(["week", "action"]).size().rename("offered")
    counts = (fed.assign(week=_weekly(fed)).groupby(["week", "action", "status"]).size().unstack("status")
              .reindex(columns=list(STATUSES)))
    report = pd.concat([offered, counts], axis=1).fillna(0).astype(int).reset_index()
    if report.empty:
        return pd.DataFrame(columns=COLUMNS)
    report["element"] = [catalog[a].element if a in catalog.names else "?" for a in report["action"]]
    report = report[COLUMNS].sort_values(["week", "action"]).reset_index(drop=True)
    if weeks is not None:
        report = report[report["week"].isin(sorted(report["week"].unique())[-weeks:])]
    return report.reset_index(drop=True)
