"""Feature tables from the store at a cutoff, written as Parquet: what a data scientist explores."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from crm.store import read_all
from guanxi.services.errors import Refused

KINDS = ("relationship", "network", "deal")


def build_features(engine: Engine, kind: str, cutoff: pd.Timestamp, level: str = "contact",
                   rep_ids: list[str] | None = None) -> pd.DataFrame:
    """One row per entity at ``cutoff`` (nothing later is read), id columns first."""
    from features.deal import deal_features
    from features.network import account_network, contact_network
    from features.relationship import relationship_features

    tables = read_all(engine)
    if tables["interactions"].empty and kind != "deal":
        raise Refused("not_found", "the store has no interactions: import or simulate some first")
    if kind == "relationship":
        return relationship_features(tables, cutoff, rep_ids=rep_ids)
    if kind == "network":
        rel = relationship_features(tables, cutoff)
        return contact_network(rel, tables) if level == "contact" else account_network(rel, tables)
    return deal_features(tables, cutoff)


def write_parquet(frame: pd.DataFrame, out: Path) -> None:
    """Write atomically: never a half-written file under the final name."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(out)
    except OSError as exc:
        raise Refused("invalid", f"--out: cannot write {out}: {exc.strerror or exc}") from None
