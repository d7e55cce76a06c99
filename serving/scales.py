"""The words people read on top of probabilities: health bands of relationships and grades of deals.
One definition of each, used by the API and by batch scoring alike."""

from __future__ import annotations

import numpy as np

GRADES = ((0.6, "A"), (0.4, "B"), (0.2, "C"))
"""A deal's grade from P(win): A from 60 %, B from 40 %, C from 20 %, D below."""
BANDS = ("Good", "Fair", "Poor")


COVERED_TIE = 1.0
"""A contact counts as covered when one of our reps holds a tie at least this strong
(``features.network.tie_strength``: e.g. a dozen touches a year, a third of them theirs, the last a month ago)."""
KEY_TIERS = ("strategic", "key")
"""Account tiers that count as key accounts in coverage reports."""
AT_RISK_MIN_TOUCHES = 6
AT_RISK_SILENCE_DAYS = 60
"""A tie is at risk when it had at least this many touches in a year and has been silent this many days."""


def band(p: np.ndarray | float, good: float, fair: float) -> np.ndarray:
    """Health band of each P(effective): Good from ``good`` up, Fair from ``fair``, else Poor (settings
    ``GUANXI_BAND_GOOD`` / ``GUANXI_BAND_FAIR``)."""
    p = np.asarray(p, dtype=float)
    return np.where(p >= good, BANDS[0], np.where(p >= fair, BANDS[1], BANDS[2]))


REFERENCE_RATE = 0.2
"""The base rate the absolute thresholds (``GUANXI_BAND_GOOD`` 0.5, ``GUANXI_BAND_FAIR`` 0.2) were set for:
the simulated world's effective relationships."""


def thresholds(good: float, fair: float, base_rate: float | None, relative: bool = True) -> tuple[float, float]:
    """The (good, fair) cut-offs for a model whose label has ``base_rate``: the settings scaled by
    base rate / ``REFERENCE_RATE`` (a label that is true for 1 % of ties gets 1/20 of the cut-offs), or
    the settings as they are (``relative`` off, or a model that did not record its base rate)."""
    if not relative or base_rate is None or not 0 < base_rate < 1:
        return good, fair
    scale = base_rate / REFERENCE_RATE
    return min(0.95, good * scale), min(0.95, fair * scale)


def grade(p: np.ndarray | float) -> np.ndarray:
    """Grade of each P(win) (:data:`GRADES`)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, "D", dtype=object)
    for threshold, letter in reversed(GRADES):
        out = np.where(p >= threshold, letter, out)
    return out
