"""MLflow: log a training result, register it, and keep the ``champion`` / ``challenger`` aliases."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.models import infer_signature

from guanxi.settings import get_settings
from training.trained import EFFECT_MODEL, Trained

__all__ = ["CHALLENGER", "CHAMPION", "EFFECT_MODEL", "Logged", "alias_version", "configure", "log_trained"]

CHAMPION, CHALLENGER = "champion", "challenger"


PYFUNC_REQUIREMENTS = ("mlflow", "lightgbm", "scikit-learn", "scipy", "pandas", "numpy", "pyarrow", "polars",
                       "numba", "holidays")
"""Every distribution the logged code imports (``training``, ``features``, ``crm``); tested by loading a
registered model in a clean virtualenv with exactly these."""

CODE_PACKAGES = ("training", "features", "crm")
"""This project's packages the pyfunc needs, shipped with the model as ``code_paths``."""


def requirements() -> list[str]:
    """What the pyfunc needs, pinned to what trained it (no slow inference from the environment)."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in PYFUNC_REQUIREMENTS]


def code_paths() -> list[str]:
    """The source folders of ``CODE_PACKAGES`` (without byte code), as MLflow copies them into the model."""
    import importlib

    return [str(Path(importlib.import_module(name).__file__ or "").parent) for name in CODE_PACKAGES]


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


@dataclass(frozen=True)
class Logged:
    """A registered version: its run, aliases and test figures (``baselines``: the other groups)."""

    model: str
    version: str
    run_id: str
    aliases: list[str]
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]


def log_trained(trained: Trained, params: dict[str, object] | None = None) -> Logged:
    """Log a model of any kind with its figures, evaluation set and plots; register it and set its aliases."""
    client = configure()
    groups = trained.metric_groups()
    with mlflow.start_run(experiment_id=experiment(trained.name)) as run, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mlflow.log_params({**trained.params(), **{f"lgb_{k}": v for k, v in (params or {}).items()}})
        for group, values in groups.items():
            prefix = "" if group == "model" else f"{group}_"
            mlflow.log_metrics({f"{prefix}test_{k}": float(v) for k, v in values.items() if v == v})
        notes = getattr(trained, "notes", [])
        if notes:
            mlflow.set_tag("notes", " | ".join(notes)[:5000])
        trained.evaluation_set().to_parquet(folder / "test_set.parquet", index=False)
        mlflow.log_artifact(str(folder / "test_set.parquet"), "evaluation")
        for where, paths in trained.write_artifacts(folder).items():
            for path in paths:
                mlflow.log_artifact(str(path), where or None)
        bundle = folder / "bundle"
        trained.save(bundle)
        inputs, outputs = trained.example()
        entry = Path(__file__).with_name("mlflow_model.py")  # models from code: no pickled classes
        info = mlflow.pyfunc.log_model(name="model", python_model=str(entry), artifacts={"bundle": str(bundle)},
                                       model_config={"kind": trained.pyfunc_kind}, code_paths=code_paths(),
                                       signature=infer_signature(inputs, outputs), input_example=inputs,
                                       registered_model_name=trained.name, pip_requirements=requirements())
        version = str(info.registered_model_version)
    aliases = set_aliases(client, trained.name, version)
    return Logged(trained.name, version, run.info.run_id, aliases, groups["model"],
                  {k: v for k, v in groups.items() if k != "model"})


def set_aliases(client: MlflowClient, name: str, version: str) -> list[str]:
    """A new version is the challenger; the first one is also the champion."""
    client.set_registered_model_alias(name, CHALLENGER, version)
    aliases = [CHALLENGER]
    if alias_version(client, name, CHAMPION) is None:
        client.set_registered_model_alias(name, CHAMPION, version)
        client.set_registered_model_tag(name, "champion_history", version)
        aliases.append(CHAMPION)
    return aliases


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except mlflow.exceptions.MlflowException:
        return None
