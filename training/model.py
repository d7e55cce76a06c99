"""The Guanxi classifier: LightGBM with early stopping on validation, then calibration on validation
(centred isotonic, or Platt's sigmoid when there are too few independent outcomes: training/calibration.py).

With ``linear_weight`` > 0 the log-odds are a weighted mean of the trees' and a logistic regression's
fitted on the same rows: the deal model's choice, where a thousand-odd deals leave trees alone short of
the linear baseline and the mean beats both (docs/benchmarks.md).

With ``refit`` the validation rows only choose the number of trees; the scorer is then fit again on the
training and validation rows together, and calibrated on their cross-fitted (out-of-fold) scores. The deal
model's choice: a few hundred validation deals leave a calibrator fit on them alone ~0.02 off in its
intercept, and their outcomes are worth more as training and calibration data (docs/benchmarks.md). When
the validation period's outcomes disagree with that pooled calibration beyond their noise
(:data:`DRIFT_Z`), the data has drifted and the latest period is the better guide: the refit is declined.

Follows scikit-learn's contract where it fits: ``__init__`` stores parameters, ``fit`` returns
``self``, learned state ends in ``_``.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from training.baselines import LogisticBaseline
from training.calibration import Calibration, fit_calibration
from training.hyperparams import LGB_BASE
from training.linear import LinearScore

DEFAULT_PARAMS = LGB_BASE  # what a classifier's ``params`` are laid over


DRIFT_Z = 2.58
"""Standard errors (two-sided 1 %) between the validation outcomes and the pooled calibration's mean on
them beyond which a refit is declined: six demo worlds read 0.2–1.5, maven-crm's drifting win rate 3.1."""


def drift_z(y: np.ndarray, p: np.ndarray, groups: np.ndarray) -> float:
    """How many standard errors the outcomes ``y`` lie above the predictions ``p``, with each group's rows
    (a deal seen at several cutoffs) one cluster of the standard error."""
    residual = pd.Series(np.asarray(y, dtype=float) - p).groupby(np.asarray(groups)).sum().to_numpy()
    spread = float(np.sqrt(np.sum(residual**2)))
    return float(residual.sum() / spread) if spread > 0 else 0.0


