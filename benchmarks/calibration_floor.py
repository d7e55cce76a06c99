"""Benchmark: the ECE a perfectly calibrated deal model would show on the demo world's test period.

    python benchmarks/calibration_floor.py --json

For each world seed: train the deal model, take its calibrated test probabilities p, draw outcomes
y ~ Bernoulli(p) (so the model is calibrated by construction) and measure ECE exactly as training does
(10 equal-count bins). The spread of those ECEs is the sampling-noise floor that an ECE goal on that
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
    parser.add_argument("--draws", type=int, default=2000)
    args = parser.parse_args()
    from crm.sim.simulate import simulate
    from training.evaluate import expected_calibration_error
    from training.train import train

    figures: dict[str, object] = {}
    rng = np.random.default_rng(0)
    for seed in args.seeds:
        result = train(simulate("demo", seed=seed).tables, "deal")
        p = result.test_scores["model"]
        deal = result.dataset.part("test")["opportunity_id"].astype("category").cat.codes.to_numpy()
        n_deals = int(deal.max()) + 1
        draws = {"rows": np.array([expected_calibration_error((rng.random(len(p)) < p).astype(float), p)
                                   for _ in range(args.draws)]),
                 "deals": np.array([expected_calibration_error((rng.random(n_deals)[deal] < p).astype(float), p)
                                    for _ in range(args.draws)])}
        figures[f"seed_{seed}"] = {"n_test": len(p), "n_test_deals": n_deals,
                                   "measured_ece": result.metrics["model"]["ece"]}
        for way, ece in draws.items():
            figures[f"seed_{seed}"][way] = {
                "calibrated_ece_median": float(np.median(ece)), "calibrated_ece_p05": float(np.percentile(ece, 5)),
                "calibrated_ece_p95": float(np.percentile(ece, 95)),
                "share_at_or_below_0.02": float(np.mean(ece <= 0.02))}
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
