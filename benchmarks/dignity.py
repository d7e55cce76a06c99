"""Benchmark: what the dignity (体面) features add to the relationship model on world version 2.

    python benchmarks/dignity.py --json [--seed 7] [--variant v2]

On the same rows (one dataset, the same time split), the relationship model trained with every feature
and without the dignity element's features (``features.registry``, element ``dignity``): test AUC, the
oracle's AUC on the same test rows (the world's true P(effective)), and each model's share of it.
The policy side (with and without the dignity actions) is ``guanxi evaluate-policy --variant v2``, once
with the shipped catalog and once with ``GUANXI_CATALOG`` naming a copy without those actions.
"""

from __future__ import annotations

import _path  # noqa: F401  (keeps this folder from shadowing the `features` package)

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", default="demo")
    parser.add_argument("--variant", default="v2")
    args = parser.parse_args()
    from crm.sim.oracle import truth_at
    from crm.sim.simulate import simulate
    from features.registry import RELATIONSHIP
    from training.evaluate import auc
    from training.train import train

    t0 = time.perf_counter()
    sim = simulate(args.size, seed=args.seed, variant=args.variant)
    dignity = [f.name for f in RELATIONSHIP if f.element == "dignity"]
    full = train(sim.tables, "relationship")
    without = [f for f in full.dataset.features if f not in dignity]
    reduced = train(sim.tables, "relationship", features=without)
    test = full.dataset.part("test")
    truth = truth_at(sim, sim.day_of(test["cutoff"].iloc[0]) - 1, horizon=180, replicas=32)
    oracle = auc(test["label"].to_numpy(), truth.p_effective[sim.pair_index(test["rep_id"], test["contact_id"])])
    figures: dict[str, object] = {"size": args.size, "seed": args.seed, "variant": args.variant,
                                  "dignity_features": [f for f in dignity if f in full.dataset.features],
                                  "test_rows": len(test), "oracle_auc": oracle}
    for name, result in (("with_dignity", full), ("without_dignity", reduced)):
        model_auc = result.metrics["model"]["auc"]
        figures[name] = {"auc": model_auc, "share_of_oracle_auc": model_auc / oracle,
                         "features": len(result.dataset.features)}
    figures["base_rates"] = _base_rates(sim)
    figures["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(figures, default=float) if args.json else json.dumps(figures, indent=1, default=float))


def _base_rates(sim: object) -> dict[str, float]:
    """The world's documented base rates (docs/simulator.md), as ``tests/test_sim.py`` reads them."""
    import pandas as pd

    from crm.sim.simulate import SimResult

    assert isinstance(sim, SimResult)
    day = sim.size.days - 200
    opps = sim.tables["opportunities"]
    closed = opps[opps["outcome"] != "open"]
    cycle = (pd.to_datetime(closed["closed_at"]) - pd.to_datetime(closed["created_at"])).dt.days
    return {"effective_within_180d": float(sim.effective(day, 180)[sim.active_pairs(day)].mean()),
            "win_rate": float((closed["outcome"] == "won").mean()), "median_cycle_days": float(cycle.median()),
            "interactions": float(len(sim.tables["interactions"]))}


if __name__ == "__main__":
    main()