class GuanxiClassifier:
    """Calibrated gradient-boosted trees over a fixed, ordered feature list."""

    def __init__(self, params: dict[str, object] | None = None, num_boost_round: int = 1000,
                 early_stopping_rounds: int = 50, linear_weight: float = 0.0, calibration: str = "auto",
                 refit: bool = False, folds: int = 5) -> None:
        self.params = params
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.linear_weight = linear_weight
        self.calibration = calibration
        self.refit = refit
        self.folds = folds

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

    def _array(self, X: pd.DataFrame) -> np.ndarray:
        """``_matrix`` as LightGBM turns it into numbers (categories as their codes, unknown ones NaN),
        built column by column: prediction on a few hundred rows spent 12 ms in pandas conversions."""
        missing = [f for f in self.features_ if f not in X.columns]
        if missing:
            raise ValueError(f"missing feature columns: {', '.join(missing)}")
        out = np.empty((len(X), len(self.features_)))
        for j, col in enumerate(self.features_):
            values = X[col]
            if col in self.categories_:  # a level's index, as pd.Categorical's codes (NaN: not a level)
                index = {level: float(i) for i, level in enumerate(self.categories_[col])}
                out[:, j] = [index.get(v, np.nan) for v in values.astype("object").tolist()]
            elif values.dtype == np.float64:
                out[:, j] = values.to_numpy()
            else:
                out[:, j] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return out

    def fit(self, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray,
            val_outcomes: int | None = None, groups: np.ndarray | None = None,
            val_groups: np.ndarray | None = None) -> GuanxiClassifier:
        """``val_outcomes``: independent outcomes in the validation rows (default: one per row), which
        ``calibration="auto"`` chooses by. ``groups`` / ``val_groups``: the entity of each row (a deal seen
        at several cutoffs), so that ``refit``'s folds keep an entity's rows together."""
        if not 0.0 <= self.linear_weight < 1.0:
            raise ValueError(f"linear_weight must be in [0, 1), got {self.linear_weight}")
        self.features_ = list(X.columns)
        seen = pd.concat([X, X_val]) if self.refit else X
        self.categories_ = {c: sorted(seen[c].dropna().astype(str).unique().tolist())
                            for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])}
        y, y_val = np.asarray(y), np.asarray(y_val)
        self.base_rate_ = float(np.mean(np.concatenate([y, y_val]))) if len(y) + len(y_val) else None
        self.booster_, self.linear_ = self._fit_scorer(X, y, self.num_boost_round, (X_val, y_val))
        self.best_iteration_ = self.stopped_at_ = int(self.booster_.best_iteration)
        entities = self._groups(groups, len(y), val_groups, len(y_val)) if self.refit else None
        folds = self._refit_folds(np.concatenate([y, y_val]), entities) if entities is not None else None
        self.refit_ = False
        self.drift_z_: float | None = None
        if folds is not None and entities is not None and self._refit(X, y, X_val, y_val, folds, entities):
            return self
        self.calibration_ = fit_calibration(self.raw_score(X_val), y_val, self.calibration, val_outcomes)
        return self

    def _refit(self, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray,
               folds: list[tuple[np.ndarray, np.ndarray]], entities: np.ndarray) -> bool:
        """Calibration on cross-fitted scores of both periods and the scorer fit on both, unless the
        validation outcomes disagree with that calibration beyond their noise (then nothing changes)."""
        X_all, y_all = pd.concat([X, X_val]), np.concatenate([y, y_val])
        oof = np.empty(len(y_all))
        for fit_rows, held in folds:
            rounds = self._rounds(len(fit_rows), len(y))
            booster, linear = self._fit_scorer(X_all.iloc[fit_rows], y_all[fit_rows], rounds)
            oof[held] = self._raw(booster, linear, rounds, X_all.iloc[held])
        pooled = fit_calibration(oof, y_all, self.calibration, len(np.unique(entities)))
        z = drift_z(y_val, pooled(oof[len(y):]), entities[len(y):])
        self.drift_z_ = z
        if abs(z) > DRIFT_Z:
            return False
        self.refit_, self.calibration_ = True, pooled
        self.best_iteration_ = self._rounds(len(y_all), len(y))
        self.booster_, self.linear_ = self._fit_scorer(X_all, y_all, self.best_iteration_)
        return True

    def _rounds(self, rows: int, train_rows: int) -> int:
        """Trees for a fit on ``rows`` rows: the early-stopped count, scaled with the data it is fit on."""
        return max(1, round(self.stopped_at_ * rows / train_rows))

    @staticmethod
    def _groups(groups: np.ndarray | None, n: int, val_groups: np.ndarray | None, n_val: int) -> np.ndarray:
        first = np.asarray(groups) if groups is not None else np.arange(n).astype(str)
        second = np.asarray(val_groups) if val_groups is not None else (np.arange(n_val) + n).astype(str)
        return np.concatenate([first.astype(str), second.astype(str)])

    def _refit_folds(self, y_all: np.ndarray, entities: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """Folds over training and validation rows by entity, or None when some fold could not be fit (too
        few entities, or one label value left): then the calibration is fit on validation as usual."""
        if self.folds < 2 or len(np.unique(entities)) < self.folds:
            return None
        folds = list(GroupKFold(self.folds).split(entities, groups=entities))
        if any(len(np.unique(y_all[fit_rows])) < 2 for fit_rows, _ in folds):
            return None
        return folds

    def _fit_scorer(self, X: pd.DataFrame, y: np.ndarray, rounds: int,
                    valid: tuple[pd.DataFrame, np.ndarray] | None = None) -> tuple[lgb.Booster, LinearScore | None]:
        """Trees (early-stopped on ``valid`` when given, else exactly ``rounds``) and the linear model."""
        params = {**DEFAULT_PARAMS, **(self.params or {})}
        linear = LinearScore.from_baseline(LogisticBaseline().fit(X, y)) if self.linear_weight else None
        train = lgb.Dataset(self._matrix(X), label=y, categorical_feature=list(self.categories_) or "auto")
        if valid is None:
            return lgb.train(params, train, num_boost_round=rounds), linear
        held = lgb.Dataset(self._matrix(valid[0]), label=valid[1], reference=train)
        booster = lgb.train(params, train, num_boost_round=rounds, valid_sets=[held],
                            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)])
        return booster, linear

    def _raw(self, booster: lgb.Booster, linear: LinearScore | None, iteration: int, X: pd.DataFrame) -> np.ndarray:
        log_odds = np.asarray(booster.predict(self._array(X), num_iteration=iteration, raw_score=True))
        if linear is not None:
            w = self.linear_weight
            log_odds = (1 - w) * log_odds + w * linear.log_odds(X[self.features_])
        return 1.0 / (1.0 + np.exp(-log_odds))

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probability: the trees' log-odds, mixed with the linear model's if it has one."""
        return self._raw(self.booster_, self.linear_, self.best_iteration_, X)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.calibration_(self.raw_score(X))
        return np.column_stack([1 - p, p])

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions to the log-odds (LightGBM ``pred_contrib``, mixed with each feature's
        linear term like the log-odds are); the last column is the bias. They sum to the log-odds."""
        contrib = self.booster_.predict(self._array(X), num_iteration=self.best_iteration_, pred_contrib=True)
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
            "calibration": self.calibration_.to_dict(), "refit": self.refit_,
            "linear_weight": self.linear_weight, "linear": None if self.linear_ is None else self.linear_.to_dict(),
            "base_rate": getattr(self, "base_rate_", None),
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
        model.refit_ = bool(meta.get("refit", False))
        model.base_rate_ = meta.get("base_rate")  # the label's rate in the training rows; None in old bundles
        return model
