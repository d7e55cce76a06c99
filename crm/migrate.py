"""The store's schema, versioned with Alembic: ``guanxi db upgrade`` and every start bring a store to the
latest revision, one process at a time (an advisory lock on PostgreSQL, a lock file beside SQLite)."""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

SCRIPTS = Path(__file__).with_name("migrations")
VERSION_TABLE = "guanxi_schema_version"  # not alembic_version: MLflow may keep its own in the same database
BASELINE = "0001"
"""The first revision: the schema as ``create_all`` made it before migrations existed (idempotent)."""
PG_MIGRATION_LOCK = 0x6775616E7869  # "guanxi"
_IN_PROCESS = threading.Lock()
"""Alembic's commands keep their context in module globals: one at a time in a process, too."""


@dataclass(frozen=True)
class Upgrade:
    before: str | None
    after: str
    adopted: bool
    """True when a store made before migrations existed was taken over (its missing tables created)."""


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = conn
    return cfg


@lru_cache(maxsize=1)
def head() -> str:
    """The latest revision the code knows."""
    return str(ScriptDirectory(str(SCRIPTS)).get_current_head())


def current(conn: Connection) -> str | None:
    """The store's revision (None: never migrated)."""
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


@contextlib.contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that only one migrating process holds at a time."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        lock_path = Path(f"{database}.migrate.lock") if database and database != ":memory:" else None
        with contextlib.ExitStack() as stack:
            if lock_path is not None:
                fh = stack.enter_context(lock_path.open("a"))
                fcntl.flock(fh, fcntl.LOCK_EX)
            conn = stack.enter_context(engine.begin())
            yield conn
    else:
        with engine.begin() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(PG_MIGRATION_LOCK)))
            yield conn


def upgrade(engine: Engine, revision: str = "head") -> Upgrade:
    """Bring the store to ``revision``. A store whose tables predate migrations is adopted: the baseline
    creates only the tables and indexes it lacks, so its data is kept, and later revisions apply as usual.
    A store already at the latest revision costs one query (every command and worker calls this at start)."""
    if revision == "head":
        with engine.connect() as conn:
            if current(conn) == head():
                return Upgrade(head(), head(), False)
    with _IN_PROCESS, _one_at_a_time(engine) as conn:
        before = current(conn)
        adopted = before is None and sa.inspect(conn).has_table("interactions")
        command.upgrade(_config(conn), revision)
        return Upgrade(before, str(current(conn)), adopted)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo revisions down to ``revision`` (``base``: an empty store); for tests and recoveries."""
    with _IN_PROCESS, _one_at_a_time(engine) as conn:
        command.downgrade(_config(conn), revision)
