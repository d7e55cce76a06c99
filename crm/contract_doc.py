"""Render ``docs/data-contract.md`` from the contract, so the two cannot drift apart.

    python -m crm.contract_doc > docs/data-contract.md
"""

from __future__ import annotations

from crm import vocab
from crm.contract import TABLES, Column


def _allowed(col: Column) -> str:
    parts: list[str] = []
    if col.allowed is not None:
        parts.append(", ".join(f"`{v}`" for v in col.allowed))
    if col.minimum is not None:
        parts.append(f"≥ {col.minimum:g}")
    if col.maximum is not None:
        parts.append(f"≤ {col.maximum:g}")
    if col.references:
        parts.append(f"→ `{col.references}`")
    return "; ".join(parts)


def render_markdown() -> str:
    """The whole document as Markdown."""
    lines = [
        "# Data contract",
        "",
        "Generated from `crm/contract.py` by `python -m crm.contract_doc > docs/data-contract.md`;",
        "the test suite fails when this file and the code disagree.",
        "",
        "Import files are named after the tables (`interactions.csv` or `interactions.parquet`). Ids are",
        "strings. Timestamps are ISO 8601; a timestamp without an offset is read as UTC, one with an offset",
        "is converted to UTC. Empty cells are null. Problems are reported as `file:row:column: reason`,",
        "where row 1 is the first data row (the header is not counted). Extra columns of",
        "`opportunities` are kept as JSON in `attributes` (custom fields); other tables refuse unknown",
        "columns.",
        "",
    ]
    for table in TABLES.values():
        lines += [f"## `{table.name}`", "", table.description, "",
                  f"Key: {', '.join(f'`{k}`' for k in table.key)}", "",
                  "| column | type | required | unit | allowed values | meaning |",
                  "|---|---|---|---|---|---|"]
        for col in table.columns:
            lines.append(f"| `{col.name}` | {col.kind} | {'no' if col.nullable else 'yes'} | {col.unit} | "
                         f"{_allowed(col)} | {col.description} |")
        lines.append("")
    lines += ["## Depth ladder", "", "| depth | meaning |", "|---|---|"]
    lines += [f"| {d} | {m} |" for d, m in vocab.DEPTH_MEANING.items()]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(), end="")
