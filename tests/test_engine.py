"""The next-best-action engine: catalog, contact policy, effect model, reasons, rollouts, off-policy check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm.sim.simulate import SimResult, simulate
from serving.catalog import load_catalog
from serving.engine import Models, score, select, violations
from serving.feedback import interaction_history
from serving.policy_eval import evaluate_policies, offpolicy_check
from serving.recommend import recommend
from training.train import train
from training.uplift import TREATMENTS, EffectModel, effect_dataset, fit_effect_model

pytestmark = pytest.mark.slow  # trains models or starts servers: `make test`, not `make test-fast`

HORIZON = 90


@pytest.fixture(scope="module")
def small() -> SimResult:
    return simulate("small", seed=5)


@pytest.fixture(scope="module")
def models(small: SimResult) -> tuple[Models, object]:
    rows = effect_dataset(small.tables, horizon_days=HORIZON, min_history_days=90)
    effect = fit_effect_model(rows)
    rel = train(small.tables, "relationship", horizon_days=HORIZON, min_history_days=90).model
    deal = train(small.tables, "deal", horizon_days=HORIZON, min_history_days=90).model
    return Models(effect, rel, {"guanxi-effect": "test"}), deal


@pytest.fixture(scope="module")
def as_of(small: SimResult) -> pd.Timestamp:
    return small.pop.start + pd.Timedelta(days=small.size.days)


def test_catalog_loads_and_rejects_bad_entries(tmp_path: Path) -> None:
    catalog = load_catalog()
    assert {"greet", "visit", "engage_decision_maker", "widen_committee", "reengage"} <= set(catalog.names)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[action]]\nname = "x"\nkind = "teleport"\nelement = "depth"\nminutes = 5\nchannel = "call"\n'
                   "cooldown = 1\n")
    with pytest.raises(ValueError, match="kind 'teleport' is not one of"):
        load_catalog(bad)
    bad.write_text('[[action]]\nname = "x"\nkind = "greet"\nelement = "depth"\nminutes = 5\nchannel = "call"\n'
                   'cooldown = 1\nwhen = "x > 1"\n')
    with pytest.raises(ValueError, match="unknown keys"):
        load_catalog(bad)


def test_effect_model_round_trips_and_gives_no_win_uplift_without_a_deal(models: tuple[Models, object],
                                                                         small: SimResult, as_of: pd.Timestamp,
                                                                         tmp_path: Path) -> None:
    from serving.candidates import candidates

    cands = candidates(small.tables, as_of)
    effect = models[0].effect
    effect.save(tmp_path / "effect")
    again = EffectModel.load(tmp_path / "effect")
    a, b = effect.effects(cands), again.effects(cands)
    np.testing.assert_allclose(a["effective"].to_numpy(), b["effective"].to_numpy())
    no_deal = cands["deal_open"].to_numpy() == 0
    assert no_deal.any() and (a["win"].drop(columns="_base").to_numpy()[no_deal] == 0).all()
    assert a["effective"]["_base"].between(0, 1).all()
    assert len(again.boosters["effective"]) == len(effect.boosters["effective"]) > 1


def test_the_effect_model_is_the_mean_of_its_bag(models: tuple[Models, object], small: SimResult,
                                                 as_of: pd.Timestamp, tmp_path: Path) -> None:
    """Predictions average the bag; a one-booster bundle (the format before bagging) still loads."""
    from serving.candidates import candidates
    from training.uplift import KINDS, OUTCOMES

    cands = candidates(small.tables, as_of)
    effect = models[0].effect
    t = np.zeros((len(cands), len(KINDS)))
    each = [EffectModel(effect.features, {o: [bag[i]] for o, bag in effect.boosters.items()}, effect.metrics)
            .predict("effective", cands, t) for i in range(len(effect.boosters["effective"]))]
    assert not np.allclose(each[0], each[1])  # seeded apart
    np.testing.assert_allclose(effect.predict("effective", cands, t), np.mean(each, axis=0))
    single = tmp_path / "single"
    single.mkdir()
    for outcome in OUTCOMES:
        effect.boosters[outcome][0].save_model(str(single / f"{outcome}.txt"))
    (single / "effect.json").write_text(json.dumps({"features": effect.features, "treatments": TREATMENTS,
                                                    "metrics": effect.metrics, "horizon_days": 180}))
    np.testing.assert_allclose(EffectModel.load(single).predict("effective", cands, t), each[0])


def test_select_obeys_the_contact_policy(models: tuple[Models, object], small: SimResult,
                                         as_of: pd.Timestamp) -> None:
    from serving.candidates import candidates

    catalog = load_catalog()
    scored = score(candidates(small.tables, as_of), models[0], catalog)
    chosen = select(scored, None, catalog, as_of, k=3)
    assert (chosen.groupby("rep_id").size() <= 3).all()
    assert chosen["contact_id"].is_unique
    optional = chosen[~chosen["mandatory"]]
    assert (optional.groupby("rep_id")["minutes"].sum() <= catalog.policy.capacity_minutes_per_day).all()
    # a contact dismissed twice for an action is not offered it again within the window
    first = chosen[~chosen["mandatory"]].iloc[0]
    dismissed = pd.DataFrame({"rep_id": first.rep_id, "contact_id": first.contact_id, "action": first.action,
                              "day": [as_of - pd.Timedelta(days=2), as_of - pd.Timedelta(days=1)],
                              "status": "dismissed"})
    again = select(scored, dismissed, catalog, as_of, k=3)
    assert not ((again["contact_id"] == first.contact_id) & (again["action"] == first.action)).any()
    once = select(scored, dismissed.iloc[:1], catalog, as_of, k=3)
    assert ((once["contact_id"] == first.contact_id) & (once["action"] == first.action)).any()


def test_violations_counts_each_kind_of_breach() -> None:
    catalog = load_catalog()
    day = pd.Timestamp("2025-01-06", tz="UTC")
    log = pd.DataFrame({"rep_id": ["R1", "R1", "R1", "R2"], "contact_id": ["C1", "C1", "C2", "C3"],
                        "action": ["visit", "visit", "visit", "greet"],
                        "day": [day, day + pd.Timedelta(days=3), day, day], "minutes": [90.0, 90.0, 200.0, 2.0]})
    counts = violations(log, catalog, k=1)
    assert counts == {"per_day_contact": 0, "per_rep_k": 1, "capacity": 1, "cooldown": 1, "contact_week": 1}


def test_rollouts_keep_the_contact_policy_and_count_actions(models: tuple[Models, object],
                                                           small: SimResult) -> None:
    results = evaluate_policies(small, models[0], models[1], weeks=3, k=2, compliance=0.8)
    assert set(results) == {"guanxi", "habits", "propensity", "random", "oracle"}
    for name in ("guanxi", "propensity"):
        assert results[name]["policy_violations"] == 0, results[name]["violations_by_rule"]
        assert results[name]["actions"] > 0
    assert results["habits"]["actions"] == 0
    assert results["habits"]["incremental_revenue"] == 0


def test_recommendations_carry_reasons_with_the_same_numbers_in_both_languages(
        models: tuple[Models, object], small: SimResult, as_of: pd.Timestamp) -> None:
    rep = "R0001"
    en = recommend(small.tables, as_of, models[0], rep, k=5, lang="en")
    zh = recommend(small.tables, as_of, models[0], rep, k=5, lang="zh")
    assert len(en) == len(zh) > 0
    assert list(en["rank"]) == list(range(1, len(en) + 1))
    assert (en["rep_id"] == rep).all()
    for e, z in zip(en["reasons"], zh["reasons"], strict=True):
        assert len(e) >= 1
        for re_en, re_zh in zip(e, z, strict=True):
            nums_en = re.findall(r"-?\d+(?:\.\d+)?", re_en["text"])
            nums_zh = re.findall(r"-?\d+(?:\.\d+)?", re_zh["text"])
            assert nums_en and sorted(nums_en) == sorted(nums_zh), (re_en["text"], re_zh["text"])
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh["reasons"][0][0]["text"])


def test_a_logged_touch_starts_the_cooldown(models: tuple[Models, object], small: SimResult,
                                            as_of: pd.Timestamp) -> None:
    catalog = load_catalog()
    rep = "R0001"
    first = recommend(small.tables, as_of, models[0], rep, k=3)
    top = first[~first["mandatory"].astype(bool)].iloc[0]
    kind = catalog[top.action].kind
    channel, depth, occasion, favor, exe = {
        "greet": ("message", 1, "holiday", None, False), "check_in": ("call", 2, None, None, False),
        "visit": ("visit", 2, None, None, False), "consult": ("meeting", 3, None, None, False),
        "mentor": ("meeting", 4, None, None, False), "favor": ("call", 3, None, "given", False),
        "executive_event": ("event", 2, None, None, True)}[kind]
    touch = pd.DataFrame({"interaction_id": ["NEW1"], "ts": [as_of - pd.Timedelta(hours=2)], "rep_id": [rep],
                          "contact_id": [top.contact_id], "channel": [channel], "direction": ["outbound"],
                          "duration_min": [None], "depth": [depth], "occasion": [occasion],
                          "opportunity_id": [None], "favor": [favor], "with_executive": [exe]})
    tables = dict(small.tables)
    tables["interactions"] = pd.concat([small.tables["interactions"].astype(object), touch], ignore_index=True)
    tables["interactions"]["ts"] = pd.to_datetime(tables["interactions"]["ts"], utc=True)
    history = interaction_history(tables, as_of, catalog, [rep])
    after = recommend(tables, as_of, models[0], rep, k=3, history=history)
    assert not ((after["contact_id"] == top.contact_id) & (after["action"] == top.action)).any()


def test_offpolicy_estimate_is_close_to_the_simulated_truth(models: tuple[Models, object],
                                                            small: SimResult) -> None:
    check = offpolicy_check(small, models[0], k=2, days=7, horizon=HORIZON, replicas=16)
    assert check["actions"] > 0 and check["treated"] > 0
    assert check["relative_error"] < 0.15, check


def test_cli_recommend_says_what_is_missing(home: Path) -> None:
    from typer.testing import CliRunner

    from guanxi.cli import app

    result = CliRunner().invoke(app, ["recommend", "--rep", "R0001"])
    assert result.exit_code == 1 and "guanxi train all" in result.output


def test_cli_evaluate_policy_reports_every_policy_and_logs_the_run(models: tuple[Models, object], home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from guanxi.cli import app
    from guanxi.settings import get_settings

    folder = home / "models"
    models[0].effect.save(folder / "guanxi-effect")
    models[0].relationship.save(folder / "guanxi-relationship")
    models[1].save(folder / "guanxi-deal")
    monkeypatch.setenv("GUANXI_MODELS_DIR", str(folder))
    get_settings.cache_clear()
    args = ["evaluate-policy", "--size", "small", "--seed", "5", "--weeks", "2", "--no-offpolicy"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report["policies"]) == {"guanxi", "habits", "propensity", "random", "oracle"}
    assert report["offpolicy"] is None and report["run_id"] and report["weeks"] == 2
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0 and "oracle" in text.stdout and "guanxi" in text.stdout
    bad = CliRunner().invoke(app, ["evaluate-policy", "--size", "huge"])
    assert bad.exit_code == 2 and "'huge' is not one of" in bad.output and "Traceback" not in bad.output


def test_candidates_mark_the_weeks_after_a_close(small: SimResult) -> None:
    """``after_win`` / ``after_loss``: 1 on the ties of an account whose latest deal won (lost) within the
    dignity windows before the day, 0 once the window has passed."""
    from features.scan import LOSS_WINDOW_DAYS, WIN_WINDOW_DAYS
    from serving.candidates import candidates

    opps = small.tables["opportunities"]
    checked = 0
    for outcome, column, window in (("won", "after_win", WIN_WINDOW_DAYS), ("lost", "after_loss", LOSS_WINDOW_DAYS)):
        closed = opps[opps["outcome"] == outcome].sort_values("closed_at")
        deal = closed.iloc[len(closed) // 2]
        same = closed[closed["account_id"] == deal["account_id"]]
        for days, expected in ((10, 1.0), (window + 10, 0.0)):
            day = (deal["closed_at"] + pd.Timedelta(days=days)).floor("D")
            # another close of the same kind at the account within the window before the day would also count
            if ((same["closed_at"] <= day) & (same["closed_at"] > day - pd.Timedelta(days=window))
                    & (same["opportunity_id"] != deal["opportunity_id"])).any():
                continue
            cands = candidates(small.tables, day)
            at = cands[cands["account_id"] == deal["account_id"]]
            assert len(at) and (at[column] == expected).all(), (outcome, days)
            checked += 1
    assert checked >= 3


def test_an_action_reason_says_the_deal_it_moves_and_shows_no_missing_number() -> None:
    """The gain counts the tie and the open deal: a reason says both where the deal moves, in en and zh."""
    from serving.reasons import action_reason

    both = action_reason("check in", "frequency", 0.131, 0.128, 1546.0, "en", win_now=0.843, win_done=0.853)
    assert "from 13.1% to 12.8% and the open deal's P(win) from 84.3% to 85.3%, worth about 1546" in both["text"]
    zh = action_reason("问候", "frequency", 0.131, 0.128, 1546.0, "zh", win_now=0.843, win_done=0.853)
    assert "在谈商机赢单概率从 84.3% 变为 85.3%" in zh["text"]
    alone = action_reason("check in", "frequency", 0.131, 0.128, 10.0, "en", win_now=float("nan"), win_done=None)
    assert "P(win)" not in alone["text"]


def test_reasons_show_no_missing_number(small: SimResult, models: tuple[Models, object],
                                        as_of: pd.Timestamp) -> None:
    """A feature whose value is missing (no loss in the year, no meeting with a senior contact) may weigh in
    the model, but a reason cannot show it: every reason of every tie names a number."""
    from features.relationship import relationship_features
    from serving.reasons import explain, references

    rel = relationship_features(small.tables, as_of)
    model = models[0].relationship
    assert model is not None
    reasons = explain(rel, model, references(rel, model.predict_proba(rel)[:, 1]), "en")
    texts = [r["text"] for row in reasons for r in row]
    assert len(texts) >= len(rel) and not [t for t in texts if "n/a" in t]
