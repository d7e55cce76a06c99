"""A rep's pair logs (``crm.pair_log``) as the feature builders read them: the fold's row codes, and
the recent rows back as an interactions frame for the rules that read columns (open requests, the
touches that start cooldowns)."""

from __future__ import annotations

import functools

import numpy as np
import polars as pl

from crm import pair_log as log_codes
from crm import vocab
from crm.pair_log import RepLog
from features import scan

DEAL_MARK = "(a deal)"
"""``opportunity_id`` of a decoded row about a deal: the pair log keeps that there was one, not which."""


def _fields(code: np.ndarray) -> dict[str, np.ndarray]:
    return {"out": (code & log_codes.OUT_BIT) > 0,
            "chan": ((code >> log_codes.CHAN_SHIFT) & 15) - 1,
            "depth": ((code >> log_codes.DEPTH_SHIFT) & 7) - 1,
            "favor": (code >> log_codes.FAVOR_SHIFT) & 3,
            "exec": (code >> log_codes.EXEC_SHIFT) & 3,
            "occasion": ((code >> log_codes.OCCASION_SHIFT) & 7) - 1,
            "deal": (code & log_codes.DEAL_BIT) > 0}


def scan_codes(code: np.ndarray) -> np.ndarray:
    """``scan.pack`` codes (int16) of pair-log codes, as ``features.relationship`` packs table rows."""
    f = _fields(code.astype(np.int32))
    favor = np.select([f["favor"] == 1, f["favor"] == 2], [1, -1], 0)
    return (f["out"] * scan.OUT_BIT + (f["exec"] == 2) * scan.EXEC_BIT + (f["chan"] + 1) * (1 << scan.CHAN_SHIFT)
            + (f["depth"] + 1) * (1 << scan.DEPTH_SHIFT) + (favor + 1) * (1 << scan.FAVOR_SHIFT)).astype(np.int16)


def recent_frame(log: RepLog, since_us: int, until_us: int) -> pl.DataFrame:
    """The rep's rows with ``since_us < ts <= until_us`` as an interactions frame (contract columns but
    the ids and durations; ``opportunity_id`` is :data:`DEAL_MARK` or null)."""
    keep = (log.ts > since_us) & (log.ts <= until_us)
    pair = np.repeat(np.arange(len(log.contact_ids)), np.diff(log.offsets))[keep]
    f = _fields(log.code[keep].astype(np.int32))

    def text(name: str, values: tuple[str, ...]) -> pl.Expr:
        return pl.col(name).replace_strict(dict(enumerate(values)), default=None, return_dtype=pl.String)

    raw = pl.DataFrame({"ts": log.ts[keep], "pair": pair, "chan": f["chan"], "out": f["out"], "depth": f["depth"],
                        "occasion": f["occasion"], "favor": f["favor"] - 1, "exec": f["exec"], "deal": f["deal"]})
    contacts = pl.Series("contact_id", log.contact_ids.tolist(), dtype=pl.String)
    return raw.select(
        pl.col("ts").cast(pl.Datetime("us", "UTC")),
        pl.lit(log.rep_id, dtype=pl.String).alias("rep_id"),
        contacts.gather(pair) if len(pair) else pl.lit(None, dtype=pl.String).alias("contact_id"),
        text("chan", vocab.CHANNELS).alias("channel"),
        pl.when(pl.col("out")).then(pl.lit("outbound")).otherwise(pl.lit("inbound")).alias("direction"),
        pl.when(pl.col("depth") >= 0).then(pl.col("depth")).cast(pl.Int64).alias("depth"),
        text("occasion", vocab.OCCASIONS).alias("occasion"),
        pl.when(pl.col("deal")).then(pl.lit(DEAL_MARK)).alias("opportunity_id"),
        text("favor", vocab.FAVORS).alias("favor"),
        pl.when(pl.col("exec") > 0).then(pl.col("exec") == 2).alias("with_executive"),
    )


@functools.cache
def _kind_of_code() -> np.ndarray:
    """The action kind (index in ``KINDS``) of every pair-log code, from ``features.actions.kind_expr`` on
    the code's decoded row: the kind rule stays written once, and a rep's rows are classified by a lookup."""
    from features.actions import KINDS, kind_expr  # here: features.actions reaches this module through the deals

    n = 1 << 16  # every code (bit 15 is the highest, DEAL_BIT)
    every = RepLog("", np.array([""], dtype=object), np.array([0, n], np.int64), np.ones(n, np.int64),
                   np.arange(n, dtype=np.int32))
    kinds = recent_frame(every, 0, 1).select(kind_expr()).to_series()
    return kinds.replace_strict({k: i for i, k in enumerate(KINDS)}, return_dtype=pl.Int8).to_numpy()


def kinds_of(code: np.ndarray) -> np.ndarray:
    """The action kind (index in ``features.actions.KINDS``) of each pair-log code, as ``kind_expr`` reads
    the row it stands for."""
    return _kind_of_code()[code.astype(np.int64) & 0xFFFF]
