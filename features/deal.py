"""Deal snapshots: every opportunity open at ``as_of``, as its stage history stood then.

Network features of the decision chain come from the relationship features at the same ``as_of``;
custom fields in ``opportunities.attributes`` pass through as ``attr_<name>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import pandas as pd
import polars as pl

from crm import vocab
from features.frames import Tables, need, polars_engine, table, utc
from features.network import account_network, best_ties, ties
from features.registry import DEAL, DEAL_IDS, STRONG_TIE
from features.relationship import relationship_features

TRACK_RECORD_DAYS = 365
"""Window of the owner's and the account's deal counts (the win rate uses every closed deal)."""


def open_deals(tables: Tables, as_of: pd.Timestamp) -> pl.DataFrame:
    """Opportunities created by ``as_of`` and not closed by then (as far as was known at ``as_of``). A deal
    the export gives no date at all (no creation, close or stage entry) and that is still open is open at
    any ``as_of``: its history is unknown, not absent."""
    opps = table(tables, "opportunities", ["opportunity_id", "account_id", "owner_rep_id", "amount", "type",
                                           "product", "created_at", "closed_at", "competitors", "attributes",
                                           "outcome"])
    if opps is None:
        raise ValueError("deal features need the opportunities table")
    stages = table(tables, "opportunity_stages", ["opportunity_id", "entered_at", "stage"])
    created = pl.col("created_at")
    if stages is not None:  # a deal without a creation date is known from its first stage entry
        first = stages.group_by("opportunity_id").agg(pl.col("entered_at").min().alias("_first_stage"))
        opps = opps.join(first, on="opportunity_id", how="left")
        created = pl.coalesce(created, pl.col("_first_stage"))
    undated_open = created.is_null() & pl.col("closed_at").is_null() & (pl.col("outcome") == "open")
    known = (created.is_not_null() & (created <= as_of)) | undated_open
    still_open = pl.col("closed_at").is_null() | (pl.col("closed_at") > as_of)
    return opps.filter(known & still_open).drop("outcome")


def deal_features(tables: Tables, as_of: str | pd.Timestamp, rel: pd.DataFrame | None = None,
                  deal_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per deal open at ``as_of``.

    Args:
        tables: contract tables; ``opportunities`` is required.
        as_of: the cutoff; nothing after it is read (a deal closed later is still open here).
        rel: relationship features at the same ``as_of`` when already built (else built here).
        deal_ids: only these deals (a batch engine scoring deals group by group; the owners' and the
            whole base's track records still come from every closed deal in ``tables``).
    """
    inter = tables.get("interactions")
    with polars_engine(len(inter) if inter is not None else 0):
        return _deal_features(tables, utc(as_of), rel, deal_ids)


def _deal_features(tables: Tables, cutoff: pd.Timestamp, rel: pd.DataFrame | None,
                   deal_ids: Iterable[str] | None = None) -> pd.DataFrame:
    deals = open_deals(tables, cutoff)
    if deal_ids is not None:
        deals = deals.filter(pl.col("opportunity_id").is_in(list(deal_ids)))
    ids = deals["opportunity_id"]
    out = deals.select(list(DEAL_IDS) + ["amount", "type", "product", "competitors", "created_at", "attributes"])
    out = out.with_columns(
        age_days=(pl.lit(cutoff) - pl.col("created_at")).dt.total_seconds() / 86_400,
        log_amount=pl.col("amount").cast(pl.Float64).log1p())
    out = out.with_columns(owner=pl.col("owner_rep_id"))
    out = out.join(_stage_snapshot(tables, cutoff, ids), on="opportunity_id", how="left")
    out = out.join(_activity(tables, cutoff, ids), on="opportunity_id", how="left")
    if rel is None and tables.get("interactions") is not None:
        rel = relationship_features(tables, cutoff)
    out = out.join(_chain(tables, cutoff, ids, rel), on="opportunity_id", how="left")
    out = out.join(_account_context(tables, cutoff, rel), on="account_id", how="left")
    out = _track_record(out, tables, cutoff).with_columns(
        days_per_stage=pl.col("age_days") / (pl.col("stage_rank").cast(pl.Float64) + 1))
    counted = {"activity_30d": "interactions", "activity_90d": "interactions", "chain_size": "opportunity_contacts",
               "chain_champions": "opportunity_contacts", "chain_blockers": "opportunity_contacts"}
    zero_if_known = [c for c, source in counted.items() if tables.get(source) is not None]
    out = out.with_columns(pl.col(zero_if_known).fill_null(0)) if zero_if_known else out
    names = [f.name for f in DEAL]
    categories = ("type", "product", "owner")
    numeric = [n for n in names if n not in categories]
    frame = out.with_columns(pl.col(numeric).cast(pl.Float64)).select([*DEAL_IDS, *names, "attributes"])
    result = frame.drop("attributes").sort("opportunity_id").to_pandas()
    return _with_attributes(result, frame.sort("opportunity_id")["attributes"].to_list())


