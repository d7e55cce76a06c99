"""Flattened boosters (``training.trees``) score exactly as LightGBM does, also under treatment variants."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.actions import KINDS
from training.trees import NotFlat, flatten, predict, predict_variants
from training.uplift import TREATMENTS, EffectModel


def _data(n: int, nan_share: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[:, 4:] = rng.integers(0, 3, size=(n, 2))  # count-like columns, as treatment counts are
    logit = X[:, 0] - X[:, 1] * X[:, 4] + 0.8 * X[:, 5] - 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    X[rng.random(X.shape) < nan_share] = np.nan
    X[:, 4:] = np.nan_to_num(X[:, 4:])
    return X, y


def _booster(X: np.ndarray, y: np.ndarray, **params: object) -> lgb.Booster:
    base = {"objective": "binary", "num_leaves": 15, "min_data_in_leaf": 5, "verbose": -1, "seed": 1}
    return lgb.train({**base, **params}, lgb.Dataset(X, label=y), num_boost_round=60)


@pytest.mark.parametrize("nan_share", [0.0, 0.2], ids=["no-missing", "missing"])
def test_flat_scores_equal_lightgbm(nan_share: float) -> None:
    X, y = _data(3000, nan_share)
    booster = _booster(X, y)
    test, _ = _data(500, 0.3, seed=9)  # NaNs also where training had none: LightGBM reads them as 0
    test[:5] = 0.0
    assert np.abs(predict(flatten(booster), test) - booster.predict(test)).max() < 1e-12


def test_variants_equal_lightgbm_on_each_modified_copy() -> None:
    X, y = _data(3000, 0.1)
    X[:, 4:] = (X[:, 4:] > 1).astype(float)  # 0/1 treatments
    booster = _booster(X, y, sigmoid=0.7)
    test, _ = _data(300, 0.2, seed=4)
    test[:, 4:] = 0.0
    p = predict_variants(flatten(booster), test, np.array([4, 5]))
    for v, column in enumerate((None, 4, 5)):
        copy = test.copy()
        if column is not None:
            copy[:, column] = 1.0
        assert np.abs(p[:, v] - booster.predict(copy)).max() < 1e-12


def test_boosters_it_cannot_flatten_are_refused() -> None:
    X, y = _data(2000, 0.0)
    X[:, 3] = np.abs(np.round(X[:, 3] * 3))
    categorical = lgb.train({"objective": "binary", "verbose": -1, "min_data_per_group": 5, "cat_smooth": 1},
                            lgb.Dataset(X, label=y, categorical_feature=[3]), num_boost_round=20)
    with pytest.raises(NotFlat):
        flatten(categorical)
    with pytest.raises(NotFlat):
        flatten(_booster(X, X[:, 0], objective="regression"))


def test_effect_models_uplifts_equal_lightgbms() -> None:
    rng = np.random.default_rng(2)
    n = 4000
    feats = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "deal_open": rng.integers(0, 2, n)})
    feats.loc[rng.random(n) < 0.1, "a"] = np.nan
    t = (rng.random((n, len(KINDS))) < 0.15).astype(float)
    logit = feats["b"].to_numpy() + 0.6 * t[:, 0] - 0.4 * t[:, 3] * (feats["a"].fillna(0).to_numpy() > 0)
    X = np.column_stack([feats.to_numpy(dtype=float), t])
    boosters = {o: [_booster(X, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float), seed=s) for s in (1, 2)]
                for o in ("effective", "win")}
    model = EffectModel(list(feats.columns), boosters, {})
    assert model.flat is not None and model.columns == [*feats.columns, *TREATMENTS]
    rows = feats.sample(300, random_state=1).reset_index(drop=True)
    flat = model.effects(rows)
    model.flat = None  # LightGBM on every variant
    plain = model.effects(rows)
    for outcome in ("effective", "win"):
        pd.testing.assert_frame_equal(flat[outcome], plain[outcome], check_exact=False, rtol=0, atol=1e-12)
