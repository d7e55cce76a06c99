"""Off-policy value of a plan from logs alone (for customers without a simulator): doubly robust.

The logged unit is a pair at a cutoff: features x, the actions the rep took in the next 14 days t,
and whether the tie became effective y. A plan adds actions t_pi to some pairs. The estimate is

    V = sum_i q(x_i, t_i + t_pi_i) + w_i * (y_i - q(x_i, t_i))

with q the effect model (P(effective | x, t)) and w_i = 1 for pairs the plan leaves alone (their
outcome is on-policy), else 1{the logged actions already included the planned ones} / P(that | x)
(a propensity per action kind, clipped). The direct method is the first term alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.actions import KINDS
from training.hyperparams import lgb_params
from training.uplift import TREATMENTS, EffectModel

CLIP = 0.02


@dataclass
class OffPolicyEstimate:
    value: float  # doubly robust
    direct: float  # direct method (model only)
    logged: float  # what the logging policy got (sum of y)
    treated: int  # pairs the plan acts on
    matched: int  # of those, pairs whose logged actions already included the plan

    def as_dict(self) -> dict[str, float | int]:
        return self.__dict__.copy()


def propensities(rows: pd.DataFrame, features: list[str]) -> dict[str, lgb.Booster]:
    """P(the rep did at least one action of kind k in the window | x), one small booster per kind."""
    out = {}
    X = rows[features].to_numpy(dtype=float)
    for k in KINDS:
        y = (rows[f"t_{k}"] > 0).to_numpy(dtype=float)
        if 0 < y.sum() < len(y):
            out[k] = lgb.train(lgb_params("propensity"), lgb.Dataset(X, label=y), num_boost_round=100)
    return out


def estimate(rows: pd.DataFrame, plan: pd.DataFrame, model: EffectModel,
             propensity: dict[str, lgb.Booster]) -> OffPolicyEstimate:
    """Value (expected effective ties among ``rows``) if the plan's actions were added to what was logged.

    ``plan`` has rep_id, contact_id and one column ``t_<kind>`` per kind with the planned counts.
    """
    merged = rows.merge(plan.rename(columns={c: f"pi_{c}" for c in TREATMENTS}), on=["rep_id", "contact_id"],
                        how="left")
    t_pi = merged[[f"pi_{c}" for c in TREATMENTS]].fillna(0.0).to_numpy()
    t_log = merged[TREATMENTS].to_numpy(dtype=float)
    y = merged["effective"].to_numpy(dtype=float)
    q_target = model.predict("effective", merged, t_log + t_pi)
    q_logged = model.predict("effective", merged, t_log)
    treated = t_pi.sum(axis=1) > 0
    matched = treated & np.all(t_log >= t_pi, axis=1)
    X = merged[model.features].to_numpy(dtype=float)
    p = np.ones(len(merged))
    for j, k in enumerate(KINDS):
        need = treated & (t_pi[:, j] > 0)
        if need.any():
            pk = propensity[k].predict(X[need]) if k in propensity else np.full(need.sum(), CLIP)
            p[need] *= np.clip(pk, CLIP, 1.0)
    w = np.where(treated, matched / p, 1.0)
    return OffPolicyEstimate(float((q_target + w * (y - q_logged)).sum()), float(np.where(treated, q_target, y).sum()),
                             float(y.sum()), int(treated.sum()), int(matched.sum()))
