"""The classifier's contract: calibration that keeps the ranking (and is chosen by how many outcomes it is
fit on), the linear mix, bundles that round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.baselines import LogisticBaseline
from training.calibration import ISOTONIC_MIN_OUTCOMES, Calibration, centred_isotonic, fit_calibration
from training.evaluate import auc
from training.linear import LinearScore
from training.model import DRIFT_Z, GuanxiClassifier, drift_z


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.exponential(size=n),
                      "kind": rng.choice(["new", "renewal", "expansion"], size=n),
                      "empty": np.full(n, np.nan)})
    x.loc[rng.random(n) < 0.1, "b"] = np.nan
    x.loc[rng.random(n) < 0.05, "kind"] = None
    logit = 1.2 * x["a"] - 0.8 * x["b"].fillna(1.0) + 0.7 * (x["kind"] == "renewal") + 0.6 * (x["a"] > 1)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(int)
    return x, y


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 1000).map(lambda k: k / 1000), min_size=2, max_size=300), st.integers(0, 2**31 - 1))
def test_centred_isotonic_is_strictly_increasing_and_keeps_the_range(raw: list[float], seed: int) -> None:
    raw_a = np.asarray(raw)
    y = (np.random.default_rng(seed).random(len(raw_a)) < raw_a).astype(float)
    x, level = centred_isotonic(raw_a, y)
    assert np.all(np.diff(x) > 0)
    assert np.all(np.diff(level) > 0) or len(np.unique(level)) == 1
    assert x[0] == raw_a.min() and (x[-1] == raw_a.max() or len(np.unique(raw_a)) == 1)
    assert level.min() >= 0.0 and level.max() <= 1.0
    calibrated = np.interp(raw_a, x, level)
    assert np.all(np.diff(calibrated[np.argsort(raw_a)]) >= 0)


@pytest.mark.parametrize("kind", ["isotonic", "sigmoid"])
def test_calibration_keeps_the_ranking_and_the_rates(kind: str) -> None:
    x, y = _frame(6_000, 1)
    model = GuanxiClassifier({"num_leaves": 7}, calibration=kind).fit(x[:3000], y[:3000], x[3000:4500], y[3000:4500])
    assert model.calibration_.kind == kind
    test, y_test = x[4500:], y[4500:]
    p = model.predict_proba(test)[:, 1]
    assert auc(y_test, p) == pytest.approx(auc(y_test, model.raw_score(test)), abs=1e-12)  # no ties made
    assert abs(p.mean() - y_test.mean()) < 0.03


def test_auto_calibration_chooses_by_independent_outcomes(tmp_path: Path) -> None:
    x, y = _frame(4_000, 5)
    fit = lambda **kw: GuanxiClassifier({"num_leaves": 7}).fit(x[:2000], y[:2000], x[2000:], y[2000:], **kw)  # noqa: E731
    assert fit().calibration_.kind == "isotonic"  # 2,000 rows, one outcome each
    few = fit(val_outcomes=ISOTONIC_MIN_OUTCOMES - 1)  # e.g. 2,000 rows of 999 deals
    assert few.calibration_.kind == "sigmoid" and few.calibration_.a > 0
    few.save(tmp_path / "sigmoid")
    assert json.loads((tmp_path / "sigmoid" / "model.json").read_text())["calibration"]["kind"] == "sigmoid"
    np.testing.assert_allclose(GuanxiClassifier.load(tmp_path / "sigmoid").predict_proba(x), few.predict_proba(x))
    with pytest.raises(ValueError, match="unknown calibration"):
        fit_calibration(np.array([0.2, 0.8]), np.array([0, 1]), kind="beta")


def test_sigmoid_is_closer_to_the_truth_than_isotonic_on_few_outcomes() -> None:
    """Why ``auto`` picks the sigmoid below 1,000 outcomes: isotonic's steps fit the draws' noise."""
    errors: dict[str, list[float]] = {"isotonic": [], "sigmoid": []}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        truth = 1 / (1 + np.exp(-rng.normal(-0.3, 0.8, 1_400)))
        raw = 1 / (1 + np.exp(-(1.4 * np.log(truth / (1 - truth)) + 0.4)))  # over-confident and too high
        y = (rng.random(len(truth)) < truth).astype(float)
        for kind in errors:
            cal = fit_calibration(raw[:700], y[:700], kind)
            errors[kind].append(float(np.mean(np.abs(cal(raw[700:]) - truth[700:]))))
    assert np.mean(errors["sigmoid"]) < 0.8 * np.mean(errors["isotonic"]), errors
    assert Calibration.from_dict(fit_calibration(raw, y, "sigmoid").to_dict()) == fit_calibration(raw, y, "sigmoid")


def test_linear_score_equals_the_fitted_logistic_baseline() -> None:
    x, y = _frame(2_000, 2)
    baseline = LogisticBaseline().fit(x, y)
    linear = LinearScore.from_baseline(baseline)
    unseen = x.head(50).assign(kind="upsell", b=np.inf)  # an unseen level adds nothing; inf counts as missing
    for rows in (x, unseen):
        expected = baseline.predict_proba(rows)[:, 1]
        np.testing.assert_allclose(1 / (1 + np.exp(-linear.log_odds(rows))), expected, atol=1e-12)


def test_linear_mix_contributions_add_up_and_round_trip(tmp_path: Path) -> None:
    x, y = _frame(6_000, 3)
    train, valid, test = slice(0, 3000), slice(3000, 4500), slice(4500, None)
    mixed = GuanxiClassifier({"num_leaves": 7}, linear_weight=0.5).fit(x[train], y[train], x[valid], y[valid])
    contrib = mixed.contributions(x[test])
    assert list(contrib.columns) == [*x.columns, "bias"]
    # contributions add up to the mixed log-odds, feature by feature as well as in total
    np.testing.assert_allclose(1 / (1 + np.exp(-contrib.sum(axis=1))), mixed.raw_score(x[test]), atol=1e-12)
    mixed.save(tmp_path / "bundle")
    meta = json.loads((tmp_path / "bundle" / "model.json").read_text())
    assert meta["linear_weight"] == 0.5 and meta["linear"]["numeric"] == ["a", "b", "empty"]
    again = GuanxiClassifier.load(tmp_path / "bundle")
    np.testing.assert_allclose(again.predict_proba(x[test]), mixed.predict_proba(x[test]))
    np.testing.assert_allclose(again.contributions(x[test]), contrib)
    with pytest.raises(ValueError, match="linear_weight"):
        GuanxiClassifier(linear_weight=1.0).fit(x[train], y[train], x[valid], y[valid])


def test_bundle_from_before_the_linear_mix_still_loads(tmp_path: Path) -> None:
    x, y = _frame(3_000, 4)
    model = GuanxiClassifier({"num_leaves": 7}, calibration="isotonic").fit(x[:1500], y[:1500], x[1500:2200],
                                                                            y[1500:2200])
    model.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "model.json").read_text())
    assert meta["calibration"]["kind"] == "isotonic"  # chosen explicitly: 700 rows would get the sigmoid
    del meta["linear"], meta["linear_weight"], meta["calibration"]["kind"]  # knots only, as before
    (tmp_path / "old" / "model.json").write_text(json.dumps(meta))
    again = GuanxiClassifier.load(tmp_path / "old")
    assert again.linear_ is None and again.calibration_.kind == "isotonic"
    np.testing.assert_allclose(again.predict_proba(x[2200:]), model.predict_proba(x[2200:]))


def _truth(x: pd.DataFrame) -> np.ndarray:
    """P(y = 1) of :func:`_frame`'s rows."""
    logit = 1.2 * x["a"] - 0.8 * x["b"].fillna(1.0) + 0.7 * (x["kind"] == "renewal") + 0.6 * (x["a"] > 1)
    return 1 / (1 + np.exp(-logit.to_numpy()))


