"""Frozen parameters of the simulated world.

They were set from the base rates below and the essay's logic before any model was trained against
the world. CHANGELOG (a change needs a reason here, never "the model scored better"):

- v1 (2026-11-27): first calibration to the documented base rates.
- variants (2026-11-30): named worlds whose action effects differ from v1 (``VARIANTS``), so that a model
  or prior tuned to v1's theory can be checked on a world that contradicts it. v1 is the ``base`` variant
  and is unchanged.
- v2 (2026-12-01, the ``v2`` variant): a latent dignity (体面) per tie (``Dignity``). The essay makes a
  person worth knowing (可交) by restraint when things go well (得志时有所不为) and by keeping one's duties
  when they go badly (落魄时有所为): in v2 a deal's outcome is drawn on the path when it closes, a rep's
  business pushes and asks to the account's contacts in the weeks after a win lower the tie's dignity, and
  maintenance touches in the weeks after a loss raise it; dignity adds to what brings business back (the
  return hazard), like the favor ledger. Reps differ in how they behave in those weeks (two hidden habits),
  so the logs show both kinds of conduct. v1 stays the default until every figure is re-measured on v2.

Documented base rates (tested in ``tests/test_sim.py``):
- 10-25 % of active pairs become effective within 180 days;
- deal win rate 20-40 %;
- median deal cycle 60-120 days.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    """How big a world to build."""

    reps: int
    accounts: int
    contacts: int
    days: int
    executives: int


SIZES: dict[str, Size] = {
    "small": Size(reps=8, accounts=120, contacts=800, days=540, executives=1),
    "demo": Size(reps=40, accounts=1500, contacts=10_000, days=1095, executives=4),
    "large": Size(reps=400, accounts=15_000, contacts=100_000, days=1095, executives=20),
}

START = "2023-01-01"


@dataclass(frozen=True)
class Actions:
    """The action kinds a rep can take (index = code). Depth, channel and base effect of each."""

    names: tuple[str, ...] = ("like", "greet", "check_in", "business", "visit", "consult", "mentor", "favor",
                              "executive_event")
    channels: tuple[str, ...] = ("social", "message", "call", "email", "visit", "meeting", "meeting", "call", "event")
    depths: tuple[int, ...] = (0, 1, 2, 2, 2, 3, 4, 3, 2)
    effects: tuple[float, ...] = (0.015, 0.03, 0.06, 0.05, 0.14, 0.22, 0.35, 0.20, 0.22)
    durations: tuple[float, ...] = (0, 2, 15, 10, 90, 60, 60, 45, 120)


ACTIONS = Actions()
A = {name: code for code, name in enumerate(ACTIONS.names)}


@dataclass(frozen=True)
class Variant:
    """A world's truth about the actions: each kind's base effect on the bond and what a favor adds to
    the contact's ledger of goodwill owed (the return hazard reads the ledger)."""

    name: str
    effects: tuple[float, ...] = ACTIONS.effects
    favor_ledger: float = 1.0
    why: str = "v1: the essay's theory as first calibrated"
    dignity: bool = False
    """v2: deal outcomes are drawn on the path and the conduct after them moves a latent dignity (``Dignity``)."""


VARIANTS: dict[str, Variant] = {
    "base": Variant("base"),
    # festival and birthday greetings do nothing, favors backfire (an unasked favor reads as a bribe and
    # leaves the contact uneasy, not indebted), a like costs a little standing; the rest as in v1
    "contrarian": Variant(
        "contrarian",
        effects=tuple({"greet": 0.0, "favor": -0.12, "like": -0.01}.get(n, e)
                      for n, e in zip(ACTIONS.names, ACTIONS.effects, strict=True)),
        favor_ledger=-0.5,
        why="contradicts the shipped effect prior for greet, favor and like: greetings do nothing, favors "
            "and likes backfire"),
    "v2": Variant("v2", dignity=True, why="v2: the seventh element, dignity (体面), as the essay defines it"),
}


@dataclass(frozen=True)
class Dynamics:
    """How the latent bond moves and what it brings back. Units are days unless noted."""

    # silence decays the bond; trust (tenure) slows the decay
    decay_days: float = 150.0
    trust_years_to_full: float = 5.0
    trust_decay_bonus: float = 1.5
    # frequency: each touch in the past week (EWMA) reduces the next one's effect; past 5 it turns negative
    fatigue_half_life_days: float = 3.0
    fatigue_zero_at: float = 5.0
    # saturation of the bond
    saturation: float = 3.0
    # greetings count on occasions, little otherwise
    occasion_multiplier: float = 4.0
    off_occasion_greeting: float = 0.3
    # need-driven touches (a deal is open at the account) are worth less than maintenance
    need_discount: float = 0.5
    # reciprocated touches count more
    reciprocity_bonus: float = 0.6
    # depth gates: consult works from a moderate bond, personal advice only from a close one
    consult_gate: float = 0.6
    mentor_gate: float = 1.2
    mentor_stranger_effect: float = -0.3
    # presence: executives and events help with senior contacts
    executive_seniority_gain: float = 0.5
    # favor ledger decays slowly (goodwill saved)
    ledger_decay_days: float = 720.0
    ledger_weight: float = 0.25
    ledger_cap: float = 4.0
    # returns: daily hazard of an inbound request or referral
    return_base: float = 0.006
    return_slope: float = 2.4
    return_center: float = 1.9
    openness_weight: float = 0.8
    seniority_return: tuple[float, ...] = (0.7, 0.9, 1.1, 1.3, 1.5)
    referral_share: float = 0.3


@dataclass(frozen=True)
class Deals:
    """Opportunity creation, stage movement and the true P(win)."""

    creation_base: float = 0.0011
    creation_strength: float = 0.9
    tier_multiplier: tuple[float, ...] = (2.0, 1.4, 1.0, 0.0)  # strategic, key, standard, internal
    stage_days: float = 26.0
    stage_speedup: float = 0.35
    early_loss: float = 0.07
    regression: float = 0.04
    win_intercept: float = -1.85
    win_coverage: float = 1.4
    win_dm_bond: float = 0.8
    win_sponsor: float = 0.5
    win_competitor: float = -0.3
    win_amount: float = -0.25
    win_velocity: float = 0.4
    win_noise_sd: float = 0.6
    strong_tie: float = 1.0


@dataclass(frozen=True)
class Dignity:
    """v2's latent dignity (体面) of each tie: how the contact judges the rep's conduct after deals close."""

    win_window_days: float = 30.0  # restraint is judged in the weeks after a won deal
    loss_window_days: float = 60.0  # keeping in touch is judged in the weeks after a lost deal
    push_cost: float = 0.35  # a business push or an ask in the win window
    keep_gain: float = 0.25  # a maintenance touch in the loss window (at most ``keep_cap`` count per window)
    keep_cap: int = 2
    decay_days: float = 365.0
    weight: float = 0.5  # in the return hazard's bond, as the favor ledger's ``ledger_weight``
    cap: float = 2.0
    # the reps' hidden habits after closes: extra business pushes in the win window, extra check-ins in
    # the loss window (daily rates, drawn per rep from beta(1, 3) x the rate)
    habit_push_rate: float = 0.08
    habit_keep_rate: float = 0.05


DYN = Dynamics()
DEALS = Deals()
DIGNITY = Dignity()
