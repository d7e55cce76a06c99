"""Who knows whom: per contact and per account, from the relationship features at the same ``as_of``.

Built on the output of :func:`features.relationship.relationship_features` so the tie strength
of a pair is computed once, by one code path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from features.frames import Tables, table
from features.registry import (
    ACCOUNT_NETWORK,
    ACCOUNT_NETWORK_IDS,
    CONTACT_NETWORK,
    CONTACT_NETWORK_IDS,
    STRONG_TIE,
)


def tie_strength(rel: pd.DataFrame) -> pd.Series:
    """Strength of each (rep, contact) tie; see ``features.registry.TIE_STRENGTH``."""
    inbound = rel["inbound_share"].fillna(0.0)
    return np.log1p(rel["n_365d"]) * (0.5 + inbound) * np.exp(-rel["days_since_last"] / 90.0)


def ties(rel: pd.DataFrame) -> pl.DataFrame:
    """(rep_id, contact_id, tie) for every pair of the relationship features."""
    return pl.from_pandas(rel[["rep_id", "contact_id"]].assign(tie=tie_strength(rel).to_numpy()))


def best_ties(rel: pd.DataFrame) -> pl.DataFrame:
    """(contact_id, best): the strongest tie any of our reps holds with each contact."""
    return ties(rel).group_by("contact_id").agg(pl.col("tie").max().alias("best"))


def contact_network(rel: pd.DataFrame, tables: Tables) -> pd.DataFrame:
    """Per contact: how many of our reps know them, how strongly, and who knows them best."""
    contacts = table(tables, "contacts", ["contact_id", "account_id"])
    out = ties(rel).group_by("contact_id").agg(
        pl.len().alias("reps_tied"), (pl.col("tie") >= STRONG_TIE).sum().alias("reps_strong"),
        pl.col("tie").max().alias("best_tie"),
        pl.col("rep_id").sort_by(["tie", "rep_id"], descending=[True, False]).first().alias("best_tie_rep_id"))
    if contacts is not None:
        out = contacts.join(out, on="contact_id", how="left")
    else:
        out = out.with_columns(account_id=pl.lit(None, dtype=pl.String))
    out = out.with_columns(pl.col("reps_tied", "reps_strong").fill_null(0).cast(pl.Float64))
    names = [f.name for f in CONTACT_NETWORK]
    return out.select([*CONTACT_NETWORK_IDS, *names]).sort("contact_id").to_pandas()


def account_network(rel: pd.DataFrame, tables: Tables) -> pd.DataFrame:
    """Per account: breadth of our relationships and buying roles covered."""
    contacts = table(tables, "contacts", ["contact_id", "account_id", "buying_role"])
    names = [f.name for f in ACCOUNT_NETWORK]
    if contacts is None:
        return pd.DataFrame(columns=[*ACCOUNT_NETWORK_IDS, *names])
    joined = contacts.join(best_ties(rel), on="contact_id", how="left")
    strong = pl.col("best").fill_null(0.0) >= STRONG_TIE
    out = joined.group_by("account_id").agg(
        pl.len().alias("contacts"), pl.col("best").is_not_null().sum().alias("contacts_tied"),
        strong.sum().alias("contacts_strong"),
        pl.col("buying_role").filter(strong).drop_nulls().n_unique().alias("roles_covered"),
        (strong & (pl.col("buying_role") == "decision_maker")).sum().alias("decision_makers_strong"),
        pl.col("best").max().alias("account_best_tie"),
    ).with_columns((pl.col("contacts_strong") / pl.col("contacts")).alias("breadth"))
    out = out.with_columns(pl.col(names).cast(pl.Float64))
    return out.select([*ACCOUNT_NETWORK_IDS, *names]).sort("account_id").to_pandas()
