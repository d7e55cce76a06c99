"""What the data in the store supports: a ladder of levels, and for each model whether it can train, on
which label and with which horizon, or why it is skipped. `guanxi doctor` prints it; `guanxi train all`
follows it, so a store of email or call logs trains what it can instead of stopping."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features.frames import Tables
from training.datasets import DEAL_STEP_DAYS
from training.labels import RETURN_OCCASIONS

DEFAULT_HORIZON = {"effective_relationship": 180, "tie_persistence": 90, "deal_won": 180}
DEFAULT_MIN_HISTORY = 180
MIN_SPAN_DAYS = 60
"""Shorter logs cannot hold a history, a horizon and a test period: no relationship model."""
MIN_CLOSED_DEALS = 20
MIN_ACTIONS_PER_KIND = 30
MIN_KINDS = 3
"""The effect model needs outcomes and at least this many action kinds with enough logged examples."""
LEVELS = ("interactions", "account_value", "dated_deals", "outcomes", "action_variety")


@dataclass(frozen=True)
class ModelPlan:
    model: str
    trains: bool
    why: str
    label: str | None = None
    horizon_days: int | None = None
    min_history_days: int | None = None
    step_days: int | None = None


@dataclass(frozen=True)
class Readiness:
    levels: dict[str, bool]
    facts: dict[str, object]
    plans: list[ModelPlan] = field(default_factory=list)

    def plan(self, model: str) -> ModelPlan:
        return next(p for p in self.plans if p.model == model)


def windows(span_days: float, label: str) -> tuple[int, int, int] | None:
    """(horizon, min history, step) in days that fit a log of ``span_days``, shrunk so that a history,
    three training cutoffs, validation and test fit; None when the models' own defaults fit. Deals are
    snapshotted every ``DEAL_STEP_DAYS`` up to validation (``training.datasets.plan_cutoffs(spread=True)``),
    so they need a history, two horizons and a step."""
    horizon, history = DEFAULT_HORIZON.get(label, 90), DEFAULT_MIN_HISTORY
    if label == "deal_won":
        if history + 2 * horizon + DEAL_STEP_DAYS <= span_days:
            return None
        fitted = int(max(14, span_days // 5))
        return min(horizon, fitted), min(history, fitted), DEAL_STEP_DAYS
    if history + 3 * horizon + 2 * 60 <= span_days:
        return None
    # floors low enough that every log of MIN_SPAN_DAYS fits (history + 3 horizons: train, validation, test)
    horizon = int(max(7, min(horizon, span_days // 6)))
    history = int(max(14, min(history, span_days // 5)))
    step = int(max(7, horizon // 2))
    return horizon, history, step


def assess(tables: Tables) -> Readiness:
    """The ladder and the model plans for these tables (pandas frames as the store reads them)."""
    inter = pd.DataFrame(tables.get("interactions", pd.DataFrame()))
    opps = pd.DataFrame(tables.get("opportunities", pd.DataFrame()))
    accounts = pd.DataFrame(tables.get("accounts", pd.DataFrame()))
    chain = pd.DataFrame(tables.get("opportunity_contacts", pd.DataFrame()))
    ts = pd.to_datetime(inter["ts"], utc=True) if len(inter) else pd.Series(dtype="datetime64[ns, UTC]")
    span = _days(ts)
    deal_span = _days(pd.concat([pd.to_datetime(opps[c], utc=True) for c in ("created_at", "closed_at")]).dropna()
                      ) if len(opps) else 0.0
    closed = opps[opps["outcome"].isin(["won", "lost"])] if len(opps) else opps
    dated = int(opps["created_at"].notna().sum()) if len(opps) else 0
    requests = int((inter["direction"].eq("inbound") & inter["occasion"].isin(RETURN_OCCASIONS)).sum()) \
        if len(inter) else 0
    won_with_chain = int(closed[closed["outcome"] == "won"]["opportunity_id"].isin(chain["opportunity_id"]).sum()) \
        if len(closed) and len(chain) else 0
    kinds = _logged_kinds(tables) if len(inter) else {}
    varied = sum(1 for n in kinds.values() if n >= MIN_ACTIONS_PER_KIND)
    potential = int(pd.to_numeric(accounts.get("potential"), errors="coerce").gt(0).sum()) if len(accounts) else 0
    facts: dict[str, object] = {
        "interactions": len(inter), "span_days": round(span, 1), "deal_span_days": round(deal_span, 1),
        "reps": int(inter["rep_id"].nunique()) if len(inter) else 0,
        "contacts": int(inter["contact_id"].nunique()) if len(inter) else 0,
        "accounts_with_potential": potential, "deals": len(opps), "dated_deals": dated,
        "closed_deals": len(closed), "inbound_requests_and_referrals": requests,
        "won_deals_with_decision_chain": won_with_chain, "logged_actions_by_kind": kinds,
    }
    outcomes = requests > 0 or won_with_chain > 0
    levels = {"interactions": len(inter) > 0, "account_value": potential > 0 or bool(
        len(opps) and pd.to_numeric(opps["amount"], errors="coerce").gt(0).any()),
        "dated_deals": dated > 0, "outcomes": outcomes, "action_variety": varied >= MIN_KINDS}
    return Readiness(levels, facts, [_relationship(levels, span), _deal(len(closed), deal_span, dated),
                                     _effect(levels, span, varied)])


def _relationship(levels: dict[str, bool], span: float) -> ModelPlan:
    if not levels["interactions"]:
        return ModelPlan("relationship", False, "no interactions: nothing to learn a relationship from")
    if span < MIN_SPAN_DAYS:
        return ModelPlan("relationship", False, f"the log spans {span:.0f} days; at least {MIN_SPAN_DAYS} are "
                         "needed for a history, a horizon and a test period")
    if levels["outcomes"]:
        label, why = "effective_relationship", ("revenue-linked outcomes (inbound business requests, referrals, "
                                                "won deals with decision chains)")
    else:
        label, why = "tie_persistence", ("no revenue-linked outcomes in the data, so the relationship model learns "
                                         "whether a tie persists in both directions (tie persistence)")
    fitted = windows(span, label)
    horizon, history, step = fitted if fitted else (DEFAULT_HORIZON[label], DEFAULT_MIN_HISTORY, None)
    return ModelPlan("relationship", True, why, label, horizon, history, step)


def _days(ts: pd.Series) -> float:
    return float((ts.max() - ts.min()) / pd.Timedelta(days=1)) if len(ts) else 0.0


def _deal(closed: int, span: float, dated: int) -> ModelPlan:
    if closed < MIN_CLOSED_DEALS:
        return ModelPlan("deal", False, f"{closed} won or lost deals; the deal model needs at least "
                         f"{MIN_CLOSED_DEALS}")
    if not dated:
        return ModelPlan("deal", True, f"{closed} won or lost deals without dates: stratified cross-validation, "
                         "the owner as a feature", "deal_won")
    fitted = windows(span, "deal_won")
    if fitted is None:
        return ModelPlan("deal", True, f"{closed} won or lost deals", "deal_won")
    return ModelPlan("deal", True, f"{closed} won or lost deals over {span:.0f} days", "deal_won", *fitted)


def _effect(levels: dict[str, bool], span: float, varied: int) -> ModelPlan:
    prior = "next-best actions use the shipped effect prior (serving/effect_prior.toml) instead"
    if not levels["outcomes"]:
        return ModelPlan("effect", False, f"no revenue-linked outcomes to learn action effects from; {prior}")
    if varied < MIN_KINDS:
        return ModelPlan("effect", False, f"{varied} action kinds have at least {MIN_ACTIONS_PER_KIND} logged "
                         f"examples; the effect model needs {MIN_KINDS}; {prior}")
    fitted = windows(span, "effective_relationship")
    horizon, history, step = fitted if fitted else (DEFAULT_HORIZON["effective_relationship"], DEFAULT_MIN_HISTORY,
                                                    None)
    return ModelPlan("effect", True, "outcomes and logged actions of enough kinds", "effective_relationship",
                     horizon, history, step)


def _logged_kinds(tables: Tables) -> dict[str, int]:
    """Outbound actions by kind (the effect model's treatments)."""
    import polars as pl

    from features.actions import kind_expr
    from features.frames import need

    inter = need(tables, "interactions", ["direction", "channel", "depth", "occasion", "opportunity_id", "favor",
                                           "with_executive"])
    counts = (inter.filter(pl.col("direction") == "outbound").with_columns(kind=kind_expr())
              .group_by("kind").len().sort("kind"))
    return {str(k): int(n) for k, n in zip(counts["kind"], counts["len"], strict=True)}
