"""Load the champion bundles that serving scores with (exported to ``models/`` by training)."""

from __future__ import annotations

import json
from pathlib import Path

from features.registry import ACCOUNT_NETWORK, CONTACT_NETWORK, DEAL, RELATIONSHIP
from serving.effect_prior import PriorEffects, load_prior
from serving.engine import Models
from training.model import GuanxiClassifier
from training.tracking import EFFECT_MODEL
from training.train import registered_name
from training.uplift import EffectModel


def bundle_version(folder: Path) -> str:
    path = folder / "versions.json"
    return str(json.loads(path.read_text()).get("model_version", "?")) if path.exists() else "local"


BUILT = {"relationship": {f.name for f in (*RELATIONSHIP, *CONTACT_NETWORK, *ACCOUNT_NETWORK)},
         "deal": {f.name for f in DEAL}}
"""Features this version builds for each model; a deal's custom fields (``attr_<name>``) come from the data."""


class StaleBundle(ValueError):
    """A bundle needs features this version no longer builds (trained before they were renamed)."""


def _check_features(kind: str, model: GuanxiClassifier, path: Path) -> None:
    unknown = [f for f in model.features_ if f not in BUILT[kind] and not f.startswith("attr_")]
    if unknown:
        raise StaleBundle(f"the {kind} model in {path} needs features this version does not build "
                          f"({', '.join(unknown)}): it was trained before they changed; retrain it with "
                          f"`guanxi train {kind}`")


def load_models(folder: Path) -> tuple[Models, GuanxiClassifier | None]:
    """(engine models, deal model) from ``folder``; every bundle is optional but one: without an effect
    model (data without outcomes to learn effects from) the shipped prior answers, on top of the
    relationship model. A bundle that needs features this version does not build is refused here
    (:class:`StaleBundle`), not at the first request it would fail."""
    effect_dir = folder / EFFECT_MODEL
    learned = (effect_dir / "effect.json").exists()
    if not learned and not any((folder / registered_name(k) / "model.json").exists() for k in ("relationship", "deal")):
        raise FileNotFoundError(f"no effect, relationship or deal model bundle in {folder}: run `guanxi train all` "
                                "first")
    versions: dict[str, str] = {}
    loaded: dict[str, GuanxiClassifier | None] = {}
    for kind in ("relationship", "deal"):
        path = folder / registered_name(kind)
        model = GuanxiClassifier.load(path) if (path / "model.json").exists() else None
        if model is not None:
            _check_features(kind, model, path)
            versions[registered_name(kind)] = bundle_version(path)
        loaded[kind] = model
    if learned:
        prior = load_prior()
        effect: EffectModel | PriorEffects = EffectModel.load(effect_dir).shrink_toward(
            {"effective": prior.effective, "win": prior.win}, prior.examples)
        versions[EFFECT_MODEL] = bundle_version(effect_dir)
    else:
        prior = load_prior()
        effect = PriorEffects(prior, loaded["relationship"])
        versions[EFFECT_MODEL] = prior.name
    labels = {registered_name(k): label_of(folder / registered_name(k)) for k in ("relationship", "deal")
              if loaded[k] is not None}
    return Models(effect, loaded["relationship"], dict(sorted(versions.items())), labels, loaded["deal"]), \
        loaded["deal"]


def label_of(folder: Path) -> str:
    """The label a bundle's model learned (``label.json`` written by training), else ``?``."""
    path = folder / "label.json"
    return str(json.loads(path.read_text()).get("name", "?")) if path.exists() else "?"
