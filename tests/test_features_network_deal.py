"""Network and deal-snapshot features: hand-computed values, point in time, nulls for missing data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crm.adapters.maven import read_maven
from crm.validate import validate_tables
from features.deal import deal_features
from features.network import account_network, contact_network, tie_strength
from features.registry import DEAL, DEAL_IDS, STRONG_TIE
from features.relationship import relationship_features
from guanxi.cli import app
from tests.conftest import DATASETS
from tests.test_features_relationship import AS_OF, _ts, tiny


def world() -> dict[str, pd.DataFrame]:
    t = tiny()
    t["contacts"] = pd.DataFrame({
        "contact_id": ["c1", "c2", "c3"], "account_id": ["a1", "a1", "a1"],
        "seniority": ["director", "c_level", "individual"],
        "buying_role": ["influencer", "decision_maker", "user"], "birthday_month": [6, None, None],
        "birthday_day": [22, None, None]})
    extra = pd.DataFrame({  # r2 knows c2 (the decision maker) well and recently
        "ts": pd.to_datetime([f"2024-06-{d:02d} 09:00" for d in (10, 11, 20, 21, 28)], utc=True),
        "rep_id": "r2", "contact_id": "c2", "channel": "meeting",
        "direction": ["outbound", "inbound", "outbound", "inbound", "outbound"],
        "depth": pd.array([2] * 5, dtype="Int64"), "favor": None, "with_executive": pd.array([True] + [False] * 4,
                                                                                              dtype="boolean"),
        "opportunity_id": "o2"})
    t["interactions"] = pd.concat([t["interactions"].assign(opportunity_id=None), extra], ignore_index=True)
    t["opportunities"] = t["opportunities"].assign(
        owner_rep_id=["r1", "r1", "r2"], amount=[1000.0, 20000.0, 5000.0], type="new_business", product="P",
        competitors=[0, 2, 1], attributes=[None, json.dumps({"region_score": 7, "channel": "partner"}), None])
    t["opportunity_stages"] = pd.DataFrame({
        "opportunity_id": ["o2", "o2", "o2", "o2"],
        "entered_at": [_ts("2024-06-25"), _ts("2024-06-26"), _ts("2024-06-28"), _ts("2024-07-05")],
        "stage": ["qualification", "proposal", "qualification", "won"]})
    t["opportunity_contacts"] = pd.DataFrame({
        "opportunity_id": ["o2", "o2", "o2"], "contact_id": ["c1", "c2", "c3"],
        "role": ["influencer", "decision_maker", "user"], "stance": ["champion", "neutral", "blocker"],
        "added_at": [_ts("2024-06-25"), _ts("2024-06-25"), _ts("2024-07-01")]})  # c3 joins after as_of
    return t


def test_tie_strength_and_contact_network() -> None:
    t = world()
    rel = relationship_features(t, AS_OF)
    ties = rel.assign(tie=tie_strength(rel)).set_index(["rep_id", "contact_id"])["tie"]
    r2c2 = math.log1p(5) * (0.5 + 2 / 5) * math.exp(-(1 + 15 / 24) / 90)
    assert ties[("r2", "c2")] == pytest.approx(r2c2)
    net = contact_network(rel, t).set_index("contact_id")
    assert net.loc["c1", "reps_tied"] == 2 and net.loc["c2", "reps_tied"] == 1 and net.loc["c3", "reps_tied"] == 0
    assert net.loc["c2", "best_tie_rep_id"] == "r2"
    assert net.loc["c2", "reps_strong"] == (1 if r2c2 >= STRONG_TIE else 0)
    assert pd.isna(net.loc["c3", "best_tie"])
    acct = account_network(rel, t).set_index("account_id").loc["a1"]
    strong = int(ties[("r2", "c2")] >= STRONG_TIE) + int(max(ties[("r1", "c1")], ties[("r2", "c1")]) >= STRONG_TIE)
    assert (acct.contacts, acct.contacts_tied, acct.contacts_strong) == (3, 2, strong)
    assert acct.breadth == pytest.approx(strong / 3)


def test_deal_snapshot_hand_computed() -> None:
    t = world()
    t["opportunities"] = t["opportunities"].assign(outcome=["won", "open", "open"])
    rel = relationship_features(t, AS_OF)
    deals = deal_features(t, AS_OF, rel)
    assert list(deals.columns[:3]) == list(DEAL_IDS)
    assert set(deals["opportunity_id"]) == {"o2"}  # o1 closed before as_of, o3 created after it
    d = deals.set_index("opportunity_id").loc["o2"]
    assert d.stage_rank == 1  # back in qualification; the win on 5 July is not known yet
    assert (d.stage_changes, d.regressions) == (2, 1)
    assert d.days_in_stage == pytest.approx(2.0)
    assert d.age_days == pytest.approx(5.0)
    assert (d.amount, d.competitors) == (20000.0, 2)
    assert d.log_amount == pytest.approx(math.log1p(20000))
    assert (d.activity_30d, d.activity_90d) == (5, 5)
    assert d.chain_size == 2  # c3 was added after as_of
    best = rel.assign(tie=tie_strength(rel)).groupby("contact_id")["tie"].max()
    assert d.chain_coverage == pytest.approx(np.mean([best["c1"] >= STRONG_TIE, best["c2"] >= STRONG_TIE]))
    assert d.dm_best_tie == pytest.approx(best["c2"])
    assert d.owner_dm_tie == 0.0  # the owner r1 has no tie to the decision maker c2
    assert (d.chain_champions, d.chain_blockers) == (1, 0)
    assert d.exec_touches_90d == 2  # r1 with c1 on 21 June, r2 with c2 on 10 June
    assert d.attr_region_score == 7 and d.attr_channel == "partner"
    # track record: r1 won o1 (closed 1 June) before as_of; the only closed deal sets the prior too
    assert (d.owner_closed_deals_365d, d.account_won_deals_365d, d.owner_win_rate) == (1, 1, pytest.approx(1.0))
    assert d.days_per_stage == pytest.approx(5.0 / 2)
    assert [c for c in deals.columns if not c.startswith("attr_")] == [*DEAL_IDS, *(f.name for f in DEAL)]


def test_track_record_counts_the_last_year_and_the_win_rate_all_of_it() -> None:
    """Counts over a window do not grow with the age of the CRM; the shrunk win rate keeps every deal."""
    t = world()
    old = pd.DataFrame({"opportunity_id": ["o0", "o00"], "account_id": "a1", "owner_rep_id": "r1",
                        "created_at": [_ts("2023-01-02"), _ts("2023-06-01")],
                        "closed_at": [_ts("2023-03-01"), _ts("2023-07-01")],  # 487 and 365 days before as_of
                        "amount": 500.0, "type": "new_business", "product": "P", "competitors": 0,
                        "attributes": None, "outcome": "lost"})
    t["opportunities"] = pd.concat([t["opportunities"].assign(outcome=["won", "open", "open"]), old],
                                   ignore_index=True)
    d = deal_features(t, AS_OF).set_index("opportunity_id").loc["o2"]
    assert (d.owner_closed_deals_365d, d.account_won_deals_365d) == (1, 1)  # o1; o0 and o00 are older
    prior = 1 / 3  # one of the three closed deals was won
    assert d.owner_win_rate == pytest.approx((1 + 5 * prior) / (3 + 5))


def test_deal_snapshot_ignores_the_future() -> None:
    t = world()
    later = world()
    later["opportunity_stages"] = pd.concat([later["opportunity_stages"], pd.DataFrame({
        "opportunity_id": ["o2"], "entered_at": [_ts("2024-07-20")], "stage": ["lost"]})], ignore_index=True)
    later["opportunities"].loc[1, "closed_at"] = _ts("2024-07-20")
    later["interactions"] = pd.concat([later["interactions"], later["interactions"].tail(2).assign(
        ts=_ts("2024-08-01"))], ignore_index=True)
    pd.testing.assert_frame_equal(deal_features(t, AS_OF), deal_features(later, AS_OF))


def test_maven_deals_without_interactions_give_nulls() -> None:
    frames, sources = read_maven(DATASETS / "maven-crm")
    typed = validate_tables(frames, sources, lambda t, c, v: set())
    deals = deal_features(typed, "2017-06-30")
    assert len(deals) > 0
    dated = deals["age_days"].notna()
    assert deals.loc[dated, "stage_rank"].notna().all()
    # prospects the export gives no date at all are open whatever the day, without a stage history
    pipe = pd.read_csv(DATASETS / "maven-crm" / "sales_pipeline.csv")
    prospects = set(pipe.loc[pipe["engage_date"].isna() & (pipe["deal_stage"] == "Prospecting"), "opportunity_id"])
    assert set(deals.loc[~dated, "opportunity_id"]) == prospects and deals.loc[~dated, "stage_rank"].isna().all()
    for name in ("chain_size", "dm_best_tie", "activity_30d", "account_breadth"):
        assert deals[name].isna().all(), name
    assert "attr_series" in deals.columns


def test_cli_features(home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["simulate", "--size", "small", "--seed", "4", "--json"]).exit_code == 0
    for kind in ("relationship", "network", "deal"):
        out = tmp_path / f"{kind}.parquet"
        result = runner.invoke(app, ["features", kind, "--as-of", "2024-02-01", "--out", str(out), "--json"])
        assert result.exit_code == 0, result.output
        frame = pd.read_parquet(out)
        assert json.loads(result.stdout)["rows"] == len(frame) > 0
    rel = pd.read_parquet(tmp_path / "relationship.parquet")
    assert list(rel.columns[:3]) == ["rep_id", "contact_id", "account_id"]
    bad = runner.invoke(app, ["features", "deal", "--as-of", "someday", "--out", str(tmp_path / "x.parquet")])
    assert bad.exit_code == 2 and "'someday' is not a date" in bad.stderr
