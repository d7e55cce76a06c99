"""Custom deal fields written at the close are kept out of the deal model: a CRM exports a won deal with its
"Probability (%)" at 100, and a model trained on it would score 1.0 on its test and nothing on open deals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm.adapters.deals import read_deals
from tests.conftest import DATASETS
from training.leakage import written_at_close


def _fields(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    won = rng.random(n) < 0.4
    closed = pd.DataFrame({
        "attr_Probability (%)": np.where(won, 100.0, 0.0),
        "attr_Forecast Category": np.where(won, "Closed", "Omitted"),
        "attr_Closed By": np.where(rng.random(n) < 0.5, "ops", None),  # set at the close, whatever the outcome
        "attr_Is Closed": "true",
        "attr_Lead Source": rng.choice(["Web", "Partner", "Event"], n),
        "attr_Ticket": [f"T{i}" for i in range(n)],  # an id: unique per deal
        "attr_Seats": rng.integers(1, 500, n).astype(float),
    })
    open_deals = pd.DataFrame({
        "attr_Probability (%)": rng.choice([10.0, 40.0, 60.0, 90.0], 50),
        "attr_Forecast Category": rng.choice(["Pipeline", "Commit"], 50),
        "attr_Closed By": None,
        "attr_Is Closed": "false",
        "attr_Lead Source": rng.choice(["Web", "Partner", "Event"], 50),
        "attr_Ticket": [f"U{i}" for i in range(50)],
        "attr_Seats": rng.integers(1, 500, 50).astype(float),
    })
    return closed, won.astype(int), open_deals


def test_fields_that_carry_the_outcome_are_named_with_the_reason() -> None:
    closed, label, open_deals = _fields(400)
    leaks = written_at_close(closed, label, open_deals)
    assert set(leaks) == {"attr_Probability (%)", "attr_Forecast Category", "attr_Closed By", "attr_Is Closed"}
    assert "AUC 1.00" in leaks["attr_Probability (%)"] and "AUC 1.00" in leaks["attr_Forecast Category"]
    assert "on no open one" in leaks["attr_Closed By"]
    assert "other values on open deals (false)" in leaks["attr_Is Closed"]
    # without open deals to compare with, only what ranks the outcome is caught
    assert set(written_at_close(closed, label, open_deals.iloc[:0])) == {"attr_Probability (%)",
                                                                          "attr_Forecast Category"}


@pytest.mark.slow
def test_the_deal_model_trains_without_them_and_says_so(tmp_path: Path) -> None:
    """maven-crm's deals as a CRM exports them, with three custom fields written at the close and the amount of
    a lost deal zeroed: the model leaves them out (the note names each), keeps the honest field, and its test
    AUC stays what the deals support."""
    from training.train import train

    pipe = pd.read_csv(DATASETS / "maven-crm" / "sales_pipeline.csv", dtype=str)
    rng = np.random.default_rng(1)
    stage = pipe["deal_stage"]
    path = tmp_path / "deals.csv"
    pd.DataFrame({
        "Opportunity ID": pipe["opportunity_id"], "Account Name": pipe["account"], "Owner": pipe["sales_agent"],
        "Stage": stage, "Amount": pipe["close_value"].where(stage != "Lost", "0"), "Created Date": pipe["engage_date"],
        "Close Date": pipe["close_date"],
        "Probability (%)": np.where(stage == "Won", 100, np.where(stage == "Lost", 0, rng.choice([20, 60], len(pipe)))),
        "Forecast Category": np.where(stage.isin(["Won", "Lost"]), "Closed", rng.choice(["Pipeline", "Commit"],
                                                                                         len(pipe))),
        "Loss Reason": np.where(stage == "Lost", rng.choice(["Price", "Timing"], len(pipe)), ""),
        "Lead Source": rng.choice(["Web", "Partner", "Event"], len(pipe)),
    }).to_csv(path, index=False)
    frames, _ = read_deals(path)
    result = train(frames, "deal", horizon_days=87, min_history_days=87, step_days=15)  # what `doctor` fits
    note = next(n for n in result.notes if n.startswith("deal fields left out"))
    for field in ("Probability (%)", "Forecast Category", "Loss Reason"):
        assert f"'{field}'" in note and f"attr_{field}" not in result.dataset.features
    assert "'amount'" in note and not {"amount", "log_amount"} & set(result.dataset.features)  # zeroed when lost
    assert "attr_Lead Source" in result.dataset.features
    assert result.metrics["model"]["auc"] < 0.7
