"""A CRM's activity export (`--source activities`): Salesforce, HubSpot and Pipedrive shapes read by their own
column names and words; rows that are not touches skipped and counted; a bad cell reported with nothing
written; and a simulated world exported as a CRM's activities and deals tables runs the chain on the
revenue-linked label, as its own contract tables do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crm.adapters.activities import read_activities
from crm.validate import ValidationError
from guanxi.cli import app

runner = CliRunner()

SALESFORCE = """Activity ID,Assigned,Contact,Company / Account,Type,Call Type,Date,Call Duration,Status,Subject
00T1,Ann Lee,John Smith,Acme,Call,Inbound,03/01/2024 09:15 AM,125,Completed,Call: pricing
00T2,Ann Lee,John Smith,Acme,Email,,03/02/2024 10:00 AM,,Completed,Re: quote
00T3,Ann Lee,Mia Wong,Globex,Video Call,Outbound,03/03/2024 02:30 PM,1:05:00,Completed,Quarterly review
00T4,Bo Chen,John Smith,Initech,Site Visit,,03/04/2024,,Completed,Plant tour
00T5,Bo Chen,Mia Wong,Globex,LinkedIn Like,,03/05/2024,,Completed,
00T6,Ann Lee,Mia Wong,Globex,Task,,03/06/2024,,Completed,Prepare proposal
00T7,Ann Lee,Mia Wong,Globex,Call,Internal,03/06/2024,60,Completed,Call with our legal team
00T8,Ann Lee,Mia Wong,Globex,Meeting,,03/20/2024,,Not Started,Kick-off
00T9,Ann Lee,,Globex,Call,,03/07/2024,,Completed,Switchboard
00T10,,Mia Wong,Globex,Email,,12/24/2023,,Completed,Season's greetings
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_salesforce_activity_report_becomes_touches(tmp_path: Path) -> None:
    frames, _, skipped = read_activities(_write(tmp_path, "activities.csv", SALESFORCE))
    inter = frames["interactions"].set_index("interaction_id")
    assert skipped == {"not_a_touch": 2, "not_done": 1, "no_contact": 1}  # the task, the internal call; …
    assert list(inter.index) == ["00T1", "00T2", "00T3", "00T4", "00T5", "00T10"]
    assert inter["channel"].tolist() == ["call", "email", "video_call", "visit", "social", "email"]
    assert inter["direction"].tolist() == ["inbound", "outbound", "outbound", "outbound", "outbound", "outbound"]
    assert inter.loc["00T1", "duration_min"] == pytest.approx(125 / 60)
    assert inter.loc["00T3", "duration_min"] == pytest.approx(65)
    assert inter.loc["00T1", "ts"] == pd.Timestamp("2024-03-01 09:15", tz="UTC")
    assert inter.loc["00T10", "occasion"] == "holiday" and inter.loc["00T10", "rep_id"] == "unassigned"
    # the same name at two companies is two contacts; a rep and an account keep the export's names
    contacts = frames["contacts"].set_index("contact_id")["account_id"].to_dict()
    assert contacts == {"John Smith (Acme)": "Acme", "John Smith (Initech)": "Initech", "Mia Wong": "Globex"}
    assert set(inter["contact_id"]) == set(contacts)
    assert set(frames["reps"]["rep_id"]) == {"Ann Lee", "Bo Chen", "unassigned"}
    assert set(frames["accounts"]["account_id"]) == {"Acme", "Globex", "Initech"}


