"""One protocol for every model kind, as tracking and the registry see it: the classifiers (relationship,
deal, tie) and the effect model are logged, registered and exported by the same code."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from training.uplift import OUTCOMES, TREATMENTS, EffectModel

EFFECT_MODEL = "guanxi-effect"


class Trained(Protocol):
    """A fitted model with what MLflow keeps of it."""

    notes: list[str]

    @property
    def name(self) -> str:
        """Registered model name."""

    @property
    def n_train(self) -> int:
        """Rows the registered model was fit on."""

    @property
    def n_test(self) -> int:
        """Held-out rows its figures are on."""

    def params(self) -> dict[str, object]:
        """What to log as the run's parameters."""

    def metric_groups(self) -> dict[str, dict[str, float]]:
        """Test figures: ``"model"`` (the model's own), then baselines or secondary outcomes by name."""

    def evaluation_set(self) -> pd.DataFrame:
        """The held-out rows with their ids, every feature and ``label`` (promotion re-scores them)."""

    def write_artifacts(self, folder: Path) -> dict[str, list[Path]]:
        """Extra files to log, by artifact folder (backtests, slices, plots)."""

    def save(self, folder: Path) -> None:
        """The bundle serving loads."""

    @property
    def pyfunc_kind(self) -> str:
        """Which ``training.pyfunc.GuanxiPyfunc`` kind serves the bundle: ``probability`` or ``effect``."""

    def example(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """A few input rows and the output they give, for the signature."""

    @property
    def label_name(self) -> str:
        """What the model learned to predict."""

    @property
    def calibration_kind(self) -> str | None:
        """How its probabilities are calibrated (None: not calibrated after fitting)."""


@dataclass
class EffectRun:
    """The effect model with the rows it was fit and tested on."""

    model: EffectModel
    rows: pd.DataFrame
    fit_params: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    name = EFFECT_MODEL
    label_name = "effective (given the actions taken)"
    calibration_kind = None

    @property
    def _last(self) -> pd.Series:
        return self.rows["cutoff"] == self.rows["cutoff"].max()

    @property
    def n_train(self) -> int:
        return int((~self._last).sum())

    @property
    def n_test(self) -> int:
        return int(self._last.sum())

    def params(self) -> dict[str, object]:
        return {"learner": "S-learner (LightGBM)", "treatments": ",".join(TREATMENTS),
                "horizon_days": self.model.horizon_days, "cutoffs": self.rows["cutoff"].nunique(),
                **{f"lgb_{k}": v for k, v in self.fit_params.items()}}

    def metric_groups(self) -> dict[str, dict[str, float]]:
        test = self.rows[self._last]
        effects = self.model.effects(test)
        uplift = {f"mean_uplift_{o}_{k}": float(effects[o][k].mean()) for o in OUTCOMES
                  for k in effects[o].columns if k != "_base"}
        return {"model": {**self.model.metrics["effective"], **uplift},
                **{o: self.model.metrics[o] for o in OUTCOMES if o != "effective" and o in self.model.metrics}}

    def evaluation_set(self) -> pd.DataFrame:
        test = self.rows[self._last]
        ids = [c for c in ("rep_id", "contact_id", "cutoff") if c in test.columns]
        return test[[*ids, *self.model.features, *TREATMENTS]].assign(label=test["effective"].to_numpy())

    def write_artifacts(self, folder: Path) -> dict[str, list[Path]]:
        path = folder / "features.json"
        path.write_text(json.dumps({"features": self.model.features, "treatments": TREATMENTS}))
        return {"": [path]}

    def save(self, folder: Path) -> None:
        self.model.save(folder)

    pyfunc_kind = "effect"

    def example(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        inputs = self.evaluation_set()[[*self.model.features, *TREATMENTS]].head(5)
        return inputs, pd.DataFrame({"probability": np.zeros(len(inputs))})
