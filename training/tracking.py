"""MLflow: log a training result, register it, and keep the ``champion`` / ``challenger`` aliases."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature

from guanxi.settings import get_settings
from training import plots
from training.pyfunc import ProbabilityModel
from training.train import TrainResult
from training.uplift import EffectModel

CHAMPION, CHALLENGER = "champion", "challenger"


def requirements() -> list[str]:
    """What the pyfunc needs, pinned to what trained it (no slow inference from the environment)."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy")]


def configure() -> MlflowClient:
    """Point MLflow at the configured tracking store (SQLite under the data home by default)."""
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return MlflowClient()


def experiment(name: str) -> str:
    """Experiment id, created with its artifacts under the data home when the store is local."""
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    uri = get_settings().tracking_uri
    location = (get_settings().home / "mlartifacts").resolve().as_uri() if uri.startswith("sqlite") else None
    return mlflow.create_experiment(name, artifact_location=location)


def log_result(result: TrainResult, params: dict[str, object] | None = None) -> dict[str, object]:
    """Log everything about a training run; register the model and set its aliases."""
    client = configure()
    ds = result.dataset
    with mlflow.start_run(experiment_id=experiment(result.name)) as run, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mlflow.log_params({"label": result.label.name, "horizon_days": result.label.horizon_days,
                           "n_features": len(ds.features), "best_iteration": result.model.best_iteration_,
                           "linear_weight": result.model.linear_weight,
                           "calibration": result.model.calibration_.kind, "refit": result.model.refit_,
                           "stopped_at": result.model.stopped_at_, "drift_z": result.model.drift_z_,
                           **{f"lgb_{k}": v for k, v in {**(result.model.params or {}), **(params or {})}.items()}})
        for scorer, values in result.metrics.items():
            prefix = "" if scorer == "model" else f"{scorer}_"
            mlflow.log_metrics({f"{prefix}test_{k}": float(v) for k, v in values.items() if v == v})
        mlflow.log_dict(result.label.describe(), "label.json")
        if result.notes:
            mlflow.log_dict({"notes": result.notes}, "notes.json")
            mlflow.set_tag("notes", " | ".join(result.notes)[:5000])
        mlflow.log_dict({**ds.plan.describe(), "rows": ds.split.value_counts().to_dict()}, "training_window.json")
        mlflow.log_dict({"features": ds.features}, "features.json")
        result.backtest.to_csv(folder / "backtest.csv", index=False)
        result.slices.to_csv(folder / "slices.csv", index=False)
        # every feature column, not only this model's: any champion can be re-scored on the same rows
        test = ds.part("test")
        test.to_parquet(folder / "test_set.parquet", index=False)
        for path in (folder / "backtest.csv", folder / "slices.csv", folder / "test_set.parquet"):
            mlflow.log_artifact(str(path), "evaluation")
        y = test["label"].to_numpy()
        contrib = result.model.contributions(test[ds.features].head(5000))
        for path in [*plots.curves(y, result.test_scores, folder / "plots"),
                     *plots.importance(result.model.importance(), contrib, folder / "plots")]:
            mlflow.log_artifact(str(path), "plots")
        bundle = folder / "bundle"
        result.model.save(bundle)
        (bundle / "label.json").write_text(json.dumps(result.label.describe()))
        (bundle / "metrics.json").write_text(json.dumps(result.metrics))
        (bundle / "training_window.json").write_text(json.dumps(ds.plan.describe()))
        example = test[ds.features].head(5)
        signature = infer_signature(example, pd.DataFrame({"probability": result.model.predict_proba(example)[:, 1]}))
        info = mlflow.pyfunc.log_model(name="model", python_model=ProbabilityModel(),
                                       artifacts={"bundle": str(bundle)}, signature=signature,
                                       input_example=example, registered_model_name=result.name,
                                       pip_requirements=requirements())
        version = str(info.registered_model_version)
    aliases = set_aliases(client, result.name, version)
    return {"model": result.name, "version": version, "run_id": run.info.run_id, "aliases": aliases,
            "metrics": result.metrics["model"], "baselines": {k: v for k, v in result.metrics.items() if k != "model"}}


def set_aliases(client: MlflowClient, name: str, version: str) -> list[str]:
    """A new version is the challenger; the first one is also the champion."""
    client.set_registered_model_alias(name, CHALLENGER, version)
    aliases = [CHALLENGER]
    if alias_version(client, name, CHAMPION) is None:
        client.set_registered_model_alias(name, CHAMPION, version)
        client.set_registered_model_tag(name, "champion_history", version)
        aliases.append(CHAMPION)
    return aliases


EFFECT_MODEL = "guanxi-effect"


def log_effect(model: EffectModel, rows: pd.DataFrame, params: dict[str, object] | None = None) -> dict[str, object]:
    """Log and register the effect model. Its pyfunc takes features plus treatment counts and returns
    P(effective) as ``probability``, so promotion compares it like the other models."""
    from training.pyfunc import EffectProbabilityModel
    from training.uplift import TREATMENTS

    client = configure()
    test = rows[rows["cutoff"] == rows["cutoff"].max()]
    with mlflow.start_run(experiment_id=experiment(EFFECT_MODEL)) as run, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mlflow.log_params({"learner": "S-learner (LightGBM)", "treatments": ",".join(TREATMENTS),
                           "horizon_days": model.horizon_days, "cutoffs": rows["cutoff"].nunique(),
                           **{f"lgb_{k}": v for k, v in (params or {}).items()}})
        for outcome, values in model.metrics.items():
            prefix = "" if outcome == "effective" else f"{outcome}_"
            mlflow.log_metrics({f"{prefix}test_{k}": float(v) for k, v in values.items() if v == v})
        effects = model.effects(test)
        mean_uplift = {f"mean_uplift_{o}_{k}": float(effects[o][k].mean()) for o in effects
                       for k in effects[o].columns if k != "_base"}
        mlflow.log_metrics(mean_uplift)
        mlflow.log_dict({"features": model.features, "treatments": TREATMENTS}, "features.json")
        # with the ids, so that an erasure can find and remove a contact's rows
        ids = [c for c in ("rep_id", "contact_id", "cutoff") if c in test.columns]
        evaluation = test[[*ids, *model.features, *TREATMENTS]].assign(label=test["effective"].to_numpy())
        evaluation.to_parquet(folder / "test_set.parquet", index=False)
        mlflow.log_artifact(str(folder / "test_set.parquet"), "evaluation")
        bundle = folder / "bundle"
        model.save(bundle)
        example = evaluation[[*model.features, *TREATMENTS]].head(5)
        signature = infer_signature(example, pd.DataFrame({"probability": np.zeros(len(example))}))
        info = mlflow.pyfunc.log_model(name="model", python_model=EffectProbabilityModel(),
                                       artifacts={"bundle": str(bundle)}, signature=signature,
                                       input_example=example, registered_model_name=EFFECT_MODEL,
                                       pip_requirements=requirements())
        version = str(info.registered_model_version)
    aliases = set_aliases(client, EFFECT_MODEL, version)
    return {"model": EFFECT_MODEL, "version": version, "run_id": run.info.run_id, "aliases": aliases,
            "metrics": model.metrics["effective"], "win_metrics": model.metrics["win"], "baselines": {}}


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except mlflow.exceptions.MlflowException:
        return None
