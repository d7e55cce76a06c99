"""Import and export of contract tables as CSV or Parquet files named after the tables."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Connection, Engine

from crm import pair_log
from crm.changes import plan_changes
from crm.contract import TABLES
from crm.store import bump_versions, erased_ids, existing_ids, init_db, lock_for_write, read_all, table_counts, upsert
from crm.validate import Report, ValidationError, Window, validate_tables

FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class ImportResult:
    """What an import did, per table: rows read, inserted, updated and unchanged; the store's counts after."""

    rows: dict[str, int]
    counts: dict[str, int]
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    attributes: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Rows of the source that are not contract rows, per reason (an activity export's tasks and notes)."""

    def summary(self) -> dict[str, object]:
        return {"rows": self.rows, "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
                "counts": self.counts, "attributes": self.attributes, "skipped": self.skipped}


class ConflictError(ValidationError):
    """Rows whose id is stored with other content, and the caller did not ask to update: nothing was written."""


@dataclass(frozen=True)
class ImportOptions:
    """How an import treats the store.

    Attributes:
        update: replace the given columns of stored rows whose content differs (else: refuse them).
        window: accepted range of every timestamp; default ``Settings.ts_window()``.
        erasure_key: HMAC key of the tombstones; rows about an erased contact are refused.
        authorize: called with each table's stored rows that an update would change, inside the
            transaction, before anything is written; raise to refuse (the API's key scopes).
        counts: count every table's rows afterwards (the command line's summary; a count of a 12M-row
            table took a second, which an API write does not need).
    """

    update: bool = False
    window: Window | None = None
    erasure_key: bytes | None = None
    authorize: Callable[[str, pd.DataFrame], None] | None = None
    counts: bool = True


def read_dir(directory: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Read every ``<table>.csv`` / ``<table>.parquet`` in ``directory`` as raw text (CSV) or typed (Parquet)."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory")
    frames: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    report = Report()
    for name in TABLES:
        found = [directory / f"{name}.{ext}" for ext in FORMATS if (directory / f"{name}.{ext}").exists()]
        if len(found) > 1:
            report.note(str(found[1]), 0, "", f"both {found[0].name} and {found[1].name} exist")
            continue
        if not found:
            continue
        path = found[0]
        try:
            frame = read_csv_text(path) if path.suffix == ".csv" else pd.read_parquet(path)
        except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            report.note(str(path), 0, "", f"cannot be read: {exc}")
            continue
        frames[name] = pack_attributes(name, frame)
        sources[name] = str(path)
    if report:
        raise ValidationError(report)
    if not frames:
        expected = ", ".join(f"{n}.csv" for n in TABLES)
        raise FileNotFoundError(f"{directory}: no table files found (expected any of {expected})")
    return frames, sources


def read_csv_text(path: Path) -> pd.DataFrame:
    """Every column as text (validation does the typing); empty cells are null. Arrow's reader is fast."""
    import csv

    import pyarrow as pa
    from pyarrow import csv as pacsv

    with path.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    if not header:
        raise ValueError("empty file (no header line)")
    options = pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True,
                                   null_values=[""], quoted_strings_can_be_null=True)
    table = pacsv.read_csv(path, convert_options=options)
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)


