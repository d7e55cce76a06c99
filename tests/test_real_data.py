"""The chain on data a customer actually has: an email log (radoslaw-email, no deals, no revenue-linked
outcomes, no account values). `guanxi train all` trains what it can and says what it skipped; the
relationship model learns tie persistence; recommendations come from the shipped effect prior, rank by
the gain in P(effective) and say so; the API answers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from guanxi.cli import app
from guanxi.settings import get_settings
from tests.conftest import DATASETS, point_settings_at

pytestmark = pytest.mark.slow  # trains models

runner = CliRunner()
RADOSLAW = DATASETS / "radoslaw-email" / "radoslaw_email.tsv"
EU_CORE = DATASETS / "email-eu-core-q1" / "email-Eu-core-temporal-first-quarter-relabeled.txt"
LOGS = {"radoslaw": (RADOSLAW, []), "eu-core": (EU_CORE, ["--epoch", "2003-10-01"])}


@pytest.fixture(scope="module", params=sorted(LOGS))
def email_home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """An email log imported and `guanxi train all` run once, in a home of its own."""
    path, extra = LOGS[request.param]
    home = tmp_path_factory.mktemp(f"email-home-{request.param}")
    mp = pytest.MonkeyPatch()
    point_settings_at(mp, home)
    try:
        imported = runner.invoke(app, ["import", "--source", "email", *extra, str(path)])
        assert imported.exit_code == 0, imported.output
        doctor = runner.invoke(app, ["doctor", "--json"])
        assert doctor.exit_code == 0, doctor.output
        trained = runner.invoke(app, ["train", "all", "--json"])
        assert trained.exit_code == 0, trained.output
        yield {"home": home, "doctor": json.loads(doctor.stdout), "trained": json.loads(trained.stdout),
               "path": path}
    finally:
        mp.undo()
        get_settings.cache_clear()


@pytest.fixture
def in_email_home(email_home: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    home = Path(str(email_home["home"]))
    point_settings_at(monkeypatch, home)
    return email_home


def _busiest_rep(path: Path) -> str:
    from crm.adapters.email import read_email_archive

    tables, _ = read_email_archive(path)
    inter = tables["interactions"]
    return str(inter[inter["direction"] == "outbound"]["rep_id"].value_counts().index[0])


def test_doctor_says_what_an_email_log_supports(in_email_home: dict[str, object]) -> None:
    doctor = in_email_home["doctor"]
    assert doctor["levels"] == {"interactions": True, "account_value": False, "dated_deals": False,
                                "outcomes": False, "action_variety": doctor["levels"]["action_variety"]}
    plans = {p["model"]: p for p in doctor["plans"]}
    assert plans["relationship"]["trains"] and plans["relationship"]["label"] == "tie_persistence"
    assert plans["relationship"]["horizon_days"] < 90  # fitted to a log of 150 to 271 days
    assert not plans["deal"]["trains"] and "won or lost deals" in plans["deal"]["why"]
    assert not plans["effect"]["trains"] and "prior" in plans["effect"]["why"]


def test_train_all_trains_what_the_log_supports_and_names_what_it_skipped(in_email_home: dict[str, object]) -> None:
    trained = in_email_home["trained"]
    models = {m["model"]: m for m in trained["models"]}
    assert set(models) == {"guanxi-relationship"}
    assert models["guanxi-relationship"]["label"] == "tie_persistence"
    assert 0.5 < models["guanxi-relationship"]["auc"] <= 1
    points = models["guanxi-relationship"]["operating_points"]
    assert set(points) == {"accuracy_max", "base_rate"}
    assert points["accuracy_max"]["accuracy"] >= points["base_rate"]["accuracy"] - 1e-12
    assert sum(points["base_rate"][k] for k in ("tp", "fp", "tn", "fn")) == models["guanxi-relationship"]["n_test"]
    assert {s["model"] for s in trained["skipped"]} == {"deal", "effect"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_recommend_on_an_email_log_ranks_by_the_gain_in_p_effective_from_the_prior(
        in_email_home: dict[str, object], lang: str) -> None:
    rep = _busiest_rep(Path(str(in_email_home["path"])))
    result = runner.invoke(app, ["recommend", "--rep", rep, "--k", "5", "--lang", lang, "--json"])
    assert result.exit_code == 0, result.output
    actions = json.loads(result.stdout)["actions"]
    assert len(actions) == 5 and [a["rank"] for a in actions] == [1, 2, 3, 4, 5]
    assert {a["gain_unit"] for a in actions} == {"p_effective"}
    assert {a["effect_source"] for a in actions} == {"prior"}
    assert all(a["expected_gain"] > 0 for a in actions)
    first = actions[0]["reasons"][0]["text"]
    assert ("shipped prior" in first and "points" in first) if lang == "en" else ("内置先验" in first)
    # the probability moved is the relationship model's, which learned whether a tie persists: named so
    assert ("P(the tie persists) should move" in first) if lang == "en" else ("关系延续概率预计" in first)
    assert "P(effective)" not in first and "有效关系概率" not in first
    text = runner.invoke(app, ["recommend", "--rep", rep, "--k", "2", "--lang", lang]).output
    assert ("P(the tie persists) " in text) if lang == "en" else ("关系延续概率 " in text)


def test_score_on_an_email_log_spreads_the_ties_over_the_bands(in_email_home: dict[str, object],
                                                                 tmp_path: Path) -> None:
    from serving.batch import read_scores

    result = runner.invoke(app, ["score", "--out", str(tmp_path / "scores"), "--json"])
    assert result.exit_code == 0, result.output
    shares = read_scores(tmp_path / "scores")["band"].value_counts(normalize=True)
    assert shares.max() <= 0.8, shares.to_dict()


def test_the_api_answers_on_an_email_log_and_names_the_label(in_email_home: dict[str, object]) -> None:
    from serving.api.app import create_app

    rep = _busiest_rep(Path(str(in_email_home["path"])))
    with TestClient(create_app()) as client:
        r = client.get(f"/v1/reps/{rep}/next-best-actions?limit=5")
        assert r.status_code == 200, r.text
        tie = client.get(f"/v1/relationships/{rep}/{r.json()['actions'][0]['contact_id']}")
    assert tie.status_code == 200, tie.text
    assert tie.json()["label"] == "tie_persistence"
    body = r.json()
    assert len(body["actions"]) == 5
    assert body["labels"] == {"guanxi-relationship": "tie_persistence"}
    assert body["models"]["guanxi-effect"].startswith("prior-v")
    assert pd.Series([a["gain_unit"] for a in body["actions"]]).eq("p_effective").all()


def test_every_numeric_relationship_feature_reads_as_a_phrase_in_both_languages() -> None:
    from features.registry import RELATIONSHIP
    from serving.reasons import TEMPLATES, sentence

    categorical = {"buying_role", "account_tier"}  # never a reason: reasons come from numeric features
    missing = [f.name for f in RELATIONSHIP if f.name not in TEMPLATES and f.name not in categorical]
    assert missing == []
    for f in RELATIONSHIP:
        if f.name in categorical:
            continue
        for lang in ("en", "zh"):
            text = sentence(f.name, 3.0, 5.0, lang)
            assert f.name not in text and "{" not in text, (f.name, lang, text)


def test_the_shipped_prior_covers_every_action_kind_and_moves_p_effective_its_way() -> None:
    import numpy as np

    from features.actions import KINDS
    from serving.effect_prior import PriorEffects, load_prior

    prior = load_prior()
    assert set(prior.effective) == set(KINDS) and prior.version
    X = pd.DataFrame({"deal_open": [0.0, 1.0, 0.0]})
    effects = PriorEffects(prior).effects(X, list(KINDS))
    base = prior.base_effective
    for k in KINDS:
        expected = 1 / (1 + np.exp(-(np.log(base / (1 - base)) + prior.effective[k]))) - base
        np.testing.assert_allclose(effects["effective"][k], expected, atol=1e-12)
        assert (effects["win"][k].iloc[[0, 2]] == 0).all()  # no deal open: no effect on P(win)
    assert np.isnan(effects["win"]["_base"].iloc[0]) and effects["win"]["_base"].iloc[1] == prior.base_win


def test_a_prior_without_every_kind_is_refused(tmp_path: Path) -> None:
    from serving.effect_prior import PRIOR_FILE, load_prior

    broken = tmp_path / "prior.toml"
    broken.write_text(PRIOR_FILE.read_text().replace("[kind.favor]", "[kind.favour]"))
    with pytest.raises(ValueError, match="no prior for action kinds favor"):
        load_prior(broken)


def test_a_pair_labelled_in_both_directions_does_not_leak_across_folds() -> None:
    """Own labels at one as_of (cross-validation): the same undirected ties labelled once, and in both
    directions, give the same AUC (± 0.01), because folds keep a tie's two rows together."""
    import numpy as np

    from crm.adapters.email import read_email_archive
    from crm.validate import validate_tables
    from training.labels import tie_persistence
    from training.train import train

    frames, sources = read_email_archive(RADOSLAW)
    tables = validate_tables(frames, sources, lambda t, c, v: set())
    inter = tables["interactions"]
    ts = pd.to_datetime(inter["ts"], utc=True)
    as_of = (ts.min() + (ts.max() - ts.min()) / 2).floor("D")
    pairs = inter[ts <= as_of][["rep_id", "contact_id"]].drop_duplicates()
    labels = pairs.merge(tie_persistence(tables, as_of, 90), on=["rep_id", "contact_id"], how="left")
    a, b = labels["rep_id"].astype(str), labels["contact_id"].astype(str)
    tie = np.where(a < b, a + "|" + b, b + "|" + a)
    labels["label"] = labels["label"].fillna(0).groupby(tie).transform("max").astype(int)  # the tie's label
    labels["as_of"] = as_of
    cols = ["rep_id", "contact_id", "as_of", "label"]
    once = train(tables, "relationship", labels=labels[(a < b).to_numpy()][cols].reset_index(drop=True))
    both = train(tables, "relationship", labels=labels[cols].reset_index(drop=True))
    assert len(both.dataset.frame) > 1.9 * len(once.dataset.frame)
    assert abs(both.metrics["model"]["auc"] - once.metrics["model"]["auc"]) <= 0.01
    assert any("both directions" in n for n in both.notes)


def test_windows_are_fitted_only_to_a_log_too_short_for_the_defaults() -> None:
    from guanxi.services.readiness import windows

    assert windows(1095, "effective_relationship") is None  # the simulated demo world: the models' own
    horizon, history, step = windows(271, "tie_persistence")  # radoslaw-email
    assert history + 3 * horizon + step <= 271 and horizon >= 14


@pytest.mark.parametrize("label", ["tie_persistence", "effective_relationship"])
def test_every_log_the_doctor_accepts_fits_the_windows_it_plans(label: str) -> None:
    """From the shortest log the readiness check lets a relationship model train on, the fitted windows
    leave room for a history and the three horizons of training, validation and test: the doctor's "train"
    is one that `guanxi train` can keep."""
    from guanxi.services.readiness import DEFAULT_HORIZON, DEFAULT_MIN_HISTORY, MIN_SPAN_DAYS, windows

    for span in range(MIN_SPAN_DAYS, 1200):
        horizon, history, _ = windows(span, label) or (DEFAULT_HORIZON[label], DEFAULT_MIN_HISTORY, 0)
        assert history + 3 * horizon <= span, (span, horizon, history)
