"""What the pages show: a rep's day, a relationship card, an account map and a manager's view, each one
function with a typed result over the same data path and answers as the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import polars as pl
import sqlalchemy as sa

from crm.store import FEEDBACK, SERVED, log_served_rows
from features.network import tie_strength
from features.relationship import relationship_features
from guanxi.services.answers import Health, Recommendation, WinForecast, relationship_health, rep_actions, win_forecast
from guanxi.services.errors import Refused
from guanxi.settings import Settings
from serving import scales
from serving.catalog import Catalog
from serving.engine import Models
from serving.store_data import StoreData
from training.model import GuanxiClassifier

ELEMENTS = ("value", "favor", "dignity", "presence", "frequency", "length", "depth", "reciprocity")
"""The seven elements of an effective relationship, and reciprocity, in the order the card draws them."""
REPORT_DAYS = 30
"""The manager's view counts recommendations offered and feedback over this many days."""


@dataclass(frozen=True)
class Person:
    id: str
    name: str


@dataclass(frozen=True)
class RepDay:
    rep: Person
    team: str | None
    actions: list[Recommendation]
    contact_names: dict[str, str]


@dataclass(frozen=True)
class Touch:
    ts: pd.Timestamp
    channel: str
    direction: str
    depth: int | None
    occasion: str | None


@dataclass(frozen=True)
class RelationshipCard:
    rep: Person
    contact: Person
    account: Person
    health: Health
    health_90d_ago: int | None
    latest: list[Touch]
    next_action: Recommendation | None


@dataclass(frozen=True)
class ChainMember:
    contact: Person
    role: str
    stance: str | None
    best_tie: float
    covered: bool


@dataclass(frozen=True)
class DealView:
    opportunity_id: str
    amount: float | None
    owner: str
    chain: list[ChainMember]
    coverage: float | None
    forecast: WinForecast | None


@dataclass(frozen=True)
class AccountMap:
    account: Person
    tier: str | None
    reps: list[Person]
    contacts: list[Person]
    ties: dict[tuple[str, str], float]  # (rep_id, contact_id) -> strength
    deals: list[DealView]


@dataclass(frozen=True)
class RepActivity:
    rep: Person
    offered: int
    done: int
    dismissed: int
    snoozed: int


@dataclass(frozen=True)
class AccountCoverage:
    account: Person
    tier: str
    decision_makers: int
    covered: int


@dataclass(frozen=True)
class TieAtRisk:
    rep: Person
    contact: Person
    account: Person
    days_since_last: float
    interactions_365d: float


@dataclass(frozen=True)
class TeamView:
    team: str
    reps: list[RepActivity]
    coverage: list[AccountCoverage]
    at_risk: list[TieAtRisk] = field(default_factory=list)


def _names(frame: pd.DataFrame, key: str) -> dict[str, str]:
    names = frame["name"].astype(object).where(frame["name"].notna(), None) if "name" in frame else None
    return {str(k): str(n) if n else str(k) for k, n in zip(frame[key], names if names is not None else frame[key],
                                                              strict=True)}


def _person(names: dict[str, str], key: str) -> Person:
    return Person(key, names.get(key, key))


def rep_names(data: StoreData) -> dict[str, str]:
    """Each rep's display name (the id when it has none)."""
    return _names(data.static()["reps"], "rep_id")


def rep_day(data: StoreData, models: Models, catalog: Catalog, rep_id: str, day: pd.Timestamp, k: int,
            lang: str) -> RepDay:
    """Today's ranked actions of a rep, with the contacts' names."""
    static = data.static()
    actions = rep_actions(data, models, catalog, rep_id, day, k, lang)
    return RepDay(_person(_names(static["reps"], "rep_id"), rep_id), data.teams().get(rep_id), actions,
                  _names(static["contacts"], "contact_id"))


