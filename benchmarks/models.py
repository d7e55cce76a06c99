"""Benchmark: model quality and training time.

    python benchmarks/models.py --json

- ``guanxi train all`` on the demo world (seed 3; ``--variant`` another world) through the CLI, MLflow
  logging included (timed);
- the relationship model's test AUC against the oracle's AUC on the same rows;
- the deal model on maven-crm (time split on engage date) and tie persistence on radoslaw-email,
  each beside its baselines.
"""

from __future__ import annotations

import _path  # noqa: F401  (keeps this folder from shadowing the `features` package)

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("GUANXI_DATASETS", ROOT / "data" / "samples"))


def _cli(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run([str(Path(sys.executable).parent / "guanxi"), *args], env=env, check=True,
                          capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--variant", default="base", help="the simulated world's variant (crm/sim/params.py)")
    args = parser.parse_args()
    from crm.adapters.email import read_email_archive
    from crm.adapters.maven import read_maven
    from crm.sim.oracle import truth_at
    from crm.sim.simulate import simulate
    from crm.validate import validate_tables
    from training.evaluate import auc
    from training.train import train

    figures: dict[str, object] = {"variant": args.variant}
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GUANXI_HOME": home, "GUANXI_MODELS_DIR": f"{home}/models"}
        env.pop("MLFLOW_TRACKING_URI", None)
        _cli(["simulate", "--size", "demo", "--seed", "3", "--variant", args.variant, "--json"], env)
        t0 = time.perf_counter()
        out = json.loads(_cli(["train", "all", "--json"], env).strip().splitlines()[-1])
        figures["train_all_s"] = time.perf_counter() - t0
        figures["demo"] = {m["model"]: {"model": m["metrics"], **m["baselines"]} for m in out["models"]}
    sim = simulate("demo", seed=3, variant=args.variant)
    rel = train(sim.tables, "relationship")
    test = rel.dataset.part("test")
    truth = truth_at(sim, sim.day_of(test["cutoff"].iloc[0]) - 1, horizon=180, replicas=32)
    oracle = auc(test["label"].to_numpy(), truth.p_effective[sim.pair_index(test["rep_id"], test["contact_id"])])
    figures["relationship_vs_oracle"] = {"model_auc": rel.metrics["model"]["auc"], "oracle_auc": oracle,
                                         "ratio": rel.metrics["model"]["auc"] / oracle}
    maven = validate_tables(*read_maven(DATASETS / "maven-crm"), lambda t, c, v: set())
    deal = train(maven, "deal", horizon_days=60, min_history_days=60, step_days=14)
    figures["maven_deal"] = {"plan": deal.dataset.plan.describe(), **deal.metrics}
    email = validate_tables(*read_email_archive(DATASETS / "radoslaw-email" / "radoslaw_email.tsv"),
                            lambda t, c, v: set())
    tie = train(email, "tie", horizon_days=30, min_history_days=60, step_days=14)
    figures["radoslaw_tie"] = {"plan": tie.dataset.plan.describe(), **tie.metrics}
    print(json.dumps(figures, default=float) if args.json else json.dumps(figures, indent=1, default=float))


if __name__ == "__main__":
    main()
