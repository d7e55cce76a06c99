"""Benchmark: the ECE a perfectly calibrated deal model would show on the demo world's test period.

    python benchmarks/calibration_floor.py --json [--seeds 3 7] [--variant v2]

For each world seed: train the deal model, take its calibrated test probabilities p, draw outcomes
y ~ Bernoulli(p) (so the model is calibrated by construction) and measure ECE exactly as training does
(10 equal-count bins; ``training.evaluate.ece_if_calibrated``, whose median ``guanxi train`` reports as
``ece_floor``). The spread of those ECEs is the sampling-noise floor that an ECE goal on that
many test rows has to be read against. Two ways to draw: every row on its own (``rows``), and one
draw per deal shared by its snapshots at successive cutoffs (``deals``, y = u < p with one uniform u
per deal), which is how the test set is made: a deal has one outcome, however many rows it has.
"""

from __future__ import annotations

import _path  # noqa: F401  (keeps this folder from shadowing the `features` package)

import argparse
import json

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 7])
    parser.add_argument("--variant", default="base", help="the simulated world's variant (crm/sim/params.py)")
    parser.add_argument("--draws", type=int, default=2000)
    args = parser.parse_args()
    from crm.sim.simulate import simulate
    from training.evaluate import ece_if_calibrated
    from training.train import train

    figures: dict[str, object] = {"variant": args.variant}
    for seed in args.seeds:
        result = train(simulate("demo", seed=seed, variant=args.variant).tables, "deal")
        p = result.test_scores["model"]
        deal = result.dataset.part("test")["opportunity_id"].to_numpy()
        draws = {"rows": ece_if_calibrated(p, draws=args.draws), "deals": ece_if_calibrated(p, deal, draws=args.draws)}
        one: dict[str, object] = {"n_test": len(p), "n_test_deals": len(set(deal)),
                                  "measured_ece": result.metrics["model"]["ece"],
                                  "ece_floor_in_training_output": result.metrics["model"]["ece_floor"]}
        figures[f"seed_{seed}"] = one
        for way, ece in draws.items():
            one[way] = {
                "calibrated_ece_median": float(np.median(ece)), "calibrated_ece_p05": float(np.percentile(ece, 5)),
                "calibrated_ece_p95": float(np.percentile(ece, 95)),
                "share_at_or_below_0.02": float(np.mean(ece <= 0.02))}
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
