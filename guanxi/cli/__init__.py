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
    """Console-script entry point: checks the configuration once, then runs the command."""
    configure()
    app()


def configure() -> None:
    """Settings that cannot be read, or a ``GUANXI_CATALOG`` that does not check, stop every command with a
    clear message (exit 2) instead of failing half-way; numba's compiled kernels go to the cache folder,
    not into the installed package."""
    import os

    from pydantic import ValidationError

    from guanxi.settings import get_settings

    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"GUANXI_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        typer.echo(f"error: configuration: {problems}", err=True)
        raise SystemExit(2) from None
    os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.cache_dir / "numba"))
    if settings.catalog is not None:
        from serving.catalog import load_catalog

        try:
            load_catalog(settings.catalog)
        except ValueError as exc:
            typer.echo(f"error: GUANXI_CATALOG: {exc}", err=True)
            raise SystemExit(2) from None
