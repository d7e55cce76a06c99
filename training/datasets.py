"""Datasets from rolling cutoffs, split by time so that no period leaks into an earlier one.

Cutoffs are spaced ``step_days`` apart. The test cutoff is the last one whose label window is fully
observed; validation sits one horizon before it; training cutoffs end one horizon before validation.
So every training label is known before the validation cutoff, every validation label before the
test cutoff (the shape of recommenders' ``python_chrono_split``).

Deals are kept in a split only if their outcome was known before the next split's cutoff. That rule
alone keeps deal labels from leaking, so deal training cutoffs run up to the validation cutoff instead
of stopping a horizon short of it: on the demo world that is 1,900 training deals instead of 1,100.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
import polars as pl

from features.deal import deal_features
from features.frames import Tables, need, table
from features.registry import DEAL_IDS, RELATIONSHIP_IDS
from features.relationship import relationship_features
from training.labels import LabelDefinition

MIN_HISTORY_DAYS = 180
DEAL_STEP_DAYS = 15
"""Days between a deal model's snapshots (``plan_cutoffs(spread=True)``); other labels step by a horizon."""


@dataclass(frozen=True)
class CutoffPlan:
    train: list[pd.Timestamp]
    validation: pd.Timestamp
    test: pd.Timestamp
    more_validation: list[pd.Timestamp] = field(default_factory=list)
    more_test: list[pd.Timestamp] = field(default_factory=list)

    def describe(self) -> dict[str, object]:
        return {"train": [str(c.date()) for c in self.train], "validation": str(self.validation.date()),
                "test": str(self.test.date()), "more_validation": [str(c.date()) for c in self.more_validation],
                "more_test": [str(c.date()) for c in self.more_test]}


@dataclass
class Dataset:
    """Feature rows with ``cutoff`` and ``label`` columns, and which rows belong to which split."""

    frame: pd.DataFrame
    features: list[str]
    ids: list[str]
    label: LabelDefinition
    plan: CutoffPlan
    split: pd.Series = field(repr=False)

    def part(self, name: str) -> pd.DataFrame:
        return self.frame[self.split == name]


def as_polars(tables: Tables) -> dict[str, pl.DataFrame]:
    """Convert once, so that every cutoff reads the same Arrow data."""
    return {name: need(tables, name) for name in tables if tables[name] is not None}


def data_span(tables: Tables, entity: str = "relationship") -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last timestamp the label's entity can be seen at: the interaction log for relationships,
    the deals' own dates for deals (an email archive of 2010 may share the store with deals of 2017)."""
    inter = tables.get("interactions")
    if entity != "deal" and inter is not None and len(inter):
        ts = need(tables, "interactions", ["ts"])["ts"]
    else:
        opps = need(tables, "opportunities", ["created_at", "closed_at"])
        ts = pl.concat([opps["created_at"].drop_nulls(), opps["closed_at"].drop_nulls()])
    return pd.Timestamp(ts.min()), pd.Timestamp(ts.max())


