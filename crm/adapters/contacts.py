"""A table of contacts as a CRM exports it (Salesforce, HubSpot, Pipedrive, a spreadsheet; CSV, TSV, .xlsx or
Parquet) -> the contract's contacts and accounts: who the people are, where they work, how senior they are,
their usual role in buying, their birthday.

Columns are found by name (:data:`NAMES`), else by a word of the name (:data:`WORDS`), else as the user
names them (``--column FIELD=NAME``). A contact's id is the export's id column, else its name ("First
Name" + "Last Name" when split), else its e-mail: the same ids ``--source activities`` gives the people
its activities name, so import contacts first and the activities join them (a name found at two companies
is ``name (company)`` in both). The account is the company's name as the export writes it (the ids
``--source deals`` gives), else the e-mail's domain. Seniority is read from a seniority column's words or
the job title's ("Chief Financial Officer", "VP Sales", "Head of IT"); the buying role from a role
column's words ("Economic Buyer", "Technical Evaluator"); a word not known leaves the field unknown, it is
not an error. A birthday is a date with or without a year ("1980-03-14", "03/14"). Other columns are not
kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from crm.adapters import headers
from crm.adapters.people import contact_ids, domains, own_accounts
from crm.validate import Report, ValidationError

NAMES: dict[str, tuple[str, ...]] = {
    "contact_id": ("contact_id", "id", "record_id", "hs_object_id", "person_id"),
    "name": ("name", "full_name", "contact_name", "contact", "person", "display_name"),
    "first_name": ("first_name", "firstname", "given_name", "forename"),
    "last_name": ("last_name", "lastname", "surname", "family_name"),
    "email": ("email", "email_address", "e_mail", "work_email", "primary_email"),
    "account": ("account_id", "account", "account_name", "company", "company_name", "associated_company",
                "organization", "organisation", "organization_name", "employer"),
    "title": ("title", "job_title", "jobtitle", "position", "job_position", "designation"),
    "seniority": ("seniority", "level", "management_level", "job_level", "hs_seniority"),
    "buying_role": ("buying_role", "role", "contact_role", "buyer_role", "buying_role_s", "hs_buying_role"),
    "birthday": ("birthdate", "birthday", "date_of_birth", "dob", "birth_date"),
}
WORDS: dict[str, tuple[str, ...]] = {
    "email": ("email", "mail"),
    "account": ("account", "company", "organization", "organisation", "employer"),
    "title": ("title", "position"),
    "seniority": ("seniority",),
    "buying_role": ("role",),
    "birthday": ("birthday", "birthdate", "birth"),
}
SENIORITY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vp", ("vp", "svp", "evp", "avp", "vice")),
    ("c_level", ("ceo", "cfo", "cto", "coo", "cio", "cmo", "cro", "cso", "chief", "president", "founder", "cofounder",
                 "chairman", "chairwoman", "suite", "csuite")),
    ("director", ("director", "head", "directeur")),
    ("manager", ("manager", "lead", "supervisor", "mgr")),
    ("individual", ("individual", "engineer", "analyst", "specialist", "associate", "assistant", "consultant",
                    "coordinator", "representative", "officer", "senior", "entry", "intern", "staff", "developer",
                    "accountant", "buyer", "administrator", "clerk", "executive")),
)
"""Words of a seniority or title and the contract's level they mean; the first level here that has a word
of the text wins ("Vice President" is vp, "Chief Financial Officer" c_level, "Senior Manager" manager,
"Account Executive" individual)."""
ROLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("decision_maker", ("decision", "economic", "sponsor", "approver", "signatory", "budget")),
    ("gatekeeper", ("gatekeeper", "procurement", "purchasing", "legal")),
    ("coach", ("coach", "champion")),
    ("evaluator", ("evaluator", "technical", "evaluation")),
    ("influencer", ("influencer", "recommender")),
    ("user", ("user", "end")),
)
"""Words of a buying role (Salesforce's contact roles, HubSpot's buying roles) and the contract's role."""
PARTIAL_DATE = re.compile(r"^\s*-{0,2}(\d{1,2})[/.-](\d{1,2})\s*$")
"""A birthday without a year: "03/14", "14.03", vCard's "--03-14"."""


def level_of(text: pd.Series, table: tuple[tuple[str, tuple[str, ...]], ...]) -> pd.Series:
    """The first level of ``table`` one of whose words is in the text (None where none is)."""
    keys = text.fillna("").astype(str).map(headers.key)
    return keys.map(lambda k: next((level for level, known in table if headers.has_word(k, known)), None))


