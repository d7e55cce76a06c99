"""``guanxi simulate``: build a simulated CRM world whose truth is known."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer


class SizeName(enum.StrEnum):
    small = "small"
    demo = "demo"
    large = "large"


def simulate_cmd(
    size: Annotated[SizeName, typer.Option(help="small (tests, seconds), demo (~1M interactions), large (~10M).")]
    = SizeName.small,
    seed: Annotated[int, typer.Option(help="Same seed, same world.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write <table>.parquet files here instead of the store.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print row counts as JSON.")] = False,
) -> None:
    """Simulate reps, accounts, contacts, interactions and deals, and store them (validated like an import)."""
    from crm.sim.simulate import simulate

    sim = simulate(size.value, seed=seed, progress=not as_json)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in sim.tables.items():
            frame.to_parquet(out / f"{name}.parquet", index=False)
        counts = {name: len(frame) for name, frame in sim.tables.items()}
    else:
        from crm.importer import import_frames
        from guanxi.cli.data import store

        with store() as engine:
            counts = import_frames(engine, sim.tables, {n: f"simulate:{n}" for n in sim.tables}).counts
    if as_json:
        print(json.dumps(counts))
    else:
        typer.echo(", ".join(f"{name}: {count:,}" for name, count in counts.items()))


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)
