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
    unknown = sorted(set(rep_ids or []) - set(tables["reps"]["rep_id"]))
    if unknown:
        raise Refused("not_found", f"--rep: no rep {', '.join(unknown)} in the store")
    if kind == "relationship":
        frame = relationship_features(tables, cutoff, rep_ids=rep_ids)
    elif kind == "network":
        rel = relationship_features(tables, cutoff)
        frame = rel if rel.empty else contact_network(rel, tables) if level == "contact" else account_network(rel,
                                                                                                            tables)
    else:
        frame = deal_features(tables, cutoff)
    if frame.empty:
        raise Refused("not_found", f"nothing to write: {_why_empty(tables, kind, cutoff, rep_ids)}")
    return frame


def _why_empty(tables: dict[str, pd.DataFrame], kind: str, cutoff: pd.Timestamp, rep_ids: list[str] | None) -> str:
    """Say why a feature table came out empty, with the dates the store does cover."""
    if kind == "deal":
        opps = tables["opportunities"]
        created = pd.to_datetime(opps["created_at"], utc=True) if "created_at" in opps else pd.Series(dtype=object)
        span = f" (deals were created {created.min():%Y-%m-%d} .. {created.max():%Y-%m-%d})" if created.notna().any() \
            else ""
        return f"no deal was open on {cutoff:%Y-%m-%d}{span}"
    ts = pd.to_datetime(tables["interactions"]["ts"], utc=True)
    who = f" for rep {', '.join(rep_ids)}" if rep_ids else ""
    return (f"no interaction{who} before --as-of {cutoff:%Y-%m-%d}; the store's interactions run "
            f"{ts.min():%Y-%m-%d} .. {ts.max():%Y-%m-%d}")


def write_parquet(frame: pd.DataFrame, out: Path) -> None:
    """Write atomically: never a half-written file under the final name."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(out)
    except OSError as exc:
        raise Refused("invalid", f"--out: cannot write {out}: {exc.strerror or exc}") from None
