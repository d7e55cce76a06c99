"""Benchmark: the API as a CRM sees it — a real `guanxi serve --workers 2` on 127.0.0.1, loaded from
this (second) process with httpx and `wrk`.

    python benchmarks/api.py --json [--home DIR] [--models DIR] [--workers 2] [--seconds 10]

Needs a data home with the demo world and its models (``make demo`` leaves one in ./var and ./models)
and `wrk` (Debian's package; `apt-get install wrk`). Reports:

- ``uncached_p50_ms`` / ``uncached_p99_ms``: the first next-best-actions request of every rep after a
  restart, one at a time;
- ``cached_rps`` / ``cached_p99_ms``: 8 keep-alive connections on one rep for ``--seconds`` (wrk);
- ``bare_rps``: a bare FastAPI endpoint returning a list of the same size, on the same server stack
  (uvicorn with the same workers), in the same run; ``ratio`` = cached / bare. Cached and bare are
  loaded in turns, three rounds each (medians; ``ratio_per_round`` shows the spread);
- ``write_to_fresh_ms``: from a POSTed interaction (a contact's business request) until both workers'
  next answers hold the mandatory answer to it;
- p50 / p99 of the other endpoints, and the resident memory of each worker.
"""

from __future__ import annotations

import _path  # noqa: F401  (keeps this folder from shadowing the `features` package)

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

WRK = "wrk"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _wrk(url: str, seconds: int, headers: dict[str, str] | None = None) -> dict[str, float]:
    """requests/s and p99 latency (ms) of 8 keep-alive connections on two threads."""
    args = [WRK, "-t2", "-c8", f"-d{seconds}s", "--latency"]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run([*args, url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": p99, "non_2xx": float(errors.group(1)) if errors else 0.0}


def _timed_get(port: int, path: str) -> float:
    """Milliseconds of one GET on a new connection (http.client: ``httpx.get`` builds a client and its TLS
    context per call, ~20 ms of the client's own time)."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    elapsed = (time.perf_counter() - t0) * 1000
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status}")
    return elapsed


def _rss_mib(pid: int) -> list[float]:
    """Resident memory of the server's worker processes (the children of ``pid``)."""
    out = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        status = Path(f"/proc/{child}/status").read_text()
        out.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)  # type: ignore[union-attr]
    return out


BARE_APP = textwrap.dedent('''
    from fastapi import FastAPI
    ITEMS = [{"rank": i, "contact_id": f"C{i:06d}", "action": "check_in", "priority": 0.5, "expected_gain": 12.0,
              "reasons": [{"element": "frequency", "text": "no contact for 40 days; healthy ties: 12"}] * 3}
             for i in range(10)]
    app = FastAPI()

    @app.get("/bare")
    def bare() -> list[dict[str, object]]:
        return ITEMS
''')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--home", default=os.environ.get("GUANXI_HOME", "var"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--models", default=os.environ.get("GUANXI_MODELS_DIR"),
                        help="champion bundles to serve (default: the data home's)")
    parser.add_argument("--server-log", type=Path, help="keep the server's output (its access log) in this file")
    args = parser.parse_args()
    import httpx

    from serving import launch

    home = Path(args.home).resolve()
    scratch = tempfile.TemporaryDirectory()  # the write test posts into a copy, never into the user's store
    shutil.copy(home / "guanxi.db", Path(scratch.name) / "guanxi.db")
    env = {**os.environ, "GUANXI_HOME": str(home), "GUANXI_API_KEYS": "",
           "GUANXI_DATABASE_URL": f"sqlite:///{Path(scratch.name) / 'guanxi.db'}"}
    if args.models:
        env["GUANXI_MODELS_DIR"] = str(Path(args.models).resolve())
    port = launch.free_port()
    server_log = open(args.server_log, "w") if args.server_log else None  # noqa: SIM115  (closed below)
    server = launch.start(env, port, workers=args.workers, log=server_log)
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, object] = {"workers": args.workers}
    try:
        with httpx.Client(base_url=base, timeout=60) as c:
            reps = sorted({m for m in re.findall(r'href="/reps/([^?"]+)', c.get("/").text)})
            first = []
            for rep in reps:  # a new connection each, as a page opening would
                first.append(_timed_get(port, f"/v1/reps/{rep}/next-best-actions?limit=10"))
            figures.update(reps=len(reps), uncached_p50_ms=statistics.median(first), uncached_p99_ms=_pct(first, .99),
                           uncached_max_ms=max(first))
            # cached and bare in turns, three rounds each, medians: this machine's speed drifts by up to 2x
            # from one minute to the next, so one run of each, minutes apart, compared drift as much as code
            with _bare(args.workers) as bare_url:
                rounds = [(_wrk(f"{base}/v1/reps/{reps[1]}/next-best-actions?limit=10", args.seconds),
                           _wrk(bare_url, args.seconds)) for _ in range(3)]
            cached = {k: statistics.median(r[0][k] for r in rounds) for k in ("rps", "p99_ms", "non_2xx")}
            figures.update(cached_rps=cached["rps"], cached_p99_ms=cached["p99_ms"], cached_non_2xx=cached["non_2xx"],
                           bare_rps=statistics.median(r[1]["rps"] for r in rounds),
                           ratio_per_round=[round(c["rps"] / b["rps"], 3) for c, b in rounds])
            figures["write_to_fresh_ms"] = _write_to_fresh(base, reps[2])
            figures["endpoints"] = _endpoints(c, reps)
            figures["rss_mib_per_worker"] = _rss_mib(server.pid)
    finally:
        launch.stop(server)
        scratch.cleanup()
        if server_log:
            server_log.close()
    figures["ratio"] = figures["cached_rps"] / figures["bare_rps"]  # type: ignore[operator]
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


