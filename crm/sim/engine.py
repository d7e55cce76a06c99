"""One day of the world, vectorised over pairs and over R independent replicas (axis 0).

The latent path (actions, bonds, deals' stages) is simulated; *outcomes* — a contact's inbound request
or referral, a deal's win — are conditionally independent given the path and never feed back into it.
That lets the oracle integrate them analytically along each path (Rao-Blackwellised Monte Carlo). In v2
(``Variant.dignity``) a deal's outcome is drawn on the path when it closes, because the conduct after a
win or a loss moves the tie's dignity: there the oracle counts the drawn outcome (``DayOut.win_chance``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from crm.calendar import GREETING_WINDOW_DAYS, festival_days
from crm.sim.params import ACTIONS, DEALS, DIGNITY, DYN, VARIANTS, A, Variant
from crm.sim.population import Population

EFFECT = np.array(ACTIONS.effects)
KEEPING = np.array([A[k] for k in ("greet", "check_in", "visit", "consult", "mentor", "favor", "executive_event")])
"""v2: the touches that count as keeping in touch after a lost deal (not a like, not a business push)."""
N_STAGES = 4  # prospecting, qualification, proposal, negotiation; leaving the last one closes the deal


def fatigued(effect: np.ndarray, load: np.ndarray) -> np.ndarray:
    """A gain shrinks with the touches of the past days (``load``) and turns negative past the limit."""
    return np.where(effect > 0, effect * np.clip(1.0 - load / DYN.fatigue_zero_at, -1, 1), effect)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@cache
def _luck_quadrature(nodes: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite points and weights for a normal luck term of sd ``DEALS.win_noise_sd``."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    return x * DEALS.win_noise_sd, w / w.sum()


def _average_over_luck(logit: np.ndarray) -> np.ndarray:
    """E[sigmoid(logit + luck)] over the luck term's normal distribution."""
    points, weights = _luck_quadrature()
    return np.tensordot(weights, _sigmoid(logit[None] + points.reshape(-1, *[1] * logit.ndim)), axes=1)


@dataclass
class State:
    """Everything that changes, shape (R, ...)."""

    bond: np.ndarray
    ledger: np.ndarray
    load: np.ndarray
    tenure_start: np.ndarray
    last_touch: np.ndarray
    deal_open: np.ndarray
    deal_stage: np.ndarray
    stage_left: np.ndarray
    deal_created: np.ndarray
    deal_amount: np.ndarray
    deal_competitors: np.ndarray
    deal_noise: np.ndarray
    deal_seq: np.ndarray
    last_exec: np.ndarray
    on_chain: np.ndarray
    # v2's dignity (zeros and unused in other worlds): per pair, and the windows after a won / lost deal
    dignity: np.ndarray
    win_until: np.ndarray
    loss_until: np.ndarray
    kept: np.ndarray

    def copy(self) -> State:
        return State(**{k: v.copy() for k, v in self.__dict__.items()})

    def repeat(self, r: int) -> State:
        """The same state in ``r`` replicas."""
        return State(**{k: np.repeat(v[:1], r, axis=0) for k, v in self.__dict__.items()})


def initial_state(pop: Population) -> State:
    n_p, n_a, n_c = pop.n_pairs, pop.size.accounts, pop.size.contacts
    z = np.zeros
    return State(
        bond=pop.init_bond[None].copy(), ledger=z((1, n_p)), load=z((1, n_p)),
        tenure_start=(-pop.init_tenure_days)[None].copy(), last_touch=np.full((1, n_p), np.nan),
        deal_open=z((1, n_a), dtype=bool), deal_stage=z((1, n_a), dtype=np.int8), stage_left=z((1, n_a)),
        deal_created=z((1, n_a)), deal_amount=z((1, n_a)), deal_competitors=z((1, n_a)), deal_noise=z((1, n_a)),
        deal_seq=np.full((1, n_a), -1, dtype=np.int64), last_exec=np.full((1, n_a), -1e9),
        on_chain=z((1, n_c), dtype=bool), dignity=z((1, n_p)), win_until=np.full((1, n_p), -1e9),
        loss_until=np.full((1, n_p), -1e9), kept=z((1, n_p)),
    )


