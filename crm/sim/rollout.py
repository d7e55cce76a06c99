"""Roll the world forward under a policy and count what it brings, with common random numbers.

A policy is a function ``(view) -> (pairs, actions)``: on each day, which pairs each rep acts on and
how (at most ``k`` per rep). Every policy faces the same random future: the path and outcome streams
depend only on the seed and the day, never on what the policy did.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm.sim.engine import State, _sigmoid, fatigued
from crm.sim.params import DYN, A
from crm.sim.simulate import Recorder, SimResult

CATALOG = (A["greet"], A["check_in"], A["visit"], A["consult"], A["mentor"], A["favor"], A["executive_event"])


@dataclass(frozen=True)
class View:
    """What a policy sees on a day: the world, the state (replica 0) and the action budget.

    Policies that stand for our product must only read ``tables()`` (the CRM log up to the start of
    ``day``, kept by the rollout); the latent ``state`` is there for the oracle and the baselines.
    """

    sim: SimResult
    state: State
    day: int
    k: int
    rng: np.random.Generator
    recorder: Recorder | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The contract tables as a CRM would hold them at the start of ``day``."""
        if self.recorder is None:
            raise ValueError("this rollout keeps no log: run it with record=True")
        return self.recorder.tables(self.state, self.day)


Policy = Callable[[View], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class RolloutResult:
    """Drawn outcomes, and their expectations given the path (Rao-Blackwellised: the same mean, far less
    noise — one big deal won or lost no longer swings the comparison)."""

    won_revenue: float
    new_effective: int
    actions: int
    violations: int
    expected_revenue: float = 0.0
    expected_effective: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"won_revenue": self.won_revenue, "new_effective": self.new_effective, "actions": self.actions,
                "violations": self.violations, "expected_revenue": self.expected_revenue,
                "expected_effective": self.expected_effective}


def top_k_per_rep(sim: SimResult, score: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best-scoring pairs of each rep (scores ≤ 0 are never chosen)."""
    reps = sim.pop.pair_rep
    order = np.lexsort((-score, reps))
    rank = np.arange(len(order)) - np.searchsorted(reps[order], reps[order])
    chosen = order[(rank < k) & (score[order] > 0)]
    return np.sort(chosen)


def habits(view: View) -> tuple[np.ndarray, np.ndarray]:
    """The reps' own habits: no recommendations at all."""
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)


def random_eligible(view: View) -> tuple[np.ndarray, np.ndarray]:
    """Random catalog actions on random pairs not touched in the past week."""
    eligible = ~(view.day - np.nan_to_num(view.state.last_touch[0], nan=-1e9) < 7)
    score = np.where(eligible, view.rng.random(len(eligible)) + 1e-9, 0.0)
    pairs = top_k_per_rep(view.sim, score, view.k)
    return pairs, view.rng.choice(CATALOG, len(pairs))


def oracle_greedy(view: View) -> tuple[np.ndarray, np.ndarray]:
    """Best action by the true model: the expected bond gain of each action — the world's own effect
    function, its reply chance and the pair's fatigue — × how much the bond is worth to the pair and its deal."""
    sim, s = view.sim, view.state
    world = sim.world
    b = s.bond[:1]
    day = min(view.day, len(world.cal.greeting_day) - 1)
    occasion, need = world.occasion(day), s.deal_open[:1, world.pair_acct]
    per_action = []
    for a in CATALOG:
        kind = np.full(b.shape, a)
        expected_reply = 1 + DYN.reciprocity_bonus * world.reply_probability(kind, b)
        per_action.append(fatigued(world.touch_effect(kind, b, occasion, need) * expected_reply, s.load[:1])[0])
    gains = np.stack(per_action)
    best = gains.argmax(axis=0)
    b = b[0]
    x = DYN.return_slope * (b - DYN.return_center)
    slope = DYN.return_base * world.sen_return * DYN.return_slope * _sigmoid(x) * (1 - _sigmoid(x))
    deal = s.deal_open[0, world.pair_acct] & s.on_chain[0, sim.pop.pair_con]
    worth = slope * 180 + np.where(deal, 0.3 * s.deal_amount[0, world.pair_acct] / 1e5, 0.0)
    score = gains.max(axis=0) * worth
    pairs = top_k_per_rep(sim, score, view.k)
    return pairs, np.array(CATALOG)[best[pairs]]


