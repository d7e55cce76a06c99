"""Baselines trained and logged beside every model: logistic regression on the same features, and the
hand-weighted activity health score that CRM suites ship."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ACTIVITY_WEIGHTS: dict[str, float] = {
    "n_visit_90d": 4.0, "n_meeting_90d": 3.0, "n_event_90d": 3.0, "n_video_call_90d": 2.5, "n_call_90d": 2.0,
    "n_email_90d": 1.0, "n_message_90d": 0.5, "n_social_90d": 0.25,
    "activity_30d": 2.0, "activity_90d": 1.0,
}


class Scorer(Protocol):
    """What the model and every baseline offer the evaluation: P(label) per row, scikit-learn style."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...


class LogisticBaseline:
    """Standardised numeric features (median-imputed) and one-hot categories into a logistic regression."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> LogisticBaseline:
        numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
        categorical = [c for c in X.columns if c not in numeric]
        pre = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()),
             numeric),
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                  OneHotEncoder(handle_unknown="ignore")), categorical),
        ])
        self.pipeline_ = make_pipeline(pre, LogisticRegression(max_iter=2000, C=1.0))
        self.pipeline_.fit(self._prep(X, categorical), y)
        self.categorical_ = categorical
        return self

    @staticmethod
    def _prep(X: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
        out = X.replace([np.inf, -np.inf], np.nan)
        for c in categorical:
            out[c] = out[c].astype("object").where(out[c].notna(), "missing").astype(str)
        return out

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.predict_proba(self._prep(X, self.categorical_))


class ActivityHealthScore:
    """Activity counts weighted by type, scaled so the 95th percentile of training scores is 100."""

    def fit(self, X: pd.DataFrame, y: np.ndarray | None = None) -> ActivityHealthScore:
        self.weights_ = {k: v for k, v in ACTIVITY_WEIGHTS.items() if k in X.columns}
        if not self.weights_:
            raise ValueError("no activity columns to score")
        raw = self._raw(X)
        self.scale_ = float(np.percentile(raw, 95)) or 1.0
        return self

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        return sum(X[k].fillna(0).to_numpy(dtype=float) * w for k, w in self.weights_.items())

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Health 0-100."""
        return np.clip(100 * self._raw(X) / self.scale_, 0, 100)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.score(X) / 100
        return np.column_stack([1 - p, p])
