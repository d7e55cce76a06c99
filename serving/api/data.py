"""Store access for requests: small tables cached briefly, interactions read per request by rep or
contact (indexed), so every worker sees a posted interaction at once."""

from __future__ import annotations

import threading
import time

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm.store import METADATA, read_table

STATIC = ("reps", "accounts", "contacts", "opportunities", "opportunity_stages", "opportunity_contacts")
CACHE_SECONDS = 30.0


class StoreData:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._static: dict[str, pd.DataFrame] | None = None
        self._loaded_at = 0.0

    def static(self) -> dict[str, pd.DataFrame]:
        with self._lock:
            if self._static is None or time.monotonic() - self._loaded_at > CACHE_SECONDS:
                self._static = {name: read_table(self.engine, name) for name in STATIC}
                self._loaded_at = time.monotonic()
            return self._static

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

    def tables(self, rep_ids: list[str] | None = None, contact_ids: list[str] | None = None
               ) -> dict[str, pd.DataFrame]:
        return {**self.static(), "interactions": self.interactions(rep_ids, contact_ids)}

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
