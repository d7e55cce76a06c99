"""Reasons in plain words: the features that weigh most on a relationship (LightGBM ``pred_contrib``),
grouped by element, written in English or Simplified Chinese with the same numbers in both."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.registry import DEAL, RELATIONSHIP
from training.model import GuanxiClassifier

LANGS = ("en", "zh")
ELEMENT_NAMES = {
    "en": {"value": "Value", "favor": "Goodwill", "dignity": "Dignity", "presence": "Presence",
           "frequency": "Frequency", "length": "Length", "depth": "Depth", "reciprocity": "Reciprocity",
           "network": "Network", "deal": "Deal"},
    "zh": {"value": "价值", "favor": "情面", "dignity": "体面", "presence": "场面", "frequency": "频度",
           "length": "长度", "depth": "深度", "reciprocity": "投桃报李", "network": "关系网", "deal": "商机"},
}
ELEMENT_OF = {f.name: f.element for f in RELATIONSHIP}
# feature -> (English, Chinese); {v} is this tie's value, {ref} the median of the healthiest quarter of ties
TEMPLATES: dict[str, tuple[str, str]] = {
    "days_since_last": ("no contact for {v} days; healthy ties like this one are touched every {ref} days",
                        "已 {v} 天没有联系；同类良好关系每 {ref} 天联系一次"),
    "gap_mean_days": ("touches come every {v} days on average; healthy ties: every {ref} days",
                      "平均每 {v} 天联系一次；良好关系：每 {ref} 天"),
    "n_90d": ("{v} interactions in 90 days; healthy ties have {ref}", "90 天内互动 {v} 次；良好关系为 {ref} 次"),
    "n_365d": ("{v} interactions in a year; healthy ties have {ref}", "一年内互动 {v} 次；良好关系为 {ref} 次"),
    "festivals_greeted_365d": ("{v} festivals greeted in a year; healthy ties: {ref}",
                               "一年内节日问候 {v} 次；良好关系：{ref} 次"),
    "tenure_days": ("the relationship is {v} days old; healthy ties: {ref} days",
                    "关系已有 {v} 天；良好关系：{ref} 天"),
    "longest_silence_days": ("longest silence {v} days; healthy ties: {ref} days",
                             "最长沉默 {v} 天；良好关系：{ref} 天"),
    "trend_90d": ("90-day trend {v} (below 0 is cooling); healthy ties: {ref}",
                  "90 天趋势 {v}（低于 0 表示降温）；良好关系：{ref}"),
    "depth_max": ("deepest conversation at level {v} of 4; healthy ties reach {ref}",
                  "最深交流为 {v} 级（共 4 级）；良好关系达到 {ref} 级"),
    "deep_share": ("{v} of touches are deep (consult or advice); healthy ties: {ref}",
                   "深度交流占 {v}；良好关系：{ref}"),
    "days_since_deep": ("last deep conversation {v} days ago; healthy ties: {ref} days",
                        "上次深度交流在 {v} 天前；良好关系：{ref} 天"),
    "reply_rate_72h": ("they answer {v} of our touches within 72 h; healthy ties: {ref}",
                       "对方 72 小时内回复 {v}；良好关系：{ref}"),
    "inbound_share": ("{v} of interactions come from them; healthy ties: {ref}",
                      "对方主动的互动占 {v}；良好关系：{ref}"),
    "in_90d": ("they reached out {v} times in 90 days; healthy ties: {ref}",
               "对方 90 天内主动联系 {v} 次；良好关系：{ref} 次"),
    "out_90d": ("we reached out {v} times in 90 days; healthy ties: {ref}",
                "我们 90 天内主动联系 {v} 次；良好关系：{ref} 次"),
    "in_out_ratio": ("they answer {v} touches for each of ours; healthy ties: {ref}",
                     "我们每联系一次，对方回应 {v} 次；良好关系：{ref}"),
    "active_months_365d": ("active in {v} of the last 12 months; healthy ties: {ref}",
                           "过去 12 个月中有 {v} 个月有互动；良好关系：{ref} 个月"),
    "initiated_by_contact_share": ("they start {v} of conversations; healthy ties: {ref}",
                                   "对方发起 {v} 的对话；良好关系：{ref}"),
    "favor_ledger": ("favor balance {v} (given minus received); healthy ties: {ref}",
                     "人情账 {v}（给予减收到）；良好关系：{ref}"),
    "exec_touches_365d": ("{v} touches with our executives in a year; healthy ties: {ref}",
                          "一年内高管接触 {v} 次；良好关系：{ref} 次"),
    "events_365d": ("{v} events in a year; healthy ties: {ref}", "一年内活动 {v} 次；良好关系：{ref} 次"),
    "seniority_rank": ("contact seniority {v} of 4; healthy ties: {ref}", "联系人级别 {v}（共 4 级）；良好关系：{ref}"),
    "n_30d": ("{v} interactions in 30 days; healthy ties have {ref}", "30 天内互动 {v} 次；良好关系为 {ref} 次"),
    "n_email_90d": ("{v} emails in 90 days; healthy ties: {ref}", "90 天内邮件 {v} 封；良好关系：{ref} 封"),
    "n_call_90d": ("{v} calls in 90 days; healthy ties: {ref}", "90 天内电话 {v} 次；良好关系：{ref} 次"),
    "n_video_call_90d": ("{v} video calls in 90 days; healthy ties: {ref}",
                         "90 天内视频通话 {v} 次；良好关系：{ref} 次"),
    "n_meeting_90d": ("{v} meetings in 90 days; healthy ties: {ref}", "90 天内会议 {v} 次；良好关系：{ref} 次"),
    "n_visit_90d": ("{v} visits in 90 days; healthy ties: {ref}", "90 天内拜访 {v} 次；良好关系：{ref} 次"),
    "n_message_90d": ("{v} messages in 90 days; healthy ties: {ref}", "90 天内消息 {v} 条；良好关系：{ref} 条"),
    "n_social_90d": ("{v} social touches (likes, comments) in 90 days; healthy ties: {ref}",
                     "90 天内社交互动（点赞、评论）{v} 次；良好关系：{ref} 次"),
    "n_event_90d": ("{v} events together in 90 days; healthy ties: {ref}",
                    "90 天内共同参加活动 {v} 次；良好关系：{ref} 次"),
    "gap_cv": ("the rhythm of touches varies by {v} (0 is perfectly regular); healthy ties: {ref}",
               "联系节奏的波动为 {v}（0 表示完全规律）；良好关系：{ref}"),
    "birthday_greeted_365d": ("birthday greeted: {v} (1 yes, 0 no); healthy ties: {ref}",
                              "是否问候生日：{v}（1 是，0 否）；良好关系：{ref}"),
    "maintenance_share_365d": ("{v} of touches came while no deal was open (relationship upkeep); healthy ties: {ref}",
                               "无商机时的联系占 {v}（日常维护）；良好关系：{ref}"),
    "depth_mean": ("conversations average level {v} of 4 in depth; healthy ties: {ref}",
                   "交流平均深度为 {v} 级（共 4 级）；良好关系：{ref} 级"),
    "deep_by_contact": ("they started {v} deep conversations; healthy ties: {ref}",
                        "对方发起深度交流 {v} 次；良好关系：{ref} 次"),
    "their_latency_h": ("they answer in {v} hours (median); healthy ties: {ref} hours",
                        "对方回复中位用时 {v} 小时；良好关系：{ref} 小时"),
    "our_latency_h": ("we answer in {v} hours (median); healthy ties: {ref} hours",
                      "我们回复中位用时 {v} 小时；良好关系：{ref} 小时"),
    "gave_before_asked": ("we helped before we asked: {v} (1 yes, 0 no); healthy ties: {ref}",
                          "先帮忙后求助：{v}（1 是，0 否）；良好关系：{ref}"),
    "account_potential": ("the account's yearly potential is {v}; healthy ties: {ref}",
                          "客户年度潜在业务 {v}；良好关系：{ref}"),
    "push_after_win": ("after their last win we pushed {v} times our usual rhythm; healthy ties: {ref}",
                       "对方上次成交后，我们的推进频率是平时的 {v} 倍；良好关系：{ref}"),
    "touch_after_loss": ("after their last loss we kept in touch at {v} times our usual rhythm; healthy ties: {ref}",
                         "对方上次丢单后，我们的联系频率是平时的 {v} 倍；良好关系：{ref}"),
    "days_since_win": ("their latest win at the account was {v} days ago; healthy ties: {ref} days",
                       "该客户上次成交在 {v} 天前；良好关系：{ref} 天"),
    "days_since_loss": ("their latest loss at the account was {v} days ago; healthy ties: {ref} days",
                        "该客户上次丢单在 {v} 天前；良好关系：{ref} 天"),
    "level_match": ("our executives attended {v} of the meetings with this senior contact; healthy ties: {ref}",
                    "与这位高层联系人的会面中，我方高管出席了 {v}；良好关系：{ref}"),
}
"""Every numeric relationship feature has a phrase in both languages (a test holds this): no reason shows a
raw column name."""
GENERIC = ("{name} is {v}; healthy ties: {ref}", "{name} 为 {v}；良好关系：{ref}")
SHARES = {"deep_share", "reply_rate_72h", "inbound_share", "initiated_by_contact_share", "maintenance_share_365d",
          "level_match"}


DEAL_ELEMENT_OF = {f.name: f.element for f in DEAL}
# deal feature -> (English, Chinese); {v} is the deal's value, {ref} the median over the rep's open deals
DEAL_TEMPLATES: dict[str, tuple[str, str]] = {
    "stage_rank": ("the deal is at stage {v} of 4 (0 prospecting ... 4 negotiation)",
                   "商机处于第 {v} 阶段（0 初步接触 … 4 谈判，共 4 级）"),
    "days_in_stage": ("{v} days in its current stage; your other open deals: {ref}",
                      "当前阶段已停留 {v} 天；您其他在谈商机：{ref} 天"),
    "age_days": ("open for {v} days; your other open deals: {ref}", "已开启 {v} 天；您其他在谈商机：{ref} 天"),
    "stage_changes": ("{v} stage changes so far", "迄今阶段变化 {v} 次"),
    "regressions": ("moved back a stage {v} times", "阶段倒退 {v} 次"),
    "amount": ("worth {v}; your other open deals: {ref}", "金额 {v}；您其他在谈商机：{ref}"),
    "log_amount": ("worth {v}; your other open deals: {ref}", "金额 {v}；您其他在谈商机：{ref}"),
    "owner": ("your record as the owner ({v}) weighs on it", "负责人（{v}）的过往记录影响此商机"),
    "competitors": ("{v} competitors known", "已知竞争对手 {v} 家"),
    "activity_30d": ("{v} touches about the deal in 30 days", "30 天内围绕商机的互动 {v} 次"),
    "activity_90d": ("{v} touches about the deal in 90 days", "90 天内围绕商机的互动 {v} 次"),
    "chain_size": ("{v} people known on the decision chain", "已知决策链人数 {v}"),
    "chain_coverage": ("{v} of the decision chain has a strong tie with us", "决策链中与我方关系紧密的占 {v}"),
    "dm_best_tie": ("our best tie to a decision maker scores {v}", "我方与决策者的最强关系得分 {v}"),
    "owner_dm_tie": ("your own best tie to a decision maker scores {v}", "您与决策者的最强关系得分 {v}"),
    "chain_champions": ("{v} champions or supporters on the chain", "决策链上的支持者 {v} 人"),
    "chain_blockers": ("{v} skeptics or blockers on the chain", "决策链上的怀疑者或阻碍者 {v} 人"),
    "exec_touches_90d": ("{v} touches with our executives at the account in 90 days",
                         "90 天内我方高管与该客户接触 {v} 次"),
    "account_breadth": ("{v} of the account's contacts have a strong tie with us", "该客户联系人中关系紧密的占 {v}"),
    "owner_win_rate": ("your win rate is {v}", "您的赢单率为 {v}"),
    "owner_closed_deals_365d": ("you closed {v} deals in the last year", "您过去一年成交或结束商机 {v} 笔"),
    "account_won_deals_365d": ("the account gave us {v} won deals in the last year", "该客户过去一年与我方成交 {v} 笔"),
    "days_per_stage": ("{v} days per stage; your other open deals: {ref}",
                       "每阶段平均 {v} 天；您其他在谈商机：{ref} 天"),
    "type": ("the deal is of type {v}", "商机类型为 {v}"),
    "product": ("the product is {v}", "产品为 {v}"),
}
"""Every deal feature has a phrase in both languages (a test holds this); a custom attribute (``attr_*``) reads
as its name and value."""
DEAL_SHARES = {"chain_coverage", "account_breadth", "owner_win_rate"}


def number(name: str, value: float) -> str:
    """One formatting for both languages, so the numbers match."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if name in SHARES or name in DEAL_SHARES:
        return f"{value:.0%}"
    return f"{value:.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:.2f}"


