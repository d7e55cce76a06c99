"""``guanxi features``: build a feature table from the store and write it as Parquet."""

from __future__ import annotations

import datetime as dt
import enum
from pathlib import Path
from typing import Annotated

import typer

from guanxi.cli.errors import refusals
from guanxi.cli.options import parse_day
from guanxi.cli.output import dumps


class Kind(enum.StrEnum):
    relationship = "relationship"
    network = "network"
    deal = "deal"


class Level(enum.StrEnum):
    contact = "contact"
    account = "account"


def features_cmd(
    kind: Annotated[Kind, typer.Argument(help="relationship (rep x contact), network, or deal (open deals).")],
    as_of: Annotated[dt.datetime, typer.Option("--as-of", parser=parse_day,
                                               help="Cutoff (ISO date or timestamp, UTC); nothing later is read.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
    level: Annotated[Level, typer.Option(help="network only: one row per contact or per account.")] = Level.contact,
    rep: Annotated[list[str] | None, typer.Option(help="relationship only: restrict to these reps.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a summary as JSON.")] = False,
) -> None:
    """Build features at a cutoff, one row per entity, id columns first."""
    import pandas as pd

    from guanxi.cli.data import store
    from guanxi.services.features import build_features, write_parquet

    cutoff = pd.Timestamp(as_of)
    with refusals(), store() as engine:
        frame = build_features(engine, kind.value, cutoff, level.value, rep)
        write_parquet(frame, out)
    summary = {"kind": kind.value, "as_of": str(cutoff), "rows": len(frame), "columns": len(frame.columns),
               "out": str(out)}
    typer.echo(dumps(summary) if as_json else f"{len(frame):,} rows x {len(frame.columns)} columns -> {out}")


def register(app: typer.Typer) -> None:
    app.command("features")(features_cmd)
