"""The truth of the simulated world: P(effective), P(win) and the effect of actions.

Paired Monte Carlo with common random numbers, Rao-Blackwellised: the latent path after ``as_of`` is
simulated in R replicas (reps keep their habits); along each path the chance of *no* return is
integrated analytically (daily hazards of inbound requests and referrals, and P(win) of every deal
that closes with the contact on its chain and the rep as owner). Outcomes never feed back into the
path, so the estimate is unbiased, and far less noisy than counting drawn events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from crm.sim.engine import State
from crm.sim.simulate import SimResult

DEFAULT_REPLICAS = 32


@dataclass
class Truth:
    """Oracle figures for one as_of."""

    p_effective: np.ndarray  # (P,) pairs
    p_win: np.ndarray  # (A,) accounts' deal open at as_of (nan where none)
    deal_seq: np.ndarray  # (A,) which deal of the account p_win refers to (-1 where none)
    p_closed: np.ndarray  # (A,) P(that deal is won or lost within the days followed) (nan where none)
    # (A,) P(win) averaged over each deal's luck term (nan where none; all nan unless asked for)
    p_win_without_luck: np.ndarray

    @property
    def p_win_if_closed(self) -> np.ndarray:
        """P(win | the deal closed within the days followed): the truth for rows kept only when the
        outcome is known by then (a deal still open is not a loss there, it is left out)."""
        return _if_closed(self.p_win, self.p_closed)

    @property
    def p_win_if_closed_without_luck(self) -> np.ndarray:
        """The same without the deal's luck: the best any scorer can do, as nothing records the luck."""
        return _if_closed(self.p_win_without_luck, self.p_closed)


def _if_closed(p_win: np.ndarray, p_closed: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p_closed > 0, p_win / p_closed, np.nan)


@dataclass
class _Rollout:
    none: np.ndarray  # (R, P) P(no return) along each replica's path
    p_win: np.ndarray  # (R, A) P(the deal open at the start is won within the days followed)
    p_win_without_luck: np.ndarray  # (R, A) the same averaged over its luck (zeros unless asked for)
    still_open: np.ndarray  # (R, A) that deal still open at the end


def _run(sim: SimResult, state: State, day: int, horizon: int, deal_days: int, seed: int,
         override: dict[int, np.ndarray] | None = None, without_luck: bool = False) -> _Rollout:
    """Roll ``state`` (R replicas) forward, integrating returns and deal outcomes along each path."""
    world, pop = sim.world, sim.pop
    rng = np.random.default_rng([sim.seed, 10, seed, day])
    r = state.bond.shape[0]
    log_none = np.zeros((r, pop.n_pairs))
    seq0 = state.deal_seq.copy()
    tracked = state.deal_open.copy()
    p_win = np.zeros((r, pop.size.accounts))
    p_win_without_luck = np.zeros_like(p_win)
    owner_pair = world.pair_owner
    last = day + max(horizon, deal_days if tracked.any() else 0)
    for d in range(day + 1, last + 1):
        ov = override.get(d) if override else None
        out = world.step(state, d, rng, override=ov, without_luck=without_luck)
        if d <= day + horizon:
            log_none += np.log1p(-out.hazard)
        ended = out.closed | out.lost_early
        same = tracked & (state.deal_seq == seq0)
        if out.p_win is not None and out.chain_before is not None:  # deals closed today
            p_win += np.where(out.closed & same, out.p_win, 0.0)
            if without_luck and out.p_win_without_luck is not None:
                p_win_without_luck += np.where(out.closed & same, out.p_win_without_luck, 0.0)
            if d <= day + horizon:
                chain = out.chain_before[:, pop.pair_con] & owner_pair[None, :]
                pw = np.where(out.closed, out.win_chance(), 0.0)[:, world.pair_acct]
                log_none += np.where(chain, np.log1p(-np.minimum(pw, 1 - 1e-12)), 0.0)
        tracked &= ~(ended & same)
        if d >= day + horizon and not tracked.any():
            break
    return _Rollout(np.exp(log_none), p_win, p_win_without_luck, tracked)


