"""Mailboxes as email clients export them — an mbox file (Google Takeout, Thunderbird, Apple Mail) or a
folder of ``.eml`` files — as records of who wrote to whom when, for ``crm.adapters.email``.

Each message gives one record per distinct address in To and Cc (Bcc is rarely kept), from the From
address; addresses are lower-cased. A record's id is the message's Message-ID and the recipient, so the
same message found in two exports (Sent and Inbox) is one record. A message without a readable Date or
From address is reported as ``file:message:header`` (the message's number in an mbox, 1 in an ``.eml``);
one without recipients (a draft) gives no record.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import mailbox
from collections.abc import Iterator
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

import pandas as pd

from crm.validate import Report

COLUMNS = ("src", "dst", "time", "record")


def is_mailbox(path: Path) -> bool:
    """An mbox file (by its suffix or its first line) or a folder holding ``.eml`` files."""
    if path.is_dir():
        return any(path.glob("*.eml"))
    if path.suffix.lower() in (".mbox", ".mbx"):
        return True
    with path.open("rb") as fh:
        return fh.readline().startswith(b"From ")


def _messages(path: Path) -> Iterator[tuple[str, int, Message]]:
    """(file, the message's number in it, the message)."""
    if path.is_dir():
        for eml in sorted(path.glob("*.eml")):
            with eml.open("rb") as fh:
                yield str(eml), 1, email.message_from_binary_file(fh, policy=email.policy.compat32)
        return
    box = mailbox.mbox(path, create=False)
    try:
        for i, message in enumerate(box, start=1):
            yield str(path), i, message
    finally:
        box.close()


def read_mailbox(path: Path) -> tuple[pd.DataFrame, Report]:
    """The records (``src``, ``dst``, ``time`` as ISO text in UTC, ``record``) and the problems found."""
    report = Report()
    rows: list[tuple[str, str, str, str]] = []
    for source, number, message in _messages(path):
        senders = [a.lower() for _, a in getaddresses([str(v) for v in message.get_all("From", [])]) if "@" in a]
        date = message.get("Date")
        when: dt.datetime | None = None
        try:
            when = parsedate_to_datetime(str(date)) if date else None
        except (TypeError, ValueError, IndexError):
            when = None
        if when is None:
            report.note(source, number, "Date", f"{date!r} is not a date")
        if not senders:
            report.note(source, number, "From", "no sender address")
        if when is None or not senders:
            continue
        when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
        heads = [str(v) for h in ("To", "Cc") for v in message.get_all(h, [])]
        recipients = dict.fromkeys(a.lower() for _, a in getaddresses(heads) if "@" in a)
        message_id = str(message.get("Message-ID") or "").strip().strip("<>") or f"{Path(source).stem}:{number}"
        rows += [(senders[0], r, when.isoformat(), f"{message_id}:{r}") for r in recipients if r != senders[0]]
    return pd.DataFrame(rows, columns=list(COLUMNS), dtype=str), report
