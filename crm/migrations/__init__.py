"""Alembic migrations of the store's schema (``crm.migrate`` runs them)."""