def pack_attributes(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Extra columns of an opportunities file become its JSON ``attributes`` (custom fields)."""
    if name != "opportunities":
        return frame
    extra = [c for c in frame.columns if c not in TABLES[name].column_names]
    if not extra:
        return frame
    out = frame.drop(columns=extra)
    if "attributes" in out.columns:
        raise ValueError("opportunities: both an 'attributes' column and extra columns were given")
    return out.assign(attributes=attributes_json(frame[extra]))


def attributes_json(extra: pd.DataFrame) -> pd.Series:
    """Each row's non-null cells as a JSON object: the ``attributes`` of a deal (custom fields)."""
    records = extra.astype(object).where(extra.notna(), None).to_dict(orient="records")
    return pd.Series([json.dumps({k: v for k, v in r.items() if v is not None}, default=str, sort_keys=True)
                      for r in records], index=extra.index)


def import_frames(engine: Engine, frames: Mapping[str, pd.DataFrame], sources: Mapping[str, str],
                  options: ImportOptions | None = None) -> ImportResult:
    """Validate, compare with the store and write, in one transaction under the store's write lock: on
    any problem raise and write nothing. A row stored with the same content is not written again."""
    options = options or ImportOptions()
    unknown = sorted(set(frames) - set(TABLES))
    if unknown:
        raise ValueError(f"not contract tables: {', '.join(unknown)}")
    window = options.window
    if window is None:
        from guanxi.settings import get_settings

        window = get_settings().ts_window()
    init_db(engine)
    inserted: dict[str, int] = {}
    updated: dict[str, int] = {}
    unchanged: dict[str, int] = {}
    with engine.begin() as conn:
        lock_for_write(conn)
        typed = validate_tables(frames, sources, lambda t, c, values: existing_ids(conn, t, c, values), window)
        if options.erasure_key is not None:
            _refuse_erased(conn, typed, sources, options.erasure_key)
        plans = {name: plan_changes(conn, TABLES[name], frame, given_columns(name, frames[name]), sources[name])
                 for name, frame in typed.items()}
        conflicts = Report()
        for plan in plans.values():
            if not options.update and plan.n_changed:
                for problem in plan.conflicts:
                    conflicts.note(*problem)
                conflicts.count += plan.n_conflicts - len(plan.conflicts)
        if conflicts:
            raise ConflictError(conflicts)
        for name, plan in plans.items():
            if options.authorize is not None and len(plan.stored_changed):
                options.authorize(name, plan.stored_changed)
        reps: set[str] = set()
        shared = False
        for name, plan in plans.items():
            upsert(conn, TABLES[name], plan.rows, plan.columns)
            inserted[name], updated[name], unchanged[name] = plan.n_new, plan.n_changed, plan.n_same
            if not len(plan.rows):
                continue
            if name == "interactions":
                pair_log.refresh(conn, plan.rows, plan.stored_changed)
                reps |= set(plan.rows["rep_id"].dropna().astype(str))
                reps |= set(plan.stored_changed.get("rep_id", pd.Series(dtype=str)).dropna().astype(str))
            else:
                shared = True
        bump_versions(conn, reps, shared)
    attributes = sorted({k for v in typed.get("opportunities", pd.DataFrame(columns=["attributes"]))["attributes"]
                         .dropna().unique() for k in json.loads(v)})
    counts = table_counts(engine) if options.counts else {}
    return ImportResult(rows={n: len(f) for n, f in typed.items()}, counts=counts,
                        inserted=inserted, updated=updated, unchanged=unchanged, attributes=attributes)


def given_columns(name: str, frame: pd.DataFrame) -> list[str]:
    """The contract columns the source gave: only these are written over stored rows."""
    return [c for c in TABLES[name].column_names if c in frame.columns]


def _refuse_erased(conn: Connection, typed: Mapping[str, pd.DataFrame], sources: Mapping[str, str],
                   key: bytes) -> None:
    report = Report()
    for name, frame in typed.items():
        if "contact_id" not in frame.columns:
            continue
        erased = erased_ids(conn, key, frame["contact_id"].dropna().astype(str).unique())
        if erased:
            report.add(sources[name], frame, frame["contact_id"].isin(erased).to_numpy(dtype=bool, na_value=False),
                       "contact_id", lambda r: f"{r['contact_id']!r} was erased; its data may not be written again")
    if report:
        raise ValidationError(report)


def import_dir(engine: Engine, directory: Path, options: ImportOptions | None = None) -> ImportResult:
    """``guanxi import DIR``: every table file found in ``directory``."""
    frames, sources = read_dir(directory)
    return import_frames(engine, frames, sources, options)


def export_dir(engine: Engine, directory: Path, fmt: str = "csv") -> dict[str, int]:
    """Write every table to ``directory`` in the import format (round trip)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for name, frame in read_all(engine).items():
        path = directory / f"{name}.{fmt}"
        if fmt == "csv":
            out = frame.copy()
            for col in TABLES[name].columns:
                if col.kind == "timestamp":
                    out[col.name] = out[col.name].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            out.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        written[name] = len(frame)
    return written
