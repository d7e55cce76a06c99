"""Who the people of a CRM export are, the same way in every adapter that names them (contacts,
activities): their ids, and their account where the export names no company."""

from __future__ import annotations

import pandas as pd

NO_ACCOUNT = "(no account) "
"""The prefix of the account of a contact whose export names neither a company nor an e-mail domain: an
account of its own, so that no two such contacts share account-level facts."""


def contact_ids(contact: pd.Series, account: pd.Series) -> pd.Series:
    """The export's contact names as ids; a name found at several companies ("John Smith" at two
    accounts) is one contact per company, named ``name (company)``."""
    pairs = pd.DataFrame({"c": contact, "a": account})
    shared = pairs.dropna().groupby("c")["a"].nunique()
    names = set(shared[shared > 1].index)
    if not names:
        return contact.astype(object)
    split = contact.isin(names) & account.notna()
    return contact.where(~split, contact + " (" + account + ")").astype(object)


def domains(emails: pd.Series) -> pd.Series:
    """The lower-cased domain of each e-mail address (NA where there is none): a contact's company when the
    export names none."""
    return emails.astype("string").str.rsplit("@", n=1).str[1].str.lower()


def own_accounts(people: pd.Series | pd.Index) -> pd.Series | pd.Index:
    """The account of each contact that has none known (:data:`NO_ACCOUNT`)."""
    return NO_ACCOUNT + people
