"""Data commands: import, export and store statistics."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

from crm.vocab import CHANNELS
from guanxi.cli.errors import refusals
from guanxi.cli.output import dumps

out = Console()

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine



class Format(enum.StrEnum):
    csv = "csv"
    parquet = "parquet"


Channel = enum.StrEnum("Channel", {c: c for c in CHANNELS})  # type: ignore[misc]


class Source(enum.StrEnum):
    files = "files"
    maven_crm = "maven-crm"
    deals = "deals"
    contacts = "contacts"
    deal_contacts = "deal-contacts"
    activities = "activities"
    email = "email"
    log = "log"


@contextmanager
def store() -> Iterator[Engine]:
    """The configured store, created if missing, disposed on exit."""
    from crm.store import init_db, make_engine
    from guanxi.settings import get_settings

    engine = make_engine(get_settings().db_url)
    try:
        init_db(engine)
        yield engine
    finally:
        engine.dispose()


def import_cmd(
    path: Annotated[Path, typer.Argument(help="Folder of <table>.csv/.parquet files, or the source's file/folder.")],
    source: Annotated[Source, typer.Option(help="Format of PATH.")] = Source.files,
    epoch: Annotated[str, typer.Option(help="email/log: time origin of a seconds column.")] = "1970-01-01",
    channel: Annotated[Channel | None, typer.Option(help="email/log/activities: the channel of records whose log "
                                                    "names none (default: email for email, call for log; "
                                                    "activities: none, such rows are reported).")] = None,
    column: Annotated[list[str] | None, typer.Option(
        help="deals/contacts/deal-contacts/activities/email/log: FIELD=NAME, the header's name for a field "
             "where it is not recognised (log: src, dst, time, duration, channel; deals: opportunity_id, account, "
             "owner, amount, stage, created_at, closed_at…; activities: rep, contact, email, phone, account, time, "
             "clock, channel, direction, duration, status, subject, interaction_id; contacts: contact_id, name, "
             "first_name, last_name, email, account, title, seniority, buying_role, birthday; deal-contacts: "
             "opportunity_id, contact_id, email, account, role, stance, added_at); repeat for several.")] = None,
    namespace: Annotated[str | None, typer.Option(
        help="email/log: prefix of the people's ids (default: the file's name); give several logs of one "
             "organisation (calls, messages) the same one.")] = None,
    rep: Annotated[str | None, typer.Option(
        help="activities: the rep of rows whose export names none (a rep's own call log); default unassigned.")
    ] = None,
    update: Annotated[bool, typer.Option(help="Replace stored rows whose content differs (only the columns the "
                                               "files give); without it such rows are refused.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Validate and import a CRM export: everything is written in one transaction, or nothing."""
    from guanxi.services.imports import column_names, import_source
    from guanxi.settings import get_settings

    with refusals(), store() as engine:
        result = import_source(engine, path, source.value, get_settings(), epoch, update,
                               None if channel is None else channel.value, column_names(column or []), namespace,
                               rep)
    if as_json:
        print(dumps(result.summary()))
        return
    table = RichTable("table", "rows read", "new", "updated", "unchanged", "rows in store")
    for name, count in result.counts.items():
        table.add_row(name, *(f"{d.get(name, 0):,}" for d in (result.rows, result.inserted, result.updated,
                                                               result.unchanged)), f"{count:,}")
    out.print(table)
    if result.attributes:
        out.print(f"custom deal attributes kept (opportunities.attributes): {', '.join(result.attributes)}")
    if result.skipped:
        from crm.adapters.activities import SKIPPED
        from crm.adapters.deal_contacts import SKIPPED as SKIPPED_ROLES

        reasons = {**SKIPPED, **SKIPPED_ROLES}
        out.print("rows skipped: " + "; ".join(f"{n:,} {reasons.get(r, r)}" for r, n in result.skipped.items()))


def export_cmd(
    directory: Annotated[Path, typer.Argument(help="Folder to write <table>.<format> files into.")],
    fmt: Annotated[Format, typer.Option("--format", help="File format.")] = Format.csv,
) -> None:
    """Write every table in the import format (a round trip gives the same store)."""
    from crm.importer import export_dir

    with store() as engine:
        written = export_dir(engine, directory, fmt.value)
    out.print(", ".join(f"{n}: {c}" for n, c in written.items()))


