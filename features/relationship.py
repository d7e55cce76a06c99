"""Relationship features, one row per (rep, contact): the seven elements and reciprocity.

One code path: the same function builds features for a training cutoff, for the whole base, and for
one rep inside an API request (``rep_ids``). Events after ``as_of`` are dropped before anything else.
Polars does the work (pandas in, pandas out): a sort by pair and time, one pass of window
expressions, and one group-by.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import polars as pl
import polars.selectors  # noqa: F401  (pl.selectors)

from crm import vocab
from crm.calendar import GREETING_WINDOW_DAYS, festival_days
from features.frames import Tables, table, utc
from features.registry import RELATIONSHIP, RELATIONSHIP_IDS

INTERACTION_COLUMNS = ["ts", "rep_id", "contact_id", "channel", "direction", "depth", "favor", "with_executive"]
REPLY_HOURS = 72.0
LEDGER_DAYS = 720.0
DAY_S = 86_400.0


def relationship_features(tables: Tables, as_of: str | pd.Timestamp, rep_ids: Iterable[str] | None = None
                          ) -> pd.DataFrame:
    """Features of every (rep, contact) pair with at least one interaction up to ``as_of``.

    Args:
        tables: contract tables (pandas or polars); ``interactions`` is required, ``contacts``,
            ``accounts`` and ``opportunities`` add value proxies and the maintenance share.
        as_of: the cutoff; only interactions with ``ts <= as_of`` are read.
        rep_ids: restrict to these reps (the same code path as the whole base).
    """
    cutoff = utc(as_of)
    inter = table(tables, "interactions", INTERACTION_COLUMNS)
    if inter is None:
        raise ValueError("relationship features need the interactions table")
    lf = inter.lazy().filter(pl.col("ts") <= cutoff)
    if rep_ids is not None:
        lf = lf.filter(pl.col("rep_id").is_in(list(rep_ids)))
    cutoff_us = cutoff.value // 1000
    rows = (
        lf.with_columns(age=(cutoff_us - pl.col("ts").dt.epoch("us")).cast(pl.Float64) / (DAY_S * 1e6))
        .sort(["rep_id", "contact_id", "ts"])
        .with_columns(_row_context())
    )
    rows = rows.with_columns(_occasion_columns(tables, cutoff))
    maint = _maintenance_flag(tables, rows, cutoff)
    if maint is not None:
        rows = maint
    agg = rows.group_by(["rep_id", "contact_id"]).agg(_aggregations(maint is not None))
    counts = pl.selectors.by_dtype(pl.UInt32, pl.UInt64)
    out = agg.with_columns(counts.cast(pl.Int64)).with_columns(_derived()).collect()
    out = _join_entities(out, tables)
    names = [f.name for f in RELATIONSHIP]
    result = out.select([*RELATIONSHIP_IDS, *names]).sort(["rep_id", "contact_id"]).to_pandas()
    return result


def _row_context() -> list[pl.Expr]:
    """Per-row facts that need the previous or next touch of the same pair (rows are sorted by pair, time)."""
    def same(offset: int) -> pl.Expr:
        return ((pl.col("rep_id") == pl.col("rep_id").shift(offset))
                & (pl.col("contact_id") == pl.col("contact_id").shift(offset)))

    same_prev, same_next = same(1), same(-1)
    out = pl.col("direction") == "outbound"
    gap = pl.when(same_prev).then(pl.col("age").shift(1) - pl.col("age"))
    next_gap = pl.when(same_next).then(pl.col("age") - pl.col("age").shift(-1))
    prev_out = pl.when(same_prev).then(pl.col("direction").shift(1) == "outbound")
    next_in = pl.when(same_next).then(pl.col("direction").shift(-1) == "inbound").otherwise(False)
    answer = same_prev & (prev_out != out) & (gap * 24 <= REPLY_HOURS)
    return [
        out.alias("is_out"),
        gap.alias("gap"),
        (out & next_in & (next_gap * 24 <= REPLY_HOURS)).alias("replied"),
        pl.when(~out & prev_out.fill_null(False)).then(gap * 24).alias("their_lat"),
        pl.when(out & ~prev_out.fill_null(True)).then(gap * 24).alias("our_lat"),
        (~answer.fill_null(False)).alias("initiated"),
    ]


def _occasion_columns(tables: Tables, cutoff: pd.Timestamp) -> list[pl.Expr]:
    """Festival index of each touch's day (null outside greeting windows)."""
    first = cutoff.year - 2
    days, ids = [], []
    for i, day in enumerate(festival_days(first, cutoff.year + 1)):
        for back in range(GREETING_WINDOW_DAYS + 1):
            days.append(day - pd.Timedelta(days=back).to_pytimedelta())
            ids.append(i)
    lookup = dict(zip(days, ids, strict=True))
    return [pl.col("ts").dt.date().replace_strict(lookup, default=None, return_dtype=pl.Int32).alias("festival")]