def test_hubspot_and_pipedrive_exports_read_by_their_words(tmp_path: Path) -> None:
    hubspot = _write(tmp_path, "hubspot.csv", (
        "Activity date,Activity type,Activity assigned to,Associated Contact,Contact email,Call duration (HH:mm:ss)\n"
        "2024-05-01 10:00,INCOMING_EMAIL,Ann Lee,Jo Park,jo@acme.com,\n"
        "2024-05-02 11:00,CALL,Ann Lee,Jo Park,jo@acme.com,00:12:30\n"
        "2024-05-03 12:00,NOTE,Ann Lee,Jo Park,jo@acme.com,\n"
        "2024-05-04 09:00,MEETING,Ann Lee,,li@globex.com,\n"))
    frames, _, skipped = read_activities(hubspot)
    inter = frames["interactions"]
    assert skipped == {"not_a_touch": 1}
    assert inter["channel"].tolist() == ["email", "call", "meeting"]
    assert inter["direction"].tolist() == ["inbound", "outbound", "outbound"]
    assert inter["duration_min"].iloc[1] == pytest.approx(12.5)
    contacts = frames["contacts"].set_index("contact_id")
    # no company column: the account is the e-mail's domain; no name: the address is the contact
    assert contacts.loc["Jo Park", "account_id"] == "acme.com" and contacts.loc["li@globex.com", "email"] == \
        "li@globex.com"

    pipedrive = _write(tmp_path, "pipedrive.csv", (
        "Activity - Subject;Activity - Type;Activity - Due date;Activity - Due time;Activity - Assigned to user;"
        "Activity - Contact person;Activity - Organization;Activity - Done\n"
        "Lunch with Jo;lunch;2024-06-03;12:30;Ann Lee;Jo Park;Acme;Done\n"
        "Follow-up;call;2024-06-04;09:00;Ann Lee;Jo Park;Acme;To do\n"
        "Proposal;deadline;2024-06-05;;Ann Lee;Jo Park;Acme;Done\n"))
    frames, _, skipped = read_activities(pipedrive)
    inter = frames["interactions"]
    assert skipped == {"not_a_touch": 1, "not_done": 1}
    assert inter["channel"].tolist() == ["meeting"]
    assert inter["ts"].iloc[0] == pd.Timestamp("2024-06-03 12:30", tz="UTC")


