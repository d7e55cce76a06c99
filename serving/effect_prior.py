"""The shipped prior of every action kind's effect, for organisations whose logs cannot identify effects
(no deals, no revenue-linked outcomes, too few logged actions of a kind).

An action of kind ``k`` moves the log-odds of P(effective) by ``effective[k]`` and, on a pair whose
account has an open deal, the log-odds of P(win) by ``win[k]``. The numbers live in
``serving/effect_prior.toml`` (versioned, with how they were calibrated); :class:`PriorEffects` answers
the effect model's ``effects`` call from them, so the engine (candidates -> score -> select) is the same
whichever serves. Its baseline P(effective) is the relationship model's (whatever label it learned);
without one, the prior's ``base_effective``."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.actions import KINDS
from training.model import GuanxiClassifier

PRIOR_FILE = Path(__file__).with_name("effect_prior.toml")
OUTCOMES = ("effective", "win")


@dataclass(frozen=True)
class EffectPrior:
    version: str
    effective: dict[str, float]
    win: dict[str, float]
    base_effective: float = 0.1
    base_win: float = 0.3
    notes: dict[str, str] = field(default_factory=dict)
    examples: float = 100.0
    """How many logged examples of a kind the prior counts as against a learned effect model
    (``training.uplift.EffectModel.shrink_toward``): a kind seen this often is half learned, half prior."""

    @property
    def name(self) -> str:
        return f"prior-v{self.version}"


def load_prior(path: Path = PRIOR_FILE) -> EffectPrior:
    """Read and check the prior: every action kind, finite log-odds, probabilities in (0, 1)."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the effect prior: {exc}") from exc
    kinds = raw.get("kind", {})
    missing = [k for k in KINDS if k not in kinds]
    if missing:
        raise ValueError(f"{path}: no prior for action kinds {', '.join(missing)}")
    values = {o: {k: float(kinds[k].get(o, 0.0)) for k in KINDS} for o in OUTCOMES}
    if not all(np.isfinite(v) for o in OUTCOMES for v in values[o].values()):
        raise ValueError(f"{path}: every effect must be a finite log-odds shift")
    prior = EffectPrior(str(raw["version"]), values["effective"], values["win"],
                        float(raw.get("base_effective", 0.1)), float(raw.get("base_win", 0.3)),
                        {k: str(kinds[k].get("why", "")) for k in KINDS}, float(raw.get("prior_examples", 100)))
    if prior.examples < 0:
        raise ValueError(f"{path}: prior_examples must be >= 0")
    if not (0 < prior.base_effective < 1 and 0 < prior.base_win < 1):
        raise ValueError(f"{path}: base_effective and base_win must lie in (0, 1)")
    return prior


@functools.cache
def shipped_prior() -> EffectPrior:
    """The repository's prior, read once per process."""
    return load_prior()


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class PriorEffects:
    """The effect model's interface (``effects``) answered by the prior; ``source`` names it in reasons."""

    prior: EffectPrior
    relationship: GuanxiClassifier | None = None
    features: list[str] = field(default_factory=list)
    source: str = "prior"

    def effects(self, X: pd.DataFrame, kinds: list[str] | None = None) -> dict[str, pd.DataFrame]:
        """Uplift of one action of each kind on P(effective) and, where a deal is open, on P(win)."""
        kinds = kinds or list(KINDS)
        if self.relationship is not None and len(X):
            base = self.relationship.predict_proba(X)[:, 1]
        else:
            base = np.full(len(X), self.prior.base_effective)
        deal = X["deal_open"].to_numpy(dtype=float) > 0 if "deal_open" in X else np.zeros(len(X), dtype=bool)
        effective = pd.DataFrame({k: _sigmoid(_logit(base) + self.prior.effective[k]) - base for k in kinds},
                                 index=X.index).assign(_base=base)
        return {"effective": effective, "win": self.win_effects(len(X), kinds, None, deal).set_axis(X.index)}

    def win_effects(self, n: int, kinds: list[str], p_win: np.ndarray | None = None,
                    open_deal: np.ndarray | None = None) -> pd.DataFrame:
        """Uplift of one action of each kind on P(win) from ``p_win`` (the deal model's score; the prior's
        ``base_win`` without one), 0 where no deal is open (``open_deal``; every row by default)."""
        start = np.full(n, self.prior.base_win) if p_win is None else np.asarray(p_win, dtype=float)
        frame = pd.DataFrame({k: _sigmoid(_logit(start) + self.prior.win[k]) - start for k in kinds})
        deal = np.ones(n, dtype=bool) if open_deal is None else open_deal
        frame.loc[~deal, kinds] = 0.0
        return frame.assign(_base=np.where(deal, start, np.nan))
