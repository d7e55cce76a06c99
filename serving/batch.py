"""Nightly scoring of the whole base: every relationship and every open deal, in chunks of reps.

Both engines call :func:`score_chunk` on the interactions of one chunk of reps and write one Parquet
part per chunk, atomically (a temporary name, then a rename), so a run that dies part-way restarts
where it stopped and never leaves a half-written file under a final name. The manifest pins ``as_of``
and the model versions: a restart with other ones is refused instead of mixing two runs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.deal import deal_features
from features.frames import Tables
from serving import scales
from serving.candidates import candidates, deal_only
from serving.catalog import Catalog, load_catalog
from serving.engine import Models, score, select
from serving.feedback import interaction_history
from serving.scales import band
from training.model import GuanxiClassifier

REL_COLUMNS = ["rep_id", "contact_id", "account_id", "p_effective", "health", "band", "best_action", "best_gain",
               "best_priority", "recommended_rank"]
MANIFEST = "_manifest.json"


def no_ties() -> pd.DataFrame:
    """A chunk without ties, typed like one with ties (Parquet parts must agree on their schema)."""
    text = ("rep_id", "contact_id", "account_id", "band", "best_action")
    return pd.DataFrame({c: pd.Series([], dtype="string" if c in text else "int64" if c == "health" else "float64")
                         for c in REL_COLUMNS})


@dataclass
class ScoreRun:
    out: Path
    as_of: pd.Timestamp
    versions: dict[str, str]
    chunks: list[list[str]]
    k: int = 3
    bands: tuple[float, float] = (0.5, 0.2)  # (good, fair): prepare() takes them from the settings
    days: dict[str, str] = field(default_factory=dict)
    """Reps planned for another day than ``as_of`` (``serving.candidates.rep_days``: data of an earlier era)."""
    timings: dict[str, float] = field(default_factory=dict)

    def part(self, i: int) -> Path:
        return self.out / "relationships" / f"part-{i:05d}.parquet"

    @property
    def deals_path(self) -> Path:
        return self.out / "deals.parquet"

    def pending(self) -> list[int]:
        return [i for i in range(len(self.chunks)) if not self.part(i).exists()]


def chunk_reps(rep_ids: Iterable[str], size: int) -> list[list[str]]:
    reps = sorted(set(map(str, rep_ids)))
    return [reps[i:i + size] for i in range(0, len(reps), size)]


def score_chunk(tables: Tables, as_of: pd.Timestamp, rep_ids: list[str], models: Models, catalog: Catalog,
                k: int, bands: tuple[float, float]) -> pd.DataFrame:
    """Scores of every (rep, contact) of these reps: health, P(effective), best action, today's top-k rank.
    Actions on deals without contacts take their place in the ranking but have no row here (``deals.parquet``
    scores every open deal)."""
    everything = candidates(tables, as_of, rep_ids)
    if everything.empty:
        return no_ties()
    scored = score(everything, models, catalog)
    chosen = select(scored, interaction_history(tables, as_of, catalog, rep_ids), catalog, as_of, k)
    deals = deal_only(everything)
    cands = everything
    if deals.any():  # ties only from here on
        cands, scored, chosen = everything[~deals], scored[scored["contact_id"].notna()], \
            chosen[chosen["contact_id"].notna()]
    if cands.empty:
        return no_ties()
    if models.relationship is not None:
        p = models.relationship.predict_proba(cands)[:, 1]
    else:
        p = models.effect.effects(cands)["effective"]["_base"].to_numpy()
    best = scored.drop_duplicates(["rep_id", "contact_id"]).set_index(["rep_id", "contact_id"])
    rank = chosen.set_index(["rep_id", "contact_id"])["rank"]
    key = pd.MultiIndex.from_frame(cands[["rep_id", "contact_id"]].astype(str))
    out = pd.DataFrame({
        "rep_id": cands["rep_id"].astype(str).to_numpy(), "contact_id": cands["contact_id"].astype(str).to_numpy(),
        "account_id": cands["account_id"].astype(str).to_numpy(), "p_effective": p,
        "health": np.rint(100 * p).astype(np.int64), "band": band(p, *bands),
        "best_action": best["action"].reindex(key).to_numpy(dtype=object),
        "best_gain": best["gain"].reindex(key).to_numpy(dtype=float),
        "best_priority": best["priority"].reindex(key).to_numpy(dtype=float),
        "recommended_rank": rank.reindex(key).to_numpy(dtype=float),
    })
    return out.sort_values(["rep_id", "contact_id"]).reset_index(drop=True)


def score_reps(tables: Tables, run: ScoreRun, rep_ids: list[str], models: Models, catalog: Catalog) -> pd.DataFrame:
    """:func:`score_chunk` for a chunk's reps, each on its day (``run.days``, else ``run.as_of``), the day
    in every row."""
    groups: dict[str, list[str]] = {}
    for rep in rep_ids:
        groups.setdefault(run.days.get(rep, ""), []).append(rep)
    frames = []
    for day, reps in sorted(groups.items()):
        as_of = pd.Timestamp(day) if day else run.as_of
        frame = score_chunk(tables, as_of, reps, models, catalog, run.k, run.bands)
        frames.append(frame.assign(as_of=pd.Series(as_of.as_unit("us"), index=frame.index,
                                                   dtype=pd.DatetimeTZDtype("us", "UTC"))))
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return out.sort_values(["rep_id", "contact_id"]).reset_index(drop=True) if len(frames) > 1 else out


def write_atomic(frame: pd.DataFrame, path: Path, metadata: dict[str, str]) -> None:
    """Parquet with ``metadata`` in the file footer, visible under ``path`` only once complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           **{f"guanxi.{k}".encode(): v.encode() for k, v in metadata.items()}})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def stamp(frame: pd.DataFrame, run: ScoreRun) -> pd.DataFrame:
    """as_of and model versions in every row as well as in the file metadata."""
    # one unit whatever the day was parsed from (a string gives seconds, arithmetic nanoseconds)
    as_of = frame["as_of"] if "as_of" in frame else pd.Timestamp(run.as_of).as_unit("us")
    return frame.assign(as_of=as_of,
                        model_versions=pd.Series(json.dumps(run.versions, sort_keys=True), index=frame.index,
                                                 dtype="string"))


