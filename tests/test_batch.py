"""Batch scoring: the pandas and Spark engines agree, and a killed run resumes to the same output."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import crm.store
import guanxi.services.scoring
from crm.importer import import_frames
from crm.sim.simulate import SimResult, simulate
from crm.store import init_db, make_engine
from guanxi.settings import Settings
from serving.batch import prepare, read_scores, run_pandas
from serving.candidates import default_as_of
from serving.models import StaleBundle, load_models
from training.train import train
from training.uplift import effect_dataset, fit_effect_model

pytestmark = pytest.mark.slow  # trains models or starts servers: `make test`, not `make test-fast`

HORIZON = 90


@pytest.fixture(scope="module")
def small() -> SimResult:
    return simulate("small", seed=21)


@pytest.fixture(scope="module")
def bundles(small: SimResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bundles as training exports them (no registry needed to score)."""
    folder = tmp_path_factory.mktemp("models")
    fit_effect_model(effect_dataset(small.tables, horizon_days=HORIZON, min_history_days=90)).save(
        folder / "guanxi-effect")
    for kind in ("relationship", "deal"):
        train(small.tables, kind, horizon_days=HORIZON, min_history_days=90).model.save(folder / f"guanxi-{kind}")
    return folder


def _run(small: SimResult, bundles: Path, out: Path, chunk: int = 3) -> pd.DataFrame:
    models, deal = load_models(bundles)
    as_of = default_as_of(small.tables)
    run = prepare(out, as_of, models.versions, small.tables["reps"]["rep_id"], chunk, 3)
    run_pandas(small.tables, run, models, deal)
    return read_scores(out)


def test_every_file_carries_as_of_and_model_versions(small: SimResult, bundles: Path, tmp_path: Path) -> None:
    scores = _run(small, bundles, tmp_path / "out")
    assert len(scores) > 0 and scores[["rep_id", "contact_id"]].duplicated().sum() == 0
    assert scores["health"].between(0, 100).all() and set(scores["band"]) <= {"Good", "Fair", "Poor"}
    per_rep = scores.dropna(subset=["recommended_rank"]).groupby("rep_id")["recommended_rank"]
    assert (per_rep.max() <= 3).all()
    for path in [*(tmp_path / "out" / "relationships").glob("*.parquet"), tmp_path / "out" / "deals.parquet"]:
        meta = pq.read_schema(path).metadata
        assert b"guanxi.as_of" in meta and b"guanxi.model_versions" in meta
    deals = pd.read_parquet(tmp_path / "out" / "deals.parquet")
    assert len(deals) > 0 and deals["p_win"].between(0, 1).all() and set(deals["grade"]) <= set("ABCD")


def test_a_restart_with_other_models_or_day_is_refused(small: SimResult, bundles: Path, tmp_path: Path) -> None:
    _run(small, bundles, tmp_path / "out")
    with pytest.raises(ValueError, match="as_of"):
        prepare(tmp_path / "out", pd.Timestamp("2020-01-01", tz="UTC"), load_models(bundles)[0].versions,
                small.tables["reps"]["rep_id"], 3, 3)


