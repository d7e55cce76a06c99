"""``guanxi score``: score every relationship and open deal into Parquet, on pandas or Spark."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer


class Engine(enum.StrEnum):
    pandas = "pandas"
    spark = "spark"


def score_cmd(
    out: Annotated[Path, typer.Option(help="Output folder (relationships/part-*.parquet, deals.parquet).")],
    engine: Annotated[Engine, typer.Option(help="pandas (one machine) or spark.")] = Engine.pandas,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Day to score (default: the day after the data).")]
    = None,
    chunk_reps: Annotated[int, typer.Option(min=1, help="Reps per chunk (memory is bounded by one chunk).")] = 25,
    k: Annotated[int, typer.Option(min=1, help="Recommended actions per rep.")] = 3,
    master: Annotated[str, typer.Option(help="Spark master (spark engine).")] = "local[2]",
    as_json: Annotated[bool, typer.Option("--json", help="Print a summary as JSON.")] = False,
) -> None:
    """Score the whole base; a run that stops part-way resumes where it left off when started again."""
    import sys
    import time

    import pandas as pd

    from crm.store import read_all, record_score_output
    from features.frames import utc
    from guanxi.cli.data import store
    from guanxi.settings import get_settings
    from serving.batch import prepare, run_pandas
    from serving.candidates import default_as_of
    from serving.models import load_models

    started = time.perf_counter()
    models_dir = get_settings().models_dir
    try:
        models, deal_model = load_models(models_dir)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    with store() as eng:
        tables = read_all(eng)
        record_score_output(eng, out)
    if tables["interactions"].empty:
        typer.echo("the store has no interactions: import or simulate some first", err=True)
        raise typer.Exit(1)
    try:
        day = utc(pd.Timestamp(as_of)) if as_of else default_as_of(tables)
    except ValueError:
        typer.echo(f"--as-of: {as_of!r} is not a date", err=True)
        raise typer.Exit(2) from None
    try:
        run = prepare(out, day, models.versions, tables["reps"]["rep_id"], chunk_reps, k)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    skipped = len(run.chunks) - len(run.pending())
    if engine is Engine.pandas:
        if sys.stderr.isatty() and not as_json:
            from rich.progress import Progress

            with Progress() as bar:
                task = bar.add_task("scoring reps", total=len(run.chunks), completed=skipped)
                run_pandas(tables, run, models, deal_model, progress=lambda i, n: bar.advance(task))
        else:
            run_pandas(tables, run, models, deal_model)
    else:
        from serving.batch_spark import run_spark

        run_spark(tables, run, models_dir, deal_model, master=master)
    import pyarrow.parquet as pq

    rels = sum(pq.read_metadata(run.part(i)).num_rows for i in range(len(run.chunks)))
    summary = {"out": str(out), "engine": engine.value, "as_of": day.isoformat(), "chunks": len(run.chunks),
               "resumed_chunks": skipped, "relationships": rels,
               "deals": pq.read_metadata(out / "deals.parquet").num_rows,
               "models": models.versions, "seconds": round(time.perf_counter() - started, 1)}
    typer.echo(json.dumps(summary) if as_json else
               f"{rels:,} relationships and {summary['deals']:,} open deals scored as of {day.date()} -> {out}"
               + (f" (resumed: {skipped} chunks were already done)" if skipped else ""))


def register(app: typer.Typer) -> None:
    app.command("score")(score_cmd)
