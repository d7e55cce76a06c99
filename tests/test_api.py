"""The HTTP API against a real uvicorn server, a real SQLite store and a real MLflow registry."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import schemathesis
import sqlalchemy as sa
import uvicorn
from hypothesis import HealthCheck, settings

from crm.importer import import_frames
from crm.sim.simulate import simulate
from crm.store import ERASURES, SERVED, done_actions, init_db, make_engine, read_all, table_counts
from features.deal import deal_features
from features.relationship import relationship_features
from guanxi.settings import Settings, get_settings
from serving.api.auth import digest
from serving.api.deps import AppState
from serving.catalog import load_catalog
from serving.models import load_models
from tests.conftest import point_settings_at

pytestmark = pytest.mark.slow  # trains models or starts servers: `make test`, not `make test-fast`

KEY = "test-key-0001"
SCOPED = "scoped-key-01"
HORIZON = 90


def _train_and_register(tables: dict, params: dict | None = None, kinds: tuple[str, ...] = ("relationship", "deal",
                                                                                              "effect")) -> None:
    from training.registry import export_champion
    from training.tracking import log_trained
    from training.train import train
    from training.trained import EffectRun
    from training.uplift import effect_dataset, fit_effect_model

    folder = get_settings().models_dir
    for kind in kinds:
        if kind == "effect":
            rows = effect_dataset(tables, horizon_days=HORIZON, min_history_days=90)
            logged = log_trained(EffectRun(fit_effect_model(rows, params), rows))
        else:
            logged = log_trained(train(tables, kind, params=params, horizon_days=HORIZON, min_history_days=90))
        export_champion(logged.model, folder)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A served small world: store, registered champions, and uvicorn on a free port."""
    home = tmp_path_factory.mktemp("api-home")
    mp = pytest.MonkeyPatch()
    point_settings_at(mp, home)
    sim = simulate("small", seed=11)
    engine = make_engine(get_settings().db_url)
    init_db(engine)
    import_frames(engine, sim.tables, {name: name for name in sim.tables})
    _train_and_register(sim.tables)
    s = Settings(api_keys=f"{KEY}, sha256:{digest(SCOPED)}@R0001", model_poll_seconds=1.0,
                 cors_origins="https://crm.example.com")
    from serving.api.app import create_app

    app = create_app(s)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/ready").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        raise RuntimeError("the API did not become ready")
    yield {"base": base, "app": app, "engine": engine, "sim": sim, "home": home}
    srv.should_exit = True
    thread.join(timeout=10)
    engine.dispose()
    mp.undo()
    get_settings.cache_clear()


