"""Errors as RFC 9457 problem details (``application/problem+json``); nothing escapes as a bare 500."""

from __future__ import annotations

import logging
import urllib.parse
from http import HTTPStatus

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("guanxi.api")


class Problem(Exception):
    """Raise in a handler to answer with a problem document."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, object]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers


def problem_response(request: Request, status: int, detail: str, errors: list[dict[str, object]] | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, object] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                               "detail": detail, "instance": request.url.path}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


RETRY_AFTER_SECONDS = 2
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
"""The two ways to present a key (GUANXI_API_KEYS); either one is enough."""
REFUSED_STATUS = {"invalid": 422, "conflict": 409, "forbidden": 403, "not_found": 404, "unavailable": 503}


def install(app: FastAPI) -> None:
    """Problem documents for every error, and their schema in the OpenAPI document."""
    from crm.store import StoreBusy, is_lock_timeout
    from guanxi.services.errors import Refused
    from serving.api.schemas import problem_schemas

    original = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(problem_schemas())
            components["securitySchemes"] = SECURITY_SCHEMES
            for path, operations in schema.get("paths", {}).items():
                if path.startswith("/v1/"):  # /health, /ready and /metrics need no key
                    for operation in operations.values():
                        operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        return problem_response(request, REFUSED_STATUS[exc.kind], exc.detail, exc.errors)

    @app.exception_handler(StoreBusy)
    async def _busy(request: Request, exc: StoreBusy) -> JSONResponse:
        return problem_response(request, 503, str(exc), headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.exception_handler(sa.exc.OperationalError)
    async def _store(request: Request, exc: sa.exc.OperationalError) -> JSONResponse:
        if is_lock_timeout(exc):
            return problem_response(request, 503, "the store is busy with another write; retry shortly",
                                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        log.exception("store error on %s", request.url.path)
        return problem_response(request, 503, "the store cannot be reached; retry shortly",
                                headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        if exc.status == 401 and not request.url.path.startswith("/v1/"):  # a page: sign in first
            return RedirectResponse("/login?" + urllib.parse.urlencode({"next": request.url.path}), status_code=303)
        return problem_response(request, exc.status, exc.detail, exc.errors, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
                  for e in exc.errors()]
        summary = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
        return problem_response(request, 422, f"invalid request: {summary}", errors)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(request, 500, "internal error; it has been logged")


DRAIN_BYTES = 64 * 1024 * 1024
"""A refused body is read (and dropped) up to this size before the 413, then the connection is closed."""


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 before any handler reads it.

    The body is read here (it is small by construction) so that a chunked upload without a
    Content-Length is bounded too."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > self.limit:
                await self._refuse(scope, receive, send, size, more)
                return
            chunks.append(chunk)
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int, more: bool) -> None:
        """413. The rest of the body is read and dropped first (up to :data:`DRAIN_BYTES`): a server that
        answers while the client is still sending and closes resets the connection, and the client
        never sees the answer."""
        while more and size <= DRAIN_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        request = Request(scope, receive)
        response = problem_response(request, 413, f"the request body is larger than {self.limit:,} bytes "
                                    "(GUANXI_MAX_BODY_BYTES); send fewer rows per request",
                                    headers={"Connection": "close"} if more else None)
        await response(scope, receive, send)
