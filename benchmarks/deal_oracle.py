"""Benchmark: the deal model against the simulator's true P(win), on the demo world's test deals.

    python benchmarks/deal_oracle.py --json [--seeds 3 7] [--variant v2]

For each world seed, on the test rows of ``guanxi train deal`` (every deal open at a test cutoff whose
outcome is known by the end of the data):

- ``oracle_auc``: the true P(win) used as the score: the latent state at the cutoff rolled forward in
  32 replicas until the end of the data, P(won | closed by then) — the rows are the deals whose
  outcome is known by the end, so a deal still open then is left out, not lost
  (``oracle_by_end_auc``: P(won by the end), counting it as lost);
- ``oracle_without_luck_auc``: the same truth averaged over each deal's luck term (a normal draw on the
  log-odds, sd 0.6, made when the deal opens and touching nothing but its outcome): the truth given
  everything in the world but that draw, the best any scorer can reach;
- ``latent_auc``: a logistic regression, fitted on the training rows, on the true drivers of P(win) at
  the cutoff (decision-chain coverage, decision-maker bond, executive sponsor, competitors, amount,
  the owner's hidden skill) but not the per-deal luck term, which nothing in the data shows: about
  the best any model of the recorded data could do;
- the model's and the baselines' AUC and ECE on the same rows; ``*_ece_vs_truth`` is the ECE with the
  true P(win | closed) in place of the drawn outcomes: the calibration error itself, without the
  noise of one draw per deal that puts a floor of about 0.04 under the ECE on ~700 deals
  (``benchmarks/calibration_floor.py``); ``*_ece_vs_truth_without_luck`` the same against the truth
  without the luck term, which has no draw of its own in it (the luck-free truth scored against the
  truth with the luck reads 0.005–0.01: what a reference with a draw in it adds).

``first_cutoff`` repeats the means on the first test cutoff's deals alone, which nearly all close
within the data: how the served P(win) of every open deal compares with the truth.

Takes 4–10 minutes per seed (the oracle's rollouts; more when the machine is busy).
"""

from __future__ import annotations

import _path  # noqa: F401  (keeps this folder from shadowing the `features` package)

import argparse
import json

import numpy as np
import pandas as pd