def relationship_card(data: StoreData, models: Models, catalog: Catalog, settings: Settings, rep_id: str,
                      contact_id: str, day: pd.Timestamp, lang: str) -> RelationshipCard:
    """Health with its band and 30/90-day trend, the elements, the latest touches and the next action."""
    if models.relationship is None:
        raise Refused("unavailable", "no relationship model is loaded")
    static = data.static()
    health = relationship_health(data, models.relationship, settings, rep_id, contact_id, day, lang)
    tables = data.tables(rep_ids=[rep_id])
    then = relationship_features(tables, day - pd.Timedelta(days=90), [rep_id])
    then = then[then["contact_id"] == contact_id]
    health_90 = round(100 * float(models.relationship.predict_proba(then)[:, 1][0])) if len(then) else None
    inter = (data.rep_interactions(rep_id).filter((pl.col("contact_id") == contact_id) & (pl.col("ts") < day))
             .sort("ts").tail(10).reverse().to_pandas())
    latest = [Touch(r.ts, str(r.channel), str(r.direction), None if pd.isna(r.depth) else int(r.depth),
                    None if pd.isna(r.occasion) else str(r.occasion)) for r in inter.itertuples()]
    nxt = next((a for a in rep_actions(data, models, catalog, rep_id, day, 50, lang) if a.contact_id == contact_id),
               None)
    contacts = static["contacts"]
    account = str(contacts.loc[contacts["contact_id"] == contact_id, "account_id"].iloc[0])
    return RelationshipCard(_person(_names(static["reps"], "rep_id"), rep_id),
                            _person(_names(contacts, "contact_id"), contact_id),
                            _person(_names(static["accounts"], "account_id"), account), health, health_90, latest, nxt)


def account_map(data: StoreData, deal_model: GuanxiClassifier | None, account_id: str, day: pd.Timestamp,
                may_see: Callable[[str], bool] = lambda rep: True) -> AccountMap:
    """Who of us knows whom at an account (the reps ``may_see`` allows), and each open deal's decision
    chain, coverage (by every rep's ties) and P(win)."""
    static = data.static()
    accounts = static["accounts"]
    row = accounts[accounts["account_id"] == account_id]
    if row.empty:
        raise Refused("not_found", f"no account {account_id!r}")
    contacts = static["contacts"][static["contacts"]["account_id"] == account_id]
    ids = contacts["contact_id"].astype(str).tolist()
    inter = data.interactions(contact_ids=ids) if ids else pd.DataFrame()
    ties: dict[tuple[str, str], float] = {}
    if len(inter):
        rel = relationship_features({**data.frames(), "interactions": inter}, day)
        for r, c, s in zip(rel["rep_id"].astype(str), rel["contact_id"].astype(str), tie_strength(rel), strict=True):
            ties[(r, c)] = float(s)
    best = {c: max((s for (_, cc), s in ties.items() if cc == c), default=0.0) for c in ids}
    rep_names, contact_names = _names(static["reps"], "rep_id"), _names(contacts, "contact_id")
    reps = sorted({r for r, _ in ties if may_see(r)}, key=lambda r: -sum(s for (rr, _), s in ties.items() if rr == r))
    return AccountMap(_person(_names(accounts, "account_id"), account_id),
                      None if pd.isna(row["tier"].iloc[0]) else str(row["tier"].iloc[0]),
                      [_person(rep_names, r) for r in reps], [_person(contact_names, c) for c in ids], ties,
                      _deals(data, deal_model, account_id, day, best, contact_names, rep_names))


def _deals(data: StoreData, deal_model: GuanxiClassifier | None, account_id: str, day: pd.Timestamp,
           best: dict[str, float], contact_names: dict[str, str], rep_names: dict[str, str]) -> list[DealView]:
    static = data.static()
    opps = static["opportunities"]
    open_ = opps[(opps["account_id"] == account_id) & (opps["outcome"] == "open")]
    chains = static["opportunity_contacts"]
    out = []
    for o in open_.itertuples():
        chain = chains[chains["opportunity_id"] == o.opportunity_id]
        members = [ChainMember(_person(contact_names, str(c.contact_id)), str(c.role),
                               None if pd.isna(c.stance) else str(c.stance), best.get(str(c.contact_id), 0.0),
                               best.get(str(c.contact_id), 0.0) >= scales.COVERED_TIE) for c in chain.itertuples()]
        forecast = None
        if deal_model is not None:
            try:
                forecast = win_forecast(data, deal_model, str(o.opportunity_id), day)
            except Refused:  # not open on that day
                forecast = None
        out.append(DealView(str(o.opportunity_id), None if pd.isna(o.amount) else float(o.amount),
                            rep_names.get(str(o.owner_rep_id), str(o.owner_rep_id)), members,
                            sum(m.covered for m in members) / len(members) if members else None, forecast))
    return out