@dataclass
class Calendar:
    """Per-day occasion flags for the whole run."""

    greeting_day: np.ndarray  # (days,) bool: within the greeting window of a festival
    festival_day: np.ndarray  # (days,) bool: the festival itself (when habitual greeters greet)
    weekday: np.ndarray  # (days,) 0=Mon
    month: np.ndarray
    mday: np.ndarray

    @classmethod
    def build(cls, pop: Population, days: int) -> Calendar:
        dates = pd.date_range(pop.start.tz_localize(None), periods=days, freq="D")
        fest = festival_days(dates[0].year, dates[-1].year + 1)
        greet = np.zeros(days, dtype=bool)
        festival = np.zeros(days, dtype=bool)
        base = pop.start.date()
        for f in fest:
            d = (f - base).days
            if 0 <= d < days:
                festival[d] = True
            lo, hi = max(d - GREETING_WINDOW_DAYS, 0), min(d + 1, days)
            if lo < hi:
                greet[lo:hi] = True
        return cls(greet, festival, np.asarray(dates.weekday), np.asarray(dates.month), np.asarray(dates.day))


@dataclass
class DayOut:
    """What happened on one day (replica 0 only for the event lists)."""

    act_pairs: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    act_kind: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    act_need: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    act_ask: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    act_reply: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    hazard: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # (R, P) return hazard
    created: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    stage_moves: list[tuple[int, int]] = field(default_factory=list)
    closed: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=bool))  # (R, A) bool: closed by
    # reaching the end of negotiation
    lost_early: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=bool))  # (R, A) bool
    p_win: np.ndarray | None = None  # (R, A), set when a deal closes today
    p_win_without_luck: np.ndarray | None = None  # (R, A), the same averaged over the deal's luck (on request)
    chain_before: np.ndarray | None = None  # (R, C) decision chains as they stood at the close
    won: np.ndarray | None = None  # (R, A) outcomes drawn on the path (v2 only), set when a deal closes today

    def win_chance(self) -> np.ndarray:
        """Per account (R, A), for deals closing today: the outcome drawn on the path (1 or 0) in v2, else
        the true P(win) (outcomes off the path, integrated analytically)."""
        if self.won is not None:
            return self.won.astype(float)
        if self.p_win is None:
            raise ValueError("no deal closed today")
        return self.p_win


