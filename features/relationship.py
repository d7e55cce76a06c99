"""Relationship features, one row per (rep, contact): the seven elements and reciprocity.

One code path: the same function builds features for a training cutoff, for the whole base, and for
one rep inside an API request (``rep_ids``). Events after ``as_of`` are dropped before anything else.

Polars does the work (pandas or polars in, pandas out). Strings are turned into small codes once;
then three queries run in parallel over the numeric rows: one group-by for counts and levels, one
pass over the rows sorted by pair for what needs the previous or next touch (gaps, replies,
latencies, who started), and one over the last 365 days joined with contacts and deals (occasions,
need-driven vs maintenance touches).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import polars as pl

from crm import vocab
from crm.calendar import GREETING_WINDOW_DAYS, festival_days
from features.frames import Tables, polars_engine, table, utc
from features.registry import RELATIONSHIP, RELATIONSHIP_IDS

INTERACTION_COLUMNS = ["ts", "rep_id", "contact_id", "channel", "direction", "depth", "favor", "with_executive"]
REPLY_HOURS = 72.0
LEDGER_DAYS = 720.0
US_PER_DAY = 86_400e6
_EPOCH_DAY = pd.Timestamp("1970-01-01", tz="UTC")


def relationship_features(tables: Tables, as_of: str | pd.Timestamp, rep_ids: Iterable[str] | None = None
                          ) -> pd.DataFrame:
    """Features of every (rep, contact) pair with at least one interaction up to ``as_of``.

    Args:
        tables: contract tables (pandas or polars); ``interactions`` is required, ``contacts``,
            ``accounts`` and ``opportunities`` add value proxies and the maintenance share.
        as_of: the cutoff; only interactions with ``ts <= as_of`` are read.
        rep_ids: restrict to these reps (the same code path as the whole base).
    """
    inter = table(tables, "interactions", INTERACTION_COLUMNS)
    if inter is None:
        raise ValueError("relationship features need the interactions table")
    with polars_engine(inter.height):
        return _relationship_features(tables, inter, utc(as_of), rep_ids)


def _relationship_features(tables: Tables, inter: pl.DataFrame, cutoff: pd.Timestamp,
                           rep_ids: Iterable[str] | None) -> pd.DataFrame:
    lf = inter.lazy().filter(pl.col("ts") <= cutoff)
    if rep_ids is not None:
        lf = lf.filter(pl.col("rep_id").is_in(list(rep_ids)))
    rows = _encode(lf, cutoff).collect()
    contacts = table(tables, "contacts", ["contact_id", "account_id", "seniority", "buying_role", "birthday_month",
                                          "birthday_day"])
    opps = table(tables, "opportunities", ["account_id", "created_at", "closed_at"])
    if contacts is not None and rep_ids is not None:  # one rep: only its contacts and their deals matter
        contacts = contacts.filter(pl.col("contact_id").is_in(rows["contact_id"].cast(pl.String).unique().implode()))
        if opps is not None:
            opps = opps.filter(pl.col("account_id").is_in(contacts["account_id"].implode()))
    counts, context, recent = pl.collect_all([
        rows.lazy().group_by("pair").agg(_counts()),
        _context(rows.lazy().select("pair", "age", "is_out", "deep").sort("pair", maintain_order=True)),
        _recent(rows.lazy().filter(pl.col("age") < 365), contacts, cutoff),
    ])
    recent = _with_need(recent, opps, _account_codes(contacts) if contacts is not None else {}, cutoff)
    recent_agg = recent.lazy().group_by("pair").agg(_recent_aggregations(contacts is not None)).collect()
    out = (counts.join(context, on="pair", how="left").join(recent_agg, on="pair", how="left")
           .with_columns(pl.selectors.by_dtype(pl.UInt32, pl.UInt64).exclude("pair").cast(pl.Int64))
           .with_columns(_derived()))
    out = _join_entities(out, contacts, table(tables, "accounts", ["account_id", "tier", "potential"]))
    names = [f.name for f in RELATIONSHIP]
    # one dtype per feature whatever the data: float64 for numbers (null-able), text for categories
    numeric = [n for n in names if n not in ("buying_role", "account_tier")]
    return (out.select([*RELATIONSHIP_IDS, *names]).with_columns(pl.col(numeric).cast(pl.Float64))
            .sort(["rep_id", "contact_id"]).to_pandas())


def _code(name: str, values: tuple[str, ...]) -> pl.Expr:
    return pl.col(name).replace_strict({v: i for i, v in enumerate(values)}, default=None, return_dtype=pl.Int8)


def _encode(lf: pl.LazyFrame, cutoff: pd.Timestamp) -> pl.LazyFrame:
    """Numeric rows: pair key, age in days before ``as_of``, codes instead of strings."""
    rep = pl.col("rep_id").cast(pl.Categorical).to_physical().cast(pl.UInt64)
    con = pl.col("contact_id").cast(pl.Categorical).to_physical().cast(pl.UInt64)
    cutoff_us = cutoff.value // 1000
    ts_us = pl.col("ts").dt.epoch("us")
    return lf.select(
        pl.col("rep_id").cast(pl.Categorical), pl.col("contact_id").cast(pl.Categorical),
        (rep * (1 << 32) + con).alias("pair"),
        ((cutoff_us - ts_us).cast(pl.Float64) / US_PER_DAY).alias("age"),
        (ts_us // int(US_PER_DAY)).cast(pl.Int32).alias("day"),
        (pl.col("direction") == "outbound").alias("is_out"),
        _code("channel", vocab.CHANNELS).alias("chan"),
        pl.col("depth").cast(pl.Int8),
        (pl.col("depth") >= 3).alias("deep"),
        pl.when(pl.col("favor") == "given").then(1).when(pl.col("favor") == "received").then(-1).otherwise(0)
        .cast(pl.Int8).alias("favor"),
        pl.col("with_executive").fill_null(False).cast(pl.Boolean).alias("exec"),
    )


def _counts() -> list[pl.Expr]:
    age, out, chan = pl.col("age"), pl.col("is_out"), pl.col("chan")
    w90, w365 = age < 90, age < 365
    favor = pl.col("favor")
    has_depth = pl.col("depth").is_not_null()
    return [
        pl.col("rep_id").first().cast(pl.String), pl.col("contact_id").first().cast(pl.String),
        (age < 30).sum().alias("n_30d"), w90.sum().alias("n_90d"), w365.sum().alias("n_365d"),
        (w90 & out).sum().alias("out_90d"), (w90 & ~out).sum().alias("in_90d"),
        *((w90 & (chan == i)).sum().alias(f"n_{c}_90d") for i, c in enumerate(vocab.CHANNELS)),
        ((age >= 90) & (age < 180)).sum().alias("_prev_90d"),
        age.min().alias("days_since_last"), age.max().alias("tenure_days"),
        # one bit per 30-day period of the last year: OR them per pair and count the bits
        pl.when(w365).then(pl.lit(2.0).pow((age / 30.0).floor()).cast(pl.Int32)).otherwise(0)
        .bitwise_or().bitwise_count_ones().alias("active_months_365d"),
        pl.col("depth").max().cast(pl.Float64).alias("depth_max"), pl.col("depth").mean().alias("depth_mean"),
        pl.when(has_depth.any()).then(pl.col("deep").sum() / has_depth.sum()).alias("deep_share"),
        age.filter(pl.col("deep")).min().alias("days_since_deep"),
        has_depth.any().alias("_has_depth"),
        ((~out).sum() / pl.len()).alias("inbound_share"),
        ((~out).sum() / (out.sum() + 1)).alias("in_out_ratio"),
        out.sum().alias("_out_n"),
        (favor.cast(pl.Float64) * (-age / LEDGER_DAYS).exp()).sum().alias("favor_ledger"),
        age.filter(favor == 1).max().alias("_first_given_age"),
        age.filter(favor == -1).max().alias("_first_asked_age"),
        (w365 & pl.col("exec")).sum().alias("exec_touches_365d"),
        (w365 & (chan == vocab.CHANNELS.index("event"))).sum().alias("events_365d"),
    ]


def _context(sorted_rows: pl.LazyFrame) -> pl.LazyFrame:
    """What needs the neighbouring touch of the same pair; rows are sorted by pair, then time."""
    pair, age, out = pl.col("pair"), pl.col("age"), pl.col("is_out")
    same_prev, same_next = pair == pair.shift(1), pair == pair.shift(-1)
    gap = pl.when(same_prev).then(age.shift(1) - age)
    next_gap = pl.when(same_next).then(age - age.shift(-1))
    prev_out = pl.when(same_prev).then(out.shift(1))
    next_in = pl.when(same_next).then(~out.shift(-1)).otherwise(False)
    answer = same_prev & (prev_out != out) & (gap * 24 <= REPLY_HOURS)
    ctx = sorted_rows.with_columns(
        gap.alias("gap"),
        (out & next_in & (next_gap * 24 <= REPLY_HOURS)).alias("replied"),
        pl.when(~out & prev_out.fill_null(False)).then(gap * 24).alias("their_lat"),
        pl.when(out & ~prev_out.fill_null(True)).then(gap * 24).alias("our_lat"),
        (~answer.fill_null(False)).alias("initiated"),
    )
    init = pl.col("initiated")
    return ctx.group_by("pair").agg(
        pl.col("gap").mean().alias("gap_mean_days"), pl.col("gap").std().alias("_gap_std"),
        pl.max_horizontal(pl.col("gap").max(), age.min()).alias("longest_silence_days"),
        pl.col("replied").sum().alias("_replied"),
        pl.col("their_lat").median().alias("their_latency_h"), pl.col("our_lat").median().alias("our_latency_h"),
        ((~out & init).sum() / init.sum()).alias("initiated_by_contact_share"),
        (pl.col("deep") & ~out & init).sum().alias("_deep_by_contact"),
    )


def _festival_lookup(cutoff: pd.Timestamp) -> dict[int, int]:
    """Epoch day -> festival index, for the greeting window before each festival."""
    lookup: dict[int, int] = {}
    for i, day in enumerate(festival_days(cutoff.year - 2, cutoff.year + 1)):
        epoch_day = (pd.Timestamp(day, tz="UTC") - _EPOCH_DAY).days
        for back in range(GREETING_WINDOW_DAYS + 1):
            lookup[epoch_day - back] = i
    return lookup


def _account_codes(contacts: pl.DataFrame) -> dict[str, int]:
    return {a: i for i, a in enumerate(contacts["account_id"].unique().drop_nulls().sort().to_list())}


def _contact_facts(contacts: pl.DataFrame, cutoff: pd.Timestamp) -> pl.DataFrame:
    """Per contact: an integer account code and the epoch day of each birthday near the last year."""
    facts = [pl.col("contact_id"),
             pl.col("account_id").replace_strict(_account_codes(contacts), default=None, return_dtype=pl.Int32)
             .alias("acct")]
    for k, year in enumerate((cutoff.year - 1, cutoff.year, cutoff.year + 1)):
        first = pl.date(year, pl.col("birthday_month").cast(pl.Int64), 1)
        day = first.dt.offset_by(pl.format("{}d", pl.col("birthday_day").cast(pl.Int64) - 1))
        facts.append((day - pl.date(1970, 1, 1)).dt.total_days().cast(pl.Int32).alias(f"bday{k}"))
    return contacts.select(facts)


def _recent(rows: pl.LazyFrame, contacts: pl.DataFrame | None, cutoff: pd.Timestamp) -> pl.LazyFrame:
    """The last 365 days, with the festival of each touch, and the contact's account and birthday."""
    out = rows.select("pair", pl.col("contact_id").cast(pl.String), "day", "is_out",
                      pl.col("day").replace_strict(_festival_lookup(cutoff), default=None, return_dtype=pl.Int32)
                      .alias("festival"))
    if contacts is None:
        return out
    facts = _contact_facts(contacts, cutoff).lazy()
    day = pl.col("day")
    touch = pl.any_horizontal([((pl.col(f"bday{k}") - day) >= 0) & ((pl.col(f"bday{k}") - day) <= GREETING_WINDOW_DAYS)
                               for k in range(3)])
    return (out.join(facts, on="contact_id", how="left")
            .with_columns(birthday_touch=pl.when(pl.col("bday1").is_not_null()).then(touch))
            .drop("bday0", "bday1", "bday2"))


