"""Per-pair folds over interactions kept in time order: what relationship features need.

Half of the relationship features depend on the previous or next touch of the same pair (gaps,
replies within 72 h, response latencies, who started a conversation). A columnar engine gets those
only after sorting the log by pair and time, which took 4–5 s on a 12M-row log here (Polars) — four
times the whole group-by of the core aggregates. Rows that already come in time order need no such
sort: pairs get dense ids (``pair_ids``), rows are scattered into buckets of consecutive ids
(``partition``, linear), each bucket — small enough for the CPU cache — is grouped by pair with a
stable counting sort, and each pair is folded over its own rows in time order (``fold``), buckets in
parallel. Polars prepares the columns and joins the entities around this (``features.relationship``).

Pairs are told apart by two independent 64-bit hashes (rep and contact), so two different pairs
share a key only if both hashes collide at once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import polars as pl
from numba import njit, prange

US_PER_DAY = 86_400_000_000
REPLY_HOURS = 72.0
LEDGER_DAYS = 720.0
WIN_WINDOW_DAYS = 30.0
"""Dignity (体面): the weeks after a won deal at the contact's account, in which a rep's asks are counted."""
LOSS_WINDOW_DAYS = 60.0
"""Dignity: the weeks after a lost deal at the contact's account, in which a rep's touches are counted."""



class F(enum.IntEnum):
    """``fold``'s float outputs: one column each, in this order. A leading ``_`` marks an intermediate
    that ``features.relationship`` turns into features; the kernel writes ``f[F.name]``."""

    days_since_last = 0
    tenure_days = 1
    depth_mean = 2
    days_since_deep = 3
    favor_ledger = 4
    _first_given_age = 5
    _first_asked_age = 6
    gap_mean_days = 7
    _gap_std = 8
    longest_silence_days = 9
    their_latency_h = 10
    our_latency_h = 11
    _depth_max = 12
    _win_days = 13
    _loss_days = 14
    days_since_win = 15
    days_since_loss = 16


class I(enum.IntEnum):  # noqa: E742 - the kernel reads c[I.n_30d]: short on purpose
    """``fold``'s integer outputs (counts), in column order, as :class:`F`."""

    n_30d = 0
    n_90d = 1
    n_365d = 2
    out_90d = 3
    in_90d = 4
    _prev_90d = 5
    _months = 6
    _depth_n = 7
    _deep_n = 8
    _in_n = 9
    _out_n = 10
    exec_touches_365d = 11
    events_365d = 12
    _replied = 13
    _init_n = 14
    _init_in = 15
    _deep_by_contact = 16
    _festivals = 17
    _birthday_touch = 18
    _recent_n = 19
    _need_n = 20
    _push_after_win = 21
    _touch_after_loss = 22
    _business_365d = 23
    _out_365d = 24
    _meets_365d = 25
    _meets_exec_365d = 26


FLOATS = tuple(m.name for m in F)
INTS = tuple(m.name for m in I)

# The row code: one small integer per interaction, so that a row moves through the partition as three
# numbers. Bit 0: outbound; bit 1: with one of our executives; bits 2-5: channel code + 1 (0: unknown);
# bits 6-8: depth + 1 (0: none); bits 9-10: favor + 1 (0: received, 1: none, 2: given).
OUT_BIT, EXEC_BIT = 1, 2
CHAN_SHIFT, CHAN_MASK = 2, 15
DEPTH_SHIFT, DEPTH_MASK = 6, 7
FAVOR_SHIFT, FAVOR_MASK = 9, 3


def pack(out: pl.Expr, chan: pl.Expr, depth: pl.Expr, favor: pl.Expr, execu: pl.Expr) -> pl.Expr:
    """The row code (layout above) of every row, as a Polars expression."""
    def i(e: pl.Expr) -> pl.Expr:
        return e.cast(pl.Int32)
    return (i(out) * OUT_BIT + i(execu) * EXEC_BIT + (i(chan) + 1) * (1 << CHAN_SHIFT)
            + (i(depth) + 1) * (1 << DEPTH_SHIFT) + (i(favor) + 1) * (1 << FAVOR_SHIFT))


