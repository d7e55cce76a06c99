"""Relationship features: hand-computed values, point in time (property-tested), one code path."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.sim.simulate import simulate
from features import relationship as rel
from features import scan
from features.registry import RELATIONSHIP, RELATIONSHIP_IDS, render_markdown
from features.relationship import relationship_features
from tests.conftest import ROOT

AS_OF = "2024-06-30T00:00:00Z"


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def tiny() -> dict[str, pd.DataFrame]:
    rows = [  # ts, rep, contact, channel, direction, depth, favor, with_executive
        ("2024-01-01 10:00", "r1", "c1", "email", "outbound", 1, None, False),  # New Year's Day greeting
        ("2024-01-02 10:00", "r1", "c1", "email", "inbound", 1, None, False),  # their answer, 24 h later
        ("2024-05-01 10:00", "r1", "c1", "visit", "outbound", 3, "given", False),  # during deal o1
        ("2024-06-20 10:00", "r1", "c1", "call", "inbound", 4, None, False),  # they start a deep talk
        ("2024-06-21 12:00", "r1", "c1", "call", "outbound", 2, "received", True),  # our answer, 26 h
        ("2024-06-29 09:00", "r2", "c1", "email", "inbound", None, None, None),
        ("2024-07-15 10:00", "r1", "c1", "visit", "outbound", 4, "given", True),  # after as_of: never read
    ]
    inter = pd.DataFrame(rows, columns=["ts", "rep_id", "contact_id", "channel", "direction", "depth", "favor",
                                        "with_executive"])
    inter["ts"] = pd.to_datetime(inter["ts"], utc=True)
    inter["depth"] = inter["depth"].astype("Int64")
    inter["with_executive"] = inter["with_executive"].astype("boolean")
    contacts = pd.DataFrame({"contact_id": ["c1"], "account_id": ["a1"], "seniority": ["director"],
                             "buying_role": ["influencer"], "birthday_month": [6], "birthday_day": [22]})
    accounts = pd.DataFrame({"account_id": ["a1"], "tier": ["key"], "potential": [50_000.0]})
    opps = pd.DataFrame({"opportunity_id": ["o1", "o2", "o3"], "account_id": ["a1"] * 3,
                         "created_at": [_ts("2024-04-01"), _ts("2024-06-25"), _ts("2024-07-10")],
                         "closed_at": [_ts("2024-06-01"), _ts("2024-08-01"), pd.NaT],
                         "outcome": ["won", "lost", "open"]})
    return {"interactions": inter, "contacts": contacts, "accounts": accounts, "opportunities": opps}


def test_columns_are_the_registry() -> None:
    got = relationship_features(tiny(), AS_OF)
    assert list(got.columns) == [*RELATIONSHIP_IDS, *(f.name for f in RELATIONSHIP)]
    assert (ROOT / "docs" / "features.md").read_text() == render_markdown()


def test_hand_computed_pair() -> None:
    f = relationship_features(tiny(), AS_OF).set_index(["rep_id", "contact_id"]).loc[("r1", "c1")]
    ages = np.array([180 + 14 / 24, 179 + 14 / 24, 59 + 14 / 24, 9 + 14 / 24, 8.5])
    gaps = -np.diff(ages)
    # frequency
    assert (f.n_30d, f.n_90d, f.n_365d, f.out_90d, f.in_90d) == (2, 3, 5, 2, 1)
    assert (f.n_visit_90d, f.n_call_90d, f.n_email_90d) == (1, 2, 0)
    assert f.days_since_last == pytest.approx(8.5)
    assert f.gap_mean_days == pytest.approx(gaps.mean())
    assert f.gap_cv == pytest.approx(gaps.std(ddof=1) / gaps.mean())
    assert f.festivals_greeted_365d == 1  # New Year's Day; Labour Day is not a greeting festival
    assert f.birthday_greeted_365d == 1  # 21 June, the day before the 22 June birthday
    assert f.maintenance_share_365d == pytest.approx(4 / 5)  # only the 1 May visit fell inside deal o1
    # length
    assert f.tenure_days == pytest.approx(ages[0])
    assert f.active_months_365d == 4
    assert f.longest_silence_days == pytest.approx(120.0)
    assert f.trend_90d == pytest.approx((3 - 1) / (3 + 1 + 1))
    # depth
    assert (f.depth_max, f.depth_mean, f.deep_share) == (4, pytest.approx(2.2), pytest.approx(0.4))
    assert f.days_since_deep == pytest.approx(ages[3])
    assert f.deep_by_contact == 1
    # reciprocity
    assert f.inbound_share == pytest.approx(0.4)
    assert f.in_out_ratio == pytest.approx(2 / 4)
    assert f.reply_rate_72h == pytest.approx(1 / 3)
    assert f.their_latency_h == pytest.approx(np.median([24.0, 50 * 24 + 0.0]))
    assert f.our_latency_h == pytest.approx(np.median([120 * 24.0, 26.0]))
    assert f.initiated_by_contact_share == pytest.approx(1 / 3)
    # goodwill and presence
    assert f.favor_ledger == pytest.approx(math.exp(-ages[2] / 720) - math.exp(-ages[4] / 720))
    assert f.gave_before_asked == 1
    assert (f.exec_touches_365d, f.events_365d) == (1, 0)
    # value
    assert (f.account_id, f.seniority_rank, f.buying_role, f.account_tier, f.account_potential) == (
        "a1", 2, "influencer", "key", 50_000.0)


def test_missing_fields_give_nulls_not_errors() -> None:
    f = relationship_features(tiny(), AS_OF).set_index(["rep_id", "contact_id"]).loc[("r2", "c1")]
    assert f.n_30d == 1
    for name in ("depth_max", "depth_mean", "deep_share", "days_since_deep", "reply_rate_72h", "gap_mean_days",
                 "gave_before_asked"):
        assert pd.isna(f[name]), name
    email_only = {"interactions": tiny()["interactions"].drop(columns=["depth", "favor", "with_executive"])}
    g = relationship_features(email_only, AS_OF)
    assert len(g) == 2
    for name in ("depth_max", "maintenance_share_365d", "birthday_greeted_365d", "seniority_rank", "account_tier",
                 "gave_before_asked"):
        assert g[name].isna().all(), name


events = st.lists(
    st.tuples(st.integers(0, 400 * 24), st.sampled_from(["r1", "r2"]), st.sampled_from(["c1", "c2"]),
              st.sampled_from(["email", "call", "visit"]), st.sampled_from(["inbound", "outbound"]),
              st.one_of(st.none(), st.integers(0, 4)), st.sampled_from([None, "given", "received"])),
    min_size=1, max_size=40)


def _frame(rows: list[tuple], start: pd.Timestamp) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["hour", "rep_id", "contact_id", "channel", "direction", "depth", "favor"])
    df["ts"] = start + pd.to_timedelta(df.pop("hour"), unit="h")
    df["depth"] = df["depth"].astype("Int64")
    df["with_executive"] = False
    return df


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(past=events, future=events, cut_hours=st.integers(24, 400 * 24))
def test_point_in_time(past: list[tuple], future: list[tuple], cut_hours: int) -> None:
    start = _ts("2024-01-01")
    as_of = start + pd.Timedelta(hours=cut_hours)
    base = tiny()
    log = _frame(past, start)
    later = _frame(future, as_of + pd.Timedelta(minutes=1))
    truncated = log[log["ts"] <= as_of]
    full = pd.concat([log, later], ignore_index=True)
    tables = {k: v for k, v in base.items() if k != "interactions"}
    # a deal open at as_of that is won later, and one created later: known as open, and not at all, at as_of
    open_then = pd.DataFrame({"opportunity_id": ["pending"], "account_id": ["a1"],
                              "created_at": [as_of - pd.Timedelta(days=2)], "closed_at": [pd.NaT],
                              "outcome": ["open"]})
    tables["opportunities"] = pd.concat([base["opportunities"], open_then], ignore_index=True)
    opps_later = pd.concat([base["opportunities"], open_then.assign(
        closed_at=as_of + pd.Timedelta(hours=1), outcome="won"), pd.DataFrame({
            "opportunity_id": ["late"], "account_id": ["a1"], "created_at": [as_of + pd.Timedelta(days=1)],
            "closed_at": [as_of + pd.Timedelta(days=3)], "outcome": ["lost"]})], ignore_index=True)
    a = relationship_features({**tables, "interactions": truncated}, as_of)
    b = relationship_features({**tables, "interactions": full, "opportunities": opps_later}, as_of)
    pd.testing.assert_frame_equal(a, b)


def test_one_code_path_for_one_rep_and_the_whole_base() -> None:
    sim = simulate("small", seed=2)
    whole = relationship_features(sim.tables, "2024-02-01")
    rep = whole["rep_id"].iloc[0]
    one = relationship_features(sim.tables, "2024-02-01", rep_ids=[rep])
    pd.testing.assert_frame_equal(one, whole[whole["rep_id"] == rep].reset_index(drop=True))
    assert whole[["rep_id", "contact_id"]].duplicated().sum() == 0


def test_row_order_does_not_matter() -> None:
    sim = simulate("small", seed=2)
    inter = sim.tables["interactions"]
    assert not inter.duplicated(["rep_id", "contact_id", "ts"]).any()  # no ties, so the order is defined
    shuffled = inter.sample(frac=1.0, random_state=0).reset_index(drop=True)
    pd.testing.assert_frame_equal(relationship_features({**sim.tables, "interactions": shuffled}, "2024-02-01"),
                                  relationship_features(sim.tables, "2024-02-01"))


def test_pieces_and_buckets_give_the_same_features(monkeypatch: pytest.MonkeyPatch) -> None:
    """The large-input path (pieces on a thread, partition by pair, parallel buckets) equals the one-piece path."""
    sim = simulate("small", seed=2)
    whole = relationship_features(sim.tables, "2024-02-01")
    monkeypatch.setattr(rel, "PIECE_ROWS", 997)
    monkeypatch.setattr(rel, "PAIRS_PER_BUCKET", 7)
    pd.testing.assert_frame_equal(relationship_features(sim.tables, "2024-02-01"), whole)


def test_an_unknown_channel_is_counted_but_not_as_a_channel() -> None:
    tables = tiny()
    odd = tables["interactions"].copy()
    odd.loc[0, "channel"] = "carrier_pigeon"
    f = relationship_features({**tables, "interactions": odd}, AS_OF).set_index(["rep_id", "contact_id"])
    g = relationship_features(tables, AS_OF).set_index(["rep_id", "contact_id"])
    assert f.loc[("r1", "c1"), "n_365d"] == g.loc[("r1", "c1"), "n_365d"] == 5
    assert f.loc[("r1", "c1"), "festivals_greeted_365d"] == g.loc[("r1", "c1"), "festivals_greeted_365d"]
    pd.testing.assert_frame_equal(f.drop(columns=["n_email_90d"]), g.drop(columns=["n_email_90d"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=0, max_size=80))
def test_latency_median_matches_numpy(values: list[float]) -> None:
    got = scan._median(np.asarray(values, dtype=float), len(values))
    assert np.isnan(got) if not values else got == np.median(values)


def dignity_tables() -> dict[str, pd.DataFrame]:
    """A vp contact (c1, account a1) with a deal won, one lost, one won too long ago and one won after
    as_of; an individual contact (c2, account a2) without deals."""
    rows = [  # ts, rep, contact, channel, direction, depth, with_executive
        ("2024-01-10 10:00", "r1", "c1", "email", "outbound", 2, False),  # business: the pair's rhythm
        ("2024-02-10 10:00", "r1", "c1", "call", "outbound", 2, False),
        ("2024-03-05 10:00", "r1", "c1", "email", "outbound", 2, False),  # an ask 4 days after the win
        ("2024-03-20 10:00", "r1", "c1", "meeting", "outbound", 3, True),  # a consult, our executive there
        ("2024-04-15 10:00", "r1", "c1", "email", "inbound", 2, False),  # theirs: not ours to count
        ("2024-05-10 10:00", "r1", "c1", "visit", "outbound", 2, False),  # a visit without an executive
        ("2024-06-20 10:00", "r1", "c1", "call", "outbound", 1, False),  # 5 days after the loss
        ("2024-06-25 10:00", "r1", "c1", "email", "outbound", 2, False),  # 10 days after the loss
        ("2024-07-01 10:00", "r1", "c1", "email", "outbound", 2, False),  # after as_of: never read
        ("2024-05-01 10:00", "r1", "c2", "meeting", "outbound", 2, False),
    ]
    inter = pd.DataFrame(rows, columns=["ts", "rep_id", "contact_id", "channel", "direction", "depth",
                                        "with_executive"])
    inter["ts"] = pd.to_datetime(inter["ts"], utc=True)
    inter["depth"] = inter["depth"].astype("Int64")
    contacts = pd.DataFrame({"contact_id": ["c1", "c2"], "account_id": ["a1", "a2"],
                             "seniority": ["vp", "individual"]})
    opps = pd.DataFrame({
        "opportunity_id": ["won", "lost", "old", "later"], "account_id": ["a1"] * 4,
        "created_at": [_ts("2024-01-01"), _ts("2024-04-01"), _ts("2022-10-01"), _ts("2024-05-01")],
        "closed_at": [_ts("2024-03-01"), _ts("2024-06-15"), _ts("2023-01-01"), _ts("2024-07-05")],
        "outcome": ["won", "lost", "won", "won"]})
    return {"interactions": inter, "contacts": contacts, "opportunities": opps}


def test_hand_computed_dignity() -> None:
    f = relationship_features(dignity_tables(), AS_OF).set_index(["rep_id", "contact_id"])
    c1, c2 = f.loc[("r1", "c1")], f.loc[("r1", "c2")]
    # our outbound touches in the year: 7, of which business (depth 2): 5
    # the win of 1 March: its 30 days lie before as_of; one business touch in them (5 March)
    assert c1.push_after_win == pytest.approx((1 + 0.5) / (5 / 365 * 30 + 0.5))
    # the loss of 15 June: 15 of its 60 days lie before as_of; two touches in them (20 and 25 June)
    assert c1.touch_after_loss == pytest.approx((2 + 0.5) / (7 / 365 * 15 + 0.5))
    # two meetings with the vp (20 March with our executive, 10 May without)
    assert c1.level_match == pytest.approx(0.5)
    # as_of 30 June: the latest win (1 March) 121 days before, the loss (15 June) 15 days before
    assert c1.days_since_win == pytest.approx(121.0) and c1.days_since_loss == pytest.approx(15.0)
    # an individual contact: no level to match; no deal at a2: no win or loss to judge by
    assert pd.isna(c2.level_match) and pd.isna(c2.push_after_win) and pd.isna(c2.touch_after_loss)
    assert pd.isna(c2.days_since_win) and pd.isna(c2.days_since_loss)


def test_dignity_reads_nothing_after_as_of() -> None:
    """Deals that close after as_of and touches after it change none of the dignity features."""
    base = dignity_tables()
    later = base["opportunities"].assign(closed_at=lambda o: o["closed_at"].where(o["opportunity_id"] != "later"))
    a = relationship_features({**base, "opportunities": later.assign(
        outcome=later["outcome"].where(later["opportunity_id"] != "later", "open"))}, AS_OF)
    b = relationship_features(base, AS_OF)
    pd.testing.assert_frame_equal(a, b)
    moved = relationship_features(base, "2024-07-10T00:00:00Z").set_index(["rep_id", "contact_id"])
    assert moved.loc[("r1", "c1"), "push_after_win"] != b.set_index(["rep_id", "contact_id"]).loc[
        ("r1", "c1"), "push_after_win"]  # the win of 5 July counts once as_of is past it
