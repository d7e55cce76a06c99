"""A table of deals as any CRM exports it (Salesforce, HubSpot, Pipedrive, a spreadsheet; CSV, TSV, .xlsx or
Parquet) -> contract tables.

The columns are found by name (:data:`NAMES`), else by a word of the name (:data:`WORDS`), else as the
user names them (``columns``, ``--column FIELD=NAME``). Each row becomes an opportunity: its owner a
rep (one rep, ``unassigned``, when the table names none), its account an account (none when the table
names none). The outcome is read from the stage or status text (:func:`outcome_of`: "Closed Won", "won",
"Lost", "Closed lost - no budget"…; anything else is open), or from the CRM's own won / closed flags where
the export has them (Salesforce's ``IsWon`` and ``IsClosed``: stages are renamed per organisation, flags
are not). Header names may be an API's camelCase (``StageName``, ``CloseDate``, ``OwnerId``) or HubSpot's
internal names (``dealstage``, ``closedate``, ``hubspot_owner_id``). ``closed_at`` is the close date of a won or
lost deal only: on an open deal a CRM's close date is a forecast. A deal without an id column is named
after the file and its row (stable only while the file's rows keep their order). Amounts may carry
currency signs and thousands separators. Columns that are not fields are kept as the deal's custom
attributes. The stage history is what the dates show: ``won``/``lost`` at the close date. No contact or
interaction is invented.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from crm.adapters import headers
from crm.importer import attributes_json
from crm.validate import Report, ValidationError

NAMES: dict[str, tuple[str, ...]] = {
    "opportunity_id": ("opportunity_id", "deal_id", "opportunity", "id", "record_id", "opportunity_number",
                       "hs_object_id", "商机编号", "商机id", "机会编号", "商机号", "编号"),
    "account": ("account_id", "account", "account_name", "company", "company_name", "organization",
                "organisation", "customer", "client", "org_name"),
    "owner": ("owner_rep_id", "owner", "opportunity_owner", "deal_owner", "sales_agent", "sales_rep", "rep",
              "salesperson", "assigned_to", "user", "owner_id", "hubspot_owner_id"),
    "amount": ("amount", "value", "deal_value", "opportunity_amount", "expected_revenue", "list_price", "price"),
    "closed_amount": ("closed_amount", "close_value", "won_amount", "booked_amount"),
    "stage": ("outcome", "stage", "deal_stage", "stage_name", "status", "result", "dealstage"),
    "is_won": ("is_won", "won_flag"),
    "is_closed": ("is_closed", "closed_flag"),
    "created_at": ("created_at", "created", "create_date", "created_date", "date_created", "engage_date",
                   "open_date", "opened", "start_date", "createdate"),
    "closed_at": ("closed_at", "close_date", "closed_date", "date_closed", "closed", "won_time", "lost_time",
                  "closedate"),
    "product": ("product", "product_name", "item"),
}
WORDS: dict[str, tuple[str, ...]] = {
    "account": ("account", "company", "customer", "client", "organization", "organisation", "客户", "公司", "企业"),
    "owner": ("owner", "rep", "agent", "salesperson", "负责人", "销售", "所有人", "跟进人"),
    "amount": ("amount", "value", "revenue", "金额", "价值"),
    "stage": ("stage", "status", "outcome", "阶段", "状态", "结果"),
    "created_at": ("created", "create", "opened", "engaged", "创建"),
    "closed_at": ("close", "closed", "关闭", "成交日期", "结单"),
}
"""Words of a header name that name the field; a Chinese word anywhere in the name ("关闭日期": closed_at)."""
WON = ("won", "win", "closedwon", "success", "successful", "booked", "signed", "赢单", "成交", "签约", "赢得")
LOST = ("lost", "lose", "closedlost", "dead", "cancelled", "canceled", "rejected", "disqualified", "declined",
        "输单", "丢单", "失败", "流失", "输掉")
"""Words of a stage or status that mean won or lost ("Closed Won", HubSpot's ``closedwon``, "Lost - budget",
"赢单", "输单"); a Chinese word after a negation ("未成交": not closed) does not count."""
NEGATED = re.compile("[未不没无][有]?(?:" + "|".join(w for w in WON + LOST if not w.isascii()) + ")")
UNASSIGNED = "unassigned"


def outcome_of(stage: pd.Series) -> pd.Series:
    """``won`` / ``lost`` / ``open`` from a stage or status text, by its words."""
    keys = stage.fillna("").astype(str).map(lambda s: NEGATED.sub("_", headers.key(s)))
    won = keys.map(lambda k: headers.has_word(k, WON))
    lost = keys.map(lambda k: headers.has_word(k, LOST))
    return pd.Series(np.where(won & ~lost, "won", np.where(lost & ~won, "lost", "open")), index=stage.index)


TRUE = ("true", "yes", "y", "1", "x", "t")
FALSE = ("false", "no", "n", "0", "f", "")


def _flag(values: pd.Series) -> pd.Series:
    """True / False from a flag column as exports write it ("true", "1", "Yes"); NA where it is neither."""
    text = values.fillna("").astype(str).str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[text.isin(TRUE)] = True
    out[text.isin(FALSE)] = False
    return out


def _money(values: pd.Series) -> pd.Series:
    """Numbers from amounts as exports write them: "$12,500.00", "12 500 €", "EUR 1.234,56", "1,5"; the
    decimal separator is the last of "." and "," where both occur, and a lone "," before one or two final
    digits; NaN where the text is not an amount."""
    text = values.astype("string").str.replace(r"[^\d.,\-]", "", regex=True)
    both = text.str.contains(",", regex=False) & text.str.contains(".", regex=False)
    comma = (both & (text.str.rfind(",") > text.str.rfind("."))) | (~both & text.str.contains(r",\d{1,2}$"))
    text = text.where(~comma.fillna(False), text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    text = text.where(comma.fillna(False), text.str.replace(",", "", regex=False))
    return pd.to_numeric(text.replace("", pd.NA), errors="coerce")


def read_deals(path: Path, columns: dict[str, str] | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Read the deals file (CSV, TSV, Excel's .xlsx or Parquet); malformed cells are reported as
    ``file:row:column``."""
    raw = headers.read_table(path)
    report = Report()
    cols = headers.columns(path, list(raw.columns), NAMES, WORDS, columns, report)
    if "stage" not in cols and not {"is_won", "is_closed"} <= set(cols):
        report.note(str(path), 1, "", f"no column says whether a deal is won, lost or open (a stage or status) in the "
                    f"header ({', '.join(raw.columns)}); name it: --column stage=NAME")
    if report:
        raise ValidationError(report)
    n = len(raw)
    line = pd.Series(np.arange(1, n + 1), index=raw.index).astype(str)  # the row, as problems are reported
    ids = raw[cols["opportunity_id"]].str.strip() if "opportunity_id" in cols else path.stem + ":" + line
    nothing = pd.Series(pd.NA, index=raw.index, dtype="string")
    owner = (raw[cols["owner"]].str.strip() if "owner" in cols else nothing).fillna(UNASSIGNED)
    account = raw[cols["account"]].str.strip() if "account" in cols else nothing
    flags = {f: _flag(raw[cols[f]]) for f in ("is_won", "is_closed") if f in cols}
    for flag_field, flag in flags.items():
        report.add(str(path), raw, (raw[cols[flag_field]].notna() & flag.isna()).to_numpy(), cols[flag_field],
                   "{value!r} is neither true nor false")
    outcome = outcome_of(raw[cols["stage"]]) if "stage" in cols else pd.Series("open", index=raw.index)
    if flags:  # a CRM's own flags ("IsWon", "IsClosed") outrank the words of a stage it lets users rename
        won = flags["is_won"].fillna(False).to_numpy(dtype=bool) if "is_won" in flags else None
        closed = flags["is_closed"].fillna(False).to_numpy(dtype=bool) if "is_closed" in flags else None
        decided = words = outcome.to_numpy()
        if won is not None and closed is not None:
            decided = np.where(won, "won", np.where(closed, "lost", "open"))
        elif won is not None:  # won where flagged; the words decide lost or open elsewhere
            decided = np.where(won, "won", np.where(words == "won", "open", words))
        elif closed is not None:  # closed only: the words decide won or lost among the closed deals
            decided = np.where(closed, words, "open")
        outcome = pd.Series(decided, index=raw.index)
    dates = {f: headers.dates(raw[cols[f]]) for f in ("created_at", "closed_at") if f in cols}
    money = {f: _money(raw[cols[f]]) for f in ("amount", "closed_amount") if f in cols}
    for parsed_by, what in ((dates, "a date"), (money, "an amount")):
        for field, parsed in parsed_by.items():
            column = cols[field]
            report.add(str(path), raw, (raw[column].notna() & parsed.isna()).to_numpy(), column,
                       f"{{value!r}} is not {what}")
    report.add(str(path), raw, (ids.isna() | (ids == "")).to_numpy(), cols.get("opportunity_id", "id"), "missing id")
    if report:
        raise ValidationError(report)
    closed = outcome.isin(["won", "lost"])
    closed_at = dates["closed_at"].where(closed) if "closed_at" in dates else None
    amount = money.get("amount")
    closed_amount = money["closed_amount"].where(closed) if "closed_amount" in money else \
        (amount.where(outcome == "won") if amount is not None else None)
    extra = [c for c in raw.columns if c not in cols.values()]
    attributes = attributes_json(raw[extra]) if extra else None
    opps = pd.DataFrame({"opportunity_id": ids, "account_id": account, "owner_rep_id": owner, "outcome": outcome})
    for name, values in (("amount", amount), ("closed_amount", closed_amount),
                         ("created_at", dates.get("created_at")), ("closed_at", closed_at),
                         ("product", raw[cols["product"]] if "product" in cols else None), ("attributes", attributes)):
        if values is not None:
            opps[name] = values
    frames = {"reps": pd.DataFrame({"rep_id": sorted(set(owner))}),
              "accounts": pd.DataFrame({"account_id": sorted(set(account.dropna()))}),
              "opportunities": opps}
    if closed_at is not None:
        ended = opps[closed & closed_at.notna()]
        frames["opportunity_stages"] = pd.DataFrame({"opportunity_id": ended["opportunity_id"],
                                                     "entered_at": closed_at[ended.index], "stage": ended["outcome"]})
    return frames, dict.fromkeys(frames, str(path))
