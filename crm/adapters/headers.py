"""Finding fields in the header of an export whose column names no contract fixes: a whole known name
first, else a word of the name, else the name the user gives (``--column FIELD=NAME``)."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import numpy as np
import pandas as pd

from crm.validate import Report

SPREADSHEETS = (".xlsx", ".xlsm")
MINUTE_WORDS = ("min", "mins", "minute", "minutes")


CJK = "\u3400-\u9fff"
"""Chinese characters, kept in keys: an export from a Chinese CRM names its columns and stages in them."""


def key(name: str) -> str:
    """A header name as a key: lower case, a unit in brackets dropped, words joined by underscores
    ("Duration (sec)" -> ``duration``, "Call Date/Time" -> ``call_date_time``, "关闭日期" as it is)."""
    return re.sub(f"[^0-9a-z{CJK}]+", "_", re.sub(r"[(\[（].*?[)\]）]", " ", name.lower())).strip("_")


def has_word(text_key: str, words: tuple[str, ...] | set[str]) -> bool:
    """Whether a key holds one of ``words``: a word between underscores, or, for a Chinese word (Chinese
    writes no spaces), anywhere in it ("关闭日期" holds "关闭")."""
    parts = set(text_key.split("_"))
    return any(w in parts if not re.search(f"[{CJK}]", w) else w in text_key for w in words)


def header_key(name: str) -> str:
    """:func:`key` of a column name, camelCase split into words as API exports name fields ("StageName",
    "CloseDate", "OwnerId", "DurationInMinutes" -> ``stage_name``, ``close_date``, ``owner_id``…)."""
    return key(re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name))


def find(names: list[str], whole: dict[str, tuple[str, ...]], words: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Which column holds each field: a whole name of ``whole`` first (for every field, in its order),
    then a word of ``words``; each column serves one field."""
    keys = {header_key(c): c for c in names}
    cols: dict[str, str] = {}
    for field, known in whole.items():
        hit = next((keys[n] for n in known if n in keys and keys[n] not in cols.values()), None)
        if hit is not None:
            cols[field] = hit
    for field, known in words.items():
        if field in cols:
            continue
        hit = next((c for k, c in keys.items() if has_word(k, known) and c not in cols.values()), None)
        if hit is not None:
            cols[field] = hit
    return cols


def columns(path: Path, names: list[str], whole: dict[str, tuple[str, ...]], words: dict[str, tuple[str, ...]],
            named: dict[str, str] | None, report: Report) -> dict[str, str]:
    """Which column of the header ``names`` holds each field (:func:`find`), then the fields the user named
    (``--column FIELD=NAME``); a name that is not a field of ``whole`` or not a column goes to ``report``."""
    cols = find(names, whole, words)
    for field, column in (named or {}).items():
        if field not in whole:
            report.note(str(path), 1, "", f"--column {field}={column}: not a field here; one of {', '.join(whole)}")
        elif column not in names:
            report.note(str(path), 1, "", f"--column {field}={column}: no such column in the header "
                        f"({', '.join(names)})")
        else:
            cols = {f: c for f, c in cols.items() if c != column} | {field: column}
    return cols


def read_sheet(path: Path) -> pd.DataFrame:
    """The first sheet of a spreadsheet export as text (dates as ISO text, empty cells null): what a CSV of
    the same table would give the adapters."""
    frame = pd.read_excel(path, sheet_name=0, dtype=object, engine="openpyxl")
    frame.columns = [str(c).strip() for c in frame.columns]

    def text(value: object) -> object:
        if value is None or (isinstance(value, float) and value != value):
            return float("nan")
        out = value.isoformat() if hasattr(value, "isoformat") else str(value)  # date cells: ISO text
        return out.strip() or float("nan")

    return frame.map(text).astype(object)


def encoding_of(path: Path) -> str:
    """The text encoding of an exported file: UTF-8 (with or without a BOM), UTF-16 by its BOM (Excel's
    "Unicode Text"), GB18030 where the bytes are not UTF-8 but read as Chinese (Excel's CSV on a Chinese
    Windows: GBK), else Windows-1252 (Excel's CSV on a Western one)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-8-sig" or re.search(f"[{CJK}]", text):
            return encoding
    return "cp1252"


def read_table(path: Path) -> pd.DataFrame:
    """One table of an export as text, whatever the file: CSV or TSV (the separator sniffed, the encoding
    found by :func:`encoding_of`), a spreadsheet (:func:`read_sheet`) or Parquet; empty cells null, header
    names stripped."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".parquet":
        raw = pd.read_parquet(path).astype("string")
    elif path.suffix.lower() in SPREADSHEETS:
        raw = read_sheet(path)
    else:
        raw = pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False, na_values=[""],
                          encoding=encoding_of(path))
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw


NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})([./-])(\d{1,2})[./-]\d{2,4}\b")


def day_first(values: pd.Series) -> bool:
    """Whether a column's numeric dates put the day first ("31.12.2024", "05.11.2024"), read from the whole
    column so that every row is read the same way: a first number above 12 says day first, a second one
    says month first; where none does, dotted dates are day first (as Europe writes them) and slashed ones
    month first (as US exports do)."""
    parts = values.dropna().astype(str).str.extract(NUMERIC_DATE)
    if parts.empty or parts[0].isna().all():
        return False
    first, second = pd.to_numeric(parts[0]), pd.to_numeric(parts[2])
    if (first > 12).any() and not (second > 12).any():
        return True
    if (second > 12).any():
        return False
    return bool((parts[1] == ".").mean() > 0.5)


def dates(values: pd.Series) -> pd.Series:
    """UTC timestamps from date texts as exports write them (ISO, "03/01/2017 09:17 PM", "31.12.2024"), the
    day-first question settled once per column (:func:`day_first`); NaT where a text is not a date."""
    return pd.to_datetime(values, utc=True, errors="coerce", format="mixed", dayfirst=day_first(values))


def in_minutes(name: str) -> bool:
    """Whether a duration column's name says minutes ("Duration (min)")."""
    words = re.split(r"[^0-9a-z]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower())  # units in brackets too
    return bool(set(words) & set(MINUTE_WORDS))


def minutes(values: pd.Series, name: str) -> np.ndarray:
    """Durations in minutes from numbers (seconds, or minutes when the column's name says so) or from
    ``[h:]mm:ss`` clock strings; NaN where neither. A negative number is how phone logs mark a missed or
    unanswered call (``-1``): the call is kept, its duration is unknown (-inf here, NaN in the result)."""
    number = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    number = np.where(number < 0, -np.inf, number)
    out = number if in_minutes(name) else number / 60
    clock = values.notna().to_numpy() & np.isnan(number) & values.astype(str).str.contains(":").to_numpy()
    if clock.any():
        text = values[clock].str.strip()
        text = text.where(text.str.count(":") == 2, "0:" + text)
        out = out.copy()
        out[clock] = pd.to_timedelta(text, errors="coerce").dt.total_seconds().to_numpy() / 60
    return out
