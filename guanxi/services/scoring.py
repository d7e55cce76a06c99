"""Nightly scoring of the whole base: every relationship and open deal into Parquet, on pandas or Spark."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy.engine import Engine

from crm.store import read_all, record_score_output, typed
from guanxi.services.errors import Refused
from guanxi.settings import Settings
from serving.batch import ScoreRun, prepare, run_pandas
from serving.candidates import default_as_of, next_day, rep_days, rep_latest_dates
from serving.engine import Models
from serving.models import load_models


@dataclass(frozen=True)
class ScoreSummary:
    out: str
    engine: str
    as_of: str
    chunks: int
    resumed_chunks: int
    relationships: int
    deals: int
    models: dict[str, str]
    seconds: float


def score_base(store: Engine, out: Path, settings: Settings, engine: str = "pandas", as_of: dt.date | None = None,
               chunk_reps: int = 25, k: int = 3, master: str = "local[2]",
               progress: Callable[[int, int], None] | None = None, on_start: Callable[[int, int], None] | None = None,
               source: Path | None = None, partitions: int = 8) -> ScoreSummary:
    """Score into ``out`` (resuming a run that stopped part-way); the folder is remembered for erasures.

    ``source``: a folder of Parquet files in the import format instead of the store. The Spark engine reads
    the interaction log on the executors (from that folder, or from the PostgreSQL store over JDBC in
    ``partitions`` slices); the driver never holds it. ``on_start(chunks, already_done)`` is told the size
    of the run before scoring starts."""
    started = time.perf_counter()
    try:
        models, deal_model = load_models(settings.models_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise Refused("unavailable", str(exc)) from None
    if engine == "spark":
        return _score_on_spark(store, out, settings, models, as_of, chunk_reps, k, master, on_start, source,
                               partitions, started)
    tables = _tables(store, source)
    if tables["interactions"].empty and tables["opportunities"].empty:
        raise Refused("not_found", "the store has no interactions or deals: import or simulate some first")
    day = pd.Timestamp(as_of, tz="UTC") if as_of else default_as_of(tables)
    days = {} if as_of else rep_days(rep_latest_dates(tables))
    run = _prepare(store, out, settings, models, day, tables["reps"]["rep_id"], chunk_reps, k, on_start, days)
    skipped = len(run.chunks) - len(run.pending())
    run_pandas(tables, run, models, deal_model, progress=progress)
    return _summary(run, "pandas", skipped, models.versions, started)


def _tables(store: Engine, source: Path | None) -> dict[str, pd.DataFrame]:
    if source is None:
        return read_all(store)
    from serving.spark_input import LOG, SparkInput, table_path

    try:
        folder = SparkInput.folder(source)
    except ValueError as exc:
        raise Refused("invalid", str(exc)) from None
    log = pd.read_parquet(table_path(source, LOG))  # SparkInput.folder checked that it is there
    return {**folder.small_tables(), LOG: typed(log, LOG)}


def _score_on_spark(store: Engine, out: Path, settings: Settings, models: Models, as_of: dt.date | None,
                    chunk_reps: int, k: int, master: str, on_start: Callable[[int, int], None] | None,
                    source: Path | None, partitions: int, started: float) -> ScoreSummary:
    from serving.batch_spark import run_spark, session
    from serving.spark_input import SparkInput

    try:
        where = SparkInput.folder(source) if source is not None else SparkInput.store(settings.db_url, partitions)
    except ValueError as exc:
        raise Refused("invalid", str(exc)) from None
    small = where.small_tables()
    days: dict[str, str] = {}
    if as_of is not None:
        day = pd.Timestamp(as_of, tz="UTC")
    else:  # the same default day and eras as the pandas engine, from each rep's end computed by Spark
        ends = where.rep_ends(session(master))
        for rep, end in rep_latest_dates({"opportunities": small["opportunities"]}).items():
            ends[rep] = max(end, ends.get(rep, end))
        if not ends:
            raise Refused("not_found", "the source has no interactions or dated deals: import or simulate some first")
        day = next_day(max(ends.values()))
        days = rep_days(ends)
    run = _prepare(store, out, settings, models, day, small["reps"]["rep_id"], chunk_reps, k, on_start, days)
    skipped = len(run.chunks) - len(run.pending())
    try:
        run_spark(where, run, settings.models_dir, small, master=master)
    except ValueError as exc:
        raise Refused("unavailable", str(exc)) from None
    return _summary(run, "spark", skipped, models.versions, started)


def _prepare(store: Engine, out: Path, settings: Settings, models: Models, day: pd.Timestamp,
             reps: pd.Series, chunk_reps: int, k: int, on_start: Callable[[int, int], None] | None,
             days: dict[str, str] | None = None) -> ScoreRun:
    """Bands as the API draws them: the settings, scaled by the relationship model's base rate."""
    from serving.scales import thresholds

    cuts = thresholds(settings.band_good, settings.band_fair, getattr(models.relationship, "base_rate_", None),
                      settings.band_by_base_rate)
    try:
        run = prepare(out, day, models.versions, reps, chunk_reps, k, cuts, days)
    except ValueError as exc:
        raise Refused("conflict", str(exc)) from None
    record_score_output(store, out)
    if on_start:
        on_start(len(run.chunks), len(run.chunks) - len(run.pending()))
    return run


def _summary(run: ScoreRun, engine: str, skipped: int, versions: dict[str, str], started: float) -> ScoreSummary:
    rels = sum(pq.read_metadata(run.part(i)).num_rows for i in range(len(run.chunks)))
    return ScoreSummary(str(run.out), engine, run.as_of.isoformat(), len(run.chunks), skipped, rels,
                        pq.read_metadata(run.deals_path).num_rows, versions,
                        round(time.perf_counter() - started, 1))
