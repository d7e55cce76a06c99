"""Label definitions: named functions of (tables, as_of, horizon), read strictly after ``as_of``.

Each is recorded with the model that learns it (name, horizon and the definition's docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import polars as pl

from features.deal import open_deals
from features.frames import Tables, need, table, utc

RETURN_OCCASIONS = ["business_request", "referral"]


def effective_relationship(tables: Tables, as_of: pd.Timestamp, horizon_days: int = 180) -> pd.DataFrame:
    """1 when, in (as_of, as_of + horizon], the contact brings an inbound business request or referral
    to the rep, or sits on the decision chain of a deal that the rep owns and wins."""
    start, end = utc(as_of), utc(as_of) + pd.Timedelta(days=horizon_days)
    inter = need(tables, "interactions", ["ts", "rep_id", "contact_id", "direction", "occasion"])
    parts = [inter.filter((pl.col("ts") > start) & (pl.col("ts") <= end) & (pl.col("direction") == "inbound")
                          & pl.col("occasion").is_in(RETURN_OCCASIONS)).select("rep_id", "contact_id")]
    opps = table(tables, "opportunities", ["opportunity_id", "owner_rep_id", "outcome", "closed_at"])
    chain = table(tables, "opportunity_contacts", ["opportunity_id", "contact_id"])
    if opps is not None and chain is not None:
        won = opps.filter((pl.col("outcome") == "won") & (pl.col("closed_at") > start) & (pl.col("closed_at") <= end))
        parts.append(won.join(chain, on="opportunity_id").select(pl.col("owner_rep_id").alias("rep_id"),
                                                                   "contact_id"))
    positives = pl.concat(parts).unique()
    return positives.with_columns(label=pl.lit(1, dtype=pl.Int8)).to_pandas()


def tie_persistence(tables: Tables, as_of: pd.Timestamp, horizon_days: int = 180) -> pd.DataFrame:
    """1 when the pair still interacts in (as_of, as_of + horizon] in both directions (for data without deals)."""
    start, end = utc(as_of), utc(as_of) + pd.Timedelta(days=horizon_days)
    inter = need(tables, "interactions", ["ts", "rep_id", "contact_id", "direction"])
    both = (inter.filter((pl.col("ts") > start) & (pl.col("ts") <= end)).group_by("rep_id", "contact_id")
            .agg(pl.col("direction").n_unique().alias("directions")).filter(pl.col("directions") == 2))
    return both.select("rep_id", "contact_id", label=pl.lit(1, dtype=pl.Int8)).to_pandas()


def deal_won(tables: Tables, as_of: pd.Timestamp, horizon_days: int = 0) -> pd.DataFrame:
    """For every deal open at as_of whose final outcome is known: 1 if it was won, 0 if lost."""
    deals = open_deals(tables, utc(as_of))
    known = deals.filter(pl.col("closed_at").is_not_null())
    outcome = need(tables, "opportunities", ["opportunity_id", "outcome"])
    return (known.select("opportunity_id", "closed_at").join(outcome, on="opportunity_id")
            .filter(pl.col("outcome").is_in(["won", "lost"]))
            .select("opportunity_id", "closed_at", label=(pl.col("outcome") == "won").cast(pl.Int8)).to_pandas())


@dataclass(frozen=True)
class LabelDefinition:
    name: str
    entity: str  # "relationship" or "deal"
    function: Callable[[Tables, pd.Timestamp, int], pd.DataFrame]
    horizon_days: int
    description: str | None = None  # else the function's docstring
    given: bool = False  # labels given for chosen rows (training.own_labels), not computed for every row

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "entity": self.entity, "horizon_days": self.horizon_days,
                "definition": " ".join((self.description or self.function.__doc__ or "").split())}


LABELS: dict[str, LabelDefinition] = {
    "effective_relationship": LabelDefinition("effective_relationship", "relationship", effective_relationship, 180),
    "tie_persistence": LabelDefinition("tie_persistence", "relationship", tie_persistence, 90),
    "deal_won": LabelDefinition("deal_won", "deal", deal_won, 0),
}
