"""One bad write must not take the service down; scopes hold; erasure is complete.

Each test reproduces an attack on a real `guanxi serve --workers 2` (a second process, SQLite store,
models from bundles) or on the store itself (SQLite and PostgreSQL), and checks the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm.importer import ImportOptions, import_dir, import_frames
from crm.store import ERASURES, contact_token, init_db, make_engine, table_counts
from crm.validate import ValidationError
from guanxi.services.erasure import NotFound, erase_contact
from guanxi.services.writes import Refused, write_interactions
from guanxi.settings import Settings
from serving import launch
from serving.api.auth import digest
from tests.conftest import ROOT, tiny_tables, write_dir

KEY = "hardening-key-01"
SCOPED = "scoped-team-key1"  # may write for R0001 only
LOCK_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def served(served_world: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """`guanxi serve --workers 2` in its own process on a copy of the template store."""
    home = tmp_path_factory.mktemp("hardening-home")
    shutil.copy(served_world["template"], home / "guanxi.db")
    port = launch.free_port()
    env = {**os.environ, "GUANXI_HOME": str(home), "GUANXI_MODELS_DIR": str(served_world["models"]),
           "GUANXI_USE_REGISTRY": "false", "GUANXI_LOCK_TIMEOUT_SECONDS": str(LOCK_TIMEOUT),
           "GUANXI_API_KEYS": f"{KEY}, sha256:{digest(SCOPED)}@R0001"}
    env.pop("GUANXI_DATABASE_URL", None)
    with (home / "server.log").open("w") as log:
        try:
            proc = launch.start(env, port, workers=2, log=log)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {(home / 'server.log').read_text()[-3000:]}") from None
        base = f"http://127.0.0.1:{port}"
        engine = make_engine(f"sqlite:///{home / 'guanxi.db'}")
        yield {"base": base, "engine": engine, "home": home, "sim": served_world["sim"],
               "url": f"sqlite:///{home / 'guanxi.db'}"}
        engine.dispose()
        launch.stop(proc)


def _client(served: dict[str, object], key: str = KEY) -> httpx.Client:
    return httpx.Client(base_url=str(served["base"]), headers={"X-API-Key": key}, timeout=60)


def _fresh(served: dict[str, object], method: str, path: str, n: int = 24, **kw: object) -> list[httpx.Response]:
    """At least ``n`` requests, each on a new connection, until both workers have answered some of them."""
    out: list[httpx.Response] = []
    while len(out) < n or len({r.headers["X-Guanxi-Worker"] for r in out}) < 2:
        assert len(out) < 400, "one worker answered every request"
        with _client(served) as c:
            out.append(c.request(method, path, **kw))
    return out


def _touch(iid: str, rep: str, contact: str, ts: str, **extra: object) -> dict[str, object]:
    return {"interaction_id": iid, "ts": ts, "rep_id": rep, "contact_id": contact, "channel": "call",
            "direction": "outbound", "depth": 2, **extra}


def _pair(served: dict[str, object], rep: str) -> tuple[str, pd.Series]:
    inter = served["sim"].tables["interactions"]
    row = inter[inter["rep_id"] == rep].iloc[-1]
    return str(row["contact_id"]), row


@pytest.mark.slow
def test_timestamps_out_of_range_are_refused_and_the_service_stays_green(served: dict[str, object]) -> None:
    contact, _ = _pair(served, "R0002")
    before = table_counts(served["engine"])["interactions"]
    with _client(served) as c:
        for ts in ("2262-04-11T00:00:00Z", "2100-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
            r = c.post("/v1/interactions", json={"interactions": [_touch(f"TS-{ts[:4]}", "R0002", contact, ts)]})
            assert r.status_code == 422, (ts, r.text)
            assert r.json()["errors"][0]["location"] == "interactions[0].ts" and "accepted range" in r.json()["detail"]
        r = c.post("/v1/recommendations/feedback", json={"rep_id": "R0002", "contact_id": contact,
                                                         "action": "check_in", "status": "done",
                                                         "ts": "2300-01-01T00:00:00Z"})
        assert r.status_code == 422 and "ts" in r.json()["detail"]
        for as_of in ("0001-01-01", "9999-12-31", "1900-01-01"):
            r = c.get(f"/v1/reps/R0002/next-best-actions?as_of={as_of}")
            assert r.status_code == 422 and "as_of" in r.json()["detail"], r.text
        assert table_counts(served["engine"])["interactions"] == before
        for path in ("/v1/reps/R0002/next-best-actions?limit=3", f"/v1/relationships/R0002/{contact}"):
            assert c.get(path).status_code == 200
    # a far-future row that reached the store before the bound (written by hand) does not move "today"
    with served["engine"].begin() as conn:
        conn.exec_driver_sql("INSERT INTO interactions (interaction_id, ts, rep_id, contact_id, channel, direction) "
                             f"VALUES ('FUTURE-1', '2100-01-01T00:00:00.000000', 'R0003', '{contact}', 'call', "
                             "'outbound')")
    try:
        with _client(served) as c:
            r = c.get("/v1/reps/R0002/next-best-actions?limit=3")
        assert r.status_code == 200
        as_of = pd.Timestamp(r.json()["freshness"]["as_of"])
        assert as_of <= pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=2)
    finally:
        with served["engine"].begin() as conn:
            conn.exec_driver_sql("DELETE FROM interactions WHERE interaction_id = 'FUTURE-1'")


@pytest.mark.slow
def test_ids_not_in_canonical_form_are_refused_before_any_scope_check(served: dict[str, object]) -> None:
    contact, _ = _pair(served, "R0001")
    with _client(served, SCOPED) as c:
        for rep in (" R0008", "R0008 ", "R0008\n", "R00\x0008"):
            r = c.post("/v1/interactions", json={"interactions": [_touch("PAD-1", rep, contact,
                                                                         "2024-06-01T10:00:00Z")]})
            assert r.status_code == 422 and "rep_id" in r.json()["detail"], (rep, r.text)
        assert c.post("/v1/interactions", json={"interactions": [_touch("PAD-1", "R0008", contact,
                                                                        "2024-06-01T10:00:00Z")]}).status_code == 403
    with served["engine"].connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM interactions WHERE interaction_id = 'PAD-1'").scalar() == 0
    with _client(served) as c:
        for path in ("/v1/reps/R0007%00/next-best-actions", "/v1/reps/%20R0007/next-best-actions",
                     "/v1/contacts/C000001%0A/who-knows"):
            r = c.get(path)
            assert r.status_code == 422, (path, r.text)


@pytest.mark.slow
def test_a_rewrite_is_a_conflict_unless_asked_and_then_every_worker_answers_from_it(
        served: dict[str, object]) -> None:
    contact, row = _pair(served, "R0002")
    iid = str(row["interaction_id"])
    stored = _touch(iid, "R0002", contact, pd.Timestamp(row["ts"]).isoformat(), channel=str(row["channel"]),
                    direction=str(row["direction"]))
    rewrite = {**stored, "rep_id": "R0001", "channel": "visit", "depth": 4, "favor": "given",
               "with_executive": True}
    with _client(served, SCOPED) as c:  # a key of R0001's takes over R0002's row: refused
        r = c.post("/v1/interactions", json={"interactions": [rewrite]})
        assert r.status_code == 409, r.text
        fields = {e["location"] for e in r.json()["errors"]}
        assert {"interactions[0].rep_id", "interactions[0].channel"} <= fields
        r = c.post("/v1/interactions?on_conflict=update", json={"interactions": [rewrite]})
        assert r.status_code == 403 and "R0002" in r.json()["detail"]
    path = f"/v1/relationships/R0002/{contact}"
    before = {round(r.json()["p_effective"], 12) for r in _fresh(served, "GET", path)}
    assert len(before) == 1
    own = {**stored, "channel": "visit", "depth": 4, "favor": "given", "with_executive": True}
    with _client(served) as c:
        r = c.post("/v1/interactions?on_conflict=update", json={"interactions": [own]})
    assert r.status_code == 200 and r.json()["updated"] == 1 and r.json()["inserted"] == 0
    after = [r.json()["p_effective"] for r in _fresh(served, "GET", path)]
    assert all(round(p, 12) not in before for p in after), (before, after)
    assert len({round(p, 12) for p in after}) == 1


@pytest.mark.slow
def test_the_same_ids_posted_by_eight_clients_at_once_are_inserted_once(served: dict[str, object]) -> None:
    contact, _ = _pair(served, "R0004")
    rows = [_touch(f"SAME-{i:05d}", "R0004", contact, f"2024-05-{1 + i % 28:02d}T{i % 24:02d}:00:00Z")
            for i in range(2500)]
    before = table_counts(served["engine"])["interactions"]

    def client_posts(_: int) -> list[dict[str, int]]:
        answers = []
        with _client(served) as c:
            for start in range(0, len(rows), 1000):
                while True:
                    r = c.post("/v1/interactions", json={"interactions": rows[start:start + 1000]})
                    if r.status_code != 503:
                        break
                    time.sleep(float(r.headers["Retry-After"]))
                assert r.status_code == 200, r.text
                answers.append(r.json())
        return answers

    with ThreadPoolExecutor(8) as pool:
        answers = [a for batch in pool.map(client_posts, range(8)) for a in batch]
    assert sum(a["inserted"] for a in answers) == 2500
    assert sum(a["duplicates"] for a in answers) == 7 * 2500
    assert table_counts(served["engine"])["interactions"] == before + 2500


@pytest.mark.slow
def test_bodies_are_bounded_closed_and_strictly_typed(served: dict[str, object]) -> None:
    contact, _ = _pair(served, "R0002")
    good = _touch("STRICT-1", "R0002", contact, "2024-06-01T10:00:00Z")
    with _client(served) as c:
        big = json.dumps({"interactions": [{**good, "pad": "x" * 3_000_000}]}).encode()
        r = c.post("/v1/interactions", content=big, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(big), 65536):
                yield big[i:i + 65536]

        r = c.post("/v1/interactions", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        for bad in ({**good, "colour": "red"}, {**good, "depth": "3"}, {**good, "with_executive": "yes"},
                    {**good, "duration_min": "5"}):
            r = c.post("/v1/interactions", json={"interactions": [bad]})
            assert r.status_code == 422, (bad, r.text)
        r = c.post("/v1/interactions", content=b'{"interactions": [', headers={"Content-Type": "application/json"})
        assert r.status_code in (400, 422) and r.headers["content-type"] == "application/problem+json"
        assert c.post("/v1/interactions", json={"interactions": [good]}).status_code == 200


@pytest.mark.slow
def test_openapi_document_is_valid_and_every_error_schema_resolves(served: dict[str, object]) -> None:
    from openapi_spec_validator import validate

    with _client(served) as c:
        spec = c.get("/openapi.json").json()
    validate(spec)
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    schemas = spec["components"]["schemas"]
    assert refs and all(r.startswith("#/components/schemas/") and r.rsplit("/", 1)[1] in schemas for r in refs)
    post = spec["paths"]["/v1/interactions"]["post"]
    for code in ("400", "409", "413", "422", "503"):
        assert post["responses"][code]["content"]["application/problem+json"]["schema"] == \
            {"$ref": "#/components/schemas/ProblemDetail"}
    operation_ids = {op["operationId"] for p in spec["paths"].values() for op in p.values()}
    links = post["responses"]["200"]["links"]
    assert links and all(link["operationId"] in operation_ids for link in links.values())


@pytest.mark.slow
def test_an_erasure_is_seen_by_every_worker_at_once(served: dict[str, object]) -> None:
    contact, _ = _pair(served, "R0005")
    assert all(r.status_code == 200 for r in _fresh(served, "GET", f"/v1/contacts/{contact}/who-knows", n=8))
    with _client(served) as c:
        r = c.delete(f"/v1/contacts/{contact}")
        assert r.status_code == 200 and r.json()["deleted"]["contacts"] == 1
        assert c.delete(f"/v1/contacts/{contact}").status_code == 404
    assert {r.status_code for r in _fresh(served, "GET", f"/v1/contacts/{contact}/who-knows")} == {404}
    assert {r.status_code for r in _fresh(served, "GET", f"/v1/relationships/R0005/{contact}", n=8)} == {404}
    with _client(served) as c:
        r = c.post("/v1/interactions", json={"interactions": [_touch("LATE-1", "R0005", contact,
                                                                     "2024-06-01T10:00:00Z")]})
    assert r.status_code == 422 and r.json()["errors"][0]["location"] == "interactions[0].contact_id"


@pytest.mark.slow
def test_writers_and_readers_under_a_held_write_lock_get_503_never_5xx_and_lose_nothing(
        served: dict[str, object]) -> None:
    """8 writers and readers for 30 s against two workers while a writer holds the lock for 15 s."""
    inter = served["sim"].tables["interactions"]
    pairs = inter[["rep_id", "contact_id"]].drop_duplicates().sample(200, random_state=1).to_numpy().tolist()
    engine: Engine = served["engine"]
    before = table_counts(engine)["interactions"]
    stop = time.monotonic() + 30
    acked: list[str] = []
    refused: list[str] = []
    statuses: list[tuple[str, int, str | None]] = []
    inserted: list[int] = []
    guard = threading.Lock()

    def writer(w: int) -> None:
        rnd, n = random.Random(w), 0
        with _client(served) as c:
            while time.monotonic() < stop:
                batch = []
                for _ in range(5):
                    rep, contact = rnd.choice(pairs)
                    batch.append(_touch(f"LOAD-{w}-{n:06d}", rep, contact, "2024-06-01T10:00:00Z"))
                    n += 1
                r = c.post("/v1/interactions", json={"interactions": batch})
                with guard:
                    statuses.append(("POST", r.status_code, r.headers.get("Retry-After")))
                    (acked if r.status_code == 200 else refused).extend(b["interaction_id"] for b in batch)
                    if r.status_code == 200:
                        inserted.append(r.json()["inserted"])

    def reader(w: int) -> None:
        rnd = random.Random(100 + w)
        with _client(served) as c:
            while time.monotonic() < stop:
                rep = rnd.choice(pairs)[0]
                r = c.get(f"/v1/reps/{rep}/next-best-actions?limit=3")
                with guard:
                    statuses.append(("GET", r.status_code, r.headers.get("Retry-After")))

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom crm.store import lock_for_write, make_engine\n"
        "engine = make_engine(sys.argv[1])\nwith engine.connect() as conn, conn.begin():\n"
        "    lock_for_write(conn)\n    print('locked', flush=True)\n    time.sleep(15)\n"), served["url"]],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    for t in threads:
        t.join()
    assert holder.wait(timeout=30) == 0
    holder.stdout.close()
    codes = {code for _, code, _ in statuses}
    print(f"load: {len(statuses)} requests, {sum(c == 503 for _, c, _ in statuses)} answered 503, "
          f"{len(acked)} interactions acknowledged, {len(refused)} refused")
    assert codes <= {200, 503}, sorted(codes)
    busy = [s for s in statuses if s[1] == 503]
    assert busy and all(method == "POST" and retry for method, _, retry in busy)
    assert any(s[0] == "GET" and s[1] == 200 for s in statuses)
    with engine.connect() as conn:
        stored = set(conn.exec_driver_sql("SELECT interaction_id FROM interactions WHERE interaction_id "
                                          "LIKE 'LOAD-%'").scalars())
    assert stored == set(acked) and not stored & set(refused)
    assert sum(inserted) == len(acked) == table_counts(engine)["interactions"] - before


# --- the store itself, on SQLite and PostgreSQL ---------------------------------------------------


def test_an_erasure_racing_with_writes_leaves_no_orphan_rows(engine: Engine, tmp_path: Path) -> None:
    import_dir(engine, write_dir(tmp_path / "in", tiny_tables()))
    settings = Settings(home=tmp_path / "home", erasure_secret="a-secret-of-this-organisation")
    outcomes: list[str] = []
    guard = threading.Lock()

    def post(w: int) -> None:
        for n in range(40):
            rows = [{"interaction_id": f"RACE-{w}-{n}-{i}", "ts": pd.Timestamp("2024-03-01", tz="UTC").to_pydatetime(),
                     "rep_id": "r1", "contact_id": "c1", "channel": "email", "direction": "outbound"}
                    for i in range(20)]
            try:
                write_interactions(engine, rows, settings, lambda rep: True)
                result = "written"
            except Refused as exc:
                assert exc.kind == "invalid" and "c1" in str(exc.errors), exc.errors
                result = "refused"
            with guard:
                outcomes.append(result)

    writers = [threading.Thread(target=post, args=(w,)) for w in range(4)]
    for t in writers:
        t.start()
    while not outcomes:
        time.sleep(0.01)
    erased = erase_contact(engine, "c1", settings, "test")
    for t in writers:
        t.join()
    with engine.connect() as conn:
        orphans = conn.execute(sa.text("SELECT count(*) FROM interactions WHERE contact_id = 'c1'")).scalar_one()
        chain = conn.execute(sa.text("SELECT count(*) FROM opportunity_contacts WHERE contact_id = 'c1'")).scalar_one()
        audit = conn.execute(sa.select(ERASURES.c.contact_hash)).scalars().all()
    assert orphans == 0 and chain == 0
    assert "written" in outcomes and "refused" in outcomes  # both sides of the race happened
    # a write that succeeded committed before the erasure (after it, the contact is gone): all of it was erased
    assert erased.deleted["interactions"] == 2 + 20 * outcomes.count("written")
    key = settings.erasure_key()
    assert audit == [hmac.new(key, b"c1", hashlib.sha256).hexdigest()] == [contact_token(key, "c1")]
    assert audit[0] != hashlib.sha256(b"c1").hexdigest()
    with pytest.raises(NotFound):
        erase_contact(engine, "c1", settings, "test")
    contacts = tiny_tables()["contacts"]
    with pytest.raises(ValidationError, match="'c1' was erased"):
        import_frames(engine, {"contacts": contacts}, {"contacts": "contacts.csv"},
                      ImportOptions(erasure_key=key))


def test_sqlite_enforces_foreign_keys_and_bounds_its_journal(tmp_path: Path) -> None:
    from crm.store import JOURNAL_LIMIT_BYTES

    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    init_db(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == JOURNAL_LIMIT_BYTES
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO interactions (interaction_id, ts, rep_id, contact_id, channel, direction) "
                             "VALUES ('x', '2024-01-01T00:00:00.000000', 'nobody', 'nobody', 'call', 'outbound')")
    engine.dispose()


def test_model_copies_of_gone_workers_are_swept_and_a_stopping_worker_removes_its_own(tmp_path: Path) -> None:
    from serving.api.model_state import ModelHolder

    holder = ModelHolder(Settings(home=tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    for name in (f"{gone.pid}-1-2-3", f"{os.getpid()}-4-5-6", f"{os.getppid()}-7-8-9"):
        (holder.folder / name).mkdir(parents=True)
    assert holder.sweep() == [holder.folder / f"{gone.pid}-1-2-3"]
    holder.close()
    assert sorted(p.name for p in holder.folder.iterdir()) == [f"{os.getppid()}-7-8-9"]