def sentence(feature: str, value: float, ref: float, lang: str) -> str:
    en, zh = TEMPLATES.get(feature, GENERIC)
    text = en if lang == "en" else zh
    element = ELEMENT_NAMES[lang][ELEMENT_OF.get(feature, "value")]
    body = text.format(v=number(feature, value), ref=number(feature, ref), name=feature)
    return f"{element}: {body}" if lang == "en" else f"{element}：{body}"


def references(rel: pd.DataFrame, p_effective: np.ndarray) -> pd.Series:
    """Median of each feature over the healthiest quarter of ties (by P(effective)) in the same population."""
    numeric = rel.select_dtypes("number")
    top = p_effective >= np.nanquantile(p_effective, 0.75) if len(p_effective) else np.zeros(0, dtype=bool)
    return numeric[top].median() if top.any() else numeric.median()


def explain(rel: pd.DataFrame, model: GuanxiClassifier, ref: pd.Series, lang: str = "en", top: int = 2
            ) -> list[list[dict[str, object]]]:
    """For each row, the ``top`` elements pulling P(effective) down most (what an action can fix), each with
    its strongest feature; an element pulling up is used when nothing pulls down."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    contrib = model.contributions(rel).drop(columns="bias")
    explainable = [c for c in contrib.columns if c in ELEMENT_OF and c in rel.columns
                   and pd.api.types.is_numeric_dtype(rel[c])]
    # arrays, not a Series per row: pandas' per-row indexing and groupby were 4 ms a row
    C = contrib[explainable].to_numpy(dtype=float)
    V = np.column_stack([rel[f].to_numpy(dtype=float, na_value=np.nan) for f in explainable]) if explainable \
        else np.empty((len(rel), 0))
    R = np.array([float(ref.get(f, np.nan)) for f in explainable])
    names = sorted({ELEMENT_OF[f] for f in explainable})  # groupby's order, which ties keep
    element = np.array([names.index(ELEMENT_OF[f]) for f in explainable], dtype=np.int64)
    out = []
    for i in range(len(rel)):
        # a feature equal to the healthy reference says nothing, and a missing one (or one healthy ties
        # lack) has no number to show ("n/a times our usual rhythm"): leave them out
        telling = ~np.isnan(V[i]) & ~np.isnan(R) & (V[i] != R)
        sums = np.bincount(element[telling], weights=C[i][telling], minlength=len(names))
        present = np.flatnonzero(np.bincount(element[telling], minlength=len(names)) > 0)
        order = present[np.argsort(sums[present], kind="stable")]
        picked = [e for e in order if sums[e] < 0][:top] or list(order[::-1][:top])
        items = []
        for e in picked:
            cols = np.flatnonzero(telling & (element == e))
            j = cols[np.argmin(C[i, cols])] if sums[e] < 0 else cols[np.argmax(C[i, cols])]
            feat, value, reference = explainable[j], float(V[i, j]), float(R[j])
            items.append({"element": names[e], "feature": feat, "value": value, "reference": reference,
                          "contribution": float(C[i, j]), "text": sentence(feat, value, reference, lang)})
        out.append(items)
    return out


def deal_sentence(feature: str, value: object, ref: float, lang: str) -> str:
    en, zh = DEAL_TEMPLATES.get(feature, (f"{feature.removeprefix('attr_')} is {{v}}",
                                          f"{feature.removeprefix('attr_')} 为 {{v}}"))
    if feature == "log_amount":  # read as money, not as its logarithm
        value, ref = (np.expm1(float(value)) if isinstance(value, int | float | np.number) else value), np.expm1(ref)
    shown = number(feature, float(value)) if isinstance(value, int | float | np.number) else str(value)
    body = (en if lang == "en" else zh).format(v=shown, ref=number(feature, ref))
    element = ELEMENT_NAMES[lang][DEAL_ELEMENT_OF.get(feature, "deal")]
    return f"{element}: {body}" if lang == "en" else f"{element}：{body}"


def explain_deal(deals: pd.DataFrame, model: GuanxiClassifier, ref: pd.Series, lang: str = "en", top: int = 2
                 ) -> list[list[dict[str, object]]]:
    """For each deal row, the ``top`` features pulling P(win) down most (up, when nothing pulls down);
    ``ref``: the median of each feature over the rep's open deals."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, not {lang!r}")
    contrib = model.contributions(deals).drop(columns="bias")
    out = []
    for i in range(len(deals)):
        row = contrib.iloc[i]
        # a missing value has nothing to show (as for ties): only features the deal has are reasons
        shown = [f for f in row.index if f in deals.columns and not pd.isna(deals[f].iloc[i])]
        row = row[shown]
        down = row[row < 0].sort_values()
        picked = down if len(down) else row[row > 0].sort_values(ascending=False)
        items = []
        for feat in list(picked.index[:top]):
            value = deals[feat].iloc[i]
            number_value = float(value) if isinstance(value, int | float | np.number) else np.nan
            items.append({"element": DEAL_ELEMENT_OF.get(feat, "deal"), "feature": feat, "value": number_value,
                          "reference": float(ref.get(feat, np.nan)), "contribution": float(row[feat]),
                          "text": deal_sentence(feat, value, float(ref.get(feat, np.nan)), lang)})
        out.append(items)
    return out


