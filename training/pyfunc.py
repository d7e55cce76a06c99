"""The MLflow pyfunc of every Guanxi model: features in, a calibrated ``probability`` column out (the stock
LightGBM flavour returns labels). Logged from code (``training/mlflow_model.py``) with this package's
source as ``code_paths``, so a registered version loads anywhere its requirements are installed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

KINDS = ("probability", "effect")
"""``probability``: a classifier bundle; ``effect``: the effect model's P(effective) given ``t_<kind>`` columns."""


class GuanxiPyfunc(PythonModel):
    """Loads the bundle folder logged as the ``bundle`` artifact; the kind comes from the model config."""

    def load_context(self, context: PythonModelContext) -> None:
        self.kind = str((context.model_config or {}).get("kind", "probability"))
        folder = Path(context.artifacts["bundle"])
        if self.kind == "effect":
            from training.uplift import EffectModel

            self.effect = EffectModel.load(folder)
        elif self.kind == "probability":
            from training.model import GuanxiClassifier

            self.classifier = GuanxiClassifier.load(folder)
        else:
            raise ValueError(f"unknown Guanxi pyfunc kind {self.kind!r}; expected one of {', '.join(KINDS)}")

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame,
                params: dict | None = None) -> pd.DataFrame:
        if self.kind == "effect":
            from training.uplift import TREATMENTS

            p = self.effect.predict("effective", model_input, model_input[TREATMENTS].to_numpy(dtype=float))
        else:
            p = self.classifier.predict_proba(model_input)[:, 1]
        return pd.DataFrame({"probability": p}, index=model_input.index)
