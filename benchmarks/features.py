"""Benchmark: relationship features on a 10M+ interaction log, beside DuckDB and Polars core aggregates.

    python benchmarks/features.py --json

The large simulated world (seed 1, ~12M interactions) is built once and cached as Parquet under
``$GUANXI_HOME/bench``. All three engines read the same in-memory Arrow data. ``ratio`` is Guanxi's
time over the faster of DuckDB and Polars computing only the core aggregates (counts per window,
first/last, inbound share, depth mean/max, gap mean). The three engines run in turn, five rounds,
and each reports its median: on a shared machine whose speed drifts by ±20 % within a minute,
interleaved medians compare like with like. One warm-up build on the demo world comes first (the
numba kernels load from their cache once per process). ``one_rep_p50_ms``: one rep of the demo
world (the rep's own rows, as the store returns them), median of 100 builds.
"""

from __future__ import annotations

import _path  # noqa: F401  (keeps this folder from shadowing the `features` package)

import argparse
import json
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl

AS_OF = pd.Timestamp("2025-12-31", tz="UTC")


def _cache(size: str, seed: int, variant: str = "base") -> Path:
    from crm.sim.simulate import simulate

    home = Path(os.environ.get("GUANXI_HOME", "var"))
    folder = home / "bench" / (f"{size}-{seed}" if variant == "base" else f"{size}-{seed}-{variant}")
    if not (folder / "interactions.parquet").exists():
        folder.mkdir(parents=True, exist_ok=True)
        sim = simulate(size, seed=seed, variant=variant)
        for name, frame in sim.tables.items():
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def _load(folder: Path) -> dict[str, pl.DataFrame]:
    tables = {p.stem: pl.read_parquet(p) for p in folder.glob("*.parquet")}
    return {n: t.with_columns(pl.selectors.categorical().cast(pl.String)) for n, t in tables.items()}


def polars_core(inter: pl.DataFrame) -> pl.DataFrame:
    age = (pl.lit(AS_OF) - pl.col("ts")).dt.total_seconds() / 86400
    return (inter.lazy().filter(pl.col("ts") <= AS_OF).group_by(["rep_id", "contact_id"]).agg(
        (age < 30).sum().alias("n_30d"), (age < 90).sum().alias("n_90d"), (age < 365).sum().alias("n_365d"),
        pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last"),
        (pl.col("direction") == "inbound").mean().alias("inbound_share"),
        pl.col("depth").mean().alias("depth_mean"), pl.col("depth").max().alias("depth_max"),
        ((pl.col("ts").max() - pl.col("ts").min()).dt.total_seconds() / 86400 / (pl.len() - 1)).alias("gap_mean"),
    ).collect())


DUCK_SQL = """
SELECT rep_id, contact_id,
  count(*) FILTER (WHERE ts > $as_of - INTERVAL 30 DAY) AS n_30d,
  count(*) FILTER (WHERE ts > $as_of - INTERVAL 90 DAY) AS n_90d,
  count(*) FILTER (WHERE ts > $as_of - INTERVAL 365 DAY) AS n_365d,
  min(ts) AS first, max(ts) AS last,
  avg(CASE WHEN direction = 'inbound' THEN 1.0 ELSE 0.0 END) AS inbound_share,
  avg(depth) AS depth_mean, max(depth) AS depth_max,
  (epoch(max(ts)) - epoch(min(ts))) / 86400.0 / nullif(count(*) - 1, 0) AS gap_mean
FROM inter WHERE ts <= $as_of GROUP BY rep_id, contact_id
"""


def duckdb_core(inter: pl.DataFrame) -> object:
    with duckdb.connect() as con:  # closed at once: its threads would otherwise compete with the next run
        con.execute("SET threads TO 2")
        con.register("inter", inter.to_arrow())
        return con.sql(DUCK_SQL.replace("$as_of", f"TIMESTAMPTZ '{AS_OF.isoformat()}'")).to_arrow_table()


def _interleaved(runs: dict[str, Callable[[], object]], rounds: int = 5) -> dict[str, float]:
    """Median seconds per run, the runs taking turns round after round."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--size", default="large")
    parser.add_argument("--variant", default="base", help="the simulated world's variant (crm/sim/params.py)")
    args = parser.parse_args()
    from features.relationship import relationship_features

    demo = _load(_cache("demo", 1, args.variant))
    relationship_features(demo, AS_OF)  # warm-up: load the compiled kernels
    tables = _load(_cache(args.size, 1, args.variant))
    inter = tables["interactions"]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_pairs = len(relationship_features(tables, AS_OF))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    medians = _interleaved({"guanxi": lambda: relationship_features(tables, AS_OF),
                            "duckdb": lambda: duckdb_core(inter), "polars": lambda: polars_core(inter)})
    guanxi_s, duck_s, polars_s = medians["guanxi"], medians["duckdb"], medians["polars"]
    per_rep = demo["interactions"].group_by("rep_id").agg(pl.col("contact_id").n_unique().alias("contacts"),
                                                          pl.len().alias("rows"))
    rep = per_rep.sort((pl.col("contacts") - 250).abs()).row(0, named=True)
    one = {**demo, "interactions": demo["interactions"].filter(pl.col("rep_id") == rep["rep_id"])}
    times = []
    for _ in range(100):
        t0 = time.perf_counter()
        relationship_features(one, AS_OF, rep_ids=[rep["rep_id"]])
        times.append((time.perf_counter() - t0) * 1000)
    figures = {
        "variant": args.variant, "interactions": inter.height, "pairs": n_pairs, "guanxi_s": guanxi_s,
        "duckdb_s": duck_s, "polars_s": polars_s, "ratio": guanxi_s / min(duck_s, polars_s), "peak_mib": peak,
        "peak_before_build_mib": rss_before,
        "one_rep": {"contacts": rep["contacts"], "interactions": rep["rows"]},
        "one_rep_p50_ms": statistics.median(times),
        "goal": {"ratio": 1.5, "peak_mib": 4096, "one_rep_p50_ms": 20},
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