@pytest.mark.parametrize(("text", "message"), [
    ("Assigned,Contact,Type,Date\nAnn,Jo,Carrier pigeon,2024-01-02\n", "'Carrier pigeon' names no channel"),
    ("Assigned,Contact,Type,Date\nAnn,Jo,Call,someday\n", "'someday' is not a date"),
    ("Assigned,Contact,Type,Date,Status\nAnn,Jo,Call,2024-01-02,Maybe\n", "'Maybe' says neither done"),
    ("Assigned,Contact,Type,Logged At\nAnn,Jo,Call,2024-01-02\n", "--column time=NAME"),
    ("Assigned,Contact,Date\nAnn,Jo,2024-01-02\n", "--channel"),
])
def test_an_activity_that_cannot_be_read_says_where_and_why(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        read_activities(_write(tmp_path, "a.csv", text))


def test_the_channel_option_reads_rows_whose_type_names_none(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.csv", "Assigned,Contact,Type,Date\nAnn,Jo,Other,2024-01-02\nAnn,Jo,,2024-01-03\n")
    frames, _, _ = read_activities(path, channel="meeting")
    assert frames["interactions"]["channel"].tolist() == ["meeting", "meeting"]
    frames, _, _ = read_activities(path, columns={"time": "Date"}, channel="call")
    assert frames["interactions"]["channel"].tolist() == ["call", "call"]


def test_a_refused_activity_import_writes_nothing(tmp_path: Path, home: Path) -> None:
    bad = SALESFORCE + "00T11,Ann Lee,Mia Wong,Globex,Carrier pigeon,,03/08/2024,,Completed,\n"
    result = runner.invoke(app, ["import", "--source", "activities", str(_write(tmp_path, "bad.csv", bad))])
    assert result.exit_code != 0 and "Carrier pigeon" in result.output and "nothing was written" in result.output
    stats = json.loads(runner.invoke(app, ["db", "stats", "--json"]).output)
    assert stats["interactions"] == 0 and stats["contacts"] == 0
    good = _write(tmp_path, "good.csv", SALESFORCE)
    first = json.loads(runner.invoke(app, ["import", "--source", "activities", str(good), "--json"]).output)
    again = json.loads(runner.invoke(app, ["import", "--source", "activities", str(good), "--json"]).output)
    assert first["inserted"]["interactions"] == 6 and first["skipped"] == {"not_a_touch": 2, "not_done": 1,
                                                                            "no_contact": 1}
    assert again["inserted"]["interactions"] == 0 and again["counts"] == first["counts"]  # not counted twice


def crm_export(tables: dict[str, pd.DataFrame], folder: Path) -> tuple[Path, Path, Path, Path]:
    """A simulated world as a CRM exports it: contacts, opportunity contact roles, activities and opportunities
    tables in the CRM's own names and words (job titles, role names, US dates, amounts with currency signs),
    the world's ids as its names."""
    people = tables["contacts"]
    titles = {"c_level": "Chief Executive Officer", "vp": "VP Sales", "director": "Director of IT",
              "manager": "Purchasing Manager", "individual": "Analyst"}
    roles = {"decision_maker": "Decision Maker", "influencer": "Influencer", "evaluator": "Technical Evaluator",
             "user": "Business User", "gatekeeper": "Gatekeeper", "coach": "Coach"}
    month, day = people["birthday_month"].astype("Int64"), people["birthday_day"].astype("Int64")
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"Name": people["contact_id"], "Account Name": people["account_id"],
                  "Title": people["seniority"].astype(object).map(titles),
                  "Contact Role": people["buying_role"].astype(object).map(roles),
                  "Birthdate": ("1980-" + month.astype(str).str.zfill(2) + "-" + day.astype(str).str.zfill(2))
                  .where(month.notna())}).to_csv(folder / "Contacts.csv", index=False)
    chain = tables["opportunity_contacts"]
    stances = {"champion": "Champion", "supporter": "Supportive", "neutral": "Neutral", "skeptic": "Skeptical",
               "blocker": "Blocker"}
    pd.DataFrame({"Opportunity ID": chain["opportunity_id"], "Contact Name": chain["contact_id"],
                  "Role": chain["role"].astype(object).map(roles),
                  "Stance": chain["stance"].astype(object).map(stances),
                  "Created Date": pd.to_datetime(chain["added_at"], utc=True).dt.strftime("%m/%d/%Y")}
                 ).to_csv(folder / "Opportunity Contact Roles.csv", index=False)
    inter = tables["interactions"].merge(tables["contacts"][["contact_id", "account_id"]], on="contact_id")
    types = {"email": "Email", "call": "Call", "video_call": "Video Call", "meeting": "Meeting", "visit": "Site Visit",
             "message": "Text Message", "social": "LinkedIn Like", "event": "Webinar"}
    subjects = {"holiday": "Season's greetings", "birthday": "Happy birthday!", "business_request": "Request: pricing",
                "referral": "Referral"}
    activities = pd.DataFrame({
        "Activity ID": inter["interaction_id"], "Assigned": inter["rep_id"], "Contact": inter["contact_id"],
        "Company / Account": inter["account_id"], "Type": inter["channel"].astype(object).map(types),
        "Direction": inter["direction"].astype(str).str.capitalize(),
        "Date": pd.to_datetime(inter["ts"], utc=True).dt.strftime("%m/%d/%Y %I:%M %p"),
        "Duration (sec)": (inter["duration_min"] * 60).round(), "Status": "Completed",
        "Subject": inter["occasion"].astype(object).map(subjects).fillna("Follow-up")})
    tasks = activities.head(30).assign(Type="Task", Subject="Prepare proposal")
    tasks["Activity ID"] = "task-" + tasks["Activity ID"]
    pd.concat([activities, tasks]).to_csv(folder / "Activities.csv", index=False)
    opps = tables["opportunities"]
    stage = opps["outcome"].astype(object).map({"won": "Closed Won", "lost": "Closed Lost",
                                                "open": "Proposal/Price Quote"})
    pd.DataFrame({"Opportunity ID": opps["opportunity_id"], "Account Name": opps["account_id"],
                  "Opportunity Owner": opps["owner_rep_id"], "Stage": stage,
                  "Amount": opps["amount"].map(lambda a: f"${a:,.2f}"),
                  "Created Date": pd.to_datetime(opps["created_at"], utc=True).dt.strftime("%m/%d/%Y"),
                  "Close Date": pd.to_datetime(opps["closed_at"], utc=True).dt.strftime("%m/%d/%Y")}
                 ).to_csv(folder / "Opportunities.csv", index=False)
    return (folder / "Contacts.csv", folder / "Opportunity Contact Roles.csv", folder / "Activities.csv",
            folder / "Opportunities.csv")