def _stage_snapshot(tables: Tables, cutoff: pd.Timestamp, ids: pl.Series) -> pl.DataFrame:
    stages = table(tables, "opportunity_stages", ["opportunity_id", "entered_at", "stage"])
    schema = {"opportunity_id": pl.String, "stage_rank": pl.Int64, "days_in_stage": pl.Float64,
              "stage_changes": pl.Int64, "regressions": pl.Int64}
    if stages is None:
        return pl.DataFrame(schema=schema)
    rank = {s: i for i, s in enumerate(vocab.STAGES)}
    hist = (stages.filter(pl.col("opportunity_id").is_in(ids.implode()) & (pl.col("entered_at") <= cutoff))
            .sort(["opportunity_id", "entered_at"])
            .with_columns(r=pl.col("stage").replace_strict(rank, default=None, return_dtype=pl.Int64)))
    return hist.group_by("opportunity_id").agg(
        pl.col("r").last().alias("stage_rank"),
        ((pl.lit(cutoff) - pl.col("entered_at").last()).dt.total_seconds() / 86_400).alias("days_in_stage"),
        (pl.len() - 1).alias("stage_changes"),
        (pl.col("r").diff() < 0).sum().alias("regressions"),
    )


def _activity(tables: Tables, cutoff: pd.Timestamp, ids: pl.Series) -> pl.DataFrame:
    inter = table(tables, "interactions", ["ts", "opportunity_id"])
    if inter is None:
        return pl.DataFrame(schema={"opportunity_id": pl.String, "activity_30d": pl.Int64, "activity_90d": pl.Int64})
    age = (pl.lit(cutoff) - pl.col("ts")).dt.total_seconds() / 86_400
    return (inter.lazy().filter(pl.col("opportunity_id").is_in(ids.implode()) & (pl.col("ts") <= cutoff))
            .group_by("opportunity_id").agg((age < 30).sum().alias("activity_30d"),
                                             (age < 90).sum().alias("activity_90d")).collect())


def _chain(tables: Tables, cutoff: pd.Timestamp, ids: pl.Series, rel: pd.DataFrame | None) -> pl.DataFrame:
    chain = table(tables, "opportunity_contacts", ["opportunity_id", "contact_id", "role", "stance", "added_at"])
    opps = need(tables, "opportunities", ["opportunity_id", "owner_rep_id"])
    schema = {"opportunity_id": pl.String, **dict.fromkeys(
        ("chain_size", "chain_coverage", "dm_best_tie", "owner_dm_tie", "chain_champions", "chain_blockers"),
        pl.Float64)}
    if chain is None or chain.height == 0:
        return pl.DataFrame(schema=schema)
    chain = chain.filter(pl.col("opportunity_id").is_in(ids.implode())
                         & (pl.col("added_at").is_null() | (pl.col("added_at") <= cutoff)))
    chain = chain.join(opps, on="opportunity_id", how="left")
    if rel is not None and len(rel):
        chain = chain.join(best_ties(rel), on="contact_id", how="left").join(
            ties(rel).rename({"rep_id": "owner_rep_id", "tie": "owner_tie"}), on=["owner_rep_id", "contact_id"],
            how="left")
    else:
        chain = chain.with_columns(best=pl.lit(None, dtype=pl.Float64), owner_tie=pl.lit(None, dtype=pl.Float64))
    dm = pl.col("role") == "decision_maker"
    return chain.group_by("opportunity_id").agg(
        pl.len().alias("chain_size"),
        ((pl.col("best").fill_null(0.0) >= STRONG_TIE).sum() / pl.len()).alias("chain_coverage"),
        pl.col("best").filter(dm).max().fill_null(0.0).alias("dm_best_tie"),
        pl.col("owner_tie").filter(dm).max().fill_null(0.0).alias("owner_dm_tie"),
        pl.col("stance").is_in(["champion", "supporter"]).sum().alias("chain_champions"),
        pl.col("stance").is_in(["skeptic", "blocker"]).sum().alias("chain_blockers"),
    )


