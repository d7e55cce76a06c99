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


def test_every_path_has_one_base_whatever_folder_a_command_runs_in(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from guanxi.settings import Settings

    monkeypatch.delenv("GUANXI_MODELS_DIR", raising=False)
    monkeypatch.delenv("GUANXI_DATABASE_URL", raising=False)
    monkeypatch.setenv("GUANXI_HOME", "data")  # relative: taken from the folder the command starts in ...
    monkeypatch.setenv("GUANXI_CATALOG", "ours.toml")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    home = (tmp_path / "data").resolve()
    assert settings.home == home and settings.home.is_absolute()
    assert (settings.models_dir, settings.cache_dir, settings.catalog) == (home / "models", home / "cache",
                                                                           home / "ours.toml")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # ... and once read, a later change of folder changes nothing
    assert settings.db_url == f"sqlite:///{home / 'guanxi.db'}"
    monkeypatch.delenv("GUANXI_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert Settings().home == (tmp_path / "xdg" / "guanxi").resolve()  # the default does not depend on the folder


def test_the_numba_cache_goes_under_the_data_home(home: Path) -> None:
    import os
    import subprocess
    import sys

    code = "from guanxi.cli import configure; import os; configure(); print(os.environ['NUMBA_CACHE_DIR'])"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env).stdout
    assert Path(out.strip()) == home.resolve() / "cache" / "numba"


def test_the_readme_configuration_table_is_generated_from_the_settings() -> None:
    from guanxi.settings import configuration_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("<!-- settings:start -->\n", 1)[1].split("\n<!-- settings:end -->", 1)[0]
    assert block == configuration_table(), "regenerate the table: python -c 'from guanxi.settings import " \
                                           "configuration_table; print(configuration_table())'"