@pytest.mark.slow  # trains a model
def test_a_crms_activities_and_deals_run_the_chain_on_revenue(tmp_path: Path, home: Path,
                                                              served_world: dict[str, object]) -> None:
    tables = served_world["sim"].tables  # type: ignore[attr-defined]
    contacts_file, roles, activities, deals = crm_export(tables, tmp_path / "export")
    for source, path in (("deals", deals), ("contacts", contacts_file), ("deal-contacts", roles),
                         ("activities", activities)):
        result = runner.invoke(app, ["import", "--source", source, str(path), "--json"])
        assert result.exit_code == 0, result.output
    stats = json.loads(runner.invoke(app, ["db", "stats", "--json"]).output)
    assert stats["interactions"] == len(tables["interactions"])
    assert stats["opportunities"] == len(tables["opportunities"])
    # every touch lands on the world's pair and account: the two files share reps and accounts by name
    from crm.store import make_engine, read_table
    from guanxi.settings import get_settings

    engine = make_engine(get_settings().db_url)
    stored = read_table(engine, "interactions").astype({"interaction_id": object}).set_index("interaction_id")
    stored_chain = read_table(engine, "opportunity_contacts")
    people = read_table(engine, "contacts").set_index("contact_id")
    contacts = people["account_id"]
    engine.dispose()
    world_people = tables["contacts"].astype({"contact_id": str}).set_index("contact_id").loc[people.index]
    for column in ("seniority", "buying_role", "birthday_month", "birthday_day"):
        assert people[column].astype(object).where(people[column].notna(), None).tolist() == \
            world_people[column].astype(object).where(world_people[column].notna(), None).tolist(), column
    world = tables["interactions"].astype({"interaction_id": object}).set_index("interaction_id")
    stored = stored.loc[world.index]
    assert np.array_equal(stored["rep_id"].astype(str), world["rep_id"].astype(str))
    assert np.array_equal(stored["channel"].astype(str), world["channel"].astype(str))
    truth = tables["contacts"].set_index("contact_id")["account_id"].astype(str)
    assert np.array_equal(contacts.astype(str), truth.reindex(contacts.index.astype(str)).to_numpy())
    occasions = world["occasion"].astype(object).where(world["occasion"].notna(), None)
    assert stored["occasion"].astype(object).where(stored["occasion"].notna(), None).tolist() == occasions.tolist()
    world_chain = tables["opportunity_contacts"]
    assert sorted(zip(stored_chain["opportunity_id"], stored_chain["contact_id"], stored_chain["role"],
                      stored_chain["stance"].astype(object).where(stored_chain["stance"].notna(), None),
                      strict=True)) == \
        sorted(zip(world_chain["opportunity_id"].astype(str), world_chain["contact_id"].astype(str),
                   world_chain["role"].astype(str),
                   world_chain["stance"].astype(object).where(world_chain["stance"].notna(), None), strict=True))
    doctor = json.loads(runner.invoke(app, ["doctor", "--json"]).output)
    assert doctor["facts"]["won_deals_with_decision_chain"] > 0
    relationship = next(p for p in doctor["plans"] if p["model"] == "relationship")
    assert relationship["label"] == "effective_relationship", relationship
    trained = runner.invoke(app, ["train", "relationship", "--json"])
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout.strip().splitlines()[-1])["models"][0]
    assert summary["label"] == "effective_relationship" and summary["metrics"]["auc"] > 0.6


