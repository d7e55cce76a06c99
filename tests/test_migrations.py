"""The store's schema comes from its Alembic migrations: an empty store upgraded to head equals the
metadata the code uses, downgrades cleanly, and a store made before migrations is adopted with its data."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from crm.migrate import VERSION_TABLE, current, downgrade, head, upgrade
from crm.store import METADATA, TABLES, make_engine, table_counts

runner = CliRunner()


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
        return list(compare_metadata(ctx, METADATA))


def test_migrations_build_exactly_the_schema_the_code_uses(db_url: str) -> None:
    engine = make_engine(db_url)
    done = upgrade(engine)
    assert done.before is None and done.after == head() and not done.adopted
    assert _diff(engine) == [], "the metadata changed without a migration: add one under crm/migrations/versions"
    assert upgrade(engine).before == head()  # a second run changes nothing
    downgrade(engine, "base")
    names = set(sa.inspect(engine).get_table_names())
    assert not names & set(METADATA.tables), names
    engine.dispose()


def test_a_store_made_before_migrations_is_adopted_with_its_rows(db_url: str) -> None:
    engine = make_engine(db_url)
    for name in TABLES:  # what an early store had: the contract tables only, no version table
        METADATA.tables[name].create(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(METADATA.tables["reps"]).values(rep_id="r1", name="Ann"))
        assert current(conn) is None
    done = upgrade(engine)
    assert done.adopted and done.before is None and done.after == head()
    assert _diff(engine) == []
    assert table_counts(engine)["reps"] == 1
    engine.dispose()


def test_guanxi_db_upgrade_reports_the_revision(db_url: str) -> None:
    from guanxi.cli import app

    first = runner.invoke(app, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert f"empty -> {head()}" in " ".join(first.output.split())
    again = runner.invoke(app, ["db", "upgrade"])
    assert f"already at revision {head()}" in " ".join(again.output.split())
    engine = make_engine(db_url)
    assert sum(table_counts(engine).values()) == 0
    engine.dispose()
