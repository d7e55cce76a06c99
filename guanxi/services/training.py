"""Train any model kind on the store, log and register it in MLflow, export the champion's bundle: the
one path behind `guanxi train`, whatever the kind (every kind follows ``training.trained.Trained``)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from features.frames import Tables
from guanxi.services.errors import Refused
from guanxi.settings import Settings
from training.tracking import Logged, log_trained
from training.trained import EffectRun, Trained

KINDS = ("relationship", "deal", "tie", "effect")
ALL = ("relationship", "deal", "effect")
"""What `guanxi train all` trains."""
OWN_LABEL_KINDS = ("relationship", "deal")


@dataclass(frozen=True)
class TrainOptions:
    params: dict[str, object] = field(default_factory=dict)
    horizon_days: int | None = None
    min_history_days: int = 180
    step_days: int | None = None
    labels: pd.DataFrame | None = None
    labels_source: str = "labels"
    progress: bool = False


@dataclass(frozen=True)
class TrainingOutcome:
    """A registered version (``logged``: its run, aliases and figures) and what training found out."""

    logged: Logged
    bundle: str
    label: str
    calibration: str | None
    notes: list[str]
    n_train: int
    n_test: int
    seconds: float

    def summary(self) -> dict[str, object]:
        """Everything, flat, for ``--json``; ``oracle_auc`` is only known on a simulated world
        (``benchmarks/models.py`` measures it): null here."""
        logged, m = self.logged, self.logged.metrics
        return {**dataclasses.asdict(logged), **{k: v for k, v in dataclasses.asdict(self).items() if k != "logged"},
                **{k: m.get(k) for k in ("auc", "pr_auc", "brier", "ece", "ece_floor")},
                "auc_ci": [m["auc_ci_low"], m["auc_ci_high"]] if "auc_ci_low" in m else None,
                "baseline_auc": {k: v.get("auc") for k, v in logged.baselines.items()}, "oracle_auc": None,
                "model_version": logged.version}


def training_tables(engine: Engine) -> Tables:
    """The store's tables, plus the actions reps reported done (``done_actions``): the effect model counts
    them as treatments where the CRM log does not already show them."""
    from crm.store import done_actions, read_all

    return {**read_all(engine), "done_actions": done_actions(engine)}


def read_own_labels(path: Path, kind: str) -> pd.DataFrame:
    """The user's own labels for a relationship or deal model."""
    from training.own_labels import read_labels

    if kind not in OWN_LABEL_KINDS:
        raise Refused("invalid", f"--labels is for one model, relationship or deal, not {kind}")
    try:
        return read_labels(path, kind)
    except ValueError as exc:
        raise Refused("conflict", f"{kind}: cannot read the labels: {exc}") from None


def fit(tables: Tables, kind: str, options: TrainOptions) -> Trained:
    """Fit one model kind; the only place that knows which trainer each kind has."""
    if kind == "effect":
        from training.uplift import effect_dataset, fit_effect_model

        rows = effect_dataset(tables, horizon_days=options.horizon_days or 180, step_days=options.step_days or 28,
                              min_history_days=options.min_history_days, progress=options.progress)
        return EffectRun(fit_effect_model(rows, options.params or None), rows, dict(options.params))
    from training.train import train

    return train(tables, kind, params=options.params or None, horizon_days=options.horizon_days,
                 min_history_days=options.min_history_days, step_days=options.step_days, progress=options.progress,
                 labels=options.labels, labels_source=options.labels_source)


def train_and_register(tables: Tables, kind: str, settings: Settings, options: TrainOptions) -> TrainingOutcome:
    """Fit, log to MLflow, register as challenger (the first version also champion), export the champion."""
    from training.registry import export_champion

    started = time.perf_counter()
    try:
        trained = fit(tables, kind, options)
    except ValueError as exc:
        raise Refused("conflict", f"{kind}: cannot train: {exc}") from None
    logged = log_trained(trained, options.params)
    bundle = export_champion(logged.model, settings.models_dir)
    return TrainingOutcome(logged, str(bundle), trained.label_name, trained.calibration_kind, list(trained.notes),
                           trained.n_train, trained.n_test, round(time.perf_counter() - started, 1))