@njit(cache=True, inline="always")
def unpack(code: np.int16) -> tuple[bool, bool, int, int, int]:
    """(outbound, executive, channel code, depth, favor) of a row code; -1 where unknown or none."""
    return (bool(code & OUT_BIT), bool(code & EXEC_BIT), int((code >> CHAN_SHIFT) & CHAN_MASK) - 1,
            int((code >> DEPTH_SHIFT) & DEPTH_MASK) - 1, int((code >> FAVOR_SHIFT) & FAVOR_MASK) - 1)


def kind_index(kind_hashes: np.ndarray, kind_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An open-addressing table (hash -> code) for ``encode``: a few valid kinds, so 1024 slots."""
    size = 1024
    hashes, codes = np.zeros(size, np.uint64), np.full(size, -1, np.int16)
    for h, c in zip(kind_hashes, kind_codes, strict=True):
        j = int(h) & (size - 1)
        while codes[j] >= 0:
            j = (j + 1) & (size - 1)
        hashes[j], codes[j] = h, c
    return hashes, codes


@njit(cache=True, nogil=True)
def encode(kind: np.ndarray, depth: np.ndarray, execu: np.ndarray, hashes: np.ndarray, codes: np.ndarray
           ) -> tuple[np.ndarray, int]:
    """``pack`` codes from a hash of (channel, direction, favor) looked up in ``kind_index``'s table
    of the valid ones, plus depth and the executive flag; also how many rows had an unknown hash."""
    code = np.empty(kind.shape[0], np.int16)
    mask = np.uint64(hashes.shape[0] - 1)
    keep = ~np.int16(EXEC_BIT | (DEPTH_MASK << DEPTH_SHIFT))  # the table's codes carry no depth, no executive
    unknown = 0
    for i in range(kind.shape[0]):
        j = kind[i] & mask
        while codes[j] >= 0 and hashes[j] != kind[i]:
            j = (j + np.uint64(1)) & mask
        if codes[j] >= 0:
            base = codes[j] & keep
        else:
            base = np.int16(0)
            unknown += 1
        code[i] = base | (np.int16(execu[i]) * EXEC_BIT) | (np.int16(depth[i] + 1) << DEPTH_SHIFT)
    return code, unknown


Chunk = tuple[np.ndarray, ...]


def pair_ids(chunks: Iterable[tuple[np.ndarray, np.ndarray]], n_rows: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Dense pair ids in order of first appearance, one array per chunk of rows, and each pair's
    first row (counted across chunks). Chunks are taken as they come (no copy into one array)."""
    cap, count, offset = 1024, 0, 0
    keys, ids = np.zeros((cap, 2), np.uint64), np.full(cap, -1, np.int64)
    first = np.empty(max(1, n_rows), np.int64)
    out = []
    for ka, kb in chunks:
        pid = np.empty(len(ka), np.int32)
        lo = 0
        while True:  # fill the open-addressing table until half full, then rehash into twice the room
            lo, count = _fill(keys, ids, ka, kb, lo, count, pid, first, cap // 2, offset)
            if lo >= len(ka):
                break
            cap *= 2
            keys, ids = _rehash(keys, ids, cap)
        out.append(pid)
        offset += len(ka)
    return out, first[:count].copy()


def partition(chunks: list[Chunk], n_pairs: int, n_buckets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                          np.ndarray]:
    """Rows (chunks of pid, ts, code) grouped into buckets of consecutive pair ids, time order kept.

    The scan of one bucket then touches a slice of the per-pair state small enough for the CPU
    cache (the state of 127k pairs is not: 2.5x slower here), and buckets can be scanned in parallel.
    Chunks are scattered in parallel: each knows where its rows of every bucket go.
    """
    width = max(1, -(-n_pairs // n_buckets))
    counts = np.zeros((len(chunks), n_buckets), np.int64)
    for k, (pid, _, _) in enumerate(chunks):
        _count(pid, width, counts[k])
    per_bucket = counts.sum(axis=0)
    bounds = np.concatenate([[0], np.cumsum(per_bucket)])
    # start of chunk k's rows in bucket b: the bucket's start plus the rows of earlier chunks
    starts = bounds[:-1] + np.cumsum(counts, axis=0) - counts
    n = int(bounds[-1])
    pid_p, ts_p, code_p = np.empty(n, np.int32), np.empty(n, np.int64), np.empty(n, chunks[0][2].dtype)
    with ThreadPoolExecutor(max_workers=numba.get_num_threads()) as pool:
        def scatter(k: int) -> None:
            pid, ts, code = chunks[k]
            _scatter(pid, ts, code, width, starts[k].copy(), pid_p, ts_p, code_p)

        list(pool.map(scatter, range(len(chunks))))
    return bounds, pid_p, ts_p, code_p


@njit(cache=True, nogil=True)
def _count(pid: np.ndarray, width: int, counts: np.ndarray) -> None:
    for i in range(pid.shape[0]):
        counts[pid[i] // width] += 1


@njit(cache=True, nogil=True)
def _scatter(pid: np.ndarray, ts: np.ndarray, code: np.ndarray, width: int, pos: np.ndarray, pid_p: np.ndarray,
             ts_p: np.ndarray, code_p: np.ndarray) -> None:
    for i in range(pid.shape[0]):
        b = pid[i] // width
        j = pos[b]
        pos[b] = j + 1
        pid_p[j], ts_p[j], code_p[j] = pid[i], ts[i], code[i]


@njit(cache=True, inline="always")
def _slot(a: np.uint64, b: np.uint64, mask: np.uint64) -> np.uint64:
    """Where the pair key (a, b) starts probing in a table of ``mask + 1`` slots."""
    return (a ^ (b * np.uint64(0x9E3779B97F4A7C15))) & mask


@njit(cache=True, nogil=True)
def _rehash(keys: np.ndarray, ids: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    new_keys, new_ids = np.zeros((cap, 2), np.uint64), np.full(cap, -1, np.int64)
    m = np.uint64(cap - 1)
    for s in range(ids.shape[0]):
        if ids[s] >= 0:
            j = _slot(keys[s, 0], keys[s, 1], m)
            while new_ids[j] >= 0:
                j = (j + np.uint64(1)) & m
            new_keys[j, 0], new_keys[j, 1], new_ids[j] = keys[s, 0], keys[s, 1], ids[s]
    return new_keys, new_ids


@njit(cache=True, nogil=True)
def _fill(keys: np.ndarray, ids: np.ndarray, ka: np.ndarray, kb: np.ndarray, lo: int, count: int,
          pid: np.ndarray, first: np.ndarray, limit: int, offset: int) -> tuple[int, int]:
    """Rows ``lo``.. into the table until the chunk ends or ``limit`` pairs; returns the next row and the count."""
    m = np.uint64(ids.shape[0] - 1)
    for i in range(lo, ka.shape[0]):
        a, b = ka[i], kb[i]
        j = _slot(a, b, m)
        while True:
            t = ids[j]
            if t < 0:
                if count >= limit:
                    return i, count
                keys[j, 0], keys[j, 1], ids[j] = a, b, count
                first[count] = offset + i
                pid[i] = count
                count += 1
                break
            if keys[j, 0] == a and keys[j, 1] == b:
                pid[i] = t
                break
            j = (j + np.uint64(1)) & m
    return ka.shape[0], count


def fold(bounds: np.ndarray, pid: np.ndarray, n_pairs: int, ts: np.ndarray, code: np.ndarray, cutoff: int,
         event_chan: int, n_chan: int, festival: np.ndarray, festival_base: int, pair_acct: np.ndarray,
         pair_bday: np.ndarray, acct_offsets: np.ndarray, acct_starts: np.ndarray, acct_ends: np.ndarray,
         out_offsets: np.ndarray, out_days: np.ndarray, out_won: np.ndarray, meet_chan: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair: float features (``FLOATS``), integer counts (``INTS``), counts per channel in 90 days.

    Rows come grouped by ``partition`` (buckets of consecutive pair ids, time order inside), which
    lets the buckets run in parallel; ``code`` is as ``pack`` makes it. ``festival`` maps an epoch
    day (from ``festival_base``) to a festival index or -1; ``pair_bday`` holds each pair's contact's
    birthday (epoch day) in three consecutive years, -1 if unknown; account intervals are CSR arrays
    (merged, sorted by start, in days) — ``acct_offsets`` empty when there are no deals; the accounts'
    deals won or lost in the year before ``cutoff`` are CSR arrays too (close day, won), ``out_offsets``
    empty without any; ``meet_chan`` marks the channels where people meet (meeting, visit, event).
    """
    f = np.full((n_pairs, len(FLOATS)), np.nan)
    c = np.zeros((n_pairs, len(INTS)), np.int64)
    per_chan = np.zeros((n_pairs, n_chan), np.int64)
    context = (cutoff, event_chan, festival, festival_base, pair_acct, pair_bday, acct_offsets, acct_starts, acct_ends,
               out_offsets, out_days, out_won, meet_chan)
    if bounds.shape[0] == 2:  # one bucket (one rep): no threads to start
        if n_pairs:
            _fold_bucket(0, pid.shape[0], 0, n_pairs, pid, ts, code, *context, f, c, per_chan)
    else:
        _fold_buckets(numba.get_num_threads(), bounds, pid, n_pairs, ts, code, *context, f, c, per_chan)
    return f, c, per_chan


@njit(cache=True, parallel=True, nogil=True)
def _fold_buckets(threads: int, bounds: np.ndarray, pid: np.ndarray, n_pairs: int, ts: np.ndarray, code: np.ndarray,
                  cutoff: int, event_chan: int, festival: np.ndarray, festival_base: int, pair_acct: np.ndarray,
                  pair_bday: np.ndarray, acct_offsets: np.ndarray, acct_starts: np.ndarray, acct_ends: np.ndarray,
                  out_offsets: np.ndarray, out_days: np.ndarray, out_won: np.ndarray, meet_chan: np.ndarray,
                  f: np.ndarray, c: np.ndarray, per_chan: np.ndarray) -> None:
    """``fold`` over several buckets on ``threads`` threads (an argument, so that this can be cached)."""
    n_buckets = bounds.shape[0] - 1
    width = (n_pairs + n_buckets - 1) // n_buckets
    per_thread = -(-n_buckets // threads)
    for i in prange(per_thread * threads):
        # prange hands each thread a contiguous run of i; deal the buckets out round-robin instead,
        # since the first pairs seen (the oldest ties, the longest histories) come first
        b = (i % per_thread) * threads + i // per_thread
        p_lo = b * width
        p_hi = min(p_lo + width, n_pairs)
        if b < n_buckets and p_hi > p_lo:
            _fold_bucket(bounds[b], bounds[b + 1], p_lo, p_hi, pid, ts, code, cutoff, event_chan, festival,
                         festival_base, pair_acct, pair_bday, acct_offsets, acct_starts, acct_ends, out_offsets,
                         out_days, out_won, meet_chan, f, c, per_chan)


@njit(cache=True)
def _fold_bucket(lo: int, hi: int, p_lo: int, p_hi: int, pid: np.ndarray, ts: np.ndarray, code: np.ndarray,
                 cutoff: int, event_chan: int, festival: np.ndarray, festival_base: int, pair_acct: np.ndarray,
                 pair_bday: np.ndarray, acct_offsets: np.ndarray, acct_starts: np.ndarray, acct_ends: np.ndarray,
                 out_offsets: np.ndarray, out_days: np.ndarray, out_won: np.ndarray, meet_chan: np.ndarray,
                 f: np.ndarray, c: np.ndarray, per_chan: np.ndarray) -> None:
    """Rows ``lo:hi``, whose pairs are ``p_lo:p_hi``: fills those pairs' rows of ``f``, ``c``, ``per_chan``.

    The bucket's rows are first grouped by pair (a counting sort, stable, so time order holds within
    a pair; the bucket fits the CPU cache), then each pair is one loop over its own rows with its
    state in local variables.
    """
    n = p_hi - p_lo
    starts = np.zeros(n + 1, np.int64)
    for i in range(lo, hi):
        starts[pid[i] - p_lo + 1] += 1
    for q in range(n):
        starts[q + 1] += starts[q]
    pos = starts[:-1].copy()
    ts_q = np.empty(hi - lo, np.int64)
    code_q = np.empty(hi - lo, np.int16)
    for i in range(lo, hi):
        q = pid[i] - p_lo
        ts_q[pos[q]], code_q[pos[q]] = ts[i], code[i]
        pos[q] += 1
    their = np.empty(hi - lo)  # latencies of one pair, for their medians
    ours = np.empty(hi - lo)
    has_deals = acct_offsets.shape[0] > 0
    for q in range(n):
        p = p_lo + q
        _fold_pair(ts_q[starts[q]:starts[q + 1]], code_q[starts[q]:starts[q + 1]], cutoff, event_chan, festival,
                   festival_base, pair_acct[p], pair_bday[p], has_deals, acct_offsets, acct_starts, acct_ends,
                   out_offsets, out_days, out_won, meet_chan, f[p], c[p], per_chan[p], their, ours)


@njit(cache=True, inline="always")
def _fold_pair(ts: np.ndarray, code: np.ndarray, cutoff: int, event_chan: int, festival: np.ndarray,
               festival_base: int, acct: int, bday: np.ndarray, has_deals: bool, acct_offsets: np.ndarray,
               acct_starts: np.ndarray, acct_ends: np.ndarray, out_offsets: np.ndarray, out_days: np.ndarray,
               out_won: np.ndarray, meet_chan: np.ndarray, f: np.ndarray, c: np.ndarray, per_chan: np.ndarray,
               their: np.ndarray, ours: np.ndarray) -> None:
    """One pair's rows, in time order: writes its ``FLOATS`` into ``f``, ``INTS`` into ``c``."""
    inf = np.inf
    n30 = n90 = n365 = out90 = in90 = prev90 = months = depth_n = deep_n = in_n = out_n = 0
    execs = events = replied = init_n = init_in = deep_by_contact = birthday = recent = need = 0
    age_min, age_max, depth_sum, depth_max, deep_min = inf, -inf, 0.0, -1, inf
    ledger, given_max, asked_max = 0.0, -inf, -inf
    gap_n, gap_sum, gap_sq, gap_max, shift = 0, 0.0, 0.0, -inf, 0.0
    n_their = n_ours = 0
    fest_bits = np.uint64(0)
    last_age, last_out = np.nan, False
    cursor = acct_offsets[acct] - 1 if has_deals and acct >= 0 else -1
    out_lo = out_offsets[acct] if out_offsets.shape[0] > 0 and acct >= 0 else 0
    out_hi = out_offsets[acct + 1] if out_offsets.shape[0] > 0 and acct >= 0 else 0
    push = touch = business = out365 = meets = meets_exec = 0
    for i in range(ts.shape[0]):
        age = (cutoff - ts[i]) / US_PER_DAY
        o, with_exec, ch, d, fav = unpack(code[i])
        deep = d >= 3
        # counts and levels
        if age < 30:
            n30 += 1
        if age < 90:
            n90 += 1
            if o:
                out90 += 1
            else:
                in90 += 1
            if ch >= 0:
                per_chan[ch] += 1
        elif age < 180:
            prev90 += 1
        age_min = min(age_min, age)
        age_max = max(age_max, age)
        if d >= 0:
            depth_n += 1
            depth_sum += d
            depth_max = max(depth_max, d)
        if deep:
            deep_n += 1
            deep_min = min(deep_min, age)
        if o:
            out_n += 1
        else:
            in_n += 1
        if fav != 0:
            ledger += fav * np.exp(-age / LEDGER_DAYS)
            if fav > 0:
                given_max = max(given_max, age)
            else:
                asked_max = max(asked_max, age)
        # what needs the previous touch of the pair
        answer = False
        if i > 0:
            gap = last_age - age
            if gap_n == 0:
                shift = gap  # sums of gaps shifted by the first one: no division in the loop, and no
            gap_n += 1       # cancellation when the gaps are nearly equal
            gap_sum += gap - shift
            gap_sq += (gap - shift) * (gap - shift)
            gap_max = max(gap_max, gap)
            if last_out != o:
                if o:
                    ours[n_ours] = gap * 24
                    n_ours += 1
                else:
                    their[n_their] = gap * 24
                    n_their += 1
                answer = gap * 24 <= REPLY_HOURS
                if answer and not o:  # the contact answered our last touch in time
                    replied += 1
        if not answer:
            init_n += 1
            if not o:
                init_in += 1
                if deep:
                    deep_by_contact += 1
        last_age, last_out = age, o
        # the last 365 days: festivals, birthdays, deals open
        if age < 365:
            n365 += 1
            months |= 1 << int(np.floor(age / 30.0))
            if with_exec:
                execs += 1
            if ch == event_chan:
                events += 1
            recent += 1
            day = int(ts[i] / US_PER_DAY)  # a float division: exact for microseconds after 1970, and far
            # cheaper than an integer one
            if o:
                k = day - festival_base
                if 0 <= k < festival.shape[0] and festival[k] >= 0:
                    fest_bits |= np.uint64(1) << np.uint64(festival[k])
                for y in range(3):
                    if bday[y] >= 0 and 0 <= bday[y] - day <= 3:
                        birthday = 1
            # dignity: asks after a win, touches after a loss, who of ours meets the contact
            if ch >= 0 and meet_chan[ch]:
                meets += 1
                if with_exec:
                    meets_exec += 1
            if o:
                out365 += 1
                if d == 2:
                    business += 1
                t_day = ts[i] / US_PER_DAY
                for k in range(out_lo, out_hi):
                    since = t_day - out_days[k]
                    if out_won[k]:
                        if d == 2 and 0 < since <= WIN_WINDOW_DAYS:
                            push += 1
                    elif 0 < since <= LOSS_WINDOW_DAYS:
                        touch += 1
            if has_deals and acct >= 0:  # a deal of the account was open at mid-day
                t = day + 0.5
                while cursor + 1 < acct_offsets[acct + 1] and acct_starts[cursor + 1] <= t:  # time order
                    cursor += 1
                if cursor >= acct_offsets[acct] and acct_ends[cursor] > t:
                    need += 1
    nan = np.nan
    f[F.days_since_last], f[F.tenure_days] = age_min, age_max
    f[F.depth_mean] = depth_sum / depth_n if depth_n > 0 else nan
    f[F.days_since_deep] = deep_min if deep_n > 0 else nan
    f[F.favor_ledger] = ledger
    f[F._first_given_age] = given_max if given_max > -inf else nan
    f[F._first_asked_age] = asked_max if asked_max > -inf else nan
    f[F.gap_mean_days] = shift + gap_sum / gap_n if gap_n > 0 else nan
    f[F._gap_std] = np.sqrt(max(0.0, gap_sq - gap_sum * gap_sum / gap_n) / (gap_n - 1)) if gap_n > 1 else nan
    f[F.longest_silence_days] = max(gap_max, age_min)  # the open gap up to as_of counts as a silence too
    f[F.their_latency_h] = _median(their, n_their)
    f[F.our_latency_h] = _median(ours, n_ours)
    f[F._depth_max] = depth_max if depth_max >= 0 else nan
    win_days = loss_days = 0.0  # the days of the windows after wins and losses that lie before as_of
    since_win = since_loss = inf
    cut_day = cutoff / US_PER_DAY
    for k in range(out_lo, out_hi):
        if out_won[k]:
            win_days += min(WIN_WINDOW_DAYS, cut_day - out_days[k])
            since_win = min(since_win, cut_day - out_days[k])
        else:
            loss_days += min(LOSS_WINDOW_DAYS, cut_day - out_days[k])
            since_loss = min(since_loss, cut_day - out_days[k])
    f[F._win_days], f[F._loss_days] = win_days, loss_days
    f[F.days_since_win] = since_win if since_win < inf else nan
    f[F.days_since_loss] = since_loss if since_loss < inf else nan
    c[I._push_after_win], c[I._touch_after_loss], c[I._business_365d] = push, touch, business
    c[I._out_365d], c[I._meets_365d], c[I._meets_exec_365d] = out365, meets, meets_exec
    festivals = 0
    while fest_bits:
        festivals += 1
        fest_bits &= fest_bits - np.uint64(1)
    c[I.n_30d], c[I.n_90d], c[I.n_365d], c[I.out_90d], c[I.in_90d] = n30, n90, n365, out90, in90
    c[I._prev_90d], c[I._months], c[I._depth_n], c[I._deep_n] = prev90, months, depth_n, deep_n
    c[I._in_n], c[I._out_n], c[I.exec_touches_365d], c[I.events_365d] = in_n, out_n, execs, events
    c[I._replied], c[I._init_n], c[I._init_in], c[I._deep_by_contact] = replied, init_n, init_in, deep_by_contact
    c[I._festivals], c[I._birthday_touch], c[I._recent_n], c[I._need_n] = festivals, birthday, recent, need


@njit(cache=True)
def _median(a: np.ndarray, n: int) -> float:
    """Median of ``a[:n]`` (reordered in place); NaN when empty."""
    if n == 0:
        return np.nan
    mid = n // 2
    upper = _select(a, 0, n, mid)
    if n % 2 == 0:  # the mean of the two middle values; the lower one is the largest left of mid
        upper = 0.5 * (a[:mid].max() + upper)
    return upper


@njit(cache=True)
def _select(a: np.ndarray, lo: int, hi: int, k: int) -> float:
    """The value of rank ``k`` in ``a[lo:hi]``, leaving ``a[lo:k] <= a[k] <= a[k+1:hi]`` (Hoare's
    quickselect, in place: sorting every pair's latencies was most of the scan's time)."""
    hi -= 1
    while hi > lo:
        pivot = a[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return a[k]
