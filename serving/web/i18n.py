"""The pages' words in English and Simplified Chinese (the reasons come translated from the engine)."""

from __future__ import annotations

from serving.reasons import ELEMENT_NAMES

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Guanxi", "reps": "Reps", "teams": "Teams", "rep_day": "Today's actions", "rank": "#",
        "action": "Action", "contact": "Contact", "account": "Account", "gain": "Expected gain",
        "p_now": "now → if done", "p_win_now": "P(win) now → if done", "deal": "Deal",
        "why": "Why", "done": "Done", "dismiss": "Dismiss",
        "snooze": "Snooze", "nothing": "Nothing to recommend today.", "health": "Health", "band": "Band",
        "trend_30": "vs 30 days ago", "trend_90": "vs 90 days ago", "elements": "The elements (contribution, log-odds)",
        "latest": "Latest interactions", "when": "When", "channel": "Channel", "direction": "Direction",
        "depth": "Depth", "occasion": "Occasion", "next": "Next action", "none": "none",
        "who_knows": "Who knows whom (tie strength)", "deals": "Open deals", "chain": "Decision chain",
        "role": "Role", "stance": "Stance", "tie": "Best tie", "covered": "Covered", "coverage": "Coverage",
        "p_win": "P(win)", "grade": "Grade", "amount": "Amount", "owner": "Owner", "team": "Team",
        "key_accounts": "Coverage of key accounts (decision makers with a strong tie)", "tier": "Tier",
        "decision_makers": "Decision makers", "activity": "Recommendations, last 30 days", "offered": "Offered",
        "dismissed": "Dismissed", "snoozed": "Snoozed", "at_risk": "Ties at risk (a real tie gone silent)",
        "silent": "Days silent", "touches": "Touches in a year", "as_of": "as of", "language": "Language",
        "login": "Sign in", "api_key": "API key", "yes": "yes", "no": "no", "recorded": "Recorded:",
        "rep": "Rep", "manager": "Manager's view",
    },
    "zh": {
        "title": "关系", "reps": "销售代表", "teams": "团队", "rep_day": "今日行动", "rank": "序",
        "action": "行动", "contact": "联系人", "account": "客户", "gain": "预期收益",
        "p_now": "现在 → 完成后", "p_win_now": "赢单概率 现在 → 完成后", "deal": "商机",
        "why": "原因", "done": "已完成", "dismiss": "忽略",
        "snooze": "稍后", "nothing": "今天没有推荐。", "health": "健康度", "band": "等级",
        "trend_30": "较 30 天前", "trend_90": "较 90 天前", "elements": "七要素（贡献，对数几率）",
        "latest": "最近互动", "when": "时间", "channel": "渠道", "direction": "方向", "depth": "深度",
        "occasion": "场合", "next": "下一步行动", "none": "无", "who_knows": "谁认识谁（关系强度）",
        "deals": "进行中的商机", "chain": "决策链", "role": "角色", "stance": "态度", "tie": "最强关系",
        "covered": "已覆盖", "coverage": "覆盖率", "p_win": "赢单概率", "grade": "评级", "amount": "金额",
        "owner": "负责人", "team": "团队", "key_accounts": "重点客户覆盖（与决策人有强关系）", "tier": "级别",
        "decision_makers": "决策人", "activity": "近 30 天推荐", "offered": "已推荐", "dismissed": "已忽略",
        "snoozed": "稍后", "at_risk": "有风险的关系（真实关系已沉默）", "silent": "沉默天数",
        "touches": "一年内互动", "as_of": "截至", "language": "语言", "login": "登录", "api_key": "API 密钥",
        "yes": "是", "no": "否", "recorded": "已记录：", "rep": "销售代表", "manager": "经理视图",
    },
}


def words(lang: str) -> dict[str, str]:
    """The page words of ``lang``, with the element names (value, 情面 ...) under ``element:<name>``."""
    return {**WORDS[lang], **{f"element:{k}": v for k, v in ELEMENT_NAMES[lang].items()}}
