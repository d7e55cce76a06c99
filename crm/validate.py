"""Row-level validation of incoming tables against the data contract, vectorised.

Every problem is reported as ``file:row:column: reason``. Rows are numbered from 1 for the first data
row (the header line is not counted), so row *n* is line *n + 1* of a CSV file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crm.contract import TABLES, Column, Table

MAX_SHOWN = 50
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


@dataclass(frozen=True, order=True)
class Problem:
    """One rejected cell (or row, when ``column`` is empty)."""

    source: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.row}:{self.column}: {self.reason}"


@dataclass
class Report:
    """Problems found so far: the first few of each check kept in full, all of them counted."""

    problems: list[Problem] = field(default_factory=list)
    count: int = 0

    def add(self, source: str, frame: pd.DataFrame, mask: np.ndarray | pd.Series, column: str,
            reason: Callable[[pd.Series], str] | str) -> None:
        """Record every row where ``mask`` is true; keep the first ``MAX_SHOWN`` of them. A text reason may
        name the cell's value as ``{value}`` (formatted like an f-string field, e.g. ``{value!r}``)."""
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if n == 0:
            return
        self.count += n
        positions = np.flatnonzero(mask)[:MAX_SHOWN]
        rows = frame.iloc[positions]
        for pos, (_, row) in zip(positions, rows.iterrows(), strict=True):
            text = reason(row) if callable(reason) else reason.format(value=row.get(column)) \
                if "{value" in reason else reason
            self.problems.append(Problem(source, int(pos) + 1, column, text))

    def note(self, source: str, row: int, column: str, reason: str) -> None:
        """Record one problem that is not tied to a mask (a file or a header)."""
        self.problems.append(Problem(source, row, column, reason))
        self.count += 1

    def __bool__(self) -> bool:
        return self.count > 0

    def lines(self, limit: int = MAX_SHOWN) -> list[str]:
        shown = sorted(self.problems)[:limit]
        out = [str(p) for p in shown]
        if self.count > len(shown):
            out.append(f"... and {self.count - len(shown)} more problems")
        return out


class ValidationError(ValueError):
    """Raised when input breaks the contract; nothing has been written."""

    def __init__(self, report: Report) -> None:
        self.report = report
        super().__init__("\n".join([f"{report.count} problem(s); nothing was written:", *report.lines()]))


_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"


def _text(raw: pd.Series) -> pd.Series:
    """Arrow-backed, trimmed text with empty cells as null (fast vectorised string kernels)."""
    s = raw.astype("string[pyarrow]").str.strip()
    return s.mask(s == "")


def _is_text(raw: pd.Series) -> bool:
    return raw.dtype == object or pd.api.types.is_string_dtype(raw)


def _present(raw: pd.Series) -> np.ndarray:
    """True where the source gave a value (empty strings count as missing)."""
    if _is_text(raw):
        return _text(raw).notna().to_numpy(dtype=bool, na_value=False)
    return raw.notna().to_numpy()


def _coerce(raw: pd.Series, col: Column) -> pd.Series:
    """Convert to the column's type; values that cannot be converted become null."""
    if col.kind == "str":
        return _text(raw) if _is_text(raw) else _text(raw.astype(object).where(raw.notna(), None))
    if col.kind in ("int", "float"):
        if not _is_text(raw) and not pd.api.types.is_bool_dtype(raw):
            return raw.astype("float64")
        text = _text(raw)
        ok = text.str.fullmatch(_NUMBER).fillna(False).astype(bool)
        return text.where(ok).astype("float64[pyarrow]").astype("float64")
    if col.kind == "bool":
        if pd.api.types.is_bool_dtype(raw):
            return raw.astype("boolean")
        s = _text(raw.astype(object).where(raw.notna(), None) if not _is_text(raw) else raw).str.lower()
        out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        out[s.isin(_TRUE).fillna(False).to_numpy(dtype=bool)] = True
        out[s.isin(_FALSE).fillna(False).to_numpy(dtype=bool)] = False
        return out
    if col.kind == "timestamp":
        if pd.api.types.is_datetime64_any_dtype(raw):
            s = raw if getattr(raw.dt, "tz", None) is not None else raw.dt.tz_localize("UTC")
            return s.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
        return _parse_timestamps(_text(raw))
    raise AssertionError(col.kind)


_OFFSET = r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|z|[+-]\d{2}(?::?\d{2})?)$"


