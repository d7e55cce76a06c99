"""Every command given bad input says what is wrong, with exit code 2 (usage) or 1 (failure), never a
traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from guanxi.cli import app
from tests.conftest import tiny_tables, write_dir

runner = CliRunner()


@pytest.mark.parametrize(("args", "code", "says"), [
    (["export", "OUT", "--format", "xml"], 2, "'xml' is not one of"),
    (["features", "deal", "--as-of", "someday", "--out", "x.parquet"], 2, "'someday' is not a date"),
    (["features", "relationship", "--as-of", "2024-02-01", "--out", "/proc/guanxi/x.parquet"], 2, "cannot write"),
    (["recommend", "--rep", "r1", "--as-of", "soon"], 2, "'soon' is not a date"),
    (["score", "--out", "OUT", "--as-of", "13/01/2024"], 2, "is not a date"),
    (["evaluate-policy", "--size", "huge"], 2, "'huge' is not one of"),
    (["import", "NOWHERE"], 1, "import failed"),
    (["import", "calls.csv", "--source", "log", "--column", "time"], 2, "expected FIELD=NAME"),
    (["import", "NOWHERE", "--column", "src=Agent"], 2,
     "--column applies to --source deals, contacts, deal-contacts, activities, email or log"),
    (["import", "calls.csv", "--source", "log", "--namespace", "a:b"], 2, "a name without ':'"),
    (["erase", "nobody"], 1, "no contact 'nobody'"),
    (["rollback", "guanxi-nope"], 2, "no registered model 'guanxi-nope'"),
    (["train", "tie", "--labels", "labels.csv"], 2, "--labels is for one model"),
    (["features", "relationship", "--as-of", "1990-01-01", "--out", "x.parquet"], 1, "no interaction before"),
    (["features", "relationship", "--as-of", "2024-03-01", "--rep", "NOPE", "--out", "x.parquet"], 1, "no rep NOPE"),
    (["features", "deal", "--as-of", "1990-01-01", "--out", "x.parquet"], 1, "no deal was open on 1990-01-01"),
])
def test_bad_input_gets_a_message_and_an_exit_code(engine: object, home: Path, tmp_path: Path, args: list[str],
                                                   code: int, says: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from crm.importer import import_dir

    import_dir(engine, write_dir(tmp_path / "in", tiny_tables()))  # type: ignore[arg-type]
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert says in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.parquet").exists()  # a refused command writes nothing


def test_models_on_an_empty_registry_says_so(home: Path) -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "no models yet" in result.output


@pytest.mark.parametrize(("env", "says"), [
    ({"GUANXI_CATALOG": "no-such-catalog.toml"}, "GUANXI_CATALOG: "),
    ({"GUANXI_LOCK_TIMEOUT_SECONDS": "-1"}, "GUANXI_LOCK_TIMEOUT_SECONDS: Input should be greater than 0"),
])
def test_a_bad_configuration_stops_every_command_before_it_starts(home: Path, env: dict[str, str],
                                                                  says: str) -> None:
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "guanxi.cli", "db", "stats"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (home / "guanxi.db").exists()


def test_an_organisations_own_catalog_is_the_one_in_force(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from guanxi.settings import get_settings
    from serving.catalog import DEFAULT_CATALOG, load_catalog

    text = DEFAULT_CATALOG.read_text()
    blocks = text.split("[[action]]")
    home.mkdir(parents=True, exist_ok=True)
    (home / "ours.toml").write_text("[[action]]".join(blocks[:3]))  # the policy and the first two actions
    monkeypatch.setenv("GUANXI_CATALOG", "ours.toml")  # relative: under the data home
    get_settings.cache_clear()
    ours = load_catalog()
    assert len(ours.names) == 2 and ours.names == load_catalog(DEFAULT_CATALOG).names[:2]


def test_json_output_is_strict_json() -> None:
    """``--json`` output parses anywhere: NaN and infinities (an operating point nothing passes, a metric
    of an empty split) print as null, dates as text."""
    import datetime as dt
    import json

    from guanxi.cli.output import dumps

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    text = dumps({"threshold": float("inf"), "precision": float("nan"), "points": [1.5, float("-inf")],
                  "day": dt.date(2024, 1, 2), "名": "关系"})
    assert json.loads(text, parse_constant=refuse) == {"threshold": None, "precision": None, "points": [1.5, None],
                                                       "day": "2024-01-02", "名": "关系"}
