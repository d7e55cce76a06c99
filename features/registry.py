"""Every feature: its name, the relationship element it measures, its unit and its meaning, in one place.

``docs/features.md`` is generated from this module (``python -m features.registry``) and tested
against it; builders must output exactly these columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm import vocab

ELEMENTS: dict[str, str] = {
    "value": "价值 value",
    "favor": "情面 favor / goodwill",
    "dignity": "体面 dignity",
    "presence": "场面 presence",
    "frequency": "频度 frequency",
    "length": "长度 length",
    "depth": "深度 depth",
    "reciprocity": "投桃报李 reciprocity",
    "network": "关系网 network",
    "deal": "商机 deal",
}


@dataclass(frozen=True)
class Feature:
    name: str
    element: str
    unit: str
    meaning: str


def _f(name: str, element: str, unit: str, meaning: str) -> Feature:
    assert element in ELEMENTS, element
    return Feature(name, element, unit, meaning)


RELATIONSHIP_IDS = ("rep_id", "contact_id", "account_id")
RELATIONSHIP: tuple[Feature, ...] = (
    _f("n_30d", "frequency", "touches", "Interactions in the 30 days up to as_of, both directions."),
    _f("n_90d", "frequency", "touches", "Interactions in the last 90 days."),
    _f("n_365d", "frequency", "touches", "Interactions in the last 365 days."),
    _f("out_90d", "frequency", "touches", "Outbound interactions (the rep reached out) in the last 90 days."),
    _f("in_90d", "frequency", "touches", "Inbound interactions (the contact reached out) in the last 90 days."),
    *(_f(f"n_{c}_90d", "frequency", "touches", f"Interactions over {c} in the last 90 days.") for c in vocab.CHANNELS),
    _f("days_since_last", "frequency", "days", "Days from the last interaction to as_of."),
    _f("gap_mean_days", "frequency", "days", "Mean gap between consecutive interactions."),
    _f("gap_cv", "frequency", "ratio", "Coefficient of variation of the gaps: 0 is a perfectly regular rhythm."),
    _f("festivals_greeted_365d", "frequency", "festivals",
       "Festivals (holidays package, China's lunar festivals included) greeted by the rep in the 3 days before "
       "or on the day, last 365 days."),
    _f("birthday_greeted_365d", "frequency", "0/1",
       "The rep touched the contact on or up to 3 days before their last birthday; null if unknown."),
    _f("maintenance_share_365d", "frequency", "share",
       "Share of last-365-day touches made while no deal of the contact's account was open; null without deals."),
    _f("tenure_days", "length", "days", "Days from the first interaction to as_of."),
    _f("active_months_365d", "length", "months", "Distinct 30-day periods with an interaction in the last 365 days."),
    _f("longest_silence_days", "length", "days", "Longest gap without interaction, the open gap up to as_of included."),
    _f("trend_90d", "length", "ratio",
       "(last 90 days - previous 90 days) / (sum + 1): above 0 the relationship is warming."),
    _f("depth_max", "depth", "level 0-4", "Deepest interaction; null if the source has no depth."),
    _f("depth_mean", "depth", "level 0-4", "Mean depth of interactions."),
    _f("deep_share", "depth", "share", "Share of interactions at depth 3 or 4 (consult, personal advice)."),
    _f("days_since_deep", "depth", "days", "Days since the last depth >= 3 interaction; null if none."),
    _f("deep_by_contact", "depth", "touches", "Depth >= 3 interactions initiated by the contact."),
    _f("inbound_share", "reciprocity", "share", "Inbound share of all interactions."),
    _f("in_out_ratio", "reciprocity", "ratio", "Inbound / outbound interactions (outbound + 1 in the denominator)."),
    _f("reply_rate_72h", "reciprocity", "share",
       "Share of outbound touches answered by the contact within 72 h, before the rep's next touch."),
    _f("their_latency_h", "reciprocity", "hours",
       "Median hours from our touch to the contact's next touch, where theirs follows ours."),
    _f("our_latency_h", "reciprocity", "hours",
       "Median hours from the contact's touch to our next touch, where ours follows theirs."),
    _f("initiated_by_contact_share", "reciprocity", "share",
       "Share of conversations the contact started (not an answer within 72 h)."),
    _f("favor_ledger", "favor", "favors",
       "Favors given minus favors received, each decayed with a 720-day time constant (goodwill saved)."),
    _f("gave_before_asked", "favor", "0/1",
       "1 if our first favor came before our first ask, 0 if not; null when neither happened."),
    _f("push_after_win", "dignity", "rate ratio",
       "Restraint when things go well (得志时有所不为): our outbound business touches (depth 2) to the contact in "
       "the 30 days after each deal won at its account in the last 365 days, over what the pair's own yearly "
       "rate of such touches gives for those days, (n + 0.5) / (expected + 0.5); 1 is the usual rhythm, below "
       "1 holding back; null without a win."),
    _f("touch_after_loss", "dignity", "rate ratio",
       "Keeping one's duties when things go badly (落魄时有所为): our outbound touches to the contact in the 60 "
       "days after each deal lost at its account in the last 365 days, over the pair's own yearly rate for "
       "those days, (n + 0.5) / (expected + 0.5); above 1 staying close, below 1 going quiet; null without a "
       "loss."),
    _f("days_since_win", "dignity", "days",
       "Days since the latest deal won at the contact's account (closed in the last 365 days): whether the weeks "
       "in which restraint is judged are now; null without such a win."),
    _f("days_since_loss", "dignity", "days",
       "Days since the latest deal lost at the contact's account (closed in the last 365 days): whether the weeks "
       "in which keeping in touch is judged are now; null without such a loss."),
    _f("level_match", "dignity", "share",
       "Matching the contact's standing: the share of the last 365 days' meetings, visits and events with a "
       "vp or C-level contact at which one of our executives took part; null for other contacts or without "
       "such meetings."),
    _f("exec_touches_365d", "presence", "touches", "Interactions with one of our executives, last 365 days."),
    _f("events_365d", "presence", "touches", "Event invitations and attendances, last 365 days."),
    _f("seniority_rank", "value", "level 0-4", "Contact seniority: 0 individual ... 4 C-level."),
    _f("buying_role", "value", "category", "Contact's usual buying role."),
    _f("account_tier", "value", "category", "Key-account tier of the contact's account."),
    _f("account_potential", "value", "currency/year", "Yearly business potential of the account."),
)


TIE_STRENGTH = ("log1p(n_365d) x (0.5 + inbound_share) x exp(-days_since_last / 90): volume, reciprocity "
                "and recency of one rep's tie with one contact")
STRONG_TIE = 1.5
"""A tie at least this strong counts as a strong tie (network coverage)."""

CONTACT_NETWORK_IDS = ("contact_id", "account_id")
CONTACT_NETWORK: tuple[Feature, ...] = (
    _f("reps_tied", "network", "reps", "Our reps with any interaction with the contact (who knows this contact)."),
    _f("reps_strong", "network", "reps", f"Our reps holding a strong tie (tie strength >= {STRONG_TIE})."),
    _f("best_tie", "network", "score", f"Strongest tie any of our reps holds: {TIE_STRENGTH}."),
    _f("best_tie_rep_id", "network", "id", "The rep holding the strongest tie."),
)

ACCOUNT_NETWORK_IDS = ("account_id",)
ACCOUNT_NETWORK: tuple[Feature, ...] = (
    _f("contacts", "network", "contacts", "Contacts we know at the account."),
    _f("contacts_tied", "network", "contacts", "Contacts with any tie to one of our reps."),
    _f("contacts_strong", "network", "contacts", "Contacts with a strong tie."),
    _f("breadth", "network", "share", "Share of the account's contacts with a strong tie."),
    _f("roles_covered", "network", "roles", "Distinct buying roles among strongly tied contacts."),
    _f("decision_makers_strong", "network", "contacts", "Decision makers with a strong tie."),
    _f("account_best_tie", "network", "score", "Strongest tie at the account."),
)

DEAL_IDS = ("opportunity_id", "account_id", "owner_rep_id")
DEAL: tuple[Feature, ...] = (
    _f("stage_rank", "deal", "rank", "Stage at as_of: 0 prospecting ... 4 negotiation; null without stage history."),
    _f("days_in_stage", "deal", "days", "Days since the deal entered its current stage."),
    _f("age_days", "deal", "days", "Days since the deal was created; null when the source has no date."),
    _f("stage_changes", "deal", "changes", "Stage entries after the first."),
    _f("regressions", "deal", "changes", "Moves back to an earlier stage."),
    _f("amount", "deal", "currency", "Expected value of the deal."),
    _f("log_amount", "deal", "log currency", "log1p(amount)."),
    _f("type", "deal", "category", "Kind of deal."),
    _f("product", "deal", "category", "Product or offering."),
    _f("competitors", "deal", "count", "Competitors known on the deal."),
    _f("activity_30d", "deal", "touches", "Interactions about the deal in the last 30 days."),
    _f("activity_90d", "deal", "touches", "Interactions about the deal in the last 90 days."),
    _f("chain_size", "network", "contacts", "Decision-chain contacts known at as_of."),
    _f("chain_coverage", "network", "share", "Share of the decision chain with a strong tie to any of our reps."),
    _f("dm_best_tie", "network", "score", "Best tie of any of our reps to a decision maker on the chain."),
    _f("owner_dm_tie", "network", "score", "The owner's own best tie to a decision maker on the chain."),
    _f("chain_champions", "network", "contacts", "Contacts on the chain whose stance is champion or supporter."),
    _f("chain_blockers", "network", "contacts", "Contacts on the chain whose stance is skeptic or blocker."),
    _f("exec_touches_90d", "presence", "touches", "Touches at the account with one of our executives, last 90 days."),
    _f("account_breadth", "network", "share", "Share of the account's contacts with a strong tie."),
    _f("owner_win_rate", "value", "share",
       "The owner's won / closed deals before as_of, shrunk toward the overall rate by 5 pseudo-deals."),
    _f("owner_closed_deals_365d", "value", "deals", "Deals the owner closed in the 365 days before as_of."),
    _f("account_won_deals_365d", "value", "deals", "Deals won at the account in the 365 days before as_of."),
    _f("days_per_stage", "deal", "days", "Age over stages reached: the deal's pace."),
    _f("owner", "value", "category", "The deal's owner (rep id). Learned from only where the deals carry no "
       "dates: without them owner_win_rate is one number for everyone, and the owner is the only trace of "
       "each rep's record."),
)
UNDATED_ONLY = ("owner",)
"""Deal features the model learns from only when the deals carry no dates (a timeline has better ones)."""
"""Deal features; custom fields from ``attributes`` are appended as ``attr_<name>`` (numeric or category)."""


def render_markdown() -> str:
    lines = ["# Features", "",
             "Generated from `features/registry.py` by `python -m features.registry > docs/features.md`;",
             "the test suite fails when the two disagree. Every builder takes `as_of` and never reads an event",
             "after it.", ""]
    groups = (("Relationship (rep x contact)", RELATIONSHIP_IDS, RELATIONSHIP),
              ("Network: contact (who knows whom)", CONTACT_NETWORK_IDS, CONTACT_NETWORK),
              ("Network: account", ACCOUNT_NETWORK_IDS, ACCOUNT_NETWORK),
              ("Deal snapshot (open at as_of)", DEAL_IDS, DEAL))
    for title, ids, feats in groups:
        lines += [f"## {title}", "", f"Id columns: {', '.join(f'`{i}`' for i in ids)}", "",
                  "| feature | element | unit | meaning |", "|---|---|---|---|"]
        lines += [f"| `{f.name}` | {ELEMENTS[f.element]} | {f.unit} | {f.meaning} |" for f in feats]
        lines.append("")
    lines += ["Deal snapshots also pass through the custom fields of `opportunities.attributes` as",
              "`attr_<name>`: numbers stay numeric, anything else becomes a category.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(), end="")