def _account_context(tables: Tables, cutoff: pd.Timestamp, rel: pd.DataFrame | None) -> pl.DataFrame:
    schema = {"account_id": pl.String, "exec_touches_90d": pl.Float64, "account_breadth": pl.Float64}
    if rel is None or not len(rel) or table(tables, "contacts", ["contact_id"]) is None:
        return pl.DataFrame(schema=schema)
    breadth = pl.from_pandas(account_network(rel, tables)[["account_id", "breadth"]]).rename(
        {"breadth": "account_breadth"})
    inter = need(tables, "interactions", ["ts", "contact_id", "with_executive"])
    contacts = need(tables, "contacts", ["contact_id", "account_id"])
    recent = inter.lazy().filter((pl.col("ts") <= cutoff) & (pl.col("ts") > cutoff - pd.Timedelta(days=90))
                                 & pl.col("with_executive").fill_null(False))
    execs = (recent.join(contacts.lazy(), on="contact_id").group_by("account_id")
             .agg(pl.len().cast(pl.Float64).alias("exec_touches_90d")).collect())
    return breadth.join(execs, on="account_id", how="left").with_columns(pl.col("exec_touches_90d").fill_null(0.0))


def _track_record(out: pl.DataFrame, tables: Tables, cutoff: pd.Timestamp) -> pl.DataFrame:
    """Owner and account records from deals closed before ``as_of`` (outcomes known by then only).

    The counts cover the last :data:`TRACK_RECORD_DAYS`: lifetime counts grow with the age of the CRM, so
    a model served after its training window would score counts it never saw (on the demo world they
    doubled from training to test rows, and the deal model over-predicted with them). The win rate is a
    share, stable in time, and keeps the whole history."""
    opps = need(tables, "opportunities", ["account_id", "owner_rep_id", "outcome", "closed_at"])
    closed = opps.filter(pl.col("closed_at").is_not_null() & (pl.col("closed_at") <= cutoff)
                         & pl.col("outcome").is_in(["won", "lost"]))
    won = pl.col("outcome") == "won"
    recent = pl.col("closed_at") > cutoff - pd.Timedelta(days=TRACK_RECORD_DAYS)
    prior = closed.select(won.mean()).item() if closed.height else None
    prior = 0.3 if prior is None else prior
    owners = closed.group_by("owner_rep_id").agg(won.sum().alias("_won"), pl.len().alias("_closed"),
                                                 recent.sum().alias("owner_closed_deals_365d"))
    accounts = closed.filter(recent).group_by("account_id").agg(won.sum().alias("account_won_deals_365d"))
    out = out.join(owners, on="owner_rep_id", how="left").join(accounts, on="account_id", how="left")
    return out.with_columns(
        pl.col("owner_closed_deals_365d", "account_won_deals_365d").fill_null(0),
        owner_win_rate=(pl.col("_won").fill_null(0) + 5 * prior) / (pl.col("_closed").fill_null(0) + 5))


def _with_attributes(frame: pd.DataFrame, attributes: list[str | None]) -> pd.DataFrame:
    """Custom fields from the JSON ``attributes``: numbers stay numbers, the rest become categories."""
    for name, values in custom_fields(attributes, frame.index).items():
        frame[name] = values
    return frame


def custom_fields(attributes: list[str | None], index: pd.Index | None = None) -> pd.DataFrame:
    """The ``attr_<name>`` columns of deals' JSON ``attributes`` (numbers as float64, the rest as text)."""
    parsed = [json.loads(a) if a else {} for a in attributes]
    index = pd.RangeIndex(len(parsed)) if index is None else index
    out = pd.DataFrame(index=index)
    for key in sorted({k for p in parsed for k in p}):
        values = pd.Series([p.get(key) for p in parsed], index=index, dtype=object)
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().sum() == values.notna().sum():
            out[f"attr_{key}"] = numeric.astype(np.float64)
        else:
            out[f"attr_{key}"] = values.where(values.notna(), None).astype(object)
    return out
