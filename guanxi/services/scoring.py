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

from crm.store import read_all, record_score_output
from guanxi.services.errors import Refused
from guanxi.settings import Settings
from serving.batch import prepare, run_pandas
from serving.candidates import default_as_of
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
               progress: Callable[[int, int], None] | None = None, on_start: Callable[[int, int], None] | None = None
               ) -> ScoreSummary:
    """Score into ``out`` (resuming a run that stopped part-way); the folder is remembered for erasures.

    ``on_start(chunks, already_done)`` is told the size of the run before scoring starts."""
    started = time.perf_counter()
    try:
        models, deal_model = load_models(settings.models_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise Refused("unavailable", str(exc)) from None
    tables = read_all(store)
    if tables["interactions"].empty:
        raise Refused("not_found", "the store has no interactions: import or simulate some first")
    day = pd.Timestamp(as_of, tz="UTC") if as_of else default_as_of(tables)
    try:
        run = prepare(out, day, models.versions, tables["reps"]["rep_id"], chunk_reps, k,
                      (settings.band_good, settings.band_fair))
    except ValueError as exc:
        raise Refused("conflict", str(exc)) from None
    record_score_output(store, out)
    skipped = len(run.chunks) - len(run.pending())
    if on_start:
        on_start(len(run.chunks), skipped)
    if engine == "pandas":
        run_pandas(tables, run, models, deal_model, progress=progress)
    else:
        from serving.batch_spark import run_spark

        run_spark(tables, run, settings.models_dir, deal_model, master=master)
    rels = sum(pq.read_metadata(run.part(i)).num_rows for i in range(len(run.chunks)))
    return ScoreSummary(str(out), engine, day.isoformat(), len(run.chunks), skipped, rels,
                        pq.read_metadata(out / "deals.parquet").num_rows, models.versions,
                        round(time.perf_counter() - started, 1))
