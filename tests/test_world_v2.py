"""World version 2: the latent dignity (体面) of a tie, moved by the conduct after a deal closes (restraint
after a win, keeping in touch after a loss); the outcomes it reacts to are drawn on the path, and the
recorded tables, the rollouts and the oracle all read the same drawn outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm.sim.engine import State, World
from crm.sim.oracle import action_effect
from crm.sim.params import DIGNITY, A
from crm.sim.simulate import SimResult, simulate


@pytest.fixture(scope="module")
def v2() -> SimResult:
    return simulate("small", seed=5, variant="v2")


def test_v1_is_unchanged_and_v2_differs() -> None:
    base, again = simulate("small", seed=5), simulate("small", seed=5, variant="base")
    pd.testing.assert_frame_equal(base.tables["interactions"], again.tables["interactions"])
    assert not base.world.variant.dignity
    other = simulate("small", seed=5, variant="v2")
    assert other.world.variant.dignity
    assert not base.tables["interactions"].equals(other.tables["interactions"])


def test_pushes_after_a_win_cost_dignity_and_touches_after_a_loss_earn_it(v2: SimResult) -> None:
    """Hand-computed: one push in a win window, touches in a loss window up to the cap, nothing outside."""
    state = v2.state_at(100)
    n = v2.pop.n_pairs
    state.dignity[:] = 0.0
    state.kept[:] = 0.0
    state.win_until[:], state.loss_until[:] = -1e9, -1e9
    state.win_until[0, 0] = 105  # pair 0: in a win window on day 101
    state.loss_until[0, 1] = 130  # pair 1: in a loss window
    acts = np.zeros((1, n), dtype=bool)
    acts[0, :3] = True  # pair 2: a push outside any window
    kind = np.full((1, n), -1)
    kind[0, :3] = (A["business"], A["check_in"], A["business"])
    no = np.zeros((1, n), dtype=bool)
    fade = np.exp(-1.0 / DIGNITY.decay_days)
    for day in (101, 102, 103):
        World._dignity(state, day, acts, kind, no, no)
    # pair 0: -cost each day, faded; pair 1: +gain on the first keep_cap days only
    expected0 = sum(-DIGNITY.push_cost * fade ** (3 - i) for i in range(3))
    expected1 = sum(DIGNITY.keep_gain * fade ** (3 - i) for i in range(DIGNITY.keep_cap))
    assert state.dignity[0, 0] == pytest.approx(expected0, rel=1e-12)
    assert state.dignity[0, 1] == pytest.approx(expected1, rel=1e-12)
    assert state.dignity[0, 2] == 0.0 and state.kept[0, 1] == DIGNITY.keep_cap
    # an ask counts as a push even on a maintenance touch; a need-driven touch is not keeping in touch
    ask, need = no.copy(), no.copy()
    ask[0, 0], need[0, 1] = True, True
    kind[0, 0] = A["check_in"]
    state.kept[:] = 0.0
    before = state.dignity[0, :2].copy()
    World._dignity(state, 104, acts, kind, ask, need)
    assert state.dignity[0, 0] == pytest.approx((before[0] - DIGNITY.push_cost) * fade, rel=1e-12)
    assert state.dignity[0, 1] == pytest.approx(before[1] * fade, rel=1e-12)


def test_outcomes_drawn_on_the_path_are_the_recorded_ones(v2: SimResult) -> None:
    """The tables' won and lost deals open the windows the path keeps: every tie at an account whose deal
    was won in the last 30 days is in a win window at the end of the history."""
    opps = v2.tables["opportunities"]
    end = v2.pop.start + pd.Timedelta(days=v2.size.days - 1)
    recent = opps[(opps["outcome"] == "won") & (opps["closed_at"] > end - pd.Timedelta(days=DIGNITY.win_window_days))]
    assert len(recent) > 0
    state = v2.state_at(v2.size.days - 1)
    acct = recent["account_id"].str[1:].astype(int).to_numpy()
    pairs = np.flatnonzero(np.isin(v2.world.pair_acct, acct))
    assert (state.win_until[0, pairs] >= v2.size.days - 1).all()
    lost = opps[(opps["outcome"] == "lost") & (opps["closed_at"] > end - pd.Timedelta(days=20))]
    assert len(lost) > 0
    pairs = np.flatnonzero(np.isin(v2.world.pair_acct, lost["account_id"].str[1:].astype(int).to_numpy()))
    assert (state.loss_until[0, pairs] >= v2.size.days - 1).all()
    assert (state.dignity != 0).any()


def test_the_truth_rewards_restraint_after_a_win(v2: SimResult) -> None:
    """The oracle's uplift of a business push on ties in the weeks after a win is below the same push's
    uplift on the same ties without a recent win (common random numbers: the difference is dignity's)."""
    day = v2.size.days - 200
    state = v2.state_at(day)
    pairs = np.flatnonzero(state.bond[0] > 0.3)
    _, first = np.unique(v2.world.pair_acct[pairs], return_index=True)
    pairs = pairs[first][:60]
    assert len(pairs) >= 20

    def after_a_win(s: State) -> None:
        s.win_until[0, pairs] = day + DIGNITY.win_window_days

    def no_window(s: State) -> None:
        s.win_until[0, pairs] = -1e9

    inside = action_effect(v2, day, pairs, A["business"], replicas=16, edit=after_a_win)
    outside = action_effect(v2, day, pairs, A["business"], replicas=16, edit=no_window)
    assert inside.effective.mean() < outside.effective.mean() - 0.005, (inside.effective.mean(),
                                                                       outside.effective.mean())
