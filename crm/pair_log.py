"""Each (rep, contact)'s interactions packed into one row: what a request reads instead of the log.

A rep's next-best actions need the features of each of the rep's few hundred ties, and those need every
interaction of each tie in time order (gaps, replies, latencies, ledgers). Reading a rep's 50k rows from
the interactions table took 0.2–0.5 s per request; ``pair_log`` keeps, per pair, the timestamps
(int64 µs, little-endian) and one packed code per row (int32, layout below) in two blobs, so a request
reads one indexed row per tie (a few hundred, ~12 bytes per interaction).

The pair log is kept in the transaction of every write that touches interactions (``import_frames``,
which the API's writes, ``guanxi import`` and ``guanxi simulate`` all go through, and the erasure of a
contact): rows later than a pair's last one are appended; anything else (an older row, an update of a
stored row) rebuilds the pairs it touched from the interactions table. Within a pair, rows are in the
order the interactions table gives a rep's rows (time, then insertion order on SQLite; time, then id on
PostgreSQL). ``tests/test_pair_log.py`` checks that any sequence of writes leaves it equal to a rebuild.

Code layout (int32): bit 0 outbound; bits 1–4 channel + 1 (index in ``vocab.CHANNELS``; 0: unknown); bits 5–7 depth + 1
(0: none); bits 8–9 favor (0 none, 1 given, 2 received); bits 10–11 with_executive (0 unknown, 1 no, 2 yes);
bits 12–14 occasion + 1 (index in ``vocab.OCCASIONS``; 0: none); bit 15 about a deal (opportunity_id set).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm import vocab
from crm.store import METADATA, PAIR_LOG

OUT_BIT = 1
CHAN_SHIFT, DEPTH_SHIFT, FAVOR_SHIFT, EXEC_SHIFT, OCCASION_SHIFT = 1, 5, 8, 10, 12
DEAL_BIT = 1 << 15
COLUMNS = ["ts", "rep_id", "contact_id", "channel", "direction", "depth", "favor", "with_executive", "occasion",
           "opportunity_id"]
_CHUNK = 500


@dataclass(frozen=True)
class RepLog:
    """One rep's pair logs: pair ``i`` is ``contact_ids[i]``, its rows ``offsets[i]:offsets[i + 1]``."""

    rep_id: str
    contact_ids: np.ndarray  # object (str)
    offsets: np.ndarray  # int64, len(contact_ids) + 1
    ts: np.ndarray  # int64 µs since 1970 UTC, in time order within each pair
    code: np.ndarray  # int32, the layout above

    @property
    def rows(self) -> int:
        return int(self.offsets[-1])


def encode(frame: pd.DataFrame) -> np.ndarray:
    """The packed code of each interaction (contract columns, a missing one read as empty; values outside
    the vocabularies pack as none)."""
    def col(name: str) -> pd.Series:
        return frame[name].astype(object) if name in frame.columns else pd.Series(None, index=frame.index,
                                                                                     dtype=object)

    def index(name: str, values: tuple[str, ...]) -> np.ndarray:
        column = frame[name] if name in frame.columns else col(name)  # categories recode without a copy
        return pd.Categorical(column, categories=list(values)).codes.astype(np.int32)

    out = (col("direction") == "outbound").to_numpy(dtype=bool).astype(np.int32)
    depth = pd.to_numeric(col("depth"), errors="coerce").fillna(-1).to_numpy(dtype=np.int32) + 1
    favor = index("favor", vocab.FAVORS) + 1
    execu = pd.array(col("with_executive").to_numpy(), dtype="boolean")
    exec_code = np.where(execu.isna(), 0, np.where(execu.fillna(False).to_numpy(dtype=bool), 2, 1)).astype(np.int32)
    deal = col("opportunity_id").notna().to_numpy(dtype=bool).astype(np.int32)
    return (out * OUT_BIT | (index("channel", vocab.CHANNELS) + 1) << CHAN_SHIFT
            | np.clip(depth, 0, 7) << DEPTH_SHIFT | favor << FAVOR_SHIFT | exec_code << EXEC_SHIFT
            | (index("occasion", vocab.OCCASIONS) + 1) << OCCASION_SHIFT | deal * DEAL_BIT).astype(np.int32)