def _with_need(recent: pl.DataFrame, opps: pl.DataFrame | None, codes: dict[str, int], cutoff: pd.Timestamp
               ) -> pl.DataFrame:
    """Flag touches made while a deal of the contact's account was open, as known at ``as_of``.

    A deal that closes after ``as_of`` counts as still open. Deals are merged into open intervals per
    account (running maximum of the close); each touch finds the last interval of its account that
    began before it (an as-of join) and is need-driven when that interval has not ended.
    """
    if opps is None or opps.height == 0 or "acct" not in recent.columns:
        return recent.with_columns(need=pl.lit(None, dtype=pl.Boolean))
    far = float(np.finfo(np.float64).max)
    intervals = (opps.filter(pl.col("created_at").is_not_null() & (pl.col("created_at") <= cutoff))
                 .with_columns(acct=pl.col("account_id").replace_strict(codes, default=None, return_dtype=pl.Int32),
                               start=pl.col("created_at").dt.epoch("us").cast(pl.Float64) / US_PER_DAY,
                               end=pl.when(pl.col("closed_at").is_null() | (pl.col("closed_at") > cutoff))
                               .then(pl.lit(far)).otherwise(pl.col("closed_at").dt.epoch("us").cast(pl.Float64)
                                                            / US_PER_DAY))
                 .drop_nulls("acct").sort(["acct", "start"])
                 .with_columns(pl.col("end").cum_max().over("acct"))
                 .select("acct", "start", "end").sort("start"))
    touches = recent.with_columns(t=pl.col("day").cast(pl.Float64) + 0.5)  # a touch is placed at mid-day
    if not touches["t"].is_sorted():
        touches = touches.sort("t")
    joined = touches.join_asof(intervals, left_on="t", right_on="start", by="acct", strategy="backward",
                              check_sortedness=False)  # both sides were sorted just above
    return joined.with_columns(need=pl.col("end").fill_null(-1.0) > pl.col("t")).drop("t", "start", "end")


