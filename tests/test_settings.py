from pathlib import Path

import pytest

from guanxi.settings import get_settings


def test_defaults_live_under_the_data_home(home: Path) -> None:
    settings = get_settings()
    assert settings.db_url == f"sqlite:///{(home / 'guanxi.db').resolve()}"
    assert settings.tracking_uri == f"sqlite:///{(home / 'mlflow.db').resolve()}"


def test_environment_overrides(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUANXI_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    get_settings.cache_clear()
    assert get_settings().db_url == "postgresql+psycopg://u@h/db"
    assert get_settings().tracking_uri == "http://127.0.0.1:5000"
    monkeypatch.setenv("GUANXI_MLFLOW_TRACKING_URI", "sqlite:///x.db")
    get_settings.cache_clear()
    assert get_settings().tracking_uri == "sqlite:///x.db"


def test_cli_help_does_not_import_heavy_libraries() -> None:
    import subprocess
    import sys

    code = ("import sys; from guanxi.cli import app; "
            "heavy = [m for m in ('pandas', 'sqlalchemy', 'numpy') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
