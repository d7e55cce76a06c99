"""Store access for requests: small tables cached briefly, interactions read by rep or contact
(indexed); a rep's interactions are cached per worker but revalidated against the store on every
request, so every worker sees a posted interaction at once.

The small tables are kept twice: as pandas for lookups in the handlers, and as Polars for the
feature builders, which would otherwise convert every table on every call (half of a win-probability
request's time, measured).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import pandas as pd
import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm.store import METADATA, read_table

STATIC = ("reps", "accounts", "contacts", "opportunities", "opportunity_stages", "opportunity_contacts")
CACHE_SECONDS = 30.0
REP_CACHE = 64  # reps whose interactions a worker keeps


class StoreData:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._static: dict[str, pd.DataFrame] | None = None
        self._frames: dict[str, pl.DataFrame] = {}
        self._loaded_at = 0.0
        self._refreshing = False
        self._reps: OrderedDict[str, tuple[tuple[object, ...], pd.DataFrame]] = OrderedDict()

    def static(self) -> dict[str, pd.DataFrame]:
        """The small tables; once loaded, an expired copy is served while a thread refreshes it."""
        return self._current()[0]

    def frames(self) -> dict[str, pl.DataFrame]:
        """The same small tables as Polars, for the feature builders."""
        return self._current()[1]

    def _current(self) -> tuple[dict[str, pd.DataFrame], dict[str, pl.DataFrame]]:
        with self._lock:
            if self._static is None:
                self._static, self._frames = self._read()
                self._loaded_at = time.monotonic()
            elif time.monotonic() - self._loaded_at > CACHE_SECONDS and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, daemon=True).start()
            return self._static, self._frames

    def _read(self) -> tuple[dict[str, pd.DataFrame], dict[str, pl.DataFrame]]:
        static = {name: read_table(self.engine, name) for name in STATIC}
        return static, {name: pl.from_pandas(frame) for name, frame in static.items()}

    def _refresh(self) -> None:
        static, frames = self._read()
        with self._lock:
            self._static, self._frames, self._loaded_at, self._refreshing = static, frames, time.monotonic(), False

    def invalidate(self) -> None:
        with self._lock:
            self._static = None

    def interactions(self, rep_ids: list[str] | None = None, contact_ids: list[str] | None = None) -> pd.DataFrame:
        t = METADATA.tables["interactions"]
        where = sa.true()
        if rep_ids is not None:
            where = sa.and_(where, t.c.rep_id.in_(rep_ids))
        if contact_ids is not None:
            where = sa.and_(where, t.c.contact_id.in_(contact_ids))
        return read_table(self.engine, "interactions", where)

    def rep_interactions(self, rep_id: str) -> pd.DataFrame:
        """One rep's interactions, cached per worker and checked against the store on every call: an
        indexed count and latest timestamp say whether anything was added or erased since."""
        t = METADATA.tables["interactions"]
        with self.engine.connect() as conn:
            signature = tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(t.c.ts))
                                           .where(t.c.rep_id == rep_id)).one())
        with self._lock:
            hit = self._reps.get(rep_id)
            if hit is not None and hit[0] == signature:
                self._reps.move_to_end(rep_id)
                return hit[1]
        frame = self.interactions([rep_id])
        with self._lock:
            self._reps[rep_id] = (signature, frame)
            while len(self._reps) > REP_CACHE:
                self._reps.popitem(last=False)
        return frame

    def tables(self, rep_ids: list[str] | None = None, contact_ids: list[str] | None = None
               ) -> dict[str, pd.DataFrame | pl.DataFrame]:
        """The feature builders' input: the small tables (Polars) and the interactions asked for."""
        if rep_ids is not None and len(rep_ids) == 1 and contact_ids is None:
            return {**self.frames(), "interactions": self.rep_interactions(rep_ids[0])}
        return {**self.frames(), "interactions": self.interactions(rep_ids, contact_ids)}

    def latest(self) -> pd.Timestamp | None:
        t = METADATA.tables["interactions"]
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(t.c.ts))).scalar_one_or_none()
        return None if value is None else pd.Timestamp(value, tz="UTC") if pd.Timestamp(value).tzinfo is None \
            else pd.Timestamp(value).tz_convert("UTC")

    def reachable(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False
