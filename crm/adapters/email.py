"""Email archives (KONECT ``src dst [weight] unix_time`` or SNAP ``src dst seconds``) -> contract tables.

Each person becomes both a rep and a contact of one ``internal`` account. Each email becomes two
interactions: outbound for the sender's pair (sender as rep, recipient as contact) and inbound for the
recipient's pair. Channel is ``email``; depth, occasion and duration are unknown and left null.
Times are read as seconds since ``epoch`` (the Unix epoch by default; SNAP's relative seconds then
land in 1970, which is honest about what the file says).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crm.validate import Report, ValidationError


def read_email_archive(path: Path, epoch: str = "1970-01-01") -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Parse the archive; malformed lines are reported as ``file:row:column`` and nothing is returned."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    raw = pd.read_csv(path, sep=r"\s+", comment="%", header=None, dtype=str)
    report = Report()
    if raw.shape[1] not in (3, 4):
        report.note(str(path), 0, "", f"expected 3 or 4 columns (src dst [weight] time), found {raw.shape[1]}")
        raise ValidationError(report)
    src, dst, ts = raw[0], raw[1], raw[raw.columns[-1]]
    seconds = pd.to_numeric(ts, errors="coerce")
    for name, col in (("src", src), ("dst", dst)):
        report.add(str(path), raw, col.isna().to_numpy(), name, "missing person id")
    report.add(str(path), raw, seconds.isna().to_numpy(), "time", lambda r: f"{r[raw.columns[-1]]!r} is not seconds")
    if report:
        raise ValidationError(report)
    prefix = path.stem.split("-")[0].split(".")[0]
    when = pd.Timestamp(epoch, tz="UTC") + pd.to_timedelta(seconds.to_numpy(dtype=np.int64), unit="s")
    people = sorted(set(src) | set(dst), key=lambda p: (len(p), p))
    ids = [f"{prefix}:{p}" for p in people]
    account = f"{prefix}:internal"
    line = np.arange(1, len(raw) + 1).astype(str)
    s_ids, d_ids = (prefix + ":" + src).to_numpy(), (prefix + ":" + dst).to_numpy()
    interactions = pd.DataFrame({
        "interaction_id": np.concatenate([np.char.add(f"{prefix}:", np.char.add(line, "-out")),
                                          np.char.add(f"{prefix}:", np.char.add(line, "-in"))]),
        "ts": np.concatenate([when, when]),
        "rep_id": np.concatenate([s_ids, d_ids]),
        "contact_id": np.concatenate([d_ids, s_ids]),
        "channel": "email",
        "direction": np.repeat(["outbound", "inbound"], len(raw)),
    })
    frames = {
        "reps": pd.DataFrame({"rep_id": ids}),
        "accounts": pd.DataFrame({"account_id": [account], "name": [f"{prefix} (internal)"], "tier": ["internal"]}),
        "contacts": pd.DataFrame({"contact_id": ids, "account_id": account}),
        "interactions": interactions,
    }
    return frames, dict.fromkeys(frames, str(path))

