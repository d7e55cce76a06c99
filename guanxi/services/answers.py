"""What a rep, a relationship, a deal or a contact looks like today: the answers the API and the command
line give, each from one function with a typed result, on the same data path (:class:`StoreData`)."""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.deal import deal_features
from features.network import tie_strength
from features.registry import DEAL
from features.relationship import relationship_features, relationship_features_from_log
from guanxi.services.errors import Refused
from guanxi.settings import Settings
from serving import scales
from serving.candidates import day_context, next_day
from serving.catalog import Catalog
from serving.engine import Models
from serving.feedback import history
from serving.reasons import ELEMENT_OF, explain, references
from serving.recommend import pool, recommend
from serving.store_data import StoreData
from training.model import GuanxiClassifier

DEAL_ELEMENT = {f.name: f.element for f in DEAL}
TREND_DAYS = 30


@dataclass(frozen=True)
class Day:
    """The day an answer is for, and how fresh the data behind it is."""

    as_of: pd.Timestamp
    data_latest: pd.Timestamp | None
    data_age_hours: float | None


@dataclass(frozen=True)
class Reason:
    element: str
    text: str
    feature: str | None = None
    value: float | None = None
    reference: float | None = None


@dataclass(frozen=True)
class Recommendation:
    rank: int
    contact_id: str | None
    """Missing on an action on a deal whose account has no contact in the CRM (``opportunity_id`` names it)."""
    account_id: str | None
    opportunity_id: str | None
    action: str
    title: str
    element: str
    channel: str
    minutes: float
    mandatory: bool
    priority: float
    expected_gain: float
    p_effective: float | None
    p_effective_if_done: float | None
    p_win: float | None
    p_win_if_done: float | None
    reasons: list[Reason]
    gain_unit: str = "money"
    """``money`` (the account's currency) or ``p_effective`` (points of probability: no money is known)."""
    effect_source: str = "learned"
    """``learned`` from this organisation's data, or the shipped ``prior``."""


@dataclass(frozen=True)
class Health:
    rep_id: str
    contact_id: str
    health: int
    p_effective: float
    band: str
    elements: dict[str, float]
    health_30d_ago: int | None
    trend: int | None
    reasons: list[Reason]


@dataclass(frozen=True)
class Factor:
    feature: str
    element: str
    value: float | str | None
    contribution: float


@dataclass(frozen=True)
class WinForecast:
    opportunity_id: str
    p_win: float
    grade: str
    positive: list[Factor]
    negative: list[Factor]
    p_win_30d_ago: float | None
    trend: float | None


@dataclass(frozen=True)
class TieStrength:
    rep_id: str
    strength: float
    interactions_365d: float
    days_since_last: float | None


def finite(value: object) -> float | None:
    """A number for JSON: NaN, infinities and missing values become None."""
    if value is None or value is pd.NA:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