def test_refit_joins_the_validation_rows_and_keeps_entities_in_one_fold(tmp_path: Path) -> None:
    x, y = _frame(3_000, 6)
    groups = np.repeat(np.arange(1_000), 3).astype(str)  # an entity seen at three cutoffs
    model = GuanxiClassifier({"num_leaves": 7}, linear_weight=0.5, refit=True).fit(
        x[:2000], y[:2000], x[2000:], y[2000:], groups=groups[:2000], val_groups=groups[2000:])
    assert model.refit_ and model.calibration_.kind == "isotonic"  # 1,000 entities over both periods
    assert model.best_iteration_ == round(model.stopped_at_ * 3000 / 2000)
    assert model.booster_.num_trees() == model.best_iteration_  # one tree per round: fit once more, on all rows
    folds = model._refit_folds(y, groups)
    assert folds is not None and len(folds) == 5
    for fit_rows, held in folds:
        assert not set(groups[fit_rows]) & set(groups[held])
    model.save(tmp_path / "refit")
    np.testing.assert_allclose(GuanxiClassifier.load(tmp_path / "refit").predict_proba(x), model.predict_proba(x))


def test_refit_falls_back_to_the_validation_calibration_when_folds_cannot_be_fit() -> None:
    x, y = _frame(600, 7)
    few = np.array(["d1", "d2", "d3"] * 200)  # three entities: fewer than five folds
    model = GuanxiClassifier({"num_leaves": 7}, refit=True).fit(
        x[:400], y[:400], x[400:], y[400:], groups=few[:400], val_groups=few[400:])
    assert not model.refit_ and model.best_iteration_ == model.stopped_at_


