"""Adapters that turn third-party exports into contract tables (they invent nothing the source lacks)."""