def test_a_reps_own_call_log_names_the_rep_once(tmp_path: Path, home: Path) -> None:
    """A phone's call log names only the other side (a name, else the number) and says incoming, outgoing or
    missed in its type: ``--rep`` names the phone's owner, ``--channel call`` the channel."""
    path = _write(tmp_path, "calls.csv", "Date,Name,Number,Type,Duration\n"
                                         "2024-04-01 09:00,Jo Park,+1 555 0100,Outgoing,95\n"
                                         "2024-04-01 11:00,,+1 555 0199,Incoming,30\n"
                                         "2024-04-02 08:00,Jo Park,+1 555 0100,Missed,0\n")
    result = runner.invoke(app, ["import", "--source", "activities", str(path), "--channel", "call", "--rep",
                                 "Ann Lee", "--json"])
    assert result.exit_code == 0, result.output
    from crm.store import make_engine, read_table
    from guanxi.settings import get_settings

    engine = make_engine(get_settings().db_url)
    inter = read_table(engine, "interactions").sort_values("ts")
    engine.dispose()
    assert inter["rep_id"].tolist() == ["Ann Lee"] * 3 and inter["channel"].tolist() == ["call"] * 3
    assert inter["contact_id"].tolist() == ["Jo Park", "+1 555 0199", "Jo Park"]
    assert inter["direction"].tolist() == ["outbound", "inbound", "inbound"]
    refused = runner.invoke(app, ["import", "--source", "log", str(path), "--rep", "Ann Lee"])
    assert refused.exit_code != 0 and "--rep" in refused.output


def test_salesforce_tasks_and_events_by_api_names(tmp_path: Path) -> None:
    """Salesforce's Data Export of Task and Event records (API names): the subtype says call or email, the
    call type the direction, an Event is a calendar meeting, a duration in minutes says so in its name."""
    tasks = _write(tmp_path, "Task.csv", (
        "Id,WhoId,AccountId,OwnerId,Subject,ActivityDate,Status,TaskSubtype,CallType,CallDurationInSeconds,Type\n"
        "00T1,003A,001A,005A,Call,2024-03-01,Completed,Call,Inbound,240,\n"
        "00T2,003A,001A,005A,Email: quote,2024-03-02,Completed,Email,,,Email\n"
        "00T3,003A,001A,005A,Send contract,2024-03-03,Not Started,Task,,,Other\n"))
    frames, _, skipped = read_activities(tasks)
    inter = frames["interactions"]
    assert skipped == {"not_a_touch": 1} and inter["channel"].tolist() == ["call", "email"]
    assert inter["direction"].tolist() == ["inbound", "outbound"] and inter["duration_min"].iloc[0] == 4.0
    assert frames["contacts"].set_index("contact_id")["account_id"].to_dict() == {"003A": "001A"}
    events = _write(tmp_path, "Event.csv", (
        "Id,WhoId,AccountId,OwnerId,Subject,ActivityDateTime,DurationInMinutes,EventSubtype\n"
        "00U1,003A,001A,005A,Quarterly review,2024-03-05T14:00:00.000Z,90,Event\n"))
    frames, _, _ = read_activities(events)
    inter = frames["interactions"]
    assert inter["channel"].tolist() == ["meeting"] and inter["duration_min"].tolist() == [90.0]
    assert inter["ts"].iloc[0] == pd.Timestamp("2024-03-05 14:00", tz="UTC")


CONTACTS = """First Name,Last Name,Account Name,Title,Email,Birthdate,Contact Role
John,Smith,Acme,Chief Financial Officer,john@acme.com,1975-03-14,Economic Buyer
John,Smith,Initech,Senior Manager,jsmith@initech.com,,
Mia,Wong,Globex,Vice President of Sales,mia@globex.com,07/04,Technical Evaluator
Ana,Ruiz,,Account Executive,ana@umbrella.io,31.12.1990,Other
"""


