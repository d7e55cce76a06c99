"""Import into SQLite and PostgreSQL: atomic, idempotent, round-trippable."""

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from crm.contract import TABLES
from crm.importer import ConflictError, ImportOptions, export_dir, import_dir
from crm.store import read_all, read_table, table_counts
from crm.validate import ValidationError
from guanxi.cli import app
from tests.conftest import tiny_tables, write_dir

runner = CliRunner()


def test_import_then_again_changes_no_count(engine: Engine, tmp_path: Path) -> None:
    src = write_dir(tmp_path / "in", tiny_tables())
    first = import_dir(engine, src)
    assert first.counts == {"reps": 2, "accounts": 1, "contacts": 2, "opportunities": 1, "interactions": 3,
                            "opportunity_stages": 2, "opportunity_contacts": 1}
    again = import_dir(engine, src)
    assert again.counts == first.counts


def test_other_content_under_a_stored_id_is_a_conflict_unless_update_is_asked(engine: Engine, tmp_path: Path) -> None:
    tables = tiny_tables()
    import_dir(engine, write_dir(tmp_path / "a", tables))
    before = read_all(engine)
    tables["interactions"].loc[0, "depth"] = "3"
    tables["interactions"].loc[0, "occasion"] = ""
    changed = write_dir(tmp_path / "b", {"interactions": tables["interactions"]})
    with pytest.raises(ConflictError) as refused:
        import_dir(engine, changed)
    lines = refused.value.report.lines()
    assert any(line.endswith(":1:depth: id i1 is stored with '1', this row gives '3' (ask to update to replace it)")
               for line in lines), lines
    assert any(":1:occasion: id i1 is stored with 'holiday', this row gives null" in line for line in lines)
    pd.testing.assert_frame_equal(read_all(engine)["interactions"], before["interactions"])
    result = import_dir(engine, changed, ImportOptions(update=True))
    assert (result.inserted["interactions"], result.updated["interactions"], result.unchanged["interactions"]) \
        == (0, 1, 2)
    got = read_table(engine, "interactions").set_index("interaction_id")
    assert got.loc["i1", "depth"] == 3 and pd.isna(got.loc["i1", "occasion"]) and len(got) == 3


def test_the_same_rows_again_are_counted_unchanged_and_not_written(engine: Engine, tmp_path: Path) -> None:
    src = write_dir(tmp_path / "in", tiny_tables())
    first = import_dir(engine, src)
    assert first.inserted["interactions"] == 3 and first.unchanged["interactions"] == 0
    again = import_dir(engine, src)
    assert again.inserted == dict.fromkeys(again.rows, 0) and again.updated == dict.fromkeys(again.rows, 0)
    assert again.unchanged == again.rows


def test_a_file_without_a_column_never_nulls_it(engine: Engine, tmp_path: Path) -> None:
    import_dir(engine, write_dir(tmp_path / "a", tiny_tables()))
    slim = pd.DataFrame({"contact_id": ["c1"], "account_id": ["a1"], "name": ["Cy"], "email": ["cy@example.com"]})
    result = import_dir(engine, write_dir(tmp_path / "b", {"contacts": slim}), ImportOptions(update=True))
    assert result.updated["contacts"] == 1
    got = read_table(engine, "contacts").set_index("contact_id").loc["c1"]
    assert (got["name"], got["email"]) == ("Cy", "cy@example.com")
    assert (got["seniority"], got["buying_role"], got["birthday_month"], got["birthday_day"]) == \
        ("director", "influencer", 3, 14)


def test_timestamps_outside_the_window_and_ids_with_control_characters_are_refused(engine: Engine,
                                                                                   tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["interactions"].loc[0, "ts"] = "2262-04-11T00:00:00Z"
    tables["interactions"].loc[1, "ts"] = "1969-12-31T23:59:59Z"
    tables["interactions"].loc[2, "interaction_id"] = "i3\x00"
    with pytest.raises(ValidationError) as refused:
        import_dir(engine, write_dir(tmp_path / "bad", tables))
    text = "\n".join(refused.value.report.lines())
    assert "interactions.csv:1:ts: '2262-04-11T00:00:00Z' is outside the accepted range 1970-01-01 .. " in text
    assert "interactions.csv:2:ts: '1969-12-31T23:59:59Z' is outside the accepted range" in text
    assert "interactions.csv:3:interaction_id: 'i3\\x00' holds a control character" in text
    assert table_counts(engine)["interactions"] == 0


def test_failed_import_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    import_dir(engine, write_dir(tmp_path / "ok", tiny_tables()))
    before = read_all(engine)
    tables = tiny_tables()
    tables["reps"].loc[0, "name"] = "Changed"  # valid row in a file set that will be refused
    tables["interactions"].loc[2, "ts"] = "yesterday"
    with pytest.raises(ValidationError, match=r"interactions.csv:3:ts: 'yesterday' is not a timestamp"):
        import_dir(engine, write_dir(tmp_path / "bad", tables))
    after = read_all(engine)
    for name in TABLES:
        pd.testing.assert_frame_equal(before[name], after[name])


def test_export_import_round_trip(engine: Engine, tmp_path: Path, home: Path) -> None:
    from crm.store import init_db, make_engine

    import_dir(engine, write_dir(tmp_path / "in", tiny_tables()))
    for fmt in ("csv", "parquet"):
        export_dir(engine, tmp_path / fmt, fmt)
        other = make_engine(f"sqlite:///{tmp_path / f'{fmt}.db'}")
        init_db(other)
        import_dir(other, tmp_path / fmt)
        original, copy = read_all(engine), read_all(other)
        for name in TABLES:
            key = list(TABLES[name].key)
            pd.testing.assert_frame_equal(original[name].sort_values(key).reset_index(drop=True),
                                          copy[name].sort_values(key).reset_index(drop=True), check_like=False)


def test_cli_bad_timestamp_in_row_1234(engine: Engine, tmp_path: Path) -> None:
    tables = tiny_tables()
    import_dir(engine, write_dir(tmp_path / "base", {k: v for k, v in tables.items() if k != "interactions"}))
    n = 2000
    rows = pd.DataFrame({
        "interaction_id": [f"i{i}" for i in range(1, n + 1)],
        "ts": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rep_id": "r1", "contact_id": "c1", "channel": "email", "direction": "outbound",
    })
    rows.loc[1233, "ts"] = "2024-02-30T25:00:00Z"
    path = write_dir(tmp_path / "bad", {"interactions": rows})
    before = table_counts(engine)
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 1
    assert f"{path / 'interactions.csv'}:1234:ts: '2024-02-30T25:00:00Z' is not a timestamp" in result.stderr
    assert "nothing was written" in result.stderr
    assert table_counts(engine) == before


def test_cli_stats_json(engine: Engine, tmp_path: Path) -> None:
    import json

    assert runner.invoke(app, ["import", str(write_dir(tmp_path / "in", tiny_tables()))]).exit_code == 0
    result = runner.invoke(app, ["db", "stats", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == table_counts(engine)


def test_cli_missing_folder_is_a_clear_error(home: Path) -> None:
    result = runner.invoke(app, ["import", "/no/such/folder"])
    assert result.exit_code == 1
    assert "/no/such/folder: not a directory" in result.stderr
