"""The pair log (each tie's interactions packed in one row, what a request reads) stays equal to a rebuild
from the interactions table after any sequence of writes, and the features built from it equal the
features built from the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm import pair_log
from crm.importer import ImportOptions, import_frames
from crm.sim.simulate import simulate
from crm.store import PAIR_LOG, read_polars
from features.relationship import relationship_features, relationship_features_from_log
from guanxi.services.erasure import erase_contact
from guanxi.settings import get_settings
from serving.candidates import candidates, day_context
from serving.catalog import load_catalog
from serving.feedback import interaction_history, logged_touches
from serving.store_data import StoreData

STATIC = ("reps", "accounts", "contacts", "opportunities", "opportunity_stages", "opportunity_contacts")


@pytest.fixture(scope="module")
def world() -> dict[str, pd.DataFrame]:
    sim = simulate("small", seed=11)
    reps = sorted(sim.tables["reps"]["rep_id"])[:3]
    inter = sim.tables["interactions"]
    return {**{n: sim.tables[n] for n in STATIC}, "interactions": inter[inter["rep_id"].isin(reps)]}


def _stored(engine: Engine) -> dict[tuple[str, str], tuple[int, bytes, bytes]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(PAIR_LOG.c.rep_id, PAIR_LOG.c.contact_id, PAIR_LOG.c.n, PAIR_LOG.c.ts,
                                      PAIR_LOG.c.code)).all()
    return {(r[0], r[1]): (int(r[2]), bytes(r[3]), bytes(r[4])) for r in rows}


def _rebuilt(engine: Engine) -> dict[tuple[str, str], tuple[int, bytes, bytes]]:
    """The pair logs a full rebuild writes, in a transaction that is rolled back."""
    with engine.connect() as conn:
        trans = conn.begin()
        pair_log.rebuild_all(conn)
        rows = conn.execute(sa.select(PAIR_LOG.c.rep_id, PAIR_LOG.c.contact_id, PAIR_LOG.c.n, PAIR_LOG.c.ts,
                                      PAIR_LOG.c.code)).all()
        trans.rollback()
    return {(r[0], r[1]): (int(r[2]), bytes(r[3]), bytes(r[4])) for r in rows}


def test_the_pair_log_after_many_writes_in_any_order_equals_a_rebuild(engine: Engine,
                                                                      world: dict[str, pd.DataFrame]) -> None:
    rng = np.random.default_rng(3)
    import_frames(engine, {n: world[n] for n in STATIC}, {n: n for n in STATIC})
    inter = world["interactions"].sort_values("ts", kind="stable").reset_index(drop=True)
    # the log arrives in batches: mostly in time order, some batches shuffled, a late batch of old rows
    late = inter.sample(frac=0.15, random_state=1)
    rest = inter.drop(late.index)
    batches = [rest.iloc[idx] for idx in np.array_split(np.arange(len(rest)), 25)]
    for i, batch in enumerate(batches):
        if i % 4 == 3:
            batch = batch.sample(frac=1.0, random_state=i)
        import_frames(engine, {"interactions": batch}, {"interactions": f"batch {i}"})
        if i == 10:  # a batch sent twice: counted once, the logs do not change
            before = _stored(engine)
            import_frames(engine, {"interactions": batch}, {"interactions": "again"})
            assert _stored(engine) == before
    import_frames(engine, {"interactions": late}, {"interactions": "late"})
    # rows rewritten with other content, one moved to another contact of the same rep
    changed = inter.sample(n=40, random_state=2).copy()
    changed["channel"] = rng.choice(["email", "call", "visit"], len(changed))
    changed["direction"] = np.where(changed["direction"] == "inbound", "outbound", "inbound")
    other = world["contacts"]["contact_id"].iloc[0]
    changed.iloc[0, changed.columns.get_loc("contact_id")] = other
    import_frames(engine, {"interactions": changed}, {"interactions": "changed"}, ImportOptions(update=True))
    erased = str(inter["contact_id"].iloc[len(inter) // 2])
    erase_contact(engine, erased, get_settings(), "test")

    stored = _stored(engine)
    assert stored == _rebuilt(engine)
    from typer.testing import CliRunner

    from guanxi.cli import app

    result = CliRunner().invoke(app, ["db", "rebuild-pair-log"])
    assert result.exit_code == 0 and f"{len(stored):,} pair logs rewritten" in result.output, result.output
    assert _stored(engine) == stored
    assert not any(c == erased for _, c in stored)
    assert sum(n for n, _, _ in stored.values()) == len(read_polars(engine, "interactions"))

    with StoreData(engine) as data:
        _features_equal(data, world, inter)


def _features_equal(data: StoreData, world: dict[str, pd.DataFrame], inter: pd.DataFrame) -> None:
    for rep in sorted(world["interactions"]["rep_id"].unique()):
        log = data.rep_log(rep)
        tables = data.tables(rep_ids=[rep])
        for as_of in (inter["ts"].quantile(0.5), inter["ts"].max() + pd.Timedelta(days=1)):
            day = pd.Timestamp(as_of).floor("D")
            from_log = relationship_features_from_log(data.frames(), log, day)
            from_table = relationship_features(tables, day, [rep])
            pd.testing.assert_frame_equal(from_log, from_table, check_exact=False, rtol=1e-9, atol=1e-12)
            # what a request builds (the day's shared context, the recent rows decoded from the log) equals
            # the batch path's candidates
            fast = candidates(data.frames(), day, [rep], log=log, context=day_context(data.frames(), day))
            pd.testing.assert_frame_equal(fast, candidates(tables, day, [rep]), check_exact=False, rtol=1e-9,
                                          atol=1e-12)
            # and the contact policy's logged touches, read from the packed codes, those of the table
            touched = logged_touches(log, day, load_catalog())
            assert len(touched) > 0
            pd.testing.assert_frame_equal(touched, interaction_history(tables, day, load_catalog(), [rep]),
                                          check_dtype=False)


def test_codes_survive_the_round_trip_through_the_log(world: dict[str, pd.DataFrame]) -> None:
    from crm.validate import validate_tables

    typed = validate_tables({"interactions": world["interactions"]}, {"interactions": "x"},
                            lambda *_: set(world["contacts"]["contact_id"]) | set(world["reps"]["rep_id"])
                            | set(world["opportunities"]["opportunity_id"]))["interactions"]
    rows = typed.head(500)
    codes = pair_log.encode(rows)
    from features.logs import DEAL_MARK, recent_frame

    log = pair_log.RepLog("r", np.array(["c"], dtype=object), np.array([0, len(rows)]),
                          pair_log.epoch_us(rows["ts"]), codes)
    back = recent_frame(log, -1, int(log.ts.max())).to_pandas()
    for col in ("channel", "direction", "occasion", "favor"):
        assert back[col].fillna("-").tolist() == rows[col].astype(object).fillna("-").tolist(), col
    assert back["depth"].fillna(-1).tolist() == rows["depth"].fillna(-1).astype(int).tolist()
    assert back["opportunity_id"].notna().tolist() == rows["opportunity_id"].notna().tolist()
    assert set(back["opportunity_id"].dropna()) <= {DEAL_MARK}
