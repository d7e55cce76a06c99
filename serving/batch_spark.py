"""The Spark engine for batch scoring: the same :func:`serving.batch.score_chunk`, one chunk of reps per
``groupBy(chunk).applyInPandas`` group, and the same :func:`serving.batch.score_deals`, one account (with
the decision chains of its open deals) per group.

The executors read the interaction log where it lives (:mod:`serving.spark_input`), form the groups and
write the Parquet parts; the driver holds only the small tables (broadcast once), the chunk plan and one
row per open deal. Models travel once per executor (``SparkContext.addFile``) and are loaded once per
Python worker; the output folder must be on storage the executors can write to.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from serving.batch import (
    DEAL_COLUMNS,
    ScoreRun,
    mark_done,
    metadata,
    no_ties,
    score_deals,
    score_reps,
    stamp,
    write_atomic,
    write_deals,
)
from serving.catalog import catalog_path, load_catalog
from serving.engine import Models
from serving.spark_input import LOG, SparkInput
from training.model import GuanxiClassifier

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_MODELS: dict[str, tuple[Models, GuanxiClassifier | None]] = {}
DEFAULT_JDBC_JAR = Path("/usr/share/java/postgresql.jar")  # Debian's libpostgresql-jdbc-java
GROUP = "_group"
MARKER = "_marker"


def session(master: str = "local[2]", app: str = "guanxi-score", jars: list[Path] | None = None) -> SparkSession:
    """A Spark session whose workers run this Python (without it they fall back to the system Python);
    ``jars`` (the PostgreSQL JDBC driver) must be given when the first session of the process starts."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.master(master).appName(app)
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "8")
               .config("spark.executorEnv.PYSPARK_PYTHON", sys.executable))
    found = [str(j) for j in (jars if jars is not None else [jdbc_jar()]) if j and Path(j).exists()]
    if found:
        builder = builder.config("spark.jars", ",".join(found))
    return builder.getOrCreate()


def jdbc_jar() -> Path:
    """The PostgreSQL JDBC driver: ``GUANXI_JDBC_JAR``, else Debian's package."""
    return Path(os.environ.get("GUANXI_JDBC_JAR") or DEFAULT_JDBC_JAR)


def _executor_models(folder: str) -> tuple[Models, GuanxiClassifier | None]:
    """Load the bundles once per Python worker."""
    if folder not in _MODELS:
        from serving.models import load_models

        _MODELS[folder] = load_models(Path(folder))
    return _MODELS[folder]


def _log_frame(pdf: pd.DataFrame) -> pd.DataFrame:
    """An Arrow batch of interaction rows, typed exactly as the store reader types them."""
    from crm.contract import TABLES
    from crm.store import typed

    return typed(pdf[TABLES[LOG].column_names].reset_index(drop=True), LOG)


def run_spark(source: SparkInput, run: ScoreRun, models_dir: Path, small: dict[str, pd.DataFrame],
              master: str = "local[2]", catalog_file: Path | None = None) -> ScoreRun:
    """Score the pending chunks, then the deals, on Spark; ``small`` are the source's small tables."""
    from pyspark import SparkFiles
    from pyspark.sql import functions as F

    started = time.perf_counter()
    if source.kind == "jdbc" and not jdbc_jar().exists():
        raise ValueError(f"the PostgreSQL JDBC driver is not at {jdbc_jar()}: install Debian's "
                         "libpostgresql-jdbc-java or point GUANXI_JDBC_JAR at the jar")
    spark = session(master)
    sc = spark.sparkContext
    static = sc.broadcast(small)
    sc.addFile(str(models_dir.resolve()), recursive=True)
    bundle_name = models_dir.resolve().name
    catalog = load_catalog(catalog_file or catalog_path())  # plain frozen dataclasses: shipped with the functions
    log = source.interactions(spark)
    pending = run.pending()
    if pending:
        plan = pd.DataFrame([(rep, i) for i in pending for rep in run.chunks[i]], columns=["rep_id", "chunk"])

        def score_group(pdf: pd.DataFrame) -> pd.DataFrame:
            chunk = int(pdf["chunk"].iloc[0])
            models, _ = _executor_models(SparkFiles.get(bundle_name))
            frame = score_reps({**static.value, LOG: _log_frame(pdf)}, run, run.chunks[chunk], models, catalog)
            write_atomic(stamp(frame, run), run.part(chunk), metadata(run))
            return pd.DataFrame({"chunk": [chunk], "rows": [len(frame)]})

        chunks = log.join(F.broadcast(spark.createDataFrame(plan, schema="rep_id string, chunk long")), on="rep_id")
        chunks.groupBy("chunk").applyInPandas(score_group, schema="chunk long, rows long").collect()
    for i in run.pending():  # reps without any interaction: an empty part, so the run is complete
        write_atomic(stamp(no_ties(), run), run.part(i), metadata(run))
    run.timings["relationships_s"] = time.perf_counter() - started
    started = time.perf_counter()
    if not run.deals_path.exists():
        write_deals(_score_deals(spark, log, small, run, bundle_name, static), run)
    run.timings["deals_s"] = time.perf_counter() - started
    mark_done(run)
    return run


