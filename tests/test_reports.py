"""The feedback report: recommendations offered and what reps did with them, by week and action."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from crm.importer import import_dir
from crm.store import FEEDBACK, SERVED
from guanxi.cli import app
from tests.conftest import tiny_tables, write_dir


def test_feedback_report_counts_offered_and_each_status_by_week(engine: Engine, tmp_path: Path) -> None:
    import_dir(engine, write_dir(tmp_path / "in", tiny_tables()))
    monday = dt.datetime(2024, 3, 4, 9, tzinfo=dt.UTC)
    served = [{"ts": monday + dt.timedelta(days=d), "rep_id": "r1", "contact_id": "c1", "action": a, "rank": 1,
               "priority": 1.0, "model_versions": "x", "request_id": None}
              for d, a in [(0, "check_in"), (1, "check_in"), (6, "visit"), (7, "check_in")]]
    feedback = [{"ts": monday + dt.timedelta(days=d), "rep_id": "r1", "contact_id": "c1", "action": a, "status": s,
                 "note": None} for d, a, s in [(1, "check_in", "done"), (2, "check_in", "dismissed"),
                                               (6, "visit", "snoozed"), (8, "check_in", "done")]]
    with engine.begin() as conn:
        conn.execute(sa.insert(SERVED), served)
        conn.execute(sa.insert(FEEDBACK), feedback)
    result = CliRunner().invoke(app, ["report", "feedback", "--json"])
    assert result.exit_code == 0, result.output
    rows = {(r["week"], r["action"]): r for r in json.loads(result.stdout)}
    assert set(rows) == {("2024-03-04", "check_in"), ("2024-03-04", "visit"), ("2024-03-11", "check_in")}
    first = rows[("2024-03-04", "check_in")]
    assert (first["offered"], first["done"], first["dismissed"], first["snoozed"], first["accepted"]) == (2, 1, 1, 0, 0)
    assert rows[("2024-03-04", "visit")]["snoozed"] == 1 and rows[("2024-03-04", "visit")]["element"] == "presence"
    assert (rows[("2024-03-11", "check_in")]["offered"], rows[("2024-03-11", "check_in")]["done"]) == (1, 1)
    last = CliRunner().invoke(app, ["report", "feedback", "--json", "--weeks", "1"])
    assert {r["week"] for r in json.loads(last.stdout)} == {"2024-03-11"}


def test_feedback_report_on_an_empty_store_says_so(engine: Engine) -> None:
    result = CliRunner().invoke(app, ["report", "feedback"])
    assert result.exit_code == 0 and "no recommendations served" in result.stdout
