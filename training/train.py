"""Train a model and its baselines on rolling-cutoff datasets, and evaluate them on the test period."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from sklearn.model_selection import StratifiedGroupKFold

from features.deal import custom_fields
from features.frames import Tables, table
from features.registry import UNDATED_ONLY
from training.baselines import ACTIVITY_WEIGHTS, ActivityHealthScore, LogisticBaseline, Scorer
from training.datasets import (
    DEAL_STEP_DAYS,
    Dataset,
    build_dataset,
    build_snapshot_dataset,
    data_span,
    plan_cutoffs,
    undated_as_of_now,
    undated_deals,
)
from training.evaluate import bootstrap_auc_ci, ece_if_calibrated, evaluate, evaluate_slices
from training.hyperparams import CLASSIFIER_OPTIONS, LGB_BY_MODEL, LGB_THIN
from training.labels import LABELS, LabelDefinition
from training.leakage import SCREENED, left_out, screened, written_at_close
from training.model import GuanxiClassifier
from training.own_labels import MIN_DATES, own_label, plan_from_dates

MODELS: dict[str, str] = {"relationship": "effective_relationship", "deal": "deal_won",
                          "tie": "tie_persistence"}
SETTINGS: dict[str, dict[str, Any]] = {kind: {"params": LGB_BY_MODEL.get(kind, {}), **CLASSIFIER_OPTIONS.get(kind, {})}
                                        for kind in MODELS}
"""Per-model settings over the classifier's defaults, as ``training.hyperparams`` defines them."""
THIN_POSITIVES = 40
"""Below this many positive training examples the model is regularised and its AUC given an interval."""
THIN_PARAMS = LGB_THIN
CV_FOLDS = 5
"""Folds of the stratified cross-validation used when the data has no usable timeline."""
SLICES = {"relationship": ["seniority_rank", "buying_role", "account_tier"], "deal": ["stage_rank", "type"],
          "tie": []}


def registered_name(kind: str) -> str:
    return f"guanxi-{kind}"


