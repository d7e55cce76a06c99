"""Where the Spark engine reads its input, in parallel on the executors: the store's PostgreSQL tables over
JDBC (the interaction log split by a hash of ``rep_id``), or a folder of Parquet files in the import
format (what `guanxi export --format parquet` writes; a data-lake folder of parts per table works the
same). Only the small tables (reps, accounts, contacts, deals, stages, decision chains) come to the driver;
the interaction log never does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from crm.contract import TABLES
from crm.store import typed
from features.frames import utc

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

LOG = "interactions"
SMALL = tuple(name for name in TABLES if name != LOG)
"""Every contract table but the interaction log: small enough for the driver and a broadcast."""
JDBC_DRIVER = "org.postgresql.Driver"


@dataclass(frozen=True)
class SparkInput:
    """``kind`` is ``jdbc`` (``location``: the store's SQLAlchemy URL) or ``parquet`` (a folder)."""

    kind: str
    location: str
    partitions: int = 8

    @classmethod
    def store(cls, url: str, partitions: int = 8) -> SparkInput:
        """The store, read over JDBC: PostgreSQL only (a SQLite file is not shared with executors)."""
        if not url.startswith("postgresql"):
            raise ValueError("the Spark engine reads the store over JDBC from PostgreSQL, or a Parquet export: "
                             "export this store first (`guanxi export DIR --format parquet`) and score it with "
                             "`guanxi score --engine spark --input DIR`")
        return cls("jdbc", url, partitions)

    @classmethod
    def folder(cls, path: Path) -> SparkInput:
        """A folder with ``<table>.parquet`` files (or ``<table>/`` folders of parts); interactions required."""
        if not path.is_dir():
            raise ValueError(f"--input {path}: not a folder")
        if table_path(path, LOG) is None:
            raise ValueError(f"--input {path}: no {LOG}.parquet (or {LOG}/ folder of Parquet parts)")
        return cls("parquet", str(path))

    def small_tables(self) -> dict[str, pd.DataFrame]:
        """The small tables on the driver, typed as the store types them (missing ones empty)."""
        if self.kind == "jdbc":
            from crm.store import make_engine, read_table

            engine = make_engine(self.location)
            try:
                return {name: read_table(engine, name) for name in SMALL}
            finally:
                engine.dispose()
        out = {}
        for name in SMALL:
            path = table_path(Path(self.location), name)
            frame = pd.read_parquet(path) if path is not None else pd.DataFrame(columns=TABLES[name].column_names)
            out[name] = typed(frame, name)
        return out

    def interactions(self, spark: SparkSession) -> DataFrame:
        """The interaction log as a Spark DataFrame, read by the executors."""
        columns = TABLES[LOG].column_names
        if self.kind == "parquet":
            path = table_path(Path(self.location), LOG)
            frame = spark.read.parquet(str(path))
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                from pyspark.sql import functions as F

                frame = frame.select("*", *[F.lit(None).alias(c) for c in missing])
            return frame.select(*columns)
        url, props = jdbc(self.location)
        n = max(1, self.partitions)
        predicates = [f"mod(abs(hashtext(rep_id)::bigint), {n}) = {i}" for i in range(n)]
        return spark.read.jdbc(url, f"(SELECT {', '.join(columns)} FROM {LOG}) AS log", predicates=predicates,
                               properties=props)

    def rep_ends(self, spark: SparkSession) -> dict[str, pd.Timestamp]:
        """Each rep's last interaction, computed where the log lives (the reps' eras follow them)."""
        if self.kind == "jdbc":
            import sqlalchemy as sa

            from crm.store import make_engine

            engine = make_engine(self.location)
            try:
                with engine.connect() as conn:
                    rows = [(r, t) for r, t in conn.execute(sa.text(f"SELECT rep_id, max(ts) FROM {LOG} GROUP BY "
                                                                    "rep_id")).all()]
            finally:
                engine.dispose()
        else:
            from pyspark.sql import functions as F

            rows = [(r[0], r[1]) for r in self.interactions(spark).groupBy("rep_id").agg(F.max("ts")).collect()]
        return {str(r): utc(t) for r, t in rows if t is not None}


def jdbc(url: str) -> tuple[str, dict[str, Any]]:
    """The JDBC URL and connection properties of a SQLAlchemy PostgreSQL URL."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    props: dict[str, Any] = {"driver": JDBC_DRIVER}
    if u.username:
        props["user"] = u.username
    if u.password:
        props["password"] = u.password
    return f"jdbc:postgresql://{u.host or 'localhost'}:{u.port or 5432}/{u.database}", props


def table_path(folder: Path, name: str) -> Path | None:
    """``<name>.parquet`` in ``folder``, or a ``<name>/`` folder of parts; None when neither is there."""
    for candidate in (folder / f"{name}.parquet", folder / name):
        if candidate.exists():
            return candidate
    return None
