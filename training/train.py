"""Train a model and its baselines on rolling-cutoff datasets, and evaluate them on the test period."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.frames import Tables
from training.baselines import ACTIVITY_WEIGHTS, ActivityHealthScore, LogisticBaseline
from training.datasets import Dataset, build_dataset, data_span, plan_cutoffs
from training.evaluate import bootstrap_auc_ci, evaluate, evaluate_slices
from training.labels import LABELS, LabelDefinition
from training.model import GuanxiClassifier
from training.own_labels import own_label, plan_from_dates

MODELS: dict[str, str] = {"relationship": "effective_relationship", "deal": "deal_won",
                          "tie": "tie_persistence"}
# Per-model settings over the classifier's defaults. Deals are few (about 1,900 in the demo world's
# training window): smaller trees, mixed half and half with a logistic regression, beat both the trees
# alone and the logistic baseline on two demo worlds (docs/benchmarks.md).
SETTINGS: dict[str, dict[str, object]] = {
    "deal": {"params": {"num_leaves": 7, "learning_rate": 0.03}, "linear_weight": 0.5},
}
THIN_POSITIVES = 40
"""Below this many positive training examples the model is regularised and its AUC given an interval."""
THIN_PARAMS: dict[str, object] = {"num_leaves": 4, "min_data_in_leaf": 5, "lambda_l2": 10.0,
                                  "min_sum_hessian_in_leaf": 1e-3, "learning_rate": 0.05}
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
    baselines: dict[str, object]
    metrics: dict[str, dict[str, float]]
    backtest: pd.DataFrame
    slices: pd.DataFrame
    test_scores: dict[str, np.ndarray] = field(repr=False)
    notes: list[str] = field(default_factory=list)  # what a reader of the figures should know (thin data, ...)

    @property
    def name(self) -> str:
        return registered_name(self.kind)


def train(tables: Tables, kind: str = "relationship", params: dict[str, object] | None = None,
          features: list[str] | None = None, horizon_days: int | None = None, min_history_days: int = 180,
          step_days: int | None = None, progress: bool = False, labels: pd.DataFrame | None = None,
          labels_source: str = "labels") -> TrainResult:
    """Fit the LightGBM model and the baselines; every figure is on periods after the training labels.

    ``labels`` (from :func:`training.own_labels.read_labels`) replace the built-in label: the model learns
    the customer's own definition, split by the labels' ``as_of`` dates.
    """
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; choose from {', '.join(MODELS)}")
    base = LABELS[MODELS[kind]]
    notes: list[str] = []
    if labels is not None:
        label = own_label(labels, base.entity, labels_source)
        plan = plan_from_dates(list(labels["as_of"].unique()))
    else:
        label = LabelDefinition(base.name, base.entity, base.function, horizon_days or base.horizon_days)
        start, end = data_span(tables)
        step = step_days or (15 if label.entity == "deal" else 60)
        plan = plan_cutoffs(start, end, horizon_days or label.horizon_days or 180, step_days=step,
                            min_history_days=min_history_days, spread=label.entity == "deal",
                            max_train=None if label.entity == "deal" else 8)
    ds = build_dataset(tables, label, plan, progress=progress)
    if labels is not None and len(ds.frame) < len(labels):
        notes.append(f"{len(labels) - len(ds.frame)} of {len(labels)} labelled rows were left out: no "
                     f"{'interactions of the pair' if base.entity == 'relationship' else 'open deal'} at their as_of")
    if features:
        unknown = sorted(set(features) - set(ds.features))
        if unknown:
            raise ValueError(f"unknown features: {', '.join(unknown)}")
        ds.features = list(features)
    tr, va, te = ds.part("train"), ds.part("validation"), ds.part("test")
    for name, part in (("train", tr), ("validation", va), ("test", te)):
        if part["label"].nunique() < 2:
            raise ValueError(f"the {name} period has only one label value ({len(part)} rows): not enough data")
    settings = SETTINGS.get(kind, {})
    positives = int(tr["label"].sum())
    thin = positives < THIN_POSITIVES
    if thin:
        notes.append(f"thin data: {positives} positive training examples (CRM suites refuse below 40 or 200); "
                     "trained with strong regularisation — read the test AUC with its 95 % interval")
    params = {**settings.get("params", {}), **(THIN_PARAMS if thin else {}), **(params or {})} or None
    model = GuanxiClassifier(params, linear_weight=settings.get("linear_weight", 0.0)).fit(
        tr[ds.features], tr["label"].to_numpy(), va[ds.features], va["label"].to_numpy())
    baselines: dict[str, object] = {"logistic": LogisticBaseline().fit(tr[ds.features], tr["label"].to_numpy())}
    if any(c in ds.features for c in ACTIVITY_WEIGHTS):  # a feature set without activity counts has no health score
        baselines["activity_health"] = ActivityHealthScore().fit(tr[ds.features])
    scorers = {"model": model, **baselines}
    rows, test_scores = [], {}
    for split, part in (("train", tr), ("validation", va), ("test", te)):
        for name, est in scorers.items():
            scores = est.predict_proba(part[ds.features])[:, 1]
            rows.append({"split": split, "scorer": name, **evaluate(part["label"].to_numpy(), scores)})
            if split == "test":
                test_scores[name] = scores
    backtest = pd.DataFrame(rows)
    metrics = {r["scorer"]: {k: v for k, v in r.items() if k not in ("split", "scorer")}
               for r in rows if r["split"] == "test"}
    low, high = bootstrap_auc_ci(te["label"].to_numpy(), test_scores["model"], draws=1000 if thin else 200)
    metrics["model"].update(auc_ci_low=low, auc_ci_high=high)
    slices = evaluate_slices(te.assign(score=test_scores["model"]), "label", "score", SLICES[kind])
    return TrainResult(kind, label, ds, model, baselines, metrics, backtest, slices, test_scores, notes)