DEAL_GROUPS = 16
"""Accounts are dealt into this many groups (one task each): a group per account would pay the per-call
cost of the features and the model a thousand times over."""


def deal_groups(small: dict[str, pd.DataFrame], as_of: pd.Timestamp, groups: int = DEAL_GROUPS
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open deals by group (accounts hashed into ``groups``; a deal without an account goes by its own id),
    and which contacts' and deals' interactions each group needs: its accounts' contacts and every contact
    on its deals' chains. A deal's features need no other rows, so any grouping of accounts is exact."""
    import zlib

    from features.deal import open_deals

    deals = open_deals(small, as_of).to_pandas()[["opportunity_id", "account_id"]].astype(object)
    keys = [f"a:{a}" if isinstance(a, str) else f"d:{d}" for d, a in zip(deals["opportunity_id"],
                                                                        deals["account_id"], strict=True)]
    deals[GROUP] = [f"g{zlib.crc32(k.encode()) % groups}" for k in keys]
    contacts = small["contacts"][["contact_id", "account_id"]].astype(object)
    by_account = contacts.merge(deals[["account_id", GROUP]].dropna().drop_duplicates(), on="account_id")
    chain = small["opportunity_contacts"][["opportunity_id", "contact_id"]].astype(object)
    on_chain = chain.merge(deals[["opportunity_id", GROUP]], on="opportunity_id")
    who = pd.concat([by_account[["contact_id", GROUP]], on_chain[["contact_id", GROUP]]]).drop_duplicates()
    return deals[["opportunity_id", GROUP]], who.reset_index(drop=True)


def _score_deals(spark: SparkSession, log: DataFrame, small: dict[str, pd.DataFrame], run: ScoreRun,
                 bundle_name: str, static: object) -> pd.DataFrame:
    """Every open deal scored on the executors, one group a task; one row per deal comes back."""
    from pyspark import SparkFiles
    from pyspark.sql import functions as F

    deals, who = deal_groups(small, run.as_of)
    if deals.empty:
        return pd.DataFrame(columns=DEAL_COLUMNS)
    ids = deals.groupby(GROUP)["opportunity_id"].apply(list).to_dict()
    by_contact = log.join(F.broadcast(spark.createDataFrame(who, schema=f"contact_id string, {GROUP} string")),
                          on="contact_id")
    by_deal = log.join(F.broadcast(spark.createDataFrame(deals, schema=f"opportunity_id string, {GROUP} string")),
                       on="opportunity_id")
    rows = (by_contact.unionByName(by_deal).dropDuplicates([GROUP, "interaction_id"])
            .withColumn(MARKER, F.lit(False)))
    markers = spark.createDataFrame(pd.DataFrame({GROUP: sorted(ids), MARKER: True}),  # groups with no touch too
                                    schema=f"{GROUP} string, {MARKER} boolean")
    rows = rows.unionByName(markers, allowMissingColumns=True)

    def score_group(pdf: pd.DataFrame) -> pd.DataFrame:
        group = str(pdf[GROUP].iloc[0])
        _, deal_model = _executor_models(SparkFiles.get(bundle_name))
        touches = _log_frame(pdf[~pdf[MARKER].astype(bool)])
        tables = {**static.value, LOG: touches}  # type: ignore[attr-defined]
        return score_deals(tables, run.as_of, deal_model, deal_ids=ids[group])

    schema = "opportunity_id string, account_id string, owner_rep_id string, amount double, p_win double, " \
             "grade string"
    out = pd.DataFrame(rows.groupBy(GROUP).applyInPandas(score_group, schema=schema).toPandas())
    return out.sort_values("opportunity_id").reset_index(drop=True)
