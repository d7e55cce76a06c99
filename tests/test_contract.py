from pathlib import Path

from crm import vocab
from crm.contract import TABLES
from crm.contract_doc import render_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_doc_matches_contract() -> None:
    doc = (ROOT / "docs" / "data-contract.md").read_text()
    stale = "docs/data-contract.md is stale: python -m crm.contract_doc > docs/data-contract.md"
    assert doc == render_markdown(), stale


def test_every_column_is_documented_with_its_vocabulary() -> None:
    doc = (ROOT / "docs" / "data-contract.md").read_text()
    for table in TABLES.values():
        assert f"## `{table.name}`" in doc
        for col in table.columns:
            assert f"| `{col.name}` | {col.kind} |" in doc
            for value in col.allowed or ():
                assert f"`{value}`" in doc


def test_keys_are_required_and_references_resolve() -> None:
    for table in TABLES.values():
        for key in table.key:
            assert not table.column(key).nullable
        for col in table.columns:
            if col.references:
                ref_table, ref_col = col.references.split(".")
                assert ref_col in TABLES[ref_table].column_names
                # parents come before children, so one ordered pass writes a consistent store
                assert list(TABLES).index(ref_table) < list(TABLES).index(table.name) or ref_table == table.name


def test_vocabularies_are_closed_and_ranked() -> None:
    assert vocab.DEPTHS == (0, 1, 2, 3, 4)
    assert set(vocab.OPEN_STAGES) | {"won", "lost"} == set(vocab.STAGES)
    assert vocab.STAGE_RANK["won"] > vocab.STAGE_RANK["negotiation"]
