"""The action catalog and the contact policy, read from ``catalog.toml`` and checked on load."""

from __future__ import annotations

import ast
import functools
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import CodeType

import numpy as np
import pandas as pd

from features.actions import KINDS
from features.registry import ELEMENTS
from serving.candidates import deal_only

DEFAULT_CATALOG = Path(__file__).with_name("catalog.toml")
TARGETS = ("contact", "deal")


@dataclass(frozen=True)
class Action:
    name: str
    kind: str
    element: str
    minutes: float
    channel: str
    cooldown: int
    eligible: str = ""
    applicable: str = ""
    suitable: str = ""
    context: str = ""
    mandatory: bool = False
    title: str = ""
    title_zh: str = ""
    target: str = "contact"
    """``contact`` (a rep's tie) or ``deal`` (a deal whose account has no contact in the CRM: ``deal_only``)."""

    def label(self, lang: str) -> str:
        return (self.title_zh if lang == "zh" else self.title) or self.name

    def rules(self) -> list[str]:
        return [r for r in (self.eligible, self.applicable, self.suitable) if r]

    def allowed(self, candidates: pd.DataFrame | Columns) -> np.ndarray:
        """Rows of the action's target where every rule of the action holds (missing values fail a rule)."""
        cols = Columns.of(candidates)
        deal = cols.deal_only
        ok = deal.copy() if self.target == "deal" else ~deal
        if not ok.any():  # no row of its target: its rules may name columns only such rows carry
            return ok
        for rule in self.rules():
            ok &= _truth(_evaluate(cols, rule, self.name))
        return ok

    def weight(self, candidates: pd.DataFrame | Columns) -> np.ndarray:
        cols = Columns.of(candidates)
        if not self.context:
            return np.ones(len(cols))
        value = _evaluate(cols, self.context, self.name)
        return np.broadcast_to(np.asarray(value, dtype=float), (len(cols),)).copy()


class Columns:
    """A candidate frame's columns as the rules read them, each converted once: sixteen actions' rules read
    the same few columns again and again (a conversion per read was half of scoring's own time)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._arrays: dict[str, np.ndarray] = {}
        self._deal_only: np.ndarray | None = None

    @classmethod
    def of(cls, candidates: pd.DataFrame | Columns) -> Columns:
        return candidates if isinstance(candidates, Columns) else cls(candidates)

    def __len__(self) -> int:
        return len(self.frame)

    def __contains__(self, name: str) -> bool:
        return name in self.frame.columns

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            self._arrays[name] = _array(self.frame[name])
        return self._arrays[name]

    @property
    def deal_only(self) -> np.ndarray:
        if self._deal_only is None:
            self._deal_only = deal_only(self.frame)
        return self._deal_only


@dataclass(frozen=True)
class ContactPolicy:
    max_per_contact_week: int = 1
    dismissals_before_pause: int = 2
    dismissal_days: int = 30
    capacity_minutes_per_day: float = 240.0
    overhead_minutes: float = 30.0
    relationship_value_share: float = 0.10
    default_account_value: float = 0.0


@dataclass(frozen=True)
class Catalog:
    actions: tuple[Action, ...]
    policy: ContactPolicy = field(default_factory=ContactPolicy)

    def __getitem__(self, name: str) -> Action:
        for a in self.actions:
            if a.name == name:
                return a
        raise KeyError(f"no action {name!r} in the catalog")

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.actions]


def _evaluate(frame: pd.DataFrame | Columns, expression: str, action: str) -> np.ndarray:
    """A rule's value on every row: ``DataFrame.eval``'s meaning (``and``/``or``/``not`` element-wise,
    missing values compare false), computed on the named columns' arrays by the rule compiled once
    (``DataFrame.eval`` cost 1.7 ms a rule, a sixth of a request); pandas reports a rule that fails."""
    cols = Columns.of(frame)
    used = [c for c in _names(expression) if c in cols]
    try:
        value = eval(_compiled(expression), {"__builtins__": {}}, {c: cols[c] for c in used})  # noqa: S307
        return np.broadcast_to(np.asarray(value), (len(cols),))  # (the catalog's own rules)
    except Exception:  # noqa: BLE001 - pandas evaluates it again and says what is wrong
        pass
    try:
        return cols.frame[used].eval(expression, engine="python").to_numpy()
    except Exception as exc:  # pandas raises many types here; all mean the rule is wrong
        raise ValueError(f"catalog action {action!r}: cannot evaluate {expression!r}: {exc}") from exc


def _truth(value: np.ndarray) -> np.ndarray:
    """A rule's value as booleans, a missing one false."""
    if value.dtype == object:
        return np.array([bool(v) if v is not None and v == v else False for v in value], dtype=bool)
    if value.dtype.kind == "f":
        return np.nan_to_num(value, nan=0.0).astype(bool)
    return value.astype(bool)


