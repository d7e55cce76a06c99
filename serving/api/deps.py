"""What every handler may ask for, declared once: the app's state, the caller, the models, the day to
answer for, and a rep the caller may read (the one scope rule of the API)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from guanxi.services.answers import Day, plan_day
from guanxi.services.errors import Refused
from guanxi.settings import Settings
from serving.api.auth import ApiKey, Principal, find_key
from serving.api.metrics import Metrics
from serving.api.model_state import Loaded, ModelHolder
from serving.api.problems import Problem
from serving.api.schemas import ID_PATTERN
from serving.catalog import Catalog
from serving.served_log import ServedLog
from serving.store_data import StoreData

ID_LENGTH = 64
Id = Annotated[str, Path(min_length=1, max_length=ID_LENGTH, pattern=ID_PATTERN)]
KEY_COOKIE = "guanxi_key"
"""The pages' sign-in keeps the API key in this same-site, HTTP-only cookie."""


@dataclass
class AppState:
    settings: Settings
    holder: ModelHolder
    data: StoreData
    keys: list[ApiKey]
    catalog: Catalog
    metrics: Metrics
    served: ServedLog


# The dependencies are ``async``: they compute nothing or read one indexed row, and a sync dependency costs a
# hop to the thread pool each (five per request were a third of a cached answer's time). What may take
# longer (reloading the shared tables after a write) is sent to the thread pool.


async def state(request: Request) -> AppState:
    return request.app.state.guanxi


St = Annotated[AppState, Depends(state)]


async def principal(request: Request, authorization: Annotated[str | None, Header()] = None,
                    x_api_key: Annotated[str | None, Header()] = None) -> Principal:
    st: AppState = request.app.state.guanxi
    if not st.keys:
        return Principal(None)
    found = caller_of(st, authorization, x_api_key, request.cookies.get(KEY_COOKIE))
    if found is None:
        raise Problem(401, "a valid API key is required (Authorization: Bearer KEY or X-API-Key: KEY)",
                      headers={"WWW-Authenticate": "Bearer"})
    return found


def caller_of(st: AppState, authorization: str | None, x_api_key: str | None, cookie: str | None) -> Principal | None:
    """The caller a request's credentials name (a bearer token, then the X-API-Key header, then the pages'
    cookie), or None when they name no key the server has."""
    if not st.keys:
        return Principal(None)
    presented = x_api_key or cookie
    if authorization and authorization.lower().startswith("bearer "):
        presented = authorization[7:].strip()
    key = find_key(st.keys, presented) if presented else None
    return None if key is None else Principal(key)


Caller = Annotated[Principal, Depends(principal)]


def may_access(st: AppState, caller: Principal) -> Callable[[str], bool]:
    """Whether the caller's key covers a rep, by id or by team."""
    teams = st.data.teams()
    return lambda rep_id: caller.may_see(rep_id, teams.get(rep_id))


def check_rep(st: AppState, caller: Principal, rep_id: str, teams: dict[str, str | None] | None = None) -> str:
    """``rep_id`` if it exists (else 404) and the caller may read it (else 403)."""
    teams = st.data.teams() if teams is None else teams  # one read of the shared tables' version per check
    if rep_id not in teams:
        raise Problem(404, f"no rep {rep_id!r}")
    if not caller.may_see(rep_id, teams[rep_id]):
        raise Problem(403, f"this API key may not read rep {rep_id!r}")
    return rep_id


async def readable_rep(rep_id: Id, st: St, caller: Caller) -> str:
    return await _readable(st, caller, rep_id)


async def _readable(st: AppState, caller: Principal, rep_id: str, tick: int | None = None) -> str:
    """``check_rep`` on the loop when the small tables held are current, else in the thread pool (it
    reloads them)."""
    teams = st.data.current_teams(tick)
    if teams is not None:
        return check_rep(st, caller, rep_id, teams)
    return await run_in_threadpool(check_rep, st, caller, rep_id)


Rep = Annotated[str, Depends(readable_rep)]


async def loaded(st: St) -> Loaded:
    if st.holder.current is None:
        raise Problem(503, "models are not loaded yet: train them (`guanxi train all`) or check /ready")
    return st.holder.current


Served = Annotated[Loaded, Depends(loaded)]


AsOf = Annotated[dt.date | None, Query(description="Day to score (default: the day after the latest data).")]


async def answer_day(st: St, as_of: AsOf = None) -> Day:
    return await _day(st, as_of)


async def rep_answer_day(st: St, rep_id: Id, as_of: AsOf = None) -> Day:
    """The day of a rep's answer: a rep whose data ends an era before the store's has their own."""
    return await _day(st, as_of, None, rep_id)


def _held_day(st: AppState, as_of: dt.date | None, tick: int | None = None, rep_id: str | None = None
              ) -> Day | None:
    """``plan_day`` when the latest data (and the rep's era) is known without a query, else None."""
    known, latest = st.data.current_latest(tick)
    era_known, era_end = (True, None) if rep_id is None or as_of is not None else st.data.era_end(rep_id, tick)
    return plan_day(st.data, st.settings, as_of, latest, era_end) if known and era_known else None


async def _day(st: AppState, as_of: dt.date | None, tick: int | None = None, rep_id: str | None = None) -> Day:
    """``plan_day`` on the loop when nothing need be read (:func:`_held_day`), else in the thread pool."""
    held = _held_day(st, as_of, tick, rep_id)
    if held is not None:
        return held

    def read() -> Day:
        end = None if rep_id is None or as_of is not None else st.data.read_era_end(rep_id, tick)
        return plan_day(st.data, st.settings, as_of, None, end)

    return await run_in_threadpool(read)


AnswerDay = Annotated[Day, Depends(answer_day)]
RepAnswerDay = Annotated[Day, Depends(rep_answer_day)]


@dataclass(frozen=True)
class RepCall:
    """A rep-scoped answer's inputs, checked in the order of the separate dependencies above: the key,
    then the rep, the models, the day."""

    st: AppState
    rep_id: str
    served: Loaded
    day: Day
    tick: int
    """The store's write counter when the request began: every check of this request reads it once."""


async def rep_call(request: Request, caller: Caller, rep_id: Id, as_of: AsOf = None) -> RepCall:
    """One dependency for the endpoint a CRM page calls most: FastAPI's resolution of each dependency
    costs about as much as a cached answer itself (one instead of five: 1.2–1.6x the answers a second)."""
    st: AppState = request.app.state.guanxi
    tick = st.data.tick()
    rep = await _readable(st, caller, rep_id, tick)
    served = await loaded(st)
    return RepCall(st, rep, served, await _day(st, as_of, tick, rep), tick)


def rep_call_held(st: AppState, caller: Principal, rep_id: str, as_of: dt.date | None) -> RepCall | None:
    """:func:`rep_call` when everything it needs is held by the worker (nothing to read, nothing refused),
    else None: the caller then takes the route, which reads what is missing or says what is wrong."""
    tick = st.data.tick()
    teams = st.data.current_teams(tick)
    served = st.holder.current
    if teams is None or served is None:
        return None
    try:
        check_rep(st, caller, rep_id, teams)
        day = _held_day(st, as_of, tick, rep_id)
    except (Problem, Refused):
        return None
    return None if day is None else RepCall(st, rep_id, served, day, tick)


ForRep = Annotated[RepCall, Depends(rep_call)]
