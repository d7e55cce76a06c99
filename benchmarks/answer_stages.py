"""Benchmark: where a rep's next-best actions spend their time, in-process, stage by stage.

    python benchmarks/answer_stages.py --json [--home DIR] [--models DIR] [--passes 3]

Needs a data home with a world and champion bundles (``make demo`` leaves them in ./var and ./models).
Computes every rep's answer (``guanxi.services.answers._rep_actions``, what the API's first request of a
rep runs) ``--passes`` times after a warm-up, in one process without a server, and reports the total and
each stage's p50 / p90 in ms: the relationship features, the deal context and open requests (parts of the
candidates), the effect model's uplifts (part of scoring), the contact policy's selection, the reasons,
and the contact policy's history (read beside the candidates). ``benchmarks/api.py`` measures the same
answers from a second process against a real server.
"""

from __future__ import annotations

import _path  # noqa: F401  (keeps this folder from shadowing the `features` package)

import argparse
import gc
import json
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

STAGES = {"serving.candidates": ("relationship_features_from_log", "pair_deal_context", "_open_requests"),
          "serving.recommend": ("candidates", "score", "select", "explain"),
          "serving.engine": ("_effects",),
          "guanxi.services.answers": ("history",)}


def _timed(module: Any, name: str, times: dict[str, list[float]]) -> None:
    """Wrap ``module.name`` so that each call's wall time is kept in ``times[name]``."""
    inner: Callable[..., Any] = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            times.setdefault(name, []).append((time.perf_counter() - start) * 1000)

    setattr(module, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--home", default=os.environ.get("GUANXI_HOME", "var"))
    parser.add_argument("--models", default=os.environ.get("GUANXI_MODELS_DIR"))
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    os.environ["GUANXI_HOME"] = args.home
    if args.models:
        os.environ["GUANXI_MODELS_DIR"] = args.models
    import importlib

    from crm.store import make_engine
    from guanxi.services import answers
    from guanxi.settings import Settings
    from serving.catalog import load_catalog
    from serving.models import load_models
    from serving.store_data import StoreData

    times: dict[str, list[float]] = {}
    for module, names in STAGES.items():
        for name in names:
            _timed(importlib.import_module(module), name, times)
    settings = Settings()
    data = StoreData(make_engine(settings.db_url))
    models, _ = load_models(settings.models_dir)
    catalog = load_catalog()
    data.static()
    day = answers.plan_day(data, settings, None).as_of
    reps = sorted(data.teams())
    for rep in reps[:3]:  # the warm-up: the day's shared context, compiled kernels
        answers._rep_actions(data, models, catalog, rep, day, 10, "en")
    gc.collect()
    gc.freeze()  # as the server does after its warm-up
    times.clear()
    total = []
    for _ in range(args.passes):
        for rep in reps:
            start = time.perf_counter()
            answers._rep_actions(data, models, catalog, rep, day, 10, "en")
            total.append((time.perf_counter() - start) * 1000)

    def summary(values: list[float]) -> dict[str, float]:
        return {"p50_ms": round(float(np.median(values)), 2), "p90_ms": round(float(np.percentile(values, 90)), 2),
                "max_ms": round(max(values), 2)}

    out = {"reps": len(reps), "passes": args.passes, "total": summary(total),
           "stages": {name: summary(values) for name, values in times.items()}}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{len(reps)} reps x {args.passes}: total p50 {out['total']['p50_ms']} ms, p90 {out['total']['p90_ms']} ms")
    for name, figures in out["stages"].items():
        print(f"  {name:32s} p50 {figures['p50_ms']:7.2f}  p90 {figures['p90_ms']:7.2f}")


if __name__ == "__main__":
    main()
