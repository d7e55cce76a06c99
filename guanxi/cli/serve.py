"""``guanxi serve``: the HTTP API under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

LOCAL = {"127.0.0.1", "localhost", "::1"}


def serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to bind (anything but 127.0.0.1 needs GUANXI_API_KEYS).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes; each loads its own models.")] = 1,
) -> None:
    """Serve the /v1 API (OpenAPI at /docs)."""
    from guanxi.settings import Settings
    from serving.api.auth import parse_keys

    settings = Settings()
    try:
        keys = parse_keys(settings.api_keys)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if not keys and host not in LOCAL:
        typer.echo(f"refusing to bind {host} without API keys: set GUANXI_API_KEYS, or serve on 127.0.0.1",
                   err=True)
        raise typer.Exit(2)
    import uvicorn

    metrics_dir(settings.home, port)
    typer.echo(f"serving on http://{host}:{port} (docs at /docs); try:\n"
               f"  curl -s http://{host}:{port}/v1/reps/R0003/next-best-actions?limit=3"
               + ("" if not keys else " -H 'Authorization: Bearer $KEY'"), err=True)
    uvicorn.run("serving.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", log_config=log_config(), access_log=False)


def metrics_dir(home: Path, port: int) -> Path:
    """A fresh folder for the workers' Prometheus samples (``PROMETHEUS_MULTIPROC_DIR``, unless set), so that
    /metrics sums every worker, not only the one that answers."""
    import os
    import shutil

    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or home / "run" / f"metrics-{port}")
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(folder, ignore_errors=True)  # samples of a previous run on this port
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def log_config() -> dict[str, object]:
    """uvicorn's logging plus the service's own: one JSON line per request (``guanxi.access``, with its
    X-Request-ID) instead of uvicorn's access lines, and the service's warnings and errors."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["message"] = {"format": "%(message)s"}
    config["handlers"]["guanxi"] = {"class": "logging.StreamHandler", "formatter": "message",
                                    "stream": "ext://sys.stdout"}
    config["loggers"]["guanxi"] = {"handlers": ["guanxi"], "level": "INFO", "propagate": False}
    return config


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
