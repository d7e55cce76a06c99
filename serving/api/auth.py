"""API keys: plain or ``sha256:<hex>`` entries, each optionally scoped to reps or teams.

``GUANXI_API_KEYS="k1, sha256:9f86...@R0001+team-2"``: the first key may read everything, the
second only rep R0001 and the reps of team-2. Keys arrive as ``Authorization: Bearer KEY`` or
``X-API-Key: KEY`` and are compared by their SHA-256 digest in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class ApiKey:
    digest: str
    scope: frozenset[str] = frozenset()  # empty: every rep and team

    @property
    def fingerprint(self) -> str:
        return self.digest[:12]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key (None when the server runs without keys on 127.0.0.1)."""

    key: ApiKey | None

    @property
    def unrestricted(self) -> bool:
        return self.key is None or not self.key.scope

    def may_see(self, rep_id: str, team: str | None) -> bool:
        if self.key is None or not self.key.scope:
            return True
        return rep_id in self.key.scope or (team is not None and team in self.key.scope)

    @property
    def name(self) -> str:
        return "local" if self.key is None else f"key:{self.key.fingerprint}"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_keys(text: str) -> list[ApiKey]:
    """Parse the settings value; a malformed entry is an error at start-up, not a silent open door."""
    keys = []
    for i, raw in enumerate(text.split(","), 1):
        entry = raw.strip()
        if not entry:
            continue
        secret, _, scope = entry.partition("@")
        if secret.startswith("sha256:"):
            hexdigest = secret.removeprefix("sha256:").lower()
            if len(hexdigest) != 64 or any(c not in "0123456789abcdef" for c in hexdigest):
                raise ValueError(f"GUANXI_API_KEYS entry {i}: sha256: needs 64 hex digits")
        else:
            if len(secret) < 8:
                raise ValueError(f"GUANXI_API_KEYS entry {i}: a key needs at least 8 characters")
            hexdigest = digest(secret)
        items = frozenset(s.strip() for s in scope.split("+") if s.strip()) if scope else frozenset()
        keys.append(ApiKey(hexdigest, items))
    return keys


def find_key(keys: list[ApiKey], presented: str) -> ApiKey | None:
    d = digest(presented)
    found = None
    for key in keys:  # no early exit: the time taken does not say which key matched
        if hmac.compare_digest(key.digest, d):
            found = key
    return found
