"""A customer's own labels: the file's checks, the split by as_of, thin data, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crm.sim.simulate import simulate
from guanxi.cli import app
from guanxi.settings import get_settings
from training.evaluate import bootstrap_auc_ci
from training.labels import effective_relationship
from training.own_labels import plan_from_dates, read_labels
from training.train import THIN_POSITIVES, train

pytestmark = pytest.mark.slow  # trains models or starts servers: `make test`, not `make test-fast`

runner = CliRunner()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "labels.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ("rep_id,contact_id,label\nR1,C1,1\n", "missing column(s) as_of"),
    ("rep_id,contact_id,as_of,label\nR1,C1,2024-01-01,1\nR1,C2,not a date,0\n", "as_of is not a date on line(s) 3"),
    ("rep_id,contact_id,as_of,label\nR1,C1,2024-01-01,2\n", "label must be 0 or 1"),
    ("rep_id,contact_id,as_of,label\nR1,,2024-01-01,1\n", "empty rep_id or contact_id on line(s) 2"),
    ("rep_id,contact_id,as_of,label\nR1,C1,2024-01-01,1\nR1,C1,2024-01-01,0\n", "with both labels on line(s) 2, 3"),
])
def test_a_bad_labels_file_says_what_and_where(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_labels(_write(tmp_path, text), "relationship")


def test_labels_file_reading_counts_a_repeated_row_once(tmp_path: Path) -> None:
    path = _write(tmp_path, "opportunity_id,as_of,label,extra\nD1,2024-01-01,yes,x\nD1,2024-01-01,1,y\n"
                            "D2,2024-01-01T12:00:00Z,false,z\n")
    got = read_labels(path, "deal")
    assert list(got.columns) == ["opportunity_id", "as_of", "label"]
    assert got["label"].tolist() == [1, 0] and str(got["as_of"].dt.tz) == "UTC"
    with pytest.raises(ValueError, match="relationship or deal"):
        read_labels(path, "effect")


def test_plan_from_dates_keeps_the_latest_for_test() -> None:
    dates = list(pd.date_range("2024-01-01", periods=10, freq="30D", tz="UTC"))
    plan = plan_from_dates(dates[::-1])
    assert plan.train == dates[:6] and plan.validation == dates[6] and plan.more_validation == dates[7:8]
    assert plan.test == dates[8] and plan.more_test == dates[9:]
    with pytest.raises(ValueError, match="needs at least 3"):
        plan_from_dates(dates[:2])


def test_bootstrap_interval_brackets_the_auc() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(float)
    p = y * 0.3 + rng.random(300)
    low, high = bootstrap_auc_ci(y, p)
    from training.evaluate import auc

    assert low < auc(y, p) < high and high - low < 0.2
    assert bootstrap_auc_ci(np.zeros(5), np.arange(5.0)) != bootstrap_auc_ci(np.zeros(5), np.arange(5.0))  # nan


@pytest.fixture(scope="module")
def small():  # noqa: ANN201
    return simulate("small", seed=2)


def _own_relationship_labels(small, positives_kept: int) -> pd.DataFrame:  # noqa: ANN001
    """Built-in labels at six cutoffs for a sample of pairs, few positives in training (a thin customer)."""
    start = small.pop.start
    rows = []
    for k in range(6):
        as_of = start + pd.Timedelta(days=200 + 45 * k)
        positive = effective_relationship(small.tables, as_of, 90).astype({"rep_id": str, "contact_id": str})
        inter = small.tables["interactions"]
        seen = inter[inter["ts"] <= as_of][["rep_id", "contact_id"]].astype(str).drop_duplicates()
        frame = seen.merge(positive, how="left").fillna({"label": 0}).sample(n=min(400, len(seen)), random_state=k)
        rows.append(frame.assign(as_of=as_of))
    labels = pd.concat(rows, ignore_index=True).astype({"label": int})
    training_dates = sorted(labels["as_of"].unique())[:4]  # six dates: four train, one validation, one test
    positives = labels.index[(labels["label"] == 1) & labels["as_of"].isin(training_dates)]
    return labels.drop(index=positives[positives_kept:]).reset_index(drop=True)


def test_own_labels_with_thin_data_train_and_say_so(small) -> None:  # noqa: ANN001
    labels = _own_relationship_labels(small, positives_kept=30)
    result = train(small.tables, "relationship", labels=labels, labels_source="sales-ops.csv")
    ds = result.dataset
    assert result.label.name == "own:sales-ops.csv" and "Labels given in sales-ops.csv" in result.label.describe()[
        "definition"]
    assert set(ds.frame["cutoff"]) <= set(labels["as_of"])
    assert ds.part("test")["cutoff"].min() > ds.part("validation")["cutoff"].max() > ds.part("train")["cutoff"].max()
    assert len(ds.frame) <= len(labels)  # only the labelled rows, never more
    assert int(ds.part("train")["label"].sum()) < THIN_POSITIVES
    assert any(n.startswith("thin data") for n in result.notes)
    m = result.metrics["model"]
    assert m["auc_ci_low"] <= m["auc"] <= m["auc_ci_high"]
    assert result.model.params["num_leaves"] == 4  # the regularised settings


def test_cli_trains_a_deal_model_on_own_labels_or_refuses_a_bad_file(home: Path, tmp_path: Path) -> None:
    get_settings.cache_clear()
    assert runner.invoke(app, ["simulate", "--size", "small", "--seed", "5", "--json"]).exit_code == 0
    bad = _write(tmp_path, "opportunity_id,as_of,label\nD000001,someday,1\n")
    refused = runner.invoke(app, ["train", "deal", "--labels", str(bad)])
    assert refused.exit_code == 1 and "as_of is not a date on line(s) 2" in refused.output
    assert runner.invoke(app, ["models", "--json"]).stdout.strip() in ("[]", "")  # nothing was registered
    assert runner.invoke(app, ["train", "all", "--labels", str(bad)]).exit_code == 2
    from crm.store import make_engine, read_table

    engine = make_engine(get_settings().db_url)
    opps = read_table(engine, "opportunities")
    engine.dispose()
    closed = opps[opps["outcome"].isin(["won", "lost"])].copy()
    # sales operations' own call: a deal counts as a success only if won above the median amount
    closed["label"] = ((closed["outcome"] == "won") & (closed["amount"] > closed["amount"].median())).astype(int)
    dates = pd.date_range(pd.Timestamp(closed["created_at"].min()) + pd.Timedelta(days=120), periods=8, freq="45D")
    rows = [closed[(closed["created_at"] <= d) & (closed["closed_at"] > d)].assign(as_of=d) for d in dates]
    own = pd.concat(rows)[["opportunity_id", "as_of", "label"]]
    path = tmp_path / "deals.parquet"
    own.to_parquet(path)
    result = runner.invoke(app, ["train", "deal", "--labels", str(path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])["models"][0]
    assert payload["label"] == "own:deals.parquet" and payload["n_test"] > 0
    assert payload["auc_ci"][0] <= payload["auc"] <= payload["auc_ci"][1]
    assert 0 < payload["ece_floor"] < 0.2  # a few hundred deals: a calibrated model would still show some
    label = json.loads((Path(payload["bundle"]) / "label.json").read_text())
    assert label["name"] == "own:deals.parquet" and "Labels given in" in label["definition"]
    # a few hundred labelled deals: too few outcomes for isotonic steps
    assert payload["calibration"] == "sigmoid"
    assert json.loads((Path(payload["bundle"]) / "model.json").read_text())["calibration"]["kind"] == "sigmoid"


def test_labels_at_one_date_fall_back_to_cross_validation(small) -> None:  # noqa: ANN001
    labels = _own_relationship_labels(small, positives_kept=10_000)
    one_date = labels[labels["as_of"] == labels["as_of"].max()]
    result = train(small.tables, "relationship", labels=one_date, labels_source="marked.csv")
    assert any(n.startswith("no usable timeline") and "cross-validation" in n for n in result.notes)
    assert set(result.backtest["split"]) == {"cv5"} and result.n_test == len(result.dataset.frame) == result.n_train
    m = result.metrics
    assert 0.5 < m["model"]["auc"] <= 1 and {"logistic", "activity_health"} <= set(m)
    assert m["model"]["n"] == len(result.dataset.frame)  # every row scored once, out of fold
    assert result.model.predict_proba(result.dataset.frame[result.dataset.features]).shape == (len(one_date), 2)
    unknown = one_date.assign(rep_id="R9999")
    with pytest.raises(ValueError, match="none of the .* labelled rows has interactions of the pair"):
        train(small.tables, "relationship", labels=unknown)


def test_deals_without_dates_fall_back_to_cross_validation(small) -> None:  # noqa: ANN001
    tables = {k: v.copy() for k, v in small.tables.items() if k != "opportunity_stages"}
    tables["opportunities"] = tables["opportunities"].assign(created_at=pd.NaT, closed_at=pd.NaT)
    result = train(tables, "deal")
    assert any("the deals carry no dates" in n for n in result.notes)
    closed = small.tables["opportunities"]["outcome"].isin(["won", "lost"]).sum()
    assert len(result.dataset.frame) == closed and result.metrics["model"]["n"] == closed
    assert result.label.describe()["definition"].startswith("1 if the deal was won")
    # without dates the owner is a feature (owner_win_rate is one number for everyone); with dates it is not
    assert "owner" in result.dataset.features and "owner" in result.model.features_
    dated = train(small.tables, "deal", horizon_days=90, min_history_days=90)
    assert "owner" not in dated.dataset.features and "owner_win_rate" in dated.dataset.features
    with pytest.raises(ValueError, match="at least 5 rows of each label"):
        few = tables["opportunities"].assign(outcome=np.where(np.arange(len(tables["opportunities"])) < 3, "won",
                                                              "lost"))
        train({**tables, "opportunities": few}, "deal")
