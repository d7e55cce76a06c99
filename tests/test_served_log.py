"""Served recommendations are written in batches by a worker's thread: none lost when the store is busy,
none written twice, all written at shutdown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from crm.store import SERVED, init_db, make_engine
from serving.served_log import ServedLog


def _rows(n: int, start: int = 0) -> list[dict[str, object]]:
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    return [{"ts": now, "rep_id": "r1", "contact_id": f"c{i}", "action": "check_in", "rank": 1, "priority": 1.0,
             "model_versions": "v", "request_id": f"q{i}"} for i in range(start, start + n)]


def _stored(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(SERVED.c.request_id)).scalars())


def test_rows_wait_for_a_busy_store_and_are_written_once(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}", lock_timeout=0.2)
    init_db(engine)
    log = ServedLog(engine, interval=3600)  # flushed by hand here
    log.add(_rows(3))
    other = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    with other.begin() as conn:  # another writer holds the store
        conn.exec_driver_sql("UPDATE write_lock SET writes = writes + 1")
        assert log.flush() is False
    assert _stored(engine) == []
    log.add(_rows(2, start=3))
    assert log.flush() is True
    assert _stored(engine) == [f"q{i}" for i in range(5)]
    assert log.flush() is True and len(_stored(engine)) == 5  # nothing written twice
    log.add(_rows(1, start=5))
    log.close()  # shutdown writes what is left
    assert len(_stored(engine)) == 6


def test_a_stuck_store_cannot_grow_the_queue_without_bound(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}", lock_timeout=0.2)
    init_db(engine)
    log = ServedLog(engine, interval=3600, limit=4)
    log.add(_rows(6))
    assert log.dropped == 2
    assert log.flush() and _stored(engine) == ["q2", "q3", "q4", "q5"]


def test_a_long_queue_is_written_in_short_transactions(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    init_db(engine)
    log = ServedLog(engine, interval=3600, batch=3)
    log.add(_rows(10))
    assert log.flush() and len(_stored(engine)) == 10