def truth_at(sim: SimResult, day: int, horizon: int = 180, replicas: int = DEFAULT_REPLICAS, seed: int = 0,
             deal_days: int = 0, without_luck: bool = False) -> Truth:
    """True P(effective in (day, day+horizon]) per pair and, when ``deal_days`` > 0, P(win) of each deal
    open at the end of ``day`` (followed up to ``deal_days`` days; still open then counts as not won);
    ``without_luck`` also gives that P(win) averaged over each deal's luck term."""
    state = sim.state_at(day).repeat(replicas)
    open_at = state.deal_open[0].copy()
    seq = np.where(open_at, state.deal_seq[0], -1)
    run = _run(sim, state, day, horizon, deal_days, seed, without_luck=without_luck)
    nothing = np.full(len(seq), np.nan)

    def per_deal(values: np.ndarray) -> np.ndarray:
        return np.where(open_at, values.mean(axis=0), np.nan) if deal_days else nothing

    return Truth(1 - run.none.mean(axis=0), per_deal(run.p_win), seq, per_deal(1 - run.still_open),
                 per_deal(run.p_win_without_luck) if without_luck else nothing)


@dataclass
class Uplift:
    """True effect of an action per treated pair: on P(effective) and on P(win) of the account's open deal."""

    effective: np.ndarray
    win: np.ndarray  # nan where the pair's account has no open deal at as_of (or deal_days == 0)


def action_effect(sim: SimResult, day: int, pairs: np.ndarray, action: int | np.ndarray, horizon: int = 180,
                  replicas: int = DEFAULT_REPLICAS, seed: int = 0, repeat: int = 1,
                  edit: Callable[[State], None] | None = None, deal_days: int = 0) -> Uplift:
    """True uplift of doing ``action`` on ``pairs`` the day after ``day`` (``repeat`` days running).

    Both arms share every random number (common random numbers), so the difference is the effect and
    not noise. Pairs are treated together: choose pairs at different accounts to keep them independent.
    ``edit`` may change the starting state (e.g. a week of visits already made) for what-if questions;
    ``deal_days`` > 0 also follows the open deals that long to measure the effect on P(win).
    """
    pop = sim.pop
    base_state = sim.state_at(day)
    if edit is not None:
        edit(base_state)
    open_at = base_state.deal_open[0].copy()
    base_state = base_state.repeat(replicas)
    base = _run(sim, base_state.copy(), day, horizon, deal_days, seed)
    override = np.full((replicas, pop.n_pairs), -1)
    override[:, pairs] = action
    plan = {day + 1 + i: override for i in range(repeat)}
    treated = _run(sim, base_state, day, horizon, deal_days, seed, plan)
    acct = sim.world.pair_acct[pairs]
    win = (treated.p_win - base.p_win).mean(axis=0)[acct]
    return Uplift((base.none - treated.none).mean(axis=0)[pairs],
                  np.where(open_at[acct] & (deal_days > 0), win, np.nan))


def plan_value(sim: SimResult, day: int, plan: dict[int, tuple[np.ndarray, np.ndarray]], horizon: int = 180,
               replicas: int = DEFAULT_REPLICAS, seed: int = 0) -> np.ndarray:
    """True P(effective in (day, day+horizon]) per pair when reps keep their habits and also do ``plan``
    ({day: (pairs, action codes)}): the ground truth an off-policy estimate is checked against."""
    state = sim.state_at(day).repeat(replicas)
    override = {}
    for d, (pairs, codes) in plan.items():
        o = np.full((replicas, sim.pop.n_pairs), -1)
        o[:, pairs] = codes
        override[d] = o
    return 1 - _run(sim, state, day, horizon, 0, seed, override).none.mean(axis=0)
