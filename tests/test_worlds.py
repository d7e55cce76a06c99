"""Worlds unlike the prior and exports unlike the simulator's: the contrarian variant's truth, degraded
exports (no deals, no potential, a fifth of the actions logged) as `guanxi simulate` writes them and as
`guanxi evaluate-policy` shows them to the policies, and the prior blended into a learned effect model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crm.sim.degrade import Degrade
from crm.sim.params import ACTIONS, VARIANTS, A
from crm.sim.simulate import simulate
from guanxi.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return simulate("small", seed=3).tables


def test_the_contrarian_world_contradicts_the_prior_where_it_says() -> None:
    from serving.effect_prior import load_prior

    base, contrarian = VARIANTS["base"], VARIANTS["contrarian"]
    assert base.effects == ACTIONS.effects and base.favor_ledger == 1.0
    prior = load_prior()
    contradicted = [k for k in ACTIONS.names
                    if np.sign(contrarian.effects[A[k]]) != np.sign(prior.effective[k])
                    or (prior.effective[k] > 0 and contrarian.effects[A[k]] == 0)]
    assert {"greet", "favor"} <= set(contradicted)
    assert contrarian.favor_ledger < 0
    sim = simulate("small", seed=3, variant="contrarian")
    world = sim.world
    pairs = len(sim.pop.pair_rep)
    bond, need = np.full((1, pairs), 0.5), np.zeros((1, pairs), dtype=bool)
    occasion = np.ones((1, pairs), dtype=bool)
    favor = world.touch_effect(np.full((1, pairs), A["favor"]), bond, occasion, need)
    greet = world.touch_effect(np.full((1, pairs), A["greet"]), bond, occasion, need)
    assert (favor < 0).all() and (greet == 0).all()
    with pytest.raises(ValueError, match="unknown world variant"):
        simulate("small", seed=3, variant="nope")


def test_degraded_exports_leave_out_what_they_say(tables: dict[str, pd.DataFrame]) -> None:
    no_deals = Degrade(frozenset({"deals"})).apply(tables)
    assert all(no_deals[t].empty for t in ("opportunities", "opportunity_stages", "opportunity_contacts"))
    assert no_deals["interactions"]["opportunity_id"].isna().all()
    assert len(no_deals["interactions"]) == len(tables["interactions"])
    assert not tables["opportunities"].empty  # the input is not changed
    no_potential = Degrade(frozenset({"potential"})).apply(tables)
    assert no_potential["accounts"]["potential"].isna().all() and tables["accounts"]["potential"].notna().any()

    thin = Degrade(thin_actions=0.2).apply(tables)["interactions"]
    inter = tables["interactions"]
    out = inter["direction"] == "outbound"
    kept = thin["direction"] == "outbound"
    assert (~thin["direction"].eq("outbound")).sum() == (~out).sum()  # what contacts sent stays
    assert 0.17 < kept.sum() / out.sum() < 0.23
    # a growing log keeps the same rows: a view of its first half keeps the first half of the kept rows
    half = {**tables, "interactions": inter.iloc[: len(inter) // 2]}
    first = Degrade(thin_actions=0.2).apply(half)["interactions"]["interaction_id"]
    assert set(first) == set(thin["interaction_id"]) & set(inter["interaction_id"].iloc[: len(inter) // 2])
    with pytest.raises(ValueError, match="cannot drop contacts"):
        Degrade(frozenset({"contacts"}))
    with pytest.raises(ValueError, match="share in"):
        Degrade(thin_actions=1.5)


def test_simulate_writes_a_degraded_export_and_refuses_unknown_options(home: Path) -> None:
    result = runner.invoke(app, ["simulate", "--size", "small", "--seed", "3", "--drop", "deals", "--drop",
                                 "potential", "--thin-actions", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["opportunities"] == 0 and counts["interactions"] > 0
    doctor = json.loads(runner.invoke(app, ["doctor", "--json"]).stdout)
    assert not doctor["levels"]["dated_deals"] and not doctor["levels"]["account_value"]
    for bad, message in ((["--drop", "contacts"], "cannot drop contacts"), (["--variant", "x"], "--variant"),
                         (["--thin-actions", "0"], "share in")):
        refused = runner.invoke(app, ["simulate", "--size", "small", *bad])
        assert refused.exit_code == 2 and message in refused.output and "Traceback" not in refused.output


def test_a_learned_effect_is_blended_with_the_prior_by_how_often_the_kind_was_seen() -> None:
    from features.actions import KINDS
    from serving.effect_prior import load_prior
    from training.uplift import effect_dataset, fit_effect_model

    sim = simulate("small", seed=5)
    rows = effect_dataset(sim.tables, horizon_days=90, min_history_days=90)
    model = fit_effect_model(rows, bags=1)
    assert set(model.examples) == set(KINDS) and all(n >= 0 for n in model.examples.values())
    assert model.examples["check_in"] == int((rows[rows["cutoff"] < rows["cutoff"].max()]["t_check_in"] > 0).sum())
    X = rows[rows["cutoff"] == rows["cutoff"].max()].head(200)
    learned = model.effects(X)["effective"]
    prior = load_prior()
    shifts = {"effective": prior.effective, "win": prior.win}
    for pseudo, check in ((1e12, "prior"), (1e-12, "learned")):
        blended = model.__class__(model.features, model.boosters, model.metrics, examples=model.examples)
        blended.shrink_toward(shifts, pseudo)
        eff = blended.effects(X)["effective"]
        base = eff["_base"].to_numpy()
        for k in KINDS:
            if check == "learned":
                np.testing.assert_allclose(eff[k], learned[k], atol=1e-9)
                assert blended.source(k) == "learned"
            else:
                logit = np.log(base / (1 - base)) + prior.effective[k]
                np.testing.assert_allclose(eff[k], 1 / (1 + np.exp(-logit)) - base, atol=1e-9)
                assert blended.source(k) == "prior"
    # in between: the weight on the prior is pseudo / (n + pseudo)
    n = model.examples["visit"]
    half = model.__class__(model.features, model.boosters, model.metrics, examples=model.examples)
    half.shrink_toward(shifts, float(n))
    assert half.prior_weight["visit"] == pytest.approx(0.5)
    assert half.source("visit") == "prior"