def _birthdays(values: pd.Series) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Month and day of each birthday (a date with or without a year); and where a value is neither."""
    month = pd.Series(np.nan, index=values.index)
    day = pd.Series(np.nan, index=values.index)
    partial = values.fillna("").astype(str).str.extract(PARTIAL_DATE).astype(float)
    short = partial[0].notna()
    if short.any():
        first_is_day = headers.day_first(values[short].astype(str) + "/2000")
        m, d = (partial[1], partial[0]) if first_is_day else (partial[0], partial[1])
        month[short], day[short] = m[short], d[short]
    full = values.notna() & ~short
    if full.any():
        parsed = headers.dates(values[full])
        month[full], day[full] = parsed.dt.month, parsed.dt.day
    bad = (values.notna() & (month.isna() | ~month.between(1, 12) | ~day.between(1, 31))).to_numpy()
    return month, day, bad


def read_contacts(path: Path, columns: dict[str, str] | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Read the contacts file; a cell that cannot be read is reported as ``file:row:column`` and nothing is
    returned."""
    raw = headers.read_table(path)
    report = Report()
    cols = headers.columns(path, list(raw.columns), NAMES, WORDS, columns, report)
    if not {"contact_id", "name", "first_name", "last_name", "email"} & set(cols):
        report.note(str(path), 1, "", f"no column names the contact (an id, a name or an e-mail) in the header "
                    f"({', '.join(raw.columns)}); name it: --column name=NAME")
    if report:
        raise ValidationError(report)
    text = {f: raw[c].astype("string").str.strip().replace("", pd.NA) for f, c in cols.items()}
    nothing = pd.Series(pd.NA, index=raw.index, dtype="string")
    full = text.get("name", nothing)
    if "first_name" in cols or "last_name" in cols:
        joined = (text.get("first_name", nothing).fillna("") + " " + text.get("last_name", nothing).fillna("")
                  ).str.strip().replace("", pd.NA)
        full = full.fillna(joined)
    email = text.get("email", nothing).str.lower()
    account = text.get("account", nothing).fillna(domains(email))
    person = text.get("contact_id", nothing).fillna(full).fillna(email)
    report.add(str(path), raw, person.isna().to_numpy(), cols.get("contact_id", cols.get("name", "name")),
               "a contact without an id, a name or an e-mail")
    month, day, bad = (_birthdays(text["birthday"]) if "birthday" in cols
                       else (pd.Series(np.nan, index=raw.index), pd.Series(np.nan, index=raw.index), None))
    if bad is not None:
        report.add(str(path), raw, bad, cols["birthday"], "{value!r} is not a birthday (a date, or month and day)")
    if report:
        raise ValidationError(report)
    ids = contact_ids(person, account) if "contact_id" not in cols else person.astype(object)
    report.add(str(path), raw, ids.duplicated(keep=False).to_numpy(), cols.get("contact_id", "name"),
               "{value!r}: the same contact twice")
    if report:
        raise ValidationError(report)
    seniority = level_of(text.get("seniority", nothing), SENIORITY_WORDS)
    if "title" in cols:
        seniority = seniority.fillna(level_of(text["title"], SENIORITY_WORDS))
    contacts = pd.DataFrame({
        "contact_id": ids.to_numpy(), "account_id": account.fillna(own_accounts(person)).to_numpy(dtype=object),
        "name": full.to_numpy(dtype=object), "email": email.to_numpy(dtype=object),
        "title": text.get("title", nothing).to_numpy(dtype=object), "seniority": seniority.to_numpy(dtype=object),
        "buying_role": level_of(text.get("buying_role", nothing), ROLE_WORDS).to_numpy(dtype=object),
        "birthday_month": month.to_numpy(), "birthday_day": day.to_numpy()})
    given = {"name": ("name", "first_name", "last_name"), "email": ("email",), "title": ("title",),
             "seniority": ("seniority", "title"), "buying_role": ("buying_role",),
             "birthday_month": ("birthday",), "birthday_day": ("birthday",)}
    contacts = contacts[["contact_id", "account_id", *[c for c, fields in given.items() if set(fields) & set(cols)]]]
    frames = {"accounts": pd.DataFrame({"account_id": sorted(set(contacts["account_id"]))}), "contacts": contacts}
    return frames, dict.fromkeys(frames, str(path))
