"""The /v1 endpoints. Each handler parses, calls one application function (``guanxi.services``) and
shapes the answer; access rules are dependencies (``deps.py``). Handlers are plain functions, run in the
thread pool: scoring never blocks the event loop (next-best actions sends an answer the worker already
holds from the loop, and computes a new one in the pool)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from guanxi.services import answers, erasure, views
from guanxi.services.answers import Day
from guanxi.services.writes import write_feedback, write_interactions
from serving.api import encode
from serving.api.deps import (
    AnswerDay,
    Caller,
    ForRep,
    Id,
    Rep,
    RepAnswerDay,
    RepCall,
    Served,
    St,
    check_rep,
    may_access,
)
from serving.api.problems import Problem
from serving.api.schemas import (
    Erased,
    FeedbackIn,
    FeedbackOut,
    Freshness,
    InteractionsIn,
    InteractionsOut,
    Lang,
    NextBestActions,
    OnConflict,
    Relationship,
    WhoKnows,
    WinProbability,
    problem_responses,
)

router = APIRouter(prefix="/v1", responses=problem_responses(401, 403, 404, 409, 422, 503))
DEFAULT_LIMIT, MAX_LIMIT = 10, 100
"""How many next-best actions an answer holds when not asked, and at most."""


def freshness(day: Day) -> Freshness:
    return Freshness(as_of=day.as_of.to_pydatetime(), data_age_hours=day.data_age_hours,
                     data_latest=None if day.data_latest is None else day.data_latest.to_pydatetime())


@router.get("/reps/{rep_id}/next-best-actions", response_model=NextBestActions,
            summary="A rep's ranked next-best actions with reasons")
async def next_best_actions(request: Request, call: ForRep,
                            limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
                            lang: Lang = Lang.en) -> Response:
    # an answer the worker holds is sent from here; computing one goes to the thread pool
    body = held_answer(call, limit, lang, request.state.request_id)
    if body is None:
        actions = await run_in_threadpool(answers.rep_actions, call.st.data, call.served.models, call.st.catalog,
                                          call.rep_id, call.day.as_of, limit, lang.value)
        body = answer_body(call, actions, request.state.request_id)
    return Response(body, media_type="application/json")


def held_answer(call: RepCall, limit: int, lang: Lang, request_id: str) -> bytes | None:
    """The answer's JSON if the worker holds the rep's actions (nothing computed), else None."""
    actions = answers.kept_rep_actions(call.st.data, call.served.models, call.rep_id, call.day.as_of, limit,
                                       lang.value, call.tick)
    return None if actions is None else answer_body(call, actions, request_id)


def answer_body(call: RepCall, actions: list[answers.Recommendation], request_id: str) -> bytes:
    """The answer's JSON. A new answer (this worker's first sending of it) is logged as served and counted
    in the metrics; the same answer asked again adds nothing: a page reopened with nothing changed offers
    nothing new, and a log row per view had queued ~100k rows a worker under load, whose writing then
    stalled other requests for seconds."""
    st, served = call.st, call.served
    body, new = encode.next_best_actions(call.rep_id, freshness(call.day), served.models.versions,
                                         served.models.labels, actions)
    if new:
        st.served.add(views.served_rows(call.rep_id, actions, served.models.versions, request_id))
        st.metrics.actions(actions)
    return body


@router.get("/relationships/{rep_id}/{contact_id}", response_model=Relationship,
            summary="Health of one relationship, by element, with its trend and reasons")
def relationship(rep_id: Rep, contact_id: Id, st: St, served: Served, day: RepAnswerDay,
                 lang: Lang = Lang.en) -> Relationship:
    if served.models.relationship is None:
        raise Problem(503, "no relationship model is loaded")
    health = answers.relationship_health(st.data, served.models.relationship, st.settings, rep_id, contact_id,
                                         day.as_of, lang.value)
    st.metrics.probabilities("guanxi-relationship", [health.p_effective])
    return Relationship.model_validate({**vars(health), "freshness": freshness(day), "model_version":
                                        served.models.versions.get("guanxi-relationship", "?"),
                                        "label": served.models.labels.get("guanxi-relationship",
                                                                          "effective_relationship")},
                                       from_attributes=True)


@router.get("/opportunities/{opportunity_id}/win-probability", response_model=WinProbability,
            summary="P(win) of an open deal, its grade, the factors for and against, and the trend")
def win_probability(opportunity_id: Id, st: St, caller: Caller, served: Served, day: AnswerDay) -> WinProbability:
    check_rep(st, caller, answers.deal_owner(st.data, opportunity_id))
    if served.deal is None:
        raise Problem(503, "no deal model is loaded")
    forecast = answers.win_forecast(st.data, served.deal, opportunity_id, day.as_of)
    st.metrics.probabilities("guanxi-deal", [forecast.p_win])
    return WinProbability.model_validate({**vars(forecast), "freshness": freshness(day), "model_version":
                                          served.models.versions.get("guanxi-deal", "?")}, from_attributes=True)


@router.get("/contacts/{contact_id}/who-knows", response_model=WhoKnows,
            summary="Our reps ranked by the strength of their tie with a contact")
def who_knows(contact_id: Id, st: St, caller: Caller, day: AnswerDay) -> WhoKnows:
    may = may_access(st, caller)
    ties = [t for t in answers.who_knows(st.data, contact_id, day.as_of) if may(t.rep_id)]
    return WhoKnows.model_validate({"contact_id": contact_id, "reps": ties}, from_attributes=True)


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
    done = write_interactions(st.data.engine, [item.model_dump(mode="python") for item in body.interactions],
                              st.settings, may_access(st, caller), update=on_conflict is OnConflict.update)
    return InteractionsOut.model_validate(done, from_attributes=True)


@router.post("/recommendations/feedback", response_model=FeedbackOut, status_code=201,
             summary="Record what the rep did with a recommendation", responses=problem_responses(400, 413))
def post_feedback(body: FeedbackIn, st: St, caller: Caller) -> FeedbackOut:
    check_rep(st, caller, body.rep_id)
    return FeedbackOut(stored=write_feedback(st.data, body.model_dump(mode="python"), st.settings, st.catalog))


@router.delete("/contacts/{contact_id}", response_model=Erased,
               summary="Erase a contact's personal data everywhere (right to erasure), with an audit record")
def erase_contact(contact_id: Id, st: St, caller: Caller) -> Erased:
    if not caller.unrestricted:
        raise Problem(403, "erasure needs an API key without a rep or team scope")
    result = erasure.erase_contact(st.data.engine, contact_id, st.settings, caller.name)
    return Erased.model_validate({**vars(result), "warning": result.artifact_error}, from_attributes=True)
