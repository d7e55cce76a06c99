"""The next-best-action engine: candidates -> effects -> value -> arbitration under the contact policy.

expected gain = uplift on P(effective) x relationship value + uplift on P(win) x deal amount;
priority = gain x context weight / (minutes + overhead). At most one action per contact per day, at
most ``k`` per rep, within the rep's daily minutes; ties break on (rep, contact, action) order, so the
same inputs always give the same list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from serving.catalog import Catalog, Columns
from serving.effect_prior import PriorEffects, shipped_prior
from training.model import GuanxiClassifier
from training.uplift import EffectModel

HISTORY_COLUMNS = ["rep_id", "contact_id", "action", "day", "status"]
DONE = ("done", "accepted")
LOGGED = "logged"  # a touch found in the interaction log: starts cooldowns, not counted in the weekly cap
SNOOZE_DAYS = 7


@dataclass
class Models:
    """What the engine scores with; ``relationship`` gives health and reasons, ``effect`` the uplifts."""

    effect: EffectModel | PriorEffects
    relationship: GuanxiClassifier | None = None
    versions: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    """What each classifier learned (``guanxi-relationship`` may be ``tie_persistence``)."""
    deal: GuanxiClassifier | None = None
    """P(win) of a deal without contacts (``deal_only`` rows): the base its actions' effects move."""

    @property
    def effect_source(self) -> str:
        """``learned`` (this organisation's effect model) or ``prior`` (the shipped prior)."""
        return "prior" if isinstance(self.effect, PriorEffects) else "learned"

    @property
    def tie_label(self) -> str:
        """What a tie's P(…) before and after an action is the probability of: the effect model's
        ``effective_relationship``, or, where the shipped prior moves the relationship model's score, that
        model's label (``tie_persistence`` on a log without revenue-linked outcomes, or the user's own)."""
        if isinstance(self.effect, PriorEffects):
            return self.labels.get("guanxi-relationship", "effective_relationship")
        return "effective_relationship"

    def source(self, kind: str) -> str:
        """Where an action kind's effect comes from: ``prior`` when the shipped prior carries half its weight
        or more (no effect model, or one that saw the kind too rarely), else ``learned``."""
        return "prior" if isinstance(self.effect, PriorEffects) else self.effect.source(kind)


def score(cands: pd.DataFrame, models: Models, catalog: Catalog) -> pd.DataFrame:
    """One row per allowed (pair, action): uplifts, gain and priority, best first."""
    if cands.empty:
        return pd.DataFrame(columns=["rep_id", "contact_id", "account_id", "action", "priority"])
    kinds = sorted({a.kind for a in catalog.actions})
    columns = Columns(cands)  # each column the rules read, converted once
    deals = columns.deal_only
    eff, win = _effects(cands, deals, models, kinds)
    amount = (cands["deal_open"] * cands["deal_amount"]).to_numpy(dtype=float)
    potential = account_values(cands["account_potential"].to_numpy(dtype=float), amount, catalog)
    unit = gain_unit(potential, amount)
    # without any money in the data, an action is worth its gain in P(effective) (the unit says so)
    rel_value = catalog.policy.relationship_value_share * potential if unit == MONEY else np.ones(len(cands))
    # columns as arrays, one DataFrame at the end: a frame per action was half of this function's time
    parts: dict[str, list[np.ndarray]] = {c: [] for c in SCORED}
    base_eff, base_win = eff["_base"].to_numpy(), np.where(amount > 0, win["_base"].to_numpy(), np.nan)
    ids = {c: cands[c].to_numpy() for c in ("rep_id", "contact_id", "account_id")}
    # the contact policy's one-action-a-day-per-target: the contact, or the deal of a deal-only row
    ids["target"] = ids["contact_id"]
    if deals.any():
        ids["target"] = np.where(deals, cands["opportunity_id"].to_numpy(dtype=object), ids["contact_id"])
    for action in catalog.actions:
        ok = action.allowed(columns)
        if not ok.any():
            continue
        rows = np.flatnonzero(ok)
        d_eff = eff[action.kind].to_numpy()
        d_win = np.where(amount > 0, win[action.kind].to_numpy(), 0.0)
        gain = d_eff * rel_value + d_win * amount
        weight = action.weight(columns)
        cost = action.minutes + catalog.policy.overhead_minutes
        n = len(rows)
        for c in ("rep_id", "contact_id", "account_id", "target"):
            parts[c].append(ids[c][rows])
        source = models.source(action.kind)
        parts["effect_source"].append(np.where(deals[rows], "prior", source) if deals.any()
                                      else np.full(n, source))
        for c, value in (("action", action.name), ("kind", action.kind), ("element", action.element),
                         ("minutes", float(action.minutes)), ("mandatory", action.mandatory), ("gain_unit", unit)):
            parts[c].append(np.full(n, value))
        parts["p_effective"].append(base_eff[rows])
        parts["p_effective_if_done"].append((base_eff + d_eff)[rows])
        parts["p_win"].append(base_win[rows])
        parts["p_win_if_done"].append(np.where(amount > 0, win["_base"].to_numpy() + d_win, np.nan)[rows])
        parts["deal_amount"].append(amount[rows])
        parts["gain"].append(gain[rows])
        parts["priority"].append((gain * weight / cost)[rows])
        parts["row"].append(rows)
    if not parts["row"]:
        return pd.DataFrame(columns=list(SCORED))
    return _ordered(pd.DataFrame({c: np.concatenate(v) for c, v in parts.items()}))


