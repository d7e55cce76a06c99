"""The Spark engine for batch scoring: the same :func:`serving.batch.score_chunk`, one chunk of reps per
``groupBy(chunk).applyInPandas`` group. Models travel once per executor (``SparkContext.addFile``) and
are loaded once per Python worker; the output folder must be on storage the executors can write to.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

from features.frames import Tables
from serving.batch import REL_COLUMNS, ScoreRun, finish, metadata, score_chunk, stamp, write_atomic
from serving.catalog import catalog_path, load_catalog
from serving.engine import Models
from training.model import GuanxiClassifier

_MODELS: dict[str, Models] = {}


def session(master: str = "local[2]", app: str = "guanxi-score"):  # noqa: ANN201 - pyspark is optional
    """A Spark session whose workers run this Python (without it they fall back to the system Python)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(master).appName(app)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.executorEnv.PYSPARK_PYTHON", sys.executable)
            .getOrCreate())


def _executor_models(folder: str) -> Models:
    """Load the bundles once per Python worker."""
    if folder not in _MODELS:
        from serving.models import load_models

        _MODELS[folder] = load_models(Path(folder))[0]
    return _MODELS[folder]


def run_spark(tables: Tables, run: ScoreRun, models_dir: Path, deal_model: GuanxiClassifier | None,
              master: str = "local[2]", catalog_file: Path | None = None) -> ScoreRun:
    """Score the pending chunks on Spark, then the deals on the driver."""
    import time

    from pyspark import SparkFiles

    started = time.perf_counter()
    pending = run.pending()
    spark = session(master)
    sc = spark.sparkContext
    if pending:
        inter = pd.DataFrame(tables["interactions"])
        chunk_of = {rep: i for i, chunk in enumerate(run.chunks) if i in set(pending) for rep in chunk}
        reps = inter["rep_id"].astype(str)
        rows = inter[reps.isin(chunk_of).to_numpy()].copy()
        for col in rows.columns:  # Arrow-friendly plain columns
            if isinstance(rows[col].dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(rows[col]):
                rows[col] = rows[col].astype(object).where(rows[col].notna(), None)
        rows["chunk"] = rows["rep_id"].astype(str).map(chunk_of).astype("int64")
        staging = run.out / "_staging" / "interactions.parquet"
        staging.parent.mkdir(parents=True, exist_ok=True)
        rows.to_parquet(staging, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
        static = sc.broadcast({name: frame for name, frame in tables.items() if name != "interactions"})
        sc.addFile(str(models_dir.resolve()), recursive=True)
        bundle_name = models_dir.resolve().name
        catalog = load_catalog(catalog_file or catalog_path())  # plain frozen dataclasses: shipped with the function

        def score_group(pdf: pd.DataFrame) -> pd.DataFrame:
            chunk = int(pdf["chunk"].iloc[0])
            models = _executor_models(SparkFiles.get(bundle_name))
            part = pdf.drop(columns="chunk")
            part["ts"] = pd.to_datetime(part["ts"], utc=True)
            frame = score_chunk({**static.value, "interactions": part}, run.as_of, run.chunks[chunk], models,
                                catalog, run.k, run.bands)
            write_atomic(stamp(frame, run), run.part(chunk), metadata(run))
            return pd.DataFrame({"chunk": [chunk], "rows": [len(frame)]})

        df = spark.read.parquet(str(staging))
        df.groupBy("chunk").applyInPandas(score_group, schema="chunk long, rows long").collect()
    for i in run.pending():  # reps without any interaction: an empty part, so the run is complete
        write_atomic(stamp(pd.DataFrame(columns=REL_COLUMNS), run), run.part(i), metadata(run))
    run.timings["relationships_s"] = time.perf_counter() - started
    finish(tables, run, deal_model)
    return run
