"""Store access for requests: the small tables and each rep's interactions cached per worker, and checked
on every request against the data versions that every write bumps (``crm.store.data_version``): one
indexed read tells a worker whether anything it holds changed — rows added, rewritten or erased — so
every worker's next answer reflects every accepted write.

The small tables are kept twice: as pandas for lookups in the handlers, and as Polars for the
feature builders, which would otherwise convert every table on every call (half of a win-probability
request's time, measured).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm.contract import FUTURE_DAYS
from crm.pair_log import RepLog, read_rep
from crm.store import METADATA, PAIR_LOG, WRITE_TICK_SQL, data_version, read_polars, read_table
from serving.candidates import DATA_DATES, ERA_GAP_DAYS, era_ends, rep_latest_dates

STATIC = ("reps", "accounts", "contacts", "opportunities", "opportunity_stages", "opportunity_contacts")
REP_CACHE = 64  # reps whose interactions a worker keeps
ANSWER_CACHE = 512  # answers a worker keeps (a rep's actions for a day, k and language)
SHARED_CACHE = 8  # values from the shared tables a worker keeps (a day's contact context)
T = TypeVar("T")


class StoreData:
    def __init__(self, engine: Engine, future_days: float = FUTURE_DAYS) -> None:
        self.engine = engine
        self.future_days = future_days
        self._lock = threading.Lock()
        self._version: int | None = None
        self._static: dict[str, pd.DataFrame] = {}
        self._frames: dict[str, pl.DataFrame] = {}
        self._teams: dict[str, str | None] = {}
        self._reps: OrderedDict[str, tuple[tuple[int, int], pl.DataFrame]] = OrderedDict()
        self._answers: OrderedDict[tuple[object, ...], object] = OrderedDict()
        self._shared: dict[tuple[object, ...], tuple[int, object]] = {}
        self._tick_lock = threading.Lock()
        self._tick_conn: Any = None
        self._versions: dict[str | None, tuple[int, int]] = {}
        self._versions_tick: int | None = None
        self._latest: tuple[int, pd.Timestamp | None] | None = None
        self._eras: dict[str, pd.Timestamp | None] = {}
        self._eras_tick = -1
        self.on_lookup: Callable[[bool], None] | None = None
        """Told whether each ``memo`` lookup was a hit (the API counts them)."""

    def close(self) -> None:
        """Close the connection the write counter is read on (closed, not given back: on PostgreSQL it
        is in autocommit mode, which a later borrower's transaction must not inherit)."""
        with self._tick_lock:
            if self._tick_conn is not None:
                self._tick_conn.invalidate()
                self._tick_conn = None

    def __enter__(self) -> StoreData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tick(self) -> int:
        """The store's write counter (``crm.store.WRITE_TICK_SQL``), read on a connection of its own: one
        indexed row, ~10 µs on SQLite, where a pooled SQLAlchemy connection cost ~130 µs a read and a cached
        answer asked three times (rep scope, default day, rep version)."""
        with self._tick_lock:
            for attempt in (1, 2):
                try:
                    if self._tick_conn is None:
                        self._tick_conn = self._connect_raw()
                    cursor = self._tick_conn.cursor()
                    try:
                        cursor.execute(WRITE_TICK_SQL)
                        row = cursor.fetchone()
                    finally:
                        cursor.close()
                    return int(row[0]) if row else 0
                except Exception:  # a dropped connection: open a new one once, then let the error out
                    if self._tick_conn is not None:
                        self._tick_conn.invalidate()
                    self._tick_conn = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def _connect_raw(self) -> Any:
        """A pooled connection kept checked out for the worker's life (the pool's proxy is kept, so the
        pool never lends it to anyone else)."""
        conn = self.engine.raw_connection()
        if self.engine.dialect.name != "sqlite":
            conn.driver_connection.autocommit = True  # type: ignore[union-attr]  # each read sees the latest commit
        return conn

    def version(self, rep_id: str | None = None, tick: int | None = None) -> tuple[int, int]:
        """(shared tables' version, the rep's version), read again only after a write (the tick moved);
        ``tick``: the write counter as the caller read it at the start of its request."""
        tick = self.tick() if tick is None else tick
        with self._lock:
            if self._versions_tick != tick:
                self._versions.clear()
                self._versions_tick = tick
            hit = self._versions.get(rep_id)
        if hit is not None:
            return hit
        with self.engine.connect() as conn:
            found = data_version(conn, rep_id)
        with self._lock:
            if self._versions_tick == tick:
                self._versions[rep_id] = found
        return found

    def peek(self, rep_id: str, key: tuple[object, ...], tick: int | None = None) -> object | None:
        """``memo``'s kept answer, or None (counted as a hit only when found: ``memo`` counts the miss)."""
        full = (rep_id, self.version(rep_id, tick), *key)
        with self._lock:
            found = self._answers.get(full)
            if found is not None:
                self._answers.move_to_end(full)
        if found is not None and self.on_lookup is not None:
            self.on_lookup(True)
        return found

    def memo(self, rep_id: str, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """``compute()``'s answer about a rep, kept while the rep's data (and the shared tables) are
        unchanged: the key holds their versions, which every write, feedback and erasure bumps, so every
        worker recomputes after any change. ``key`` must name everything else the answer depends on
        (model versions, day, k, language)."""
        full = (rep_id, self.version(rep_id), *key)
        with self._lock:
            hit = full in self._answers
            if hit:
                self._answers.move_to_end(full)
                found = self._answers[full]
        if self.on_lookup is not None:
            self.on_lookup(hit)
        if hit:
            return found  # type: ignore[return-value]
        value = compute()
        with self._lock:
            self._answers[full] = value
            while len(self._answers) > ANSWER_CACHE:
                self._answers.popitem(last=False)
        return value

    def shared(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """``compute()``'s value from the shared tables alone, kept until they change (a few per worker:
        e.g. a day's contact context, which every rep's answer reads)."""
        version = self.version()[0]
        with self._lock:
            hit = self._shared.get(key)
            if hit is not None and hit[0] == version:
                return hit[1]  # type: ignore[return-value]
        value = compute()
        with self._lock:
            self._shared[key] = (version, value)
            while len(self._shared) > SHARED_CACHE:
                self._shared.pop(next(iter(self._shared)))
        return value

    def current_teams(self, tick: int | None = None) -> dict[str, str | None] | None:
        """``teams()`` if the small tables held are current (one read of the write counter), else None:
        then ``teams()`` must reload them."""
        return self._teams if self._version == self.version(None, tick)[0] else None

    def current_latest(self, tick: int | None = None) -> tuple[bool, pd.Timestamp | None]:
        """(True, ``latest()``) when it is known without a query, else (False, None)."""
        cached = self._latest
        tick = self.tick() if tick is None else tick
        return (True, cached[1]) if cached is not None and cached[0] == tick else (False, None)

    def static(self) -> dict[str, pd.DataFrame]:
        """The small tables, re-read when a write changed them."""
        return self._current()[0]

    def frames(self) -> dict[str, pl.DataFrame]:
        """The same small tables as Polars, for the feature builders."""
        return self._current()[1]

    def teams(self) -> dict[str, str | None]:
        """Each rep's team (None without one): what key scopes are checked against."""
        return self._current()[2]

    def _current(self) -> tuple[dict[str, pd.DataFrame], dict[str, pl.DataFrame], dict[str, str | None]]:
        shared = self.version()[0]
        with self._lock:
            if self._version != shared:
                static = {name: read_table(self.engine, name) for name in STATIC}
                reps = static["reps"]
                self._static = static
                self._frames = {name: pl.from_pandas(frame) for name, frame in static.items()}
                self._teams = {str(r): None if pd.isna(t) else str(t) for r, t in zip(reps["rep_id"], reps["team"],
                                                                                        strict=True)}
                self._version = shared
            return self._static, self._frames, self._teams

    def interactions(self, rep_ids: list[str] | None = None, contact_ids: list[str] | None = None) -> pd.DataFrame:
        t = METADATA.tables["interactions"]
        where: sa.ColumnElement[bool] = sa.true()
        if rep_ids is not None:
            where = sa.and_(where, t.c.rep_id.in_(rep_ids))
        if contact_ids is not None:
            where = sa.and_(where, t.c.contact_id.in_(contact_ids))
        return read_table(self.engine, "interactions", where)

    def rep_interactions(self, rep_id: str) -> pl.DataFrame:
        """One rep's interactions as Polars (what every feature builder reads, so no request converts
        them again: a pandas copy cost 0.4 s more for a rep with 150k rows), cached per worker while the
        rep's data version is unchanged."""
        version = self.version(rep_id)
        with self._lock:
            hit = self._reps.get(rep_id)
            if hit is not None and hit[0] == version:
                self._reps.move_to_end(rep_id)
                return hit[1]
        frame = read_polars(self.engine, "interactions", METADATA.tables["interactions"].c.rep_id == rep_id)
        with self._lock:
            self._reps[rep_id] = (version, frame)
            while len(self._reps) > REP_CACHE:
                self._reps.popitem(last=False)
        return frame

    def rep_log(self, rep_id: str) -> RepLog:
        """One rep's pair logs (``crm.pair_log``): one indexed row per tie, a few ms for any rep."""
        with self.engine.connect() as conn:
            return read_rep(conn, rep_id)

    def tables(self, rep_ids: list[str] | None = None, contact_ids: list[str] | None = None
               ) -> dict[str, pd.DataFrame | pl.DataFrame]:
        """The feature builders' input: the small tables (Polars) and the interactions asked for."""
        if rep_ids is not None and len(rep_ids) == 1 and contact_ids is None:
            return {**self.frames(), "interactions": self.rep_interactions(rep_ids[0])}
        return {**self.frames(), "interactions": self.interactions(rep_ids, contact_ids)}

    def era_end(self, rep_id: str, tick: int | None = None) -> tuple[bool, pd.Timestamp | None]:
        """(True, the end of the rep's era's data, None in the store's last era) when known without a query
        at this ``tick``, else (False, None): :meth:`read_era_end` reads it."""
        tick = self.tick() if tick is None else tick
        with self._lock:
            if self._eras_tick != tick:
                self._eras.clear()
                self._eras_tick = tick
            if rep_id in self._eras:
                return True, self._eras[rep_id]
        return False, None

    def read_era_end(self, rep_id: str, tick: int | None = None) -> pd.Timestamp | None:
        """The end of the rep's era (``serving.candidates.ERA_GAP_DAYS``; None: the store's last era). One
        indexed query for a rep whose data reaches the last year of the store's; every rep's ends otherwise."""
        tick = self.tick() if tick is None else tick
        known, value = self.era_end(rep_id, tick)
        if known:
            return value
        latest, own = self.latest(), self._rep_ends([rep_id]).get(rep_id)
        found = None
        if latest is not None and own is not None and latest - own > pd.Timedelta(days=ERA_GAP_DAYS):
            found = era_ends(self._rep_ends(None)).get(rep_id)
        with self._lock:
            if self._eras_tick == tick:
                self._eras[rep_id] = found
        return found

    def _rep_ends(self, rep_ids: list[str] | None) -> dict[str, pd.Timestamp]:
        """The end of each rep's own data: the pair logs' last timestamps and the dates of deals they own."""
        t = PAIR_LOG.c
        query = sa.select(t.rep_id, sa.func.max(t.last_us)).group_by(t.rep_id)
        if rep_ids is not None:
            query = query.where(t.rep_id.in_(rep_ids))
        with self.engine.connect() as conn:
            ends = {str(r): pd.Timestamp(int(us), unit="us", tz="UTC") for r, us in conn.execute(query).all()
                    if us is not None}
        deals = self.shared(("deal_ends",), lambda: rep_latest_dates({"opportunities": self.frames()["opportunities"]}))
        for rep in deals if rep_ids is None else [r for r in rep_ids if r in deals]:
            ends[rep] = max(deals[rep], ends.get(rep, deals[rep]))
        return ends

    def latest(self) -> pd.Timestamp | None:
        """The latest interaction up to now plus the accepted clock skew: a row stored later than that
        (before timestamps were bounded) does not move everyone's default day. Read again after a write."""
        tick = self.tick()
        cached = self._latest
        if cached is not None and cached[0] == tick:
            return cached[1]
        value = self._read_latest()
        self._latest = (tick, value)
        return value

    def _read_latest(self) -> pd.Timestamp | None:
        """Where the data ends (``serving.candidates.DATA_DATES``: interactions, else deals' dates)."""
        bound = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=self.future_days)
        values = []
        with self.engine.connect() as conn:
            for name, col in DATA_DATES:
                c = METADATA.tables[name].c[col]
                value = conn.execute(sa.select(sa.func.max(c)).where(c <= bound.to_pydatetime())).scalar_one_or_none()
                if value is not None:
                    stamp = pd.Timestamp(value)
                    values.append(stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC"))
        return max(values) if values else None

    def reachable(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False
