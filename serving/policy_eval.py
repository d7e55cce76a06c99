"""Does it pay? Roll the simulated world forward with reps following each policy, on the same future.

Guanxi and the propensity ranking see only the CRM log the rollout keeps (``View.tables``); they
rescore every ``replan_days`` and arbitrate every day under the contact policy. Habits, random
eligible actions and the oracle come from ``crm.sim.rollout``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from crm.sim.degrade import Degrade
from crm.sim.params import A
from crm.sim.rollout import BUILTIN, View, rollout
from crm.sim.simulate import SimResult
from features.deal import deal_features
from serving.candidates import candidates, occasion_today
from serving.catalog import Catalog, load_catalog
from serving.engine import HISTORY_COLUMNS, Models, score, select, violations
from serving.feedback import interaction_history
from training.baselines import Scorer

POLICIES = ("guanxi", "habits", "propensity", "random", "oracle")


def sim_codes(kinds: pd.Series) -> np.ndarray:
    return kinds.map(A).to_numpy(dtype=np.int64)


class PlanView(Protocol):
    """What a planner reads on a day: a rollout's :class:`View`, or a fixed log (the off-policy check)."""

    @property
    def day(self) -> int: ...

    @property
    def k(self) -> int: ...

    def tables(self) -> dict[str, pd.DataFrame]: ...


