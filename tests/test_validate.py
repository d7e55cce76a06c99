"""Each kind of bad input: the message names file, row, column and reason."""

import pandas as pd
import pytest

from crm.validate import ValidationError, validate_tables
from tests.conftest import tiny_tables


def _errors(tables: dict[str, pd.DataFrame], store: set[object] | None = None) -> list[str]:
    sources = {n: f"{n}.csv" for n in tables}
    with pytest.raises(ValidationError) as info:
        validate_tables(tables, sources, lambda t, c, values: set(store or set()) & values)
    return info.value.report.lines()


def test_valid_tables_are_typed() -> None:
    typed = validate_tables(tiny_tables(), {n: n for n in tiny_tables()}, lambda t, c, v: set())
    ts = typed["interactions"]["ts"]
    assert str(ts.dtype) == "datetime64[us, UTC]"
    assert ts[1] == pd.Timestamp("2024-01-11T00:30:00Z")  # +08:00 converted to UTC
    assert ts[2] == pd.Timestamp("2024-02-01T12:00:00Z")  # no offset means UTC
    assert typed["interactions"]["depth"].tolist()[:2] == [1, 2]
    assert typed["interactions"]["depth"].isna()[2]
    assert typed["reps"]["is_executive"].tolist() == [False, True]


@pytest.mark.parametrize(
    ("table", "column", "value", "expected"),
    [
        ("interactions", "ts", "2024-13-45", "interactions.csv:2:ts: '2024-13-45' is not a timestamp"),
        ("interactions", "channel", "pigeon", "interactions.csv:2:channel: 'pigeon' is not one of email"),
        ("interactions", "direction", "", "interactions.csv:2:direction: value is required"),
        ("interactions", "depth", "7", "interactions.csv:2:depth: '7' is not one of 0, 1, 2, 3, 4"),
        ("interactions", "depth", "2.5", "interactions.csv:2:depth: '2.5' is not an integer"),
        ("interactions", "duration_min", "-3", "interactions.csv:2:duration_min: '-3' is below 0"),
        ("interactions", "duration_min", "long", "interactions.csv:2:duration_min: 'long' is not a number"),
        ("interactions", "with_executive", "maybe", "interactions.csv:2:with_executive: 'maybe' is not true/false"),
        ("interactions", "contact_id", "c9", "interactions.csv:2:contact_id: 'c9' does not exist in contacts"),
        ("contacts", "birthday_month", "13", "contacts.csv:2:birthday_month: '13' is above 12"),
        ("interactions", "interaction_id", "i1", "interactions.csv:2:interaction_id: duplicate id i1, first at row 1"),
    ],
)
def test_bad_cell_is_reported(table: str, column: str, value: str, expected: str) -> None:
    tables = tiny_tables()
    tables[table].loc[1, column] = value
    lines = _errors(tables)
    assert any(line.startswith(expected) for line in lines), lines


def test_reference_to_a_row_already_in_the_store_is_accepted() -> None:
    tables = {"interactions": tiny_tables()["interactions"].assign(opportunity_id="")}
    typed = validate_tables(tables, {"interactions": "i.csv"},
                            lambda t, c, values: values & {"r1", "r2", "c1", "c2"})
    assert len(typed["interactions"]) == 3


def test_unknown_and_missing_columns() -> None:
    tables = tiny_tables()
    tables["reps"] = tables["reps"].assign(shoe_size="42")
    tables["interactions"] = tables["interactions"].drop(columns=["ts"])
    lines = _errors(tables)
    assert "reps.csv:0:shoe_size: unknown column for table 'reps'" in lines
    assert "interactions.csv:0:ts: required column is missing" in lines


def test_problem_list_is_capped_but_counted() -> None:
    tables = tiny_tables()
    n = 120
    tables["interactions"] = pd.concat([tables["interactions"].iloc[[0]]] * n, ignore_index=True)
    tables["interactions"]["interaction_id"] = [f"x{i}" for i in range(n)]
    tables["interactions"]["channel"] = "fax"
    lines = _errors(tables)
    assert len(lines) == 51
    assert lines[-1] == "... and 70 more problems"
