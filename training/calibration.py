"""Probability calibration of a raw score, chosen by how many independent outcomes there are to fit it on.

- Centred isotonic regression (Oron & Flournoy, 2017) keeps isotonic's fit but joins the centres of its
  flat steps, so the calibrated score is strictly increasing in the raw one: plain isotonic ties every
  row of a step (it cost the deal model up to 0.01 AUC).
- Platt's sigmoid on the raw log-odds has two parameters. Isotonic's many steps fit the noise of a few
  hundred outcomes: on the demo world's ~700 validation deals (each seen at up to 12 cutoffs, one outcome)
  it left the deal model 0.030 / 0.036 from the true P(win) (two seeds), the sigmoid 0.019 / 0.029
  (docs/benchmarks.md). scikit-learn's guide gives the same advice below about 1,000 samples.

``auto`` picks the sigmoid below :data:`ISOTONIC_MIN_OUTCOMES` independent outcomes, isotonic above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

ISOTONIC_MIN_OUTCOMES = 1_000
KINDS = ("auto", "isotonic", "sigmoid")
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Calibration:
    """A fitted map from raw probability to calibrated probability, storable as plain JSON."""

    kind: str  # "isotonic" (knots x, y for np.interp) or "sigmoid" (p = 1 / (1 + exp(-(a * logit + b))))
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    a: float = 1.0
    b: float = 0.0

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if self.kind == "sigmoid":
            p = 1.0 / (1.0 + np.exp(-(self.a * _logit(raw) + self.b)))
        else:
            p = np.interp(raw, self.x, self.y)
        return np.clip(p, _EPS, 1 - _EPS)

    def to_dict(self) -> dict[str, object]:
        if self.kind == "sigmoid":
            return {"kind": "sigmoid", "a": self.a, "b": self.b}
        return {"kind": "isotonic", "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Bundles from before the sigmoid carry only isotonic knots (``x``, ``y``)."""
        kind = str(data.get("kind", "isotonic"))
        if kind == "sigmoid":
            return cls("sigmoid", a=float(data["a"]), b=float(data["b"]))
        return cls("isotonic", [float(v) for v in data["x"]], [float(v) for v in data["y"]])


def fit_calibration(raw: np.ndarray, y: np.ndarray, kind: str = "auto", outcomes: int | None = None
                    ) -> Calibration:
    """Fit ``kind`` of calibration of ``raw`` to ``y``; ``outcomes`` is how many independent outcomes the
    rows hold (distinct deals, say, when a deal appears at several cutoffs), for ``auto``."""
    if kind not in KINDS:
        raise ValueError(f"unknown calibration {kind!r}; choose from {', '.join(KINDS)}")
    if kind == "auto":
        kind = "isotonic" if (outcomes if outcomes is not None else len(y)) >= ISOTONIC_MIN_OUTCOMES else "sigmoid"
    raw, y = np.asarray(raw, dtype=float), np.asarray(y, dtype=float)
    if kind == "sigmoid":
        if len(np.unique(y)) < 2:  # one label value: every score maps to that rate
            return Calibration("sigmoid", a=0.0, b=float(_logit(np.array([y.mean() if len(y) else 0.5]))[0]))
        fit = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(raw)[:, None], y)
        return Calibration("sigmoid", a=float(fit.coef_[0, 0]), b=float(fit.intercept_[0]))
    x, level = centred_isotonic(raw, y)
    return Calibration("isotonic", x.tolist(), level.tolist())


def centred_isotonic(raw: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots (x, y) of the centred isotonic fit of ``y`` on ``raw``, for ``np.interp``."""
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
    x, level = iso.X_thresholds_, iso.y_thresholds_
    values, first = np.unique(level, return_index=True)  # level is non-decreasing: each value is one step
    last = np.r_[first[1:], len(level)] - 1
    centre = (x[first] + x[last]) / 2
    centre[0], centre[-1] = x[0], x[-1]  # the ends keep the fitted range
    if len(values) == 1:  # one rate for every score (np.interp needs two distinct knots)
        return np.array([x[0], max(x[-1], x[0] + 1.0) if len(x) == 1 else x[-1]]), np.repeat(values, 2)
    return centre, values
