"""Load the champion bundles that serving scores with (exported to ``models/`` by training)."""

from __future__ import annotations

import json
from pathlib import Path

from serving.engine import Models
from training.model import GuanxiClassifier
from training.tracking import EFFECT_MODEL
from training.train import registered_name
from training.uplift import EffectModel


def bundle_version(folder: Path) -> str:
    path = folder / "versions.json"
    return str(json.loads(path.read_text()).get("model_version", "?")) if path.exists() else "local"


def load_models(folder: Path) -> tuple[Models, GuanxiClassifier | None]:
    """(engine models, deal model) from ``folder``; the effect model is required, the others optional."""
    effect_dir = folder / EFFECT_MODEL
    if not (effect_dir / "effect.json").exists():
        raise FileNotFoundError(f"no effect model bundle in {effect_dir}: run `guanxi train effect` first")
    versions = {EFFECT_MODEL: bundle_version(effect_dir)}
    loaded: dict[str, GuanxiClassifier | None] = {}
    for kind in ("relationship", "deal"):
        path = folder / registered_name(kind)
        loaded[kind] = GuanxiClassifier.load(path) if (path / "model.json").exists() else None
        if loaded[kind] is not None:
            versions[registered_name(kind)] = bundle_version(path)
    models = Models(EffectModel.load(effect_dir), loaded["relationship"], versions)
    return models, loaded["deal"]
