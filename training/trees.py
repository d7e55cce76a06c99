"""LightGBM boosters as flat arrays, scored by one numba kernel that also answers "what if".

The effect model asks each booster for P(outcome) of every candidate under 1 + K treatment variants
(no action, or one action of kind k). LightGBM scores the K + 1 copies of every row from the top of
every tree; here each (row, tree) is walked once, and the walk forks only at a split on a treatment
column, where the variants that set it go one way and the others the other way. Most trees have no
such split, so the variants cost little more than the base row (10 boosters x 300 trees on a rep's
350 candidates: 115 ms with LightGBM, measured in docs/benchmarks.md).

lleaves (an LLVM compiler for LightGBM models) would be the library for this, but lleaves 1.3.0 calls
``llvmlite.binding.PassManagerBuilder``, which the llvmlite that numba needs (0.50) no longer has.

Every decision follows LightGBM's ``NumericalDecision`` (missing values: NaN, zero or none, with the
split's default side) and the sum runs over trees in LightGBM's order, so scores equal
``Booster.predict`` to rounding (tests/test_trees.py, 1e-12; trees without a fork are summed apart,
which reorders the sum). Categorical, zero-as-missing and linear splits are not flattened: :func:`flatten`
refuses such a booster (:class:`NotFlat`) and the caller keeps LightGBM for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
from numba import njit

DEFAULT_LEFT, MISSING_SHIFT = 2, 2
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2


@dataclass(frozen=True)
class FlatBooster:
    """One binary booster: node arrays of all trees back to back; a child < 0 is leaf ``~child``."""

    roots: np.ndarray  # int64 per tree: the root node, or ~leaf for a one-leaf tree
    feature: np.ndarray  # int64 per node
    threshold: np.ndarray  # float64 per node
    left: np.ndarray  # int64 per node
    right: np.ndarray  # int64 per node
    missing_go: np.ndarray  # uint8 per node: the side (0 left, 1 right) a missing value goes to
    leaf_value: np.ndarray  # float64 per leaf
    node_tree: np.ndarray  # int32 per node: its tree
    sigmoid: float
    n_features: int


class NotFlat(ValueError):
    """A booster this module cannot score exactly (categorical splits, another objective, linear trees)."""


def flatten(booster: lgb.Booster) -> FlatBooster:
    """The booster's trees, parsed from its model text (thresholds at full precision)."""
    text = booster.model_to_string()
    head, _, body = text.partition("\nTree=")
    header = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    objective = header.get("objective", "")
    if not objective.startswith("binary"):
        raise NotFlat(f"objective {objective!r}: only binary boosters are flattened")
    if "average_output" in head.split():
        raise NotFlat("random-forest boosters (average_output) are not flattened")
    sigmoid = 1.0
    for part in objective.split()[1:]:
        if part.startswith("sigmoid:"):
            sigmoid = float(part.split(":", 1)[1])
    roots, feature, threshold, decision, left, right, leaves, node_tree = [], [], [], [], [], [], [], []
    n_nodes = n_leaves = 0
    for block in ("Tree=" + body).split("\nTree=")[: booster.num_trees()]:
        tree = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if int(tree.get("num_cat", "0")) > 0:
            raise NotFlat("categorical splits are not flattened")
        if tree.get("is_linear", "0") != "0":
            raise NotFlat("linear trees are not flattened")
        k = int(tree["num_leaves"])
        values = np.array(tree["leaf_value"].split(), dtype=np.float64)
        if k == 1:
            roots.append(~n_leaves)
        else:
            roots.append(n_nodes)
            kids = [np.array(tree[side].split(), dtype=np.int64) for side in ("left_child", "right_child")]
            # shift node ids by the nodes before, leaf ids (~leaf) by the leaves before
            left.append(np.where(kids[0] >= 0, kids[0] + n_nodes, kids[0] - n_leaves))
            right.append(np.where(kids[1] >= 0, kids[1] + n_nodes, kids[1] - n_leaves))
            feature.append(np.array(tree["split_feature"].split(), dtype=np.int32))
            threshold.append(np.array(tree["threshold"].split(), dtype=np.float64))
            decision.append(np.array(tree["decision_type"].split(), dtype=np.uint8))
            node_tree.append(np.full(k - 1, len(roots) - 1, np.int32))
            n_nodes += k - 1
        leaves.append(values)
        n_leaves += k

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype)

    thresholds, decisions = cat(threshold, np.float64), cat(decision, np.uint8)
    missing = (decisions >> MISSING_SHIFT) & 3
    default_side = np.where(decisions & DEFAULT_LEFT, 0, 1)
    if (missing == MISSING_ZERO).any():
        raise NotFlat("zero-as-missing splits are not flattened")
    # a NaN where missing values are not learned is read as 0 (LightGBM), so it goes where 0 goes
    missing_go = np.where(missing == MISSING_NONE, np.where(thresholds >= 0.0, 0, 1), default_side).astype(np.uint8)
    return FlatBooster(np.array(roots, np.int64), cat(feature, np.int64), thresholds, cat(left, np.int64),
                       cat(right, np.int64), missing_go, cat(leaves, np.float64), cat(node_tree, np.int32), sigmoid,
                       booster.num_feature())