def metadata(run: ScoreRun) -> dict[str, str]:
    return {"as_of": run.as_of.isoformat(), "model_versions": json.dumps(run.versions, sort_keys=True)}


def prepare(out: Path, as_of: pd.Timestamp, versions: dict[str, str], rep_ids: Iterable[str], chunk_size: int,
            k: int, bands: tuple[float, float] | None = None, days: dict[str, str] | None = None) -> ScoreRun:
    """Start a run, or resume one with the same as_of, models, chunks and bands (default: the settings');
    ``days``: reps planned for another day (``ScoreRun.days``)."""
    if bands is None:
        from guanxi.settings import get_settings

        settings = get_settings()
        bands = (settings.band_good, settings.band_fair)
    run = ScoreRun(out, as_of, versions, chunk_reps(rep_ids, chunk_size), k, bands, dict(days or {}))
    manifest = {"as_of": as_of.isoformat(), "model_versions": versions, "chunks": run.chunks, "k": k,
                "bands": list(bands), **({"rep_days": run.days} if run.days else {})}
    path = out / MANIFEST
    if path.exists():
        old = json.loads(path.read_text())
        if old != manifest:
            diff = [key for key in manifest if old.get(key) != manifest[key]]
            raise ValueError(f"{out} holds another run (different {', '.join(diff)}): use a new --out or remove it")
    else:
        out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=1))
        os.replace(tmp, path)
    return run