def _write_to_fresh(base: str, rep: str) -> float:
    """POST an inbound business request from one of the rep's contacts, then poll the rep's next-best
    actions (new connections, so both workers answer) until each worker's answer holds the mandatory
    "answer their request" for that contact."""
    import httpx

    url = f"{base}/v1/reps/{rep}/next-best-actions?limit=10"
    r = httpx.get(url, timeout=60).json()
    contact = next(a["contact_id"] for a in r["actions"] if a["action"] != "answer_request")
    ts = (dt.datetime.fromisoformat(r["freshness"]["data_latest"]) + dt.timedelta(seconds=1)).isoformat()
    body = {"interactions": [{"interaction_id": f"BENCH-{time.time_ns()}", "ts": ts,
                              "rep_id": rep, "contact_id": contact, "channel": "email", "direction": "inbound",
                              "depth": 2, "occasion": "business_request"}]}
    t0 = time.perf_counter()
    httpx.post(f"{base}/v1/interactions", json=body, timeout=60).raise_for_status()
    fresh: dict[str, bool] = {}
    while len(fresh) < 2 or not all(fresh.values()):
        a = httpx.get(url, timeout=60)
        fresh[a.headers["X-Guanxi-Worker"]] = any(x["contact_id"] == contact and x["action"] == "answer_request"
                                                  for x in a.json()["actions"])
        if time.perf_counter() - t0 > 60:
            return float("nan")
    return (time.perf_counter() - t0) * 1000


def _endpoints(c: object, reps: list[str]) -> dict[str, dict[str, float]]:
    import httpx

    assert isinstance(c, httpx.Client)
    paths: dict[str, list[str]] = {"relationship": [], "win_probability": [], "who_knows": []}
    for rep in reps[:20]:
        actions = c.get(f"/v1/reps/{rep}/next-best-actions?limit=3").json()["actions"]
        for a in actions[:1]:
            paths["relationship"].append(f"/v1/relationships/{rep}/{a['contact_id']}")
            paths["who_knows"].append(f"/v1/contacts/{a['contact_id']}/who-knows")
            if a["opportunity_id"]:
                paths["win_probability"].append(f"/v1/opportunities/{a['opportunity_id']}/win-probability")
    out: dict[str, dict[str, object]] = {}
    for name, urls in paths.items():
        times, slowest = [], {"ms": 0.0}
        for url in urls:
            request_id = f"bench-{time.time_ns()}"
            t0 = time.perf_counter()
            r = c.get(url, headers={"X-Request-ID": request_id})
            ms = (time.perf_counter() - t0) * 1000
            if r.status_code < 500:
                times.append(ms)
            if ms > slowest["ms"]:  # which request, worker and id (the server's access log has its own time)
                slowest = {"ms": ms, "path": url, "worker": r.headers.get("X-Guanxi-Worker"), "request_id": request_id}
        if times:
            out[name] = {"n": len(times), "p50_ms": statistics.median(times), "p99_ms": _pct(times, .99),
                         "slowest": slowest}
    return out


@contextlib.contextmanager
def _bare(workers: int) -> Iterator[str]:
    """The same server stack (uvicorn, the same workers) with one bare endpoint; yields its URL."""
    from serving import launch

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "bare_app.py").write_text(BARE_APP)
        port = launch.free_port()
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port), "--workers",
                                 str(workers), "--log-level", "warning"], cwd=tmp, start_new_session=True)
        import httpx

        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/bare", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        try:
            yield f"http://127.0.0.1:{port}/bare"
        finally:
            launch.stop(proc)


if __name__ == "__main__":
    main()
