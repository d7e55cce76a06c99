"""Feature builders: pure functions of (tables, as_of) -> one row per entity."""
