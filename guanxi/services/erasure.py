"""Right to erasure: a contact's personal data removed from the store, the score files and the MLflow
evaluation artifacts, with a keyed audit record and a tombstone that refuses late writes.

The store part runs in one transaction under the store's write lock (the lock every import and API
write takes first), so an interaction posted while the erasure runs either commits before it — and is
erased with the rest — or after it, when validation finds neither the contact nor leave to recreate it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm import pair_log
from crm.store import (
    ERASURES,
    FEEDBACK,
    METADATA,
    SCORE_OUTPUTS,
    TOMBSTONES,
    bump_versions,
    contact_token,
    lock_for_write,
)
from guanxi.services.errors import Refused
from guanxi.settings import Settings

log = logging.getLogger("guanxi.erasure")
EVALUATION_ARTIFACT = "evaluation/test_set.parquet"


class NotFound(Refused):
    """The contact is not in the store (never was, or already erased)."""

    def __init__(self, detail: str) -> None:
        super().__init__("not_found", detail)


@dataclass(frozen=True)
class ErasureResult:
    """What an erasure touched: rows per table, rewritten score files and MLflow artifacts."""

    contact_id: str
    deleted: dict[str, int]
    audit_id: int
    score_files: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    artifact_error: str | None = None


def erase_contact(engine: Engine, contact_id: str, settings: Settings, requested_by: str) -> ErasureResult:
    """Erase everywhere; raises :class:`NotFound` when the store has no such contact."""
    token = contact_token(settings.erasure_key(), contact_id)
    tables = {"interactions": METADATA.tables["interactions"],
              "opportunity_contacts": METADATA.tables["opportunity_contacts"], "recommendation_feedback": FEEDBACK,
              "contacts": METADATA.tables["contacts"]}
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        lock_for_write(conn)
        contacts = tables["contacts"]
        if not conn.execute(sa.select(sa.func.count()).select_from(contacts)
                            .where(contacts.c.contact_id == contact_id)).scalar_one():
            raise NotFound(f"no contact {contact_id!r}")
        reps = {str(r) for t in (tables["interactions"], FEEDBACK) for r in conn.execute(
            sa.select(t.c.rep_id).where(t.c.contact_id == contact_id).distinct()).scalars()}
        deleted = {name: int(conn.execute(sa.delete(t).where(t.c.contact_id == contact_id)).rowcount)
                   for name, t in tables.items()}
        pair_log.delete_contact(conn, contact_id)
        if not conn.execute(sa.select(sa.func.count()).select_from(TOMBSTONES)
                            .where(TOMBSTONES.c.contact_token == token)).scalar_one():
            conn.execute(sa.insert(TOMBSTONES).values(contact_token=token, ts=now))
        audit = conn.execute(sa.insert(ERASURES).values(contact_hash=token, ts=now, requested_by=requested_by,
                                                        rows_deleted=json.dumps(deleted)))
        audit_id = int(audit.inserted_primary_key[0])  # type: ignore[index]
        bump_versions(conn, reps, shared=True)
        outputs = [Path(p) for p in conn.execute(sa.select(SCORE_OUTPUTS.c.path)).scalars()]
    files = [str(p) for folder in outputs for p in purge_parquet_folder(folder, contact_id)]
    try:
        artifacts, error = purge_mlflow_artifacts(contact_id), None
    except Exception as exc:  # the store is erased; say what is left instead of failing the whole request
        artifacts, error = [], f"MLflow artifacts not purged ({type(exc).__name__}: {exc}); run `guanxi erase` again"
        log.error("erasure: %s", error)
    return ErasureResult(contact_id, deleted, audit_id, files, artifacts, error)


def purge_parquet_folder(folder: Path, contact_id: str) -> list[Path]:
    """Rewrite every Parquet file under ``folder`` that holds the contact, without its rows (metadata kept)."""
    if not folder.is_dir():
        return []
    return [path for path in sorted(folder.rglob("*.parquet")) if purge_parquet_file(path, contact_id)]


def purge_parquet_file(path: Path, contact_id: str) -> bool:
    """Drop the contact's rows from one file, atomically; True when the file held any."""
    import pyarrow.compute as pc

    if "contact_id" not in pq.read_schema(path).names:
        return False
    table = pq.read_table(path)
    keep = pc.invert(pc.fill_null(pc.equal(table["contact_id"].cast("string"), contact_id), False))
    if pc.all(keep).as_py():
        return False
    tmp = path.with_name(f".{path.name}.erasure.tmp")
    pq.write_table(table.filter(keep), tmp)
    tmp.replace(path)
    return True


def purge_mlflow_artifacts(contact_id: str) -> list[str]:
    """Rewrite the evaluation sets logged with every run of the tracking store without the contact."""
    from mlflow import MlflowClient

    from training.tracking import configure

    configure()
    client = MlflowClient()
    touched = []
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, max_results=50_000) if experiments else []
    for run in runs:
        names = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
        if EVALUATION_ARTIFACT not in names:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(client.download_artifacts(run.info.run_id, EVALUATION_ARTIFACT, tmp))
            if purge_parquet_file(local, contact_id):
                client.log_artifact(run.info.run_id, str(local), "evaluation")
                touched.append(f"runs:/{run.info.run_id}/{EVALUATION_ARTIFACT}")
    return touched
