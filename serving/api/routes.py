"""The /v1 endpoints. Handlers are plain functions (run in the thread pool): scoring never blocks the loop."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Header, Path, Query, Request

from features.deal import deal_features
from features.network import tie_strength
from features.registry import DEAL
from features.relationship import relationship_features
from guanxi.services import erasure
from guanxi.services.writes import Refused, write_feedback, write_interactions
from guanxi.settings import Settings
from serving import scales
from serving.api.auth import ApiKey, Principal, find_key
from serving.api.data import StoreData
from serving.api.model_state import Loaded, ModelHolder
from serving.api.problems import Problem
from serving.api.schemas import (
    ID_PATTERN,
    Erased,
    Factor,
    FeedbackIn,
    FeedbackOut,
    Freshness,
    InteractionsIn,
    InteractionsOut,
    Lang,
    NextBestAction,
    NextBestActions,
    OnConflict,
    Reason,
    Relationship,
    Tie,
    WhoKnows,
    WinProbability,
    clean,
    problem_responses,
)
from serving.candidates import next_day
from serving.catalog import Catalog
from serving.feedback import history
from serving.reasons import ELEMENT_OF, explain, references
from serving.recommend import recommend

router = APIRouter(prefix="/v1", responses=problem_responses(401, 403, 404, 409, 422, 503))
DEAL_ELEMENT = {f.name: f.element for f in DEAL}
Id = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
AsOf = Annotated[dt.date | None, Query(description="Day to score (default: the day after the latest data).")]


@dataclass
class AppState:
    settings: Settings
    holder: ModelHolder
    data: StoreData
    keys: list[ApiKey]
    catalog: Catalog


def state(request: Request) -> AppState:
    return request.app.state.guanxi


def principal(request: Request, authorization: Annotated[str | None, Header()] = None,
              x_api_key: Annotated[str | None, Header()] = None) -> Principal:
    st = state(request)
    if not st.keys:
        return Principal(None)
    presented = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        presented = authorization[7:].strip()
    key = find_key(st.keys, presented) if presented else None
    if key is None:
        raise Problem(401, "a valid API key is required (Authorization: Bearer KEY or X-API-Key: KEY)",
                      headers={"WWW-Authenticate": "Bearer"})
    return Principal(key)


Caller = Annotated[Principal, Depends(principal)]
St = Annotated[AppState, Depends(state)]


def models(st: AppState) -> Loaded:
    if st.holder.current is None:
        raise Problem(503, "models are not loaded yet: train them (`guanxi train all`) or check /ready")
    return st.holder.current


def may_access(st: AppState, caller: Principal) -> Callable[[str], bool]:
    """Whether the caller's key covers a rep (by id or team): the one scope rule of every endpoint."""
    teams = st.data.teams()

    def check(rep_id: str) -> bool:
        return caller.may_see(rep_id, teams.get(rep_id))

    return check


def check_rep(st: AppState, caller: Principal, rep_id: str) -> None:
    if rep_id not in st.data.teams():
        raise Problem(404, f"no rep {rep_id!r}")
    if not may_access(st, caller)(rep_id):
        raise Problem(403, f"this API key may not read rep {rep_id!r}")


def freshness(st: AppState, as_of: dt.date | None) -> Freshness:
    """The day to answer for: ``as_of`` if given (within the accepted range), else the day after the latest
    data — never later than tomorrow, so no stored row can move it for everyone."""
    latest = st.data.latest()
    now = pd.Timestamp.now(tz="UTC")
    if as_of is not None:
        lo = pd.Timestamp(st.settings.earliest_ts).tz_convert("UTC")
        hi = (max(latest, now) if latest is not None else now) + pd.Timedelta(days=st.settings.as_of_margin_days)
        if not lo.date() <= as_of <= hi.date():
            raise Problem(422, f"as_of: {as_of} is outside the accepted range {lo.date()} .. {hi.date()} "
                          f"(the data and today plus {st.settings.as_of_margin_days} days)",
                          [{"location": "query.as_of", "message": "outside the accepted range"}])
        day = pd.Timestamp(as_of, tz="UTC")
    elif latest is not None:
        day = min(next_day(latest), next_day(now))
    else:
        day = now.floor("D")
    age = None if latest is None else round((now - latest).total_seconds() / 3600, 2)
    return Freshness(as_of=day.to_pydatetime(), data_latest=None if latest is None else latest.to_pydatetime(),
                     data_age_hours=age)


