"""The Guanxi classifier: LightGBM with early stopping on validation, then isotonic calibration.

Follows scikit-learn's contract where it fits: ``__init__`` stores parameters, ``fit`` returns
``self``, learned state ends in ``_``.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

DEFAULT_PARAMS: dict[str, object] = {
    "objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 40,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "verbose": -1, "num_threads": 2, "seed": 7,
}


class GuanxiClassifier:
    """Calibrated gradient-boosted trees over a fixed, ordered feature list."""

    def __init__(self, params: dict[str, object] | None = None, num_boost_round: int = 1000,
                 early_stopping_rounds: int = 50) -> None:
        self.params = params
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds

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

    def fit(self, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray) -> GuanxiClassifier:
        self.features_ = list(X.columns)
        self.categories_ = {c: sorted(X[c].dropna().astype(str).unique().tolist())
                            for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])}
        params = {**DEFAULT_PARAMS, **(self.params or {})}
        train = lgb.Dataset(self._matrix(X), label=y, categorical_feature=list(self.categories_) or "auto")
        valid = lgb.Dataset(self._matrix(X_val), label=y_val, reference=train)
        self.booster_ = lgb.train(params, train, num_boost_round=self.num_boost_round, valid_sets=[valid],
                                  callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)])
        raw = self.booster_.predict(self._matrix(X_val), num_iteration=self.booster_.best_iteration)
        self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y_val)
        self.best_iteration_ = int(self.booster_.best_iteration)
        return self

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(self._matrix(X), num_iteration=self.best_iteration_)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.clip(self.calibrator_.predict(self.raw_score(X)), 1e-6, 1 - 1e-6)
        return np.column_stack([1 - p, p])

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions (LightGBM ``pred_contrib``, log-odds); the last column is the bias."""
        contrib = self.booster_.predict(self._matrix(X), num_iteration=self.best_iteration_, pred_contrib=True)
        return pd.DataFrame(contrib, columns=[*self.features_, "bias"], index=X.index)

    def importance(self) -> pd.Series:
        gain = self.booster_.feature_importance(importance_type="gain", iteration=self.best_iteration_)
        return pd.Series(gain, index=self.features_).sort_values(ascending=False)

    # --- bundles: what serving loads without an MLflow server
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(folder / "booster.txt"), num_iteration=self.best_iteration_)
        (folder / "model.json").write_text(json.dumps({
            "features": self.features_, "categories": self.categories_, "best_iteration": self.best_iteration_,
            "params": {**DEFAULT_PARAMS, **(self.params or {})},
            "calibration": {"x": self.calibrator_.X_thresholds_.tolist(), "y": self.calibrator_.y_thresholds_.tolist()},
        }, indent=1))

    @classmethod
    def load(cls, folder: Path) -> GuanxiClassifier:
        meta = json.loads((folder / "model.json").read_text())
        model = cls(params=meta["params"])
        model.features_, model.categories_ = meta["features"], meta["categories"]
        model.booster_ = lgb.Booster(model_file=str(folder / "booster.txt"))
        model.best_iteration_ = 0  # the saved booster holds the best iteration only
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        x, y = np.array(meta["calibration"]["x"]), np.array(meta["calibration"]["y"])
        model.calibrator_ = iso.fit(x, y) if len(x) > 1 else iso.fit([0.0, 1.0], [float(y[0])] * 2)
        return model
