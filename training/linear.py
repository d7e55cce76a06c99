"""A fitted logistic regression as plain numbers, so a bundle can carry it without pickles.

The Guanxi classifier mixes these log-odds with its trees' when ``linear_weight`` > 0: with a thousand
deals a linear model finds the slopes that trees approximate by steps, the trees find the thresholds and
interactions it cannot, and their mean beats either (docs/benchmarks.md, deal model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from training.baselines import LogisticBaseline


@dataclass
class LinearScore:
    """Median imputation, standardisation and one-hot categories into fixed coefficients."""

    numeric: list[str]
    medians: list[float]
    means: list[float]
    scales: list[float]
    coef_numeric: list[float]
    levels: dict[str, list[str]]
    coef_levels: dict[str, list[float]]
    intercept: float

    @classmethod
    def from_baseline(cls, baseline: LogisticBaseline) -> LinearScore:
        """Read the coefficients out of a fitted :class:`LogisticBaseline`."""
        pre, logistic = baseline.pipeline_[0], baseline.pipeline_[-1]
        coef = logistic.coef_[0]
        numeric, categorical = list(pre.transformers_[0][2]), list(pre.transformers_[1][2])
        imputer, scaler = pre.named_transformers_["num"][0], pre.named_transformers_["num"][1]
        n = len(numeric)
        levels, coef_levels, at = {}, {}, n
        if categorical:
            onehot = pre.named_transformers_["cat"][-1]
            for col, cats in zip(categorical, onehot.categories_, strict=True):
                levels[col] = [str(c) for c in cats]
                coef_levels[col] = coef[at:at + len(cats)].tolist()
                at += len(cats)
        return cls(numeric, imputer.statistics_.tolist() if n else [], scaler.mean_.tolist() if n else [],
                   scaler.scale_.tolist() if n else [], coef[:n].tolist(), levels, coef_levels,
                   float(logistic.intercept_[0]))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each feature's share of the log-odds (the intercept is left out)."""
        out: dict[str, np.ndarray] = {}
        if self.numeric:
            try:  # the common case, all numeric dtypes, without a per-column conversion
                values = X[self.numeric].to_numpy(dtype=float)
            except (TypeError, ValueError):
                values = X[self.numeric].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
            values = np.where(np.isfinite(values), values, np.asarray(self.medians))
            z = (values - np.asarray(self.means)) / np.asarray(self.scales)
            out.update(zip(self.numeric, (z * np.asarray(self.coef_numeric)).T, strict=True))
        for col, cats in self.levels.items():
            lookup = dict(zip(cats, self.coef_levels[col], strict=True))
            values = X[col].astype("object").where(X[col].notna(), "missing").astype(str)
            out[col] = values.map(lookup).fillna(0.0).to_numpy(dtype=float)  # an unseen level adds nothing
        return pd.DataFrame(out, index=X.index)

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        return self.contributions(X).to_numpy().sum(axis=1) + self.intercept

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