def deal_action_reason(action: str, element: str, p_now: float, p_done: float, gain: float, lang: str,
                       source: str = "prior") -> dict[str, object]:
    """Why this action on a deal: its expected move of P(win), worth the move times the deal's amount."""
    name = ELEMENT_NAMES[lang][element]
    now, done, amount, origin = f"{p_now * 100:.1f}", f"{p_done * 100:.1f}", number("gain", gain), SOURCES[lang][source]
    if lang == "en":
        text = (f"{name}: if you {action}, P(win) should move from {now}% to {done}%, worth about {amount} in "
                f"expected business; {origin}")
    else:
        text = f"{name}：若{action}，赢单概率预计从 {now}% 变为 {done}%，预期业务价值约 {amount}；{origin}"
    return {"element": element, "feature": None, "value": p_done, "reference": p_now, "text": text}


SOURCES = {"en": {"learned": "effect learned from your own data", "prior": "effect from the shipped prior, "
                   "until your data shows this action's effect"},
           "zh": {"learned": "效果由贵方自己的数据学得", "prior": "效果来自内置先验（待贵方数据足以估计此行动的效果）"}}


PROBABILITY_NAMES = {"en": {"effective_relationship": "P(effective)", "tie_persistence": "P(the tie persists)"},
                     "zh": {"effective_relationship": "有效关系概率", "tie_persistence": "关系延续概率"}}


