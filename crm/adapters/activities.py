"""A table of activities as a CRM exports it (Salesforce tasks and events, HubSpot activities, Pipedrive,
Zoho; CSV, TSV, .xlsx or Parquet) -> contract tables: the touches between our reps and their contacts.

Unlike a communication log (``crm.adapters.email``, where everyone is a rep and a contact), an activity
export names our side and theirs in different columns: the rep (the activity's owner or assignee), the
contact and their company. Columns are found by name (:data:`NAMES`), else by a word of the name
(:data:`WORDS`, "Activity - Assigned to user", "Company / Account"), else as the user names them
(``--column FIELD=NAME``). Rep and account ids are the names the export uses, as in ``--source deals``:
an export of activities and one of deals from the same CRM share their reps and accounts.

What each row says is read from its words: the channel from the type ("Call", "EMAIL", "Meeting", "Lunch",
HubSpot's ``INCOMING_EMAIL``), the direction from a direction column ("Inbound", "Incoming") or the
type, else outbound (an activity the rep logged); an occasion from the subject's words ("Happy birthday",
"Season's greetings", "Referral"; "Request: pricing" on an inbound row). Rows that are not touches —
tasks, notes, deadlines, internal calls, activities not done yet, activities naming no contact — are
skipped and counted by reason (:data:`SKIPPED`); nothing else is dropped: a row that cannot be read is
reported as ``file:row:column`` and nothing is written. Depth, favors and executives are not in such
exports and stay unknown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crm.adapters import headers
from crm.adapters.deals import UNASSIGNED
from crm.adapters.people import contact_ids, domains, own_accounts
from crm.validate import Report, ValidationError

NAMES: dict[str, tuple[str, ...]] = {
    "interaction_id": ("interaction_id", "activity_id", "task_id", "event_id", "engagement_id", "record_id", "id"),
    "rep": ("rep_id", "rep", "assigned", "assigned_to", "activity_assigned_to", "activity_owner", "owner",
            "assigned_to_user", "sales_rep", "salesperson", "user", "created_by"),
    "contact": ("contact_id", "contact", "contact_name", "contact_person", "associated_contact", "name", "who",
                "person", "lead", "attendee", "participant"),
    "email": ("email", "contact_email", "email_address", "e_mail"),
    "phone": ("phone", "number", "phone_number", "contact_phone", "mobile", "telephone"),
    "account": ("account_id", "account", "account_name", "company", "company_name", "company_account",
                "associated_company", "organization", "organisation", "customer", "client"),
    "time": ("ts", "date", "activity_date", "activity_date_time", "due_date", "date_time", "datetime", "timestamp",
             "start", "start_date", "start_date_time", "start_datetime", "completed_date", "created_date", "when"),
    "clock": ("time", "due_time", "start_time", "activity_time"),
    "channel": ("channel", "task_subtype", "event_subtype", "activity_type", "type", "task_type", "event_type",
                "subtype", "medium", "kind"),
    "direction": ("direction", "call_direction", "email_direction", "call_type", "inbound_outbound"),
    "duration": ("duration", "call_duration", "duration_min", "duration_minutes", "duration_sec", "length"),
    "status": ("status", "done", "completed", "is_done", "activity_status", "state"),
    "subject": ("subject", "title", "activity_subject", "topic"),
}
WORDS: dict[str, tuple[str, ...]] = {
    "rep": ("assigned", "owner", "user", "rep", "salesperson", "agent"),
    "contact": ("contact", "person", "lead", "who", "attendee", "participant"),
    "email": ("email",),
    "phone": ("phone", "number", "mobile"),
    "account": ("account", "company", "organization", "organisation", "customer", "client"),
    "time": ("date", "timestamp", "datetime", "when", "start", "due"),
    "clock": ("time",),
    "channel": ("type", "subtype", "channel", "medium"),
    "direction": ("direction",),
    "duration": ("duration", "length"),
    "status": ("done", "status", "completed"),
    "subject": ("subject", "title", "topic"),
}
CHANNEL_WORDS: dict[str, str] = {
    **dict.fromkeys(("like", "comment", "social", "post", "share"), "social"),
    **dict.fromkeys(("video", "zoom", "teams", "webex", "meet", "videocall"), "video_call"),
    **dict.fromkeys(("visit", "onsite", "site"), "visit"),
    **dict.fromkeys(("webinar", "seminar", "tradeshow", "trade", "expo"), "event"),
    **dict.fromkeys(("meeting", "meetings", "appointment", "demo", "presentation", "lunch", "dinner", "breakfast",
                     "coffee", "event"), "meeting"),
    **dict.fromkeys(("call", "calls", "phone", "voice", "dial", "callback"), "call"),
    **dict.fromkeys(("email", "mail", "emails", "inmail", "e"), "email"),
    **dict.fromkeys(("sms", "text", "message", "messages", "whatsapp", "wechat", "chat", "linkedin", "im"),
                    "message"),
}
"""Words of an activity's type and the contract channel they mean; where a type holds several, the one
first here decides ("Video call" is a video call, "LinkedIn like" social, "Site visit" a visit). An
"Event" is a calendar entry in Salesforce and Zoho: a meeting; a trade show or a webinar is an event."""
NOT_TOUCHES = ("task", "todo", "to_do", "note", "notes", "deadline", "reminder", "internal")
"""Words of a type or direction that mean the row is not a touch with the contact (skipped, counted)."""
INBOUND = ("inbound", "incoming", "received", "in", "missed")
"""Words of a direction column that mean the contact reached us (a missed call was theirs); a type says it
with one of :data:`INCOMING` ("INCOMING_EMAIL"), not with a bare "in" ("Check in call")."""
INCOMING = ("inbound", "incoming", "received", "missed")
OUTBOUND = ("outbound", "outgoing", "sent", "out")
NOT_DONE = ("to_do", "todo", "open", "not_started", "planned", "scheduled", "pending", "in_progress", "false", "no",
            "0", "deferred", "waiting", "cancelled", "canceled", "no_show", "not_done", "undone")
DONE = ("done", "completed", "complete", "held", "finished", "true", "yes", "1", "closed", "sent", "attended",
        "logged", "received")
OCCASION_WORDS: dict[str, tuple[str, ...]] = {
    "birthday": ("birthday", "bday"),
    "holiday": ("holiday", "holidays", "christmas", "xmas", "new_year", "season_s_greetings", "festival", "greetings",
                "mid_autumn", "lunar", "diwali", "eid", "thanksgiving", "hanukkah"),
    "referral": ("referral", "referred", "introduction"),
    "business_request": ("request", "rfq", "rfp", "rfi", "inquiry", "enquiry", "quote_request"),
}
"""Words (or word pairs) of a subject that name the occasion: a greeting, a referral, or (on an inbound row
only) the contact's business request ("Request: pricing", "RFQ", "Inquiry")."""
SKIPPED = {"not_a_touch": "tasks, notes, deadlines and internal activities",
           "not_done": "activities not done yet",
           "no_contact": "activities naming no contact"}


