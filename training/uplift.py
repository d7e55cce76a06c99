"""The effect model: what an action does to P(effective) and to P(win), learned from logged history.

An S-learner on LightGBM: per outcome, classifiers see the relationship features at a cutoff, the
pair's deal context, and the actions the rep took in the next 14 days (counts per kind); the effect of
action ``a`` is f(x, one ``a``) - f(x, nothing). An effect is a small difference of two predictions, so
f is the mean of several boosters that differ only in their row and feature sampling seeds (a bag):
on the demo world that took the policy from 70 % to 89 % of the oracle's increment (docs/benchmarks.md).

Assumptions (the usual ones, stated so they can be checked): the features at the cutoff capture what
drove the reps' choices (no unmeasured confounding — in truth reps also act on a bond they feel but we
do not log, so effects of habitual actions are biased upward); every action has some chance for every
kind of pair (overlap: rare actions on strangers are extrapolated); one pair's actions do not change
another pair's outcome (they do, a little, through the account's deals).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl

from features.actions import KINDS, TREATMENT_DAYS, pair_deal_context, treatments
from features.deal import open_deals
from features.frames import Tables, need, utc
from features.relationship import relationship_features
from training.datasets import as_polars, data_span
from training.evaluate import evaluate
from training.hyperparams import lgb_params
from training.labels import effective_relationship
from training.trees import FlatBooster, NotFlat, flatten, predict_variants

TREATMENTS = [f"t_{k}" for k in KINDS]
OUTCOMES = ("effective", "win")
EXCLUDED = ("buying_role", "account_tier")  # categories: kept out so that every column is numeric


def effect_rows(tables: Tables, cutoff: pd.Timestamp, horizon_days: int = 180) -> pd.DataFrame:
    """Rows of one cutoff: features, deal context, next-14-day treatments, and both labels (win: nan
    where the pair's account has no open deal or its outcome is not known)."""
    feats = relationship_features(tables, cutoff)
    feats = feats[feats["n_365d"] > 0].drop(columns=list(EXCLUDED))
    feats = pair_deal_context(tables, cutoff, feats).merge(feats, on=["rep_id", "contact_id", "account_id"])
    t = treatments(tables, cutoff, TREATMENT_DAYS)
    out = feats.astype({"rep_id": str, "contact_id": str}).merge(t, on=["rep_id", "contact_id"], how="left")
    out[TREATMENTS] = out[TREATMENTS].fillna(0.0)
    eff = effective_relationship(tables, cutoff, horizon_days).astype({"rep_id": str, "contact_id": str})
    out = out.merge(eff.rename(columns={"label": "effective"}), on=["rep_id", "contact_id"], how="left")
    out["effective"] = out["effective"].fillna(0).astype(float)
    deals = open_deals(tables, utc(cutoff)).sort("created_at").unique("account_id", keep="last")
    outcome = need(tables, "opportunities", ["opportunity_id", "outcome"])
    won = (deals.select("account_id", "opportunity_id").join(outcome, on="opportunity_id")
           .filter(pl.col("outcome").is_in(["won", "lost"]))
           .select("account_id", win=(pl.col("outcome") == "won").cast(pl.Float64)).to_pandas())
    out = out.astype({"account_id": str}).merge(won, on="account_id", how="left")
    out["win"] = out["win"].where(out["deal_open"] > 0)
    return out.assign(cutoff=cutoff)


def effect_dataset(tables: Tables, horizon_days: int = 180, step_days: int = 28, min_history_days: int = 180,
                   progress: bool = False) -> pd.DataFrame:
    """Rows from cutoffs every ``step_days`` whose label window is fully observed."""
    pl_tables = as_polars(tables)
    start, end = data_span(tables)
    first = (start + pd.Timedelta(days=min_history_days)).floor("D")
    last = (end - pd.Timedelta(days=horizon_days)).floor("D")
    cutoffs = list(pd.date_range(first, last, freq=f"{step_days}D"))
    if len(cutoffs) < 3:
        raise ValueError(f"not enough history for the effect model: data spans {start.date()}..{end.date()}")
    it: Iterable[pd.Timestamp] = cutoffs
    if progress:
        from rich.progress import track

        it = track(cutoffs, description="building effect-model rows")
    return pd.concat([effect_rows(pl_tables, c, horizon_days) for c in it], ignore_index=True)


BAGS = 5
"""Boosters averaged per outcome (``fit_effect_model``)."""


@dataclass
class EffectModel:
    """Two bagged S-learners (P(effective), P(win)) over features + treatment counts."""

    features: list[str]
    boosters: dict[str, list[lgb.Booster]]
    metrics: dict[str, dict[str, float]]
    horizon_days: int = 180
    examples: dict[str, int] = field(default_factory=dict)
    """Training rows treated with each action kind: how much the model saw of it."""
    flat: dict[str, list[FlatBooster]] | None = field(default=None, init=False, repr=False, compare=False)
    """The boosters as flat arrays (``training.trees``), made once: what ``effects`` scores with."""
    prior: dict[str, dict[str, float]] = field(default_factory=dict, init=False, repr=False, compare=False)
    """A prior log-odds shift per outcome and kind (:meth:`shrink_toward`), blended into each uplift."""
    prior_weight: dict[str, float] = field(default_factory=dict, init=False, repr=False, compare=False)

    def shrink_toward(self, prior: dict[str, dict[str, float]], pseudo_examples: float) -> EffectModel:
        """Blend each kind's learned uplift with a prior's: weight ``n / (n + pseudo_examples)`` on what was
        learned from the kind's ``n`` treated training rows, the rest on the prior (a precision-weighted
        blend where the prior counts as ``pseudo_examples`` rows). A bundle without counts stays as learned."""
        if self.examples and pseudo_examples > 0:
            self.prior = {o: dict(v) for o, v in prior.items()}
            self.prior_weight = {k: pseudo_examples / (self.examples.get(k, 0) + pseudo_examples) for k in KINDS}
        return self

    def __post_init__(self) -> None:
        try:
            self.flat = {o: [flatten(b) for b in bag] for o, bag in self.boosters.items()}
        except NotFlat:
            self.flat = None  # LightGBM scores every variant instead

    @property
    def columns(self) -> list[str]:
        return [*self.features, *TREATMENTS]

    def predict(self, outcome: str, X: pd.DataFrame, treatment: np.ndarray) -> np.ndarray:
        """P(outcome) with the given treatment counts (n, len(KINDS))."""
        m = np.column_stack([X[self.features].to_numpy(dtype=float), treatment])
        return np.mean([b.predict(m) for b in self.boosters[outcome]], axis=0)

    def effects(self, X: pd.DataFrame, kinds: list[str] | None = None) -> dict[str, pd.DataFrame]:
        """Uplift of one action of each kind (columns) per row, on each outcome: P(do a) - P(do nothing)."""
        kinds = kinds or list(KINDS)
        out = {}
        for outcome in OUTCOMES:
            # P(win) only where the account has an open deal: 0 uplift and no base elsewhere (and nowhere
            # when the data had no deals to learn it from)
            rows = np.ones(len(X), dtype=bool) if outcome == "effective" else X["deal_open"].to_numpy() > 0
            if outcome not in self.boosters:
                rows = np.zeros(len(X), dtype=bool)
            values, base = np.zeros((len(X), len(kinds))), np.full(len(X), np.nan)
            if rows.any():  # arrays, one frame at the end: masked .loc writes cost 3 ms a request
                p = self._variants(outcome, X if rows.all() else X[rows], kinds)
                values[rows], base[rows] = self._blend(outcome, p, kinds).T, p[0]
            frame = pd.DataFrame(values, index=X.index, columns=kinds)
            frame["_base"] = base
            out[outcome] = frame
        return out

    def _blend(self, outcome: str, p: np.ndarray, kinds: list[str]) -> np.ndarray:
        """Uplifts (kinds x rows) from the variants' probabilities, blended with the prior's (:meth:`shrink_toward`)."""
        learned = p[1:] - p[0]
        shifts = self.prior.get(outcome)
        if not shifts:
            return learned
        base = np.clip(p[0], 1e-6, 1 - 1e-6)
        logit = np.log(base / (1 - base))
        out = learned.copy()
        for i, k in enumerate(kinds):
            w = self.prior_weight.get(k, 0.0)
            if w > 0:
                out[i] = (1 - w) * learned[i] + w * (1 / (1 + np.exp(-(logit + shifts.get(k, 0.0)))) - p[0])
        return out

    def source(self, kind: str) -> str:
        """``learned`` where the model's own estimate carries most of the weight, else ``prior``."""
        return "prior" if self.prior_weight.get(kind, 0.0) >= 0.5 else "learned"

    def _variants(self, outcome: str, X: pd.DataFrame, kinds: list[str]) -> np.ndarray:
        """P(outcome), shape (1 + len(kinds), rows): with no action, then with one action of each kind."""
        none = np.zeros((len(X), len(KINDS)))
        if self.flat is not None:  # one walk of each tree per row, forking at the treatment splits
            m = np.column_stack([X[self.features].to_numpy(dtype=float), none])
            columns = np.array([len(self.features) + KINDS.index(k) for k in kinds], np.int64)
            bag = self.flat[outcome]  # boosters on two threads (the walk holds no GIL), averaged in bag order
            return np.mean(list(_pool().map(lambda b: predict_variants(b, m, columns), bag)), axis=0).T
        variants = [none]
        for k in kinds:
            t = none.copy()
            t[:, KINDS.index(k)] = 1.0
            variants.append(t)
        # one call over every variant: the boosters' per-call overhead is paid once
        return self.predict(outcome, pd.concat([X] * len(variants)), np.vstack(variants)).reshape(len(variants), -1)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for outcome, bag in self.boosters.items():
            for i, booster in enumerate(bag):
                booster.save_model(str(folder / f"{outcome}.{i}.txt"))
        (folder / "effect.json").write_text(json.dumps({"features": self.features, "treatments": TREATMENTS,
                                                        "metrics": self.metrics, "horizon_days": self.horizon_days,
                                                        "bags": {o: len(b) for o, b in self.boosters.items()},
                                                        "examples": self.examples}, indent=1))

    @classmethod
    def load(cls, folder: Path) -> EffectModel:
        meta = json.loads((folder / "effect.json").read_text())
        if meta["treatments"] != TREATMENTS:
            raise ValueError(f"{folder}: the bundle's treatments {meta['treatments']} differ from {TREATMENTS}")
        bags = meta.get("bags")
        if bags is None:  # a bundle from before bagging: one booster per outcome
            boosters = {o: [lgb.Booster(model_file=str(folder / f"{o}.txt"))] for o in OUTCOMES}
        else:
            boosters = {o: [lgb.Booster(model_file=str(folder / f"{o}.{i}.txt")) for i in range(n)]
                        for o, n in bags.items()}
        return cls(meta["features"], boosters, meta["metrics"], meta["horizon_days"],
                   {str(k): int(v) for k, v in meta.get("examples", {}).items()})


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="effects")


