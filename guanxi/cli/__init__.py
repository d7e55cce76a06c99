"""The ``guanxi`` command line. Sub-commands import their heavy dependencies lazily."""

from __future__ import annotations

import typer

from guanxi.cli import data, engine, features, models, score, serve, world

app = typer.Typer(help="Guanxi: next-best actions for B2B relationship selling.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
data.register(app)
world.register(app)
features.register(app)
models.register(app)
engine.register(app)
serve.register(app)
score.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
