"""Communication logs -> contract tables: email archives (KONECT ``src dst [weight] unix_time``, SNAP
``src dst seconds``), mailboxes (an mbox, or a folder of ``.eml`` files: ``crm.adapters.mailbox``) and any
log of who reached whom when (calls, messages, emails) with a header row, as CSV, TSV or ``.xlsx``.

Each person becomes both a rep and a contact: of one ``internal`` account, or, where every person is an
e-mail address, of an account per domain (``acme.com``), with the address as the contact's e-mail. Each
record becomes two interactions: outbound for the sender's pair (sender as rep, recipient as contact) and
inbound for the recipient's pair.

Without a header the columns are positional (``src dst [weight] time``); with one they are found by name
(:data:`NAMES`: ``from``/``caller``/``sender``…, ``to``/``callee``/``recipient``…, ``time``/``timestamp``/
``date``…, optionally ``duration`` and ``channel``/``type`` per row, whose values map to the contract's
channels by :data:`CHANNEL_WORDS`), else by a word in the name (:data:`WORDS`: "Caller Number", "Call
Date/Time", "Duration (sec)"), or as the caller names them (``columns``). A duration is in seconds unless
its name says minutes, as a number or as ``[h:]mm:ss``; a negative one marks a missed call (kept, without
a duration). Times are seconds since ``epoch`` (the Unix epoch by default: SNAP's relative seconds then
land in 1970, which is honest about what the file says), milliseconds when they are too large for seconds,
or dates and timestamps (UTC unless they say otherwise). Depth and occasion are unknown and left null.
"""

from __future__ import annotations

import csv
from email.utils import getaddresses
from pathlib import Path

import numpy as np
import pandas as pd

from crm.adapters import headers
from crm.adapters.mailbox import COLUMNS, is_mailbox, read_mailbox
from crm.adapters.people import domains as people_domains
from crm.validate import Report, ValidationError

NAMES: dict[str, tuple[str, ...]] = {
    "src": ("src", "source", "from", "from_id", "sender", "caller", "caller_id", "origin", "a"),
    "dst": ("dst", "target", "to", "to_id", "recipient", "receiver", "callee", "callee_id", "destination", "b"),
    "cc": ("cc", "copy", "carbon_copy"),
    "bcc": ("bcc", "blind_copy"),
    "time": ("time", "ts", "timestamp", "datetime", "date", "date_time", "when", "start", "start_time", "started_at",
             "call_time", "sent", "sent_at", "unix_time", "seconds"),
    "duration": ("duration", "duration_s", "duration_sec", "duration_seconds", "length_s"),
    "channel": ("channel", "type", "kind", "medium", "event_type"),
}
CHANNEL_WORDS: dict[str, str] = {
    "email": "email", "mail": "email", "e-mail": "email",
    "call": "call", "voice": "call", "phone": "call", "voice_call": "call", "phone_call": "call",
    "video": "video_call", "video_call": "video_call", "videocall": "video_call",
    "sms": "message", "text": "message", "message": "message", "mms": "message", "chat": "message", "im": "message",
    "meeting": "meeting", "visit": "visit", "social": "social", "event": "event",
}
WORDS: dict[str, tuple[str, ...]] = {
    "src": ("from", "caller", "calling", "sender", "source", "origin"),
    "dst": ("to", "callee", "called", "recipient", "receiver", "destination", "target"),
    "time": ("time", "timestamp", "datetime", "date", "when", "start", "started", "sent"),
    "duration": ("duration", "length"),
}
"""A word of a header name that names the field when no name of :data:`NAMES` matches whole (a column
whose name only mentions a type, like "Call Type", is not taken for the channel: its values may be
directions)."""
MILLISECONDS_FROM = 1e11
"""A numeric time above this is in milliseconds (1e11 seconds is the year 5138)."""