def reasons_of(items: list[dict[str, object]]) -> list[Reason]:
    return [Reason(element=str(r["element"]), text=str(r["text"]), feature=r.get("feature"),
                   value=clean(r.get("value")), reference=clean(r.get("reference"))) for r in items]


def _f(value: object) -> float | None:
    return None if value is None or pd.isna(value) else clean(float(value))


@router.get("/reps/{rep_id}/next-best-actions", response_model=NextBestActions,
            summary="A rep's ranked next-best actions with reasons")
def next_best_actions(rep_id: Id, st: St, caller: Caller, limit: Annotated[int, Query(ge=1, le=100)] = 10,
                      lang: Lang = Lang.en, as_of: AsOf = None) -> NextBestActions:
    check_rep(st, caller, rep_id)
    loaded = models(st)
    fresh = freshness(st, as_of)
    day = pd.Timestamp(fresh.as_of)
    tables = st.data.tables(rep_ids=[rep_id])
    actions: list[NextBestAction] = []
    if not tables["interactions"].empty:
        past = history(st.data.engine, tables, day, st.catalog, [rep_id])
        recs = recommend(tables, day, loaded.models, rep_id, k=limit, lang=lang.value, history=past,
                         catalog=st.catalog)
        for r in recs.to_dict(orient="records"):
            actions.append(NextBestAction(
                rank=int(r["rank"]), contact_id=str(r["contact_id"]), account_id=str(r["account_id"]),
                opportunity_id=None if r["opportunity_id"] is None else str(r["opportunity_id"]),
                action=r["action"], title=r["title"], element=r["element"], channel=r["channel"],
                minutes=float(r["minutes"]), mandatory=bool(r["mandatory"]), priority=_f(r["priority"]) or 0.0,
                expected_gain=_f(r["gain"]) or 0.0, p_effective=_f(r["p_effective"]),
                p_effective_if_done=_f(r["p_effective_if_done"]), p_win=_f(r["p_win"]),
                p_win_if_done=_f(r["p_win_if_done"]), reasons=reasons_of(r["reasons"])))
    return NextBestActions(rep_id=rep_id, freshness=fresh, models=loaded.models.versions, actions=actions)


@router.get("/relationships/{rep_id}/{contact_id}", response_model=Relationship,
            summary="Health of one relationship, by element, with its trend and reasons")
def relationship(rep_id: Id, contact_id: Id, st: St, caller: Caller, lang: Lang = Lang.en,
                 as_of: AsOf = None) -> Relationship:
    check_rep(st, caller, rep_id)
    loaded = models(st)
    model = loaded.models.relationship
    if model is None:
        raise Problem(503, "no relationship model is loaded")
    fresh = freshness(st, as_of)
    day = pd.Timestamp(fresh.as_of)
    tables = st.data.tables(rep_ids=[rep_id])
    if tables["interactions"].empty:
        raise Problem(404, f"rep {rep_id!r} has no interactions")
    rel = relationship_features(tables, day, [rep_id])
    row = rel[rel["contact_id"] == contact_id]
    if row.empty:
        raise Problem(404, f"rep {rep_id!r} has no interaction with contact {contact_id!r} up to {day.date()}")
    p_all = model.predict_proba(rel)[:, 1]
    p = float(p_all[row.index[0]])
    contrib = model.contributions(row).drop(columns="bias").iloc[0]
    elements = contrib.groupby(contrib.index.map(lambda f: ELEMENT_OF.get(f, "value"))).sum()
    before = relationship_features(tables, day - pd.Timedelta(days=30), [rep_id])
    before = before[before["contact_id"] == contact_id]
    p_before = float(model.predict_proba(before)[:, 1][0]) if len(before) else None
    s = st.settings
    band = str(scales.band(p, s.band_good, s.band_fair))
    why = explain(row.reset_index(drop=True), model, references(rel, p_all), lang.value, top=3)[0]
    health = round(100 * p)
    before_health = None if p_before is None else round(100 * p_before)
    return Relationship(rep_id=rep_id, contact_id=contact_id, health=health, p_effective=p, band=band,
                        elements={k: float(v) for k, v in elements.items()}, health_30d_ago=before_health,
                        trend=None if before_health is None else health - before_health, reasons=reasons_of(why),
                        freshness=fresh, model_version=loaded.models.versions.get("guanxi-relationship", "?"))


