"""Benchmark: latency of the read endpoints, one request at a time, on a served demo world.

    python benchmarks/api.py --json [--home DIR] [--n 50]

Needs a data home with the demo world and trained models (``make demo`` leaves one in ./var). Runs
the app in-process (FastAPI's TestClient, no network), warms it with one request per endpoint, then
times ``n`` requests per endpoint over different reps / contacts / deals.
"""

from __future__ import annotations

import _path  # noqa: F401  (keeps this folder from shadowing the `features` package)

import argparse
import json
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--home", default=os.environ.get("GUANXI_HOME", "var"))
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    os.environ["GUANXI_HOME"] = args.home
    from fastapi.testclient import TestClient

    from crm.store import make_engine, read_table
    from guanxi.settings import get_settings
    from serving.api.app import create_app

    get_settings.cache_clear()
    engine = make_engine(get_settings().db_url)
    reps = read_table(engine, "reps")["rep_id"].tolist()
    inter = read_table(engine, "interactions", columns=["interaction_id", "rep_id", "contact_id"]).tail(5000)
    opps = read_table(engine, "opportunities")
    open_deals = opps.loc[opps["outcome"] == "open", "opportunity_id"].tolist()
    engine.dispose()
    pairs = inter[["rep_id", "contact_id"]].drop_duplicates().to_numpy().tolist()
    paths = {
        "next_best_actions": [f"/v1/reps/{reps[i % len(reps)]}/next-best-actions?limit=10" for i in range(args.n)],
        "relationship": [f"/v1/relationships/{r}/{c}" for r, c in pairs[: args.n]],
        "win_probability": [f"/v1/opportunities/{d}/win-probability" for d in open_deals[: args.n]],
        "who_knows": [f"/v1/contacts/{c}/who-knows" for _, c in pairs[: args.n]],
    }
    figures: dict[str, object] = {"n": args.n}
    with TestClient(create_app()) as client:
        for name, urls in paths.items():
            client.get(urls[0])
            times = []
            for url in urls:
                t0 = time.perf_counter()
                r = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise SystemExit(f"{url}: {r.status_code} {r.text[:200]}")
            times.sort()
            figures[name] = {"p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))]}
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