BUILTIN: dict[str, Policy] = {"habits": habits, "random": random_eligible, "oracle": oracle_greedy}


def rollout(sim: SimResult, policy: Policy, start_day: int | None = None, weeks: int = 26, k: int = 3,
            compliance: float = 1.0, seed: int = 0, record: bool = False,
            done: Callable[[int, np.ndarray, np.ndarray], None] | None = None) -> RolloutResult:
    """Advance the world ``weeks`` from ``start_day`` (default: the end of the history) with reps also doing
    the policy's actions. ``record`` keeps logging the CRM tables (policies may read them; the run must
    then start at the end of the history); ``done(day, pairs, actions)`` hears what was actually done."""
    world, pop = sim.world, sim.pop
    last = sim.size.days - 1
    start_day = last if start_day is None else start_day
    recorder = None
    if record:
        if start_day != last or sim.recorder is None:
            raise ValueError(f"a logged rollout starts where the history ends (day {last}), not {start_day}")
        recorder = copy.deepcopy(sim.recorder)
    state = sim.state_at(start_day)
    path = np.random.default_rng([sim.seed, 20, seed])
    outcome = np.random.default_rng([sim.seed, 21, seed])
    choice = np.random.default_rng([sim.seed, 22, seed])
    comply_rng = np.random.default_rng([sim.seed, 23, seed])
    effective = np.zeros(pop.n_pairs, dtype=bool)
    revenue, actions, violations, expected_revenue = 0.0, 0, 0, 0.0
    log_none = np.zeros(pop.n_pairs)
    for day in range(start_day + 1, start_day + 1 + weeks * 7):
        pairs, acts = policy(View(sim, state, day, k, choice, recorder))
        # compliance is drawn per (rep, slot) every day, whatever the policy chose: two policies that
        # fill the same slots get the same compliance, and one that fills fewer slots does fewer actions
        slot_u = comply_rng.random((pop.size.reps, k))
        reps = pop.pair_rep[pairs]
        order = np.argsort(reps, kind="stable")
        slot = np.empty(len(pairs), dtype=np.int64)
        slot[order] = np.arange(len(pairs)) - np.searchsorted(reps[order], reps[order])
        comply = slot_u[reps, np.minimum(slot, k - 1)] < compliance
        pairs, acts = pairs[comply], acts[comply]
        if done is not None:
            done(day, pairs, acts)
        violations += int((np.bincount(pop.pair_rep[pairs], minlength=pop.size.reps) > k).sum())
        override = None
        if len(pairs):
            override = np.full((1, pop.n_pairs), -1)
            override[0, pairs] = acts
        actions += len(pairs)
        amount = state.deal_amount[0].copy()
        out = world.step(state, day, path, override=override, record=record)
        u_win, u_ret = outcome.random(pop.size.accounts), outcome.random(pop.n_pairs)
        if recorder is not None:
            recorder.day(day, state, out, u_win, u_ret)
        effective |= u_ret < out.hazard[0]
        log_none += np.log1p(-out.hazard[0])
        if out.p_win is not None and out.chain_before is not None:  # deals closed today
            won = out.closed[0] & (u_win < out.win_chance()[0])
            revenue += float(amount[won].sum())
            expected_revenue += float((amount * np.where(out.closed[0], out.p_win[0], 0.0)).sum())
            chain = out.chain_before[0, pop.pair_con] & world.pair_owner
            effective |= chain & won[world.pair_acct]
            p_close = np.where(out.closed[0], out.win_chance()[0], 0.0)[world.pair_acct]
            log_none += np.where(chain, np.log1p(-np.minimum(p_close, 1 - 1e-12)), 0.0)
    return RolloutResult(revenue, int(effective.sum()), actions, violations, expected_revenue,
                         float((1 - np.exp(log_none)).sum()))
