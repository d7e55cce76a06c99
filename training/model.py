"""The Guanxi classifier: LightGBM with early stopping on validation, then calibration on validation
(centred isotonic, or Platt's sigmoid when there are too few independent outcomes: training/calibration.py).

With ``linear_weight`` > 0 the log-odds are a weighted mean of the trees' and a logistic regression's
fitted on the same rows: the deal model's choice, where a thousand-odd deals leave trees alone short of
the linear baseline and the mean beats both (docs/benchmarks.md).

Follows scikit-learn's contract where it fits: ``__init__`` stores parameters, ``fit`` returns
``self``, learned state ends in ``_``.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.baselines import LogisticBaseline
from training.calibration import Calibration, fit_calibration
from training.linear import LinearScore

DEFAULT_PARAMS: dict[str, object] = {
    "objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 40,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "verbose": -1, "num_threads": 2, "seed": 7,
}


class GuanxiClassifier:
    """Calibrated gradient-boosted trees over a fixed, ordered feature list."""

    def __init__(self, params: dict[str, object] | None = None, num_boost_round: int = 1000,
                 early_stopping_rounds: int = 50, linear_weight: float = 0.0, calibration: str = "auto") -> None:
        self.params = params
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.linear_weight = linear_weight
        self.calibration = calibration

    def _matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [f for f in self.features_ if f not in X.columns]
        if missing:
            raise ValueError(f"missing feature columns: {', '.join(missing)}")
        out = X[self.features_].copy()
        for col, levels in self.categories_.items():
            out[col] = pd.Categorical(out[col].astype("object"), categories=levels)
        for col in out.columns:
            if col not in self.categories_:
                out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
        return out

    def fit(self, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray,
            val_outcomes: int | None = None) -> GuanxiClassifier:
        """``val_outcomes``: independent outcomes in the validation rows (default: one per row), which
        ``calibration="auto"`` chooses by."""
        self.features_ = list(X.columns)
        self.categories_ = {c: sorted(X[c].dropna().astype(str).unique().tolist())
                            for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])}
        params = {**DEFAULT_PARAMS, **(self.params or {})}
        if not 0.0 <= self.linear_weight < 1.0:
            raise ValueError(f"linear_weight must be in [0, 1), got {self.linear_weight}")
        self.linear_ = LinearScore.from_baseline(LogisticBaseline().fit(X, y)) if self.linear_weight else None
        train = lgb.Dataset(self._matrix(X), label=y, categorical_feature=list(self.categories_) or "auto")
        valid = lgb.Dataset(self._matrix(X_val), label=y_val, reference=train)
        self.booster_ = lgb.train(params, train, num_boost_round=self.num_boost_round, valid_sets=[valid],
                                  callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)])
        self.best_iteration_ = int(self.booster_.best_iteration)
        self.calibration_ = fit_calibration(self.raw_score(X_val), y_val, self.calibration, val_outcomes)
        return self

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probability: the trees' log-odds, mixed with the linear model's if it has one."""
        log_odds = self.booster_.predict(self._matrix(X), num_iteration=self.best_iteration_, raw_score=True)
        if self.linear_ is not None:
            w = self.linear_weight
            log_odds = (1 - w) * log_odds + w * self.linear_.log_odds(X[self.features_])
        return 1.0 / (1.0 + np.exp(-log_odds))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.calibration_(self.raw_score(X))
        return np.column_stack([1 - p, p])

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions to the log-odds (LightGBM ``pred_contrib``, mixed with each feature's
        linear term like the log-odds are); the last column is the bias. They sum to the log-odds."""
        contrib = self.booster_.predict(self._matrix(X), num_iteration=self.best_iteration_, pred_contrib=True)
        out = pd.DataFrame(contrib, columns=[*self.features_, "bias"], index=X.index)
        if self.linear_ is not None:
            w = self.linear_weight
            linear = self.linear_.contributions(X[self.features_]).assign(bias=self.linear_.intercept)
            out = (1 - w) * out + w * linear[out.columns]
        return out

    def importance(self) -> pd.Series:
        """Split gain of the trees (the linear model's coefficients are in the bundle's ``linear``)."""
        gain = self.booster_.feature_importance(importance_type="gain", iteration=self.best_iteration_)
        return pd.Series(gain, index=self.features_).sort_values(ascending=False)

    # --- bundles: what serving loads without an MLflow server
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(folder / "booster.txt"), num_iteration=self.best_iteration_)
        (folder / "model.json").write_text(json.dumps({
            "features": self.features_, "categories": self.categories_, "best_iteration": self.best_iteration_,
            "params": {**DEFAULT_PARAMS, **(self.params or {})},
            "calibration": self.calibration_.to_dict(),
            "linear_weight": self.linear_weight, "linear": None if self.linear_ is None else self.linear_.to_dict(),
        }, indent=1))

    @classmethod
    def load(cls, folder: Path) -> GuanxiClassifier:
        meta = json.loads((folder / "model.json").read_text())
        linear = meta.get("linear")  # bundles from before the linear mix have neither key
        model = cls(params=meta["params"], linear_weight=meta.get("linear_weight", 0.0))
        model.calibration_ = Calibration.from_dict(meta["calibration"])
        model.calibration = model.calibration_.kind
        model.features_, model.categories_ = meta["features"], meta["categories"]
        model.linear_ = None if linear is None else LinearScore(**linear)
        model.booster_ = lgb.Booster(model_file=str(folder / "booster.txt"))
        model.best_iteration_ = 0  # the saved booster holds the best iteration only
        return model
