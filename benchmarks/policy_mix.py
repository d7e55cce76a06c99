"""Which action kinds the oracle and Guanxi use, rolled forward on the same world: where Guanxi's share of
the oracle's increment goes.

    GUANXI_MODELS_DIR=<models> python benchmarks/policy_mix.py [--size demo] [--seed 7] [--variant base]
        [--weeks 4] [--json]

The models are the bundles in ``GUANXI_MODELS_DIR`` (trained on that world); the oracle knows the world's
true effects. Prints each policy's expected new effective ties and its actions by kind.
"""

from __future__ import annotations

import _path  # noqa: F401  (keeps this folder from shadowing the `features` package)

import argparse
import collections
import json

import numpy as np


def main() -> None:
    from crm.sim.params import ACTIONS
    from crm.sim.rollout import BUILTIN, rollout
    from crm.sim.simulate import simulate
    from guanxi.settings import get_settings
    from serving.catalog import load_catalog
    from serving.models import load_models
    from serving.policy_eval import GuanxiPolicy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--variant", default="base")
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sim = simulate(args.size, args.seed, variant=args.variant)
    models, _ = load_models(get_settings().models_dir)
    out: dict[str, object] = {}
    for name in ("oracle", "guanxi"):
        codes: list[np.ndarray] = []

        def done(day: int, pairs: np.ndarray, acts: np.ndarray, codes: list[np.ndarray] = codes) -> None:
            codes.append(acts)

        policy = BUILTIN["oracle"] if name == "oracle" else GuanxiPolicy(sim, load_catalog(), models=models)
        result = rollout(sim, policy, weeks=args.weeks, k=3, compliance=0.8, seed=0, record=name != "oracle",
                         done=done)
        kinds = collections.Counter(ACTIONS.names[int(c)] for c in np.concatenate(codes)) if codes else {}
        out[name] = {"expected_effective": result.expected_effective, "actions_by_kind": dict(kinds)}
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
