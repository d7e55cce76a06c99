"""Benchmark: the effect model's uplifts against the simulated world's true uplifts, by closeness.

    GUANXI_MODELS_DIR=<models trained on that world> python benchmarks/effect_truth.py --variant contrarian --json

At the end of the world's history, for a few kinds: the oracle's uplift of one action on P(effective)
(``crm.sim.oracle.action_effect``, one pair per account, common random numbers), the served effect model's
uplift on the same pairs, and a T-learner's (a booster fit on the rows treated with the kind, minus the
effect model's no-action score), by quartile of the pair's touches in the last year, with the share of
ties above the bond personal advice needs (``above_gate``, which no data shows). Says whether a gap to the
oracle is the learner's or the data's.
"""

from __future__ import annotations

import _path  # noqa: F401  (keeps this folder from shadowing the `features` package)

import argparse
import json
import os
from pathlib import Path

KINDS = ("mentor", "consult", "executive_event", "visit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--size", default="demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--variant", default="base")
    parser.add_argument("--draws", type=int, default=3, help="random pair-per-account draws")
    parser.add_argument("--replicas", type=int, default=8)
    parser.add_argument("--models", default=os.environ.get("GUANXI_MODELS_DIR", "models"))
    args = parser.parse_args()
    import lightgbm as lgb
    import numpy as np
    import pandas as pd

    from crm.sim.oracle import action_effect
    from crm.sim.params import DYN, A
    from crm.sim.simulate import simulate
    from serving.candidates import candidates, deal_only
    from serving.models import load_models
    from training.hyperparams import lgb_params
    from training.uplift import effect_dataset

    sim = simulate(args.size, seed=args.seed, variant=args.variant)
    models, _ = load_models(Path(args.models))
    effect = models.effect
    day = sim.size.days - 1
    cands = candidates(sim.tables, sim.pop.start + pd.Timedelta(days=day + 1))
    cands = cands[~deal_only(cands) & (cands["n_365d"] > 0)].reset_index(drop=True)
    cands["pair"] = sim.pair_index(cands["rep_id"], cands["contact_id"])
    cands = cands[cands["pair"] >= 0].drop_duplicates("pair").reset_index(drop=True)
    learned = effect.effects(cands, list(KINDS))["effective"]
    # the T-learner: per kind, a booster on the treated training rows, against the S-learner's no-action score
    rows = effect_dataset(sim.tables)
    valid_cut = sorted(rows["cutoff"].unique())[-2]
    base = learned["_base"].to_numpy()
    t_learner = {}
    for kind in KINDS:
        treated = rows[rows[f"t_{kind}"] > 0]
        fit, stop = treated[treated["cutoff"] < valid_cut], treated[treated["cutoff"] == valid_cut]
        params = lgb_params("effect", {"min_data_in_leaf": 40, "num_leaves": 15, "learning_rate": 0.05})
        booster = lgb.train(params, lgb.Dataset(fit[effect.features].to_numpy(float), fit["effective"].to_numpy()),
                            300, valid_sets=[lgb.Dataset(stop[effect.features].to_numpy(float),
                                                         stop["effective"].to_numpy())],
                            callbacks=[lgb.early_stopping(40, verbose=False)])
        t_learner[kind] = booster.predict(cands[effect.features].to_numpy(float),
                                          num_iteration=booster.best_iteration) - base
    frames = []
    bond = sim.state_at(day).bond[0]  # the latent bond: which ties are above the gate personal advice needs
    acct = sim.world.pair_acct[cands["pair"].to_numpy()]
    for draw in range(args.draws):
        order = np.random.default_rng(draw).permutation(len(cands))
        _, first = np.unique(acct[order], return_index=True)
        pick = order[first]
        for kind in KINDS:
            truth = action_effect(sim, day, cands["pair"].to_numpy()[pick], A[kind], replicas=args.replicas)
            frames.append(pd.DataFrame({"kind": kind, "n_365d": cands["n_365d"].to_numpy()[pick],
                                        "above_gate": bond[cands["pair"].to_numpy()[pick]] >= DYN.mentor_gate,
                                        "truth": truth.effective, "learned": learned[kind].to_numpy()[pick],
                                        "t_learner": t_learner[kind][pick]}))
    df = pd.concat(frames, ignore_index=True)
    df["quartile"] = pd.qcut(df["n_365d"].rank(method="first"), 4, labels=False) + 1
    table = df.groupby(["kind", "quartile"])[["truth", "learned", "t_learner", "above_gate"]].mean().round(4)
    out = {"size": args.size, "seed": args.seed, "variant": args.variant, "pairs": int(len(df) // len(KINDS)),
           "by_quartile": {f"{k}|{q}": v for (k, q), v in table.to_dict(orient="index").items()}}
    print(json.dumps(out) if args.json else table.to_string())


if __name__ == "__main__":
    main()
