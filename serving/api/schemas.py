"""Request and response bodies of the /v1 API (they are the OpenAPI schema the tests check against)."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, StrictBool, StrictInt

from crm import vocab
from guanxi.services.answers import Factor, Reason, Recommendation, TieStrength

ID_PATTERN = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"
"""An id in canonical form: no leading or trailing white space, no control characters anywhere.
Refused rather than cleaned, so that a scope is always checked on the id that is stored."""
IdStr = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]


class Lang(enum.StrEnum):
    en = "en"
    zh = "zh"


class Freshness(BaseModel):
    as_of: AwareDatetime = Field(description="The day planned for / scored at (start of day, UTC).")
    data_latest: AwareDatetime | None = Field(description="Latest interaction in the store.")
    data_age_hours: float | None = Field(description="Hours from the latest interaction to now.")


class NextBestActions(BaseModel):
    rep_id: str
    freshness: Freshness
    models: dict[str, str]
    labels: dict[str, str] = Field(default_factory=dict, description="What each served classifier learned, e.g. "
                                   "guanxi-relationship: tie_persistence where the data has no revenue-linked "
                                   "outcomes.")
    actions: list[Recommendation]


class Relationship(BaseModel):
    rep_id: str
    contact_id: str
    health: int = Field(ge=0, le=100, description="The relationship model's calibrated probability x 100.")
    p_effective: float = Field(description="That probability: of `label`.")
    label: str = Field(description="What the relationship model learned: effective_relationship, tie_persistence "
                       "(a log without revenue-linked outcomes) or the user's own label.")
    band: str = Field(description="Good, Fair or Poor (thresholds GUANXI_BAND_GOOD / GUANXI_BAND_FAIR, scaled by "
                      "the model's base rate unless GUANXI_BAND_BY_BASE_RATE is false).")
    elements: dict[str, float] = Field(description="Contribution of each element to the score (log-odds).")
    health_30d_ago: int | None
    trend: int | None = Field(description="Health now minus health 30 days ago.")
    reasons: list[Reason]
    freshness: Freshness
    model_version: str


class WinProbability(BaseModel):
    opportunity_id: str
    p_win: float
    grade: str = Field(description="A (>= 60 %), B (>= 40 %), C (>= 20 %), D.")
    positive: list[Factor]
    negative: list[Factor]
    p_win_30d_ago: float | None
    trend: float | None
    freshness: Freshness
    model_version: str


class WhoKnows(BaseModel):
    contact_id: str
    reps: list[TieStrength]


# the members come from crm.vocab, the one list of each vocabulary (so mypy cannot see them)
Channel = enum.StrEnum("Channel", {c: c for c in vocab.CHANNELS})  # type: ignore[misc]
Direction = enum.StrEnum("Direction", {c: c for c in vocab.DIRECTIONS})  # type: ignore[misc]
Occasion = enum.StrEnum("Occasion", {c: c for c in vocab.OCCASIONS})  # type: ignore[misc]
Favor = enum.StrEnum("Favor", {c: c for c in vocab.FAVORS})  # type: ignore[misc]


class InputModel(BaseModel):
    """Request bodies: unknown fields are refused, numbers and booleans are not parsed from strings."""

    model_config = ConfigDict(extra="forbid")


class InteractionIn(InputModel):
    interaction_id: IdStr
    ts: AwareDatetime = Field(description="Between 1970 and one day from now (GUANXI_EARLIEST_TS, "
                              "GUANXI_FUTURE_DAYS).")
    rep_id: IdStr
    contact_id: IdStr
    channel: Channel
    direction: Direction
    duration_min: Annotated[float, Strict()] | None = Field(default=None, ge=0, le=24 * 60)
    depth: StrictInt | None = Field(default=None, ge=0, le=4)
    occasion: Occasion | None = None
    opportunity_id: IdStr | None = None
    favor: Favor | None = None
    with_executive: StrictBool | None = None


class InteractionsIn(InputModel):
    interactions: list[InteractionIn] = Field(min_length=1, max_length=1000)


class OnConflict(enum.StrEnum):
    refuse = "refuse"
    update = "update"


class InteractionsOut(BaseModel):
    received: int
    inserted: int
    duplicates: int = Field(description="Rows already stored with the same content: not written again.")
    updated: int = Field(0, description="Rows stored with other content and replaced (on_conflict=update).")


class FeedbackStatus(enum.StrEnum):
    accepted = "accepted"
    done = "done"
    dismissed = "dismissed"
    snoozed = "snoozed"


class FeedbackIn(InputModel):
    rep_id: IdStr
    contact_id: IdStr | None = Field(default=None, description="The contact the action was about.")
    opportunity_id: IdStr | None = Field(default=None, description="Instead of a contact: the deal an action on a "
                                         "deal without contacts was about (its recommendation has no contact).")
    action: IdStr
    status: FeedbackStatus
    ts: AwareDatetime | None = Field(default=None, description="Default now; the same window as interactions.")
    note: str | None = Field(default=None, max_length=2000)


class FeedbackOut(BaseModel):
    stored: int


class Erased(BaseModel):
    contact_id: str
    deleted: dict[str, int] = Field(description="Rows deleted per table.")
    audit_id: int
    score_files: list[str] = Field(default_factory=list, description="Score files rewritten without the contact.")
    artifacts: list[str] = Field(default_factory=list, description="MLflow evaluation sets rewritten.")
    warning: str | None = Field(default=None, description="What could not be purged, if anything.")


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    models: dict[str, str]
    model_source: str
    store: bool
    last_reload_error: str | None = None


class ProblemError(BaseModel):
    location: str | None = None
    message: str
    row: int | None = None


class ProblemDetail(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemError] | None = None


PROBLEM_REF = "#/components/schemas/{model}"


def problem_schemas() -> dict[str, dict[str, object]]:
    """``ProblemDetail`` and the models it uses, for ``components/schemas`` of the OpenAPI document."""
    schema = ProblemDetail.model_json_schema(ref_template=PROBLEM_REF)
    return {**schema.pop("$defs", {}), "ProblemDetail": schema}


def problem_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for error answers, all ``application/problem+json``, referring to the shared schema."""
    ref = {"$ref": PROBLEM_REF.format(model="ProblemDetail")}
    return {code: {"description": "Problem details (RFC 9457)", "content": {"application/problem+json":
                                                                          {"schema": ref}}} for code in codes}