@router.get("/opportunities/{opportunity_id}/win-probability", response_model=WinProbability,
            summary="P(win) of an open deal, its grade, the factors for and against, and the trend")
def win_probability(opportunity_id: Id, st: St, caller: Caller, as_of: AsOf = None) -> WinProbability:
    static = st.data.static()
    opps = static["opportunities"]
    row = opps[opps["opportunity_id"] == opportunity_id]
    if row.empty:
        raise Problem(404, f"no opportunity {opportunity_id!r}")
    check_rep(st, caller, str(row["owner_rep_id"].iloc[0]))
    loaded = models(st)
    if loaded.deal is None:
        raise Problem(503, "no deal model is loaded")
    fresh = freshness(st, as_of)
    day = pd.Timestamp(fresh.as_of)
    contacts = static["contacts"]
    ids = contacts.loc[contacts["account_id"] == row["account_id"].iloc[0], "contact_id"].astype(str).tolist()
    tables = st.data.tables(contact_ids=ids)

    def snapshot(when: pd.Timestamp) -> pd.DataFrame:
        feats = deal_features(tables, when)
        return feats[feats["opportunity_id"] == opportunity_id].reset_index(drop=True)

    now = snapshot(day)
    if now.empty:
        raise Problem(409, f"opportunity {opportunity_id!r} is not open on {day.date()}")
    p = float(loaded.deal.predict_proba(now)[:, 1][0])
    contrib = loaded.deal.contributions(now).drop(columns="bias").iloc[0].sort_values()

    def factor(f: str) -> Factor:
        v = now[f].iloc[0]
        value = None if pd.isna(v) else (clean(float(v)) if isinstance(v, int | float | np.number) else str(v))
        return Factor(feature=f, element=DEAL_ELEMENT.get(f, "deal"), value=value, contribution=float(contrib[f]))

    before = snapshot(day - pd.Timedelta(days=30))
    p_before = float(loaded.deal.predict_proba(before)[:, 1][0]) if len(before) else None
    return WinProbability(opportunity_id=opportunity_id, p_win=p, grade=str(scales.grade(p)),
                          positive=[factor(f) for f in contrib[contrib > 0].index[::-1][:3]],
                          negative=[factor(f) for f in contrib[contrib < 0].index[:3]], p_win_30d_ago=p_before,
                          trend=None if p_before is None else p - p_before, freshness=fresh,
                          model_version=loaded.models.versions.get("guanxi-deal", "?"))


@router.get("/contacts/{contact_id}/who-knows", response_model=WhoKnows,
            summary="Our reps ranked by the strength of their tie with a contact")
