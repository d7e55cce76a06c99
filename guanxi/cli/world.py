"""``guanxi simulate``: build a simulated CRM world whose truth is known."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from guanxi.cli.output import dumps


class SizeName(enum.StrEnum):
    small = "small"
    demo = "demo"
    large = "large"


def simulate_cmd(
    size: Annotated[SizeName, typer.Option(help="small (tests, seconds), demo (~1M interactions), large (~10M).")]
    = SizeName.small,
    seed: Annotated[int, typer.Option(help="Same seed, same world.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write <table>.parquet files here instead of the store.")] = None,
    variant: Annotated[str, typer.Option(help="The world's truth about actions: base, or contrarian (greetings "
                                         "do nothing, favors and likes backfire).")] = "base",
    drop: Annotated[list[str] | None, typer.Option(help="Leave out of the export: deals, potential.")] = None,
    thin_actions: Annotated[float | None, typer.Option(help="Keep this share of the reps' logged actions.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print row counts as JSON.")] = False,
) -> None:
    """Simulate reps, accounts, contacts, interactions and deals, and store them (validated like an import)."""
    from crm.sim.params import VARIANTS
    from crm.sim.simulate import simulate
    from guanxi.cli.options import degraded

    if variant not in VARIANTS:
        raise typer.BadParameter(f"{variant!r}: one of {', '.join(VARIANTS)}", param_hint="--variant")
    export = degraded(drop, thin_actions)
    tables = export.apply(simulate(size.value, seed=seed, progress=not as_json, variant=variant).tables)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in tables.items():
            frame.to_parquet(out / f"{name}.parquet", index=False)
        counts = {name: len(frame) for name, frame in tables.items()}
    else:
        from crm.importer import import_frames
        from guanxi.cli.data import store

        with store() as engine:
            counts = import_frames(engine, tables, {n: f"simulate:{n}" for n in tables}).counts
    if as_json:
        print(dumps(counts))
    else:
        typer.echo(", ".join(f"{name}: {count:,}" for name, count in counts.items()))


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)