def _parse_timestamps(text: pd.Series) -> pd.Series:
    """ISO 8601 to UTC. Parsed in two groups because pandas applies one string's offset to naive ones."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    has_offset = text.str.contains(_OFFSET, regex=True).fillna(False).astype(bool).to_numpy()
    for group in (has_offset, ~has_offset):
        if group.any():
            parsed = pd.to_datetime(text[group], utc=True, errors="coerce", format="ISO8601")
            out[group] = parsed.astype("datetime64[us, UTC]")
    return out


def _finish(values: pd.Series, col: Column) -> pd.Series:
    """Final storage dtype of a validated column."""
    if col.kind == "int":
        return values.round().astype("Int64")
    if col.kind == "float":
        return values.astype("Float64")
    return values


Window = tuple[pd.Timestamp, pd.Timestamp]
_CONTROL = r"[\x00-\x1f\x7f]"


def validate_table(table: Table, frame: pd.DataFrame, source: str, report: Report,
                   window: Window | None = None) -> pd.DataFrame:
    """Check one table's rows; returns the typed frame (meaningful only when the report is empty).

    ``window`` bounds every timestamp (see ``crm.contract.EARLIEST_TS``); ids may not hold control
    characters (a NUL or a line break in an id is never meant and breaks every comparison)."""
    unknown = [c for c in frame.columns if c not in table.column_names]
    for name in unknown:
        report.note(source, 0, name, f"unknown column for table {table.name!r}")
    out: dict[str, pd.Series] = {}
    for col in table.columns:
        if col.name not in frame.columns:
            if not col.nullable:
                report.note(source, 0, col.name, "required column is missing")
            out[col.name] = _finish(_coerce(pd.Series([None] * len(frame), index=frame.index,
                                                      dtype="object"), col), col)
            continue
        raw = frame[col.name]
        present = _present(raw)
        values = _coerce(raw, col)
        bad_type = present & values.isna().to_numpy()
        if col.kind == "int":
            frac = values.notna().to_numpy() & (values.fillna(0) % 1 != 0).to_numpy()
            bad_type |= frac
        what = {"int": "an integer", "float": "a number", "bool": "true/false",
                "timestamp": "a timestamp (ISO 8601, UTC if no offset)", "str": "text"}[col.kind]
        report.add(source, frame, bad_type, col.name, f"{{value!r}} is not {what}")
        if not col.nullable:
            report.add(source, frame, ~present, col.name, "value is required")
        ok = values.notna().to_numpy() & ~bad_type
        if col.allowed is not None:
            allowed = pd.Series(values).isin(col.allowed).to_numpy(dtype=bool, na_value=False)
            report.add(source, frame, ok & ~allowed, col.name,
                       f"{{value!r}} is not one of {', '.join(map(str, col.allowed))}")
        if col.minimum is not None:
            low = ok & (values.fillna(col.minimum) < col.minimum).to_numpy()
            report.add(source, frame, low, col.name, f"{{value!r}} is below {col.minimum:g}")
        if col.maximum is not None:
            high = ok & (values.fillna(col.maximum) > col.maximum).to_numpy()
            report.add(source, frame, high, col.name, f"{{value!r}} is above {col.maximum:g}")
        if col.kind == "timestamp" and window is not None:
            lo, hi = window
            outside = ok & ((values < lo) | (values > hi)).to_numpy(dtype=bool, na_value=False)
            accepted = f"{lo.date()} .. {hi.strftime('%Y-%m-%d %H:%M')} UTC"
            report.add(source, frame, outside, col.name,
                       f"{{value!r}} is outside the accepted range {accepted} (a wrong epoch, unit or year?)")
        if col.kind == "str" and (col.name in table.key or col.references):
            control = ok & values.str.contains(_CONTROL, regex=True).to_numpy(dtype=bool, na_value=False)
            report.add(source, frame, control, col.name, "{value!r} holds a control character")
        out[col.name] = _finish(values, col)
    typed = pd.DataFrame(out).reset_index(drop=True)
    key = list(table.key)
    if all(k in frame.columns for k in key):
        dup = typed.duplicated(key, keep="first") & typed[key].notna().all(axis=1)
        if dup.any():
            first = typed.index.to_series().groupby([typed[k] for k in key]).transform("first")
            report.add(source, typed.assign(_first=first + 1), dup.to_numpy(), ",".join(key),
                       lambda r: f"duplicate id {'/'.join(str(r[k]) for k in key)}, first at row {r['_first']}")
    return typed


def check_references(typed: Mapping[str, pd.DataFrame], sources: Mapping[str, str],
                     existing_ids: Callable[[str, str, set[object]], set[object]], report: Report) -> None:
    """Foreign keys must point at a row in the same import or already in the store."""
    for name, frame in typed.items():
        for col in TABLES[name].columns:
            if col.references is None:
                continue
            ref_table, ref_col = col.references.split(".")
            values = frame[col.name]
            present = values.notna().to_numpy()
            if not present.any():
                continue
            known = pd.Series(values).isin(typed[ref_table][ref_col]) if ref_table in typed else \
                pd.Series(False, index=values.index)
            missing = present & ~known.to_numpy(dtype=bool, na_value=False)
            if missing.any():
                in_store = existing_ids(ref_table, ref_col, set(values[missing].unique()))
                missing &= ~values.isin(in_store).to_numpy(dtype=bool, na_value=False)
            report.add(sources[name], frame, missing, col.name, f"{{value!r}} does not exist in {ref_table}")


def validate_tables(frames: Mapping[str, pd.DataFrame], sources: Mapping[str, str],
                    existing_ids: Callable[[str, str, set[object]], set[object]],
                    window: Window | None = None) -> dict[str, pd.DataFrame]:
    """Validate a set of tables; raises :class:`ValidationError` listing every problem."""
    report = Report()
    typed = {name: validate_table(TABLES[name], frames[name], sources[name], report, window)
             for name in TABLES if name in frames}
    if not report:
        check_references(typed, sources, existing_ids, report)
    if report:
        raise ValidationError(report)
    return typed
