"""Candidate rows for the engine: one per (rep, contact) known at ``as_of``, with every column a catalog
rule may read.

Columns beyond the relationship features (docs/features.md):
    deal_open, deal_amount, on_chain   the account's open deal, its amount, the contact on its chain
    tie                                this rep's tie strength with the contact
    is_decision_maker                  the contact's usual buying role is decision maker
    occasion_today                     a festival greeting window or the contact's birthday is today (or within 3 days)
    open_request                       the contact's business request of the last 7 days is not yet answered
    after_win, after_loss              1 in the weeks after a deal won / lost at the contact's account, the windows
                                       in which dignity is judged (features.scan WIN_WINDOW_DAYS, LOSS_WINDOW_DAYS)
    deal_only                          1 on a row for a deal whose account has no contact in the CRM (an export
                                       of deals alone): the target is the deal, ``contact_id`` is missing, the
                                       deal's own features (docs/features.md, deal) fill the row
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from crm.calendar import GREETING_WINDOW_DAYS, festival_days
from crm.pair_log import RepLog
from features.actions import contact_deal_context, pair_deal_context
from features.deal import deal_features
from features.frames import Tables, need, table, utc
from features.logs import recent_frame
from features.network import tie_strength
from features.relationship import EntityFacts, entity_facts, relationship_features, relationship_features_from_log
from features.scan import LOSS_WINDOW_DAYS, US_PER_DAY, WIN_WINDOW_DAYS

REQUEST_DAYS = 7


def recent_tables(tables: Tables, log: RepLog, as_of: str | pd.Timestamp, days: int) -> dict[str, object]:
    """``tables`` with the rep's interactions of the ``days`` before ``as_of`` decoded from its pair logs:
    what the rules that read rows (open requests, cooldowns) see in a request."""
    cutoff = utc(as_of)
    until = cutoff.value // 1000
    return {**tables, "interactions": recent_frame(log, until - days * 86_400_000_000, until)}


@dataclass(frozen=True)
class DayContext:
    """What every rep's candidates share on a day, from the small tables alone: each contact's facts and
    its account's open deal. A worker computes it once per day and data version (``serving.store_data``)."""

    cutoff: pd.Timestamp
    entities: EntityFacts | None
    deals: pd.DataFrame | None  # indexed by contact_id
    occasion: pd.Series | None  # occasion_today, indexed by contact_id
    contactless: pd.DataFrame | None = None  # every rep's rows for deals without contacts (:func:`deal_rows`)


def day_context(tables: Tables, as_of: str | pd.Timestamp) -> DayContext:
    cutoff = utc(as_of)
    contacts = table(tables, "contacts", ["contact_id"])
    if contacts is None:
        return DayContext(cutoff, None, None, None, deal_rows(tables, cutoff))
    ids = pd.Series(contacts.get_column("contact_id").unique(maintain_order=True).to_list(), dtype=object)
    deals = contact_deal_context(tables, cutoff).set_index("contact_id") if tables.get("opportunities") is not None \
        else None
    occasion = pd.Series(occasion_today(tables, cutoff, ids), index=pd.Index(ids, name="contact_id"))
    return DayContext(cutoff, entity_facts(tables, cutoff), deals, occasion, deal_rows(tables, cutoff))


