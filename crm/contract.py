"""The data contract: every table, column, type, unit and allowed value, in one place.

Importers, the simulator and the store all read this module; ``docs/data-contract.md`` is checked
against it by the test suite.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from crm import vocab

Kind = Literal["str", "int", "float", "bool", "timestamp"]

EARLIEST_TS = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
"""No event of the contract happened before this: an earlier timestamp is a wrong epoch or unit."""
FUTURE_DAYS = 1.0
"""Events may lie at most this many days after now (clock skew); later ones are refused, so that one
mistyped year cannot move "the day after the latest data" for everyone."""


@dataclass(frozen=True)
class Column:
    """One column: its type, whether it may be null, its unit and its closed vocabulary if any."""

    name: str
    kind: Kind
    description: str
    nullable: bool = True
    unit: str = ""
    allowed: tuple[object, ...] | None = None
    references: str | None = None  # "table.column"
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Table:
    """One table of the contract; ``key`` is the id (or composite id) that upserts match on."""

    name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")


def _id(name: str, what: str) -> Column:
    return Column(name, "str", f"Unique id of the {what}.", nullable=False)


REPS = Table(
    "reps",
    "Our people who hold customer relationships.",
    ("rep_id",),
    (
        _id("rep_id", "rep"),
        Column("name", "str", "Display name (personal data)."),
        Column("team", "str", "Sales team or region the rep belongs to."),
        Column("manager", "str", "Name of the rep's manager."),
        Column("office", "str", "Office or regional office."),
        Column("is_executive", "bool", "True for our executives, whose presence counts as presence."),
        Column("started_at", "timestamp", "When the rep joined.", unit="UTC"),
    ),
)

ACCOUNTS = Table(
    "accounts",
    "Customer companies.",
    ("account_id",),
    (
        _id("account_id", "account"),
        Column("name", "str", "Company name."),
        Column("industry", "str", "Industry or sector, free text."),
        Column("tier", "str", "Key-account tier.", allowed=vocab.ACCOUNT_TIERS),
        Column("potential", "float", "Yearly business potential.", unit="currency/year", minimum=0),
        Column("employees", "int", "Head count.", unit="people", minimum=0),
        Column("region", "str", "Country or region."),
    ),
)

CONTACTS = Table(
    "contacts",
    "People at customer accounts.",
    ("contact_id",),
    (
        _id("contact_id", "contact"),
        Column("account_id", "str", "Account the contact works for.", nullable=False,
               references="accounts.account_id"),
        Column("name", "str", "Display name (personal data)."),
        Column("email", "str", "E-mail address (personal data)."),
        Column("title", "str", "Job title, free text."),
        Column("seniority", "str", "Seniority level.", allowed=vocab.SENIORITIES),
        Column("buying_role", "str", "Usual role in buying decisions.", allowed=vocab.BUYING_ROLES),
        Column("birthday_month", "int", "Month of birth (personal data).", minimum=1, maximum=12),
        Column("birthday_day", "int", "Day of month of birth (personal data).", minimum=1, maximum=31),
    ),
)

INTERACTIONS = Table(
    "interactions",
    "Every touch between a rep and a contact, in either direction.",
    ("interaction_id",),
    (
        _id("interaction_id", "interaction"),
        Column("ts", "timestamp", "When it happened.", nullable=False, unit="UTC"),
        Column("rep_id", "str", "Our side.", nullable=False, references="reps.rep_id"),
        Column("contact_id", "str", "Their side.", nullable=False, references="contacts.contact_id"),
        Column("channel", "str", "Medium.", nullable=False, allowed=vocab.CHANNELS),
        Column("direction", "str", "outbound: the rep reached out; inbound: the contact did.",
               nullable=False, allowed=vocab.DIRECTIONS),
        Column("duration_min", "float", "Length of a call, meeting or visit.", unit="minutes", minimum=0),
        Column("depth", "int", "Depth ladder: 0 like, 1 greeting, 2 business, 3 consult, 4 personal advice.",
               allowed=vocab.DEPTHS),
        Column("occasion", "str", "Why: holiday or birthday greeting, inbound business request, referral.",
               allowed=vocab.OCCASIONS),
        Column("opportunity_id", "str", "Deal the touch was about, if any.",
               references="opportunities.opportunity_id"),
        Column("favor", "str", "given: we helped them; received: they helped us or we asked.",
               allowed=vocab.FAVORS),
        Column("with_executive", "bool", "One of our executives took part."),
    ),
)

OPPORTUNITIES = Table(
    "opportunities",
    "Deals, open or closed.",
    ("opportunity_id",),
    (
        _id("opportunity_id", "opportunity"),
        Column("account_id", "str", "Customer account; null when the source does not say.",
               references="accounts.account_id"),
        Column("owner_rep_id", "str", "Rep who owns the deal.", nullable=False, references="reps.rep_id"),
        Column("amount", "float", "Expected value while open (list price when that is all the source has).",
               unit="currency", minimum=0),
        Column("closed_amount", "float", "Value booked at close; null until closed. Never a feature.",
               unit="currency", minimum=0),
        Column("type", "str", "Kind of deal.", allowed=vocab.OPPORTUNITY_TYPES),
        Column("product", "str", "Product or offering, free text."),
        Column("created_at", "timestamp", "When the deal was opened; null when the source does not say.",
               unit="UTC"),
        Column("closed_at", "timestamp", "When it was won or lost; null while open.", unit="UTC"),
        Column("outcome", "str", "Final outcome, or open.", nullable=False, allowed=vocab.OUTCOMES),
        Column("competitors", "int", "Number of competitors known on the deal.", unit="count", minimum=0),
        Column("attributes", "str", "Extra source fields as a JSON object (custom fields)."),
    ),
)

OPPORTUNITY_STAGES = Table(
    "opportunity_stages",
    "Stage history: one row each time a deal entered a stage.",
    ("opportunity_id", "entered_at"),
    (
        Column("opportunity_id", "str", "The deal.", nullable=False,
               references="opportunities.opportunity_id"),
        Column("entered_at", "timestamp", "When the deal entered the stage.", nullable=False, unit="UTC"),
        Column("stage", "str", "Stage entered.", nullable=False, allowed=vocab.STAGES),
    ),
)

OPPORTUNITY_CONTACTS = Table(
    "opportunity_contacts",
    "The decision chain: each contact's role and stance on a deal.",
    ("opportunity_id", "contact_id"),
    (
        Column("opportunity_id", "str", "The deal.", nullable=False,
               references="opportunities.opportunity_id"),
        Column("contact_id", "str", "The contact.", nullable=False, references="contacts.contact_id"),
        Column("role", "str", "Role on this deal.", nullable=False, allowed=vocab.BUYING_ROLES),
        Column("stance", "str", "Stance toward us.", allowed=vocab.STANCES),
        Column("added_at", "timestamp", "When we learned of the contact's role; null means at creation.",
               unit="UTC"),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (REPS, ACCOUNTS, CONTACTS, OPPORTUNITIES, INTERACTIONS, OPPORTUNITY_STAGES, OPPORTUNITY_CONTACTS)
}
"""All tables, parents before children: the order in which they are validated and written."""
