"""Benchmark: batch scoring of the whole large world (400 reps, ~128k relationships, ~12M interactions).

    python benchmarks/batch.py --json [--size large] [--no-spark] [--variant v2]

Models are trained once on the demo world (seed 1) and cached as bundles under ``$GUANXI_HOME/bench``;
the scored world is the cached large world (seed 1). ``--variant`` takes both worlds from another version
of the simulator (crm/sim/params.py). In the same process it measures the parts alone
(candidate features for every chunk; model predictions for every chunk and the deals) and then the
whole pandas run end to end (features, predictions, arbitration, writing Parquet). ``ratio`` is
end-to-end over the sum of the parts: what the glue costs. ``peak_mib`` is this process's peak RSS
(the pandas engine holds the whole interaction log).

``spark_s`` is the same run on Spark ``local[2]`` (one machine: slower, the point of Spark is scale-out),
reading the world as a Parquet export in the import format, in a process of its own so that its
figures are its own: ``spark_driver_peak_mib`` is that driver process's peak RSS (it never holds the
interaction log), ``spark_jvm_peak_mib`` the peak of the JVM that, in local mode, hosts the executors too,
and ``spark_workers_peak_mib`` the peak of the executors' Python workers together (sampled every 0.2 s).
``spark_equal`` says whether its scores and deals equal the pandas run's (1e-9).
"""

from __future__ import annotations

import _path  # noqa: F401  (keeps this folder from shadowing the `features` package)

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd


def _folder(name: str, variant: str) -> Path:
    return Path(os.environ.get("GUANXI_HOME", "var")) / "bench" / (name if variant == "base" else f"{name}-{variant}")


def _world(size: str, seed: int, variant: str) -> dict[str, pd.DataFrame]:
    from crm.sim.simulate import simulate

    folder = _folder(f"{size}-{seed}", variant)
    if not (folder / "interactions.parquet").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in simulate(size, seed=seed, variant=variant).tables.items():
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    return {p.stem: pd.read_parquet(p) for p in folder.glob("*.parquet")}


def _bundles(variant: str) -> Path:
    from training.calibration import ISOTONIC_MIN_OUTCOMES
    from training.model import DEFAULT_PARAMS
    from training.train import SETTINGS, train
    from training.uplift import BAGS, effect_dataset, fit_effect_model

    folder = _folder("models-demo-1", variant)
    # the cached bundles are retrained when the training settings they were made with change
    made_with = json.dumps({"bags": BAGS, "settings": SETTINGS, "params": DEFAULT_PARAMS,
                            "calibration": ["isotonic", "sigmoid below", ISOTONIC_MIN_OUTCOMES]}, sort_keys=True)
    stamp = folder / "made_with.json"
    if not stamp.exists() or stamp.read_text() != made_with:
        demo = _world("demo", 1, variant)
        for kind in ("relationship", "deal"):
            train(demo, kind).model.save(folder / f"guanxi-{kind}")
        fit_effect_model(effect_dataset(demo)).save(folder / "guanxi-effect")
        stamp.write_text(made_with)
    return folder


def _export(tables: dict[str, pd.DataFrame], size: str, variant: str) -> Path:
    """The world as `guanxi export --format parquet` writes a store: typed as the store types it."""
    from crm.contract import TABLES
    from crm.store import typed

    folder = _folder(f"{size}-1-export", variant)
    if not (folder / "interactions.parquet").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in tables.items():
            if name in TABLES:
                typed(frame, name).to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def _spark_child(export: Path, bundles: Path, out: Path, as_of: pd.Timestamp, chunk_reps: int) -> dict[str, object]:
    """Run the Spark engine in its own process, sampling the memory of it and of its children."""
    import subprocess
    import sys
    import threading

    import psutil

    proc = subprocess.Popen([sys.executable, __file__, "--spark-child", str(export), str(bundles), str(out),
                             as_of.isoformat(), str(chunk_reps)], stdout=subprocess.PIPE, text=True)
    peaks = {"jvm": 0, "workers": 0}

    def sample() -> None:
        parent = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                children = parent.children(recursive=True)
                jvm = sum(c.memory_info().rss for c in children if c.name() == "java")
                workers = sum(c.memory_info().rss for c in children if c.name() != "java")
            except psutil.Error:
                continue
            peaks["jvm"], peaks["workers"] = max(peaks["jvm"], jvm), max(peaks["workers"], workers)
            time.sleep(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    stdout, _ = proc.communicate()
    watcher.join()
    if proc.returncode:
        raise RuntimeError(f"the Spark run failed (exit code {proc.returncode})")
    child = json.loads(stdout.strip().splitlines()[-1])
    return {**child, "spark_jvm_peak_mib": peaks["jvm"] / 2**20, "spark_workers_peak_mib": peaks["workers"] / 2**20}


def _spark_run(export: str, bundles: str, out: str, as_of: str, chunk_reps: str) -> None:
    """The child: only what `guanxi score --engine spark --input EXPORT` does."""
    from serving.batch import prepare
    from serving.batch_spark import run_spark
    from serving.models import load_models
    from serving.spark_input import SparkInput

    started = time.perf_counter()
    source = SparkInput.folder(Path(export))
    small = source.small_tables()
    models, _ = load_models(Path(bundles))
    run = prepare(Path(out), pd.Timestamp(as_of), models.versions, small["reps"]["rep_id"], int(chunk_reps), 3)
    run_spark(source, run, Path(bundles), small, master="local[2]")
    # VmHWM, not ru_maxrss: ru_maxrss keeps the peak of the forked copy of the parent from before exec
    hwm = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
               if line.startswith("VmHWM:"))
    print(json.dumps({"spark_s": time.perf_counter() - started, **{f"spark_{k}": v for k, v in run.timings.items()},
                      "spark_driver_peak_mib": hwm / 1024}))