def probability_name(label: str, lang: str) -> str:
    """How a reason names a tie's probability: after the label it is the probability of (``Models.tie_label``);
    a user's own label by its name."""
    known = PROBABILITY_NAMES[lang].get(label)
    return known if known else (f"P({label})" if lang == "en" else f"「{label}」概率")


def action_reason(action: str, element: str, p_now: float, p_done: float, gain: float, lang: str,
                  unit: str = "money", source: str = "learned", label: str = "effective_relationship",
                  win_now: float | None = None, win_done: float | None = None) -> dict[str, object]:
    """Why this action: what it is expected to change, in numbers, in the gain's unit, and where the
    effect comes from (this organisation's data or the shipped prior); ``label``: what the probability is of;
    ``win_now``, ``win_done``: the open deal's P(win) before and after, said too where the action moves it
    (the gain counts both: a touch that costs the tie a little may still be worth it for the deal)."""
    name = ELEMENT_NAMES[lang][element]
    probability = probability_name(label, lang)
    now, done = f"{p_now * 100:.1f}", f"{p_done * 100:.1f}"
    points = f"{(p_done - p_now) * 100:+.1f}"
    amount = number("gain", gain)
    origin = SOURCES[lang][source]
    also = ""
    if win_now is not None and win_done is not None and np.isfinite(win_now) and np.isfinite(win_done):
        w_now, w_done = f"{win_now * 100:.1f}", f"{win_done * 100:.1f}"
        if w_now != w_done:
            also = (f" and the open deal's P(win) from {w_now}% to {w_done}%" if lang == "en" else
                    f"，在谈商机赢单概率从 {w_now}% 变为 {w_done}%")
    if lang == "en":
        worth = (f"worth about {amount} in expected business" if unit == "money" else
                 f"a gain of {points} points (no account value is known, so actions rank by this gain)")
        text = f"{name}: if you {action}, {probability} should move from {now}% to {done}%{also}, {worth}; {origin}"
    else:
        worth = (f"预期业务价值约 {amount}" if unit == "money" else
                 f"提升 {points} 个百分点（未知客户价值，按此提升排序）")
        text = f"{name}：若{action}，{probability}预计从 {now}% 变为 {done}%{also}，{worth}；{origin}"
    return {"element": element, "feature": None, "value": p_done, "reference": p_now, "text": text}
