"""Who is on each deal's buying committee, as a CRM exports it (Salesforce's Opportunity Contact Roles,
HubSpot's deal–contact associations with buying roles, a spreadsheet) -> the contract's
``opportunity_contacts``: the decision chain the relationship label and the engine read.

Columns are found by name (:data:`NAMES`), else by a word of the name, else as the user names them
(``--column FIELD=NAME``). The deal is named by the id ``--source deals`` gave it, the contact by the id
``--source contacts`` gave them (an id column, else the name, ``name (company)`` where the file finds one
name at two companies, else the e-mail), so import the deals and the contacts first; a deal or contact not in
the store is reported and nothing is written. The role is read from its words as contacts' roles are
(``crm.adapters.contacts.ROLE_WORDS``: "Economic Buyer", "Technical Evaluator"…); a row whose role names
none of them ("Other", empty) is skipped and counted, since the contract's chain needs a role. A stance
("Champion", "Blocker"…) and the day the role was recorded are kept where the export has them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crm.adapters import headers
from crm.adapters.contacts import ROLE_WORDS, level_of
from crm.adapters.people import contact_ids
from crm.validate import Report, ValidationError

NAMES: dict[str, tuple[str, ...]] = {
    "opportunity_id": ("opportunity_id", "opportunity", "deal_id", "deal", "opportunity_name", "deal_name"),
    "contact_id": ("contact_id", "contact", "contact_name", "name", "person"),
    "email": ("email", "contact_email", "email_address"),
    "account": ("account", "account_name", "company", "company_name", "organization", "organisation"),
    "role": ("role", "contact_role", "buying_role", "role_name"),
    "stance": ("stance", "attitude", "sentiment", "relationship_status"),
    "added_at": ("added_at", "created_date", "created_at", "date_added", "created"),
}
WORDS: dict[str, tuple[str, ...]] = {
    "opportunity_id": ("opportunity", "deal"),
    "contact_id": ("contact", "person"),
    "email": ("email",),
    "account": ("account", "company", "organization", "organisation"),
    "role": ("role",),
    "stance": ("stance", "attitude", "sentiment"),
    "added_at": ("created", "added"),
}
STANCE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("blocker", ("blocker", "opponent", "detractor", "against")),
    ("skeptic", ("skeptic", "sceptic", "skeptical", "sceptical", "doubtful")),
    ("champion", ("champion", "advocate", "sponsor")),
    ("supporter", ("supporter", "supportive", "positive", "ally")),
    ("neutral", ("neutral", "unknown_stance", "indifferent")),
)
"""Words of a stance and the contract's stance they mean."""
SKIPPED = {"no_role": "contacts on deals without a known buying role"}


def read_deal_contacts(path: Path, columns: dict[str, str] | None = None
                       ) -> tuple[dict[str, pd.DataFrame], dict[str, str], dict[str, int]]:
    """Read the file; returns the contract table, its source and the rows skipped per reason (:data:`SKIPPED`)."""
    raw = headers.read_table(path)
    report = Report()
    cols = headers.columns(path, list(raw.columns), NAMES, WORDS, columns, report)
    for field, what in (("opportunity_id", "the deal"), ("role", "the contact's role on the deal")):
        if field not in cols:
            report.note(str(path), 1, "", f"no column says {what} in the header ({', '.join(raw.columns)}); "
                        f"name it: --column {field}=NAME")
    if "contact_id" not in cols and "email" not in cols:
        report.note(str(path), 1, "", f"no column names the contact in the header ({', '.join(raw.columns)}); "
                    "name it: --column contact_id=NAME")
    if report:
        raise ValidationError(report)
    text = {f: raw[c].astype("string").str.strip().replace("", pd.NA) for f, c in cols.items()}
    nothing = pd.Series(pd.NA, index=raw.index, dtype="string")
    person = text.get("contact_id", nothing).fillna(text.get("email", nothing).str.lower())
    report.add(str(path), raw, person.isna().to_numpy(), cols.get("contact_id", cols.get("email", "contact")),
               "no contact named")
    report.add(str(path), raw, text["opportunity_id"].isna().to_numpy(), cols["opportunity_id"], "no deal named")
    added = headers.dates(text["added_at"]) if "added_at" in cols else None
    if added is not None:
        report.add(str(path), raw, (text["added_at"].notna() & added.isna()).to_numpy(), cols["added_at"],
                   "{value!r} is not a date")
    if report:
        raise ValidationError(report)
    role = level_of(text["role"], ROLE_WORDS)
    keep = role.notna().to_numpy()
    ids = contact_ids(person, text.get("account", nothing)) if "account" in cols else person.astype(object)
    chain = pd.DataFrame({"opportunity_id": text["opportunity_id"].to_numpy(dtype=object),
                          "contact_id": ids.to_numpy(dtype=object), "role": role.to_numpy(dtype=object)})
    if "stance" in cols:
        chain["stance"] = level_of(text["stance"], STANCE_WORDS).to_numpy(dtype=object)
    if added is not None:
        chain["added_at"] = added
    chain = chain[keep]
    twice = chain.duplicated(["opportunity_id", "contact_id"], keep=False).to_numpy()
    report.add(str(path), raw[keep], twice, cols["opportunity_id"], "the same contact twice on one deal")
    if report:
        raise ValidationError(report)
    skipped = int((~keep).sum())
    frames = {"opportunity_contacts": chain.reset_index(drop=True)}
    return frames, dict.fromkeys(frames, str(path)), {"no_role": skipped} if skipped else {}