@pytest.fixture(scope="module")
def pg_store(small: SimResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """The small world in a PostgreSQL store, and the same store exported as Parquet files."""
    from crm.importer import export_dir
    from tests.conftest import _postgres_url

    url = _postgres_url()
    engine = make_engine(url)
    init_db(engine)
    import_frames(engine, small.tables, {n: n for n in small.tables})
    export = tmp_path_factory.mktemp("export")
    export_dir(engine, export, "parquet")
    yield {"url": url, "engine": engine, "export": export}
    engine.dispose()


def _settings(url: str, bundles: Path, home: Path) -> Settings:
    return Settings(home=home, database_url=url, models_dir=bundles)


@pytest.mark.spark
@pytest.mark.postgres
def test_spark_over_jdbc_and_over_a_parquet_export_equal_the_pandas_engine(
        pg_store: dict[str, object], bundles: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from guanxi.services.scoring import score_base

    engine = pg_store["engine"]
    settings = _settings(str(pg_store["url"]), bundles, tmp_path)
    pandas_run = score_base(engine, tmp_path / "pandas", settings, "pandas", chunk_reps=3)  # type: ignore[arg-type]

    # the Spark path must never read the whole interaction log into the driver
    def whole_store(*_: object, **__: object) -> None:
        raise AssertionError("the driver read the whole store")

    real_read_table = crm.store.read_table

    def small_tables_only(engine: object, name: str, *args: object, **kwargs: object) -> pd.DataFrame:
        assert name != "interactions", "the driver read the interaction log"
        return real_read_table(engine, name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(crm.store, "read_all", whole_store)
    monkeypatch.setattr(guanxi.services.scoring, "read_all", whole_store)
    monkeypatch.setattr(crm.store, "read_table", small_tables_only)
    monkeypatch.setattr(pd, "read_parquet", lambda path, *a, **k: _no_log(path, *a, **k))
    jdbc = score_base(engine, tmp_path / "jdbc", settings, "spark", chunk_reps=3, partitions=4)  # type: ignore[arg-type]
    lake = score_base(engine, tmp_path / "lake", settings, "spark", chunk_reps=3,  # type: ignore[arg-type]
                      source=pg_store["export"])  # type: ignore[arg-type]
    monkeypatch.undo()
    expected = read_scores(tmp_path / "pandas")
    deals = pd.read_parquet(tmp_path / "pandas" / "deals.parquet")
    assert len(expected) > 0 and len(deals) > 0
    for run in (jdbc, lake):
        assert (run.as_of, run.relationships, run.deals) == (pandas_run.as_of, pandas_run.relationships,
                                                             pandas_run.deals)
        got = read_scores(Path(run.out))
        pd.testing.assert_frame_equal(expected, got, check_exact=False, atol=1e-9, rtol=0)
        assert expected["recommended_rank"].equals(got["recommended_rank"])
        pd.testing.assert_frame_equal(deals, pd.read_parquet(Path(run.out) / "deals.parquet"), check_exact=False,
                                      atol=1e-9, rtol=0)


_READ_PARQUET = pd.read_parquet


def _no_log(path: object, *args: object, **kwargs: object) -> pd.DataFrame:
    """pandas may read the small tables of an export on the driver, never the interaction log."""
    assert "interactions" not in Path(str(path)).name, f"the driver read {path}"
    return _READ_PARQUET(path, *args, **kwargs)


@pytest.mark.spark
def test_the_spark_engine_refuses_a_sqlite_store_with_the_way_out(bundles: Path, tmp_path: Path) -> None:
    from guanxi.services.errors import Refused
    from guanxi.services.scoring import score_base

    url = f"sqlite:///{tmp_path / 'guanxi.db'}"
    engine = make_engine(url)
    init_db(engine)
    with pytest.raises(Refused, match="guanxi export DIR --format parquet"):
        score_base(engine, tmp_path / "out", _settings(url, bundles, tmp_path), "spark")
    engine.dispose()


def test_a_killed_run_resumes_and_equals_an_uninterrupted_one(small: SimResult, bundles: Path,
                                                              tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "GUANXI_HOME": str(home), "GUANXI_MODELS_DIR": str(bundles)}
    env.pop("GUANXI_DATABASE_URL", None)
    engine = make_engine(f"sqlite:///{home / 'guanxi.db'}")
    init_db(engine)
    import_frames(engine, small.tables, {n: n for n in small.tables})
    engine.dispose()
    cmd = [sys.executable, "-m", "guanxi.cli.__main__", "score", "--chunk-reps", "1"]
    whole = subprocess.run([*cmd, "--out", str(tmp_path / "whole")], env=env, capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = out / "relationships"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(parts.glob("part-*.parquet"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(parts.glob("part-*.parquet")))
    assert 2 <= done_before < len(small.tables["reps"]) and not (out / "_SUCCESS").exists()
    for path in parts.glob("part-*.parquet"):  # whatever is under a final name is complete
        pq.read_table(path)
    again = subprocess.run([*cmd, "--out", str(out), "--json"], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f'"resumed_chunks": {done_before}' in again.stdout
    pd.testing.assert_frame_equal(read_scores(out), read_scores(tmp_path / "whole"))
    pd.testing.assert_frame_equal(pd.read_parquet(out / "deals.parquet"),
                                  pd.read_parquet(tmp_path / "whole" / "deals.parquet"))


def test_a_bundle_needing_features_no_longer_built_is_refused_at_load(bundles: Path, tmp_path: Path) -> None:
    """A deal bundle from before a feature was renamed fails at start-up with the names, not at scoring."""
    stale = tmp_path / "models"
    shutil.copytree(bundles, stale)
    meta = json.loads((stale / "guanxi-deal" / "model.json").read_text())
    meta["features"] = [*meta["features"], "owner_closed_deals"]  # the lifetime count, renamed since
    (stale / "guanxi-deal" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(StaleBundle, match=r"deal model .* \(owner_closed_deals\).*guanxi train deal"):
        load_models(stale)
    meta["features"] = [*meta["features"][:-1], "attr_region"]  # custom fields come from the data: fine
    (stale / "guanxi-deal" / "model.json").write_text(json.dumps(meta))
    assert load_models(stale)[1].features_[-1] == "attr_region"


def test_band_thresholds_from_the_settings_reach_the_api_and_guanxi_score(
        small: SimResult, bundles: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GUANXI_BAND_GOOD / GUANXI_BAND_FAIR are the one definition of the bands, for every front end (taken as
    they are here: GUANXI_BAND_BY_BASE_RATE off; its scaling is tested below)."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from guanxi.cli import app as cli
    from guanxi.settings import get_settings
    from serving.api.app import create_app

    home = tmp_path / "home"
    monkeypatch.setenv("GUANXI_HOME", str(home))
    monkeypatch.setenv("GUANXI_MODELS_DIR", str(bundles))
    monkeypatch.setenv("GUANXI_USE_REGISTRY", "false")
    monkeypatch.setenv("GUANXI_BAND_BY_BASE_RATE", "false")
    monkeypatch.delenv("GUANXI_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    engine = make_engine(get_settings().db_url)
    init_db(engine)
    import_frames(engine, small.tables, {n: n for n in small.tables})
    engine.dispose()
    rep = "R0001"
    contact = str(small.tables["interactions"].query("rep_id == @rep")["contact_id"].iloc[-1])
    seen = {}
    for good, fair in (("0", "0"), ("1.01", "1.01"), ("1.01", "0")):
        monkeypatch.setenv("GUANXI_BAND_GOOD", good)
        monkeypatch.setenv("GUANXI_BAND_FAIR", fair)
        get_settings.cache_clear()
        out = tmp_path / f"scores-{good}-{fair}"
        result = CliRunner().invoke(cli, ["score", "--out", str(out), "--json"])
        assert result.exit_code == 0, result.output
        scores = read_scores(out)
        batch = scores.loc[(scores["rep_id"] == rep) & (scores["contact_id"] == contact), "band"].iloc[0]
        with TestClient(create_app()) as client:
            api = client.get(f"/v1/relationships/{rep}/{contact}").json()["band"]
        seen[(good, fair)] = (api, batch, set(scores["band"]))
    assert seen[("0", "0")] == ("Good", "Good", {"Good"})
    assert seen[("1.01", "1.01")] == ("Poor", "Poor", {"Poor"})
    assert seen[("1.01", "0")] == ("Fair", "Fair", {"Fair"})
    get_settings.cache_clear()


def test_band_thresholds_scale_with_the_labels_base_rate() -> None:
    from serving.scales import REFERENCE_RATE, thresholds

    assert thresholds(0.5, 0.2, REFERENCE_RATE) == pytest.approx((0.5, 0.2))
    assert thresholds(0.5, 0.2, 0.01) == pytest.approx((0.025, 0.01))  # a 1 % label: 1/20 of the cut-offs
    assert thresholds(0.5, 0.2, 0.6) == pytest.approx((0.95, 0.6))  # never above 0.95
    assert thresholds(0.5, 0.2, None) == (0.5, 0.2) == thresholds(0.5, 0.2, 0.01, relative=False)
