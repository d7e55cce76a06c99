"""The documented multi-process deployment, for real: one PostgreSQL store, one MLflow tracking server,
two `guanxi serve` processes on different ports (the first with two workers). A write to one is in the
other's next answer; a promotion reaches both within a poll; /metrics sums every worker of a process."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from crm.importer import import_frames
from crm.sim.simulate import simulate
from crm.store import init_db, make_engine
from guanxi.settings import get_settings
from serving import launch
from tests.conftest import _postgres_url, running_mlflow_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

POLL_SECONDS = 2.0
NBA = "/v1/reps/{rep_id}/next-best-actions"


def _register(tables: dict[str, pd.DataFrame], seed: int = 7) -> None:
    from training.tracking import log_trained
    from training.train import train
    from training.trained import EffectRun
    from training.uplift import effect_dataset, fit_effect_model

    for kind in ("relationship", "deal"):
        log_trained(train(tables, kind, horizon_days=90, min_history_days=90, params={"seed": seed}))
    rows = effect_dataset(tables, horizon_days=90, min_history_days=90)
    log_trained(EffectRun(fit_effect_model(rows, bags=1), rows))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    home = tmp_path_factory.mktemp("deployment")
    store_url = _postgres_url()
    world = simulate("small", seed=11)
    engine = make_engine(store_url)
    init_db(engine)
    import_frames(engine, world.tables, {name: name for name in world.tables})
    servers: list[object] = []
    mlflow_env = {"GUANXI_HOME": str(home), "GUANXI_MODELS_DIR": str(home / "models"),
                  "GUANXI_DATABASE_URL": store_url}
    saved = {k: os.environ.get(k) for k in (*mlflow_env, "MLFLOW_TRACKING_URI")}
    stack = contextlib.ExitStack()
    try:
        tracking = stack.enter_context(running_mlflow_server(home))
        os.environ.update({**mlflow_env, "MLFLOW_TRACKING_URI": tracking})
        get_settings.cache_clear()
        _register(world.tables)
        env = {**os.environ, "GUANXI_MODEL_POLL_SECONDS": str(POLL_SECONDS), "GUANXI_USE_REGISTRY": "true",
               "GUANXI_ERASURE_SECRET": "one key for every node of a deployment"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        ports = [launch.free_port(), launch.free_port()]
        for port, workers in zip(ports, (2, 1), strict=True):
            log = stack.enter_context((home / f"serve-{port}.log").open("w"))
            try:
                servers.append(launch.start({**env, "GUANXI_HOME": str(home / f"node-{port}")}, port, workers, log))
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}: {(home / f'serve-{port}.log').read_text()[-3000:]}") from None
        yield {"bases": [f"http://127.0.0.1:{p}" for p in ports], "world": world, "engine": engine,
               "tracking": tracking}
    finally:
        for proc in servers:
            launch.stop(proc)  # type: ignore[arg-type]
        stack.close()
        engine.dispose()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()


def _pair(world: object, rep: str) -> tuple[str, pd.Timestamp]:
    inter = world.tables["interactions"]  # type: ignore[attr-defined]
    mine = inter[inter["rep_id"] == rep]
    return str(mine.iloc[-1]["contact_id"]), pd.Timestamp(inter["ts"].max())


def test_a_write_to_one_server_is_in_the_other_servers_next_answer(deployment: dict[str, object]) -> None:
    first, second = deployment["bases"]  # type: ignore[misc]
    contact, latest = _pair(deployment["world"], "R0003")
    path = f"/v1/relationships/R0003/{contact}"
    before = httpx.get(f"{second}{path}", timeout=60).json()
    touch = {"interaction_id": "DEPLOY-1", "ts": (latest - pd.Timedelta(hours=2)).isoformat(), "rep_id": "R0003",
             "contact_id": contact, "channel": "visit", "direction": "outbound", "depth": 4, "favor": "given",
             "with_executive": True}
    r = httpx.post(f"{first}/v1/interactions", json={"interactions": [touch]}, timeout=60)
    assert r.status_code == 200 and r.json()["inserted"] == 1, r.text
    after = httpx.get(f"{second}{path}", timeout=60).json()
    assert after["p_effective"] != before["p_effective"], (before, after)
    again = httpx.get(f"{first}{path}", timeout=60).json()
    assert again["p_effective"] == pytest.approx(after["p_effective"], abs=1e-12)


def test_a_promotion_reaches_both_servers_within_a_poll(deployment: dict[str, object]) -> None:
    from training.registry import promote
    from training.tracking import log_trained
    from training.train import train

    bases: list[str] = deployment["bases"]  # type: ignore[assignment]
    served = {httpx.get(f"{b}/ready", timeout=30).json()["models"]["guanxi-relationship"] for b in bases}
    assert served == {"1"}
    world = deployment["world"]
    logged = log_trained(train(world.tables, "relationship", horizon_days=90, min_history_days=90,  # type: ignore[attr-defined]
                               params={"seed": 99}))
    promote("guanxi-relationship", force=True, reason="deployment test")
    promoted = time.monotonic()
    waiting = set(bases)
    while waiting:
        assert time.monotonic() - promoted < 3 * POLL_SECONDS + 30, f"still on the old champion: {waiting}"
        for base in list(waiting):
            # new connections: with two workers, both must have swapped
            versions = {httpx.get(f"{base}/ready", timeout=30).json()["models"]["guanxi-relationship"]
                        for _ in range(8)}
            if versions == {logged.version}:
                waiting.discard(base)
        time.sleep(0.2)


def test_metrics_sum_every_worker_of_a_process(deployment: dict[str, object]) -> None:
    base = deployment["bases"][0]  # type: ignore[index]
    workers: set[str] = set()
    sent = 0
    while len(workers) < 2 or sent < 12:
        assert sent < 400, "one worker answered every request"
        r = httpx.get(f"{base}/v1/reps/R0005/next-best-actions?limit=3", timeout=60)  # a new connection each
        assert r.status_code == 200, r.text
        workers.add(r.headers["X-Guanxi-Worker"])
        sent += 1
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(f"{base}/metrics", timeout=30).text)}
    requests = sum(s.value for s in families["guanxi_requests"].samples
                   if s.name == "guanxi_requests_total" and s.labels.get("route") == NBA)
    assert requests == sent  # both workers' counts, whichever worker answered /metrics
    pids = {s.labels["pid"] for s in families["guanxi_model_version"].samples
            if s.labels.get("model") == "guanxi-relationship"}
    assert len(pids) == 2, pids
    predicted = [s.value for s in families["guanxi_prediction_probability"].samples
                 if s.name.endswith("_count") and s.labels.get("model") == "guanxi-effect"]
    assert sum(predicted) >= 3 * len(workers)  # each worker's computed answer once (a cached one is not re-counted)
    cache = {s.labels["result"]: s.value for s in families["guanxi_answer_cache"].samples
             if s.name == "guanxi_answer_cache_total"}
    assert cache.get("hit", 0) > 0 and cache.get("miss", 0) > 0