def test_refit_is_closer_to_the_truth_with_a_small_validation_period() -> None:
    """Why the deal model refits: a calibrator fit on a few hundred validation outcomes is off by their
    noise; cross-fitted scores of every row give it several times the outcomes."""
    errors: dict[bool, list[float]] = {False: [], True: []}
    for seed in range(10):
        x, y = _frame(3_250, 10 + seed)
        test = x[2250:]
        for refit in errors:
            model = GuanxiClassifier({"num_leaves": 7}, refit=refit, calibration="sigmoid").fit(
                x[:2000], y[:2000], x[2000:2250], y[2000:2250])
            p = model.predict_proba(test)[:, 1]
            errors[refit].append(abs(p.mean() - _truth(test).mean()))  # the calibration's error in the mean
    assert np.mean(errors[True]) < 0.6 * np.mean(errors[False]), errors  # measured 0.009 vs 0.022


def test_refit_is_declined_when_the_validation_period_has_drifted() -> None:
    """A validation period whose win rate moved beyond its noise is the better guide to the next one: the
    model keeps its training fit and validation calibration, and says by how much it drifted."""
    x, y = _frame(3_000, 8)
    shifted = (np.random.default_rng(9).random(1000) < 1 / (1 + np.exp(-(np.log(_truth(x[2000:]) /
                                                                                  (1 - _truth(x[2000:]))) + 1.0))))
    fit = lambda y_val: GuanxiClassifier({"num_leaves": 7}, refit=True, calibration="sigmoid").fit(  # noqa: E731
        x[:2000], y[:2000], x[2000:], y_val)
    steady, drifted = fit(y[2000:]), fit(shifted.astype(int))
    assert steady.refit_ and abs(steady.drift_z_) < DRIFT_Z
    assert not drifted.refit_ and drifted.drift_z_ > DRIFT_Z
    assert drifted.best_iteration_ == drifted.stopped_at_  # the early-stopped trees, fit on training rows
    p = drifted.predict_proba(x[2000:])[:, 1]
    assert abs(p.mean() - shifted.mean()) < 0.02  # calibrated on the drifted period itself


def test_drift_z_counts_each_entity_once() -> None:
    y, p = np.array([1, 1, 1, 1, 0, 0]), np.full(6, 0.5)
    rows = drift_z(y, p, np.arange(6))
    deals = drift_z(y, p, np.array(["a", "a", "a", "a", "b", "b"]))  # four rows of one deal: one outcome
    assert rows == pytest.approx(1.0 / np.sqrt(6 * 0.25)) and deals == pytest.approx(1.0 / np.sqrt(4 + 1))
    assert drift_z(np.zeros(3), np.zeros(3), np.arange(3)) == 0.0
