"""Benchmark: first load of each rep's page in a real browser, on a served demo world.

    python benchmarks/pages.py --json [--home DIR] [--reps 20]

Needs a data home with the demo world and its models (``make demo`` leaves one in ./var and ./models).
Starts `guanxi serve` (one worker, no keys, 127.0.0.1) in its own process, then opens each rep's page
once in headless Chromium (Debian's, driven by Playwright): every load is the first for that rep since
the server started. Reports the time to the page's load event (navigation start to load end), p50 / p95
/ max, and the server's share of it (time to first byte).
"""

from __future__ import annotations

import _path  # noqa: F401  (keeps this folder from shadowing the `features` package)

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--home", default=os.environ.get("GUANXI_HOME", "var"))
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--chromium", default=os.environ.get("GUANXI_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    import httpx
    from playwright.sync_api import sync_playwright

    from serving import launch

    env = {**os.environ, "GUANXI_HOME": str(Path(args.home).resolve()), "GUANXI_API_KEYS": ""}
    port = launch.free_port()
    server = launch.start(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        reps = [line.split('href="/reps/')[1].split("?")[0] for line in httpx.get(base + "/").text.splitlines()
                if 'href="/reps/' in line][: args.reps]
        loads, ttfb = [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=FLAGS)
            page = browser.new_page()
            for rep in reps:
                page.goto(f"{base}/reps/{rep}", wait_until="load")
                timing = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
                nav = json.loads(timing)
                loads.append(nav["loadEventEnd"] - nav["startTime"])
                if not args.json:
                    print(f"{rep}: {loads[-1]:.0f} ms", file=sys.stderr)
                ttfb.append(nav["responseStart"] - nav["startTime"])
            browser.close()
    finally:
        launch.stop(server)
    loads.sort()
    figures = {"reps": len(reps), "first_load_p50_ms": statistics.median(loads),
               "first_load_p95_ms": loads[int(0.95 * (len(loads) - 1))], "first_load_max_ms": loads[-1],
               "server_ttfb_p50_ms": statistics.median(ttfb), "goal_ms": 1000}
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