def _read(path: Path, given: dict[str, str] | None = None) -> tuple[pd.DataFrame, dict[str, str], Report]:
    """The raw records and which column holds each field (by name, or by position without a header);
    ``given``: field -> column name, as the caller names them (the file then has a header)."""
    report = Report()
    encoding = headers.encoding_of(path)
    with path.open(newline="", encoding=encoding, errors="replace") as f:
        lines = [line for _, line in zip(range(50), f, strict=False) if line.strip() and not line.startswith("%")]
    first = lines[0] if lines else ""
    try:
        dialect = csv.Sniffer().sniff("".join(lines[:20]), delimiters=",;\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = r"\s+"
    tokens = [t.strip().strip('"') for t in (first.split(sep) if sep != r"\s+" else first.split())]
    if given or len(headers.find(tokens, NAMES, WORDS)) >= 2:  # a header row
        raw = pd.read_csv(path, sep=sep, comment="%", dtype=str, skipinitialspace=True, encoding=encoding,
                          engine="python" if sep == r"\s+" else "c")
        raw.columns = [str(c).strip() for c in raw.columns]
        return raw, _by_header(path, list(raw.columns), given, report), report
    raw = pd.read_csv(path, sep=sep, comment="%", header=None, dtype=str, encoding=encoding,
                      engine="python" if sep == r"\s+" else "c")
    if raw.shape[1] not in (3, 4):
        report.note(str(path), 0, "", f"expected 3 or 4 columns (src dst [weight] time) or a header row naming "
                    f"them, found {raw.shape[1]} columns and no header")
        return raw, {}, report
    return raw, {"src": raw.columns[0], "dst": raw.columns[1], "time": raw.columns[-1]}, report


def _by_header(path: Path, names: list[str], given: dict[str, str] | None, report: Report) -> dict[str, str]:
    """Which column of a header holds each field (``crm.adapters.headers``); the problems go to ``report``,
    among them the fields every log needs that the header does not hold."""
    cols = headers.columns(path, names, NAMES, WORDS, given, report)
    missing = [f for f in ("src", "dst", "time") if f not in cols]
    if missing:
        report.note(str(path), 1, "", f"no column for {', '.join(missing)} in the header ({', '.join(names)}); "
                    "accepted names: " + "; ".join(f"{f}: {', '.join(NAMES[f][:4])}…" for f in missing) +
                    "; or name them: --column " + " --column ".join(f"{f}=NAME" for f in missing))
    return cols


def _times(values: pd.Series, epoch: str) -> pd.Series:
    """UTC timestamps from seconds (or milliseconds) since ``epoch``, or from dates; NaT where neither."""
    numeric = pd.to_numeric(values, errors="coerce")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    is_number = numeric.notna()
    if is_number.any():
        values_ = numeric[is_number].to_numpy(dtype=np.float64)
        seconds = np.where(np.abs(values_) > MILLISECONDS_FROM, values_ / 1000, values_)
        out[is_number] = pd.Timestamp(epoch, tz="UTC") + pd.to_timedelta(seconds, unit="s")
    if not is_number.all():
        out[~is_number] = headers.dates(values[~is_number])
    return out


def _written_by_a_mail_client(src: pd.Series, dst: pd.Series) -> bool:
    """Whether the people are written as a mail client exports them: "Jo Park <jo@acme.com>", or several
    recipients in one cell ("jo@acme.com; li@globex.com")."""
    return bool(src.str.contains("<.*@", regex=True).any() or dst.str.contains("<.*@", regex=True).any()
                or dst.str.contains(r"@[^,;]*[,;]\s*\S", regex=True).any())


def _per_recipient(src: pd.Series, heads: list[pd.Series], line: np.ndarray
                   ) -> tuple[np.ndarray, pd.Series, pd.Series, np.ndarray]:
    """One record per distinct recipient address of a row (To, Cc, Bcc), from the sender's address, both
    lower-cased as the mailbox reader does (``crm.adapters.mailbox``): the rows they come from, the
    senders, the recipients and the records' names (the row's and the recipient)."""
    at: list[int] = []
    senders: list[str] = []
    recipients: list[str] = []
    for i, (sender, *cells) in enumerate(zip(src.fillna(""), *(h.fillna("") for h in heads), strict=True)):
        found = [a.lower() for _, a in getaddresses([sender]) if "@" in a]
        who = found[0] if found else sender
        cells = [c.replace(";", ",") for c in cells if c]
        for address in dict.fromkeys(a.lower() if "@" in a else a for _, a in getaddresses(cells) if a):
            if address != who:
                at.append(i)
                senders.append(who)
                recipients.append(address)
    rows = np.array(at, dtype=np.int64)
    names = np.char.add(np.char.add(line[rows].astype(str), ":"), np.array(recipients, dtype=str)) if len(rows) \
        else np.array([], dtype=str)
    return rows, pd.Series(senders, dtype=object), pd.Series(recipients, dtype=object), names


def read_email_archive(path: Path, epoch: str = "1970-01-01", channel: str = "email",
                       columns: dict[str, str] | None = None, namespace: str | None = None
                       ) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Parse the log; malformed lines are reported as ``file:row:column`` and nothing is returned.
    ``channel``: the channel of records whose log does not say (``email`` for an email archive);
    ``columns``: field (src, dst, time, duration, channel) -> the header's name for it, where the names
    are not recognised; ``namespace``: the prefix of its people's ids (default: the file's name), the same
    for several logs of one organisation so that a person is one rep and contact across them."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if is_mailbox(path):  # an mbox or a folder of .eml files
        raw, report = read_mailbox(path)
        cols = {c: c for c in COLUMNS}
        channel = "email"
    elif path.suffix.lower() in headers.SPREADSHEETS:  # a header row is a spreadsheet's first row
        raw, report = headers.read_sheet(path), Report()
        cols = _by_header(path, list(raw.columns), columns, report)
    elif path.is_file():
        raw, cols, report = _read(path, columns)
    else:
        raise FileNotFoundError(f"{path}: neither a log file nor a folder of .eml files")
    if report:
        raise ValidationError(report)
    src, dst = raw[cols["src"]].str.strip(), raw[cols["dst"]].str.strip()
    copies = [raw[cols[c]].str.strip() for c in ("cc", "bcc") if c in cols]
    when = _times(raw[cols["time"]], epoch)
    no_recipient = dst.isna() | (dst == "")
    for copy in copies:
        no_recipient &= copy.isna() | (copy == "")
    for name, empty in (("src", src.isna() | (src == "")), ("dst", no_recipient)):
        report.add(str(path), raw, empty.to_numpy(), name, "missing person id")
    bad_time = when.isna().to_numpy()
    if bad_time[:1].all() and len(bad_time) > 1 and not bad_time[1:].any():  # a header of unknown names
        report.note(str(path), 1, "", "the first line looks like a header whose column names are not known: name "
                    "the columns, e.g. from,to,time[,duration,channel] (see `guanxi import --help`)")
        raise ValidationError(report)
    report.add(str(path), raw, bad_time, "time",
               lambda r: f"{r[cols['time']]!r} is neither seconds since {epoch} nor a date")
    channels = pd.Series(channel, index=raw.index, dtype=object)
    if "channel" in cols:
        words = raw[cols["channel"]].str.strip().str.lower()
        channels = words.map(CHANNEL_WORDS)
        report.add(str(path), raw, channels.isna().to_numpy(), cols["channel"],
                   lambda r: f"{r[cols['channel']]!r} is not a channel word ({', '.join(sorted(set(CHANNEL_WORDS)))})")
    minutes = None
    if "duration" in cols:
        minutes = headers.minutes(raw[cols["duration"]], cols["duration"])
        bad = raw[cols["duration"]].notna().to_numpy() & np.isnan(minutes)
        unit = "minutes" if headers.in_minutes(cols["duration"]) else "seconds"
        report.add(str(path), raw, bad, cols["duration"],
                   lambda r: f"{r[cols['duration']]!r} is neither {unit} nor [h:]mm:ss")
        minutes = np.where(np.isinf(minutes), np.nan, minutes)  # a missed call: no duration
    if report:
        raise ValidationError(report)
    line = raw["record"].to_numpy(dtype=str) if "record" in cols else np.arange(1, len(raw) + 1).astype(str)
    if copies or _written_by_a_mail_client(src, dst):
        at, src, dst, line = _per_recipient(src, [dst, *copies], line)
        when, channels = when.iloc[at], channels.iloc[at]
        minutes = None if minutes is None else minutes[at]
    when = pd.DatetimeIndex(when).as_unit("us")
    stem = path.stem.split("-")[0].split(".")[0]
    prefix = namespace or stem
    # an interaction's id names its file once several files share a namespace (calls and messages of one
    # organisation): line 5 of each is another record
    # (a mailbox's records are named by their Message-ID: the same message in two files is one record)
    record = f"{prefix}:" if prefix == stem or "record" in cols else f"{prefix}:{stem}:"
    people = sorted(set(src) | set(dst), key=lambda p: (len(p), p))
    ids = [f"{prefix}:{p}" for p in people]
    account = f"{prefix}:internal"
    # people named by e-mail address work where their domain says: an account per domain
    by_domain = bool(people) and all("@" in p for p in people)
    domains = people_domains(pd.Series(people, dtype=object)).tolist() if by_domain else []
    s_ids, d_ids = (prefix + ":" + src).to_numpy(), (prefix + ":" + dst).to_numpy()
    interactions = pd.DataFrame({
        "interaction_id": np.concatenate([np.char.add(record, np.char.add(line, "-out")),
                                          np.char.add(record, np.char.add(line, "-in"))]),
        "ts": np.concatenate([when, when]),
        "rep_id": np.concatenate([s_ids, d_ids]),
        "contact_id": np.concatenate([d_ids, s_ids]),
        "channel": np.concatenate([channels.to_numpy(), channels.to_numpy()]),
        "direction": np.repeat(["outbound", "inbound"], len(src)),
    })
    if minutes is not None:
        interactions["duration_min"] = np.concatenate([minutes, minutes])
    if by_domain:
        accounts = pd.DataFrame({"account_id": [f"{prefix}:{d}" for d in sorted(set(domains))],
                                 "name": sorted(set(domains))})
        contacts = pd.DataFrame({"contact_id": ids, "account_id": [f"{prefix}:{d}" for d in domains],
                                 "email": people})
    else:
        accounts = pd.DataFrame({"account_id": [account], "name": [f"{prefix} (internal)"], "tier": ["internal"]})
        contacts = pd.DataFrame({"contact_id": ids, "account_id": account})
    frames = {"reps": pd.DataFrame({"rep_id": ids}), "accounts": accounts, "contacts": contacts,
              "interactions": interactions}
    return frames, dict.fromkeys(frames, str(path))

