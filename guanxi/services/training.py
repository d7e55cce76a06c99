"""Train any model kind on the store, log and register it in MLflow, export the champion's bundle: the
one path behind `guanxi train`, whatever the kind (every kind follows ``training.trained.Trained``)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
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
    label: str | None = None
    """Another built-in label for the model (set by :func:`plan_all` from the data's readiness)."""
    min_history_given: bool = False
    """True when the user chose ``min_history_days`` (else it may be fitted to a short log)."""


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
    operating_points: dict[str, dict[str, float]] = field(default_factory=dict)
    """Test (or out-of-fold) figures at the accuracy-maximising threshold and at the base rate; the scores
    themselves are the run's ``evaluation/test_scores.parquet``."""

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


@dataclass(frozen=True)
class Skipped:
    model: str
    why: str


@dataclass(frozen=True)
class TrainingRun:
    """Every model trained (in order) and every one skipped, with why."""

    trained: list[TrainingOutcome]
    skipped: list[Skipped]


def plan_models(tables: Tables, kinds: tuple[str, ...], options: TrainOptions, only_ready: bool
                ) -> tuple[list[tuple[str, TrainOptions]], list[Skipped]]:
    """Options for each model, fitted to the data's readiness: the relationship model's label (tie
    persistence without revenue-linked outcomes) and windows that fit a short log. Options the user gave
    win. ``only_ready``: skip, with the reason, the models the data cannot support (``train all``)."""
    from guanxi.services.readiness import assess, windows

    ready = assess(tables)
    todo: list[tuple[str, TrainOptions]] = []
    skipped: list[Skipped] = []
    span = float(ready.facts["span_days"])  # type: ignore[arg-type]
    chosen = options.horizon_days or options.min_history_given or options.step_days
    for kind in kinds:
        plan = ready.plan(kind) if kind in ("relationship", "deal", "effect") else None
        if only_ready and plan is not None and not plan.trains:
            skipped.append(Skipped(kind, plan.why))
            continue
        label = plan.label if kind == "relationship" and plan is not None and options.labels is None else None
        if kind == "tie":
            fitted = windows(span, "tie_persistence")
        elif kind == "deal":  # fitted to the deals' own dates
            fitted = (plan.horizon_days, plan.min_history_days or 0, plan.step_days or 0) \
                if plan is not None and plan.horizon_days else None
        else:
            fitted = windows(span, label or "effective_relationship")
        if fitted is None or chosen:  # the models' own windows fit, or the user chose
            todo.append((kind, dataclasses.replace(options, label=label)))
            continue
        todo.append((kind, dataclasses.replace(options, label=label, horizon_days=fitted[0],
                                               min_history_days=fitted[1], step_days=fitted[2])))
    return todo, skipped


def train_models(tables: Tables, kinds: tuple[str, ...], settings: Settings, options: TrainOptions,
                 only_ready: bool = False, on_trained: Callable[[TrainingOutcome], None] | None = None
                 ) -> TrainingRun:
    """Train and register each model the data supports (``only_ready``) or each one asked for."""
    todo, skipped = plan_models(tables, kinds, options, only_ready)
    if not todo:
        raise Refused("conflict", "nothing to train: " + "; ".join(f"{s.model}: {s.why}" for s in skipped))
    trained = []
    for kind, kind_options in todo:
        try:
            trained.append(train_and_register(tables, kind, settings, kind_options))
        except Refused as exc:
            if not only_ready or exc.kind != "conflict":
                raise
            skipped.append(Skipped(kind, exc.detail))  # `train all` goes on with the models it can train
            continue
        if on_trained:
            on_trained(trained[-1])
    if not trained:
        raise Refused("conflict", "nothing trained: " + "; ".join(f"{s.model}: {s.why}" for s in skipped))
    return TrainingRun(trained, skipped)


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
                 labels=options.labels, labels_source=options.labels_source, label=options.label)


def train_and_register(tables: Tables, kind: str, settings: Settings, options: TrainOptions) -> TrainingOutcome:
    """Fit, log to MLflow, register as challenger (the first version also champion), export the champion."""
    from training.registry import export_champion

    started = time.perf_counter()
    try:
        trained = fit(tables, kind, options)
    except ValueError as exc:
        hint = ""
        if "not enough history" in str(exc):
            horizon = f"--horizon {options.horizon_days}" if options.horizon_days else "the label's own horizon"
            hint = (f" (this run used {horizon} and --min-history {options.min_history_days}; smaller values fit "
                    "a shorter log)")
        raise Refused("conflict", f"{kind}: cannot train: {exc}{hint}") from None
    logged = log_trained(trained, options.params)
    bundle = export_champion(logged.model, settings.models_dir)
    return TrainingOutcome(logged, str(bundle), trained.label_name, trained.calibration_kind, list(trained.notes),
                           trained.n_train, trained.n_test, round(time.perf_counter() - started, 1),
                           getattr(trained, "operating_points", {}))
