"""Imports from the command line: a folder of contract tables or one of the known exports, validated and
written in one transaction under the write lock, with the tombstones of erased contacts honoured."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy.engine import Engine

from crm.importer import ConflictError, ImportOptions, ImportResult, import_dir, import_frames
from crm.store import StoreBusy
from crm.validate import ValidationError
from guanxi.services.errors import Refused
from guanxi.settings import Settings

SOURCES = ("files", "maven-crm", "deals", "contacts", "deal-contacts", "activities", "email", "log")


def column_names(pairs: list[str]) -> dict[str, str]:
    """``FIELD=NAME`` options as a mapping (the name may hold spaces and ``=``)."""
    out = {}
    for pair in pairs:
        field, sep, name = pair.partition("=")
        if not sep or not field.strip() or not name.strip():
            raise Refused("invalid", f"--column {pair!r}: expected FIELD=NAME, e.g. --column 'time=Call Date/Time'")
        out[field.strip().lower()] = name.strip()
    return out


def import_source(engine: Engine, path: Path, source: str, settings: Settings, epoch: str = "1970-01-01",
                  update: bool = False, channel: str | None = None, columns: dict[str, str] | None = None,
                  namespace: str | None = None, rep: str | None = None) -> ImportResult:
    """Import ``path`` (a folder of ``<table>.csv``/``.parquet`` files, or the source's own file or folder).
    ``deals`` reads one table of deals as any CRM exports it (``crm.adapters.deals``), ``contacts`` one
    table of contacts (``crm.adapters.contacts``), ``deal-contacts`` the contacts on each deal with their
    roles (``crm.adapters.deal_contacts``), ``activities`` one
    table of activities (``crm.adapters.activities``: the rows that are not touches are counted in
    ``skipped``); ``email`` and ``log``
    read the same communication logs (``crm.adapters.email``); ``channel`` is the
    channel of records whose log does not name one (default: email for ``email``, call for ``log``; for
    ``activities``, rows whose type names none are an error without it);
    ``columns``: field -> the log's header name for it, where the adapter does not recognise it;
    ``namespace``: email/log, the prefix of the people's ids (default: the file's name); ``rep``: activities,
    the rep of rows that name none (a rep's own call log)."""
    if columns and source not in ("deals", "contacts", "deal-contacts", "activities", "email", "log"):
        raise Refused("invalid", f"--column applies to --source deals, contacts, deal-contacts, activities, email "
                      f"or log, not {source}")
    if rep is not None and (source != "activities" or not rep.strip()):
        raise Refused("invalid", f"--rep {rep!r}: a rep's name, for --source activities")
    if namespace is not None and (source not in ("email", "log") or not namespace.strip() or ":" in namespace):
        raise Refused("invalid", f"--namespace {namespace!r}: a name without ':' for --source email or log")
    options = ImportOptions(update=update, window=settings.ts_window(), erasure_key=settings.erasure_key())
    try:
        if source == "files":
            return import_dir(engine, path, options)
        if source == "maven-crm":
            from crm.adapters.maven import read_maven

            return import_frames(engine, *read_maven(path), options)
        if source == "deals":
            from crm.adapters.deals import read_deals

            return import_frames(engine, *read_deals(path, columns), options)
        if source == "contacts":
            from crm.adapters.contacts import read_contacts

            return import_frames(engine, *read_contacts(path, columns), options)
        if source == "deal-contacts":
            from crm.adapters.deal_contacts import read_deal_contacts

            frames, sources, skipped = read_deal_contacts(path, columns)
            return dataclasses.replace(import_frames(engine, frames, sources, options), skipped=skipped)
        if source == "activities":
            from crm.adapters.activities import read_activities

            frames, sources, skipped = read_activities(path, columns, channel, rep)
            return dataclasses.replace(import_frames(engine, frames, sources, options), skipped=skipped)
        from crm.adapters.email import read_email_archive

        default = channel or ("email" if source == "email" else "call")
        return import_frames(engine, *read_email_archive(path, epoch=epoch, channel=default, columns=columns,
                                                         namespace=namespace), options)
    except ValidationError as exc:
        hint = ["rows stored with other content: run again with --update to replace them"] \
            if isinstance(exc, ConflictError) else []
        raise Refused("conflict", f"import refused: {exc.report.count} problem(s); nothing was written.",
                      [{"message": line} for line in [*exc.report.lines(), *hint]]) from None
    except (FileNotFoundError, ValueError, StoreBusy) as exc:
        raise Refused("conflict", f"import failed: {exc}") from None
