"""Catalog rules compiled to array expressions mean what ``DataFrame.eval`` means."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.catalog import _evaluate, _truth, load_catalog


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    out = pd.DataFrame({name: rng.integers(0, 5, n).astype(float) for name in (
        "open_request", "occasion_today", "days_since_last", "n_365d", "depth_max", "tenure_days", "reply_rate_72h",
        "seniority_rank", "deal_open", "on_chain", "is_decision_maker", "tie", "touch_after_loss",
        "push_after_win", "after_win", "after_loss")})
    out[["touch_after_loss", "push_after_win"]] /= 2
    out["days_since_last"] *= 40
    out["tenure_days"] *= 150
    out["reply_rate_72h"] /= 4
    out = out.mask(rng.random(out.shape) < 0.15)  # missing values fail a rule
    out["buying_role"] = rng.choice(["decision_maker", "influencer", None], n)
    return out


def _pandas(frame: pd.DataFrame, rule: str) -> np.ndarray:
    return frame.eval(rule, engine="python").fillna(False).to_numpy(dtype=bool)


def test_every_shipped_rule_gives_the_same_rows(frame: pd.DataFrame) -> None:
    rules = [r for a in load_catalog().actions for r in a.rules()]
    assert len(rules) >= 10
    for rule in rules:
        compiled = _truth(_evaluate(frame, rule, "test"))
        assert (compiled == _pandas(frame, rule)).all(), rule


@pytest.mark.parametrize("rule", ["not (n_365d >= 2) or tie < 1.5", "1 <= n_365d < 4", "buying_role == 'influencer'",
                                  "(deal_open == 1) & ~(on_chain == 1)", "n_365d"])
def test_operators_beyond_the_shipped_rules(frame: pd.DataFrame, rule: str) -> None:
    compiled = _truth(_evaluate(frame, rule, "test"))
    assert (compiled == _pandas(frame, rule)).all()


def test_a_broken_rule_says_which_action_and_why(frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="catalog action 'greet'.*no_such_column"):
        _evaluate(frame, "no_such_column > 1", "greet")