def who_knows(contact_id: Id, st: St, caller: Caller, as_of: AsOf = None) -> WhoKnows:
    static = st.data.static()
    if not (static["contacts"]["contact_id"] == contact_id).any():
        raise Problem(404, f"no contact {contact_id!r}")
    inter = st.data.interactions(contact_ids=[contact_id])
    fresh = freshness(st, as_of)
    if inter.empty:
        return WhoKnows(contact_id=contact_id, reps=[])
    rel = relationship_features({**st.data.frames(), "interactions": inter}, pd.Timestamp(fresh.as_of))
    rel = rel.assign(strength=tie_strength(rel).to_numpy()).sort_values(["strength", "rep_id"],
                                                                        ascending=[False, True])
    may = may_access(st, caller)
    ties = [Tie(rep_id=str(r.rep_id), strength=float(r.strength), interactions_365d=float(r.n_365d),
                days_since_last=_f(r.days_since_last)) for r in rel.itertuples() if may(str(r.rep_id))]
    return WhoKnows(contact_id=contact_id, reps=ties)


STATUS = {"invalid": 422, "conflict": 409, "forbidden": 403, "not_found": 404}


def refused(exc: Refused) -> Problem:
    return Problem(STATUS[exc.kind], exc.detail, exc.errors)


@router.post("/interactions", response_model=InteractionsOut,
             summary="Add up to 1,000 interactions: idempotent by id, all or nothing",
             responses={**problem_responses(400, 413), 200: {"links": {
                 "Relationship": {"operationId": "relationship_v1_relationships__rep_id___contact_id__get",
                                  "parameters": {"rep_id": "$request.body#/interactions/0/rep_id",
                                                 "contact_id": "$request.body#/interactions/0/contact_id"}},
                 "NextBestActions": {"operationId": "next_best_actions_v1_reps__rep_id__next_best_actions_get",
                                     "parameters": {"rep_id": "$request.body#/interactions/0/rep_id"}}}}})
def post_interactions(body: InteractionsIn, st: St, caller: Caller,
                      on_conflict: Annotated[OnConflict, Query(description="An id stored with other content: "
                                                               "refuse (409) or update it.")] = OnConflict.refuse
                      ) -> InteractionsOut:
    rows = [item.model_dump(mode="python") for item in body.interactions]
    try:
        done = write_interactions(st.data.engine, rows, st.settings, may_access(st, caller),
                                  update=on_conflict is OnConflict.update)
    except Refused as exc:
        raise refused(exc) from None
    return InteractionsOut(received=done.received, inserted=done.inserted, duplicates=done.duplicates,
                           updated=done.updated)


@router.post("/recommendations/feedback", response_model=FeedbackOut, status_code=201,
             summary="Record what the rep did with a recommendation", responses=problem_responses(400, 413))
def post_feedback(body: FeedbackIn, st: St, caller: Caller) -> FeedbackOut:
    check_rep(st, caller, body.rep_id)
    if body.action not in st.catalog.names:
        raise Problem(422, f"action {body.action!r} is not in the catalog ({', '.join(st.catalog.names)})")
    contacts = st.data.static()["contacts"]
    if not (contacts["contact_id"] == body.contact_id).any():
        raise Problem(422, f"no contact {body.contact_id!r}")
    try:
        stored = write_feedback(st.data.engine, {**body.model_dump(mode="python"), "status": body.status.value},
                                st.settings)
    except Refused as exc:
        raise refused(exc) from None
    return FeedbackOut(stored=stored)


@router.delete("/contacts/{contact_id}", response_model=Erased,
               summary="Erase a contact's personal data everywhere (right to erasure), with an audit record")
def erase_contact(contact_id: Id, st: St, caller: Caller) -> Erased:
    if not caller.unrestricted:
        raise Problem(403, "erasure needs an API key without a rep or team scope")
    try:
        result = erasure.erase_contact(st.data.engine, contact_id, st.settings, caller.name)
    except erasure.NotFound as exc:
        raise Problem(404, str(exc)) from None
    return Erased(contact_id=contact_id, deleted=result.deleted, audit_id=result.audit_id,
                  score_files=result.score_files, artifacts=result.artifacts, warning=result.artifact_error)
