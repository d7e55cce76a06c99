"""Relationship features, one row per (rep, contact): the seven elements and reciprocity.

One code path: the same function builds features for a training cutoff, for the whole base, and for
one rep inside an API request (``rep_ids``). Events after ``as_of`` are dropped before anything else.

Pandas or polars in, pandas out. Polars turns the rows into numeric columns (pair hashes, codes
instead of strings) and joins the entities; one pass over the rows in time order with per-pair state
(``features.scan``) computes every per-pair figure, including those that need the previous touch of
the same pair (gaps, replies, latencies, who started), festivals, birthdays and open deals — no sort
by pair, which was the most expensive step of a columnar plan. The features made from those figures
and the contacts' facts are computed on arrays: a query plan's fixed cost was most of one rep's time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import polars as pl

from crm import vocab
from crm.calendar import GREETING_WINDOW_DAYS, festival_days
from crm.pair_log import RepLog
from features import scan
from features.frames import Tables, polars_engine, table, utc
from features.logs import scan_codes
from features.registry import RELATIONSHIP, RELATIONSHIP_IDS

INTERACTION_COLUMNS = ["ts", "rep_id", "contact_id", "channel", "direction", "depth", "favor", "with_executive"]
_SEED = 20_240_601
PAIRS_PER_BUCKET = 500
"""Pairs per bucket of the scan (``scan.partition``): their rows and state fit the CPU cache."""
PIECE_ROWS = 1 << 20
"""Rows polars prepares at a time (``_numeric_chunks``) while numba reads the piece before."""
_EPOCH_DAY = pd.Timestamp("1970-01-01", tz="UTC")
MEET_CHANNELS = np.array([c in ("meeting", "visit", "event") for c in vocab.CHANNELS])
"""Channels where people meet: where our attendee's level shows (``level_match``)."""
SENIOR_RANK = vocab.SENIORITIES.index("vp")
"""Contacts from this seniority up expect one of our executives at a meeting."""


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
    if not inter["ts"].is_sorted():  # the scan needs time order; a store or a simulator gives it already
        inter = inter.sort("ts", maintain_order=True)
    rows = inter.slice(0, inter["ts"].search_sorted(cutoff, side="right"))
    if rep_ids is not None:
        rows = rows.filter(pl.col("rep_id").is_in(list(rep_ids)))
    chunks: list[dict[str, np.ndarray]] = []

    def keys() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for chunk in _numeric_chunks(rows):
            chunks.append(chunk)
            yield chunk["ka"], chunk["kb"]

    pids, first = scan.pair_ids(keys(), rows.height)
    pairs = pl.DataFrame([rows.get_column("rep_id").gather(first), rows.get_column("contact_id").gather(first)])
    reps, contacts = (pairs.get_column(c).to_numpy().astype(object) for c in ("rep_id", "contact_id"))
    buckets = max(1, -(-len(first) // PAIRS_PER_BUCKET))
    if buckets == 1 and len(chunks) == 1:  # small input in one piece: scan it where it lies
        facts, deals = _entity_facts(tables, pairs, cutoff)
        bounds, pid, ts, code = np.array([0, len(pids[0])], np.int64), pids[0], chunks[0]["ts"], chunks[0]["code"]
    else:  # polars reads the entities while numba groups the rows by pair
        with ThreadPoolExecutor(max_workers=1) as pool:
            entities = pool.submit(_entity_facts, tables, pairs, cutoff)
            bounds, pid, ts, code = scan.partition(
                [(p, c["ts"], c["code"]) for p, c in zip(pids, chunks, strict=True)], len(first), buckets)
            facts, deals = entities.result()
    return _finish(reps, contacts, facts, deals, bounds, pid, ts, code, cutoff)


@dataclass(frozen=True)
class EntityFacts:
    """Every contact's facts at a cutoff (account, birthdays, role; the account deal periods), computed
    once and gathered from by :func:`relationship_features_from_log` (what each call would join again)."""

    cutoff: pd.Timestamp
    index: dict[str, int]
    facts: pl.DataFrame  # one row per contact of ``index``, then one row of unknowns
    deals: tuple[np.ndarray, ...]


def entity_facts(tables: Tables, as_of: str | pd.Timestamp) -> EntityFacts | None:
    """:class:`EntityFacts` of every contact (None without a contacts table)."""
    contacts = table(tables, "contacts", ["contact_id"])
    if contacts is None:
        return None
    cutoff = utc(as_of)
    ids = contacts.get_column("contact_id").unique(maintain_order=True)
    pairs = pl.DataFrame({"rep_id": pl.Series([""] * (len(ids) + 1), dtype=pl.String),
                          "contact_id": pl.concat([ids, pl.Series([None], dtype=pl.String)])})
    facts, deals = _entity_facts(tables, pairs, cutoff)
    return EntityFacts(cutoff, {str(c): i for i, c in enumerate(ids.to_list())}, facts, deals)


def relationship_features_from_log(tables: Tables, log: RepLog, as_of: str | pd.Timestamp,
                                   entities: EntityFacts | None = None) -> pd.DataFrame:
    """:func:`relationship_features` of one rep from its pair logs (``crm.pair_log``), which hold each
    pair's rows already grouped and in time order: no table read, hash or partition, the same fold.
    ``entities``: :func:`entity_facts` at the same cutoff, shared by many calls."""
    cutoff = utc(as_of)
    keep = log.ts <= cutoff.value // 1000
    lengths = np.diff(np.concatenate([[0], np.cumsum(keep)])[log.offsets])  # rows kept per pair
    present = lengths > 0
    pid = np.repeat(np.arange(int(present.sum()), dtype=np.int32), lengths[present])
    contacts = np.asarray(log.contact_ids[present], dtype=object)
    reps = np.full(len(contacts), log.rep_id, dtype=object)
    with polars_engine(int(keep.sum())):
        if entities is not None and entities.cutoff == cutoff:
            unknown = len(entities.index)
            facts, deals = entities.facts[[entities.index.get(c, unknown) for c in contacts]], entities.deals
        else:
            pairs = pl.DataFrame({"rep_id": pl.Series(reps.tolist(), dtype=pl.String),
                                  "contact_id": pl.Series(contacts.tolist(), dtype=pl.String)})
            facts, deals = _entity_facts(tables, pairs, cutoff)
        return _finish(reps, contacts, facts, deals, np.array([0, len(pid)], np.int64), pid, log.ts[keep],
                       scan_codes(log.code[keep]), cutoff)


def _finish(reps: np.ndarray, contacts: np.ndarray, facts: pl.DataFrame,
            deals: tuple[np.ndarray, ...], bounds: np.ndarray, pid: np.ndarray, ts: np.ndarray,
            code: np.ndarray, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The fold over rows grouped by pair, and the features from its per-pair figures and the entities.

    On arrays, not a query plan: the same code for one rep in a request (a Polars plan cost ~8 ms of
    fixed overhead there) and for the whole base; ``reps``, ``contacts``: each pair's ids (object arrays)."""
    festival, festival_base = _festival_lookup(cutoff.year)
    floats, ints, per_chan = scan.fold(
        bounds, pid, len(contacts), ts, code, cutoff.value // 1000,
        vocab.CHANNELS.index("event"), len(vocab.CHANNELS), festival, festival_base, facts["acct"].to_numpy(),
        np.column_stack([facts.get_column(f"bday{k}").to_numpy() for k in range(3)]).astype(np.int64),
        deals[0], deals[1], deals[2], deals[3], deals[4], deals[5], MEET_CHANNELS)
    fold = {name: floats[:, i] for i, name in enumerate(scan.FLOATS)}
    fold |= {name: ints[:, i].astype(np.float64) for i, name in enumerate(scan.INTS)}
    fold |= {f"n_{c}_90d": per_chan[:, i].astype(np.float64) for i, c in enumerate(vocab.CHANNELS)}
    entity = {c: facts.get_column(c).to_numpy() for c in ("account_id", "seniority", "buying_role")}
    month = facts.get_column("birthday_month").cast(pl.Float64).to_numpy()
    columns = {**fold, **_derived(fold, has_deals=deals[0].shape[0] > 0)}
    columns |= _entity_features(fold, entity["seniority"], month)
    columns["account_tier"] = facts.get_column("account_tier").to_numpy().astype(object)
    columns["account_potential"] = facts.get_column("account_potential").cast(pl.Float64).to_numpy()
    columns["buying_role"] = entity["buying_role"]
    ids = dict(zip(RELATIONSHIP_IDS, (reps, contacts, entity["account_id"].astype(object)), strict=True))
    order = np.lexsort((pd.factorize(contacts, sort=True)[0], pd.factorize(reps, sort=True)[0]))
    out = {**ids, **{f.name: columns[f.name] for f in RELATIONSHIP}}
    # one dtype per feature whatever the data: float64 for numbers (NaN missing), text for categories
    return pd.DataFrame({name: (values if values.dtype == object else values.astype(np.float64))[order]
                         for name, values in out.items()})


def _entity_facts(tables: Tables, pairs: pl.DataFrame, cutoff: pd.Timestamp
                  ) -> tuple[pl.DataFrame, tuple[np.ndarray, ...]]:
    """Per pair its contact's facts (``_pair_facts``), and the deal periods of their accounts and their
    deals won or lost in the year as CSR arrays for ``scan.fold`` (offsets empty without deals)."""
    contacts = table(tables, "contacts", ["contact_id", "account_id", "seniority", "buying_role", "birthday_month",
                                          "birthday_day"])
    opps = table(tables, "opportunities", ["account_id", "created_at", "closed_at", "outcome"])
    none = (np.empty(0, np.int64), np.empty(0), np.empty(0))
    no_deals = (*none, np.empty(0, np.int64), np.empty(0), np.empty(0, np.bool_))
    if contacts is None:
        facts = pl.DataFrame({"acct": np.full(pairs.height, -1, np.int64)}).with_columns(
            [pl.lit(-1, dtype=pl.Int64).alias(f"bday{k}") for k in range(3)]
            + [pl.lit(None, dtype=pl.String).alias(c) for c in ("account_id", "seniority", "buying_role",
                                                                 "account_tier")]
            + [pl.lit(None, dtype=pl.Int64).alias("birthday_month"),
               pl.lit(None, dtype=pl.Float64).alias("account_potential")])
        return facts, no_deals
    mine, codes = _pair_contacts(pairs.lazy(), contacts.lazy())
    accounts = table(tables, "accounts", ["account_id", "tier", "potential"])
    queries = [_pair_facts(pairs.lazy(), mine, codes, cutoff, accounts), codes.select(pl.len())]
    if opps is not None and opps.height > 0:
        queries += [_open_intervals(opps.lazy(), codes, cutoff), _outcomes(opps.lazy(), codes, cutoff)]
    facts, n_codes, *found = pl.collect_all(queries)  # one plan: the shared parts run once
    if not found:
        return facts, no_deals
    intervals, outcomes = found

    def offsets(acct: pl.Series) -> np.ndarray:
        counts = np.zeros(n_codes.item() + 1, np.int64)
        np.add.at(counts, acct.to_numpy() + 1, 1)
        return np.cumsum(counts)

    return facts, (offsets(intervals["acct"]), intervals["start"].to_numpy(), intervals["end"].to_numpy(),
                   offsets(outcomes["acct"]), outcomes["day"].to_numpy(), outcomes["won"].to_numpy())


def _numeric_chunks(rows: pl.DataFrame) -> Iterator[dict[str, np.ndarray]]:
    """The rows as numeric numpy columns (pair hashes, time, ``scan.pack`` codes), piece by piece.

    Polars prepares the next piece on another thread while the caller's scan (numba, serial) reads
    the one before; pieces also spare copying a chunked frame (a Parquet read) into one array.
    Strings become codes through their hashes: hashing is several times faster in polars than
    mapping strings to codes, and the ~70 valid (channel, direction, favor) combinations are
    looked up by hash; a piece with any other value takes the exact path.
    """
    kinds = _kind_table()
    offsets = range(0, max(rows.height, 1), PIECE_ROWS)

    def prepare(offset: int) -> dict[str, np.ndarray]:
        piece = rows.slice(offset, PIECE_ROWS)
        cols = piece.select(
            pl.col("rep_id").hash(_SEED).alias("ka"), pl.col("contact_id").hash(_SEED + 1).alias("kb"),
            pl.col("ts").dt.epoch("us").alias("ts"), _kind_hash().alias("kind"),
            pl.col("depth").cast(pl.Int8).fill_null(-1).alias("depth"),
            pl.col("with_executive").cast(pl.Boolean).fill_null(False).alias("exec")).rechunk()
        arrays = {name: cols.get_column(name).to_numpy() for name in cols.columns}
        code, unknown = scan.encode(arrays.pop("kind"), arrays.pop("depth"), arrays.pop("exec"), *kinds)
        if unknown:
            code = piece.select(_exact_code()).to_series().to_numpy()
        return {**arrays, "code": code}

    if len(offsets) == 1:
        yield prepare(0)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield from pool.map(prepare, offsets)


@cache
def _kind_hash() -> pl.Expr:
    return sum((pl.col(c).cast(pl.String).hash(_SEED + 2 + k) for k, c in enumerate(("channel", "direction", "favor"))),
               start=pl.lit(0, dtype=pl.UInt64))


@cache
def _kind_table() -> tuple[np.ndarray, np.ndarray]:
    """Every valid (channel, direction, favor), nulls included, by hash: ``scan.encode``'s table."""
    combos = pl.DataFrame([(c, d, f) for c in (*vocab.CHANNELS, None) for d in (*vocab.DIRECTIONS, None)
                           for f in (*vocab.FAVORS, None)],
                          schema={"channel": pl.String, "direction": pl.String, "favor": pl.String}, orient="row")
    table_ = combos.with_columns(depth=pl.lit(None, dtype=pl.Int8), with_executive=pl.lit(False)).select(
        _kind_hash().alias("hash"), _exact_code().alias("code"))
    return scan.kind_index(table_["hash"].to_numpy(), table_["code"].to_numpy())


def _code(name: str, values: tuple[str, ...]) -> pl.Expr:
    return (pl.col(name).replace_strict({v: i for i, v in enumerate(values)}, default=None, return_dtype=pl.Int8)
            .fill_null(-1))


def _exact_code() -> pl.Expr:
    """``scan.pack`` of a row, from its strings."""
    return scan.pack(out=(pl.col("direction") == "outbound").fill_null(False),
                     chan=_code("channel", vocab.CHANNELS),
                     depth=pl.col("depth").cast(pl.Int8).fill_null(-1),
                     favor=pl.when(pl.col("favor") == "given").then(1).when(pl.col("favor") == "received").then(-1)
                     .otherwise(0),
                     execu=pl.col("with_executive").cast(pl.Boolean).fill_null(False)).cast(pl.Int16)


@cache
def _festival_lookup(year: int) -> tuple[np.ndarray, int]:
    """Epoch day (from the returned base) -> festival index, -1 outside the greeting windows, for an
    ``as_of`` in ``year`` (the arrays are shared between calls: read only)."""
    lookup: dict[int, int] = {}
    for i, day in enumerate(festival_days(year - 2, year + 1)):
        epoch_day = (pd.Timestamp(day, tz="UTC") - _EPOCH_DAY).days
        for back in range(GREETING_WINDOW_DAYS + 1):
            lookup[epoch_day - back] = i
    if not lookup:
        return np.full(1, -1, np.int64), 0
    base = min(lookup)
    days = np.full(max(lookup) - base + 1, -1, np.int64)
    for epoch, i in lookup.items():
        days[epoch - base] = i
    return days, base


def _pair_contacts(pairs: pl.LazyFrame, contacts: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The contacts of these pairs (one row per contact) and a code per account among them."""
    mine = contacts.unique("contact_id", keep="first").join(pairs.select("contact_id").unique(), on="contact_id",
                                                            how="semi")
    codes = (mine.select(pl.col("account_id").drop_nulls().unique().sort())
             .with_row_index("acct").with_columns(pl.col("acct").cast(pl.Int64)))
    return mine, codes


def _pair_facts(pairs: pl.LazyFrame, mine: pl.LazyFrame, codes: pl.LazyFrame, cutoff: pd.Timestamp,
                accounts: pl.DataFrame | None) -> pl.LazyFrame:
    """Per pair, in pair order: the contact's account code (-1 unknown), birthday epoch days in three
    years (-1 unknown), the contact's account, seniority, buying role and birthday month, and the account's
    tier and potential (joined here, once per day in serving, not in every request)."""
    month, dom = pl.col("birthday_month").cast(pl.Int64), pl.col("birthday_day").cast(pl.Int64)
    facts = [pl.col("acct").fill_null(-1), "account_id", "seniority", "buying_role", month.alias("birthday_month"),
             "account_tier", "account_potential"]
    for k, year in enumerate((cutoff.year - 1, cutoff.year, cutoff.year + 1)):
        # day 1 of the month plus (day - 1) days: 29 February is 1 March in other years
        day = pl.date(year, month, 1) + pl.duration(days=dom - 1)
        facts.append((day - pl.date(1970, 1, 1)).dt.total_days().cast(pl.Int64).fill_null(-1).alias(f"bday{k}"))
    known = mine.join(codes, on="account_id", how="left")
    if accounts is None:
        known = known.with_columns(account_tier=pl.lit(None, dtype=pl.String),
                                   account_potential=pl.lit(None, dtype=pl.Float64))
    else:
        known = known.join(accounts.lazy().unique("account_id", keep="first", maintain_order=True).select(
            "account_id", account_tier=pl.col("tier").cast(pl.String),
            account_potential=pl.col("potential").cast(pl.Float64)), on="account_id", how="left")
    return (pairs.select("contact_id").join(known, on="contact_id", how="left", maintain_order="left")
            .select(facts))


def _open_intervals(opps: pl.LazyFrame, codes: pl.LazyFrame, cutoff: pd.Timestamp) -> pl.LazyFrame:
    """Per account code, the periods a deal was open as known at ``as_of``, in epoch days, by start.

    A deal that closes after ``as_of`` counts as still open. Overlapping deals are merged by a running
    maximum of the close, so the last period starting before a touch tells whether a deal was open.
    """
    far = float(np.finfo(np.float64).max)
    day = pl.lit(float(scan.US_PER_DAY))
    return (opps.filter(pl.col("created_at").is_not_null() & (pl.col("created_at") <= cutoff))
            .join(codes, on="account_id", how="inner")
            .with_columns(start=pl.col("created_at").dt.epoch("us").cast(pl.Float64) / day,
                          end=pl.when(pl.col("closed_at").is_null() | (pl.col("closed_at") > cutoff))
                          .then(pl.lit(far)).otherwise(pl.col("closed_at").dt.epoch("us").cast(pl.Float64) / day))
            .sort(["acct", "start"])
            .with_columns(pl.col("end").cum_max().over("acct")))


def _outcomes(opps: pl.LazyFrame, codes: pl.LazyFrame, cutoff: pd.Timestamp) -> pl.LazyFrame:
    """Per account code, its deals won or lost in the year up to ``as_of``: close day (epoch days), won."""
    day = pl.lit(float(scan.US_PER_DAY))
    closed = pl.col("closed_at")
    return (opps.filter(pl.col("outcome").is_in(["won", "lost"]) & closed.is_not_null() & (closed <= cutoff)
                        & (closed > cutoff - pd.Timedelta(days=365)))
            .join(codes, on="account_id", how="inner")
            .select("acct", day=closed.dt.epoch("us").cast(pl.Float64) / day, won=pl.col("outcome") == "won")
            .sort(["acct", "day"]))


def _ratio(num: np.ndarray, den: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """``num / den`` where ``where`` (default: everywhere), NaN elsewhere; 0/0 is NaN, x/0 infinite."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return out if where is None else np.where(where, out, np.nan)


def _derived(f: dict[str, np.ndarray], has_deals: bool) -> dict[str, np.ndarray]:
    """Features made from the fold's per-pair figures (``f``: float columns; NaN = unknown)."""
    given, asked = f["_first_given_age"], f["_first_asked_age"]
    n = f["_in_n"] + f["_out_n"]
    has_depth = f["_depth_n"] > 0
    recent = f["_recent_n"]
    gave = np.where(np.isnan(asked), 1.0, np.where(np.isnan(given), 0.0, (given > asked).astype(np.float64)))
    return {
        "gap_cv": _ratio(f["_gap_std"], f["gap_mean_days"], f["gap_mean_days"] > 0),
        "trend_90d": _ratio(f["n_90d"] - f["_prev_90d"], f["n_90d"] + f["_prev_90d"] + 1),
        "reply_rate_72h": _ratio(f["_replied"], f["_out_n"], f["_out_n"] > 0),
        "active_months_365d": np.bitwise_count(f["_months"].astype(np.int64)).astype(np.float64),
        "depth_max": f["_depth_max"],
        "deep_share": _ratio(f["_deep_n"], f["_depth_n"], has_depth),
        "deep_by_contact": np.where(has_depth, f["_deep_by_contact"], np.nan),
        "inbound_share": _ratio(f["_in_n"], n),
        "in_out_ratio": _ratio(f["_in_n"], f["_out_n"] + 1),
        "initiated_by_contact_share": _ratio(f["_init_in"], f["_init_n"]),
        "favor_ledger": np.nan_to_num(f["favor_ledger"], nan=0.0),
        "festivals_greeted_365d": f["_festivals"],
        "maintenance_share_365d": _ratio(recent - f["_need_n"], recent, recent > 0) if has_deals
        else np.full(len(n), np.nan),
        # dignity: a rate ratio against the pair's own year, +0.5 on both sides (1 is the usual rhythm)
        "push_after_win": _ratio(f["_push_after_win"] + 0.5, f["_business_365d"] / 365.0 * f["_win_days"] + 0.5,
                                 f["_win_days"] > 0),
        "touch_after_loss": _ratio(f["_touch_after_loss"] + 0.5, f["_out_365d"] / 365.0 * f["_loss_days"] + 0.5,
                                   f["_loss_days"] > 0),
        "gave_before_asked": np.where(np.isnan(given) & np.isnan(asked), np.nan, gave),
    }


def _entity_features(f: dict[str, np.ndarray], seniority: np.ndarray, birthday_month: np.ndarray
                     ) -> dict[str, np.ndarray]:
    """What the contact's facts add: the seniority rank, our level at meetings with a senior contact, and
    whether a known birthday was greeted."""
    rank = np.array([vocab.SENIORITY_RANK.get(s, np.nan) if isinstance(s, str) else np.nan for s in seniority],
                    dtype=np.float64)
    return {
        "seniority_rank": rank,
        # dignity: our executives at the meetings with a senior contact (vp and above)
        "level_match": _ratio(f["_meets_exec_365d"], f["_meets_365d"], (rank >= SENIOR_RANK) & (f["_meets_365d"] > 0)),
        # a known birthday with no touch in the year is a birthday not greeted, not an unknown
        "birthday_greeted_365d": np.where(np.isnan(birthday_month), np.nan, np.nan_to_num(f["_birthday_touch"])),
    }