def _maintenance_flag(tables: Tables, rows: pl.LazyFrame, cutoff: pd.Timestamp) -> pl.LazyFrame | None:
    """Adds ``need`` (a deal of the contact's account was open at the touch) and the birthday flag.

    Deals are known as of the cutoff: one that closes after it counts as still open.
    """
    contacts = table(tables, "contacts", ["contact_id", "account_id", "birthday_month", "birthday_day"])
    opps = table(tables, "opportunities", ["account_id", "created_at", "closed_at"])
    if contacts is None:
        return None
    rows = rows.join(contacts.lazy(), on="contact_id", how="left")
    bday = pl.date(pl.col("ts").dt.year(), pl.col("birthday_month"), 1).dt.offset_by(
        pl.format("{}d", pl.col("birthday_day") - 1))
    lead = (bday - pl.col("ts").dt.date()).dt.total_days()
    rows = rows.with_columns(birthday_touch=pl.when(pl.col("birthday_month").is_not_null())
                             .then((lead >= 0) & (lead <= GREETING_WINDOW_DAYS)))
    if opps is None or opps.height == 0:
        return rows.with_columns(need=pl.lit(None, dtype=pl.Boolean))
    known = opps.filter(pl.col("created_at").is_not_null() & (pl.col("created_at") <= cutoff)
                        & pl.col("account_id").is_not_null())
    far = pl.lit(np.iinfo(np.int64).max, dtype=pl.Int64)
    intervals = (known.with_columns(
        start=pl.col("created_at").dt.epoch("us"),
        end=pl.when(pl.col("closed_at").is_null() | (pl.col("closed_at") > cutoff)).then(far)
        .otherwise(pl.col("closed_at").dt.epoch("us")))
        .sort(["account_id", "start"])
        .with_columns(end=pl.col("end").cum_max().over("account_id"))
        .select(["account_id", "start", "end"]))
    collected = rows.collect()
    acct_codes = {a: i for i, a in enumerate(intervals["account_id"].unique().sort().to_list())}
    need = np.zeros(collected.height, dtype=bool)
    if acct_codes:
        span = np.int64(1) << np.int64(52)
        base = np.int64(-(1 << 50))
        code_i = intervals["account_id"].replace_strict(acct_codes, return_dtype=pl.Int64).to_numpy()
        key_i = code_i * span + (intervals["start"].to_numpy() - base)
        order = np.argsort(key_i, kind="stable")
        key_i, end_i, code_sorted = key_i[order], intervals["end"].to_numpy()[order], code_i[order]
        code_r = collected["account_id"].replace_strict(acct_codes, default=-1, return_dtype=pl.Int64).to_numpy()
        t_r = collected["ts"].dt.epoch("us").to_numpy()
        key_r = code_r * span + (t_r - base)
        idx = np.searchsorted(key_i, key_r, side="right") - 1
        ok = (idx >= 0) & (code_r >= 0)
        idx = np.maximum(idx, 0)
        need = ok & (code_sorted[idx] == code_r) & (end_i[idx] > t_r)
    return collected.with_columns(need=pl.Series(need)).lazy()


