"""Shared fixtures: an isolated data home, and a store on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm.store import init_db, make_engine
from guanxi.settings import get_settings


def _datasets() -> Path:
    """The sample exports: $GUANXI_DATASETS when set, else the copies kept in the repository (data/samples)."""
    given = os.environ.get("GUANXI_DATASETS")
    return Path(given) if given else Path(__file__).resolve().parents[1] / "data" / "samples"


DATASETS = _datasets()
ROOT = Path(__file__).resolve().parents[1]


def point_settings_at(mp: pytest.MonkeyPatch, home: Path) -> None:
    """Every setting at ``home``: its store, its MLflow, its model bundles (not the checkout's models/)."""
    mp.setenv("GUANXI_HOME", str(home))
    mp.setenv("GUANXI_MODELS_DIR", str(home / "models"))
    mp.delenv("GUANXI_DATABASE_URL", raising=False)
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh GUANXI_HOME for the test, with settings re-read."""
    point_settings_at(monkeypatch, tmp_path / "home")
    yield tmp_path / "home"
    get_settings.cache_clear()


def _postgres_url() -> str:
    url = os.environ.get("GUANXI_TEST_PG_URL")
    if not url:
        pytest.fail("GUANXI_TEST_PG_URL is not set: run the suite with `make test`, which starts PostgreSQL, "
                    "or deselect with -m 'not postgres'")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"guanxi_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Store URL for both engines; also exported as GUANXI_DATABASE_URL for CLI tests."""
    url = f"sqlite:///{home / 'guanxi.db'}" if request.param == "sqlite" else _postgres_url()
    monkeypatch.setenv("GUANXI_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    init_db(eng)
    yield eng
    eng.dispose()


def tiny_tables() -> dict[str, pd.DataFrame]:
    """A small, valid CRM export written by hand."""
    return {
        "reps": pd.DataFrame({"rep_id": ["r1", "r2"], "name": ["Ann", "Bo"], "is_executive": ["false", "true"]}),
        "accounts": pd.DataFrame({"account_id": ["a1"], "name": ["Acme"], "tier": ["key"], "potential": ["50000"]}),
        "contacts": pd.DataFrame({"contact_id": ["c1", "c2"], "account_id": ["a1", "a1"],
                                  "seniority": ["director", "c_level"], "buying_role": ["influencer", "decision_maker"],
                                  "birthday_month": ["3", ""], "birthday_day": ["14", ""]}),
        "opportunities": pd.DataFrame({"opportunity_id": ["o1"], "account_id": ["a1"], "owner_rep_id": ["r1"],
                                       "amount": ["12000.5"], "created_at": ["2024-01-05T09:00:00Z"],
                                       "outcome": ["open"], "competitors": ["2"]}),
        "interactions": pd.DataFrame({
            "interaction_id": ["i1", "i2", "i3"],
            "ts": ["2024-01-10T10:00:00Z", "2024-01-11 08:30:00+08:00", "2024-02-01T12:00:00"],
            "rep_id": ["r1", "r1", "r2"], "contact_id": ["c1", "c1", "c2"],
            "channel": ["email", "call", "visit"], "direction": ["outbound", "inbound", "outbound"],
            "duration_min": ["", "15", "60"], "depth": ["1", "2", ""], "occasion": ["holiday", "", ""],
            "opportunity_id": ["", "o1", "o1"], "favor": ["", "", "given"], "with_executive": ["", "", "true"]}),
        "opportunity_stages": pd.DataFrame({"opportunity_id": ["o1", "o1"],
                                            "entered_at": ["2024-01-05T09:00:00Z", "2024-02-01T00:00:00Z"],
                                            "stage": ["qualification", "proposal"]}),
        "opportunity_contacts": pd.DataFrame({"opportunity_id": ["o1"], "contact_id": ["c2"],
                                              "role": ["decision_maker"], "stance": ["neutral"]}),
    }


def write_dir(directory: Path, tables: dict[str, pd.DataFrame]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(directory / f"{name}.csv", index=False)
    return directory


@pytest.fixture(scope="session")
def served_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The small simulated world (seed 11) in a template store, and model bundles trained on it without
    MLflow: what the tests that start `guanxi serve` in its own process copy and serve."""
    from crm.importer import import_frames
    from crm.sim.simulate import simulate
    from training.tracking import EFFECT_MODEL
    from training.train import registered_name, train
    from training.uplift import effect_dataset, fit_effect_model

    folder = tmp_path_factory.mktemp("served-world")
    sim = simulate("small", seed=11)
    template = folder / "template.db"
    engine = make_engine(f"sqlite:///{template}")
    init_db(engine)
    import_frames(engine, sim.tables, {name: name for name in sim.tables})
    engine.dispose()
    models = folder / "models"
    for kind in ("relationship", "deal"):
        train(sim.tables, kind, horizon_days=90, min_history_days=90).model.save(models / registered_name(kind))
    rows = effect_dataset(sim.tables, horizon_days=90, min_history_days=90)
    fit_effect_model(rows, bags=1).save(models / EFFECT_MODEL)
    return {"sim": sim, "template": template, "models": models}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_mlflow_server(folder: Path) -> Iterator[str]:
    """A real tracking server with a SQLite store and local artifacts under ``folder``, in its own process
    group; yields its URL."""
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    proc = subprocess.Popen(
        [str(mlflow_bin), "server", "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
         "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"], env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("mlflow server did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    with running_mlflow_server(tmp_path) as url:
        yield url
