"""Run the world's history and write it as data-contract tables, keeping the truth beside them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm import vocab
from crm.sim.engine import N_STAGES, DayOut, State, World, initial_state
from crm.sim.params import ACTIONS, DYN, SIZES, VARIANTS, A, Size
from crm.sim.population import INDUSTRIES, REGIONS, Population, build_population

STAGE_NAMES = vocab.OPEN_STAGES[:2] + vocab.OPEN_STAGES[3:5]  # prospecting, qualification, proposal, negotiation
PRODUCTS = ("Platform", "Analytics", "Services", "Support")
BUSINESS_CHANNELS = np.array(["email", "call", "meeting", "video_call"])


def path_rng(seed: int) -> np.random.Generator:
    """The stream that drives the latent path (actions, bonds, deal stages)."""
    return np.random.default_rng([seed, 2])


def outcome_rng(seed: int) -> np.random.Generator:
    """The stream that draws outcomes (returns, wins) given the path."""
    return np.random.default_rng([seed, 3])


@dataclass
class SimResult:
    """The simulated tables plus the truth: hidden population, and every return event per pair."""

    seed: int
    size: Size
    pop: Population
    world: World
    tables: dict[str, pd.DataFrame]
    returns: pd.DataFrame  # pair, day, kind ('request', 'referral', 'won')
    snapshots: dict[int, State]
    recorder: Recorder | None = None  # the log as it stood at the end, for rollouts that keep logging

    def day_of(self, ts: pd.Timestamp | str) -> int:
        """Day index of a timestamp (day 0 is the start)."""
        return int((pd.Timestamp(ts, tz="UTC") if isinstance(ts, str) else ts).floor("D").value
                   - self.pop.start.value) // 86_400_000_000_000

    def pair_index(self, rep_ids: pd.Series, contact_ids: pd.Series) -> np.ndarray:
        """Pair positions (for the oracle's arrays) of (rep_id, contact_id) rows; -1 where no such pair."""
        key = pd.Series(np.arange(self.pop.n_pairs),
                        index=pd.MultiIndex.from_arrays([self.pop.pair_rep, self.pop.pair_con]))
        reps = pd.Series(rep_ids).astype(str).str[1:].astype(int).to_numpy()
        cons = pd.Series(contact_ids).astype(str).str[1:].astype(int).to_numpy()
        return key.reindex(pd.MultiIndex.from_arrays([reps, cons])).fillna(-1).astype(int).to_numpy()

    def active_pairs(self, day: int) -> np.ndarray:
        """Pairs with an interaction in the year up to ``day``: the population the base rates are read on."""
        inter = self.tables["interactions"]
        d = (inter["ts"] - self.pop.start).dt.days
        recent = inter[(d <= day) & (d > day - 365)]
        idx = self.pair_index(recent["rep_id"], recent["contact_id"])
        return np.unique(idx[idx >= 0])

    def effective(self, day: int, horizon: int) -> np.ndarray:
        """Per pair, whether a return came in ``(day, day + horizon]`` (the drawn label, not the oracle's)."""
        ret = self.returns
        y = np.zeros(self.pop.n_pairs, dtype=bool)
        y[ret.loc[(ret["day"] > day) & (ret["day"] <= day + horizon), "pair"].to_numpy()] = True
        return y

    def state_at(self, day: int) -> State:
        """The latent state at the end of ``day`` (a snapshot, or the path re-run to it)."""
        if day in self.snapshots:
            return self.snapshots[day].copy()
        state = initial_state(self.pop)
        rng = path_rng(self.seed)
        for d in range(day + 1):
            self.world.step(state, d, rng)
        return state


def simulate(size: str | Size = "small", seed: int = 0, snapshot_days: tuple[int, ...] = (),
             progress: bool = False, variant: str = "base") -> SimResult:
    """Simulate ``size.days`` days of history from ``seed``; same seed and variant, same tables."""
    size = SIZES[size] if isinstance(size, str) else size
    if variant not in VARIANTS:
        raise ValueError(f"unknown world variant {variant!r}: one of {', '.join(VARIANTS)}")
    pop = build_population(size, seed)
    world = World(pop, size.days + 400, VARIANTS[variant], seed)
    state = initial_state(pop)
    rng, out_rng = path_rng(seed), outcome_rng(seed)
    rec = Recorder(pop, world, np.random.default_rng([seed, 4]))
    snaps: dict[int, State] = {}
    days: Iterable[int] = range(size.days)
    if progress:
        from rich.progress import track

        days = track(days, description=f"simulating {size.days} days")
    for day in days:
        out = world.step(state, day, rng, record=True)
        rec.day(day, state, out, out_rng.random(pop.size.accounts), out_rng.random(pop.n_pairs))
        if day in snapshot_days:
            snaps[day] = state.copy()
    tables = rec.tables(state, size.days)
    return SimResult(seed, size, pop, world, tables, rec.returns_frame(), snaps, rec)


class Recorder:
    """Turns each day's events into rows."""

    def __init__(self, pop: Population, world: World, rng: np.random.Generator) -> None:
        self.pop, self.cal, self.rng = pop, world.cal, rng
        self.inter: list[dict[str, np.ndarray]] = []
        self.ret_pair: list[np.ndarray] = []
        self.ret_day: list[np.ndarray] = []
        self.ret_kind: list[np.ndarray] = []
        self.opps: list[dict[str, object]] = []
        self.stages: list[tuple[int, int, str]] = []
        self.chain: list[tuple[int, int, int, str]] = []
        self.open_deal = np.full(pop.size.accounts, -1)
        self.deals_at = np.zeros(pop.size.accounts, dtype=np.int64)
        # contacts are sorted by account and pairs by contact, so each account owns contiguous ranges
        self.con_range = np.searchsorted(pop.con_acct, np.arange(pop.size.accounts + 1))
        self.pair_range = np.searchsorted(pop.pair_acct, np.arange(pop.size.accounts + 1))

    def _ts(self, day: int, n: int, start_hour: float = 8.0, span: float = 10.0) -> np.ndarray:
        seconds = (day * 86400 + (start_hour + self.rng.random(n) * span) * 3600).astype(np.int64)
        return self.pop.start.value // 1000 + seconds * 1_000_000

    def day(self, day: int, s: State, out: DayOut, u_win: np.ndarray, u_ret: np.ndarray) -> None:
        """Record one day; ``u_win`` (per account) and ``u_ret`` (per pair) are the outcome draws."""
        pop, rng = self.pop, self.rng
        # deals first, so today's touches can point at a deal created today
        chain_now = (out.chain_before if out.chain_before is not None else s.on_chain)[0]
        closed, lost = out.closed[0], out.lost_early[0]
        for a in np.flatnonzero(closed | lost):
            deal = self.open_deal[a]
            won = bool(closed[a] and out.p_win is not None and u_win[a] < out.win_chance()[0, a])
            rec = self.opps[deal]
            rec.update(closed_day=day, outcome="won" if won else "lost")
            self.stages.append((deal, day, "won" if won else "lost"))
            if won:
                at = np.arange(self.pair_range[a], self.pair_range[a + 1])
                owner_pairs = at[(pop.pair_rep[at] == pop.acct_owner[a]) & chain_now[pop.pair_con[at]]]
                self._returns(owner_pairs, day, "won")
            self.open_deal[a] = -1
        for moved, stage in out.stage_moves:
            if self.open_deal[moved] >= 0:
                self.stages.append((self.open_deal[moved], day, STAGE_NAMES[min(stage, N_STAGES - 1)]))
        cmax = np.maximum.reduceat(s.bond[0], pop.con_pair_start) if len(out.created) else np.empty(0)
        for a in out.created:
            deal = len(self.opps)
            self.open_deal[a] = deal
            n_prev = self.deals_at[a]
            self.deals_at[a] += 1
            self.opps.append(dict(account=a, owner=pop.acct_owner[a], created_day=day,
                                  amount=float(s.deal_amount[0, a]),
                                  competitors=int(s.deal_competitors[0, a]), closed_day=None, outcome="open",
                                  type="new_business" if n_prev == 0 else rng.choice(["expansion", "renewal"]),
                                  product=PRODUCTS[rng.integers(len(PRODUCTS))]))
            self.stages.append((deal, day, "prospecting"))
            lo, hi = self.con_range[a], self.con_range[a + 1]
            for c in lo + np.flatnonzero(s.on_chain[0, lo:hi]):
                stance = ("champion" if cmax[c] > 1.6 else "supporter" if cmax[c] > 0.9 else
                          "neutral" if cmax[c] > 0.3 else "skeptic")
                self.chain.append((deal, int(c), day, stance))
        # touches by our reps, and the contacts' replies
        p, k = out.act_pairs, out.act_kind
        if len(p):
            n = len(p)
            con = pop.pair_con[p]
            acct = pop.con_acct[con]
            channel = np.array(ACTIONS.channels)[k]
            business = k == A["business"]
            channel = np.where(business, BUSINESS_CHANNELS[rng.integers(0, 4, n)], channel)
            birthday = (pop.con_bmonth[con] == self.cal.month[day]) & (pop.con_bday[con] == self.cal.mday[day])
            occasion = np.where(k == A["greet"], np.where(birthday, "birthday", "holiday"), None)  # type: ignore[call-overload]
            deal = self.open_deal[acct]
            opp = np.where(out.act_need & (deal >= 0) & s.on_chain[0, con], deal, -1)
            favor = np.where(k == A["favor"], "given", np.where(out.act_ask, "received", None))  # type: ignore[call-overload]
            dur = np.array(ACTIONS.durations)[k] * rng.uniform(0.6, 1.4, n)
            dur = np.where(np.isin(channel, ["email", "message", "social"]), np.nan, np.round(dur))
            ts = self._ts(day, n)
            base = dict(rep=pop.pair_rep[p], con=con, channel=channel, depth=np.array(ACTIONS.depths)[k],
                        occasion=occasion, opp=opp, favor=favor, exec=k == A["executive_event"])
            self._add(dict(base, ts=ts, direction=np.full(n, "outbound"), dur=dur))
            rp = out.act_reply
            if rp.any():
                delay = np.minimum(rng.exponential(8 * 3600, rp.sum()), 5 * 86400).astype(np.int64) * 1_000_000
                reply = {key: val[rp] for key, val in base.items()}
                reply.update(favor=np.full(rp.sum(), None), occasion=np.full(rp.sum(), None),
                             exec=np.zeros(rp.sum(), dtype=bool))
                self._add(dict(reply, ts=ts[rp] + delay, direction=np.full(rp.sum(), "inbound"),
                                       dur=np.full(rp.sum(), np.nan)))
        # returns: inbound requests and referrals, drawn from today's hazard
        hit = np.flatnonzero(u_ret < out.hazard[0])
        if len(hit):
            referral = rng.random(len(hit)) < DYN.referral_share
            self._returns(hit[~referral], day, "request")
            self._returns(hit[referral], day, "referral")
            con = pop.pair_con[hit]
            n = len(hit)
            channel = np.where(rng.random(n) < 0.6, "email", "call")
            self._add(dict(rep=pop.pair_rep[hit], con=con, channel=channel,
                                   depth=np.full(n, 2), occasion=np.where(referral, "referral", "business_request"),
                                   opp=np.full(n, -1), favor=np.full(n, None), exec=np.zeros(n, dtype=bool),
                                   ts=self._ts(day, n), direction=np.full(n, "inbound"), dur=np.full(n, np.nan)))

    def _add(self, rows: dict[str, np.ndarray]) -> None:
        """Keep categorical columns as small integer codes: the large world holds 12M rows."""
        for key, cats in _CATEGORIES.items():
            rows[key] = pd.Categorical(rows[key], categories=cats).codes
        rows["rep"], rows["con"] = rows["rep"].astype(np.int32), rows["con"].astype(np.int32)
        rows["depth"], rows["dur"] = rows["depth"].astype(np.int8), rows["dur"].astype(np.float32)
        self.inter.append(rows)

    def _returns(self, pairs: np.ndarray, day: int, kind: str) -> None:
        if len(pairs):
            self.ret_pair.append(pairs)
            self.ret_day.append(np.full(len(pairs), day))
            self.ret_kind.append(np.full(len(pairs), kind))

    def returns_frame(self) -> pd.DataFrame:
        if not self.ret_pair:
            return pd.DataFrame({"pair": [], "day": [], "kind": []})
        return pd.DataFrame({"pair": np.concatenate(self.ret_pair), "day": np.concatenate(self.ret_day),
                             "kind": np.concatenate(self.ret_kind)})

    def tables(self, s: State, days: int) -> dict[str, pd.DataFrame]:
        pop = self.pop
        size = pop.size
        start_us = pop.start.value // 1000
        rep_ids = np.array([f"R{i:04d}" for i in range(size.reps)])
        acct_ids = np.array([f"A{i:05d}" for i in range(size.accounts)])
        con_ids = np.array([f"C{i:06d}" for i in range(size.contacts)])

        def ts(day_values: np.ndarray) -> pd.Series:
            return pd.to_datetime(start_us + np.asarray(day_values, dtype=np.int64) * 86_400_000_000, unit="us",
                                  utc=True)

        reps = pd.DataFrame({"rep_id": rep_ids, "name": [f"Rep {i}" for i in range(size.reps)],
                             "team": np.where(pop.rep_is_exec, "executives",
                                              [f"team-{i % 5}" for i in range(size.reps)]),
                             "is_executive": pop.rep_is_exec})
        accounts = pd.DataFrame({"account_id": acct_ids, "name": [f"Account {i}" for i in range(size.accounts)],
                                 "industry": np.array(INDUSTRIES)[pop.acct_industry],
                                 "tier": np.array(vocab.ACCOUNT_TIERS)[pop.acct_tier],
                                 "potential": np.round(pop.acct_potential, -2),
                                 "region": np.array(REGIONS)[pop.acct_region]})
        contacts = pd.DataFrame({"contact_id": con_ids, "account_id": acct_ids[pop.con_acct],
                                 "name": [f"Contact {i}" for i in range(size.contacts)],
                                 "email": [f"contact{i}@example.com" for i in range(size.contacts)],
                                 "seniority": np.array(vocab.SENIORITIES)[pop.con_seniority],
                                 "buying_role": np.array(vocab.BUYING_ROLES)[pop.con_role],
                                 "birthday_month": pop.con_bmonth, "birthday_day": pop.con_bday})
        parts = {k: np.concatenate([d[k] for d in self.inter]) for k in self.inter[0]} if self.inter else {}
        order = np.argsort(parts["ts"], kind="stable")
        parts = {k: v[order] for k, v in parts.items()}
        n = len(order)
        deal_ids = np.array([f"D{i:06d}" for i in range(len(self.opps))] + [None], dtype=object)

        def cat(key: str) -> pd.Categorical:
            return pd.Categorical.from_codes(parts[key], categories=_CATEGORIES[key])

        import pyarrow as pa
        import pyarrow.compute as pc

        ids = pc.binary_join_element_wise("I", pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), 9, "0"), "")
        interactions = pd.DataFrame({
            "interaction_id": pd.Series(pd.arrays.ArrowStringArray(ids)),
            "ts": pd.to_datetime(parts["ts"], unit="us", utc=True),
            "rep_id": pd.Categorical.from_codes(parts["rep"], categories=rep_ids),
            "contact_id": pd.Categorical.from_codes(parts["con"], categories=con_ids),
            "channel": cat("channel"), "direction": cat("direction"),
            "duration_min": parts["dur"].astype(np.float64), "depth": parts["depth"], "occasion": cat("occasion"),
            "opportunity_id": pd.Categorical.from_codes(parts["opp"], categories=deal_ids[:-1]),
            "favor": cat("favor"), "with_executive": parts["exec"],
        })
        interactions = interactions[interactions["ts"] < ts(np.array([days]))[0]].reset_index(drop=True)
        opps = pd.DataFrame(self.opps)
        opportunities = pd.DataFrame({
            "opportunity_id": deal_ids[:-1], "account_id": acct_ids[opps["account"]],
            "owner_rep_id": rep_ids[opps["owner"]], "amount": opps["amount"],
            "closed_amount": np.where(opps["outcome"] == "won", opps["amount"], np.nan),
            "type": opps["type"], "product": opps["product"], "created_at": ts(opps["created_day"]),
            "closed_at": ts(opps["closed_day"].fillna(-1).astype(int)).where(opps["closed_day"].notna()),
            "outcome": opps["outcome"], "competitors": opps["competitors"],
            "attributes": [json.dumps({"segment": t})
                           for t in np.array(vocab.ACCOUNT_TIERS)[pop.acct_tier[opps["account"]]]],
        })
        st = pd.DataFrame(self.stages, columns=["deal", "day", "stage"])
        st["entered_at"] = ts(st["day"]) + pd.to_timedelta(st.groupby(["deal", "day"]).cumcount(), unit="s")
        stages = pd.DataFrame({"opportunity_id": deal_ids[st["deal"]], "entered_at": st["entered_at"],
                               "stage": st["stage"]})
        ch = pd.DataFrame(self.chain, columns=["deal", "con", "day", "stance"])
        opp_contacts = pd.DataFrame({"opportunity_id": deal_ids[ch["deal"]], "contact_id": con_ids[ch["con"]],
                                     "role": np.array(vocab.BUYING_ROLES)[pop.con_role[ch["con"]]],
                                     "stance": ch["stance"], "added_at": ts(ch["day"])})
        return {"reps": reps, "accounts": accounts, "contacts": contacts, "opportunities": opportunities,
                "interactions": interactions, "opportunity_stages": stages, "opportunity_contacts": opp_contacts}


_CATEGORIES: dict[str, tuple[str, ...]] = {
    "channel": vocab.CHANNELS, "direction": vocab.DIRECTIONS, "occasion": vocab.OCCASIONS, "favor": vocab.FAVORS,
}