class World:
    """The dynamics; ``step`` advances a :class:`State` by one day in place."""

    def __init__(self, pop: Population, days: int, variant: Variant = VARIANTS["base"], seed: int = 0) -> None:
        self.pop = pop
        self.variant = variant
        # v2: each rep's hidden habits in the weeks after a close (a daily rate of an extra push / check-in)
        habits = np.random.default_rng([seed, 6])
        self.pair_push = (habits.beta(1, 3, pop.size.reps) * DIGNITY.habit_push_rate)[pop.pair_rep]
        self.pair_keep = (habits.beta(1, 3, pop.size.reps) * DIGNITY.habit_keep_rate)[pop.pair_rep]
        self.effect = np.array(variant.effects)
        self.cal = Calendar.build(pop, days)
        self.pair_acct = pop.pair_acct
        self.pair_sen = pop.con_seniority[pop.pair_con]
        self.pair_exec = pop.rep_is_exec[pop.pair_rep]
        self.pair_owner = pop.acct_owner[self.pair_acct] == pop.pair_rep
        self.sen_return = np.array(DYN.seniority_return)[self.pair_sen]
        self.tier_mult = np.array(DEALS.tier_multiplier)[pop.acct_tier]
        self.con_is_dm = pop.con_role == 0
        self.con_pair_start = pop.con_pair_start

    def contact_max_bond(self, bond: np.ndarray) -> np.ndarray:
        """Strongest tie of each contact with any of our reps, (R, C)."""
        return np.maximum.reduceat(bond, self.con_pair_start, axis=1)

    def account_sum(self, values: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
        """Sum (R, X) values into (R, n) groups given by ``index``."""
        r = values.shape[0]
        flat = (np.arange(r)[:, None] * n + index[None, :]).ravel()
        return np.bincount(flat, weights=values.ravel(), minlength=r * n).reshape(r, n)

    def win_probability(self, s: State, day: int, luck: bool = True) -> np.ndarray:
        """True P(win) of each account's open deal if it closed today, (R, A).

        ``luck=False`` averages over the deal's luck term instead of using the one it drew: the truth
        given everything in the world but that term, which touches nothing but the outcome."""
        logit = self._win_logit(s, day)
        return _sigmoid(logit + s.deal_noise) if luck else _average_over_luck(logit)

    def _win_logit(self, s: State, day: int) -> np.ndarray:
        """The log-odds of a win today without the deal's luck term, (R, A)."""
        pop = self.pop
        n_a = pop.size.accounts
        cmax = self.contact_max_bond(s.bond)
        chain = s.on_chain.astype(float)
        n_chain = self.account_sum(chain, pop.con_acct, n_a)
        strong = self.account_sum(chain * (cmax >= DEALS.strong_tie), pop.con_acct, n_a)
        coverage = np.where(n_chain > 0, strong / np.maximum(n_chain, 1), 0.0)
        dm = chain * self.con_is_dm[None, :] * cmax
        dm_bond = np.zeros_like(coverage)
        np.maximum.at(dm_bond, (np.repeat(np.arange(s.bond.shape[0]), len(pop.con_acct)),
                                np.tile(pop.con_acct, s.bond.shape[0])), dm.ravel())
        sponsor = (day - s.last_exec) <= 90
        age = np.maximum(day - s.deal_created, 1)
        velocity = np.clip(N_STAGES * DEALS.stage_days / age - 1, -1, 1)
        logit = (DEALS.win_intercept + DEALS.win_coverage * coverage + DEALS.win_dm_bond * np.minimum(dm_bond, 2.5)
                 + DEALS.win_sponsor * sponsor + DEALS.win_competitor * s.deal_competitors
                 + DEALS.win_amount * np.log(np.maximum(s.deal_amount, 1) / 30_000)
                 + DEALS.win_velocity * velocity + pop.rep_skill_hidden[pop.acct_owner][None, :])
        return logit

    def birthday(self, day: int) -> np.ndarray:
        """Pairs whose contact has a birthday on ``day``."""
        pop = self.pop
        return ((pop.con_bmonth == self.cal.month[day]) & (pop.con_bday == self.cal.mday[day]))[pop.pair_con]

    def occasion(self, day: int) -> np.ndarray:
        """(1, P): a greeting on ``day`` counts as honouring an occasion (festival window or birthday)."""
        return self.cal.greeting_day[day] | self.birthday(day)[None, :]

    def touch_effect(self, kind: np.ndarray, bond: np.ndarray, occasion: np.ndarray, need: np.ndarray) -> np.ndarray:
        """What a touch of ``kind`` (-1: none) does to each pair's bond before the contact's reply, an ask
        and fatigue: the world's one definition of the actions' effects (the oracle reads it too)."""
        pop = self.pop
        k = np.maximum(kind, 0)
        saturation = np.exp(-bond / DYN.saturation)
        eff = self.effect[k] * pop.rep_value[pop.pair_rep][None, :] * saturation
        eff = np.where(kind == A["greet"], eff * np.where(occasion, DYN.occasion_multiplier, DYN.off_occasion_greeting),
                       eff)
        eff = np.where(need & np.isin(kind, (A["business"], A["visit"], A["check_in"])), eff * DYN.need_discount, eff)
        eff = np.where((kind == A["consult"]) & (bond < DYN.consult_gate), eff * 0.1, eff)
        eff = np.where((kind == A["mentor"]) & (bond < DYN.mentor_gate), DYN.mentor_stranger_effect * saturation, eff)
        return np.where(kind == A["executive_event"],
                        eff * (1 + DYN.executive_seniority_gain * self.pair_sen[None, :] / 4), eff)

    def reply_probability(self, kind: np.ndarray, bond: np.ndarray) -> np.ndarray:
        """Chance that the contact answers a touch (a reply multiplies its effect by 1 + reciprocity bonus)."""
        pop = self.pop
        p = _sigmoid(1.6 * (bond - 0.4) + 0.5 * pop.con_openness_hidden[pop.pair_con][None, :])
        return p * np.where(kind == A["like"], 0.3, np.where(kind == A["greet"], 0.8, 1.0))

    def step(self, s: State, day: int, rng: np.random.Generator, override: np.ndarray | None = None,
             record: bool = False, without_luck: bool = False) -> DayOut:
        """Advance one day. ``override`` (R, P) int: an action code per pair replacing the habit (-1 = none);
        ``without_luck`` also sets ``DayOut.p_win_without_luck`` (no random draws: the path is the same)."""
        pop = self.pop
        r, n_p = s.bond.shape
        n_a = pop.size.accounts
        out = DayOut()
        u = rng.random((6, r, n_p))
        weekday = self.cal.weekday[day] < 5
        birthday = self.birthday(day)
        occasion = self.occasion(day)
        habit_occasion = self.cal.festival_day[day] | birthday[None, :]
        need = s.deal_open[:, self.pair_acct]
        chain = s.on_chain[:, pop.pair_con]
        b = s.bond
        # --- reps' habits: mostly need-driven, uneven coverage, few greetings
        act_rate = pop.rep_activity[pop.pair_rep][None, :] * (1.0 if weekday else 0.12)
        maint = 0.024 * act_rate * pop.pair_attention[None, :] * (0.3 + np.minimum(b, 2.0))
        needy = np.where(need, 0.16 * act_rate * np.where(chain, 1.6, 0.5) * self.pair_owner[None, :], 0.0)
        greet = habit_occasion & (u[1] < pop.rep_greets[pop.pair_rep][None, :] * np.where(b > 0.2, 1.0, 0.15))
        acts = (u[0] < maint + needy) | greet
        is_need = acts & ~greet & (u[2] * (maint + needy) < needy)
        maint_p = np.array([0.30, 0.0, 0.36, 0.10, 0.08, 0.08, 0.02, 0.04, 0.02])
        maint_c = np.cumsum(maint_p / maint_p.sum())
        need_c = np.cumsum(np.array([0, 0, 0.05, 0.62, 0.2, 0.08, 0, 0, 0.05]))
        kind = np.where(is_need, np.searchsorted(need_c, u[3] * need_c[-1]),
                        np.searchsorted(maint_c, u[3]))
        kind = np.minimum(kind, len(EFFECT) - 1)
        kind = np.where(greet, A["greet"], kind)
        kind = np.where((kind == A["executive_event"]) & ~self.pair_exec[None, :] & (u[4] < 0.5), A["visit"], kind)
        ask = is_need & (u[4] < 0.08)
        if self.variant.dignity:  # v2: some reps push after a win, some keep in touch after a loss
            ud = rng.random((2, r, n_p))
            push = (day <= s.win_until) & (ud[0] < self.pair_push[None, :])
            keep = (day <= s.loss_until) & (ud[1] < self.pair_keep[None, :]) & ~push
            extra = ~acts & (push | keep)
            kind = np.where(extra, np.where(push, A["business"], A["check_in"]), kind)
            acts = acts | extra
        if override is not None:
            forced = override >= 0
            acts = np.where(forced, True, acts)
            kind = np.where(forced, override, kind)
            is_need = np.where(forced, need, is_need)
            ask = np.where(forced, False, ask)
        kind = np.where(acts, kind, -1)
        # --- effects of the touch on the latent bond
        eff = self.touch_effect(kind, b, occasion, is_need)
        exec_touch = (kind == A["executive_event"])
        reply = acts & (u[5] < self.reply_probability(kind, b))
        eff = eff * np.where(reply, 1 + DYN.reciprocity_bonus, 1.0)
        eff = np.where(ask, eff * 0.3, eff)
        eff = fatigued(eff, s.load)
        b = np.maximum(b + np.where(acts, eff, 0.0), 0.0)
        if self.variant.dignity:
            self._dignity(s, day, acts, kind, ask, is_need)
        bonded = acts & (eff > 0)
        s.ledger += np.where(acts & (kind == A["favor"]), self.variant.favor_ledger, 0.0) - np.where(ask, 0.7, 0.0)
        s.ledger *= np.exp(-1.0 / DYN.ledger_decay_days)
        s.load = s.load * 0.5 ** (1 / DYN.fatigue_half_life_days) + acts
        s.tenure_start = np.where(bonded & np.isnan(s.tenure_start), day, s.tenure_start)
        s.last_touch = np.where(acts, day, s.last_touch)
        tenure_years = np.where(np.isnan(s.tenure_start), 0.0, (day - s.tenure_start) / 365.0)
        trust = np.minimum(tenure_years / DYN.trust_years_to_full, 1.0)
        b *= np.exp(-1.0 / (DYN.decay_days * (1 + DYN.trust_decay_bonus * trust)))
        s.bond = b
        if exec_touch.any():
            hit = self.account_sum(exec_touch.astype(float), self.pair_acct, n_a) > 0
            s.last_exec = np.where(hit, day, s.last_exec)
        # --- returns: daily hazard of an inbound business request or referral
        b_eff = b + DYN.ledger_weight * np.clip(s.ledger, -2, DYN.ledger_cap) + 0.3 * trust
        if self.variant.dignity:
            b_eff = b_eff + DIGNITY.weight * np.clip(s.dignity, -DIGNITY.cap, DIGNITY.cap)
        out.hazard = DYN.return_base * self.sen_return[None, :] * _sigmoid(
            DYN.return_slope * (b_eff - DYN.return_center)
            + DYN.openness_weight * pop.con_openness_hidden[pop.pair_con][None, :])
        # --- deals
        self._deals(s, day, rng, out, without_luck)
        if record:
            idx = np.flatnonzero(acts[0])
            out.act_pairs, out.act_kind = idx, kind[0, idx]
            out.act_need, out.act_ask, out.act_reply = is_need[0, idx], ask[0, idx], reply[0, idx]
        return out

    @staticmethod
    def _dignity(s: State, day: int, acts: np.ndarray, kind: np.ndarray, ask: np.ndarray, need: np.ndarray) -> None:
        """v2: a push or an ask in the weeks after a win costs the tie dignity; a maintenance touch in the
        weeks after a loss (the first ``keep_cap`` of the window) earns it; dignity fades slowly."""
        pushed = acts & (day <= s.win_until) & ((kind == A["business"]) | ask)
        kept = acts & (day <= s.loss_until) & np.isin(kind, KEEPING) & ~need & (s.kept < DIGNITY.keep_cap)
        s.kept += kept
        s.dignity += DIGNITY.keep_gain * kept - DIGNITY.push_cost * pushed
        s.dignity *= np.exp(-1.0 / DIGNITY.decay_days)

    def _deals(self, s: State, day: int, rng: np.random.Generator, out: DayOut, without_luck: bool) -> None:
        pop = self.pop
        r, n_a = s.deal_open.shape
        ua = rng.random((5, r, n_a))
        u_outcome = rng.random((r, n_a)) if self.variant.dignity else None
        # progress open deals; stronger decision-maker ties move them faster
        cmax = self.contact_max_bond(s.bond)
        dm_strength = self.account_sum(s.on_chain * self.con_is_dm[None, :] * np.minimum(cmax, 2.5), pop.con_acct, n_a)
        s.stage_left -= np.where(s.deal_open, 1 + DEALS.stage_speedup * np.minimum(dm_strength, 2.5), 0.0)
        moving = s.deal_open & (s.stage_left <= 0)
        lost = moving & (ua[0] < DEALS.early_loss)
        back = moving & ~lost & (ua[1] < DEALS.regression) & (s.deal_stage > 0)
        fwd = moving & ~lost & ~back
        s.deal_stage = s.deal_stage + fwd.astype(np.int8) - back.astype(np.int8)
        closing = fwd & (s.deal_stage >= N_STAGES)
        out.closed, out.lost_early = closing, lost
        if closing.any():
            logit = self._win_logit(s, day)
            out.p_win = _sigmoid(logit + s.deal_noise)
            if without_luck:
                out.p_win_without_luck = _average_over_luck(logit)
            out.chain_before = s.on_chain.copy()
            if u_outcome is not None:
                out.won = closing & (u_outcome < out.p_win)
        out.stage_moves = [(int(a), int(s.deal_stage[0, a])) for a in np.flatnonzero((fwd | back)[0] & ~closing[0])]
        ended = closing | lost
        if self.variant.dignity and ended.any():  # v2: the weeks after each close, for every tie at the account
            won = out.won if out.won is not None else np.zeros_like(ended)
            at_won, at_lost = won[:, self.pair_acct], (ended & ~won)[:, self.pair_acct]
            s.win_until = np.where(at_won, day + DIGNITY.win_window_days, s.win_until)
            s.loss_until = np.where(at_lost, day + DIGNITY.loss_window_days, s.loss_until)
            s.kept = np.where(at_lost, 0.0, s.kept)
        s.stage_left = np.where(moving, rng.exponential(DEALS.stage_days, (r, n_a)), s.stage_left)
        s.deal_open &= ~ended
        if ended.any():
            s.on_chain &= ~ended[:, pop.con_acct]
        # new deals, more often where effective relationships exist
        strength = np.log1p(self.account_sum(np.minimum(s.bond, 3.0), self.pair_acct, n_a))
        rate = DEALS.creation_base * self.tier_mult[None, :] * (1 + DEALS.creation_strength * strength)
        new = ~s.deal_open & ~ended & (ua[2] < rate)
        # every draw is made every day, whatever happens, so two policies share the same random future
        fresh_left = rng.exponential(DEALS.stage_days, (r, n_a))
        amount = pop.acct_potential[None, :] * np.exp(rng.normal(-1.3, 0.5, (r, n_a)))
        competitors = rng.poisson(1.2, (r, n_a))
        noise = rng.normal(0, DEALS.win_noise_sd, (r, n_a))
        uc = rng.random((r, len(pop.con_acct)))
        s.deal_open |= new
        s.deal_stage = np.where(new, 0, s.deal_stage).astype(np.int8)
        s.stage_left = np.where(new, fresh_left, s.stage_left)
        s.deal_created = np.where(new, day, s.deal_created)
        s.deal_amount = np.where(new, np.round(amount, -2), s.deal_amount)
        s.deal_competitors = np.where(new, competitors, s.deal_competitors)
        s.deal_noise = np.where(new, noise, s.deal_noise)
        s.deal_seq = np.where(new, s.deal_seq + 1, s.deal_seq)
        join = np.where(self.con_is_dm, 0.9, np.where(pop.con_seniority >= 2, 0.6, 0.3))
        s.on_chain |= new[:, pop.con_acct] & (uc < join[None, :])
        out.created = np.flatnonzero(new[0])
