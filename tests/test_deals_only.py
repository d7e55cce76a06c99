"""The chain on a CRM export of deals alone (maven-crm: reps, accounts, opportunities, no contacts, no
interactions), the same deals as one table in a CRM's own column names and words (`--source deals`), and
maven-crm in one store with an email archive of another organisation and era (radoslaw-email, 2010).
`guanxi train all` trains the deal model on windows fitted to the deals' own dates; next-best actions are
actions on the rep's open deals, with reasons in en and zh; the archive's reps are planned for the end of
their own era, not for the deals' 2018."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from features.registry import DEAL, RELATIONSHIP
from guanxi.cli import app
from guanxi.settings import get_settings
from tests.conftest import DATASETS, point_settings_at

pytestmark = pytest.mark.slow  # trains models

runner = CliRunner()
MAVEN = DATASETS / "maven-crm"
RADOSLAW = DATASETS / "radoslaw-email" / "radoslaw_email.tsv"
STORES = {"maven": [["--source", "maven-crm", str(MAVEN)]],
          "maven+radoslaw": [["--source", "maven-crm", str(MAVEN)], ["--source", "email", str(RADOSLAW)]],
          "maven-undated": [["{undated}"]], "one-deals-file": [["{deals-file}"]]}


def _undated_export(folder: Path) -> Path:
    """maven-crm as a CRM would export deals without any date: no creation, close or stage history."""
    from crm.adapters.maven import read_maven

    frames, _ = read_maven(MAVEN)
    folder.mkdir(parents=True, exist_ok=True)
    frames["opportunities"].assign(created_at=None, closed_at=None).to_csv(folder / "opportunities.csv", index=False)
    for name in ("reps", "accounts"):
        frames[name].to_csv(folder / f"{name}.csv", index=False)
    return folder


def _deals_file(folder: Path) -> Path:
    """maven-crm's deals as one table the way a CRM exports it (`--source deals`): its own column names,
    stage words, US dates, amounts with currency signs, a custom field; a forecast close date on open
    deals."""
    pipe = pd.read_csv(MAVEN / "sales_pipeline.csv", dtype=str)
    prices = pd.read_csv(MAVEN / "products.csv", dtype=str).set_index("product")["sales_price"].astype(float)
    amount = pipe["product"].str.replace("GTXPro", "GTX Pro").map(prices)
    stage = pipe["deal_stage"].map({"Won": "Closed Won", "Lost": "Closed Lost", "Engaging": "Negotiation/Review",
                                    "Prospecting": "Prospecting"})
    created = pd.to_datetime(pipe["engage_date"])
    close = pd.to_datetime(pipe["close_date"]).fillna(pd.Timestamp("2018-03-31"))  # open: a forecast
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "Opportunities export.csv"
    pd.DataFrame({"Opportunity ID": pipe["opportunity_id"], "Account Name": pipe["account"],
                  "Opportunity Owner": pipe["sales_agent"], "Stage": stage,
                  "Amount": amount.map(lambda a: "" if pd.isna(a) else f"${a:,.2f}"),
                  "Created Date": created.dt.strftime("%m/%d/%Y"), "Close Date": close.dt.strftime("%m/%d/%Y"),
                  "Lead Source": pipe["product"].str[:2]}).to_csv(path, index=False)
    return path


RAW_NAMES = re.compile(r"\b(" + "|".join(f.name for f in (*DEAL, *RELATIONSHIP) if "_" in f.name) + r")\b")
"""Column names a reader would see as code (one-word names such as ``product`` are plain words)."""


@pytest.fixture(scope="module", params=sorted(STORES))
def deals_home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The exports imported and `guanxi train all` run once, in a home of their own."""
    home = tmp_path_factory.mktemp(f"deals-home-{request.param}")
    mp = pytest.MonkeyPatch()
    point_settings_at(mp, home)
    try:
        for args in STORES[request.param]:
            if args == ["{undated}"]:
                args = [str(_undated_export(home / "export"))]
            elif args == ["{deals-file}"]:
                args = ["--source", "deals", str(_deals_file(home / "export"))]
            imported = runner.invoke(app, ["import", *args])
            assert imported.exit_code == 0, imported.output
        trained = runner.invoke(app, ["train", "all", "--json"])
        assert trained.exit_code == 0, trained.output
        yield {"home": home, "store": request.param, "trained": json.loads(trained.stdout)}
    finally:
        mp.undo()
        get_settings.cache_clear()


