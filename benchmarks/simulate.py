"""Benchmark: simulate the demo and large worlds, each in its own process.

    python benchmarks/simulate.py --json [--sizes demo,large] [--variant v2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

GOALS = {"demo": {"seconds": 30, "peak_mib": 2048}, "large": {"seconds": 300, "peak_mib": 8192}}


def _child(size: str, variant: str) -> None:
    from crm.sim.simulate import simulate

    t0 = time.perf_counter()
    sim = simulate(size, seed=1, variant=variant)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "interactions": len(sim.tables["interactions"]),
                      "opportunities": len(sim.tables["opportunities"]), "pairs": sim.pop.n_pairs}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="demo,large")
    parser.add_argument("--variant", default="base", help="the simulated world's variant (crm/sim/params.py)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.variant)
        return
    figures: dict[str, object] = {"variant": args.variant}
    for size in args.sizes.split(","):
        proc = subprocess.run([sys.executable, __file__, "--child", size, "--variant", args.variant],
                              check=True, capture_output=True, text=True)
        figures[size] = json.loads(proc.stdout.strip().splitlines()[-1]) | {"goal": GOALS.get(size)}
    if args.json:
        print(json.dumps(figures))
    else:
        for size, f in figures.items():
            if not isinstance(f, dict):
                continue
            print(f"{size}: {f['interactions']:,} interactions, {f['opportunities']:,} deals in {f['seconds']:.1f} s, "
                  f"peak {f['peak_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
