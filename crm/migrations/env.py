"""Alembic's environment: the connection comes from ``crm.migrate`` (never from an ini file), the target
is the store's metadata, and SQLite alters tables in batch mode."""

from alembic import context

from crm.migrate import VERSION_TABLE
from crm.store import METADATA

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=METADATA, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
