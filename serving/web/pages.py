"""The pages: a rep's day, a relationship card, an account map, a manager's view. Each handler parses,
calls one function of ``guanxi.services.views`` and renders a template; keys and scopes are the API's
(a key typed into the sign-in form travels as a same-site, HTTP-only cookie)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from guanxi.services import views
from guanxi.services.errors import Refused
from guanxi.services.writes import write_feedback
from serving.api.deps import KEY_COOKIE, AnswerDay, Caller, Id, Rep, Served, St, check_rep, may_access
from serving.api.schemas import Lang
from serving.reasons import probability_name
from serving.web.i18n import words

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
STATUSES = ("done", "dismissed", "snoozed")
K = 10


def _pct(p: float | None) -> str:
    return "–" if p is None else f"{100 * p:.1f}%"


def _signed(v: float | None) -> str:
    return "–" if v is None else f"{v:+.0f}"


def _signed_pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:+.1f} pt"


templates.env.globals.update(pct=_pct, signed=_signed, signed_pct=_signed_pct)


def render(request: Request, name: str, lang: Lang, **context: Any) -> HTMLResponse:
    """A template with the page words and the two language links of the current address."""
    query = dict(request.query_params)
    links = {f"query_{code}": urllib.parse.urlencode({**query, "lang": code}) for code in ("en", "zh")}
    return templates.TemplateResponse(request, name, {"lang": lang.value, "w": words(lang.value), **links, **context})


PageLang = Annotated[Lang, Query()]


@router.get("/", response_class=HTMLResponse)
def index(request: Request, st: St, caller: Caller, lang: PageLang = Lang.en) -> HTMLResponse:
    names = views.rep_names(st.data)
    may = may_access(st, caller)
    reps = [{"id": r, "name": names.get(r, r), "team": t} for r, t in sorted(st.data.teams().items()) if may(r)]
    return render(request, "index.html", lang, reps=reps)


@router.get("/reps/{rep_id}", response_class=HTMLResponse)
def rep_page(request: Request, rep_id: Rep, st: St, served: Served, day: AnswerDay, lang: PageLang = Lang.en,
             recorded: str | None = None) -> HTMLResponse:
    page = views.rep_day(st.data, served.models, st.catalog, rep_id, day.as_of, K, lang.value)
    st.served.add(views.served_rows(rep_id, page.actions, served.models.versions, request.state.request_id))
    return render(request, "rep.html", lang, day=page, as_of=day.as_of.date(), recorded=recorded,
                  probability=probability_name(served.models.tie_label, lang.value))


@router.post("/reps/{rep_id}/feedback")
async def rep_feedback(request: Request, rep_id: Id, st: St, caller: Caller, lang: PageLang = Lang.en) -> Response:
    form = urllib.parse.parse_qs((await request.body()).decode(), keep_blank_values=True)
    fields = {k: v[0] for k, v in form.items() if v}
    if fields.get("status") not in STATUSES:
        raise Refused("invalid", f"status must be one of {', '.join(STATUSES)}")
    check_rep(st, caller, rep_id)
    row: dict[str, object] = {"rep_id": rep_id, "contact_id": fields.get("contact_id"),
                              "opportunity_id": fields.get("opportunity_id"), "ts": None,
                              "action": fields.get("action", ""), "status": fields["status"], "note": "page"}
    await run_in_threadpool(write_feedback, st.data, row, st.settings, st.catalog)
    back = urllib.parse.urlencode({"lang": lang.value, "recorded": f"{fields['status']}: {row['action']}"})
    return RedirectResponse(f"/reps/{urllib.parse.quote(rep_id)}?{back}", status_code=303)


@router.get("/relationships/{rep_id}/{contact_id}", response_class=HTMLResponse)
def relationship_page(request: Request, rep_id: Rep, contact_id: Id, st: St, served: Served, day: AnswerDay,
                      lang: PageLang = Lang.en) -> HTMLResponse:
    card = views.relationship_card(st.data, served.models, st.catalog, st.settings, rep_id, contact_id, day.as_of,
                                   lang.value)
    elements = [(e, card.health.elements.get(e, 0.0)) for e in views.ELEMENTS]
    biggest = max([abs(v) for _, v in elements] + [1e-9])
    return render(request, "relationship.html", lang, card=card, elements=elements, scale=200 / biggest,
                  as_of=day.as_of.date())


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account_page(request: Request, account_id: Id, st: St, caller: Caller, served: Served, day: AnswerDay,
                 lang: PageLang = Lang.en) -> HTMLResponse:
    amap = views.account_map(st.data, served.deal, account_id, day.as_of, may_access(st, caller))
    return render(request, "account.html", lang, m=amap, as_of=day.as_of.date())


@router.get("/teams/{team}", response_class=HTMLResponse)
def team_page(request: Request, team: Id, st: St, caller: Caller, day: AnswerDay,
              lang: PageLang = Lang.en) -> HTMLResponse:
    if not caller.may_see("", team):
        raise Refused("forbidden", f"this API key may not read team {team!r}")
    return render(request, "team.html", lang, v=views.team_view(st.data, team, day.as_of), as_of=day.as_of.date())


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", lang: PageLang = Lang.en) -> HTMLResponse:
    return render(request, "login.html", lang, next=next if next.startswith("/") else "/")


@router.post("/login")
async def login(request: Request, st: St) -> Response:
    form = urllib.parse.parse_qs((await request.body()).decode())
    key, target = form.get("key", [""])[0], form.get("next", ["/"])[0]
    from serving.api.auth import find_key

    if not find_key(st.keys, key):
        return RedirectResponse("/login?" + urllib.parse.urlencode({"next": target}), status_code=303)
    response = RedirectResponse(target if target.startswith("/") else "/", status_code=303)
    response.set_cookie(KEY_COOKIE, key, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response