def team_view(data: StoreData, team: str, day: pd.Timestamp) -> TeamView:
    """A team's coverage of key accounts, its reps' recommendations offered / done / dismissed over the last
    :data:`REPORT_DAYS`, and its ties at risk."""
    static = data.static()
    reps = [r for r, t in data.teams().items() if t == team]
    if not reps:
        raise Refused("not_found", f"no team {team!r}")
    rep_names = _names(static["reps"], "rep_id")
    inter = data.interactions(rep_ids=reps)
    rel = relationship_features({**data.frames(), "interactions": inter}, day) if len(inter) else pd.DataFrame()
    contacts, accounts = static["contacts"], static["accounts"]
    return TeamView(team, _activity(data, reps, rep_names, day), _coverage(rel, contacts, accounts),
                    _at_risk(rel, rep_names, contacts, accounts))


def _activity(data: StoreData, reps: list[str], rep_names: dict[str, str], day: pd.Timestamp) -> list[RepActivity]:
    since = (day - pd.Timedelta(days=REPORT_DAYS)).to_pydatetime()
    with data.engine.connect() as conn:
        offered: dict[str, int] = dict(conn.execute(sa.select(SERVED.c.rep_id, sa.func.count()).where(
            SERVED.c.rep_id.in_(reps), SERVED.c.ts >= since).group_by(SERVED.c.rep_id)).all())
        feedback = conn.execute(sa.select(FEEDBACK.c.rep_id, FEEDBACK.c.status, sa.func.count()).where(
            FEEDBACK.c.rep_id.in_(reps), FEEDBACK.c.ts >= since).group_by(FEEDBACK.c.rep_id, FEEDBACK.c.status)).all()
    by = {(r, s): int(n) for r, s, n in feedback}
    return [RepActivity(_person(rep_names, r), int(offered.get(r, 0)), by.get((r, "done"), 0),
                        by.get((r, "dismissed"), 0), by.get((r, "snoozed"), 0)) for r in sorted(reps)]


def _coverage(rel: pd.DataFrame, contacts: pd.DataFrame, accounts: pd.DataFrame) -> list[AccountCoverage]:
    key = accounts[accounts["tier"].isin(scales.KEY_TIERS)]
    dms = contacts[(contacts["buying_role"] == "decision_maker") & contacts["account_id"].isin(key["account_id"])]
    strong: set[str] = set()
    if len(rel):
        strong = set(rel.loc[tie_strength(rel).to_numpy() >= scales.COVERED_TIE, "contact_id"].astype(str))
    names = _names(accounts, "account_id")
    out = []
    for a in key.itertuples():
        ids = dms.loc[dms["account_id"] == a.account_id, "contact_id"].astype(str)
        out.append(AccountCoverage(_person(names, str(a.account_id)), str(a.tier), len(ids),
                                   sum(c in strong for c in ids)))
    return sorted(out, key=lambda c: (c.covered / c.decision_makers if c.decision_makers else 1.0, c.account.name))


def _at_risk(rel: pd.DataFrame, rep_names: dict[str, str], contacts: pd.DataFrame, accounts: pd.DataFrame,
             limit: int = 20) -> list[TieAtRisk]:
    if not len(rel):
        return []
    risky = rel[(rel["n_365d"] >= scales.AT_RISK_MIN_TOUCHES) & (rel["days_since_last"] >= scales.AT_RISK_SILENCE_DAYS)]
    risky = risky.sort_values("n_365d", ascending=False).head(limit)
    contact_names, account_names = _names(contacts, "contact_id"), _names(accounts, "account_id")
    return [TieAtRisk(_person(rep_names, str(r.rep_id)), _person(contact_names, str(r.contact_id)),
                      _person(account_names, str(r.account_id)), float(r.days_since_last), float(r.n_365d))
            for r in risky.itertuples()]


def served_rows(rep_id: str, actions: list[Recommendation], versions: dict[str, str], request_id: str | None,
                now: dt.datetime | None = None) -> list[dict[str, object]]:
    """The record of what was recommended (the manager's view and the feedback report count it)."""
    stamp, versions_text = now or dt.datetime.now(dt.UTC), ",".join(f"{k}={v}" for k, v in sorted(versions.items()))
    return [{"ts": stamp, "rep_id": rep_id, "contact_id": a.contact_id, "action": a.action, "rank": a.rank,
             "priority": a.priority, "model_versions": versions_text, "request_id": request_id,
             "opportunity_id": a.opportunity_id if a.contact_id is None else None} for a in actions]


def log_served(data: StoreData, rep_id: str, actions: list[Recommendation], versions: dict[str, str],
               request_id: str | None, now: dt.datetime | None = None) -> None:
    """Record what was recommended, now; a store busy with a long write skips the record rather than hold
    the answer (the API queues its records instead: ``serving.served_log``)."""
    log_served_rows(data.engine, served_rows(rep_id, actions, versions, request_id, now))
