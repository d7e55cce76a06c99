"""The shared datasets import with the counts their files hold, and again without doubling."""

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from crm.adapters.email import read_email_archive
from crm.adapters.maven import read_maven
from crm.importer import import_frames
from crm.store import read_table
from tests.conftest import DATASETS

MAVEN = DATASETS / "maven-crm"
RADOSLAW = DATASETS / "radoslaw-email" / "radoslaw_email.tsv"
EU_CORE = DATASETS / "email-eu-core-q1" / "email-Eu-core-temporal-first-quarter-relabeled.txt"


def _lines(path: Path) -> int:
    with path.open() as fh:
        return sum(1 for line in fh if line.strip() and not line.startswith("%"))


def test_maven_crm_twice(engine: Engine) -> None:
    pipeline = pd.read_csv(MAVEN / "sales_pipeline.csv")
    first = import_frames(engine, *read_maven(MAVEN))
    second = import_frames(engine, *read_maven(MAVEN))
    assert first.counts["opportunities"] == len(pipeline) == 8800
    assert second.counts == first.counts
    assert first.counts["reps"] == len(pd.read_csv(MAVEN / "sales_teams.csv"))
    assert first.counts["accounts"] == len(pd.read_csv(MAVEN / "accounts.csv"))
    dated = pipeline["engage_date"].notna().sum() + pipeline["deal_stage"].isin(["Won", "Lost"]).sum()
    assert first.counts["opportunity_stages"] == dated
    opps = read_table(engine, "opportunities").set_index("opportunity_id")
    assert (opps["outcome"].value_counts().to_dict()
            == {"won": 4238, "lost": 2473, "open": 2089})
    assert opps.loc["1C1I7A6R", "closed_amount"] == 1054
    assert opps.loc["1C1I7A6R", "created_at"] == pd.Timestamp("2016-10-20", tz="UTC")
    # the export has no account for some deals, and no date for prospecting ones: nothing is invented
    assert opps["account_id"].isna().sum() == pipeline["account"].isna().sum()
    assert opps["created_at"].isna().sum() == pipeline["engage_date"].isna().sum()
    assert opps["amount"].notna().all()  # every product, including the 'GTXPro' spelling, has a list price


@pytest.mark.parametrize("path", [RADOSLAW, EU_CORE], ids=["radoslaw", "eu-core"])
def test_email_archives(path: Path, home: Path) -> None:
    from crm.store import init_db, make_engine

    engine = make_engine(f"sqlite:///{home / 'email.db'}")
    init_db(engine)
    emails = _lines(path)
    result = import_frames(engine, *read_email_archive(path))
    assert result.counts["interactions"] == 2 * emails
    again = import_frames(engine, *read_email_archive(path))
    assert again.counts == result.counts
    raw = pd.read_csv(path, sep=r"\s+", comment="%", header=None)
    people = len(set(raw[0]) | set(raw[1]))
    assert result.counts["reps"] == result.counts["contacts"] == people
    inter = read_table(engine, "interactions", columns=["direction", "depth", "channel"])
    assert inter["direction"].value_counts().to_dict() == {"outbound": emails, "inbound": emails}
    assert inter["depth"].isna().all()  # the archive does not say: left null
    assert set(inter["channel"]) == {"email"}


def test_malformed_email_line_is_reported(tmp_path: Path) -> None:
    from crm.validate import ValidationError

    path = tmp_path / "mail.tsv"
    path.write_text("% sym\n1 2 1 1262454010\n1 3 1 soon\n")
    with pytest.raises(ValidationError, match=r"mail.tsv:2:time: 'soon' is not seconds"):
        read_email_archive(path)
