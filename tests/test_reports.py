"""The feedback report: recommendations offered and what reps did with them, by week and action."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
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


@pytest.fixture(scope="module")
def rollout_log(served_world: dict[str, object]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four weeks of the small world with reps offered Guanxi's plan, logged as the API logs it."""
    from serving.models import load_models
    from serving.policy_eval import rollout_feedback

    models, _ = load_models(served_world["models"])  # type: ignore[arg-type]
    return rollout_feedback(served_world["sim"], models, weeks=4, k=3, compliance=0.7, seed=3)  # type: ignore[arg-type]


@pytest.mark.slow
def test_feedback_report_on_a_rollouts_logged_feedback(engine: Engine,
                                                       rollout_log: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    served, feedback = rollout_log
    assert len(served) == len(feedback) > 100
    assert set(feedback["status"]) == {"done", "dismissed"}
    with engine.begin() as conn:
        conn.execute(sa.insert(SERVED), served.to_dict("records"))
        conn.execute(sa.insert(FEEDBACK), feedback.to_dict("records"))
    result = CliRunner().invoke(app, ["report", "feedback", "--json", "--weeks", "52"])
    assert result.exit_code == 0, result.output
    report = pd.DataFrame(json.loads(result.stdout))
    # the same counts computed here from the rollout's own frames, by Monday-based week and action
    week = lambda ts: (pd.to_datetime(ts, utc=True).dt.tz_localize(None).dt.to_period("W-SUN")  # noqa: E731
                       .dt.start_time.dt.strftime("%Y-%m-%d"))
    offered = served.assign(week=week(served["ts"])).groupby(["week", "action"]).size()
    status = (feedback.assign(week=week(feedback["ts"])).groupby(["week", "action", "status"]).size()
              .unstack(fill_value=0))
    got = report.set_index(["week", "action"])
    assert got["offered"].sort_index().to_dict() == offered.sort_index().to_dict()
    for s in ("done", "dismissed"):
        assert got[s].sort_index().to_dict() == status[s].reindex(got.index, fill_value=0).sort_index().to_dict()
    assert got["done"].sum() == (feedback["status"] == "done").sum() > 0
    assert (got["accepted"] == 0).all() and (got["snoozed"] == 0).all()


@pytest.mark.slow
def test_done_feedback_reaches_the_effect_model_as_treatments(engine: Engine,
                                                              rollout_log: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    from features.actions import treatments
    from guanxi.services.training import training_tables

    _, feedback = rollout_log
    with engine.begin() as conn:
        conn.execute(sa.insert(FEEDBACK), feedback.to_dict("records"))
    tables = training_tables(engine)
    done = feedback[feedback["status"] == "done"]
    assert len(tables["done_actions"]) == len(done)
    start = pd.Timestamp(done["ts"].min()) - pd.Timedelta(days=1)
    counted = treatments(tables, start, days=60)  # the store holds no interactions: every done action counts
    for kind, n in done.groupby("kind").size().items():
        assert counted[f"t_{kind}"].sum() == n


def test_a_done_action_the_crm_also_logged_counts_once() -> None:
    from features.actions import treatments

    day = pd.Timestamp("2024-03-04 10:00", tz="UTC")
    inter = pd.DataFrame({"ts": [day], "rep_id": ["r1"], "contact_id": ["c1"], "channel": ["visit"],
                          "direction": ["outbound"], "depth": [2], "occasion": [None], "opportunity_id": [None],
                          "favor": [None], "with_executive": [False]})
    done = pd.DataFrame({"ts": [day + pd.Timedelta(hours=6),   # the logged visit, reported done: not again
                                day + pd.Timedelta(days=1),    # a favor the log does not show: counts
                                day + pd.Timedelta(days=2),    # another pair's check-in: counts
                                day + pd.Timedelta(days=30)],  # after the window: not counted
                         "rep_id": ["r1", "r1", "r1", "r1"], "contact_id": ["c1", "c1", "c2", "c1"],
                         "kind": ["visit", "favor", "check_in", "visit"]})
    t = treatments({"interactions": inter, "done_actions": done}, day - pd.Timedelta(days=1), days=14)
    t = t.set_index("contact_id")
    assert (t.loc["c1", "t_visit"], t.loc["c1", "t_favor"], t.loc["c1", "t_check_in"]) == (1, 1, 0)
    assert (t.loc["c2", "t_check_in"], t.loc["c2", "t_visit"]) == (1, 0)
    assert t.drop(columns="rep_id").to_numpy().sum() == 3
