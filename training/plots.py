"""Figures logged with every model: ROC, precision-recall, calibration, importance, contribution summary."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402


def curves(y: np.ndarray, scores: dict[str, np.ndarray], folder: Path) -> list[Path]:
    """ROC, PR and calibration plots comparing the model with its baselines (and the oracle if given)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in scores.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test period)")
    ax.legend()
    paths.append(_save(fig, folder / "roc.png"))
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in scores.items():
        prec, rec, _ = precision_recall_curve(y, p)
        ax.plot(rec, prec, label=name)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test period)")
    ax.legend()
    paths.append(_save(fig, folder / "pr.png"))
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in scores.items():
        order = np.argsort(p)
        bins = np.array_split(order, 10)
        ax.plot([p[b].mean() for b in bins], [y[b].mean() for b in bins], "o-", label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", title="Calibration (deciles)")
    ax.legend()
    paths.append(_save(fig, folder / "calibration.png"))
    return paths


def importance(gain: pd.Series, contributions: pd.DataFrame, folder: Path, top: int = 20) -> list[Path]:
    fig, ax = plt.subplots(figsize=(6, 6))
    gain.head(top)[::-1].plot.barh(ax=ax)
    ax.set(title="Feature importance (gain)")
    paths = [_save(fig, folder / "importance.png")]
    mean_abs = contributions.drop(columns="bias").abs().mean().sort_values(ascending=False).head(top)
    fig, ax = plt.subplots(figsize=(6, 6))
    mean_abs[::-1].plot.barh(ax=ax)
    ax.set(title="Mean |SHAP contribution| (log-odds, test period)")
    paths.append(_save(fig, folder / "shap_summary.png"))
    return paths


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
