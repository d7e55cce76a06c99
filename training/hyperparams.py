"""Every hyper-parameter of every model, in one place: LightGBM's base parameters and what each model
kind changes, and the classifier options per kind. Trainers read them from here, nowhere else."""

from __future__ import annotations

from typing import Any

LGB_BASE: dict[str, Any] = {
    "objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 40,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "verbose": -1, "num_threads": 2, "seed": 7,
}
"""LightGBM parameters every model starts from."""

LGB_BY_MODEL: dict[str, dict[str, Any]] = {
    # deals are few (about 1,900 in the demo world's training window): smaller, slower trees
    "deal": {"num_leaves": 7, "learning_rate": 0.03},
    # the effect model's S-learner sees every (pair, cutoff): larger leaves, faster learning
    "effect": {"min_data_in_leaf": 100, "learning_rate": 0.1},
    # the off-policy check's propensity of each action kind: small, quick boosters
    "propensity": {"learning_rate": 0.1, "min_data_in_leaf": 200},
}
"""What each model kind changes in :data:`LGB_BASE`."""

LGB_THIN: dict[str, Any] = {"num_leaves": 4, "min_data_in_leaf": 5, "lambda_l2": 10.0,
                            "min_sum_hessian_in_leaf": 1e-3, "learning_rate": 0.05}
"""Strong regularisation when the positives are few (``training.train.THIN_POSITIVES``)."""

CLASSIFIER_OPTIONS: dict[str, dict[str, Any]] = {
    # Deals: mixed half and half with a logistic regression, which beat both the trees alone and the
    # logistic baseline on two demo worlds; the ~700 validation deals choose the number of trees and
    # then join the training rows, with Platt's sigmoid fit on cross-fitted scores of both periods
    # (closer to the true P(win) than centred isotonic on the same scores, on each of the three demo
    # worlds compared: docs/benchmarks.md).
    "deal": {"linear_weight": 0.5, "refit": True, "calibration": "sigmoid"},
}
"""``GuanxiClassifier`` options per model kind, over its defaults."""


def lgb_params(kind: str, *overrides: dict[str, Any] | None) -> dict[str, Any]:
    """LightGBM parameters for a model kind: the base, the kind's changes, then each override in order."""
    out = {**LGB_BASE, **LGB_BY_MODEL.get(kind, {})}
    for extra in overrides:
        out.update(extra or {})
    return out