@dataclass
class _Planner:
    """Shared machinery: rescore on replan days, select every day, keep the log of what was chosen."""

    sim: SimResult
    catalog: Catalog
    replan_days: int = 7
    scored: pd.DataFrame | None = None
    cands: pd.DataFrame | None = None
    planned_on: int = -1
    logged: pd.DataFrame | None = None
    budget: dict[int, dict[str, int]] | None = None  # day -> rep -> most actions allowed
    history: list[pd.DataFrame] = field(default_factory=list)
    offered: list[pd.DataFrame] = field(default_factory=list)
    """Every day's chosen rows as served (rank, priority, kind), for the served log of a rollout."""
    degrade: Degrade = field(default_factory=Degrade)
    """What the CRM export leaves out: the planner sees the log through it, the world keeps its truth."""
    seen: dict[str, pd.DataFrame] = field(default_factory=dict)
    """The log as the planner saw it on its last replan."""

    def day_ts(self, day: int) -> pd.Timestamp:
        return self.sim.pop.start + pd.Timedelta(days=day)

    def __call__(self, view: PlanView) -> tuple[np.ndarray, np.ndarray]:
        scored, cands = self.scored, self.cands
        if scored is None or cands is None or view.day - self.planned_on >= self.replan_days:
            self.seen = tables = self.degrade.apply(view.tables())
            self.cands = cands = candidates(tables, self.day_ts(view.day))
            self.scored = scored = self.rescore(view, cands)
            self.logged = interaction_history(tables, self.day_ts(view.day), self.catalog)
            self.planned_on = view.day
        today = self.today(view.day, scored, cands)
        hist = pd.concat([self.logged, *self.history], ignore_index=True)
        limits = None if self.budget is None else self.budget.get(view.day, {})
        chosen = select(today, hist, self.catalog, self.day_ts(view.day), view.k, limits=limits)
        if chosen.empty:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        self.history.append(chosen[["rep_id", "contact_id", "action"]].assign(day=self.day_ts(view.day),
                                                                              status="done"))
        self.offered.append(chosen[["rep_id", "contact_id", "action", "kind", "rank", "priority"]]
                            .assign(day=view.day))
        pairs = self.sim.pair_index(chosen["rep_id"], chosen["contact_id"])
        return pairs, sim_codes(chosen["kind"])

    def today(self, day: int, scored: pd.DataFrame, cands: pd.DataFrame) -> pd.DataFrame:
        """The week's scored rows that still apply today (greetings only on an occasion)."""
        greet = [a.name for a in self.catalog.actions if "occasion_today" in a.applicable]
        if greet and len(scored):
            is_greet = scored["action"].isin(greet).to_numpy()
            on_day = self.occasion_on(day, cands)[scored["row"].to_numpy()]
            scored = scored[~is_greet | on_day]
        return scored

    def occasion_on(self, day: int, cands: pd.DataFrame) -> np.ndarray:
        tables = {"contacts": self.sim.tables["contacts"]}
        return occasion_today(tables, self.day_ts(day), cands["contact_id"]).astype(bool)

    def rescore(self, view: PlanView, cands: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError

    def log(self) -> pd.DataFrame:
        return pd.concat(self.history, ignore_index=True) if self.history else pd.DataFrame(columns=HISTORY_COLUMNS)


@dataclass
class GuanxiPolicy(_Planner):
    """The engine: uplift x value / cost under the contact policy."""

    models: Models | None = None

    def rescore(self, view: PlanView, cands: pd.DataFrame) -> pd.DataFrame:
        if self.models is None:
            raise ValueError("GuanxiPolicy needs the engine's models")
        # greetings are scored every replan and kept for the days that are occasions
        return score(cands.assign(occasion_today=1.0), self.models, self.catalog)


@dataclass
class PropensityPolicy(_Planner):
    """What CRM suites do: contacts by P(effective) x relationship value, deals by P(win) x amount, with a
    check-in (a visit for a deal's decision chain); same contact policy as Guanxi."""

    relationship: Scorer | None = None
    deal: Scorer | None = None

    def rescore(self, view: PlanView, cands: pd.DataFrame) -> pd.DataFrame:
        if self.relationship is None:
            raise ValueError("the propensity policy needs a relationship model")
        p_eff = self.relationship.predict_proba(cands)[:, 1]
        pot = cands["account_potential"].astype(float)
        # no potential in the export: every account alike (the ranking is by P(effective) alone)
        pot = pot.fillna(pot.median() if pot.notna().any() else 1.0).to_numpy()
        value = p_eff * self.catalog.policy.relationship_value_share * pot
        deal_value = np.zeros(len(cands))
        if self.deal is not None:
            deals = deal_features(self.seen, self.day_ts(view.day))
            if len(deals):
                p_win = self.deal.predict_proba(deals)[:, 1]
                per_account = pd.Series(p_win * deals["amount"].fillna(0).to_numpy(),
                                        index=deals["account_id"].astype(str)).groupby(level=0).max()
                deal_value = per_account.reindex(cands["account_id"].astype(str)).fillna(0).to_numpy()
                deal_value = deal_value * (cands["on_chain"].to_numpy() > 0)
        on_deal = deal_value > value
        action = np.where(on_deal, "visit", "check_in")
        out = pd.DataFrame({
            "rep_id": cands["rep_id"].to_numpy(), "contact_id": cands["contact_id"].to_numpy(),
            "account_id": cands["account_id"].to_numpy(), "action": action, "kind": action,
            "element": "value", "minutes": np.where(on_deal, 90.0, 15.0), "mandatory": False,
            "priority": np.maximum(value, deal_value), "row": np.arange(len(cands)),
        })
        # deal contacts are always candidates (as in CRM suites); others only where a check-in is allowed
        out = out[on_deal | self.catalog["check_in"].allowed(cands)]
        return out.sort_values(["priority", "rep_id", "contact_id"], ascending=[False, True, True],
                               kind="stable").reset_index(drop=True)


def evaluate_policies(sim: SimResult, models: Models, deal_model: Scorer | None = None, weeks: int = 26,
                      k: int = 3, compliance: float = 0.8, seed: int = 0, policies: tuple[str, ...] = POLICIES,
                      catalog: Catalog | None = None, progress: Callable[[str], None] | None = None,
                      degrade: Degrade | None = None) -> dict[str, dict[str, float]]:
    """Each policy's won revenue, new effective relationships, actions done and contact-policy breaches,
    all on the same future (common random numbers) from the end of the history. ``degrade``: what the
    CRM export Guanxi and the propensity ranking read leaves out (the world and the oracle keep it all)."""
    seen = degrade or Degrade()
    catalog = catalog or load_catalog()
    results: dict[str, dict[str, float]] = {}
    # Guanxi runs last with, each day and for each rep, no more slots than the baselines used
    order = [p for p in policies if p != "guanxi"] + (["guanxi"] if "guanxi" in policies else [])
    used: dict[str, dict[int, dict[str, int]]] = {}
    for name in order:
        if progress:
            progress(name)
        done: list[pd.DataFrame] = []
        planner: _Planner | None = None
        if name == "guanxi":
            planner = GuanxiPolicy(sim, catalog, models=models, budget=_budget(used, ("propensity", "oracle")),
                                   degrade=seen)
        elif name == "propensity":
            if models.relationship is None:
                raise ValueError("the propensity policy needs the relationship model")
            planner = PropensityPolicy(sim, catalog, relationship=models.relationship, deal=deal_model, degrade=seen)
        policy = _counted(planner if planner is not None else BUILTIN[name], sim, used.setdefault(name, {}))

        def record(day: int, pairs: np.ndarray, acts: np.ndarray, _done: list[pd.DataFrame] = done) -> None:
            _done.append(pd.DataFrame({"day": day, "pair": pairs, "code": acts}))

        out = rollout(sim, policy, weeks=weeks, k=k, compliance=compliance, seed=seed, record=planner is not None,
                      done=record)
        row = out.as_dict()
        if planner is not None:
            row.update(_breaches(sim, planner, done, catalog, k))
        results[name] = row
    results = {name: results[name] for name in policies}
    base = results.get("habits")
    if base:
        for row in results.values():
            row["incremental_revenue"] = row["won_revenue"] - base["won_revenue"]
            row["incremental_effective"] = row["new_effective"] - base["new_effective"]
            row["incremental_expected_revenue"] = row["expected_revenue"] - base["expected_revenue"]
            row["incremental_expected_effective"] = row["expected_effective"] - base["expected_effective"]
    return results


def rollout_feedback(sim: SimResult, models: Models, weeks: int = 4, k: int = 3, compliance: float = 0.8,
                     seed: int = 0, catalog: Catalog | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Serve Guanxi's plan to the simulated reps for ``weeks`` and log it as the API would: every offered
    action in the served log (the morning it was offered) and the rep's feedback that evening, ``done``
    for the actions the rep did (drawn with ``compliance``), ``dismissed`` for the others. Returns
    (served, feedback) with the columns of ``served_recommendations`` and ``recommendation_feedback``."""
    catalog = catalog or load_catalog()
    planner = GuanxiPolicy(sim, catalog, models=models)
    did: set[tuple[int, int, int]] = set()

    def record(day: int, pairs: np.ndarray, acts: np.ndarray) -> None:
        did.update(zip([day] * len(pairs), pairs.tolist(), acts.tolist(), strict=True))

    rollout(sim, planner, weeks=weeks, k=k, compliance=compliance, seed=seed, record=True, done=record)
    if not planner.offered:
        empty = pd.DataFrame()
        return empty, empty
    offered = pd.concat(planner.offered, ignore_index=True)
    pairs = sim.pair_index(offered["rep_id"], offered["contact_id"])
    codes = sim_codes(offered["kind"])
    done = np.array([(d, p, c) in did for d, p, c in zip(offered["day"], pairs, codes, strict=True)], dtype=bool)
    day = sim.pop.start + pd.to_timedelta(offered["day"], unit="D")
    ids = offered[["rep_id", "contact_id", "action"]].reset_index(drop=True)
    served = ids.assign(ts=(day + pd.Timedelta(hours=9)).to_numpy(), rank=offered["rank"].astype(int).to_numpy(),
                        priority=offered["priority"].astype(float).to_numpy(),
                        model_versions=json.dumps(models.versions, sort_keys=True), request_id=None)
    feedback = ids.assign(ts=(day + pd.Timedelta(hours=17)).to_numpy(), status=np.where(done, "done", "dismissed"),
                          note=None, kind=offered["kind"].to_numpy())
    return served, feedback


def _counted(policy: Callable[[View], tuple[np.ndarray, np.ndarray]], sim: SimResult,
             into: dict[int, dict[str, int]]) -> Callable[[View], tuple[np.ndarray, np.ndarray]]:
    """Wrap a policy to count, per day and rep, how many actions it chose."""

    def run(view: View) -> tuple[np.ndarray, np.ndarray]:
        pairs, acts = policy(view)
        reps, counts = np.unique(sim.pop.pair_rep[pairs], return_counts=True)
        into[view.day] = {f"R{r:04d}": int(c) for r, c in zip(reps, counts, strict=True)}
        return pairs, acts

    return run


def _budget(used: dict[str, dict[int, dict[str, int]]], names: tuple[str, ...]) -> dict[int, dict[str, int]] | None:
    """Per day and rep, the fewest actions any of ``names`` chose (None when none of them ran)."""
    runs = [used[n] for n in names if n in used]
    if not runs:
        return None
    days = set().union(*runs)
    return {d: {rep: min(r.get(d, {}).get(rep, 0) for r in runs)
                for rep in set().union(*(r.get(d, {}) for r in runs))} for d in days}


def _breaches(sim: SimResult, planner: _Planner, done: list[pd.DataFrame], catalog: Catalog, k: int) -> dict:
    """Contact-policy breaches among the actions actually done (compliance drops some of the plan)."""
    log = planner.log()
    if log.empty:
        return {"policy_violations": 0}
    acted = pd.concat(done, ignore_index=True)
    pop = sim.pop
    acted_keys = set(zip(acted["day"], [f"R{r:04d}" for r in pop.pair_rep[acted["pair"]]],
                         [f"C{c:06d}" for c in pop.pair_con[acted["pair"]]], strict=True))
    day_index = ((log["day"] - pop.start).dt.days).to_numpy()
    kept = [(d, r, c) in acted_keys for d, r, c in zip(day_index, log["rep_id"], log["contact_id"], strict=True)]
    minutes = {a.name: a.minutes for a in catalog.actions}
    log = log[kept].assign(minutes=lambda f: f["action"].map(minutes).fillna(15.0))
    counts = violations(log, catalog, k)
    return {"policy_violations": int(sum(counts.values())), "violations_by_rule": counts}


@dataclass(frozen=True)
class _LogView:
    """A planning view over a fixed log (no rollout): what the policy would have planned at a past day."""

    day: int
    k: int
    log: dict[str, pd.DataFrame]

    def tables(self) -> dict[str, pd.DataFrame]:
        return self.log


def offpolicy_check(sim: SimResult, models: Models, k: int = 3, days: int = 14, horizon: int = 180,
                    replicas: int = 32, catalog: Catalog | None = None) -> dict[str, Any]:
    """Plan ``days`` of Guanxi actions at the last cutoff whose outcome window is in the log; estimate the
    plan's value from the log alone (doubly robust) and compare with the simulator's true value."""
    from crm.sim.oracle import plan_value
    from serving.offpolicy import estimate, propensities
    from training.uplift import TREATMENTS, EffectModel, effect_rows

    catalog = catalog or load_catalog()
    c = sim.size.days - 1 - horizon
    cutoff = sim.pop.start + pd.Timedelta(days=c + 1)
    rows = effect_rows(sim.tables, cutoff, horizon)  # everything is read point in time at the cutoff
    planner = GuanxiPolicy(sim, catalog, models=models, replan_days=10**9)
    plan_days: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for d in range(c + 1, c + 1 + days):
        pairs, codes = planner(_LogView(d, k, sim.tables))
        if len(pairs):
            plan_days[d] = (pairs, codes)
    log = planner.log()
    kinds = log["action"].map({a.name: a.kind for a in catalog.actions})
    plan = (pd.crosstab([log["rep_id"], log["contact_id"]], "t_" + kinds).reindex(columns=TREATMENTS, fill_value=0)
            .astype(float).reset_index())
    plan.columns = ["rep_id", "contact_id", *TREATMENTS]
    if not isinstance(models.effect, EffectModel):
        raise ValueError("the off-policy check needs a learned effect model, not the prior")
    est = estimate(rows, plan, models.effect, propensities(rows, models.effect.features))
    pairs = sim.pair_index(rows["rep_id"], rows["contact_id"])
    truth = float(plan_value(sim, c, plan_days, horizon, replicas)[pairs].sum())
    habits = float(plan_value(sim, c, {}, horizon, replicas)[pairs].sum())
    return {"cutoff": str(cutoff.date()), "actions": int(len(log)), **est.as_dict(), "truth": truth,
            "truth_habits": habits, "relative_error": abs(est.value - truth) / truth,
            "direct_relative_error": abs(est.direct - truth) / truth,
            "estimated_gain": est.value - est.logged, "true_gain": truth - habits}


def log_policy_evaluation(payload: dict[str, Any]) -> str:
    """Log a policy evaluation to the ``guanxi-policy`` MLflow experiment; returns the run id."""
    import mlflow

    from training.tracking import configure, experiment

    configure()
    with mlflow.start_run(experiment_id=experiment("guanxi-policy")) as run:
        mlflow.log_params({k: payload[k] for k in ("weeks", "k", "compliance", "size", "seed", "variant", "export")
                           if k in payload})
        for name, row in payload["policies"].items():
            mlflow.log_metrics({f"{name}_{k}": float(v) for k, v in row.items() if isinstance(v, int | float)})
        if payload.get("offpolicy"):
            mlflow.log_metrics({f"offpolicy_{k}": float(v) for k, v in payload["offpolicy"].items()
                                if isinstance(v, int | float)})
        mlflow.log_dict(payload, "policy_evaluation.json")
    return run.info.run_id
