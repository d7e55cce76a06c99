"""The simulated world: reproducible, valid, tuned to its documented base rates, with a calibrated
oracle, effects of the documented signs, and policy rollouts on common random numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm.sim.oracle import action_effect, truth_at
from crm.sim.params import DEALS, A
from crm.sim.rollout import BUILTIN, rollout
from crm.sim.simulate import SimResult, simulate
from crm.validate import validate_tables


@pytest.fixture(scope="module")
def small() -> SimResult:
    return simulate("small", seed=5)


@pytest.fixture(scope="module")
def demo() -> SimResult:
    return simulate("demo", seed=3)


def test_same_seed_same_tables_other_seed_other_tables(small: SimResult) -> None:
    again = simulate("small", seed=5)
    for name, frame in small.tables.items():
        pd.testing.assert_frame_equal(frame, again.tables[name])
    other = simulate("small", seed=6)
    assert not small.tables["interactions"].equals(other.tables["interactions"])


def test_output_passes_the_data_contract(small: SimResult) -> None:
    typed = validate_tables(small.tables, {n: n for n in small.tables}, lambda t, c, v: set())
    assert {n: len(f) for n, f in typed.items()} == {n: len(f) for n, f in small.tables.items()}
    inter = small.tables["interactions"]
    assert set(inter["depth"]) <= {0, 1, 2, 3, 4}
    assert inter["ts"].max() < small.pop.start + pd.Timedelta(days=small.size.days)


@pytest.mark.slow
def test_demo_world_base_rates(demo: SimResult) -> None:
    tables = demo.tables
    assert 800_000 <= len(tables["interactions"]) <= 1_300_000
    assert len(tables["opportunities"]) >= 3000
    day = demo.size.days - 200
    share = demo.effective(day, 180)[demo.active_pairs(day)].mean()
    assert 0.10 <= share <= 0.25, share
    closed = tables["opportunities"][tables["opportunities"]["outcome"] != "open"]
    assert 0.20 <= (closed["outcome"] == "won").mean() <= 0.40
    assert 60 <= (closed["closed_at"] - closed["created_at"]).dt.days.median() <= 120


@pytest.mark.slow
def test_oracle_is_calibrated(demo: SimResult) -> None:
    """Deciles of oracle P(effective) over three cutoffs: observed rate within 2 points of the mean."""
    frames = []
    for day in (550, 730, 900):
        truth = truth_at(demo, day, horizon=180, replicas=32)
        frames.append(pd.DataFrame({"p": truth.p_effective, "y": demo.effective(day, 180)}))
    df = pd.concat(frames, ignore_index=True)
    assert len(df) >= 10_000
    df["decile"] = pd.qcut(df["p"].rank(method="first"), 10, labels=False)
    by = df.groupby("decile").agg(p=("p", "mean"), y=("y", "mean"))
    gap = (by["y"] - by["p"]).abs()
    assert (gap <= 0.02).all(), by.assign(gap=gap)
    assert by["p"].iloc[-1] > 5 * by["p"].iloc[0]  # and it discriminates


def _one_per_account(sim: SimResult, mask: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(mask)
    _, first = np.unique(sim.world.pair_acct[idx], return_index=True)
    return idx[first]


def test_greeting_a_silent_once_close_contact_raises_p_effective(small: SimResult) -> None:
    day = int(np.flatnonzero(small.world.cal.greeting_day[300:])[0]) + 300 - 1  # greet on the occasion
    s = small.state_at(day)
    silent = day - np.nan_to_num(s.last_touch[0], nan=-1e9) > 90
    pairs = _one_per_account(small, silent & (s.bond[0] > 0.4))
    assert len(pairs) >= 10
    uplift = action_effect(small, day, pairs, A["greet"], replicas=16).effective
    assert uplift.mean() > 0.002
    assert (uplift > 0).mean() > 0.9


def test_personal_advice_to_a_stranger_does_not_help(small: SimResult) -> None:
    day = 400
    s = small.state_at(day)
    pairs = _one_per_account(small, s.bond[0] == 0)
    assert len(pairs) >= 10
    uplift = action_effect(small, day, pairs, A["mentor"], replicas=16).effective
    assert uplift.max() <= 1e-9


def test_tenth_visit_in_a_week_lowers_p_effective(small: SimResult) -> None:
    day = 400
    s = small.state_at(day)
    pairs = _one_per_account(small, (s.bond[0] > 0.5) & (s.bond[0] < 1.5))

    def nine_visits_this_week(state) -> None:  # noqa: ANN001
        state.load[0, pairs] = 9.0

    first = action_effect(small, day, pairs, A["visit"], replicas=16).effective
    tenth = action_effect(small, day, pairs, A["visit"], replicas=16, edit=nine_visits_this_week).effective
    assert first.mean() > 0
    assert tenth.mean() < 0
    assert (tenth < 0).mean() > 0.9


def test_rollouts_share_the_future_and_respect_the_budget(small: SimResult) -> None:
    results = {name: rollout(small, policy, 300, weeks=8, k=2) for name, policy in BUILTIN.items()}
    again = rollout(small, BUILTIN["random"], 300, weeks=8, k=2)
    assert again == results["random"]
    assert results["habits"].actions == 0
    assert all(r.violations == 0 for r in results.values())
    per_day = small.size.reps * 2
    assert results["oracle"].actions <= per_day * 8 * 7
    assert results["oracle"].new_effective > results["habits"].new_effective
    assert results["oracle"].new_effective > results["random"].new_effective


def test_executive_event_for_a_decision_maker_raises_p_win(small: SimResult) -> None:
    """Presence on an open deal: bringing an executive to the decision maker helps win it."""
    day = 400
    s = small.state_at(day)
    pop = small.pop
    on_deal = s.deal_open[0, small.world.pair_acct] & s.on_chain[0, pop.pair_con] & small.world.pair_owner
    pairs = _one_per_account(small, on_deal & (pop.con_role[pop.pair_con] == 0))
    assert len(pairs) >= 3
    uplift = action_effect(small, day, pairs, A["executive_event"], replicas=16, deal_days=365)
    assert np.isfinite(uplift.win).all()
    assert uplift.win.mean() > 0


def test_win_probability_without_luck_is_the_average_over_the_luck(small: SimResult) -> None:
    """The luck-free truth integrates the deal's luck term: equal to averaging over fresh draws of it."""
    day = 400
    s = small.state_at(day).repeat(2000)
    s.deal_noise = np.random.default_rng(0).normal(0, DEALS.win_noise_sd, s.deal_noise.shape)
    open_deals = s.deal_open[0]
    assert open_deals.sum() >= 5
    averaged = small.world.win_probability(s, day).mean(axis=0)
    exact = small.world.win_probability(s, day, luck=False)[0]
    assert np.abs(averaged - exact)[open_deals].max() < 0.015  # ~5 standard errors of 2,000 draws