@dataclass
class TrainResult:
    kind: str
    label: LabelDefinition
    dataset: Dataset
    model: GuanxiClassifier
    baselines: dict[str, Scorer]
    metrics: dict[str, dict[str, float]]
    backtest: pd.DataFrame
    slices: pd.DataFrame
    test_scores: dict[str, np.ndarray] = field(repr=False)
    notes: list[str] = field(default_factory=list)  # what a reader of the figures should know (thin data, ...)

    @property
    def name(self) -> str:
        return registered_name(self.kind)

    @property
    def operating_points(self) -> dict[str, dict[str, float]]:
        """Accuracy, precision, recall and confusion matrix of the test (or out-of-fold) scores at the
        accuracy-maximising threshold and at the base rate."""
        from training.evaluate import operating_points

        return operating_points(self.evaluation_set()["label"].to_numpy(), self.test_scores["model"])

    @property
    def n_train(self) -> int:
        """Rows the registered model was fit on (every row under cross-validation; training and validation
        rows when it was refit)."""
        fitted = ("train", "validation") if self.model.refit_ else ("train",)
        return int(self.dataset.split.isin(fitted).sum()) or len(self.dataset.frame)

    @property
    def n_test(self) -> int:
        return int((self.dataset.split == "test").sum())

    @property
    def label_name(self) -> str:
        return self.label.name

    @property
    def calibration_kind(self) -> str | None:
        return self.model.calibration_.kind

    def params(self) -> dict[str, object]:
        m = self.model
        return {"label": self.label.name, "horizon_days": self.label.horizon_days,
                "n_features": len(self.dataset.features), "best_iteration": m.best_iteration_,
                "linear_weight": m.linear_weight, "calibration": m.calibration_.kind, "refit": m.refit_,
                "stopped_at": m.stopped_at_, "drift_z": m.drift_z_,
                **{f"lgb_{k}": v for k, v in (m.params or {}).items()}}

    def metric_groups(self) -> dict[str, dict[str, float]]:
        return self.metrics

    def evaluation_set(self) -> pd.DataFrame:
        # every feature column, not only this model's: any champion can be re-scored on the same rows
        return self.dataset.part("test")

    def write_artifacts(self, folder: Path) -> dict[str, list[Path]]:
        from training import plots

        ds = self.dataset
        self.backtest.to_csv(folder / "backtest.csv", index=False)
        self.slices.to_csv(folder / "slices.csv", index=False)
        (folder / "label.json").write_text(json.dumps(self.label.describe()))
        (folder / "training_window.json").write_text(json.dumps({**ds.plan.describe(),
                                                                 "rows": ds.split.value_counts().to_dict()}))
        (folder / "features.json").write_text(json.dumps({"features": ds.features}))
        scored = self.evaluation_set()[ds.ids + ["label"]].assign(score=self.test_scores["model"])
        scored.to_parquet(folder / "test_scores.parquet", index=False)
        (folder / "operating_points.json").write_text(json.dumps(self.operating_points))
        files = {"": [folder / n for n in ("label.json", "training_window.json", "features.json")],
                 "evaluation": [folder / "backtest.csv", folder / "slices.csv", folder / "test_scores.parquet",
                                folder / "operating_points.json"]}
        if self.notes:
            (folder / "notes.json").write_text(json.dumps({"notes": self.notes}))
            files[""].append(folder / "notes.json")
        test = self.evaluation_set()
        contrib = self.model.contributions(test[ds.features].head(5000))
        files["plots"] = [*plots.curves(test["label"].to_numpy(), self.test_scores, folder / "plots"),
                          *plots.importance(self.model.importance(), contrib, folder / "plots")]
        return files

    def save(self, folder: Path) -> None:
        self.model.save(folder)
        (folder / "label.json").write_text(json.dumps(self.label.describe()))
        (folder / "metrics.json").write_text(json.dumps(self.metrics))
        (folder / "training_window.json").write_text(json.dumps(self.dataset.plan.describe()))

    pyfunc_kind = "probability"

    def example(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        inputs = self.evaluation_set()[self.dataset.features].head(5)
        return inputs, pd.DataFrame({"probability": self.model.predict_proba(inputs)[:, 1]})


def train(tables: Tables, kind: str = "relationship", params: dict[str, object] | None = None,
          features: list[str] | None = None, horizon_days: int | None = None, min_history_days: int = 180,
          step_days: int | None = None, progress: bool = False, labels: pd.DataFrame | None = None,
          labels_source: str = "labels", label: str | None = None) -> TrainResult:
    """Fit the LightGBM model and the baselines; every figure is on periods after the training labels.

    ``labels`` (from :func:`training.own_labels.read_labels`) replace the built-in label: the model learns
    the customer's own definition, split by the labels' ``as_of`` dates. ``label`` names another built-in
    label of the same entity (the relationship model learns ``tie_persistence`` where the data holds no
    revenue-linked outcomes).
    """
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; choose from {', '.join(MODELS)}")
    base = LABELS[label or MODELS[kind]]
    if base.entity != LABELS[MODELS[kind]].entity:
        raise ValueError(f"the {kind} model cannot learn {base.name}, a label of {base.entity}s")
    ds, timeline, notes = _dataset(tables, base, labels, labels_source, horizon_days, min_history_days, step_days,
                                   progress)
    if features:
        unknown = sorted(set(features) - set(ds.features))
        if unknown:
            raise ValueError(f"unknown features: {', '.join(unknown)}")
        ds.features = list(features)
    settings = SETTINGS.get(kind, {})
    fitting = ds.frame if not timeline else ds.part("train")
    if base.entity == "deal":  # read on the training rows only: the test rows stay unseen
        leaks = written_at_close(fitting[screened(ds.features)], fitting["label"].to_numpy(), _open_fields(tables))
        if leaks:
            ds.features = [f for f in ds.features if f not in left_out(leaks)]
            notes.append("deal fields left out as written at the close (a CRM exports a deal's fields as they are "
                         "now): " + "; ".join(leaks.values()))
    positives = int(fitting["label"].sum())
    thin = positives < THIN_POSITIVES
    if thin:
        notes.append(f"thin data: {positives} positive training examples (CRM suites refuse below 40 or 200); "
                     "trained with strong regularisation — read the test AUC with its 95 % interval")
    params = {**settings.get("params", {}), **(THIN_PARAMS if thin else {}), **(params or {})} or None
    options = {k: v for k, v in settings.items() if k != "params"}
    fit = partial(_fit, features=ds.features, ids=ds.ids, params=params, options=options)
    if timeline:
        tr, va, te = ds.part("train"), ds.part("validation"), ds.part("test")
        for name, part in (("train", tr), ("validation", va), ("test", te)):
            if part["label"].nunique() < 2:
                raise ValueError(f"the {name} period has only one label value ({len(part)} rows): not enough data")
        model, baselines = fit(tr, va)
        if model.refit_:
            notes.append(f"refit: the validation period chose the number of trees ({model.stopped_at_}), then "
                         f"joined the training rows ({model.best_iteration_} trees on both, baselines too); the "
                         "calibration is fit on cross-fitted scores of both periods, and the backtest's "
                         "validation figures are in-sample")
        elif model.drift_z_ is not None:
            notes.append(f"refit declined: the validation period's outcomes lie {model.drift_z_:+.1f} standard "
                         "errors from the calibration pooled over both periods (the data drifted beyond noise); "
                         "the model is fit on the training period and calibrated on the validation period")
        scorers: dict[str, Scorer] = {"model": model, **baselines}
        rows: list[dict[str, Any]] = []
        test_scores: dict[str, np.ndarray] = {}
        for split, part in (("train", tr), ("validation", va), ("test", te)):
            for name, est in scorers.items():
                scores = est.predict_proba(part[ds.features])[:, 1]
                rows.append({"split": split, "scorer": name, **evaluate(part["label"].to_numpy(), scores)})
                if split == "test":
                    test_scores[name] = scores
    else:
        te = ds.frame
        groups = _undirected(te, ds.ids)
        repeated = len(groups) - len(set(groups))
        if repeated:
            notes.append(f"{repeated} labelled rows share their entity with another row (the same deal, the same "
                         "pair at another date, or a pair labelled in both directions): folds keep each entity's "
                         "rows together, so none is scored by a model that saw it")
        model, baselines, test_scores = _cross_validate(ds.frame, fit, groups)
        rows = [{"split": f"cv{CV_FOLDS}", "scorer": name, **evaluate(te["label"].to_numpy(), scores)}
                for name, scores in test_scores.items()]
    backtest = pd.DataFrame(rows)
    metrics = {r["scorer"]: {k: v for k, v in r.items() if k not in ("split", "scorer")}
               for r in rows if r["split"] in ("test", f"cv{CV_FOLDS}")}
    low, high = bootstrap_auc_ci(te["label"].to_numpy(), test_scores["model"], draws=1000 if thin else 200)
    entities = _entities(te, ds.ids) if ds.ids else None
    floor = float(np.median(ece_if_calibrated(test_scores["model"], entities)))
    metrics["model"].update(auc_ci_low=low, auc_ci_high=high, ece_floor=floor)
    slices = evaluate_slices(te.assign(score=test_scores["model"]), "label", "score", SLICES[kind])
    return TrainResult(kind, ds.label, ds, model, baselines, metrics, backtest, slices, test_scores, notes)


def _dataset(tables: Tables, base: LabelDefinition, labels: pd.DataFrame | None, labels_source: str,
             horizon_days: int | None, min_history_days: int, step_days: int | None,
             progress: bool) -> tuple[Dataset, bool, list[str]]:
    """The rows to learn from, whether they have a timeline to split on, and notes for the reader."""
    notes: list[str] = []
    timeline = True
    if labels is not None:
        label = own_label(labels, base.entity, labels_source)
        dates = sorted(labels["as_of"].unique())
        timeline = len(dates) >= MIN_DATES
        if timeline:
            ds = build_dataset(tables, label, plan_from_dates(dates), progress=progress)
        else:
            notes.append(f"no usable timeline: the labels have {len(dates)} as_of date(s), a time split needs "
                         f"{MIN_DATES}; figures are from stratified {CV_FOLDS}-fold cross-validation")
            ds = build_snapshot_dataset(tables, label, dates)
        needed = "interactions of the pair" if base.entity == "relationship" else "an open deal"
        if ds.frame.empty:
            raise ValueError(f"none of the {len(labels)} labelled rows has {needed} by its as_of: check the ids "
                             "and dates")
        if len(ds.frame) < len(labels):
            notes.append(f"{len(labels) - len(ds.frame)} of {len(labels)} labelled rows were left out: no "
                         f"{needed} by their as_of")
    elif base.entity == "deal" and undated_deals(tables):
        timeline = False
        tables, dated_labels, as_of = undated_as_of_now(tables)
        label = replace(own_label(dated_labels, "deal", "the deals' outcomes"), name=base.name,
                        description="1 if the deal was won, 0 if lost (the deals carry no dates)")
        notes.append(f"no usable timeline: the deals carry no dates; every won or lost deal is one row with its "
                     f"features as of {as_of.date()}, and figures are from stratified {CV_FOLDS}-fold "
                     "cross-validation — optimistic, since activity after a deal closed is counted too; the "
                     "owner is a categorical feature (without dates there is no win rate to learn from)")
        ds = build_snapshot_dataset(tables, label, [as_of])
        return ds, timeline, notes
    else:
        label = LabelDefinition(base.name, base.entity, base.function, horizon_days or base.horizon_days)
        start, end = data_span(tables, label.entity)
        step = step_days or (DEAL_STEP_DAYS if label.entity == "deal" else 60)
        plan = plan_cutoffs(start, end, horizon_days or label.horizon_days or 180, step_days=step,
                            min_history_days=min_history_days, spread=label.entity == "deal",
                            max_train=None if label.entity == "deal" else 8)
        ds = build_dataset(tables, label, plan, progress=progress)
    ds.features = [f for f in ds.features if f not in UNDATED_ONLY]
    return ds, timeline, notes


def _open_fields(tables: Tables) -> pd.DataFrame:
    """The screened fields (``training.leakage.screened``) of the deals open now."""
    opps = table(tables, "opportunities", ["outcome", *SCREENED, "attributes"])
    if opps is None:
        return pd.DataFrame()
    opened = opps.filter(pl.col("outcome") == "open")
    out = pd.DataFrame({c: opened.get_column(c).cast(pl.Float64).to_numpy() for c in SCREENED
                        if c in opened.columns}, index=pd.RangeIndex(opened.height))
    if "attributes" in opened.columns:
        fields = custom_fields(opened.get_column("attributes").to_list())
        out = pd.concat([out, fields], axis=1)
    return out


def _fit(train_rows: pd.DataFrame, valid_rows: pd.DataFrame, features: list[str], ids: list[str],
         params: dict[str, object] | None, options: dict[str, Any]
         ) -> tuple[GuanxiClassifier, dict[str, Scorer]]:
    """The model (``GuanxiClassifier(params, **options)``: early stopping and calibration on ``valid_rows``,
    or with ``refit`` on cross-fitted scores of both periods) and the baselines. A deal seen at several
    cutoffs is one outcome: ``auto`` calibration is chosen by distinct entities, not rows, and a refit's
    folds keep each entity's rows together."""
    y = train_rows["label"].to_numpy()
    groups = {"groups": _entities(train_rows, ids), "val_groups": _entities(valid_rows, ids)} if ids else {}
    outcomes = len(np.unique(groups["val_groups"])) if ids else None
    model = GuanxiClassifier(params, **options).fit(
        train_rows[features], y, valid_rows[features], valid_rows["label"].to_numpy(), val_outcomes=outcomes,
        **groups)
    # a refit model learnt from both periods: the baselines get the same rows, so the comparison stays fair
    rows = pd.concat([train_rows, valid_rows]) if model.refit_ else train_rows
    baselines: dict[str, Scorer] = {"logistic": LogisticBaseline().fit(rows[features], rows["label"].to_numpy())}
    if any(c in features for c in ACTIVITY_WEIGHTS):  # a feature set without activity counts has no health score
        baselines["activity_health"] = ActivityHealthScore().fit(rows[features])
    return model, baselines


def _entities(rows: pd.DataFrame, ids: list[str]) -> np.ndarray:
    """One string per row naming its entity (a deal, a pair)."""
    names = rows[ids[0]].astype(str)
    for col in ids[1:]:
        names = names + "\x1f" + rows[col].astype(str)
    return names.to_numpy()


def _undirected(rows: pd.DataFrame, ids: list[str]) -> np.ndarray:
    """The entity of each row for grouping folds: a deal, or a pair taken both ways ((A, B) is (B, A): in an
    email log every person is a rep and a contact)."""
    if ids[:2] != ["rep_id", "contact_id"]:
        return _entities(rows, ids[:1])
    a, b = rows["rep_id"].astype(str).to_numpy(), rows["contact_id"].astype(str).to_numpy()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return np.char.add(np.char.add(lo.astype(str), "\x1f"), hi.astype(str))


def _cross_validate(frame: pd.DataFrame, fit: Callable[..., tuple[GuanxiClassifier, dict[str, Scorer]]],
                    groups: np.ndarray | None = None
                    ) -> tuple[GuanxiClassifier, dict[str, Scorer], dict[str, np.ndarray]]:
    """Out-of-fold scores of every scorer over stratified folds that keep each entity (``groups``) in one
    fold (each fold's fit keeps a quarter of its entities for early stopping and calibration), then the
    model to register, fit the same way on every row."""
    y = frame["label"].to_numpy()
    counts = np.bincount(y, minlength=2)
    if counts.min() < CV_FOLDS:
        raise ValueError(f"cross-validation needs at least {CV_FOLDS} rows of each label, got {counts[1]} positive "
                         f"and {counts[0]} negative: not enough data")
    groups = np.arange(len(frame)).astype(str) if groups is None else groups
    scores: dict[str, np.ndarray] = {}
    folds = StratifiedGroupKFold(CV_FOLDS, shuffle=True, random_state=0)
    for fit_idx, test_idx in folds.split(frame, y, groups):
        inner, hold = _hold_out(fit_idx, y, groups)
        model, baselines = fit(frame.iloc[inner], frame.iloc[hold])
        scorers: dict[str, Scorer] = {"model": model, **baselines}
        for name, est in scorers.items():
            out = scores.setdefault(name, np.full(len(frame), np.nan))
            out[test_idx] = est.predict_proba(frame.iloc[test_idx][model.features_])[:, 1]
    inner, hold = _hold_out(np.arange(len(frame)), y, groups)
    model, baselines = fit(frame.iloc[inner], frame.iloc[hold])
    return model, baselines, scores


def _hold_out(idx: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A quarter of ``idx``'s entities (stratified) for early stopping and calibration, the rest to fit."""
    split = StratifiedGroupKFold(4, shuffle=True, random_state=0).split(idx, y[idx], groups[idx])
    inner, hold = next(split)
    return idx[inner], idx[hold]