def epoch_us(ts: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds since 1970."""
    return pd.to_datetime(ts, utc=True).dt.as_unit("us").astype("int64").to_numpy()


def read_rep(conn: Connection, rep_id: str) -> RepLog:
    """The rep's pair logs, in contact order."""
    rows = conn.execute(sa.select(PAIR_LOG.c.contact_id, PAIR_LOG.c.ts, PAIR_LOG.c.code)
                        .where(PAIR_LOG.c.rep_id == rep_id).order_by(PAIR_LOG.c.contact_id)).all()
    ts = [np.frombuffer(r[1], dtype="<i8") for r in rows]
    codes = [np.frombuffer(r[2], dtype="<i4") for r in rows]
    offsets = np.zeros(len(rows) + 1, np.int64)
    np.cumsum([len(t) for t in ts], out=offsets[1:])
    return RepLog(rep_id, np.array([r[0] for r in rows], dtype=object), offsets,
                  np.concatenate(ts) if ts else np.empty(0, np.int64),
                  np.concatenate(codes) if codes else np.empty(0, np.int32))


def refresh(conn: Connection, written: pd.DataFrame, replaced: pd.DataFrame) -> None:
    """Bring the pair logs of the pairs a write touched up to date, inside the write's transaction.

    Args:
        written: the interactions just inserted or updated (contract columns, as stored).
        replaced: the stored versions of the updated ones (their old pair may have lost a row).
    """
    if written.empty and replaced.empty:
        return
    keys = ["rep_id", "contact_id"]
    updated = set(replaced["interaction_id"].astype(str)) if len(replaced) else set()
    is_update = written["interaction_id"].astype(str).isin(updated).to_numpy()
    rebuild = set(map(tuple, written.loc[is_update, keys].astype(str).to_numpy()))
    if len(replaced):
        rebuild |= set(map(tuple, replaced[keys].astype(str).to_numpy()))
    new = written.loc[~is_update]
    last = _last_us(conn, sorted({str(r) for r in pd.unique(new["rep_id"])}))
    if not last and not rebuild:  # pairs without logs (a first import): every row starts or extends one
        _append(conn, new, set())
        return
    new = new.copy()
    new[keys] = new[keys].astype(str)
    new["_us"] = epoch_us(new["ts"])
    first = new.groupby(keys, sort=False)["_us"].min()
    append = []
    for (rep, contact), lo in first.items():
        pair = (str(rep), str(contact))
        if pair in rebuild:
            continue
        if pair in last and lo <= last[pair]:  # not after the stored rows: insertion order is not time order
            rebuild.add(pair)
        else:
            append.append(pair)
    if append:
        wanted = set(append)
        mask = [(r, c) in wanted for r, c in zip(new["rep_id"], new["contact_id"], strict=True)]
        _append(conn, new[np.array(mask, dtype=bool)], {p for p in append if p in last})
    if rebuild:
        rebuild_pairs(conn, rebuild)


def _last_us(conn: Connection, reps: list[str]) -> dict[tuple[str, str], int]:
    """The last timestamp stored for each pair of these reps that has a log."""
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(reps), _CHUNK):
        query = sa.select(PAIR_LOG.c.rep_id, PAIR_LOG.c.contact_id, PAIR_LOG.c.last_us).where(
            PAIR_LOG.c.rep_id.in_(reps[start:start + _CHUNK]))
        found.update({(rep, contact): int(us) for rep, contact, us in conn.execute(query)})
    return found


def _append(conn: Connection, rows: pd.DataFrame, stored: set[tuple[str, str]]) -> None:
    """Add rows later than everything stored for their pairs (pairs without a log start one)."""
    old: dict[tuple[str, str], tuple[bytes, bytes]] = {}
    for rep, contacts in _by_rep(stored).items():
        for start in range(0, len(contacts), _CHUNK):
            query = sa.select(PAIR_LOG.c.contact_id, PAIR_LOG.c.ts, PAIR_LOG.c.code).where(
                PAIR_LOG.c.rep_id == rep, PAIR_LOG.c.contact_id.in_(contacts[start:start + _CHUNK]))
            old.update({(rep, c): (bytes(t), bytes(k)) for c, t, k in conn.execute(query)})
    _delete(conn, stored)
    records = []
    for rep, contact, ts, code in _groups(rows):
        ts0, code0 = old.get((rep, contact), (b"", b""))
        records.append(_record(rep, contact, ts0 + ts, code0 + code))
    _write(conn, records)


def _record(rep: str, contact: str, ts: bytes, code: bytes) -> tuple[object, ...]:
    """A pair_log row in column order (rep_id, contact_id, n, last_us, ts, code)."""
    return rep, contact, len(ts) // 8, int.from_bytes(ts[-8:], "little", signed=True), ts, code