@pytest.fixture
def client(server: dict[str, object]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=str(server["base"]), headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as c:
        yield c


def test_keys_are_required_and_scoped(server: dict[str, object]) -> None:
    base = server["base"]
    r = httpx.get(f"{base}/v1/reps/R0002/next-best-actions")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 401 and "API key" in r.json()["detail"]
    assert httpx.get(f"{base}/v1/reps/R0002/next-best-actions", headers={"X-API-Key": "wrong-key-123"}
                     ).status_code == 401
    scoped = {"X-API-Key": SCOPED}  # configured by its hash only
    assert httpx.get(f"{base}/v1/reps/R0002/next-best-actions", headers=scoped).status_code == 403
    assert httpx.get(f"{base}/v1/reps/R0001/next-best-actions?limit=2", headers=scoped, timeout=60).status_code == 200
    assert httpx.get(f"{base}/health").status_code == 200


def test_a_held_answer_keeps_every_check_of_the_route(client: httpx.Client, server: dict[str, object]) -> None:
    """An answer the worker holds is sent before routing (``serving.api.held``): the same answer as the
    route's, and still refused to a missing, wrong or out-of-scope key and for a bad parameter."""
    url = "/v1/reps/R0002/next-best-actions?limit=4&lang=zh"
    first = client.get(url).json()  # computed by the route, now held
    logged = _served_rows(server, "R0002")
    hits = _cache_hits(client)
    again = client.get(url)
    assert again.status_code == 200 and _cache_hits(client) == hits + 1  # held: nothing computed
    assert _served_rows(server, "R0002") == logged  # a held answer queued nothing for the served log
    assert again.json()["actions"] == first["actions"] and again.json()["rep_id"] == "R0002"
    assert again.headers["X-Request-ID"] and again.headers["content-type"] == "application/json"
    # the same answer through the route (a parameter the held path leaves to the route)
    assert client.get(url + "&unknown=1").json()["actions"] == first["actions"]
    base = server["base"]
    assert httpx.get(f"{base}{url}").status_code == 401
    assert httpx.get(f"{base}{url}", headers={"X-API-Key": "wrong-key-123"}).status_code == 401
    assert httpx.get(f"{base}{url}", headers={"X-API-Key": SCOPED}).status_code == 403
    assert httpx.get(f"{base}{url}", cookies={"guanxi_key": KEY}).json()["actions"] == first["actions"]
    assert client.get("/v1/reps/R0002/next-best-actions?limit=101").status_code == 422
    assert client.get("/v1/reps/R0002/next-best-actions?as_of=1900-01-01").status_code == 422


def _served_rows(server: dict[str, object], rep_id: str) -> int:
    """The rep's served records, once the served log's writer (every 0.25 s) has nothing more to add."""
    engine = server["engine"]
    counts: list[int] = []
    while len(counts) < 3 or counts[-1] != counts[-3]:
        with engine.connect() as conn:  # type: ignore[attr-defined]
            counts.append(int(conn.execute(sa.select(sa.func.count()).select_from(SERVED)
                                           .where(SERVED.c.rep_id == rep_id)).scalar_one()))
        time.sleep(0.3)
    return counts[-1]


def _cache_hits(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith('guanxi_answer_cache_total{result="hit"}'))


def test_request_ids_cors_and_security_schemes(client: httpx.Client, server: dict[str, object]) -> None:
    """What operations and a browser-based CRM need: request ids in and out, CORS for the configured
    origins only, and the two key styles in the OpenAPI document."""
    assert client.get("/health", headers={"X-Request-ID": "crm-req-42"}).headers["X-Request-ID"] == "crm-req-42"
    generated = client.get("/health", headers={"X-Request-ID": "not a token"}).headers["X-Request-ID"]
    assert len(generated) == 32 and generated != "not a token"
    url = f"{server['base']}/v1/reps/R0001/next-best-actions"
    asks = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    ok = httpx.options(url, headers={"Origin": "https://crm.example.com", **asks})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://crm.example.com"
    other = httpx.options(url, headers={"Origin": "https://elsewhere.example.org", **asks})
    assert "access-control-allow-origin" not in other.headers
    spec = client.get("/openapi.json").json()
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    assert spec["paths"]["/v1/reps/{rep_id}/next-best-actions"]["get"]["security"] == [{"bearer": []}, {"apiKey": []}]
    assert "security" not in spec["paths"]["/health"]["get"]


def test_bad_requests_are_problems_not_server_errors(client: httpx.Client) -> None:
    r = client.get("/v1/reps/R0002/next-best-actions?limit=0")
    assert r.status_code == 422 and "limit" in r.json()["detail"]
    assert client.get("/v1/reps/NOBODY/next-best-actions").status_code == 404
    assert client.get("/v1/opportunities/NOPE/win-probability").status_code == 404
    assert client.get("/v1/relationships/R0002/NOPE").status_code == 404
    r = client.post("/v1/recommendations/feedback", json={"rep_id": "R0002", "contact_id": "C000001",
                                                          "action": "teleport", "status": "done"})
    assert r.status_code == 422 and "catalog" in r.json()["detail"]


def _touch(iid: str, contact: str, ts: str, rep: str = "R0002") -> dict[str, object]:
    return {"interaction_id": iid, "ts": ts, "rep_id": rep, "contact_id": contact, "channel": "call",
            "direction": "outbound", "depth": 2}


def test_posted_interaction_changes_the_next_answer_and_counts_once(client: httpx.Client,
                                                                    server: dict[str, object]) -> None:
    first = client.get("/v1/reps/R0002/next-best-actions?limit=10").json()
    checkins = [a for a in first["actions"] if a["action"] in ("check_in", "reengage")]
    assert first["actions"] and all(a["reasons"] for a in first["actions"])
    # every reason shows its numbers: a missing value is left out, not written "n/a"
    assert not [r["text"] for a in first["actions"] for r in a["reasons"] if "n/a" in r["text"]]
    target = checkins[0] if checkins else first["actions"][0]
    ts = first["freshness"]["data_latest"]
    before = table_counts(server["engine"])["interactions"]
    body = {"interactions": [_touch("API-1", target["contact_id"], ts)]}
    r1, r2 = client.post("/v1/interactions", json=body), client.post("/v1/interactions", json=body)
    assert r1.json() == {"received": 1, "inserted": 1, "duplicates": 0, "updated": 0}
    assert r2.json() == {"received": 1, "inserted": 0, "duplicates": 1, "updated": 0}
    assert table_counts(server["engine"])["interactions"] == before + 1
    after = client.get("/v1/reps/R0002/next-best-actions?limit=10").json()
    kind_of = {"check_in": "check_in", "reengage": "check_in"}
    if target["action"] in kind_of:  # a check-in was just logged: every check-in action is on cooldown
        assert not [a for a in after["actions"] if a["contact_id"] == target["contact_id"]
                    and a["action"] in kind_of]


def test_the_cli_and_the_api_recommend_the_same_actions(client: httpx.Client) -> None:
    """One path from the store to a rep's actions: `guanxi recommend --json` equals the API's answer."""
    from typer.testing import CliRunner

    from guanxi.cli import app

    api = client.get("/v1/reps/R0005/next-best-actions?limit=5&lang=zh").json()
    day = api["freshness"]["as_of"][:10]
    result = CliRunner().invoke(app, ["recommend", "--rep", "R0005", "--k", "5", "--lang", "zh", "--as-of", day,
                                      "--json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    assert cli["as_of"] == day and cli["models"] == api["models"] and len(cli["actions"]) == 5
    for mine, theirs in zip(cli["actions"], api["actions"], strict=True):
        assert {k: mine[k] for k in ("rank", "contact_id", "action", "title")} == \
            {k: theirs[k] for k in ("rank", "contact_id", "action", "title")}
        assert mine["priority"] == pytest.approx(theirs["priority"], rel=1e-9)
        assert [r["text"] for r in mine["reasons"]] == [r["text"] for r in theirs["reasons"]]
    bad = CliRunner().invoke(app, ["recommend", "--rep", "NOBODY"])
    assert bad.exit_code == 2 and "no rep 'NOBODY'" in bad.output and "Traceback" not in bad.output


def test_the_api_ranks_what_batch_scoring_of_the_whole_store_ranks(client: httpx.Client,
                                                                   server: dict[str, object]) -> None:
    """The API reads the rep's pair logs and the day's shared context; `guanxi score` reads the whole log:
    the same actions at the same ranks, the same priorities (1e-9). R0006 has no feedback, which only
    the API reads."""
    from guanxi.services.answers import rep_actions
    from serving.api import encode
    from serving.api.schemas import Freshness, NextBestActions
    from serving.batch import score_chunk
    from serving.catalog import load_catalog
    from serving.store_data import StoreData

    api = client.get("/v1/reps/R0006/next-best-actions?limit=10").json()
    day = pd.Timestamp(api["freshness"]["as_of"])
    models, _ = load_models(get_settings().models_dir)
    catalog = load_catalog()
    batch = score_chunk(read_all(server["engine"]), day, ["R0006"], models, catalog, k=10, bands=(0.5, 0.2))
    ranked = batch.dropna(subset=["recommended_rank"]).sort_values("recommended_rank")
    assert [a["contact_id"] for a in api["actions"]] == ranked["contact_id"].tolist()
    for action, row in zip(api["actions"], ranked.itertuples(), strict=True):
        if row.best_action == action["action"]:
            assert action["priority"] == pytest.approx(row.best_priority, rel=1e-9)
    # the bytes a cached answer is sent as equal the response model's own encoding
    with StoreData(server["engine"]) as data:
        actions = rep_actions(data, models, catalog, "R0006", day, 10, "en")
    fresh = Freshness(as_of=day.to_pydatetime(), data_latest=None, data_age_hours=None)
    body, _ = encode.next_best_actions("R0006", fresh, models.versions, models.labels, actions)
    model = NextBestActions.model_validate({"rep_id": "R0006", "freshness": fresh, "models": models.versions,
                                            "labels": models.labels, "actions": actions}, from_attributes=True)
    assert json.loads(body) == json.loads(model.model_dump_json())
    assert body == model.model_dump_json().encode()


def test_bad_rows_are_reported_per_row_and_nothing_is_written(client: httpx.Client,
                                                              server: dict[str, object]) -> None:
    before = table_counts(server["engine"])["interactions"]
    good = _touch("API-GOOD", "C000001", "2024-06-01T10:00:00Z")
    bad = _touch("API-BAD", "NO-SUCH-CONTACT", "2024-06-01T10:00:00Z")
    r = client.post("/v1/interactions", json={"interactions": [good, bad]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["location"] == "interactions[1].contact_id"
    assert table_counts(server["engine"])["interactions"] == before
    r = client.post("/v1/interactions", json={"interactions": [{**good, "ts": "2024-06-01T10:00:00"}]})
    assert r.status_code == 422 and "ts" in r.json()["detail"]


def test_dismissed_twice_is_not_offered_again(client: httpx.Client, server: dict[str, object]) -> None:
    first = client.get("/v1/reps/R0003/next-best-actions?limit=5").json()["actions"]
    top = next(a for a in first if not a["mandatory"])
    for _ in range(2):
        r = client.post("/v1/recommendations/feedback", json={"rep_id": "R0003", "contact_id": top["contact_id"],
                                                              "action": top["action"], "status": "dismissed"})
        assert r.status_code == 201
    again = client.get("/v1/reps/R0003/next-best-actions?limit=5").json()["actions"]
    assert not [a for a in again if a["contact_id"] == top["contact_id"] and a["action"] == top["action"]]
    # a done action is kept with its kind: the effect model's next training counts it as a treatment
    second = next(a for a in again if not a["mandatory"])
    r = client.post("/v1/recommendations/feedback", json={"rep_id": "R0003", "contact_id": second["contact_id"],
                                                          "action": second["action"], "status": "done"})
    assert r.status_code == 201
    done = done_actions(server["engine"])  # type: ignore[arg-type]
    mine = done[done["contact_id"] == second["contact_id"]]
    assert list(mine["kind"]) == [load_catalog()[second["action"]].kind]


def test_relationship_win_probability_and_who_knows(client: httpx.Client, server: dict[str, object]) -> None:
    sim = server["sim"]
    inter = sim.tables["interactions"]
    pair = inter[inter["rep_id"] == "R0004"].iloc[-1]
    r = client.get(f"/v1/relationships/R0004/{pair['contact_id']}?lang=zh").json()
    assert 0 <= r["health"] <= 100 and r["band"] in ("Good", "Fair", "Poor") and r["reasons"]
    assert r["label"] == "effective_relationship"
    assert set(r["elements"]) <= {"value", "favor", "dignity", "presence", "frequency", "length", "depth",
                                 "reciprocity"}
    opps = sim.tables["opportunities"]
    open_id = opps.loc[opps["outcome"] == "open", "opportunity_id"].iloc[0]
    w = client.get(f"/v1/opportunities/{open_id}/win-probability").json()
    assert 0 < w["p_win"] < 1 and w["grade"] in "ABCD"
    # the API scores exactly what offline scoring of the whole store gives (no serving skew)
    tables, day = read_all(server["engine"]), pd.Timestamp(w["freshness"]["as_of"])
    models, deal_model = load_models(get_settings().models_dir)
    feats = deal_features(tables, day)
    offline = deal_model.predict_proba(feats[feats["opportunity_id"] == open_id])[:, 1][0]
    assert w["p_win"] == pytest.approx(offline, abs=1e-9)
    rel = relationship_features(tables, day, ["R0004"])
    p_rel = models.relationship.predict_proba(rel[rel["contact_id"] == pair["contact_id"]])[:, 1][0]
    assert r["p_effective"] == pytest.approx(p_rel, abs=1e-9)
    closed = opps.loc[opps["outcome"] == "won", "opportunity_id"].iloc[0]
    assert client.get(f"/v1/opportunities/{closed}/win-probability").status_code == 409
    who = client.get(f"/v1/contacts/{pair['contact_id']}/who-knows").json()
    strengths = [t["strength"] for t in who["reps"]]
    assert "R0004" in [t["rep_id"] for t in who["reps"]] and strengths == sorted(strengths, reverse=True)


def _evaluation_sets() -> dict[str, pd.DataFrame]:
    """Every run's logged evaluation set, by run id."""
    import tempfile

    from mlflow import MlflowClient

    from training.tracking import configure

    configure()
    client = MlflowClient()
    out = {}
    for run in client.search_runs([e.experiment_id for e in client.search_experiments()]):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = client.download_artifacts(run.info.run_id, "evaluation/test_set.parquet", tmp)
            except Exception:  # a run without an evaluation set
                continue
            out[run.info.run_id] = pd.read_parquet(path)
    return out


def test_erasure_removes_the_contact_everywhere_and_leaves_a_keyed_audit_record(
        client: httpx.Client, server: dict[str, object], tmp_path: Path) -> None:
    import hashlib

    import sqlalchemy as sa

    from crm.store import contact_token, record_score_output
    from serving.batch import prepare, read_scores, run_pandas

    # the relationship and effect models' evaluation sets hold contacts (the deal model's holds deals)
    sets = {run: s for run, s in _evaluation_sets().items() if "contact_id" in s.columns}
    assert len(sets) >= 2
    in_store = set(read_all(server["engine"])["contacts"]["contact_id"].astype(str))
    contact = sorted(set.intersection(*(set(s["contact_id"].astype(str)) for s in sets.values())) & in_store)[0]
    # a nightly score run holds the contact too
    tables = read_all(server["engine"])
    models, deal_model = load_models(get_settings().models_dir)
    out = tmp_path / "scores"
    day = pd.Timestamp(tables["interactions"]["ts"].max()).ceil("D")
    run_pandas(tables, prepare(out, day, models.versions, tables["reps"]["rep_id"], 4, 3), models, deal_model)
    record_score_output(server["engine"], out)
    assert contact in set(read_scores(out)["contact_id"])

    assert client.delete(f"/v1/contacts/{contact}", headers={"Authorization": "", "X-API-Key": SCOPED}
                         ).status_code == 403
    r = client.delete(f"/v1/contacts/{contact}")
    assert r.status_code == 200 and r.json()["deleted"]["contacts"] == 1 and r.json()["warning"] is None
    assert r.json()["score_files"] and len(r.json()["artifacts"]) >= 2
    with server["engine"].connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM interactions WHERE contact_id = :c"), {"c": contact})
        assert left.scalar_one() == 0
        audit = conn.execute(sa.select(ERASURES.c.contact_hash, ERASURES.c.rows_deleted)).fetchall()
    assert audit and contact not in str(audit)
    assert audit[-1][0] == contact_token(get_settings().erasure_key(), contact) != hashlib.sha256(
        contact.encode()).hexdigest()
    assert contact not in set(read_scores(out)["contact_id"])
    for run_id, evaluation in _evaluation_sets().items():
        if run_id not in sets:
            continue
        assert contact not in set(evaluation["contact_id"].astype(str)), run_id
        assert len(evaluation) == len(sets[run_id]) - int((sets[run_id]["contact_id"].astype(str) == contact).sum())
    assert client.delete(f"/v1/contacts/{contact}").status_code == 404
    # the cached small tables are dropped, the feature builders' Polars copy with the handlers' pandas one
    data = server["app"].state.guanxi.data
    assert contact not in data.static()["contacts"]["contact_id"].to_list()
    assert contact not in data.frames()["contacts"]["contact_id"].to_list()
    assert client.get(f"/v1/contacts/{contact}/who-knows").status_code == 404


def test_a_new_champion_is_served_without_a_restart(client: httpx.Client, server: dict[str, object]) -> None:
    from training.registry import promote

    app_state: AppState = server["app"].state.guanxi
    old = app_state.holder.current.models.versions["guanxi-relationship"]
    failures: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=str(server["base"]), headers={"X-API-Key": KEY}, timeout=60) as c:
            while not stop.is_set():
                r = c.get("/v1/relationships/R0001/C000001")
                if r.status_code >= 500:
                    failures.append(r.status_code)
                c.get("/ready")

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        _train_and_register(server["sim"].tables, {"num_leaves": 7}, kinds=("relationship",))
        promote("guanxi-relationship", force=True, reason="test: hot reload")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            versions = client.get("/ready").json()["models"]
            if versions["guanxi-relationship"] != old:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join()
    assert versions["guanxi-relationship"] != old
    assert failures == []


def _real_values(server: dict[str, object]) -> dict[str, list[str]]:
    """Ids and days from the served world, so that fuzzing reaches the handlers' real work, not only 404s."""
    t = server["sim"].tables
    inter = t["interactions"]
    days = pd.to_datetime(inter["ts"], utc=True).dt.strftime("%Y-%m-%d").drop_duplicates().sample(50, random_state=0)
    return {"rep_id": sorted(t["reps"]["rep_id"].astype(str)), "contact_id": sorted(inter["contact_id"].astype(str)
                                                                                   .unique())[:200],
            "opportunity_id": sorted(t["opportunities"]["opportunity_id"].astype(str))[:200],
            "as_of": sorted(days), "ts": [f"{d}T10:00:00Z" for d in sorted(days)]}


def _with_real_values(case: schemathesis.Case, real: dict[str, list[str]], pick: list[int]) -> schemathesis.Case:
    """Put real ids and days where the generated case has such a field (path, query or body)."""
    def choose(name: str, i: int) -> str:
        values = real[name]
        return values[pick[i % len(pick)] % len(values)]

    for i, name in enumerate(case.path_parameters or {}):
        if name in real:
            case.path_parameters[name] = choose(name, i)
    if case.query and "as_of" in case.query:
        case.query["as_of"] = choose("as_of", 0)
    rows = case.body.get("interactions") if isinstance(case.body, dict) else None
    targets = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else [case.body] \
        if isinstance(case.body, dict) else []
    for j, row in enumerate(targets):
        for name in ("rep_id", "contact_id", "ts"):
            if name in row:
                row[name] = choose(name, j + 1)
    return case


def test_schemathesis_finds_no_server_error_and_no_schema_break(server: dict[str, object]) -> None:
    """Every operation of the served OpenAPI spec, bounded examples, with a valid key; half of the cases carry
    real ids and days from the world. Every check is on, error bodies included (their schema resolves)."""
    from hypothesis import given
    from hypothesis import strategies as st

    schema = schemathesis.openapi.from_url(f"{server['base']}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    real = _real_values(server)
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(), real_ids=st.booleans(),
               pick=st.lists(st.integers(0, 10_000), min_size=3, max_size=3))
        @settings(max_examples=24, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case, real_ids: bool, pick: list[int]) -> None:
            if real_ids:
                case = _with_real_values(case, real, pick)
            # schema-valid ids that do not exist are refused with a 404/422 problem: that is not a defect,
            # so the "valid data must be accepted" check is left out; every schema check stays on
            case.call_and_validate(base_url=str(server["base"]), headers={"Authorization": f"Bearer {KEY}"},
                                   timeout=60, excluded_checks=[schemathesis.checks.positive_data_acceptance])

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then fail once with all of them
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_serve_refuses_a_public_host_without_keys(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from guanxi.cli import app

    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"], env={"GUANXI_API_KEYS": "",
                                                                          "GUANXI_HOME": str(tmp_path)})
    assert result.exit_code == 2 and "127.0.0.1" in result.output