def _equal(a: Path, b: Path) -> bool:
    from serving.batch import read_scores

    try:
        pd.testing.assert_frame_equal(read_scores(a), read_scores(b), check_exact=False, atol=1e-9, rtol=0)
        pd.testing.assert_frame_equal(pd.read_parquet(a / "deals.parquet"), pd.read_parquet(b / "deals.parquet"),
                                      check_exact=False, atol=1e-9, rtol=0)
    except AssertionError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--size", default="large")
    parser.add_argument("--chunk-reps", type=int, default=25)
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--variant", default="base", help="the simulated world's variant (crm/sim/params.py)")
    args = parser.parse_args()
    from serving.batch import chunk_tables, prepare, run_pandas, score_deals
    from serving.candidates import candidates, default_as_of
    from serving.catalog import load_catalog
    from serving.models import load_models

    bundles = _bundles(args.variant)
    from crm.contract import TABLES
    from crm.store import typed

    # typed as the store reader types them: what `guanxi score` scores, and what the export holds
    world = _world(args.size, 1, args.variant)
    tables = {name: typed(frame, name) if name in TABLES else frame for name, frame in world.items()}
    del world
    n_interactions = len(tables["interactions"])
    models, deal = load_models(bundles)
    catalog = load_catalog()
    as_of = default_as_of(tables)
    with tempfile.TemporaryDirectory() as tmp:
        run = prepare(Path(tmp) / "parts", as_of, models.versions, tables["reps"]["rep_id"], args.chunk_reps, 3)
        features_s = predict_s = 0.0
        for i, part in chunk_tables(tables, run.chunks):
            t0 = time.perf_counter()
            cands = candidates(part, as_of, run.chunks[i])
            t1 = time.perf_counter()
            models.effect.effects(cands, sorted({a.kind for a in catalog.actions}))
            models.relationship.predict_proba(cands)
            predict_s += time.perf_counter() - t1
            features_s += t1 - t0
        t0 = time.perf_counter()
        score_deals(tables, as_of, deal)
        deals_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        run = prepare(Path(tmp) / "pandas", as_of, models.versions, tables["reps"]["rep_id"], args.chunk_reps, 3)
        run_pandas(tables, run, models, deal, catalog)
        end_to_end = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        from serving.batch import read_scores

        n = len(read_scores(run.out))
        spark: dict[str, object] = {"spark_s": None}
        if not args.no_spark:
            export = _export(tables, args.size, args.variant)
            del tables["interactions"]  # the child process reads it on its executors
            spark = _spark_child(export, bundles, Path(tmp) / "spark", as_of, args.chunk_reps)
            spark["spark_equal"] = _equal(run.out, Path(tmp) / "spark")
    parts = features_s + predict_s + deals_s
    figures = {
        "size": args.size, "variant": args.variant, "relationships": n, "interactions": n_interactions,
        "relationships_per_s": n / end_to_end, "end_to_end_s": end_to_end,
        "parts_s": {"features": features_s, "predict": predict_s, "deals": deals_s, "total": parts},
        "ratio": end_to_end / parts, "peak_mib": peak, **spark,
        "goal": {"ratio": 1.5, "peak_mib": 6144, "spark_driver_peak_mib": 1536},
    }
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "--spark-child":
        _spark_run(*sys.argv[2:7])
    else:
        main()
