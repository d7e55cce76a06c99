"""An MLflow pyfunc that returns calibrated probabilities (the stock LightGBM flavour returns labels)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from training.model import GuanxiClassifier
from training.uplift import TREATMENTS, EffectModel


class ProbabilityModel(PythonModel):
    """Loads a Guanxi bundle folder; ``predict`` returns a ``probability`` column."""

    def load_context(self, context: PythonModelContext) -> None:
        self.model = GuanxiClassifier.load(Path(context.artifacts["bundle"]))

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame,
                params: dict | None = None) -> pd.DataFrame:
        return pd.DataFrame({"probability": self.model.predict_proba(model_input)[:, 1]}, index=model_input.index)


class EffectProbabilityModel(PythonModel):
    """The effect model's P(effective) given features and treatment counts (``t_<kind>`` columns)."""

    def load_context(self, context: PythonModelContext) -> None:
        self.model = EffectModel.load(Path(context.artifacts["bundle"]))

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame,
                params: dict | None = None) -> pd.DataFrame:
        p = self.model.predict("effective", model_input, model_input[TREATMENTS].to_numpy(dtype=float))
        return pd.DataFrame({"probability": p}, index=model_input.index)