@functools.lru_cache(maxsize=64)
def _day_start(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


@functools.lru_cache(maxsize=64)
def _next_day(latest: pd.Timestamp) -> pd.Timestamp:
    return next_day(latest)


def plan_day(data: StoreData, settings: Settings, as_of: dt.date | None, latest: pd.Timestamp | None = None,
             era_end: pd.Timestamp | None = None) -> Day:
    """``as_of`` if given (within the data's range plus a margin), else the day after the latest data —
    never later than tomorrow, so that no stored row can move the day for everyone. ``latest``: the
    store's latest data if the caller has just read it; ``era_end``: the end of the rep's era's data when
    it is an earlier one than the store's (``serving.candidates.ERA_GAP_DAYS``): the rep's day follows it."""
    latest = data.latest() if latest is None else latest
    if as_of is None:  # every request asks this: plain datetimes and cached days (pandas cost 160 µs here)
        now = dt.datetime.now(dt.UTC)
        tomorrow = _day_start(now.date() + dt.timedelta(days=1))
        if latest is None:
            return Day(_day_start(now.date()), None, None)
        end = era_end if era_end is not None else latest
        return Day(min(_next_day(end), tomorrow), end, round((now - end.to_pydatetime()).total_seconds() / 3600, 2))
    now_ts = pd.Timestamp.now(tz="UTC")
    lo = pd.Timestamp(settings.earliest_ts).tz_convert("UTC")
    hi = (max(latest, now_ts) if latest is not None else now_ts) + pd.Timedelta(days=settings.as_of_margin_days)
    if not lo.date() <= as_of <= hi.date():
        raise Refused("invalid", f"as_of: {as_of} is outside the accepted range {lo.date()} .. {hi.date()} "
                      f"(the data and today plus {settings.as_of_margin_days} days)",
                      [{"location": "query.as_of", "message": "outside the accepted range"}])
    age = None if latest is None else round((now_ts - latest).total_seconds() / 3600, 2)
    return Day(pd.Timestamp(as_of, tz="UTC"), latest, age)


def _reasons(items: list[dict[str, object]]) -> list[Reason]:
    return [Reason(element=str(r["element"]), text=str(r["text"]),
                   feature=None if r.get("feature") is None else str(r["feature"]),
                   value=finite(r.get("value")), reference=finite(r.get("reference"))) for r in items]


def rep_actions(data: StoreData, models: Models, catalog: Catalog, rep_id: str, day: pd.Timestamp, k: int,
                lang: str) -> list[Recommendation]:
    """The rep's top ``k`` actions for ``day``, from the rep's interactions and the contact policy's history;
    an answer is kept until the rep's data, the shared tables or the models change."""
    return data.memo(rep_id, _actions_key(models, day, k, lang),
                     lambda: _rep_actions(data, models, catalog, rep_id, day, k, lang))


def kept_rep_actions(data: StoreData, models: Models, rep_id: str, day: pd.Timestamp, k: int, lang: str,
                     tick: int | None = None) -> list[Recommendation] | None:
    """:func:`rep_actions`' answer if the worker holds it (nothing is computed), else None; ``tick``: the
    store's write counter as the request read it (see ``StoreData.version``)."""
    return data.peek(rep_id, _actions_key(models, day, k, lang), tick)  # type: ignore[return-value]


def _actions_key(models: Models, day: pd.Timestamp, k: int, lang: str) -> tuple[object, ...]:
    return ("actions", tuple(sorted(models.versions.items())), id(models), day, k, lang)


def _rep_actions(data: StoreData, models: Models, catalog: Catalog, rep_id: str, day: pd.Timestamp, k: int,
                 lang: str) -> list[Recommendation]:
    log = data.rep_log(rep_id)
    context = data.shared(("day_context", day), lambda: day_context(data.frames(), day))
    deals = context.contactless
    if not log.rows and (deals is None or deals.empty or not deals["rep_id"].eq(rep_id).any()):
        return []
    tables = data.frames()  # the candidates decode the rep's last week from the log, the policy its 90 days
    # the contact policy's history (the store's feedback, the logged touches) is read while the candidates
    # are built
    past = pool().submit(history, data.engine, tables, day, catalog, [rep_id], log.contact_ids.tolist(), log)
    recs = recommend(tables, day, models, rep_id, k=k, lang=lang, history=past, catalog=catalog, log=log,
                     context=context)
    return [Recommendation(
        rank=int(r["rank"]), contact_id=None if r["contact_id"] is None else str(r["contact_id"]),
        account_id=None if r["account_id"] is None else str(r["account_id"]),
        opportunity_id=None if r["opportunity_id"] is None else str(r["opportunity_id"]), action=str(r["action"]),
        title=str(r["title"]), element=str(r["element"]), channel=str(r["channel"]), minutes=float(r["minutes"]),
        mandatory=bool(r["mandatory"]), priority=finite(r["priority"]) or 0.0, expected_gain=finite(r["gain"]) or 0.0,
        p_effective=finite(r["p_effective"]), p_effective_if_done=finite(r["p_effective_if_done"]),
        p_win=finite(r["p_win"]), p_win_if_done=finite(r["p_win_if_done"]), reasons=_reasons(r["reasons"]),
        gain_unit=str(r["gain_unit"]), effect_source=str(r["effect_source"]))
        for r in recs.to_dict(orient="records")]


def relationship_health(data: StoreData, model: GuanxiClassifier, settings: Settings, rep_id: str, contact_id: str,
                        day: pd.Timestamp, lang: str) -> Health:
    """Health 0–100 (calibrated P(effective)), band, per-element contributions, trend and reasons."""
    log = data.rep_log(rep_id)
    if not log.rows:
        raise Refused("not_found", f"rep {rep_id!r} has no interactions")
    context = data.shared(("day_context", day), lambda: day_context(data.frames(), day))
    rel = relationship_features_from_log(data.frames(), log, day, context.entities)
    row = rel[rel["contact_id"] == contact_id]
    if row.empty:
        raise Refused("not_found", f"rep {rep_id!r} has no interaction with contact {contact_id!r} up to "
                      f"{day.date()}")
    p_all = model.predict_proba(rel)[:, 1]
    p = float(p_all[row.index[0]])
    contrib = model.contributions(row).drop(columns="bias").iloc[0]
    elements = contrib.groupby(contrib.index.map(lambda f: ELEMENT_OF.get(f, "value"))).sum()
    before = relationship_features_from_log(data.frames(), log, day - pd.Timedelta(days=TREND_DAYS))
    before = before[before["contact_id"] == contact_id]
    health = round(100 * p)
    then = round(100 * float(model.predict_proba(before)[:, 1][0])) if len(before) else None
    why = explain(row.reset_index(drop=True), model, references(rel, p_all), lang, top=3)[0]
    cuts = scales.thresholds(settings.band_good, settings.band_fair, getattr(model, "base_rate_", None),
                             settings.band_by_base_rate)
    return Health(rep_id, contact_id, health, p, str(scales.band(p, *cuts)),
                  {str(k): float(v) for k, v in elements.items()}, then, None if then is None else health - then,
                  _reasons(why))


def deal_owner(data: StoreData, opportunity_id: str) -> str:
    """The rep who owns a deal (whose scope the deal is in)."""
    opps = data.static()["opportunities"]
    row = opps[opps["opportunity_id"] == opportunity_id]
    if row.empty:
        raise Refused("not_found", f"no opportunity {opportunity_id!r}")
    return str(row["owner_rep_id"].iloc[0])


def win_forecast(data: StoreData, model: GuanxiClassifier, opportunity_id: str, day: pd.Timestamp) -> WinForecast:
    """P(win) of an open deal, its grade, the three factors for and against, and the 30-day trend."""
    static = data.static()
    opps, contacts = static["opportunities"], static["contacts"]
    account = opps.loc[opps["opportunity_id"] == opportunity_id, "account_id"].iloc[0]
    tables = data.tables(contact_ids=contacts.loc[contacts["account_id"] == account, "contact_id"].astype(str)
                         .tolist())

    def snapshot(when: pd.Timestamp) -> pd.DataFrame:
        feats = deal_features(tables, when)
        return feats[feats["opportunity_id"] == opportunity_id].reset_index(drop=True)

    now = snapshot(day)
    if now.empty:
        raise Refused("conflict", f"opportunity {opportunity_id!r} is not open on {day.date()}")
    p = float(model.predict_proba(now)[:, 1][0])
    contrib = model.contributions(now).drop(columns="bias").iloc[0].sort_values()

    def factor(f: str) -> Factor:
        v = now[f].iloc[0]
        value = None if pd.isna(v) else (finite(v) if isinstance(v, int | float | np.number) else str(v))
        return Factor(feature=f, element=DEAL_ELEMENT.get(f, "deal"), value=value, contribution=float(contrib[f]))

    before = snapshot(day - pd.Timedelta(days=TREND_DAYS))
    then = float(model.predict_proba(before)[:, 1][0]) if len(before) else None
    return WinForecast(opportunity_id, p, str(scales.grade(p)),
                       positive=[factor(f) for f in contrib[contrib > 0].index[::-1][:3]],
                       negative=[factor(f) for f in contrib[contrib < 0].index[:3]],
                       p_win_30d_ago=then, trend=None if then is None else p - then)


def who_knows(data: StoreData, contact_id: str, day: pd.Timestamp) -> list[TieStrength]:
    """Our reps by the strength of their tie with a contact, strongest first."""
    if not (data.static()["contacts"]["contact_id"] == contact_id).any():
        raise Refused("not_found", f"no contact {contact_id!r}")
    inter = data.interactions(contact_ids=[contact_id])
    if inter.empty:
        return []
    rel = relationship_features({**data.frames(), "interactions": inter}, day)
    rel = rel.assign(strength=tie_strength(rel).to_numpy()).sort_values(["strength", "rep_id"],
                                                                        ascending=[False, True])
    return [TieStrength(str(r.rep_id), float(r.strength), float(r.n_365d), finite(r.days_since_last))
            for r in rel.itertuples()]