def _groups(rows: pd.DataFrame) -> Iterator[tuple[str, str, bytes, bytes]]:
    """(rep, contact, timestamps, codes) of each pair as little-endian bytes, pairs in key order (the
    primary key's: inserts append to its B-tree), rows in time order and then row order. One stable
    sort and slices of two buffers (a pandas group-by loop was 40 s for a million rows)."""
    if rows.empty:
        return
    reps = rows["rep_id"].astype(str).to_numpy()
    contacts = rows["contact_id"].astype(str).to_numpy()
    rep_code = pd.factorize(reps, sort=True)[0]
    contact_code = pd.factorize(contacts, sort=True)[0]
    us = epoch_us(rows["ts"])
    order = np.lexsort((us, contact_code, rep_code))  # stable: equal times keep the rows' order
    pair = rep_code[order].astype(np.int64) * (int(contact_code.max()) + 1) + contact_code[order]
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(pair)) + 1, [len(order)]]).tolist()
    ts = us[order].astype("<i8").tobytes()
    code = encode(rows)[order].astype("<i4").tobytes()
    firsts = order[bounds[:-1]]
    for a, b, rep, contact in zip(bounds[:-1], bounds[1:], reps[firsts], contacts[firsts], strict=True):
        yield rep, contact, ts[a * 8:b * 8], code[a * 4:b * 4]


def rebuild_pairs(conn: Connection, pairs: Iterable[tuple[str, str]]) -> None:
    """Rewrite these pairs' logs from the interactions table (a pair without rows loses its log)."""
    for rep, contacts in _by_rep(pairs).items():
        for start in range(0, len(contacts), _CHUNK):
            chunk = contacts[start:start + _CHUNK]
            conn.execute(sa.delete(PAIR_LOG).where(PAIR_LOG.c.rep_id == rep, PAIR_LOG.c.contact_id.in_(chunk)))
            t = METADATA.tables["interactions"]
            _write(conn, _records(_read(conn, sa.and_(t.c.rep_id == rep, t.c.contact_id.in_(chunk)))))


def rebuild_all(conn: Connection) -> int:
    """Rewrite every pair log from the interactions table, rep by rep; returns the pairs written."""
    conn.execute(sa.delete(PAIR_LOG))
    t = METADATA.tables["interactions"]
    total = 0
    for rep in conn.execute(sa.select(t.c.rep_id).distinct()).scalars().all():
        records = _records(_read(conn, t.c.rep_id == rep))
        _write(conn, records)
        total += len(records)
    return total


def _read(conn: Connection, where: sa.ColumnElement[bool]) -> pd.DataFrame:
    """Interactions in the order a rep's rows come from the table: time, then insertion order (SQLite's
    rowid; PostgreSQL has none, so the id)."""
    t = METADATA.tables["interactions"]
    tie = sa.literal_column("rowid") if conn.dialect.name == "sqlite" else t.c.interaction_id
    query = sa.select(*[t.c[c] for c in COLUMNS]).where(where).order_by(t.c.ts, tie)
    return pd.DataFrame(conn.execute(query).all(), columns=COLUMNS)


def _records(rows: pd.DataFrame) -> list[tuple[object, ...]]:
    return [_record(*group) for group in _groups(rows)]


def _write(conn: Connection, rows: list[tuple[object, ...]]) -> None:
    """Insert these pair logs (``_record``'s rows; the caller has deleted any stored ones of the same
    pairs), through the driver's executemany: SQLAlchemy's per-value processing of the blobs was most of
    an import's cost."""
    if not rows:
        return
    names = ["rep_id", "contact_id", "n", "last_us", "ts", "code"]
    marks = ", ".join("?" if conn.dialect.paramstyle == "qmark" else "%s" for _ in names)
    sql = f"INSERT INTO {PAIR_LOG.name} ({', '.join(names)}) VALUES ({marks})"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[start:start + 5000])
    finally:
        cursor.close()


def _delete(conn: Connection, pairs: Iterable[tuple[str, str]]) -> None:
    for rep, contacts in _by_rep(pairs).items():
        for start in range(0, len(contacts), _CHUNK):
            conn.execute(sa.delete(PAIR_LOG).where(PAIR_LOG.c.rep_id == rep,
                                                   PAIR_LOG.c.contact_id.in_(contacts[start:start + _CHUNK])))


def delete_contact(conn: Connection, contact_id: str) -> int:
    """Remove every pair log of a contact (erasure: rare, so a scan of one row per tie, not an index that
    every import would maintain)."""
    return int(conn.execute(sa.delete(PAIR_LOG).where(PAIR_LOG.c.contact_id == contact_id)).rowcount)


def _by_rep(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for rep, contact in sorted(set(pairs)):
        out.setdefault(rep, []).append(contact)
    return out