def predict_variants(booster: FlatBooster, X: np.ndarray, variant_feature: np.ndarray) -> np.ndarray:
    """P(1) of every row of ``X`` (n, features) under each variant: column 0 is ``X`` as it is; column
    v > 0 is ``X`` with feature ``variant_feature[v - 1]`` set to 1 (its value in ``X`` must be 0)."""
    if X.shape[1] != booster.n_features:
        raise ValueError(f"the booster has {booster.n_features} features, the rows {X.shape[1]}")
    if len(variant_feature) > 62:
        raise ValueError("at most 62 variants")
    var_of = np.full(booster.n_features, -1, np.int64)
    for v, f in enumerate(variant_feature):
        var_of[int(f)] = v + 1
    raw = np.zeros((X.shape[0], len(variant_feature) + 1))
    forks = np.zeros(len(booster.roots), np.bool_)
    forks[booster.node_tree[var_of[booster.feature] >= 0]] = True  # trees that split on a variant's column
    _walk(np.ascontiguousarray(X, dtype=np.float64), var_of, forks, booster.roots, booster.feature, booster.threshold,
          booster.left, booster.right, booster.missing_go, booster.leaf_value, raw)
    return 1.0 / (1.0 + np.exp(-booster.sigmoid * raw))


def predict(booster: FlatBooster, X: np.ndarray) -> np.ndarray:
    """P(1) of every row, as ``Booster.predict``."""
    return predict_variants(booster, X, np.empty(0, np.int64))[:, 0]


@njit(cache=True, nogil=True)
def _walk(X: np.ndarray, var_of: np.ndarray, forks: np.ndarray, roots: np.ndarray, feature: np.ndarray,
          threshold: np.ndarray, left: np.ndarray, right: np.ndarray, missing_go: np.ndarray,
          leaf_value: np.ndarray, raw: np.ndarray) -> None:
    """Adds every tree's leaf value to ``raw[row, variant]``, tree by tree: a tree's few nodes stay in the
    cache while the rows go through it (row by row, every tree's nodes were fetched again for each row:
    15-20 % slower on a rep's candidates). Trees without a split on a variant's column add the
    same value to every variant: they are summed once per row, apart, and added at the end. Each row's
    sums run over the trees in the same order either way."""
    n_rows, n_var = X.shape[0], raw.shape[1]
    common = np.zeros(n_rows)
    stack = np.empty((64, 2), np.int64)  # the forks' pending (node, variants)
    for t in range(roots.shape[0]):
        root = roots[t]
        if forks[t]:
            for r in range(n_rows):
                _fork(X[r], var_of, root, feature, threshold, left, right, missing_go, leaf_value, raw[r], stack)
            continue
        for r in range(n_rows):
            node = root
            while node >= 0:  # LightGBM's NumericalDecision, written out: a call here costs 4x (numba)
                x = X[r, feature[node]]
                if x != x:
                    node = right[node] if missing_go[node] else left[node]
                elif x <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            common[r] += leaf_value[~node]
    for r in range(n_rows):
        for v in range(n_var):
            raw[r, v] += common[r]


@njit(cache=True, nogil=True)
def _fork(row: np.ndarray, var_of: np.ndarray, root: int, feature: np.ndarray, threshold: np.ndarray,
          left: np.ndarray, right: np.ndarray, missing_go: np.ndarray, leaf_value: np.ndarray, raw: np.ndarray,
          stack: np.ndarray) -> None:
    """One tree for one row under every variant: the walk forks where a split reads a variant's column
    (the variant that sets it to 1 goes one way, the others the way the row's 0 goes)."""
    n_var = raw.shape[0]
    stack[0, 0], stack[0, 1] = root, (np.int64(1) << n_var) - 1
    top = 1
    while top > 0:
        top -= 1
        node, mask = stack[top, 0], stack[top, 1]
        while node >= 0:
            f = feature[node]
            x = row[f]
            if x != x:
                a = right[node] if missing_go[node] else left[node]
            elif x <= threshold[node]:
                a = left[node]
            else:
                a = right[node]
            v = var_of[f]
            if v < 0:
                node = a
                continue
            bit = np.int64(1) << v
            b = left[node] if threshold[node] >= 1.0 else right[node]
            if a == b or not mask & bit:
                node = a
            elif mask == bit:
                node = b
            else:
                stack[top, 0], stack[top, 1] = a, mask & ~bit
                top += 1
                node, mask = b, bit
        value = leaf_value[~node]
        for v in range(n_var):
            if mask >> v & 1:
                raw[v] += value
