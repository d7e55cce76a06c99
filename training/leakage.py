"""Deal fields that carry the outcome: CRMs keep a deal's fields as they are now, so a won deal's export holds
its "Probability (%)" of 100, its "Forecast Category" of Closed, its "Loss Reason", and some zero a lost deal's
amount. Trained on, they give a test AUC near 1 and a model that knows nothing on the open deals it is served
for. Features built from the history (win rates, activity) are point-in-time and are not screened."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.evaluate import auc

SCREENED = {"amount": ("log_amount",), "competitors": ()}
"""The contract's own per-deal fields read as they are now (besides every custom field, ``attr_*``), each with
the features made from it, left out with it."""
LEAK_AUC = 0.9
"""A single custom field that ranks won against lost deals this well was, in practice, written at the close
(no honest field of a B2B deal table predicts its outcome alone that well)."""
MIN_GROUP = 10
"""Categories with fewer deals are pooled before their win rates are read (an id-like field would otherwise
rank its own rows perfectly)."""
MIN_OPEN = 10
"""Open deals needed before their fields are compared with the closed ones'."""
FEW_VALUES = 20
"""A field with at most this many distinct values is compared value by value between open and closed deals."""


def screened(features: list[str]) -> list[str]:
    """The features read as a deal's fields are now: :data:`SCREENED` and the custom fields."""
    return [f for f in features if f in SCREENED or f.startswith("attr_")]


def left_out(leaks: dict[str, str]) -> set[str]:
    """The features to leave out for these leaks: each field and what is made from it."""
    return set(leaks) | {d for f in leaks for d in SCREENED.get(f, ())}


def written_at_close(rows: pd.DataFrame, label: np.ndarray, open_deals: pd.DataFrame) -> dict[str, str]:
    """The columns of ``rows`` (labelled deals) that carry their outcome, each with the reason: alone they
    rank won against lost with AUC >= :data:`LEAK_AUC`, or they are set only on closed deals, or their values
    on open deals (``open_deals``, the same columns) never occur on closed ones."""
    out: dict[str, str] = {}
    for name in rows.columns:
        field = name.removeprefix("attr_")
        values = rows[name]
        score = _score(values, label)
        if score is not None and len(np.unique(label)) == 2:
            ranked = auc(label, score)
            separation = max(ranked, 1 - ranked)
            if separation >= LEAK_AUC:
                out[name] = f"{field!r} alone ranks won against lost deals with AUC {separation:.2f}"
                continue
        opened = open_deals[name] if name in open_deals else pd.Series(dtype=object)
        if len(open_deals) < MIN_OPEN:
            continue
        if opened.isna().all() and values.notna().mean() >= 0.2:
            out[name] = f"{field!r} is set on {values.notna().mean():.0%} of closed deals and on no open one"
            continue
        closed_set, open_set = set(values.dropna().astype(str)), set(opened.dropna().astype(str))
        if closed_set and open_set and len(closed_set | open_set) <= FEW_VALUES and not closed_set & open_set:
            out[name] = (f"{field!r} takes other values on open deals ({', '.join(sorted(open_set)[:3])}) than on "
                         f"closed ones ({', '.join(sorted(closed_set)[:3])})")
    return out


def _score(values: pd.Series, label: np.ndarray) -> np.ndarray | None:
    """A score per row from one field: the number itself (missing as its own lowest value), or its
    category's win rate among these rows, categories of fewer than :data:`MIN_GROUP` rows pooled."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == values.notna().sum() and numeric.notna().any():
        return numeric.fillna(float(numeric.min()) - 1).to_numpy(dtype=float)
    text = values.astype("string").fillna("\x00missing")
    pooled = text.where(text.map(text.value_counts()) >= MIN_GROUP, "\x00other")
    if pooled.nunique() < 2:
        return None
    rate = pd.Series(label, index=values.index, dtype=float).groupby(pooled.to_numpy()).transform("mean")
    return rate.to_numpy(dtype=float)
