"""What reps did, as action kinds: the treatments the effect model learns from, and each pair's deal context.

An interaction is classified by what the contract records about it (occasion, favor, executive, depth,
channel), so any CRM export yields the same kinds, not only the simulated world.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from features.deal import open_deals
from features.frames import Tables, need, table, utc

KINDS: tuple[str, ...] = ("like", "greet", "check_in", "business", "visit", "consult", "mentor", "favor",
                          "executive_event")
TREATMENT_DAYS = 14
CONTEXT = ("deal_open", "deal_amount", "on_chain")


def kind_expr() -> pl.Expr:
    """The action kind of an outbound interaction; the first rule that matches wins."""
    c = pl.col
    return (pl.when(c("occasion").is_in(["holiday", "birthday"])).then(pl.lit("greet"))
            .when(c("favor") == "given").then(pl.lit("favor"))
            .when(c("with_executive").fill_null(False) | (c("channel") == "event")).then(pl.lit("executive_event"))
            .when(c("depth") == 4).then(pl.lit("mentor"))
            .when(c("depth") == 3).then(pl.lit("consult"))
            .when(c("channel") == "visit").then(pl.lit("visit"))
            .when(c("channel") == "social").then(pl.lit("like"))
            .when((c("channel") == "call") & c("opportunity_id").is_null()).then(pl.lit("check_in"))
            .otherwise(pl.lit("business")))


def treatments(tables: Tables, start: str | pd.Timestamp, days: int = TREATMENT_DAYS) -> pd.DataFrame:
    """Per (rep, contact): how many outbound actions of each kind in (start, start + days], as ``t_<kind>``.

    Actions reps reported done (the optional ``done_actions`` table: ts, rep_id, contact_id, kind) count
    too, unless the log already holds an outbound touch of that kind for the pair on that day: a done
    visit that the CRM also logged is one visit, not two."""
    lo = utc(start)
    hi = lo + pd.Timedelta(days=days)
    inter = need(tables, "interactions", ["ts", "rep_id", "contact_id", "channel", "direction", "depth", "occasion",
                                           "opportunity_id", "favor", "with_executive"])
    rows = (inter.filter((pl.col("ts") > lo) & (pl.col("ts") <= hi) & (pl.col("direction") == "outbound"))
            .with_columns(kind=kind_expr()).select("rep_id", "contact_id", "kind", day=pl.col("ts").dt.date()))
    done = table(tables, "done_actions", ["ts", "rep_id", "contact_id", "kind"])
    if done is not None and len(done):
        reported = (done.filter((pl.col("ts") > lo) & (pl.col("ts") <= hi) & pl.col("kind").is_in(list(KINDS)))
                    .select("rep_id", "contact_id", "kind", day=pl.col("ts").dt.date())
                    .join(rows, on=["rep_id", "contact_id", "kind", "day"], how="anti"))
        rows = pl.concat([rows, reported.cast(rows.schema)])
    counts = (rows.group_by("rep_id", "contact_id", "kind").len()
              .pivot(on="kind", index=["rep_id", "contact_id"], values="len"))
    for k in KINDS:
        if k not in counts.columns:
            counts = counts.with_columns(pl.lit(0, dtype=pl.UInt32).alias(k))
    out = counts.select("rep_id", "contact_id", *[pl.col(k).fill_null(0).cast(pl.Float64).alias(f"t_{k}")
                                                  for k in KINDS])
    return out.to_pandas()


def pair_deal_context(tables: Tables, as_of: str | pd.Timestamp, pairs: pd.DataFrame,
                      context: pd.DataFrame | None = None) -> pd.DataFrame:
    """``pairs`` (rep_id, contact_id, account_id) with the account's open deal at ``as_of``: its id, whether
    there is one, its amount, and whether the contact sits on its decision chain (0 / 0 / 0 without deals).

    ``context``: :func:`contact_deal_context` of every contact at ``as_of`` indexed by contact_id, computed
    once for many calls (each call looks its contacts up in it)."""
    out = {c: pairs[c].to_numpy() for c in ("rep_id", "contact_id", "account_id")}
    if tables.get("opportunities") is None:
        n = len(pairs)
        return pd.DataFrame({**out, "opportunity_id": np.full(n, None, dtype=object),
                             **{c: np.zeros(n) for c in CONTEXT}})
    out["contact_id"] = out["contact_id"].astype(str).astype(object)
    if context is None:
        context = contact_deal_context(tables, as_of, pd.DataFrame(out)[["contact_id", "account_id"]]
                                       ).set_index("contact_id")
    if not context.index.is_unique:
        context = context[~context.index.duplicated()]
    at = context.index.get_indexer(out["contact_id"])  # -1: the contact is not in the context
    found = at >= 0
    deal = context["opportunity_id"].to_numpy(dtype=object)[at]
    out["opportunity_id"] = np.where(found, deal, None)
    for column in CONTEXT:
        values = context[column].to_numpy(dtype=float)[at]
        out[column] = np.where(found & ~np.isnan(values), values, 0.0)
    return pd.DataFrame(out)


def contact_deal_context(tables: Tables, as_of: str | pd.Timestamp, contacts: pd.DataFrame | None = None
                         ) -> pd.DataFrame:
    """Per contact (of ``contacts``: contact_id, account_id; default every contact): its account's open deal
    at ``as_of`` (the latest opened), the amount, and whether the contact is on the deal's chain."""
    cutoff = utc(as_of)
    if contacts is None:
        contacts = need(tables, "contacts", ["contact_id", "account_id"]).to_pandas()
    deals = open_deals(tables, cutoff).sort("created_at").unique("account_id", keep="last")
    chain = table(tables, "opportunity_contacts", ["opportunity_id", "contact_id", "added_at"])
    per_account = deals.select("account_id", "opportunity_id", deal_amount=pl.col("amount").fill_null(0.0))
    on = pl.DataFrame(schema={"opportunity_id": pl.String, "contact_id": pl.String})
    if chain is not None:
        on = chain.filter(pl.col("added_at") <= cutoff).select("opportunity_id", "contact_id").unique()
    ctx = (pl.from_pandas(contacts[["contact_id", "account_id"]].drop_duplicates().astype(str))
           .join(per_account, on="account_id", how="left")
           .join(on.with_columns(on_chain=pl.lit(1.0)), on=["opportunity_id", "contact_id"], how="left")
           .select("contact_id", "opportunity_id",
                   deal_open=pl.col("opportunity_id").is_not_null().cast(pl.Float64),
                   deal_amount=pl.col("deal_amount").fill_null(0.0).cast(pl.Float64),
                   on_chain=pl.col("on_chain").fill_null(0.0)))
    return ctx.to_pandas()