def plan_cutoffs(start: pd.Timestamp, end: pd.Timestamp, horizon_days: int, step_days: int = 60,
                 max_train: int | None = 8, min_history_days: int = MIN_HISTORY_DAYS,
                 spread: bool = False) -> CutoffPlan:
    """Test, validation and training cutoffs for data spanning [start, end].

    ``spread`` is the plan for deals, whose outcomes are per deal, not per window: cutoffs every
    ``step_days`` inside the validation and test periods (more snapshots give the small test set more
    rows), and training cutoffs up to the validation cutoff (rows are kept only if the deal closed by
    then). ``max_train=None`` keeps every training cutoff the history allows.
    """
    horizon = pd.Timedelta(days=horizon_days)
    test = (end - horizon).floor("D")
    validation = test - horizon
    first_train = validation - (pd.Timedelta(days=step_days) if spread else horizon)
    train: list[pd.Timestamp] = []
    c = first_train
    while c >= start + pd.Timedelta(days=min_history_days) and (max_train is None or len(train) < max_train):
        train.append(c)
        c -= pd.Timedelta(days=step_days)
    if not train:
        needed = min_history_days + 2 * horizon_days + (step_days if spread else horizon_days)
        raise ValueError(f"not enough history: data spans {start.date()}..{end.date()}, a {horizon_days}-day "
                         f"horizon needs at least {needed} days")

    def inside(first: pd.Timestamp, limit: pd.Timestamp) -> list[pd.Timestamp]:
        step = pd.Timedelta(days=step_days)
        return [c for c in (first + step * k for k in range(1, (limit - first) // step + 1)) if c < limit]

    if not spread:
        return CutoffPlan(sorted(train), validation, test)
    return CutoffPlan(sorted(train), validation, test, inside(validation, test), inside(test, end))


def build_dataset(tables: Tables, label: LabelDefinition, plan: CutoffPlan, progress: bool = False) -> Dataset:
    """Features at every cutoff joined with the label read after it."""
    cutoffs = [*plan.train, plan.validation, *plan.more_validation, plan.test, *plan.more_test]
    names = (["train"] * len(plan.train) + ["validation"] * (1 + len(plan.more_validation))
             + ["test"] * (1 + len(plan.more_test)))
    return _assemble(tables, label, plan, cutoffs, names, progress)


def build_snapshot_dataset(tables: Tables, label: LabelDefinition, cutoffs: list[pd.Timestamp]) -> Dataset:
    """Features at one or two cutoffs with no time split: every row is for cross-validation (split "test")."""
    plan = CutoffPlan([], cutoffs[0], cutoffs[-1])
    return _assemble(tables, label, plan, list(cutoffs), ["test"] * len(cutoffs), False)


def undated_deals(tables: Tables) -> bool:
    """True when no deal carries a date (creation, close or a stage entry): there is no timeline to split."""
    opps = table(tables, "opportunities", ["created_at", "closed_at"])
    stages = table(tables, "opportunity_stages", ["entered_at"])
    if opps is None or opps.height == 0:
        return False
    no_stages = stages is None or stages["entered_at"].drop_nulls().len() == 0
    return opps["created_at"].drop_nulls().len() == 0 and opps["closed_at"].drop_nulls().len() == 0 and no_stages


def undated_as_of_now(tables: Tables) -> tuple[dict[str, pl.DataFrame], pd.DataFrame, pd.Timestamp]:
    """Undated deals as if opened just before the end of the data: (tables, labels of the won and lost ones,
    that cutoff). The cutoff is a second after the last interaction (or today without any)."""
    inter = table(tables, "interactions", ["ts"])
    last = inter["ts"].max() if inter is not None and inter.height else None
    end = pd.Timestamp(last) if last is not None else pd.Timestamp.now(tz="UTC").floor("s")
    as_of = end + pd.Timedelta(seconds=1)
    out = as_polars(tables)
    out["opportunities"] = out["opportunities"].with_columns(
        created_at=pl.lit(end.to_pydatetime(), dtype=pl.Datetime("us", "UTC")),
        closed_at=pl.lit(None, dtype=pl.Datetime("us", "UTC")))
    labels = (out["opportunities"].filter(pl.col("outcome").is_in(["won", "lost"]))
              .select(pl.col("opportunity_id").cast(pl.String), label=(pl.col("outcome") == "won").cast(pl.Int64))
              .to_pandas().assign(as_of=as_of))
    return out, labels, as_of


def _assemble(tables: Tables, label: LabelDefinition, plan: CutoffPlan, cutoffs: list[pd.Timestamp],
              names: list[str], progress: bool) -> Dataset:
    pl_tables = as_polars(tables)
    frames, splits = [], []
    iterator: Iterable[tuple[pd.Timestamp, str]] = zip(cutoffs, names, strict=True)
    if progress:
        from rich.progress import track

        iterator = track(list(iterator), description=f"building {label.entity} features")
    for cutoff, split in iterator:
        part = _rows(pl_tables, label, cutoff, split, plan)
        frames.append(part)
        splits.extend([split] * len(part))
    frame = pd.concat(frames, ignore_index=True)
    ids = list(RELATIONSHIP_IDS if label.entity == "relationship" else DEAL_IDS)
    features = [c for c in frame.columns if c not in (*ids, "cutoff", "label", "closed_at")]
    if label.entity == "relationship":
        features = [c for c in features if c != "buying_role"] + ["buying_role"]
    return Dataset(frame, features, ids, label, plan, pd.Series(splits, index=frame.index))


def _rows(tables: dict[str, pl.DataFrame], label: LabelDefinition, cutoff: pd.Timestamp, split: str,
          plan: CutoffPlan) -> pd.DataFrame:
    labels = label.function(tables, cutoff, label.horizon_days)
    if label.entity == "relationship":
        feats = relationship_features(tables, cutoff)
        if label.given:  # the pairs the labels name, active or not
            out = feats.astype({"rep_id": str, "contact_id": str}).merge(labels, on=["rep_id", "contact_id"])
        else:
            feats = feats[feats["n_365d"] > 0]  # active pairs only
            out = feats.merge(labels, on=["rep_id", "contact_id"], how="left")
        out["label"] = out["label"].fillna(0).astype(int)
    else:
        feats = deal_features(tables, cutoff)
        out = feats.merge(labels, on="opportunity_id", how="inner")
        known_by = {"train": plan.validation, "validation": plan.test}.get(split)
        if known_by is not None and "closed_at" in out:  # the outcome known before the next split's cutoff
            out = out[out["closed_at"] <= known_by]
        out["label"] = out["label"].astype(int)
    return out.assign(cutoff=cutoff)
