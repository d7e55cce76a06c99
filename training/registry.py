"""Promotion, rollback and listing of registered models, and export of the champion as a bundle."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from training.evaluate import auc, expected_calibration_error
from training.tracking import CHALLENGER, CHAMPION, alias_version, configure

AUC_TOLERANCE = 0.005
ECE_TOLERANCE = 0.01


class PromotionRefused(RuntimeError):
    """The challenger is worse than the champion on the same held-out period."""


class IncomparableModels(ValueError):
    """The champion needs features the challenger's test rows do not have (the feature set changed)."""


@dataclass(frozen=True)
class Comparison:
    champion: str
    challenger: str
    champion_auc: float
    challenger_auc: float
    champion_ece: float
    challenger_ece: float

    @property
    def acceptable(self) -> bool:  # False when the champion could not be scored (NaN)
        return (self.challenger_auc >= self.champion_auc - AUC_TOLERANCE
                and self.challenger_ece <= self.champion_ece + ECE_TOLERANCE)

    def describe(self) -> str:
        scored = not np.isnan(self.champion_auc)
        champion = (f"AUC {self.champion_auc:.4f}, ECE {self.champion_ece:.4f}" if scored
                    else "not scored (its features are not in the challenger's test rows)")
        return (f"challenger v{self.challenger}: AUC {self.challenger_auc:.4f}, ECE {self.challenger_ece:.4f}; "
                f"champion v{self.champion}: {champion} "
                f"(needs AUC >= champion - {AUC_TOLERANCE} and ECE <= champion + {ECE_TOLERANCE})")


def _test_set(client: MlflowClient, name: str, version: str) -> pd.DataFrame:
    run_id = client.get_model_version(name, version).run_id
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="evaluation/test_set.parquet",
                                                   dst_path=tmp)
        return pd.read_parquet(path)


def _score(name: str, version: str, frame: pd.DataFrame) -> np.ndarray:
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    inputs = model.metadata.get_input_schema().input_names()
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise IncomparableModels(
            f"{name} v{version} needs features that the challenger's test rows do not have ({', '.join(missing)}): "
            "the feature set changed between the two versions, so they cannot be scored on the same rows; "
            "promote with --force --reason to replace the champion anyway")
    return model.predict(frame[inputs])["probability"].to_numpy()


def compare(name: str, unscored_champion: bool = False) -> Comparison:
    """Champion and challenger scored on the challenger's held-out period (the same rows for both).
    ``unscored_champion``: a champion that cannot be scored there gets NaN figures instead of an error."""
    client = configure()
    champ, chall = alias_version(client, name, CHAMPION), alias_version(client, name, CHALLENGER)
    if champ is None or chall is None:
        raise LookupError(f"{name}: needs both a champion and a challenger (run `guanxi train` first)")
    test = _test_set(client, name, chall)
    y = test["label"].to_numpy()
    p_chall = _score(name, chall, test)
    try:
        p_champ = _score(name, champ, test)
    except IncomparableModels:
        if not unscored_champion:
            raise
        p_champ = None
    champ_auc, champ_ece = ((auc(y, p_champ), expected_calibration_error(y, p_champ)) if p_champ is not None
                            else (float("nan"), float("nan")))
    return Comparison(champ, chall, champ_auc, auc(y, p_chall), champ_ece, expected_calibration_error(y, p_chall))


def promote(name: str, force: bool = False, reason: str | None = None) -> Comparison:
    """Move ``champion`` to the challenger when it is at least as good; ``force`` needs a reason."""
    if force and not reason:
        raise ValueError("--force needs --reason: the override is recorded")
    client = configure()
    comparison = compare(name, unscored_champion=force)
    if comparison.champion == comparison.challenger:
        return comparison
    if not comparison.acceptable and not force:
        raise PromotionRefused(comparison.describe())
    client.set_registered_model_alias(name, CHAMPION, comparison.challenger)
    history = _history(client, name)
    client.set_registered_model_tag(name, "champion_history", ",".join([*history, comparison.challenger]))
    client.set_model_version_tag(name, comparison.challenger, "promotion",
                                 f"forced: {reason}" if force and not comparison.acceptable else "passed")
    return comparison


def _history(client: MlflowClient, name: str) -> list[str]:
    try:
        model = client.get_registered_model(name)
    except mlflow.exceptions.MlflowException:
        raise LookupError(f"no registered model {name!r} (see `guanxi models`)") from None
    tag = model.tags.get("champion_history", "")
    return [v for v in tag.split(",") if v]


def rollback(name: str) -> str:
    """Restore the previous champion; returns its version."""
    client = configure()
    history = _history(client, name)
    if len(history) < 2:
        raise LookupError(f"{name}: no previous champion to roll back to")
    previous = history[-2]
    client.set_registered_model_alias(name, CHAMPION, previous)
    client.set_registered_model_tag(name, "champion_history", ",".join(history[:-1]))
    return previous


def list_models() -> list[dict[str, object]]:
    """Every version of every Guanxi model, with aliases and key metrics."""
    client = configure()
    rows = []
    for rm in client.search_registered_models():
        for found in client.search_model_versions(f"name='{rm.name}'"):
            mv = client.get_model_version(rm.name, found.version)  # search results carry no aliases
            run = client.get_run(str(mv.run_id))
            metrics = {k: run.data.metrics.get(f"test_{k}") for k in ("auc", "pr_auc", "brier", "ece", "ece_floor")}
            rows.append({"model": rm.name, "version": str(mv.version), "aliases": sorted(mv.aliases),
                         "created": mv.creation_timestamp, **metrics})
    return sorted(rows, key=lambda r: (r["model"], int(r["version"])))


def export_champion(name: str, folder: Path) -> Path:
    """Copy the champion's bundle to ``folder/<name>`` so serving can start without the tracking server."""
    client = configure()
    champ = alias_version(client, name, CHAMPION)
    if champ is None:
        raise LookupError(f"{name}: no champion")
    target = folder / name
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{champ}", dst_path=tmp))
        bundle = next(p for p in local.rglob("*.json") if p.name in ("model.json", "effect.json")).parent
        staging = folder / f".{name}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(bundle, staging)
        versions = {p: package_version(p) for p in ("lightgbm", "scikit-learn", "mlflow", "pandas", "polars")}
        (staging / "versions.json").write_text(json.dumps({"model_version": champ, "packages": versions}, indent=1))
        shutil.rmtree(target, ignore_errors=True)
        staging.replace(target)
    return target
