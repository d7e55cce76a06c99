"""Evaluation as pure functions of (truth, score), in the style of microsoft/recommenders."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(average_precision_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(brier_score_loss(y, np.clip(p, 0, 1)))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean prediction| over equal-count bins, weighted by bin size.

    ``y`` may also be true probabilities (the simulator's): the error is then against the truth,
    without the noise of drawn outcomes."""
    if len(y) == 0:
        return float("nan")
    order = np.argsort(p, kind="stable")
    err = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            err += len(chunk) * abs(float(np.mean(y[chunk])) - float(np.mean(p[chunk])))
    return err / len(y)


def ece_if_calibrated(p: np.ndarray, groups: np.ndarray | None = None, draws: int = 200, bins: int = 10,
                      seed: int = 0) -> np.ndarray:
    """ECE of a perfectly calibrated scorer on these rows, once per draw: outcomes drawn from ``p``
    itself, one draw per group (an entity seen at several cutoffs has one outcome). Its median is the
    noise floor an ECE on these rows has to be read against; bins as in :func:`expected_calibration_error`."""
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return np.full(draws, np.nan)
    codes = np.arange(len(p)) if groups is None else pd.factorize(np.asarray(groups))[0]
    chunks = [c for c in np.array_split(np.argsort(p, kind="stable"), bins) if len(c)]
    rng = np.random.default_rng(seed)
    out = np.empty(draws)
    for start in range(0, draws, 50):  # 50 draws at a time keep the (draws, rows) matrix small
        n = min(50, draws - start)
        y = rng.random((n, codes.max() + 1))[:, codes] < p
        out[start:start + n] = sum(len(c) * np.abs(y[:, c].mean(axis=1) - p[c].mean()) for c in chunks) / len(p)
    return out


def lift_top_decile(y: np.ndarray, p: np.ndarray) -> float:
    """Positive rate among the top 10 % of scores over the overall positive rate."""
    base = float(np.mean(y))
    if base == 0 or len(y) < 10:
        return float("nan")
    top = np.argsort(-p, kind="stable")[: max(1, len(y) // 10)]
    return float(np.mean(y[top])) / base


def bootstrap_auc_ci(y: np.ndarray, p: np.ndarray, draws: int = 1000, level: float = 0.95,
                     seed: int = 0) -> tuple[float, float]:
    """Percentile interval of AUC over rows resampled with replacement (draws with one class are skipped):
    on a few dozen positives the AUC alone says little without it."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            values.append(roc_auc_score(y[idx], p[idx]))
    if not values:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


METRICS = {"auc": auc, "pr_auc": pr_auc, "brier": brier, "ece": expected_calibration_error,
           "lift_top_decile": lift_top_decile}


def evaluate(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Every metric, plus the counts they rest on."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    out = {name: fn(y, p) for name, fn in METRICS.items()}
    out.update(n=float(len(y)), positive_rate=float(np.mean(y)) if len(y) else float("nan"))
    return out


def at_threshold(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, precision, recall and the confusion matrix when ``p >= threshold`` is called positive."""
    y, hit = np.asarray(y, dtype=bool), np.asarray(p, dtype=float) >= threshold
    tp, fp = int((hit & y).sum()), int((hit & ~y).sum())
    fn, tn = int((~hit & y).sum()), int((~hit & ~y).sum())
    return {"threshold": float(threshold), "accuracy": (tp + tn) / max(1, len(y)),
            "precision": tp / (tp + fp) if tp + fp else float("nan"), "recall": tp / (tp + fn) if tp + fn else
            float("nan"), "tp": tp, "fp": fp, "tn": tn, "fn": fn}


def operating_points(y: np.ndarray, p: np.ndarray) -> dict[str, dict[str, float]]:
    """The figures a user picks a threshold from: at the threshold that maximises accuracy on these rows
    (optimistic: chosen on the rows it is measured on), and at the one that calls the base rate's share of
    rows positive."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if not len(y):
        return {}
    candidates = np.unique(np.concatenate([p, [np.inf]]))
    order = np.argsort(-p)
    sorted_y, sorted_p = y[order], p[order]
    # positives called at each distinct threshold (p >= t): a cumulative count, no loop over thresholds
    tp_cum = np.concatenate([[0], np.cumsum(sorted_y)])
    called = np.searchsorted(-sorted_p, -candidates, side="right")
    accuracy = (tp_cum[called] + (len(y) - called) - (y.sum() - tp_cum[called])) / len(y)
    best = float(candidates[int(np.argmax(accuracy))])
    rate = float(y.mean())
    at_rate = float(np.quantile(p, 1 - rate)) if 0 < rate < 1 else 0.5
    return {"accuracy_max": at_threshold(y, p, best), "base_rate": at_threshold(y, p, at_rate)}


def evaluate_slices(frame: pd.DataFrame, label: str, score: str, by: list[str], min_size: int = 50) -> pd.DataFrame:
    """The same metrics per value of each slicing column (slices smaller than ``min_size`` are left out)."""
    rows = []
    for col in by:
        if col not in frame.columns:
            continue
        for value, part in frame.groupby(col, observed=True, dropna=False):
            if len(part) >= min_size:
                rows.append({"slice": col, "value": str(value), **evaluate(part[label].to_numpy(),
                                                                           part[score].to_numpy())})
    return pd.DataFrame(rows)
