"""``guanxi score``: score every relationship and open deal into Parquet, on pandas or Spark."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from pathlib import Path
from typing import Annotated

import typer

from guanxi.cli.errors import refusals
from guanxi.cli.options import parse_day
from guanxi.cli.output import dumps
from guanxi.cli.progress import progress_bar


class Engine(enum.StrEnum):
    pandas = "pandas"
    spark = "spark"


def score_cmd(
    out: Annotated[Path, typer.Option(help="Output folder (relationships/part-*.parquet, deals.parquet).")],
    engine: Annotated[Engine, typer.Option(help="pandas (one machine) or spark.")] = Engine.pandas,
    as_of: Annotated[dt.datetime | None, typer.Option("--as-of", parser=parse_day,
                                                      help="Day to score (default: the day after the data).")] = None,
    chunk_reps: Annotated[int, typer.Option(min=1, help="Reps per chunk (memory is bounded by one chunk).")] = 25,
    k: Annotated[int, typer.Option(min=1, help="Recommended actions per rep.")] = 3,
    master: Annotated[str, typer.Option(help="Spark master (spark engine).")] = "local[2]",
    source: Annotated[Path | None, typer.Option("--input", help="Score a folder of Parquet files in the import "
                                                "format (`guanxi export --format parquet`, or a data-lake folder "
                                                "of parts per table) instead of the store.")] = None,
    partitions: Annotated[int, typer.Option(min=1, help="spark engine on PostgreSQL: slices of the interaction "
                                            "log read in parallel over JDBC.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print a summary as JSON.")] = False,
) -> None:
    """Score the whole base; a run that stops part-way resumes where it left off when started again."""
    from guanxi.cli.data import store
    from guanxi.services.scoring import score_base
    from guanxi.settings import get_settings

    with store() as eng, refusals(), progress_bar(enabled=not as_json, what="scoring reps") as bar:
        s = score_base(eng, out, get_settings(), engine.value, as_of.date() if as_of else None, chunk_reps, k,
                       master, progress=bar.advance if engine is Engine.pandas else None, on_start=bar.start,
                       source=source, partitions=partitions)
    typer.echo(dumps(dataclasses.asdict(s)) if as_json else
               f"{s.relationships:,} relationships and {s.deals:,} open deals scored as of {s.as_of[:10]} -> {out}"
               + (f" (resumed: {s.resumed_chunks} chunks were already done)" if s.resumed_chunks else ""))


def register(app: typer.Typer) -> None:
    app.command("score")(score_cmd)