def _recent_aggregations(with_contacts: bool) -> list[pl.Expr]:
    out = pl.col("is_out")
    exprs = [pl.col("festival").filter(out).drop_nulls().n_unique().alias("festivals_greeted_365d")]
    if with_contacts:
        exprs.append(pl.when(pl.col("birthday_touch").is_not_null().any())
                     .then((out & pl.col("birthday_touch").fill_null(False)).any().cast(pl.Int8))
                     .alias("birthday_greeted_365d"))
    else:
        exprs.append(pl.lit(None, dtype=pl.Int8).alias("birthday_greeted_365d"))
    need = pl.col("need")
    exprs.append(pl.when(need.is_not_null().any()).then((~need.fill_null(False)).sum() / pl.len())
                 .alias("maintenance_share_365d"))
    return exprs


def _derived() -> list[pl.Expr]:
    given, asked = pl.col("_first_given_age"), pl.col("_first_asked_age")
    return [
        pl.when(pl.col("gap_mean_days") > 0).then(pl.col("_gap_std") / pl.col("gap_mean_days")).alias("gap_cv"),
        ((pl.col("n_90d") - pl.col("_prev_90d")) / (pl.col("n_90d") + pl.col("_prev_90d") + 1)).alias("trend_90d"),
        pl.when(pl.col("_out_n") > 0).then(pl.col("_replied") / pl.col("_out_n")).alias("reply_rate_72h"),
        pl.when(pl.col("_has_depth")).then(pl.col("_deep_by_contact")).alias("deep_by_contact"),
        pl.col("festivals_greeted_365d").fill_null(0),
        pl.when(given.is_null() & asked.is_null()).then(None)
        .when(asked.is_null()).then(1).when(given.is_null()).then(0)
        .otherwise((given > asked).cast(pl.Int8)).cast(pl.Int8).alias("gave_before_asked"),
    ]


