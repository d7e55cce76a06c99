"""Benchmark: validate and import 1M interactions into a fresh SQLite store.

    python benchmarks/import.py --json [--rows 1000000] [--dir EXPORT]

The CSV files are generated first (or ``--dir`` names an export to import instead, e.g. what
``guanxi export`` wrote of a simulated world); the import then runs in a child process so that its peak
memory (``ru_maxrss``) is the import's alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_files(directory: Path, rows: int, seed: int = 7) -> None:
    """A contract-conforming export: 40 reps, 1,500 accounts, 10,000 contacts, ``rows`` interactions."""
    rng = np.random.default_rng(seed)
    reps = pd.DataFrame({"rep_id": [f"r{i}" for i in range(40)], "name": [f"Rep {i}" for i in range(40)]})
    accounts = pd.DataFrame({"account_id": [f"a{i}" for i in range(1500)], "tier": "standard"})
    contacts = pd.DataFrame({"contact_id": [f"c{i}" for i in range(10_000)],
                             "account_id": [f"a{i % 1500}" for i in range(10_000)],
                             "seniority": rng.choice(["individual", "manager", "director"], 10_000)})
    start = pd.Timestamp("2023-01-01", tz="UTC").value // 10**9
    ts = pd.to_datetime(start + rng.integers(0, 3 * 365 * 86400, rows), unit="s", utc=True)
    interactions = pd.DataFrame({
        "interaction_id": [f"i{i}" for i in range(rows)],
        "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rep_id": np.char.add("r", rng.integers(0, 40, rows).astype(str)),
        "contact_id": np.char.add("c", rng.integers(0, 10_000, rows).astype(str)),
        "channel": rng.choice(["email", "call", "meeting", "visit"], rows),
        "direction": rng.choice(["inbound", "outbound"], rows),
        "duration_min": rng.integers(0, 90, rows),
        "depth": rng.integers(0, 5, rows),
    })
    for name, frame in {"reps": reps, "accounts": accounts, "contacts": contacts,
                        "interactions": interactions}.items():
        frame.to_csv(directory / f"{name}.csv", index=False)


def _child(directory: str, db: str) -> None:
    from crm.importer import import_dir
    from crm.store import make_engine

    t0 = time.perf_counter()
    result = import_dir(make_engine(f"sqlite:///{db}"), Path(directory))
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"import_s": elapsed, "peak_mib": peak, "interactions": result.counts["interactions"]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="import this export folder instead of generated files")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.dir is None:
            make_files(Path(tmp), args.rows)
        source = str(args.dir.resolve()) if args.dir else tmp
        proc = subprocess.run([sys.executable, __file__, "--child", source, f"{tmp}/bench.db"],
                              check=True, capture_output=True, text=True)
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = figures["interactions"]
    figures.update(source=source if args.dir else "generated", rows=rows, rows_per_s=rows / figures["import_s"],
                   goal={"import_s": 15 * rows / 1_000_000, "peak_mib": 2048})
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{rows:,} interactions imported in {figures['import_s']:.1f} s "
              f"({figures['rows_per_s']:,.0f} rows/s), peak {figures['peak_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