def deal_rows(tables: Tables, as_of: str | pd.Timestamp, rep_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """One candidate row per deal open at ``as_of`` (of these owners) whose account has no contact in the
    CRM: a deals-only export (maven-crm) still gets actions, on its deals. No interaction can name such
    an account, so the deal's features are computed without the interaction log: a request (which holds
    only the rep's recent rows) and batch scoring (the whole log) get the same values."""
    if tables.get("opportunities") is None or not len(tables["opportunities"]):
        return pd.DataFrame()
    opps = need(tables, "opportunities", ["opportunity_id", "account_id", "owner_rep_id"])
    contacts = table(tables, "contacts", ["account_id"])
    with_contacts = set() if contacts is None else set(contacts.get_column("account_id").drop_nulls().to_list())
    owners = None if rep_ids is None else set(rep_ids)
    wanted = opps.filter(~pl.col("account_id").is_in(list(with_contacts)) & pl.col("owner_rep_id").is_not_null()
                         & (pl.lit(True) if owners is None else pl.col("owner_rep_id").is_in(list(owners))))
    if wanted.is_empty():
        return pd.DataFrame()
    small = {k: v for k, v in tables.items() if k != "interactions"}
    feats = deal_features(small, as_of, deal_ids=wanted.get_column("opportunity_id").to_list())
    if feats.empty:
        return pd.DataFrame()
    amount = feats["amount"].astype(float)
    out = pd.DataFrame({"rep_id": feats["owner_rep_id"].to_numpy(), "contact_id": None,
                        "account_id": feats["account_id"].to_numpy(), "opportunity_id": feats["opportunity_id"],
                        "deal_open": 1.0, "deal_amount": amount.fillna(0.0).to_numpy(), "on_chain": 0.0,
                        "is_decision_maker": 0.0, "occasion_today": 0.0, "open_request": 0.0, "after_win": 0.0,
                        "after_loss": 0.0, "deal_only": 1.0})
    extra = feats.drop(columns=[c for c in feats.columns if c in out.columns])
    out = pd.concat([out.reset_index(drop=True), extra.reset_index(drop=True)], axis=1)
    return out.sort_values(["rep_id", "opportunity_id"], kind="stable").reset_index(drop=True)


def deal_only(frame: pd.DataFrame) -> np.ndarray:
    """Which rows are deals without contacts (the ``deal_only`` column; no row without it)."""
    if "deal_only" not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame["deal_only"].to_numpy(dtype=float, na_value=0.0) > 0


def candidates(tables: Tables, as_of: str | pd.Timestamp, rep_ids: Iterable[str] | None = None,
               log: RepLog | None = None, context: DayContext | None = None) -> pd.DataFrame:
    """Every pair of the reps in scope (all reps by default) with the rule columns.

    With one rep's pair logs (``log``, what a request reads) the features come from them (and the small
    tables); ``tables["interactions"]``, if given, must hold the rep's rows of at least the last week (the
    open requests read them), else they are decoded from the log. ``context`` (:func:`day_context` for
    ``as_of``) spares recomputing what all reps share. Either way the values are the same."""
    cutoff = utc(as_of)
    rep_ids = None if rep_ids is None else list(rep_ids)
    if context is not None and context.cutoff != cutoff:
        context = None
    if log is not None:
        rel = relationship_features_from_log(tables, log, cutoff, None if context is None else context.entities)
        if tables.get("interactions") is None:  # a request's tables hold the recent rows decoded already
            tables = recent_tables(tables, log, cutoff, REQUEST_DAYS)
    else:
        rel = relationship_features(tables, cutoff, rep_ids)
    deals = pair_deal_context(tables, cutoff, rel, None if context is None else context.deals)  # rel's row order
    keys = ["rep_id", "contact_id", "account_id"]
    rel = pd.concat([deals.reset_index(drop=True), rel.drop(columns=keys).reset_index(drop=True)], axis=1)
    rel["tie"] = tie_strength(rel).to_numpy()
    rel["is_decision_maker"] = (rel["buying_role"] == "decision_maker").astype(float)
    if context is not None and context.occasion is not None:  # looked up, not recomputed for the whole base
        rel["occasion_today"] = context.occasion.reindex(rel["contact_id"].to_numpy()).fillna(0.0).to_numpy()
    else:
        rel["occasion_today"] = occasion_today(tables, cutoff, rel["contact_id"])
    rel["open_request"] = _open_requests(tables, cutoff, rel[["rep_id", "contact_id"]])
    rel["after_win"] = (rel["days_since_win"] <= WIN_WINDOW_DAYS).astype(float)
    rel["after_loss"] = (rel["days_since_loss"] <= LOSS_WINDOW_DAYS).astype(float)
    if context is not None:
        extra = context.contactless
        if extra is not None and len(extra) and rep_ids is not None:
            extra = extra[extra["rep_id"].isin(list(rep_ids))]
    else:
        extra = deal_rows(tables, cutoff, rep_ids)
    if extra is not None and len(extra):
        rel = pd.concat([rel.assign(deal_only=0.0), extra], ignore_index=True)
    return rel


def occasion_today(tables: Tables, cutoff: pd.Timestamp, contact_ids: pd.Series) -> np.ndarray:
    """1 where a festival greeting window or the contact's birthday falls on the day or the next 3."""
    today = cutoff.date()
    window = [today + dt.timedelta(days=d) for d in range(GREETING_WINDOW_DAYS + 1)]
    festival = any(f in window for f in festival_days(today.year, today.year + 1))
    if festival:
        return np.ones(len(contact_ids))
    contacts = table(tables, "contacts", ["contact_id", "birthday_month", "birthday_day"])
    if contacts is None:
        return np.zeros(len(contact_ids))
    days = {(d.month, d.day) for d in window}
    bd = contacts.to_pandas().set_index("contact_id")
    months = bd["birthday_month"].reindex(contact_ids.to_numpy()).to_numpy()
    mdays = bd["birthday_day"].reindex(contact_ids.to_numpy()).to_numpy()
    return np.array([(m, d) in days for m, d in zip(months, mdays, strict=True)], dtype=float)


def next_day(latest: pd.Timestamp) -> pd.Timestamp:
    """The day to plan for when data ends at ``latest``: the start of the following day (UTC)."""
    return utc((latest + pd.Timedelta(days=1)).floor("D"))


def default_as_of(tables: Tables) -> pd.Timestamp:
    """The day after the data (the last interaction, deal creation or close): recommendations for the next
    working day, also in an export of deals alone; today when nothing in the data has a date."""
    stamps = [pd.Series(tables[name][col]).max() for name, col in DATA_DATES
              if tables.get(name) is not None and len(tables[name])]
    stamps = [utc(pd.Timestamp(t)) for t in stamps if t is not None and not pd.isna(t)]
    if not stamps:
        return utc(pd.Timestamp.now(tz="UTC").floor("D"))
    return next_day(max(stamps))


DATA_DATES = (("interactions", "ts"), ("opportunities", "created_at"), ("opportunities", "closed_at"))
"""The columns whose latest value is where the data ends."""
ERA_GAP_DAYS = 365
"""Reps' data whose ends lie more than this far apart, with no rep's end between, belong to different eras:
an email archive of 2010 imported beside deals of 2017 is two organisations' histories, and its ties are
not seven years silent. A rep is planned for the day after the end of their era's data, not the store's.
Within a live CRM every active rep is in the last era; only reps long gone form an earlier one."""


def era_ends(rep_latest: dict[str, pd.Timestamp]) -> dict[str, pd.Timestamp]:
    """Each rep's era end (the latest end among the reps of its era), for the reps not in the last era."""
    order = sorted(rep_latest.items(), key=lambda item: item[1])
    out: dict[str, pd.Timestamp] = {}
    era: list[str] = []
    gap = pd.Timedelta(days=ERA_GAP_DAYS)
    for i, (rep, end) in enumerate(order):
        era.append(rep)
        if i + 1 < len(order) and order[i + 1][1] - end > gap:  # the next rep starts a later era
            out.update({r: end for r in era})
            era = []
    return out


def rep_latest_dates(tables: Tables) -> dict[str, pd.Timestamp]:
    """The end of each rep's own data: their last interaction or the last date of a deal they own."""
    latest: dict[str, pd.Timestamp] = {}
    inter = tables.get("interactions")
    if inter is not None and len(inter):
        frame = need(tables, "interactions", ["rep_id", "ts"]).group_by("rep_id").agg(pl.col("ts").max())
        latest.update({str(r): utc(pd.Timestamp(t)) for r, t in frame.iter_rows()})
    if tables.get("opportunities") is not None and len(tables["opportunities"]):
        opps = need(tables, "opportunities", ["owner_rep_id", "created_at", "closed_at"])
        frame = opps.group_by("owner_rep_id").agg(pl.max_horizontal(pl.col("created_at").max(),
                                                                    pl.col("closed_at").max()).alias("t"))
        for r, t in frame.iter_rows():
            if r is not None and t is not None:
                stamp = utc(pd.Timestamp(t))
                latest[str(r)] = max(stamp, latest.get(str(r), stamp))
    return latest


def rep_days(ends: dict[str, pd.Timestamp]) -> dict[str, str]:
    """ISO days of the reps of an earlier era (:data:`ERA_GAP_DAYS`), from each rep's end of data
    (:func:`rep_latest_dates`): the day after their era's end."""
    return {rep: next_day(end).isoformat() for rep, end in sorted(era_ends(ends).items())}


def _open_requests(tables: Tables, cutoff: pd.Timestamp, pairs: pd.DataFrame) -> np.ndarray:
    """1 where the contact's last business request (last 7 days) came after the rep's last outbound touch.

    One pass over the week's rows in plain Python: they are few (a rep's week in a request, the base's week
    in batch), and a grouped query cost ~6 ms of fixed overhead a request."""
    inter = need(tables, "interactions", ["ts", "rep_id", "contact_id", "direction", "occasion"])
    ts = inter.get_column("ts").dt.epoch("us").to_numpy()
    until = cutoff.value // 1000
    week = np.flatnonzero((ts <= until) & (ts > until - REQUEST_DAYS * US_PER_DAY))
    request: dict[tuple[str, str], int] = {}
    answer: dict[tuple[str, str], int] = {}
    columns = [ts[week].tolist(), *(inter.get_column(c).gather(week).to_list()
                                    for c in ("rep_id", "contact_id", "direction", "occasion"))]
    for t, rep, contact, direction, occasion in zip(*columns, strict=True):
        key = (rep, contact)
        if direction == "inbound" and occasion == "business_request":
            if key not in request or t > request[key]:
                request[key] = t
        elif direction == "outbound" and (key not in answer or t > answer[key]):
            answer[key] = t
    flagged = {key for key, asked in request.items() if key not in answer or answer[key] < asked}
    if not flagged:
        return np.zeros(len(pairs))
    return np.array([(r, c) in flagged for r, c in zip(pairs["rep_id"], pairs["contact_id"], strict=True)],
                    dtype=float)