def test_oracle_without_luck_moves_each_deal_against_its_luck(small: SimResult) -> None:
    """On the same paths, a deal that drew good luck is likelier to be won with it than without it.

    Averaging a sigmoid over a normal term shifts the log-odds by less than sd²/2 = 0.18, so luck
    beyond ±0.18 decides the sign of the difference for every deal that can close."""
    day = 400
    truth = truth_at(small, day, horizon=1, replicas=8, deal_days=small.size.days - 1 - day, without_luck=True)
    luck = small.state_at(day).deal_noise[0]
    can_close = truth.p_closed > 0
    assert can_close.sum() >= 5
    lucky, unlucky = can_close & (luck > 0.18), can_close & (luck < -0.18)
    assert lucky.any() and unlucky.any()
    assert (truth.p_win[lucky] > truth.p_win_without_luck[lucky]).all()
    assert (truth.p_win[unlucky] < truth.p_win_without_luck[unlucky]).all()
    assert (truth.p_win_without_luck[can_close] <= truth.p_closed[can_close] + 1e-12).all()
    plain = truth_at(small, day, horizon=1, replicas=8, deal_days=small.size.days - 1 - day)
    np.testing.assert_array_equal(plain.p_win, truth.p_win)  # asking for it changes nothing else
    assert np.isnan(plain.p_win_without_luck).all()


def test_the_oracle_reads_the_worlds_own_effect_function(small: SimResult, monkeypatch: pytest.MonkeyPatch) -> None:
    """One definition of what an action does: the oracle asks the world, and a world without effects
    leaves it nothing to recommend."""
    import numpy as np

    from crm.sim import rollout
    from crm.sim.engine import World

    seen: list[int] = []
    real = World.touch_effect
    day = small.size.days - 1
    view = rollout.View(small, small.state_at(day), day, 3, np.random.default_rng(0))

    def spy(self: World, kind: np.ndarray, *args: object) -> np.ndarray:
        seen.append(int(kind.flat[0]))
        return real(self, kind, *args)

    monkeypatch.setattr(World, "touch_effect", spy)
    pairs, actions = rollout.oracle_greedy(view)
    assert sorted(seen) == sorted(rollout.CATALOG) and len(pairs) > 0
    monkeypatch.setattr(World, "touch_effect", lambda self, kind, *args: np.zeros(kind.shape))
    assert len(rollout.oracle_greedy(view)[0]) == 0