def test_a_crms_contacts_give_levels_roles_and_birthdays(tmp_path: Path) -> None:
    from crm.adapters.contacts import read_contacts

    frames, _ = read_contacts(_write(tmp_path, "contacts.csv", CONTACTS))
    c = frames["contacts"].set_index("contact_id")
    # the ids the activities give the same people: a name at two companies is one contact per company
    assert list(c.index) == ["John Smith (Acme)", "John Smith (Initech)", "Mia Wong", "Ana Ruiz"]
    assert c["seniority"].tolist() == ["c_level", "manager", "vp", "individual"]
    assert c["buying_role"].tolist() == ["decision_maker", None, "evaluator", None]
    assert c["birthday_month"].tolist()[0] == 3 and c["birthday_day"].tolist()[0] == 14
    assert (c.loc["Mia Wong", "birthday_month"], c.loc["Mia Wong", "birthday_day"]) == (7, 4)
    assert (c.loc["Ana Ruiz", "birthday_month"], c.loc["Ana Ruiz", "birthday_day"]) == (12, 31)
    assert c.loc["Ana Ruiz", "account_id"] == "umbrella.io"  # no company: the e-mail's domain
    with pytest.raises(ValidationError, match="'13/45' is not a birthday"):
        read_contacts(_write(tmp_path, "bad.csv", "Name,Birthday\nJo,13/45\n"))
    with pytest.raises(ValidationError, match="the same contact twice"):
        read_contacts(_write(tmp_path, "twice.csv", "Name,Company\nJo,Acme\nJo,Acme\n"))


def test_contacts_then_activities_join_the_same_people(tmp_path: Path, home: Path) -> None:
    """Contacts first, then the activities that name them: the activities add touches, not new people, and
    the contacts' facts (title, level, birthday) are kept."""
    for source, name, text in (("contacts", "contacts.csv", CONTACTS), ("activities", "activities.csv", SALESFORCE)):
        result = runner.invoke(app, ["import", "--source", source, str(_write(tmp_path, name, text)), "--json"])
        assert result.exit_code == 0, result.output
    from crm.store import make_engine, read_table
    from guanxi.settings import get_settings

    engine = make_engine(get_settings().db_url)
    contacts = read_table(engine, "contacts").set_index("contact_id")
    inter = read_table(engine, "interactions")
    engine.dispose()
    assert len(contacts) == 4 and set(inter["contact_id"]) <= set(contacts.index)
    assert contacts.loc["Mia Wong", "seniority"] == "vp" and contacts.loc["John Smith (Acme)", "birthday_day"] == 14


def test_a_deals_buying_committee_joins_its_deal_and_contacts(tmp_path: Path, home: Path) -> None:
    """Opportunity contact roles after the deals and the contacts: roles read from their words, a role that
    names none skipped and counted, a contact the store does not know refused with nothing written."""
    deals = _write(tmp_path, "deals.csv", "Opportunity ID,Account Name,Opportunity Owner,Stage,Amount\n"
                                          "D1,Acme,Ann Lee,Negotiation,1000\nD2,Globex,Ann Lee,Closed Won,500\n")
    roles = _write(tmp_path, "roles.csv", "Opportunity ID,Contact Name,Account Name,Role,Stance\n"
                                          "D1,John Smith,Acme,Economic Buyer,Champion\n"
                                          "D1,John Smith,Initech,Other,\n"
                                          "D2,Mia Wong,Globex,Technical Evaluator,Skeptical\n")
    for source, path in (("deals", deals), ("contacts", _write(tmp_path, "contacts.csv", CONTACTS))):
        assert runner.invoke(app, ["import", "--source", source, str(path)]).exit_code == 0
    result = runner.invoke(app, ["import", "--source", "deal-contacts", str(roles), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["inserted"]["opportunity_contacts"] == 2 and summary["skipped"] == {"no_role": 1}
    from crm.store import make_engine, read_table
    from guanxi.settings import get_settings

    engine = make_engine(get_settings().db_url)
    chain = read_table(engine, "opportunity_contacts").sort_values("opportunity_id")
    assert chain[["opportunity_id", "contact_id", "role", "stance"]].values.tolist() == [
        ["D1", "John Smith (Acme)", "decision_maker", "champion"], ["D2", "Mia Wong", "evaluator", "skeptic"]]
    unknown = _write(tmp_path, "unknown.csv", "Opportunity ID,Contact Name,Role\nD1,Nobody Known,Decision Maker\n")
    refused = runner.invoke(app, ["import", "--source", "deal-contacts", str(unknown)])
    assert refused.exit_code != 0 and "Nobody Known" in refused.output and "nothing was written" in refused.output
    assert len(read_table(engine, "opportunity_contacts")) == 2
    engine.dispose()
