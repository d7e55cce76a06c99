"""What an import would change: each incoming row is new, the same as the stored row, or different.

Idempotence means a row re-sent with the same content is counted once and written never; a row re-sent
with *other* content is a conflict the caller must resolve on purpose (``--update`` on the command line,
``?on_conflict=update`` in the API), never a silent overwrite. Only the columns the source gave are
compared and written: a file without a ``birthday_month`` column leaves the stored birthdays alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm.contract import Table
from crm.store import METADATA, read_table

MAX_SHOWN = 50
_CHUNK = 5000
_WHOLE_TABLE = 50_000  # more incoming rows than this: read the stored table once instead of by id chunks


@dataclass(frozen=True)
class Plan:
    """One table's rows to write and what they are.

    Attributes:
        rows: new rows and rows whose given columns differ from the store (written only with ``update``).
        columns: the columns the source gave.
        n_new, n_changed, n_same: incoming rows by kind.
        conflicts: (source, row, column, reason) of the first differing cells.
        n_conflicts: every differing cell.
        stored_changed: the stored version of the changed rows.
    """

    rows: pd.DataFrame
    columns: list[str]
    n_new: int
    n_changed: int
    n_same: int
    conflicts: list[tuple[str, int, str, str]]
    n_conflicts: int
    stored_changed: pd.DataFrame


def _key_frame(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Key columns in a form that merges across dtypes (text as Python str)."""
    return pd.DataFrame({k: frame[k].astype(str) if not pd.api.types.is_datetime64_any_dtype(frame[k])
                         else frame[k] for k in key})


def stored_rows(conn: Connection, table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """The stored rows whose first key column is among the incoming ones (a superset of the matches)."""
    first = table.key[0]
    if len(frame) > _WHOLE_TABLE:
        return read_table(conn, table.name)
    values = list(frame[first].dropna().astype(str).unique())
    col = METADATA.tables[table.name].c[first]
    parts = [read_table(conn, table.name, col.in_(values[i:i + _CHUNK])) for i in range(0, len(values), _CHUNK)]
    return pd.concat(parts, ignore_index=True) if parts else read_table(conn, table.name, sa.false())


def _equal(given: pd.Series, stored: pd.Series) -> np.ndarray:
    both_null = (given.isna() & stored.isna()).to_numpy(dtype=bool)
    if pd.api.types.is_float_dtype(given) or pd.api.types.is_float_dtype(stored):
        a = given.astype("float64").to_numpy(na_value=np.nan)
        b = stored.astype("float64").to_numpy(na_value=np.nan)
        with np.errstate(invalid="ignore"):
            return both_null | np.isclose(a, b, rtol=1e-12, atol=0.0)
    same = (given.astype(object) == stored.astype(object)).to_numpy(dtype=bool)
    return both_null | (same & given.notna().to_numpy(dtype=bool) & stored.notna().to_numpy(dtype=bool))


def plan_changes(conn: Connection, table: Table, frame: pd.DataFrame, columns: list[str], source: str) -> Plan:
    """Compare validated rows with the store (inside the writer's transaction, under its lock)."""
    key = list(table.key)
    empty = frame.iloc[:0]
    stored = stored_rows(conn, table, frame) if len(frame) else empty
    if stored.empty:
        return Plan(frame, columns, len(frame), 0, 0, [], 0, stored)
    left = _key_frame(frame, key).assign(_pos=np.arange(len(frame)))
    right = _key_frame(stored, key).assign(_spos=np.arange(len(stored)))
    matched = left.merge(right, on=key, how="left")
    exists = matched["_spos"].notna().to_numpy()
    spos = matched["_spos"].fillna(0).astype(int).to_numpy()
    compared = [c for c in columns if c not in key]
    differs = np.zeros((len(frame), len(compared)), dtype=bool)
    for j, c in enumerate(compared):
        given = frame[c].reset_index(drop=True)
        held = stored[c].iloc[spos].reset_index(drop=True)
        differs[:, j] = exists & ~_equal(given, held)
    changed = differs.any(axis=1)
    same = exists & ~changed
    conflicts: list[tuple[str, int, str, str]] = []
    for pos in map(int, np.flatnonzero(changed)[:MAX_SHOWN]):
        ident = "/".join(str(frame[k].iloc[pos]) for k in key)
        for c in (compared[j] for j in np.flatnonzero(differs[pos])):
            conflicts.append((source, int(pos) + 1, c, f"id {ident} is stored with {_show(stored[c].iloc[spos[pos]])}, "
                              f"this row gives {_show(frame[c].iloc[pos])} (ask to update to replace it)"))
    write = ~same
    return Plan(frame[write].reset_index(drop=True), columns, int((~exists).sum()), int(changed.sum()),
                int(same.sum()), conflicts, int(differs.sum()),
                stored.iloc[spos[changed]].reset_index(drop=True))


def _show(value: object) -> str:
    return "null" if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)) \
        or value is pd.NaT else repr(str(value))