def _positions(sim, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001  (a SimResult)
    """Each row's account index and simulator day (a cutoff is midnight: the state of the day before)."""
    opps = sim.tables["opportunities"].set_index("opportunity_id")["account_id"]
    account = frame["opportunity_id"].map(opps).str[1:].astype(int).to_numpy()
    return account, frame["cutoff"].map(sim.day_of).to_numpy() - 1


def _latent(sim, frame: pd.DataFrame) -> pd.DataFrame:  # noqa: ANN001  (a SimResult with snapshots)
    """The drivers of the true P(win) at each row's cutoff (crm.sim.engine.World.win_probability)."""
    from crm.sim.params import DEALS

    world, pop = sim.world, sim.pop
    n_a = pop.size.accounts
    account, day = _positions(sim, frame)
    parts = []
    for d in np.unique(day):
        s, rows = sim.snapshots[int(d)], np.flatnonzero(day == d)
        cmax = world.contact_max_bond(s.bond)[0]
        chain = s.on_chain[0].astype(float)
        n_chain = np.bincount(pop.con_acct, chain, n_a)
        strong = np.bincount(pop.con_acct, chain * (cmax >= DEALS.strong_tie), n_a)
        dm = np.zeros(n_a)
        np.maximum.at(dm, pop.con_acct, chain * world.con_is_dm * cmax)
        a = account[rows]
        parts.append(pd.DataFrame({
            "coverage": np.where(n_chain > 0, strong / np.maximum(n_chain, 1), 0.0)[a],
            "dm_bond": np.minimum(dm, 2.5)[a], "sponsor": ((d - s.last_exec[0]) <= 90)[a].astype(float),
            "competitors": s.deal_competitors[0, a], "log_amount": np.log(np.maximum(s.deal_amount[0, a], 1)),
            "skill": pop.rep_skill_hidden[pop.acct_owner[a]], "open": s.deal_open[0, a].astype(float),
        }, index=frame.index[rows]))
    return pd.concat(parts).reindex(frame.index)


def _oracle(sim, test: pd.DataFrame, replicas: int) -> pd.DataFrame:  # noqa: ANN001
    """Per row: P(won by the end of the data), P(won | closed by then) — the truth for these rows — the
    same without the deal's luck, and P(closed by then)."""
    from crm.sim.oracle import truth_at

    account, day = _positions(sim, test)
    p, p_if_closed, p_without_luck, p_closed = (np.full(len(test), np.nan) for _ in range(4))
    for d in np.unique(day):
        rows = day == d
        truth = truth_at(sim, int(d), horizon=1, replicas=replicas, deal_days=sim.size.days - 1 - int(d),
                         without_luck=True)
        p[rows] = truth.p_win[account[rows]]
        p_if_closed[rows] = truth.p_win_if_closed[account[rows]]
        p_without_luck[rows] = truth.p_win_if_closed_without_luck[account[rows]]
        p_closed[rows] = truth.p_closed[account[rows]]
    return pd.DataFrame({"by_end": p, "if_closed": p_if_closed, "without_luck": p_without_luck,
                         "closed": p_closed}, index=test.index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 7])
    parser.add_argument("--variant", default="base", help="the simulated world's variant (crm/sim/params.py)")
    parser.add_argument("--replicas", type=int, default=32)
    args = parser.parse_args()
    from rich.progress import track
    from sklearn.linear_model import LogisticRegression

    from crm.sim.simulate import simulate
    from training.evaluate import auc, expected_calibration_error
    from training.train import train

    figures: dict[str, object] = {"variant": args.variant}
    for seed in track(args.seeds, description="deal oracle", disable=args.json):
        sim = simulate("demo", seed=seed, variant=args.variant)
        result = train(sim.tables, "deal")
        ds = result.dataset
        days = tuple(sorted({sim.day_of(c) - 1 for c in ds.frame["cutoff"].unique()}))
        # the same path, with the states kept
        sim = simulate("demo", seed=seed, snapshot_days=days, variant=args.variant)
        test = ds.part("test")
        oracle = _oracle(sim, test, args.replicas)
        latent = _latent(sim, ds.frame)
        # a deal created on the cutoff day itself is open in the data (created at midnight) but not yet in
        # the simulator's state at the end of the day before: those few rows are left out of every figure
        known = (oracle.notna().all(axis=1) & (latent.loc[test.index, "open"] == 1)).to_numpy()
        train_rows = (ds.split == "train").to_numpy() & (latent["open"] == 1).to_numpy()
        drivers = ["coverage", "dm_bond", "sponsor", "competitors", "log_amount", "skill"]
        reference = LogisticRegression(max_iter=1000).fit(latent.loc[train_rows, drivers],
                                                          ds.frame.loc[train_rows, "label"])
        y = test["label"].to_numpy()[known]
        first = (test["cutoff"] == test["cutoff"].min()).to_numpy()[known]
        truth = oracle["if_closed"].to_numpy()[known]
        scores = {"oracle": truth, "oracle_by_end": oracle["by_end"].to_numpy()[known],
                  "oracle_without_luck": oracle["without_luck"].to_numpy()[known],
                  "latent": reference.predict_proba(latent.loc[test.index, drivers])[:, 1][known],
                  **{name: s[known] for name, s in result.test_scores.items()}}
        figures[f"seed_{seed}"] = {
            "n_test": int(known.sum()), "n_left_out": int((~known).sum()),
            "n_test_deals": int(test["opportunity_id"][known].nunique()),
            **{f"{name}_auc": auc(y, s) for name, s in scores.items()},
            **{f"{name}_ece": expected_calibration_error(y, s) for name, s in scores.items()},
            **{f"{name}_ece_vs_truth": expected_calibration_error(truth, s) for name, s in scores.items()},
            **{f"{name}_ece_vs_truth_without_luck": expected_calibration_error(scores["oracle_without_luck"], s)
               for name, s in scores.items()},
            "label_rate": float(y.mean()), "truth_mean": float(truth.mean()),
            "model_mean": float(scores["model"].mean()),
            # the first test cutoff's deals nearly all close within the data (180 days on): the population
            # the API scores, every open deal, with little of the selection of the later cutoffs
            "first_cutoff": {"n": int(first.sum()), "label_rate": float(y[first].mean()),
                             "truth_mean": float(truth[first].mean()),
                             "model_mean": float(scores["model"][first].mean()),
                             "p_closed_mean": float(oracle["closed"].to_numpy()[known][first].mean())},
            "model_to_oracle": auc(y, scores["model"]) / auc(y, scores["oracle"]),
            "model_to_oracle_without_luck": auc(y, scores["model"]) / auc(y, scores["oracle_without_luck"]),
            "model_to_latent": auc(y, scores["model"]) / auc(y, scores["latent"]),
        }
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
