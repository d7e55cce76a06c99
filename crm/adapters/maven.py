"""Maven Analytics "CRM Sales Opportunities" export -> contract tables.

Mapping: sales agents become reps (manager, regional office); accounts keep sector, employees and
office location; each pipeline row becomes an opportunity whose ``amount`` is the product's list price
(the only pre-close value the export has), ``closed_amount`` the booked close value, ``created_at`` the
engage date and ``closed_at`` the close date. The stage history is what the dates show: ``engaging``
at the engage date, ``won``/``lost`` at the close date. Prospecting deals carry no date, so they get no
stage row and a null ``created_at``. The export has no contacts or interactions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

OUTCOME = {"Won": "won", "Lost": "lost", "Engaging": "open", "Prospecting": "open"}


def _key(name: object) -> str:
    return "".join(str(name).lower().split())


def read_maven(directory: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Read the export's CSV files; returns contract frames and, per table, the source file."""
    files = {n: directory / f"{n}.csv" for n in ("sales_pipeline", "accounts", "products", "sales_teams")}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise FileNotFoundError(f"maven-crm export incomplete, missing: {', '.join(missing)}")
    pipe = pd.read_csv(files["sales_pipeline"], dtype=str, keep_default_na=False, na_values=[""])
    accounts = pd.read_csv(files["accounts"], dtype=str, keep_default_na=False, na_values=[""])
    products = pd.read_csv(files["products"], dtype=str, keep_default_na=False, na_values=[""])
    teams = pd.read_csv(files["sales_teams"], dtype=str, keep_default_na=False, na_values=[""])

    reps = pd.DataFrame({
        "rep_id": teams["sales_agent"], "name": teams["sales_agent"],
        "manager": teams["manager"], "office": teams["regional_office"],
    })
    accts = pd.DataFrame({
        "account_id": accounts["account"], "name": accounts["account"], "industry": accounts["sector"],
        "employees": accounts["employees"], "region": accounts["office_location"],
    })
    price = {_key(p): v for p, v in zip(products["product"], products["sales_price"], strict=True)}
    series = {_key(p): v for p, v in zip(products["product"], products["series"], strict=True)}
    closed = pipe["deal_stage"].isin(["Won", "Lost"])
    attributes = [json.dumps({"series": series[_key(p)]}) if _key(p) in series else None for p in pipe["product"]]
    opps = pd.DataFrame({
        "opportunity_id": pipe["opportunity_id"],
        "account_id": pipe["account"],
        "owner_rep_id": pipe["sales_agent"],
        "amount": [price.get(_key(p)) for p in pipe["product"]],
        "closed_amount": pipe["close_value"].where(closed),
        "product": pipe["product"],
        "created_at": pipe["engage_date"],
        "closed_at": pipe["close_date"].where(closed),
        "outcome": pipe["deal_stage"].map(OUTCOME).fillna(pipe["deal_stage"]),
        "attributes": attributes,
    })
    engaged = pipe[pipe["engage_date"].notna()]
    ended = pipe[closed & pipe["close_date"].notna()]
    stages = pd.concat([
        pd.DataFrame({"opportunity_id": engaged["opportunity_id"], "entered_at": engaged["engage_date"],
                      "stage": "engaging"}),
        pd.DataFrame({"opportunity_id": ended["opportunity_id"], "entered_at": ended["close_date"],
                      "stage": ended["deal_stage"].str.lower()}),
    ], ignore_index=True)
    frames = {"reps": reps, "accounts": accts, "opportunities": opps, "opportunity_stages": stages}
    sources = {"reps": str(files["sales_teams"]), "accounts": str(files["accounts"]),
               "opportunities": str(files["sales_pipeline"]), "opportunity_stages": str(files["sales_pipeline"])}
    return frames, sources