@functools.cache
def _names(expression: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(re.findall(r"[A-Za-z_]\w*", expression)))


def _array(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=float, na_value=np.nan)
    return column.astype(object).where(column.notna(), None).to_numpy()


class _Elementwise(ast.NodeTransformer):
    """``a and b`` -> ``a & b``, ``not a`` -> ``~a``, ``a < b < c`` -> ``(a < b) & (b < c)``."""

    @staticmethod
    def _all(values: list[ast.expr], op: ast.operator) -> ast.expr:
        return functools.reduce(lambda a, b: ast.BinOp(a, op, b), values)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        self.generic_visit(node)
        return self._all(node.values, ast.BitAnd() if isinstance(node.op, ast.And) else ast.BitOr())

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        self.generic_visit(node)
        return ast.UnaryOp(ast.Invert(), node.operand) if isinstance(node.op, ast.Not) else node

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if len(node.ops) == 1:
            return node
        lefts = [node.left, *node.comparators[:-1]]
        return self._all([ast.Compare(a, [op], [b]) for a, op, b in zip(lefts, node.ops, node.comparators,
                                                                        strict=True)], ast.BitAnd())


@functools.cache
def _compiled(expression: str) -> CodeType:
    tree = ast.fix_missing_locations(_Elementwise().visit(ast.parse(expression, mode="eval")))
    return compile(tree, "<catalog rule>", "eval")


def catalog_path() -> Path:
    """The catalog in force: ``GUANXI_CATALOG`` (an organisation's own file) or the shipped one."""
    from guanxi.settings import get_settings

    return get_settings().catalog or DEFAULT_CATALOG


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and check a catalog: known kinds and elements, positive minutes, known keys only."""
    path = path or catalog_path()
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the catalog: {exc}") from exc
    allowed = {f.name for f in fields(Action)}
    actions = []
    for i, entry in enumerate(raw.get("action", []), 1):
        where = f"{path}: action #{i} ({entry.get('name', '?')})"
        unknown = set(entry) - allowed
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        try:
            action = Action(**entry)
        except TypeError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        if action.kind not in KINDS:
            raise ValueError(f"{where}: kind {action.kind!r} is not one of {', '.join(KINDS)}")
        if action.element not in ELEMENTS:
            raise ValueError(f"{where}: element {action.element!r} is not one of {', '.join(ELEMENTS)}")
        if action.target not in TARGETS:
            raise ValueError(f"{where}: target {action.target!r} is not one of {', '.join(TARGETS)}")
        if action.minutes <= 0 or action.cooldown < 0:
            raise ValueError(f"{where}: minutes must be > 0 and cooldown >= 0")
        actions.append(action)
    if not actions:
        raise ValueError(f"{path}: the catalog has no [[action]] entries")
    names = [a.name for a in actions]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate action names")
    policy_keys = {f.name for f in fields(ContactPolicy)}
    unknown = set(raw.get("policy", {})) - policy_keys
    if unknown:
        raise ValueError(f"{path}: [policy] has unknown keys {sorted(unknown)}")
    return Catalog(tuple(actions), ContactPolicy(**raw.get("policy", {})))
