"""A customer's own labels (``guanxi train relationship|deal --labels FILE``) in place of a built-in one.

Each row says what became of a relationship or a deal seen at ``as_of``: the model learns from the
features at ``as_of`` (nothing later is read) and the split is by ``as_of`` — the latest dates are the
test period, the ones before them validation. The file's dates are trusted to mean "known after
``as_of``"; Guanxi cannot check when sales operations decided a label.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.frames import Tables
from training.datasets import CutoffPlan
from training.labels import LabelDefinition

COLUMNS: dict[str, tuple[str, ...]] = {"relationship": ("rep_id", "contact_id"), "deal": ("opportunity_id",)}
MIN_DATES = 3


def read_labels(path: Path, entity: str) -> pd.DataFrame:
    """Read and check a labels file (CSV, or Parquet by its suffix): ids, ``as_of`` (UTC), ``label`` 0/1.

    Exact repeats of a row are kept once; one id and date with both labels is an error.
    """
    if entity not in COLUMNS:
        raise ValueError(f"own labels are for relationship or deal models, not {entity!r}")
    if not path.exists():
        raise ValueError(f"{path}: no such labels file")
    raw = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)
    ids = list(COLUMNS[entity])
    missing = [c for c in (*ids, "as_of", "label") if c not in raw.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; a {entity} labels file has "
                         f"{', '.join((*ids, 'as_of', 'label'))}")
    out = raw[[*ids, "as_of", "label"]].copy()
    line = pd.Series(range(2, len(out) + 2), index=out.index)  # as a spreadsheet numbers them, header = 1
    blank = out[ids].isna().any(axis=1) | (out[ids].astype(str).apply(lambda c: c.str.strip()) == "").any(axis=1)
    if blank.any():
        raise ValueError(f"{path}: empty {' or '.join(ids)} on line(s) {_lines(line[blank])}")
    out[ids] = out[ids].astype(str)
    out["as_of"] = pd.to_datetime(out["as_of"], utc=True, errors="coerce", format="mixed")
    if out["as_of"].isna().any():
        raise ValueError(f"{path}: as_of is not a date on line(s) {_lines(line[out['as_of'].isna()])}")
    value = out["label"].astype(str).str.strip().str.lower().map(
        {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0, "yes": 1, "no": 0})
    if value.isna().any():
        raise ValueError(f"{path}: label must be 0 or 1 (or true/false) on line(s) {_lines(line[value.isna()])}")
    out["label"] = value.astype(int)
    out = out.drop_duplicates()
    conflict = out.duplicated([*ids, "as_of"], keep=False)
    if conflict.any():
        raise ValueError(f"{path}: the same {' and '.join(ids)} and as_of with both labels on line(s) "
                         f"{_lines(line[conflict.reindex(line.index, fill_value=False)])}")
    return out.reset_index(drop=True)


def _lines(lines: pd.Series, show: int = 5) -> str:
    values = [str(v) for v in lines.tolist()]
    more = f" and {len(values) - show} more" if len(values) > show else ""
    return ", ".join(values[:show]) + more


def own_label(labels: pd.DataFrame, entity: str, source: str) -> LabelDefinition:
    """A label definition that reads ``labels`` at each cutoff (its ``as_of`` dates)."""
    ids = list(COLUMNS[entity])

    def given(tables: Tables, as_of: pd.Timestamp, horizon_days: int = 0) -> pd.DataFrame:
        return labels.loc[labels["as_of"] == as_of, [*ids, "label"]]

    positives = int(labels["label"].sum())
    text = (f"Labels given in {source}: {len(labels)} rows ({positives} positive) at {labels['as_of'].nunique()} "
            f"as_of dates from {labels['as_of'].min().date()} to {labels['as_of'].max().date()}.")
    return LabelDefinition(f"own:{Path(source).name}", entity, given, 0, description=text, given=True)


def plan_from_dates(dates: list[pd.Timestamp], share: float = 0.2) -> CutoffPlan:
    """The latest ``share`` of the ``as_of`` dates for test, the ``share`` before them for validation."""
    dates = sorted(set(dates))
    if len(dates) < MIN_DATES:
        raise ValueError(f"the labels have {len(dates)} as_of date(s); a time split needs at least {MIN_DATES} "
                         "(training, validation and test periods)")
    n_test = n_val = max(1, round(share * len(dates)))
    if len(dates) - n_test - n_val < 1:
        n_test = n_val = 1
    train, val, test = dates[:-n_test - n_val], dates[-n_test - n_val:-n_test], dates[-n_test:]
    return CutoffPlan(train, val[0], test[0], val[1:], test[1:])
