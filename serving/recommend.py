"""One rep's ranked next-best actions with reasons: the same engine as the rollout and batch scoring."""

from __future__ import annotations

import functools
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd

from crm.pair_log import RepLog
from features.frames import Tables, utc
from serving.candidates import DayContext, candidates, deal_only
from serving.catalog import Catalog, load_catalog
from serving.engine import Models, score, select
from serving.reasons import action_reason, deal_action_reason, explain, explain_deal, references

COLUMNS = ["rank", "rep_id", "contact_id", "account_id", "action", "element", "priority", "gain", "p_effective",
           "p_effective_if_done", "p_win", "p_win_if_done", "deal_amount", "minutes", "mandatory", "gain_unit"]
"""Every answer's columns (``effect_source``, ``title``, ``opportunity_id``, ``channel`` and ``reasons`` besides);
``contact_id`` is missing on an action on a deal without contacts (``opportunity_id`` names the deal)."""


@functools.cache
def pool() -> ThreadPoolExecutor:
    """Threads for the parts of one answer that run without the GIL (LightGBM, Polars, SQL) beside each other."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="answer")


def recommend(tables: Tables, as_of: str | pd.Timestamp, models: Models, rep_id: str, k: int = 10,
              lang: str = "en", history: pd.DataFrame | Future[pd.DataFrame] | None = None,
              catalog: Catalog | None = None, log: RepLog | None = None, context: DayContext | None = None
              ) -> pd.DataFrame:
    """The rep's top ``k`` actions for the day starting at ``as_of``, each with ``reasons`` (a list);
    ``log``, ``context``: the rep's pair logs and the day's shared context (see ``candidates``);
    ``history`` may still be on its way (a future: read when the contact policy needs it)."""
    catalog = catalog or load_catalog()
    day = utc(as_of)
    cands = candidates(tables, day, [rep_id], log=log, context=context)
    if cands.empty:
        return pd.DataFrame(columns=[*COLUMNS, "reasons"])
    relationship = models.relationship
    # the relationship model's scores (LightGBM, without the GIL) while the effects are scored
    p_all = None if relationship is None else pool().submit(lambda: relationship.predict_proba(cands)[:, 1])
    scored = score(cands, models, catalog)
    chosen = select(scored, history.result() if isinstance(history, Future) else history, catalog, day, k)
    if chosen.empty:
        return pd.DataFrame(columns=[*COLUMNS, "reasons"])
    rows = cands.iloc[chosen["row"].to_numpy()].reset_index(drop=True)
    on_deals = deal_only(rows)
    reasons: list[list[dict[str, object]]] = [[] for _ in range(len(chosen))]
    if relationship is not None and p_all is not None and (~on_deals).any():
        ties = np.flatnonzero(~on_deals)
        for i, why in zip(ties, explain(rows.iloc[ties], relationship, references(cands, p_all.result()), lang),
                          strict=True):
            reasons[i] = why
    if models.deal is not None and on_deals.any():
        deals = np.flatnonzero(on_deals)
        ref = cands[deal_only(cands)].select_dtypes("number").median()
        for i, why in zip(deals, explain_deal(rows.iloc[deals], models.deal, ref, lang), strict=True):
            reasons[i] = why
    out = chosen[[*COLUMNS, "effect_source"]].reset_index(drop=True)
    out.insert(5, "title", [catalog[a].label(lang) for a in out["action"]])
    out.insert(4, "opportunity_id", rows["opportunity_id"].to_numpy())
    out["channel"] = [catalog[a].channel for a in out["action"]]
    out["reasons"] = [
        [deal_action_reason(catalog[r.action].label(lang), r.element, r.p_win, r.p_win_if_done, r.gain, lang,
                            r.effect_source) if on_deal else
         action_reason(catalog[r.action].label(lang), r.element, r.p_effective, r.p_effective_if_done, r.gain,
                       lang, r.gain_unit, r.effect_source, models.tie_label, r.p_win, r.p_win_if_done), *why]
        for r, why, on_deal in zip(out.itertuples(), reasons, on_deals, strict=True)
    ]
    return out.replace({np.nan: None})