def _join_entities(out: pl.DataFrame, contacts: pl.DataFrame | None, accounts: pl.DataFrame | None) -> pl.DataFrame:
    if contacts is None:
        contacts = pl.DataFrame(schema={"contact_id": pl.String, "account_id": pl.String, "seniority": pl.String,
                                        "buying_role": pl.String})
    rank = {s: i for i, s in enumerate(vocab.SENIORITIES)}
    if "birthday_month" not in contacts.columns:
        contacts = contacts.with_columns(birthday_month=pl.lit(None, dtype=pl.Int64))
    out = out.join(contacts.select("contact_id", "account_id", "seniority", "buying_role", "birthday_month"),
                   on="contact_id", how="left").with_columns(
        seniority_rank=pl.col("seniority").replace_strict(rank, default=None, return_dtype=pl.Int8),
        # a known birthday with no touch in the year is a birthday not greeted, not an unknown
        birthday_greeted_365d=pl.when(pl.col("birthday_month").is_not_null())
        .then(pl.col("birthday_greeted_365d").fill_null(0)))
    if accounts is None:
        return out.with_columns(account_tier=pl.lit(None, dtype=pl.String),
                                account_potential=pl.lit(None, dtype=pl.Float64))
    return out.join(accounts.rename({"tier": "account_tier", "potential": "account_potential"}),
                    on="account_id", how="left")
