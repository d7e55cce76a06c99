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
    (["erase", "nobody"], 1, "no contact 'nobody'"),
    (["rollback", "guanxi-nope"], 2, "no registered model 'guanxi-nope'"),
    (["train", "tie", "--labels", "labels.csv"], 2, "--labels is for one model"),
])
def test_bad_input_gets_a_message_and_an_exit_code(engine: object, home: Path, tmp_path: Path, args: list[str],
                                                   code: int, says: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from crm.importer import import_dir

    import_dir(engine, write_dir(tmp_path / "in", tiny_tables()))  # type: ignore[arg-type]
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert says in result.output and "Traceback" not in result.output


def test_models_on_an_empty_registry_says_so(home: Path) -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "no models yet" in result.output