def chunk_tables(tables: Tables, chunks: list[list[str]]) -> Iterable[tuple[int, dict[str, pd.DataFrame]]]:
    """The same input the Spark engine gets: the static tables and one chunk's interactions."""
    inter = pd.DataFrame(tables["interactions"])
    index = {rep: i for i, chunk in enumerate(chunks) for rep in chunk}
    col: pd.Series = inter["rep_id"]
    if isinstance(col.dtype, pd.CategoricalDtype):  # map the categories, not 12M strings
        per_category = np.array([index.get(str(c), -1) for c in col.cat.categories] + [-1], dtype=np.int64)
        chunk_of = per_category[col.cat.codes.to_numpy()]
    else:
        chunk_of = col.astype(str).map(index).fillna(-1).to_numpy(dtype=np.int64)
    order = np.argsort(chunk_of, kind="stable")
    bounds = np.searchsorted(chunk_of[order], np.arange(len(chunks) + 1))
    for i in range(len(chunks)):
        rows = np.sort(order[bounds[i]:bounds[i + 1]])
        yield i, {**tables, "interactions": inter.iloc[rows]}


DEAL_COLUMNS = ["opportunity_id", "account_id", "owner_rep_id", "amount", "p_win", "grade"]


def score_deals(tables: Tables, as_of: pd.Timestamp, deal_model: GuanxiClassifier | None,
                deal_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """P(win) and grade of every deal open at ``as_of`` (``deal_ids``: only these)."""
    cols = DEAL_COLUMNS
    if deal_model is None:
        return pd.DataFrame(columns=cols)
    feats = deal_features(tables, as_of, deal_ids=deal_ids)
    if feats.empty:
        return pd.DataFrame(columns=cols)
    p = deal_model.predict_proba(feats)[:, 1]
    grade = scales.grade(p)
    return (feats.assign(p_win=p, grade=grade)[cols].astype({"opportunity_id": str, "account_id": str,
                                                               "owner_rep_id": str, "amount": "float64"})
            .sort_values("opportunity_id").reset_index(drop=True))


def run_pandas(tables: Tables, run: ScoreRun, models: Models, deal_model: GuanxiClassifier | None,
               catalog: Catalog | None = None, progress: Callable[[int, int], None] | None = None,
               stop_after: int | None = None) -> ScoreRun:
    """Score the pending chunks one after the other (``stop_after``: die after that many, for tests)."""
    catalog = catalog or load_catalog()
    pending = set(run.pending())
    started = time.perf_counter()
    done = 0
    for i, part in chunk_tables(tables, run.chunks):
        if i not in pending:
            continue
        if stop_after is not None and done >= stop_after:
            raise RuntimeError(f"stopped after {done} chunks (as asked)")
        frame = score_reps(part, run, run.chunks[i], models, catalog)
        write_atomic(stamp(frame, run), run.part(i), metadata(run))
        done += 1
        if progress:
            progress(i, len(run.chunks))
    run.timings["relationships_s"] = time.perf_counter() - started
    finish(tables, run, deal_model)
    return run


def finish(tables: Tables, run: ScoreRun, deal_model: GuanxiClassifier | None) -> None:
    """Deals (one pass: a deal needs every rep's ties to its chain), then the success marker."""
    started = time.perf_counter()
    if not run.deals_path.exists():
        write_deals(score_deals(tables, run.as_of, deal_model), run)
    run.timings["deals_s"] = time.perf_counter() - started
    mark_done(run)


def write_deals(deals: pd.DataFrame, run: ScoreRun) -> None:
    write_atomic(stamp(deals, run), run.deals_path, metadata(run))


def mark_done(run: ScoreRun) -> None:
    (run.out / "_SUCCESS").write_text(json.dumps({"as_of": run.as_of.isoformat(), "parts": len(run.chunks)}))


def read_scores(out: Path) -> pd.DataFrame:
    """All relationship parts of a finished run, in (rep, contact) order."""
    parts = sorted((out / "relationships").glob("part-*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)