def _words(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).map(lambda s: headers.key(s).split("_"))


def _first(words: pd.Series, table: dict[str, str], by_table: bool = False) -> pd.Series:
    """The value of the first word of each row found in ``table`` (None where none is); ``by_table``: the
    word that comes first in ``table``, not in the row."""
    if by_table:
        return words.map(lambda ws: next((v for w, v in table.items() if w in ws), None))
    return words.map(lambda ws: next((table[w] for w in ws if w in table), None))


def _has(words: pd.Series, known: tuple[str, ...]) -> np.ndarray:
    """Whether a row's words (single, or a pair joined by ``_``) hold one of ``known``."""
    found = set(known)

    def hit(ws: list[str]) -> bool:
        return any(w in found for w in ws) or any(f"{a}_{b}" in found for a, b in zip(ws, ws[1:], strict=False))

    return words.map(hit).to_numpy(dtype=bool)


def read_activities(path: Path, columns: dict[str, str] | None = None, channel: str | None = None,
                    rep: str | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, str], dict[str, int]]:
    """Read the activities file; returns the contract tables, their sources and the rows skipped per reason
    (:data:`SKIPPED`). ``channel``: the channel of rows whose type names none (else such rows are an error);
    ``rep``: the rep of rows that name none (a rep's own call log names only the other side), else
    ``unassigned``."""
    raw = headers.read_table(path)
    report = Report()
    cols = headers.columns(path, list(raw.columns), NAMES, WORDS, columns, report)
    if "time" not in cols and "clock" in cols:  # one column "Time" holds the whole timestamp
        cols["time"] = cols.pop("clock")
    for field, what in (("time", "when it happened (a date)"), ("contact", "the contact (a name, id or e-mail)")):
        if field not in cols and not (field == "contact" and ("email" in cols or "phone" in cols)):
            report.note(str(path), 1, "", f"no column says {what} in the header ({', '.join(raw.columns)}); name "
                        f"it: --column {field}=NAME")
    if "channel" not in cols and channel is None:
        report.note(str(path), 1, "", f"no column says the activity's type (call, email, meeting…) in the header "
                    f"({', '.join(raw.columns)}); name it (--column channel=NAME) or give one for every row "
                    "(--channel)")
    if report:
        raise ValidationError(report)
    text = {f: raw[c].astype("string").str.strip().replace("", pd.NA) for f, c in cols.items()}
    nothing = pd.Series(pd.NA, index=raw.index, dtype="string")
    type_words = _words(text.get("channel", nothing))
    direction_words = _words(text.get("direction", nothing))
    status_words = _words(text.get("status", nothing))
    # who: the contact's name or id, else their e-mail, else their number (an unknown caller)
    contact = text.get("contact", nothing).fillna(text.get("email", nothing)).fillna(text.get("phone", nothing))
    skip = {"not_a_touch": _has(type_words, NOT_TOUCHES) | _has(direction_words, ("internal",)),
            "not_done": _has(status_words, NOT_DONE),
            "no_contact": contact.isna().to_numpy()}
    skipped = np.zeros(len(raw), dtype=bool)
    counts: dict[str, int] = {}
    for reason, rows in skip.items():
        rows = rows & ~skipped
        counts[reason] = int(rows.sum())
        skipped |= rows
    keep = ~skipped

    stamp = text["time"] if "clock" not in cols else (text["time"] + " " + text["clock"].fillna("")).str.strip()
    when = headers.dates(stamp)
    report.add(str(path), raw, keep & when.isna().to_numpy(), cols["time"], "{value!r} is not a date")
    # the type's words, else the subject's ("Call: pricing", as Salesforce names logged calls)
    channels = _first(type_words, CHANNEL_WORDS, by_table=True).fillna(
        _first(_words(text.get("subject", nothing)), CHANNEL_WORDS))
    if channel is not None:
        channels = channels.fillna(channel)
    if "channel" in cols:
        report.add(str(path), raw, keep & channels.isna().to_numpy(), cols["channel"],
                   f"{{value!r}} names no channel ({', '.join(sorted(set(CHANNEL_WORDS.values())))}) and is not a "
                   f"task or note; give the channel of such rows with --channel")
    inbound = _has(direction_words, INBOUND) | (_has(type_words, INCOMING) & ~_has(direction_words, OUTBOUND))
    if "status" in cols:
        unknown = text["status"].notna().to_numpy() & ~_has(status_words, DONE) & ~_has(status_words, NOT_DONE)
        report.add(str(path), raw, keep & unknown, cols["status"],
                   f"{{value!r}} says neither done ({', '.join(DONE[:6])}…) nor not done ({', '.join(NOT_DONE[:6])}…)")
    minutes = None
    if "duration" in cols:
        minutes = headers.minutes(raw[cols["duration"]], cols["duration"])
        unit = "minutes" if headers.in_minutes(cols["duration"]) else "seconds"
        report.add(str(path), raw, keep & raw[cols["duration"]].notna().to_numpy() & np.isnan(minutes),
                   cols["duration"], f"{{value!r}} is neither {unit} nor [h:]mm:ss")
        minutes = np.where(np.isinf(minutes), np.nan, minutes)
    line = pd.Series(np.arange(1, len(raw) + 1), index=raw.index).astype(str)
    ids = text["interaction_id"] if "interaction_id" in cols else path.stem + ":" + line
    report.add(str(path), raw, keep & ids.isna().to_numpy(), cols.get("interaction_id", "id"), "missing id")
    if report:
        raise ValidationError(report)

    rows = raw.index[keep]
    reps = text.get("rep", nothing).fillna(rep or UNASSIGNED)[rows]
    email = text.get("email", nothing)[rows]
    account = text.get("account", nothing)[rows]
    account = account.fillna(domains(email))
    people_ids = contact_ids(contact[rows], account)
    # a contact's account: the one its rows name most, else its own (the export names no company)
    known = pd.DataFrame({"contact_id": people_ids, "account_id": account}).dropna()
    of_contact = (known.groupby(["contact_id", "account_id"]).size().rename("n").reset_index()
                  .sort_values(["contact_id", "n", "account_id"], ascending=[True, False, True])
                  .drop_duplicates("contact_id").set_index("contact_id")["account_id"])
    people = pd.Index(sorted(set(people_ids)))
    contact_account = of_contact.reindex(people).fillna(pd.Series(own_accounts(people), index=people))
    contacts = pd.DataFrame({"contact_id": people, "account_id": contact_account.to_numpy()})
    emails = pd.DataFrame({"contact_id": people_ids, "email": email}).dropna().drop_duplicates("contact_id")
    if len(emails):
        contacts = contacts.merge(emails, on="contact_id", how="left")
    occasion = pd.Series(None, index=rows, dtype=object)
    if "subject" in cols:
        subject_words = _words(text["subject"][rows])
        for name, words in OCCASION_WORDS.items():
            found = _has(subject_words, words) & (inbound[keep] if name == "business_request" else True)
            occasion = occasion.where(occasion.notna() | ~found, name)
    interactions = pd.DataFrame({
        "interaction_id": ids[rows].to_numpy(), "ts": pd.DatetimeIndex(when[rows]).as_unit("us"),
        "rep_id": reps.to_numpy(), "contact_id": people_ids.to_numpy(), "channel": channels[rows].to_numpy(),
        "direction": np.where(inbound[keep], "inbound", "outbound"), "occasion": occasion.to_numpy()})
    if minutes is not None:
        interactions["duration_min"] = minutes[keep]
    frames = {"reps": pd.DataFrame({"rep_id": sorted(set(reps))}),
              "accounts": pd.DataFrame({"account_id": sorted(set(contacts["account_id"]))}),
              "contacts": contacts, "interactions": interactions}
    return frames, dict.fromkeys(frames, str(path)), {r: n for r, n in counts.items() if n}

