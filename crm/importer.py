"""Import and export of contract tables as CSV or Parquet files named after the tables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from crm.contract import TABLES
from crm.store import existing_ids, init_db, read_all, table_counts, write_tables
from crm.validate import Report, ValidationError, validate_tables

FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows read per table and the store's counts afterwards."""

    rows: dict[str, int]
    counts: dict[str, int]


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
    records = frame[extra].astype(object).where(frame[extra].notna(), None).to_dict(orient="records")
    packed = pd.Series([json.dumps({k: v for k, v in r.items() if v is not None}, default=str, sort_keys=True)
                        for r in records], index=frame.index)
    out = frame.drop(columns=extra)
    if "attributes" in out.columns:
        raise ValueError("opportunities: both an 'attributes' column and extra columns were given")
    return out.assign(attributes=packed)


def import_frames(engine: Engine, frames: Mapping[str, pd.DataFrame], sources: Mapping[str, str]) -> ImportResult:
    """Validate then write in one transaction; on any problem raise and write nothing."""
    unknown = sorted(set(frames) - set(TABLES))
    if unknown:
        raise ValueError(f"not contract tables: {', '.join(unknown)}")
    init_db(engine)
    with engine.connect() as conn:
        typed = validate_tables(frames, sources, lambda t, c, values: existing_ids(conn, t, c, values))
    write_tables(engine, typed)
    return ImportResult(rows={n: len(f) for n, f in typed.items()}, counts=table_counts(engine))


def import_dir(engine: Engine, directory: Path) -> ImportResult:
    """``guanxi import DIR``: every table file found in ``directory``."""
    frames, sources = read_dir(directory)
    return import_frames(engine, frames, sources)


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
