"""Degraded exports of a world: what a CRM without deals, without account potential or with most of the
reps' actions unlogged would hand us. `guanxi simulate` writes them; `guanxi evaluate-policy` shows the
policies the same view of the log while the world itself keeps its full truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DROPPABLE = ("deals", "potential")
DEAL_TABLES = ("opportunities", "opportunity_stages", "opportunity_contacts")


@dataclass(frozen=True)
class Degrade:
    """``drop``: parts of the export left out; ``thin_actions``: the share of the reps' logged actions
    (outbound interactions) kept, chosen by a hash of the interaction id so that every view of a growing
    log keeps the same rows."""

    drop: frozenset[str] = frozenset()
    thin_actions: float | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.drop) - set(DROPPABLE))
        if unknown:
            raise ValueError(f"cannot drop {', '.join(unknown)}: one of {', '.join(DROPPABLE)}")
        if self.thin_actions is not None and not 0 < self.thin_actions <= 1:
            raise ValueError(f"--thin-actions must be a share in (0, 1], not {self.thin_actions}")

    @property
    def active(self) -> bool:
        return bool(self.drop) or self.thin_actions is not None

    def describe(self) -> str:
        parts = [f"without {d}" for d in sorted(self.drop)]
        if self.thin_actions is not None:
            parts.append(f"{self.thin_actions:.0%} of the reps' actions logged")
        return ", ".join(parts) or "the full export"

    def apply(self, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """The tables as the degraded export holds them (new frames; the input is not changed)."""
        out = dict(tables)
        if "deals" in self.drop:
            for name in DEAL_TABLES:
                if name in out:
                    out[name] = out[name].iloc[0:0]
            if "interactions" in out and "opportunity_id" in out["interactions"]:
                out["interactions"] = out["interactions"].assign(opportunity_id=None)
        if "potential" in self.drop and "accounts" in out and "potential" in out["accounts"]:
            out["accounts"] = out["accounts"].assign(potential=np.nan)
        if self.thin_actions is not None and "interactions" in out:
            inter = out["interactions"]
            share = pd.util.hash_pandas_object(inter["interaction_id"], index=False).to_numpy() / 2.0**64
            out["interactions"] = inter[(inter["direction"] != "outbound").to_numpy() | (share < self.thin_actions)]
        return out