@pytest.fixture
def in_deals_home(deals_home: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    point_settings_at(monkeypatch, Path(str(deals_home["home"])))
    return deals_home


def _deal_rep() -> str:
    """The maven agent with the most deals open at the end of the export."""
    pipe = pd.read_csv(MAVEN / "sales_pipeline.csv")
    return str(pipe[pipe["deal_stage"] == "Engaging"]["sales_agent"].value_counts().index[0])


def test_train_all_fits_the_deal_model_to_the_deals_dates(in_deals_home: dict[str, object]) -> None:
    trained = in_deals_home["trained"]
    models = {m["model"]: m for m in trained["models"]}
    expected = {"guanxi-deal", "guanxi-relationship"} if in_deals_home["store"] == "maven+radoslaw" else {"guanxi-deal"}
    assert set(models) == expected
    assert models["guanxi-deal"]["label"] == "deal_won" and models["guanxi-deal"]["n_test"] > 0
    if in_deals_home["store"] == "maven-undated":
        assert any("the owner is a categorical feature" in n for n in models["guanxi-deal"]["notes"])
    skipped = {s["model"]: s["why"] for s in trained["skipped"]}
    assert "effect" in skipped and "prior" in skipped["effect"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_recommend_gives_actions_on_the_reps_open_deals(in_deals_home: dict[str, object], lang: str) -> None:
    rep = _deal_rep()
    result = runner.invoke(app, ["recommend", "--rep", rep, "--k", "5", "--lang", lang, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    # the day after the export's last deal date; today when the deals carry no date
    undated = in_deals_home["store"] == "maven-undated"
    assert body["as_of"] == (str(pd.Timestamp.now(tz="UTC").date()) if undated else "2018-01-01")
    actions = body["actions"]
    assert len(actions) == 5 and [a["rank"] for a in actions] == [1, 2, 3, 4, 5]
    pipe = pd.read_csv(MAVEN / "sales_pipeline.csv").set_index("opportunity_id")
    for a in actions:
        assert a["contact_id"] is None and a["opportunity_id"] in pipe.index
        assert pipe.loc[a["opportunity_id"], "sales_agent"] == rep
        assert pipe.loc[a["opportunity_id"], "deal_stage"] in {"Engaging", "Prospecting"}
        assert a["effect_source"] == "prior" and a["gain_unit"] == "money" and a["expected_gain"] > 0
        assert 0 < a["p_win"] < a["p_win_if_done"] < 1
        assert len(a["reasons"]) >= 2
        for reason in a["reasons"]:
            assert RAW_NAMES.search(reason["text"]) is None, reason["text"]
            assert "{" not in reason["text"]
    assert len({a["opportunity_id"] for a in actions}) == 5  # one action per deal a day
    priorities = [a["priority"] for a in actions]
    assert priorities == sorted(priorities, reverse=True)
    first = actions[0]["reasons"][0]["text"]
    assert ("P(win)" in first and "shipped prior" in first) if lang == "en" else ("赢单概率" in first)


def test_score_writes_the_open_deals_and_spreads_the_ties(in_deals_home: dict[str, object], tmp_path: Path) -> None:
    from serving.batch import read_scores

    result = runner.invoke(app, ["score", "--out", str(tmp_path / "scores"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    deals = pd.read_parquet(tmp_path / "scores" / "deals.parquet")
    # a deal without any date that is still open is open whatever the day (maven's prospects have no date)
    pipe = pd.read_csv(MAVEN / "sales_pipeline.csv")
    open_deals = pipe[pipe["deal_stage"].isin(["Engaging", "Prospecting"])]
    assert set(deals["opportunity_id"]) == set(open_deals["opportunity_id"]) and deals["p_win"].between(0, 1).all()
    ties = read_scores(tmp_path / "scores")
    if in_deals_home["store"] != "maven+radoslaw":
        assert summary["relationships"] == 0 and ties.empty  # deals alone: no ties to band
    else:
        assert len(ties) == summary["relationships"] > 0
        assert ties["band"].value_counts(normalize=True).max() <= 0.8
        # the archive's ties are scored at the end of their own era, not at the deals' 2018
        assert pd.to_datetime(ties["as_of"]).max() < pd.Timestamp("2011-01-01", tz="UTC")


def test_the_api_answers_for_a_deal_rep_and_an_archive_rep(in_deals_home: dict[str, object]) -> None:
    from serving.api.app import create_app

    with TestClient(create_app()) as client:
        r = client.get(f"/v1/reps/{_deal_rep()}/next-best-actions?limit=5")
        assert r.status_code == 200, r.text
        body = r.json()
        day = str(pd.Timestamp.now(tz="UTC").date()) if in_deals_home["store"] == "maven-undated" else "2018-01-01"
        assert len(body["actions"]) == 5 and body["freshness"]["as_of"].startswith(day)
        assert all(a["contact_id"] is None and a["opportunity_id"] for a in body["actions"])
        if in_deals_home["store"] == "maven+radoslaw":
            r = client.get("/v1/reps/radoslaw_email:3/next-best-actions?limit=5")
            assert r.status_code == 200, r.text
            body = r.json()
            assert len(body["actions"]) == 5 and body["freshness"]["as_of"].startswith("2010-")
            assert all(a["contact_id"] for a in body["actions"])
            assert body["labels"]["guanxi-relationship"] == "tie_persistence"


def test_every_deal_feature_reads_as_a_phrase_in_both_languages() -> None:
    from serving.reasons import DEAL_TEMPLATES, deal_sentence

    assert sorted(f.name for f in DEAL if f.name not in DEAL_TEMPLATES) == []
    for f in DEAL:
        for lang in ("en", "zh"):
            text = deal_sentence(f.name, 3.0, 5.0, lang)
            assert RAW_NAMES.search(text) is None and "{" not in text, (f.name, lang, text)


def test_eras_split_only_where_no_rep_bridges_a_year() -> None:
    from serving.candidates import era_ends

    t = pd.Timestamp
    ends = {"old1": t("2010-03-01", tz="UTC"), "old2": t("2010-09-30", tz="UTC"),
            "new1": t("2017-12-31", tz="UTC"), "new2": t("2017-06-01", tz="UTC")}
    assert era_ends(ends) == {"old1": t("2010-09-30", tz="UTC"), "old2": t("2010-09-30", tz="UTC")}
    # a live CRM: a rep idle for ten months is still in the store's era
    assert era_ends({"a": t("2025-01-01", tz="UTC"), "b": t("2025-11-01", tz="UTC")}) == {}


def test_feedback_on_a_deal_action_starts_its_cooldown(in_deals_home: dict[str, object]) -> None:
    """A deal action marked done (API or page) is not offered again the next day; its served record names
    the deal; feedback that names the wrong kind of target is a 422 that says what to give."""
    import sqlalchemy as sa

    from crm.store import SERVED, make_engine
    from serving.api.app import create_app

    rep = _deal_rep()
    with TestClient(create_app()) as client:
        first = client.get(f"/v1/reps/{rep}/next-best-actions?limit=5").json()["actions"][0]
        done = {"rep_id": rep, "opportunity_id": first["opportunity_id"], "action": first["action"],
                "status": "done"}
        r = client.post("/v1/recommendations/feedback", json=done)
        assert r.status_code == 201, r.text
        after = client.get(f"/v1/reps/{rep}/next-best-actions?limit=5").json()["actions"]
        assert not any(a["opportunity_id"] == first["opportunity_id"] and a["action"] == first["action"]
                       for a in after)
        for bad, where in (({**done, "opportunity_id": None, "contact_id": "C1"}, "opportunity_id"),
                           ({**done, "opportunity_id": "NOPE"}, "unknown deal")):
            r = client.post("/v1/recommendations/feedback", json=bad)
            assert r.status_code == 422 and where in r.text, r.text
        page = client.get(f"/reps/{rep}")
        assert page.status_code == 200 and 'name="opportunity_id"' in page.text
        second = after[0]
        form = {"opportunity_id": second["opportunity_id"], "action": second["action"], "status": "dismissed"}
        assert client.post(f"/reps/{rep}/feedback", data=form, follow_redirects=False).status_code == 303
    engine = make_engine(get_settings().db_url)
    with engine.connect() as conn:
        served = conn.execute(sa.select(SERVED.c.contact_id, SERVED.c.opportunity_id)
                              .where(SERVED.c.rep_id == rep)).all()
    engine.dispose()
    assert served and all(c is None and o for c, o in served)
