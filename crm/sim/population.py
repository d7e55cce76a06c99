"""Who is in the world: reps, accounts, contacts, the (rep, contact) pairs and their hidden traits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm import vocab
from crm.sim.params import START, Size

INDUSTRIES = ("manufacturing", "finance", "healthcare", "retail", "energy", "software", "logistics", "public")
REGIONS = ("north", "east", "south", "west", "central")


@dataclass
class Population:
    """Static entities; arrays are indexed by integer position. ``*_hidden`` traits never reach the tables."""

    size: Size
    start: pd.Timestamp
    # reps
    rep_is_exec: np.ndarray
    rep_value: np.ndarray
    rep_skill_hidden: np.ndarray
    rep_activity: np.ndarray
    rep_greets: np.ndarray
    # accounts
    acct_tier: np.ndarray
    acct_potential: np.ndarray
    acct_owner: np.ndarray
    acct_industry: np.ndarray
    acct_region: np.ndarray
    # contacts
    con_acct: np.ndarray
    con_seniority: np.ndarray
    con_role: np.ndarray
    con_bmonth: np.ndarray
    con_bday: np.ndarray
    con_openness_hidden: np.ndarray
    # pairs, sorted by contact
    pair_rep: np.ndarray
    pair_con: np.ndarray
    pair_attention: np.ndarray
    con_pair_start: np.ndarray
    init_bond: np.ndarray
    init_tenure_days: np.ndarray

    @property
    def n_pairs(self) -> int:
        return len(self.pair_rep)

    @property
    def pair_acct(self) -> np.ndarray:
        return self.con_acct[self.pair_con]


def build_population(size: Size, seed: int) -> Population:
    """Draw the entities and their hidden traits from ``seed``."""
    rng = np.random.default_rng([seed, 1])
    n_r, n_a, n_c = size.reps, size.accounts, size.contacts
    is_exec = np.zeros(n_r, dtype=bool)
    is_exec[: size.executives] = True
    sellers = np.flatnonzero(~is_exec)
    tier = rng.choice(3, n_a, p=[0.05, 0.2, 0.75])
    potential = np.exp(rng.normal(11.0, 0.6, n_a)) * np.array([6.0, 2.5, 1.0])[tier]
    book = rng.dirichlet(np.full(len(sellers), 4.0))
    owner = sellers[rng.choice(len(sellers), n_a, p=book)]
    weight = np.array([3.0, 1.8, 1.0])[tier]
    con_acct = np.concatenate([np.arange(n_a), rng.choice(n_a, n_c - n_a, p=weight / weight.sum())])
    con_acct = np.sort(con_acct)
    seniority = rng.choice(len(vocab.SENIORITIES), n_c, p=[0.35, 0.3, 0.2, 0.1, 0.05])
    role_p = np.array([[0.02, 0.15, 0.3, 0.4, 0.08, 0.05], [0.08, 0.3, 0.3, 0.15, 0.07, 0.1],
                       [0.3, 0.35, 0.15, 0.05, 0.05, 0.1], [0.55, 0.3, 0.05, 0.02, 0.03, 0.05],
                       [0.8, 0.15, 0.02, 0.01, 0.01, 0.01]])
    role = np.array([rng.choice(6, p=role_p[s]) for s in seniority]) if n_c <= 20_000 else \
        (role_p[seniority].cumsum(axis=1) < rng.random((n_c, 1))).sum(axis=1)
    month = rng.integers(1, 13, n_c)
    day = rng.integers(1, 29, n_c)
    # pairs: the account owner knows every contact of the account; some contacts also know another seller;
    # executives hold a few senior ties at big accounts
    p_rep = [owner[con_acct]]
    p_con = [np.arange(n_c)]
    second = rng.random(n_c) < 0.25
    other = sellers[rng.integers(0, len(sellers), n_c)]
    keep = second & (other != owner[con_acct])
    p_rep.append(other[keep])
    p_con.append(np.flatnonzero(keep))
    if size.executives:
        senior_big = (seniority >= 2) & (tier[con_acct] <= 1) & (rng.random(n_c) < 0.35)
        p_rep.append(rng.integers(0, size.executives, senior_big.sum()))
        p_con.append(np.flatnonzero(senior_big))
    pair_rep = np.concatenate(p_rep)
    pair_con = np.concatenate(p_con)
    order = np.lexsort((pair_rep, pair_con))
    pair_rep, pair_con = pair_rep[order], pair_con[order]
    n_p = len(pair_rep)
    starts = np.searchsorted(pair_con, np.arange(n_c))
    attention = rng.gamma(0.9, 1 / 0.9, n_p) * (1 + 0.15 * seniority[pair_con])
    known = rng.random(n_p) < 0.55
    bond = np.where(known, rng.exponential(0.7, n_p), 0.0)
    tenure = np.where(known, rng.uniform(0, 5 * 365, n_p), np.nan)
    return Population(
        size=size, start=pd.Timestamp(START, tz="UTC"),
        rep_is_exec=is_exec, rep_value=np.exp(rng.normal(0, 0.25, n_r)),
        rep_skill_hidden=rng.normal(0, 0.35, n_r), rep_activity=np.exp(rng.normal(0, 0.4, n_r)),
        rep_greets=rng.beta(1.2, 6.0, n_r),
        acct_tier=tier, acct_potential=potential, acct_owner=owner,
        acct_industry=rng.integers(0, len(INDUSTRIES), n_a), acct_region=rng.integers(0, len(REGIONS), n_a),
        con_acct=con_acct, con_seniority=seniority, con_role=role, con_bmonth=month, con_bday=day,
        con_openness_hidden=rng.normal(0, 1, n_c),
        pair_rep=pair_rep, pair_con=pair_con, pair_attention=attention, con_pair_start=starts,
        init_bond=bond, init_tenure_days=tenure,
    )
