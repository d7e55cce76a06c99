"""``guanxi features``: build a feature table from the store and write it as Parquet."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer


class Kind(enum.StrEnum):
    relationship = "relationship"
    network = "network"
    deal = "deal"


class Level(enum.StrEnum):
    contact = "contact"
    account = "account"


def features_cmd(
    kind: Annotated[Kind, typer.Argument(help="relationship (rep x contact), network, or deal (open deals).")],
    as_of: Annotated[str, typer.Option("--as-of", help="Cutoff (ISO date or timestamp, UTC); nothing later is read.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
    level: Annotated[Level, typer.Option(help="network only: one row per contact or per account.")] = Level.contact,
    rep: Annotated[list[str] | None, typer.Option(help="relationship only: restrict to these reps.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a summary as JSON.")] = False,
) -> None:
    """Build features at a cutoff, one row per entity, id columns first."""
    import pandas as pd

    from crm.store import read_all
    from features.deal import deal_features
    from features.network import account_network, contact_network
    from features.relationship import relationship_features
    from guanxi.cli.data import store

    try:
        cutoff = pd.Timestamp(as_of)
    except ValueError:
        typer.echo(f"--as-of: {as_of!r} is not a date or timestamp", err=True)
        raise typer.Exit(2) from None
    with store() as engine:
        tables = read_all(engine)
    if tables["interactions"].empty and kind is not Kind.deal:
        typer.echo("the store has no interactions: import or simulate some first", err=True)
        raise typer.Exit(1)
    if kind is Kind.relationship:
        frame = relationship_features(tables, cutoff, rep_ids=rep)
    elif kind is Kind.network:
        rel = relationship_features(tables, cutoff)
        frame = contact_network(rel, tables) if level is Level.contact else account_network(rel, tables)
    else:
        frame = deal_features(tables, cutoff)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(out)  # never a half-written file under the final name
    summary = {"kind": kind.value, "as_of": str(cutoff), "rows": len(frame), "columns": len(frame.columns),
               "out": str(out)}
    typer.echo(json.dumps(summary) if as_json else f"{len(frame):,} rows x {len(frame.columns)} columns -> {out}")


def register(app: typer.Typer) -> None:
    app.command("features")(features_cmd)
