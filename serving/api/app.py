"""The FastAPI application: settings, store and models wired in the lifespan (one copy per worker)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm.store import init_db, make_engine
from guanxi.settings import Settings, get_settings
from serving.api import problems
from serving.api.auth import parse_keys
from serving.api.deps import AppState
from serving.api.held import HeldAnswers
from serving.api.metrics import CONTENT_TYPE, Metrics
from serving.api.model_state import ModelHolder
from serving.api.routes import router
from serving.api.schemas import Health, Ready
from serving.catalog import load_catalog
from serving.served_log import ServedLog
from serving.store_data import StoreData
from serving.web import pages

log = logging.getLogger("guanxi.api")
access = logging.getLogger("guanxi.access")  # one JSON line a request
REQUEST_ID = "X-Request-ID"
REQUEST_ID_KEY = REQUEST_ID.lower().encode("latin-1")  # as ASGI gives header names


def request_id_of(given: str | None) -> str:
    """The caller's request id when it is a sane token (kept for tracing across systems), else a new one."""
    if given and len(given) <= 128 and given.isascii() and given.replace("-", "").replace("_", "").isalnum():
        return given
    return uuid.uuid4().hex


class Measure:
    """Every request's id, metrics, worker header and access-log line, as plain ASGI: Starlette's
    ``@app.middleware("http")`` wraps each response in a stream and a task, which halved the requests a
    worker answers from its cache per second."""

    def __init__(self, app: ASGIApp, metrics: Metrics, worker: str) -> None:
        self.app, self.metrics, self.worker = app, metrics, worker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == REQUEST_ID_KEY), None)
        request_id = request_id_of(given)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Guanxi-Worker"] = self.worker  # which process answered: caches and models are per worker
                headers[REQUEST_ID] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            if access.isEnabledFor(logging.INFO):
                access.info(json.dumps({"request_id": request_id, "method": scope["method"], "route": route,
                                        "status": status, "ms": round(1000 * elapsed, 1), "worker": self.worker}))


def warm_up(st: AppState) -> None:
    """Score one rep before serving: the first request of a worker would otherwise also pay for loading
    the compiled kernels and the boosters' first predictions (about a second here)."""
    from guanxi.services.answers import plan_day, rep_actions

    current = st.holder.current
    reps = sorted(st.data.teams())
    if current is None or not reps:
        return
    try:
        rep_actions(st.data, current.models, st.catalog, reps[0], plan_day(st.data, st.settings, None).as_of, 3, "en")
    except Exception as exc:  # a warm-up that fails must not stop the server; the request will say why
        log.warning("warm-up failed: %s: %s", type(exc).__name__, exc)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing is loaded until the lifespan starts."""
    settings = settings or get_settings()
    keys = parse_keys(settings.api_keys)
    metrics = Metrics()
    worker = f"{socket.gethostname()}:{os.getpid()}"

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.db_url, lock_timeout=settings.lock_timeout_seconds)
        init_db(engine)
        holder = ModelHolder(settings)
        holder.sweep()
        try:
            await asyncio.to_thread(holder.load)
        except Exception as exc:  # serve /health and say why in /ready
            holder.last_error = f"{type(exc).__name__}: {exc}"
            log.error("no models loaded: %s", holder.last_error)
        data = StoreData(engine, settings.future_days)
        data.on_lookup = metrics.cache_result
        await asyncio.to_thread(data.static)  # warm the cache: the first request should not pay for it
        served_log = ServedLog(engine)
        app.state.guanxi = AppState(settings, holder, data, keys, load_catalog(), metrics, served_log)
        if holder.current is not None:
            metrics.served_models(holder.current.models.versions)
        await asyncio.to_thread(warm_up, app.state.guanxi)
        # what is loaded now lives as long as the worker: the collector's full passes skip it (they had
        # walked the models' and frames' objects, ~200 ms, every few requests)
        gc.collect()
        gc.freeze()

        async def poll() -> None:
            while True:
                await asyncio.sleep(settings.model_poll_seconds)
                if await asyncio.to_thread(holder.poll_once):
                    metrics.reloads.inc()
                    if holder.current is not None:
                        metrics.served_models(holder.current.models.versions)

        task = asyncio.create_task(poll())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            holder.close()
            served_log.close()
            data.close()
            engine.dispose()

    app = FastAPI(title="Guanxi", version="1", lifespan=lifespan,
                  description="Next-best actions for B2B relationship selling. Errors are RFC 9457 problem details.")
    problems.install(app)
    app.include_router(router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=Path(pages.__file__).parent / "static"), name="static")
    answers_route = next(r for r in router.routes if isinstance(r, APIRoute) and r.name == "next_best_actions")
    app.add_middleware(HeldAnswers, route=answers_route)  # innermost: inside CORS and the metrics
    app.add_middleware(problems.BodyLimit, limit=settings.max_body_bytes)

    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # a CRM widget in the browser: its preflight must be answered
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type", REQUEST_ID],
                           expose_headers=[REQUEST_ID, "X-Guanxi-Worker"])

    app.add_middleware(Measure, metrics=metrics, worker=worker)

    @app.get("/health", response_model=Health, summary="Liveness")
    def health() -> Health:
        return Health(status="ok")

    @app.get("/ready", response_model=Ready, summary="Models loaded and store reachable",
             responses={503: {"model": Ready}})
    def ready(request: Request, response: Response) -> Ready:
        st: AppState = request.app.state.guanxi
        current = st.holder.current
        store_ok = st.data.reachable()
        ok = current is not None and store_ok
        response.status_code = 200 if ok else 503
        return Ready(status="ready" if ok else "not ready", models=current.models.versions if current else {},
                     model_source=current.source if current else "none", store=store_ok,
                     last_reload_error=st.holder.last_error)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return app
