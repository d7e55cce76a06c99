"""Next-best actions the worker already holds, sent before FastAPI routes the request.

A CRM page asks for a rep's actions each time it opens; most of those answers are held (nothing changed
since the last). Routing and resolving the endpoint's dependencies were three quarters of a held answer's
time in FastAPI (a profile of a loaded worker), so a plain GET of the endpoint is answered
here when everything it needs is held: the caller's key, the rep, the models, the day, the answer. The
checks are the route's own functions (``deps.caller_of``, ``deps.rep_call_held``, ``routes.held_answer``);
anything else — another query parameter, a value to validate, a key or rep to refuse, an answer to
compute — goes on to the route, which answers it, errors included, as before.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.api.deps import ID_LENGTH, KEY_COOKIE, AppState, caller_of, rep_call_held
from serving.api.routes import DEFAULT_LIMIT, MAX_LIMIT, held_answer
from serving.api.schemas import ID_PATTERN, Lang

ID = re.compile(ID_PATTERN)
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
HEADERS = (b"authorization", b"x-api-key", b"cookie")


class HeldAnswers:
    """Plain ASGI in front of the router (inside the request-id, metrics and CORS middleware)."""

    def __init__(self, app: ASGIApp, route: APIRoute) -> None:
        self.app, self.route = app, route  # the next-best-actions route: its path pattern, its metrics label

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            found = self.route.path_regex.match(scope["path"])
            body = self._held(scope, found.group("rep_id")) if found else None
            if body is not None:
                scope["route"] = self.route  # the metrics label the route's requests
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _held(scope: Scope, rep_id: str) -> bytes | None:
        query = _query(scope["query_string"])
        if query is None or len(rep_id) > ID_LENGTH or not ID.match(rep_id):
            return None
        limit, lang, as_of = query
        st: AppState = scope["app"].state.guanxi
        headers = {k: v.decode("latin-1") for k, v in scope["headers"] if k in HEADERS}
        cookie = _cookie(headers.get(b"cookie"))
        caller = caller_of(st, headers.get(b"authorization"), headers.get(b"x-api-key"), cookie)
        if caller is None:
            return None
        call = rep_call_held(st, caller, rep_id, as_of)
        if call is None:
            return None
        return held_answer(call, limit, lang, scope["state"]["request_id"])


def _query(raw: bytes) -> tuple[int, Lang, dt.date | None] | None:
    """``limit``, ``lang`` and ``as_of`` in their plain spelling (with their defaults), or None for anything
    the route should parse (and perhaps refuse) itself."""
    limit, lang, as_of = DEFAULT_LIMIT, Lang.en, None
    seen = set()
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name in seen:
            return None
        seen.add(name)
        if name == "limit" and value.isascii() and value.isdigit() and len(value) <= 3 and 1 <= int(value) <= MAX_LIMIT:
            limit = int(value)
        elif name == "lang" and value in Lang.__members__:
            lang = Lang(value)
        elif name == "as_of" and DATE.fullmatch(value):
            try:
                as_of = dt.date.fromisoformat(value)
            except ValueError:
                return None
        else:
            return None
    return limit, lang, as_of


def _cookie(header: str | None) -> str | None:
    """The pages' key cookie, parsed as Starlette's ``Request.cookies`` parses it."""
    return cookie_parser(header).get(KEY_COOKIE) if header else None