def _aggregations(with_contacts: bool) -> list[pl.Expr]:
    age, out = pl.col("age"), pl.col("is_out")
    w30, w90, w365 = age < 30, age < 90, age < 365
    deep = pl.col("depth") >= 3
    n = pl.len()
    exprs = [
        w30.sum().alias("n_30d"), w90.sum().alias("n_90d"), w365.sum().alias("n_365d"),
        (w90 & out).sum().alias("out_90d"), (w90 & ~out).sum().alias("in_90d"),
        *((w90 & (pl.col("channel") == c)).sum().alias(f"n_{c}_90d") for c in vocab.CHANNELS),
        ((age >= 90) & (age < 180)).sum().alias("_prev_90d"),
        age.min().alias("days_since_last"), age.max().alias("tenure_days"),
        pl.col("gap").mean().alias("gap_mean_days"), pl.col("gap").std().alias("_gap_std"),
        pl.max_horizontal(pl.col("gap").max(), age.min()).alias("longest_silence_days"),
        (age.filter(w365) / 30.0).floor().n_unique().alias("active_months_365d"),
        pl.col("festival").filter(w365 & out).drop_nulls().n_unique().alias("festivals_greeted_365d"),
        pl.col("depth").max().cast(pl.Float64).alias("depth_max"), pl.col("depth").mean().alias("depth_mean"),
        pl.when(pl.col("depth").is_not_null().any()).then(deep.sum() / pl.col("depth").is_not_null().sum())
        .alias("deep_share"),
        age.filter(deep).min().alias("days_since_deep"),
        pl.when(pl.col("depth").is_not_null().any()).then((deep & ~out & pl.col("initiated")).sum())
        .alias("deep_by_contact"),
        ((~out).sum() / n).alias("inbound_share"),
        ((~out).sum() / (out.sum() + 1)).alias("in_out_ratio"),
        pl.when(out.any()).then(pl.col("replied").sum() / out.sum()).alias("reply_rate_72h"),
        pl.col("their_lat").median().alias("their_latency_h"), pl.col("our_lat").median().alias("our_latency_h"),
        ((~out & pl.col("initiated")).sum() / pl.col("initiated").sum()).alias("initiated_by_contact_share"),
        ((pl.col("favor") == "given").cast(pl.Float64) - (pl.col("favor") == "received").cast(pl.Float64))
        .mul((-age / LEDGER_DAYS).exp()).sum().alias("favor_ledger"),
        age.filter(pl.col("favor") == "given").max().alias("_first_given_age"),
        age.filter(pl.col("favor") == "received").max().alias("_first_asked_age"),
        (w365 & pl.col("with_executive").fill_null(False)).sum().alias("exec_touches_365d"),
        (w365 & (pl.col("channel") == "event")).sum().alias("events_365d"),
    ]
    if with_contacts:
        exprs += [
            pl.when(pl.col("birthday_touch").is_not_null().any())
            .then((w365 & out & pl.col("birthday_touch").fill_null(False)).any().cast(pl.Int8))
            .alias("birthday_greeted_365d"),
            pl.when(pl.col("need").is_not_null().any())
            .then((w365 & ~pl.col("need").fill_null(False)).sum() / w365.sum().clip(1))
            .alias("maintenance_share_365d"),
        ]
    else:
        exprs += [pl.lit(None, dtype=pl.Int8).alias("birthday_greeted_365d"),
                  pl.lit(None, dtype=pl.Float64).alias("maintenance_share_365d")]
    return exprs


def _derived() -> list[pl.Expr]:
    given, asked = pl.col("_first_given_age"), pl.col("_first_asked_age")
    return [
        (pl.col("_gap_std") / pl.col("gap_mean_days")).alias("gap_cv"),
        ((pl.col("n_90d") - pl.col("_prev_90d")) / (pl.col("n_90d") + pl.col("_prev_90d") + 1)).alias("trend_90d"),
        pl.when(given.is_null() & asked.is_null()).then(None)
        .when(asked.is_null()).then(1).when(given.is_null()).then(0)
        .otherwise((given > asked).cast(pl.Int8)).cast(pl.Int8).alias("gave_before_asked"),
    ]


def _join_entities(out: pl.DataFrame, tables: Tables) -> pl.DataFrame:
    contacts = table(tables, "contacts", ["contact_id", "account_id", "seniority", "buying_role"])
    accounts = table(tables, "accounts", ["account_id", "tier", "potential"])
    if contacts is None:
        contacts = pl.DataFrame(schema={"contact_id": pl.String, "account_id": pl.String, "seniority": pl.String,
                                        "buying_role": pl.String})
    rank = {s: i for i, s in enumerate(vocab.SENIORITIES)}
    out = out.join(contacts, on="contact_id", how="left").with_columns(
        seniority_rank=pl.col("seniority").replace_strict(rank, default=None, return_dtype=pl.Int8))
    if accounts is None:
        return out.with_columns(account_tier=pl.lit(None, dtype=pl.String),
                                account_potential=pl.lit(None, dtype=pl.Float64))
    return out.join(accounts.rename({"tier": "account_tier", "potential": "account_potential"}),
                    on="account_id", how="left")