def fit_effect_model(rows: pd.DataFrame, params: dict[str, object] | None = None, bags: int = BAGS) -> EffectModel:
    """Train on all cutoffs but the last two, stop early on the second last, report on the last.

    Each outcome gets ``bags`` boosters, seeded apart; the model predicts their mean.
    """
    if bags < 1:
        raise ValueError(f"bags must be at least 1, not {bags}")
    features = [c for c in rows.columns if c not in ("rep_id", "contact_id", "account_id", "cutoff", *OUTCOMES,
                                                     *TREATMENTS)]
    features = [c for c in features if pd.api.types.is_numeric_dtype(rows[c])]
    cutoffs = sorted(rows["cutoff"].unique())
    valid_c, test_c = cutoffs[-2], cutoffs[-1]
    cols = [*features, *TREATMENTS]
    boosters: dict[str, list[lgb.Booster]] = {}
    metrics = {}
    for outcome in OUTCOMES:
        data = rows[rows[outcome].notna()]
        parts = {"train": data[data["cutoff"] < valid_c], "valid": data[data["cutoff"] == valid_c],
                 "test": data[data["cutoff"] == test_c]}
        single = [name for name, part in parts.items() if part[outcome].nunique() < 2]
        if single and outcome == "win" and data.empty:
            continue  # no deals in the data: no P(win) head, and no action moves P(win)
        if single:
            raise ValueError(f"effect model ({outcome}): the {single[0]} cutoff has one label value only")
        train = lgb.Dataset(parts["train"][cols].to_numpy(float), label=parts["train"][outcome].to_numpy(),
                            free_raw_data=False)
        valid = lgb.Dataset(parts["valid"][cols].to_numpy(float), label=parts["valid"][outcome].to_numpy(),
                            reference=train, free_raw_data=False)
        boosters[outcome] = []
        for i in range(bags):
            p = lgb_params("effect", params)
            base = int(p.get("seed", 7))  # the bag's boosters differ only in their row and feature samples
            p.update(seed=base + i, bagging_seed=base + 4 + i, feature_fraction_seed=base + 6 + i)
            booster = lgb.train(p, train, num_boost_round=300, valid_sets=[valid],
                                callbacks=[lgb.early_stopping(40, verbose=False)])
            boosters[outcome].append(booster if booster.best_iteration <= 0 else _best(booster))
        test_p = np.mean([b.predict(parts["test"][cols].to_numpy(float)) for b in boosters[outcome]], axis=0)
        metrics[outcome] = {**evaluate(parts["test"][outcome].to_numpy(), test_p),
                            "n_train": float(len(parts["train"])), "n_test": float(len(parts["test"])),
                            "bags": float(bags)}
    learned_from = rows[rows["cutoff"] < test_c]  # what the boosters were fit and stopped on
    examples = {k: int((learned_from[f"t_{k}"] > 0).sum()) for k in KINDS}
    return EffectModel(features, boosters, metrics, examples=examples)


def _best(booster: lgb.Booster) -> lgb.Booster:
    """A booster that holds the best iteration only (so ``predict`` needs no iteration argument)."""
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))

