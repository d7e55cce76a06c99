"""What ``--json`` prints: strict JSON that any parser reads (``jq``, JavaScript), one object per command."""

from __future__ import annotations

import json
import math


def _strict(value: object) -> object:
    """NaN and infinities become null (Python's own ``NaN`` / ``Infinity`` are not JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def dumps(value: object) -> str:
    """``value`` as strict JSON: non-finite numbers null, other objects (dates, paths) as text."""
    return json.dumps(_strict(json.loads(json.dumps(value, default=str))), ensure_ascii=False, allow_nan=False)
