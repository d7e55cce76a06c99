"""Closed vocabularies of the data contract: the only values a categorical column may hold."""

from __future__ import annotations

CHANNELS: tuple[str, ...] = ("email", "call", "video_call", "meeting", "visit", "message", "social", "event")
DIRECTIONS: tuple[str, ...] = ("inbound", "outbound")
DEPTHS: tuple[int, ...] = (0, 1, 2, 3, 4)
DEPTH_MEANING: dict[int, str] = {
    0: "social like or reaction",
    1: "greeting",
    2: "business conversation",
    3: "professional consult",
    4: "personal, career or family advice",
}
OCCASIONS: tuple[str, ...] = ("holiday", "birthday", "business_request", "referral")
FAVORS: tuple[str, ...] = ("given", "received")
SENIORITIES: tuple[str, ...] = ("individual", "manager", "director", "vp", "c_level")
BUYING_ROLES: tuple[str, ...] = (
    "decision_maker",
    "influencer",
    "evaluator",
    "user",
    "gatekeeper",
    "coach",
)
STANCES: tuple[str, ...] = ("champion", "supporter", "neutral", "skeptic", "blocker")
STAGES: tuple[str, ...] = (
    "prospecting",
    "qualification",
    "engaging",
    "proposal",
    "negotiation",
    "won",
    "lost",
)
OPEN_STAGES: tuple[str, ...] = STAGES[:5]
OUTCOMES: tuple[str, ...] = ("open", "won", "lost")
ACCOUNT_TIERS: tuple[str, ...] = ("strategic", "key", "standard", "internal")
OPPORTUNITY_TYPES: tuple[str, ...] = ("new_business", "expansion", "renewal")

STAGE_RANK: dict[str, int] = {stage: rank for rank, stage in enumerate(STAGES)}
SENIORITY_RANK: dict[str, int] = {level: rank for rank, level in enumerate(SENIORITIES)}