SCORED = ("rep_id", "contact_id", "account_id", "action", "kind", "element", "minutes", "mandatory", "p_effective",
          "p_effective_if_done", "p_win", "p_win_if_done", "deal_amount", "gain", "gain_unit", "priority", "row",
          "target", "effect_source")


def _effects(cands: pd.DataFrame, on_deals: np.ndarray, models: Models, kinds: list[str]
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Uplifts on P(effective) and P(win) per row and kind (``_base``: the probability without an action).
    A deal-only row has no tie to move (0 on P(effective), no base) and its P(win) effects come from the
    shipped prior on the deal model's score: an effect model learns from ties, not from bare deals."""
    if not on_deals.any():
        effects = models.effect.effects(cands, kinds)
        return effects["effective"], effects["win"]
    pairs = ~on_deals
    eff = pd.DataFrame(0.0, index=cands.index, columns=kinds).assign(_base=np.nan)
    win = eff.copy()
    if pairs.any():
        effects = models.effect.effects(cands[pairs], kinds)
        eff.loc[pairs] = effects["effective"][eff.columns].to_numpy()
        win.loc[pairs] = effects["win"][win.columns].to_numpy()
    deals = cands[on_deals]
    prior = models.effect if isinstance(models.effect, PriorEffects) else PriorEffects(shipped_prior())
    p_win = models.deal.predict_proba(deals)[:, 1] if models.deal is not None else None
    win.loc[on_deals] = prior.win_effects(len(deals), kinds, p_win)[win.columns].to_numpy()
    return eff, win


MONEY, PROBABILITY = "money", "p_effective"
"""Units of an action's expected gain: the account's money, or points of P(effective) when no account
potential, default account value or deal amount is known."""


def account_values(potential: np.ndarray, amount: np.ndarray, catalog: Catalog) -> np.ndarray:
    """Each account's yearly value: its potential; where unknown, the typical known potential; with none
    known, the catalog's ``default_account_value``, else one typical open deal's amount (an account worth
    about a deal a year); with no money anywhere, 0 (and actions rank by their gain in P(effective))."""
    known = potential[np.isfinite(potential)]
    deals = amount[np.isfinite(amount) & (amount > 0)]
    if len(known):
        typical = float(np.median(known))
    elif catalog.policy.default_account_value > 0:
        typical = catalog.policy.default_account_value
    else:
        typical = float(np.median(deals)) if len(deals) else 0.0
    return np.where(np.isfinite(potential), potential, typical)


def gain_unit(potential: np.ndarray, amount: np.ndarray) -> str:
    known = np.isfinite(potential) & (potential > 0)
    return MONEY if known.any() or (np.nan_to_num(amount) > 0).any() else PROBABILITY


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """Mandatory first, then by priority (missing last), then by (rep, contact, action): a stable order
    (``np.lexsort`` on codes: ``sort_values`` on five keys was 3 ms)."""
    if frame.empty:
        return frame
    priority = frame["priority"].to_numpy(dtype=float)
    keys = [pd.factorize(frame[c], sort=True)[0] for c in ("action", "contact_id", "rep_id")]
    order = np.lexsort([*keys, np.where(np.isnan(priority), np.inf, -priority),
                        ~frame["mandatory"].to_numpy(dtype=bool)])
    return frame.iloc[order].reset_index(drop=True)


def history_days(history: pd.DataFrame) -> pd.Series:
    """The history's days as UTC timestamps (``pd.to_datetime`` walks 10k values one by one even when
    they are timestamps already: 6 ms a call)."""
    days = history["day"]
    if isinstance(days.dtype, pd.DatetimeTZDtype):
        return days.dt.tz_convert("UTC")
    return pd.to_datetime(days, utc=True)


def _ages(history: pd.DataFrame, day: pd.Timestamp) -> np.ndarray:
    """Whole days from each history row to ``day`` (floored, as ``Timedelta.days``); NaT rows very old."""
    stamps = history_days(history).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return np.where(stamps == np.iinfo(np.int64).min, np.iinfo(np.int64).max,
                    (pd.Timestamp(day).value - stamps) // 86_400_000_000_000)


def blocked(scored: pd.DataFrame, history: pd.DataFrame | None, catalog: Catalog, day: pd.Timestamp) -> np.ndarray:
    """Rows the contact policy forbids today: cooldowns, snoozes, repeated dismissals (mandatory items too)."""
    bad = np.zeros(len(scored), dtype=bool)
    if history is None or history.empty or scored.empty:
        return bad
    age = _ages(history, day)
    status, action = history["status"].to_numpy(), history["action"].to_numpy()
    contact = history["contact_id"].to_numpy()
    cooldown = {a.name: a.cooldown for a in catalog.actions}
    done = np.isin(status, [*DONE, LOGGED])
    recent = done & (age < np.array([cooldown.get(a, 0) for a in action], dtype=float))
    snoozed = (status == "snoozed") & (age < SNOOZE_DAYS)
    dismissed = (status == "dismissed") & (age < catalog.policy.dismissal_days)
    pairs = {(str(c), str(a)) for c, a in zip(contact[recent | snoozed], action[recent | snoozed], strict=True)}
    if dismissed.any():
        counts: dict[tuple[str, str], int] = {}
        for key in zip(contact[dismissed].astype(str), action[dismissed].astype(str), strict=True):
            counts[key] = counts.get(key, 0) + 1
        pairs |= {key for key, n in counts.items() if n >= catalog.policy.dismissals_before_pause}
    if pairs:  # a set of (target, action): two MultiIndexes and isin were 5 ms
        targets = scored["target"] if "target" in scored else scored["contact_id"]  # a deal-only row: its deal
        bad = np.fromiter(((str(c), str(a)) in pairs for c, a in zip(targets.to_numpy(), scored["action"].to_numpy(),
                                                                      strict=True)),
                          dtype=bool, count=len(scored))
    return bad


def _cumcount(keys: np.ndarray) -> np.ndarray:
    """Each row's position among the rows of its key so far (``groupby(...).cumcount()`` on an array)."""
    codes, uniques = pd.factorize(keys)
    if len(uniques) <= 1:
        return np.arange(len(keys))
    order = np.argsort(codes, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1]
    counts = np.diff(np.r_[starts, len(order)])
    ranks = np.arange(len(order)) - np.repeat(starts, counts)
    out = np.empty(len(keys), dtype=np.int64)
    out[order] = ranks
    return out


def select(scored: pd.DataFrame, history: pd.DataFrame | None, catalog: Catalog, day: pd.Timestamp, k: int,
           per_rep_pool: int = 60, limits: dict[str, int] | None = None) -> pd.DataFrame:
    """Today's actions: greedy by priority under the contact policy (the first rows of ``scored`` win).

    ``limits`` caps some reps below ``k`` today (an action budget)."""
    if scored.empty:
        return scored
    pol = catalog.policy
    reps_all = scored["rep_id"].to_numpy()
    mandatory_all = scored["mandatory"].to_numpy(dtype=bool)
    ok = ~blocked(scored, history, catalog, day) & ((scored["priority"].to_numpy() > 0) | mandatory_all)
    rows = np.flatnonzero(ok)
    rows = rows[_cumcount(reps_all[rows]) < per_rep_pool * max(k, 1)]
    week: dict[str, int] = {}
    if history is not None and len(history):
        mandatory = {a.name for a in catalog.actions if a.mandatory}
        recent = np.isin(history["status"].to_numpy(), DONE) & (_ages(history, day) < 7)
        recent &= ~np.isin(history["action"].to_numpy(), list(mandatory))
        for contact in history["contact_id"].to_numpy()[recent]:
            week[contact] = week.get(contact, 0) + 1
    used_minutes: dict[str, float] = {}
    count: dict[str, int] = {}
    contacts_today: set[str] = set()
    keep = []
    targets = (scored["target"] if "target" in scored else scored["contact_id"]).to_numpy()  # a deal-only row: its deal
    minutes_all = scored["minutes"].to_numpy(dtype=float)
    reps, full = len(set(reps_all[rows].tolist())), 0
    for i in rows:
        rep, contact, minutes, mandatory_row = reps_all[i], targets[i], minutes_all[i], mandatory_all[i]
        cap = k if limits is None else min(k, limits.get(rep, 0))
        if count.get(rep, 0) >= cap or contact in contacts_today:
            continue
        if not mandatory_row:
            if week.get(contact, 0) >= pol.max_per_contact_week:
                continue
            if used_minutes.get(rep, 0.0) + minutes > pol.capacity_minutes_per_day:
                continue
            used_minutes[rep] = used_minutes.get(rep, 0.0) + minutes
        count[rep] = count.get(rep, 0) + 1
        contacts_today.add(contact)
        keep.append(i)
        if count[rep] == cap:
            full += 1
            if full == reps:  # every rep has its k: nothing further down can be chosen
                break
    chosen = scored.iloc[keep].copy()
    chosen["rank"] = _cumcount(chosen["rep_id"].to_numpy()) + 1
    return chosen.reset_index(drop=True)


def violations(log: pd.DataFrame, catalog: Catalog, k: int) -> dict[str, int]:
    """Count breaches of the contact policy in a log of done actions (rep_id, contact_id, action, day, minutes)."""
    if log.empty:
        return {"per_day_contact": 0, "per_rep_k": 0, "capacity": 0, "cooldown": 0, "contact_week": 0}
    day = pd.to_datetime(log["day"], utc=True).dt.floor("D")
    log = log.assign(day=day)
    mandatory = {a.name for a in catalog.actions if a.mandatory}
    cooldown = {a.name: a.cooldown for a in catalog.actions}
    per_day_contact = int((log.groupby(["day", "contact_id"]).size() > 1).sum())
    per_rep_k = int((log.groupby(["day", "rep_id"]).size() > k).sum())
    optional = log[~log["action"].isin(mandatory)]
    capacity = int((optional.groupby(["day", "rep_id"])["minutes"].sum()
                    > catalog.policy.capacity_minutes_per_day).sum())
    broken_cooldown, contact_week = 0, 0
    for (_, action), g in log.sort_values("day").groupby(["contact_id", "action"]):
        gaps = g["day"].diff().dt.days.dropna()
        broken_cooldown += int((gaps < cooldown.get(action, 0)).sum())
    for _, g in optional.sort_values("day").groupby("contact_id"):
        days = g["day"].to_numpy()
        n = len(days)
        cap = catalog.policy.max_per_contact_week
        if n > cap:
            later = days[cap:]
            earlier = days[:-cap]
            contact_week += int(((later - earlier) < np.timedelta64(7, "D")).sum())
    return {"per_day_contact": per_day_contact, "per_rep_k": per_rep_k, "capacity": capacity,
            "cooldown": broken_cooldown, "contact_week": contact_week}