db_app = typer.Typer(help="Store maintenance.", no_args_is_help=True)


@db_app.command("stats")
def stats_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Row count of every table."""
    from crm.store import table_counts

    with store() as engine:
        counts = table_counts(engine)
    if as_json:
        print(dumps(counts))
        return
    table = RichTable("table", "rows")
    for name, count in counts.items():
        table.add_row(name, f"{count:,}")
    out.print(table)


@db_app.command("upgrade")
def upgrade_cmd(revision: Annotated[str, typer.Option(help="Target revision (default: the latest).")] = "head",
                ) -> None:
    """Migrate the store's schema (Alembic); every command and `guanxi serve` also do this at start."""
    from crm.migrate import upgrade
    from crm.store import make_engine
    from guanxi.settings import get_settings

    url = get_settings().db_url
    engine = make_engine(url)
    try:
        done = upgrade(engine, revision)
    finally:
        engine.dispose()
    where = sa_url(url)
    if done.before == done.after:
        out.print(f"{where}: already at revision {done.after}")
    else:
        adopted = " (a store made before migrations: missing tables created, data kept)" if done.adopted else ""
        out.print(f"{where}: {done.before or 'empty'} -> {done.after}{adopted}")


@db_app.command("rebuild-pair-log")
def rebuild_pair_log_cmd() -> None:
    """Rewrite every tie's pair log (what the API reads) from the interactions table: needed only after
    rows were written to the table by hand, around `guanxi import` and the API."""
    from crm.pair_log import rebuild_all
    from crm.store import lock_for_write

    with store() as engine, engine.begin() as conn:
        lock_for_write(conn)
        pairs = rebuild_all(conn)
    out.print(f"{pairs:,} pair logs rewritten")


@db_app.command("init")
def init_cmd() -> None:
    """Create or migrate the store's tables and indexes (the same as `guanxi db upgrade`)."""
    upgrade_cmd("head")


def sa_url(url: str) -> str:
    """The store URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def erase_cmd(
    contact_id: Annotated[str, typer.Argument(help="The contact to erase.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print what was touched as JSON.")] = False,
) -> None:
    """Erase a contact's personal data from the store, the score files and the MLflow evaluation sets."""
    from guanxi.services.erasure import erase_contact
    from guanxi.settings import get_settings

    with refusals(), store() as engine:
        result = erase_contact(engine, contact_id, get_settings(), "cli")
    if as_json:
        print(dumps(dataclasses.asdict(result)))
    else:
        out.print(f"erased {contact_id} (audit record {result.audit_id}): "
                  + ", ".join(f"{n} {c}" for n, c in result.deleted.items()))
        for path in [*result.score_files, *result.artifacts]:
            out.print(f"  rewritten without it: {path}")
    if result.artifact_error:
        typer.echo(f"warning: {result.artifact_error}", err=True)
        raise typer.Exit(1)


report_app = typer.Typer(help="Reports.", no_args_is_help=True)


@report_app.command("feedback")
def feedback_report_cmd(
    weeks: Annotated[int | None, typer.Option(min=1, help="Only the last N weeks with any activity.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
) -> None:
    """Recommendations offered and what reps did with them, by week, action and element."""
    from guanxi.services.reports import feedback_report
    from serving.catalog import load_catalog

    with store() as engine:
        report = feedback_report(engine, load_catalog(), weeks)
    if as_json:
        print(dumps(report.to_dict(orient="records")))
        return
    if report.empty:
        out.print("no recommendations served and no feedback recorded yet")
        return
    table = RichTable(*report.columns)
    for row in report.itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    out.print(table)


def register(app: typer.Typer) -> None:
    """Attach the data commands to the main app."""
    app.add_typer(report_app, name="report")
    app.command("import")(import_cmd)
    app.command("erase")(erase_cmd)
    app.command("export")(export_cmd)
    app.add_typer(db_app, name="db")
