"""Why the application refused a request: one exception, whose kind each front end maps (HTTP status,
exit code). Nothing was written when it is raised."""

from __future__ import annotations

from typing import Literal

Kind = Literal["invalid", "conflict", "forbidden", "not_found", "unavailable"]


class Refused(Exception):
    """A request that cannot be answered as asked. ``errors`` locate each problem in the request."""

    def __init__(self, kind: Kind, detail: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.errors = kind, detail, errors
