"""The shared datasets import with the counts their files hold, and again without doubling."""

import json
import mailbox
import re
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from crm.adapters.deals import outcome_of, read_deals
from crm.adapters.email import read_email_archive
from crm.adapters.maven import read_maven
from crm.importer import import_frames
from crm.store import init_db, make_engine, read_table
from crm.validate import ValidationError
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
    path = tmp_path / "mail.tsv"
    path.write_text("% sym\n1 2 1 1262454010\n1 3 1 soon\n")
    with pytest.raises(ValidationError, match=r"mail.tsv:2:time: 'soon' is neither seconds"):
        read_email_archive(path)


def test_a_call_log_with_a_header_is_read_by_column_names(tmp_path: Path, home: Path) -> None:
    """Calls and messages, the columns found by name, times as dates, seconds or milliseconds."""
    path = tmp_path / "calls.csv"
    path.write_text("Caller,Callee,start_time,duration,type\n"
                    "A,B,2024-01-02 10:00:00,120,voice\n"
                    "B,A,2024-01-03T11:00:00+02:00,,SMS\n"
                    "A,C,1704300000,30,call\n"
                    "C,A,1704300060000,0,video\n")
    frames, _ = read_email_archive(path, channel="call")
    inter = frames["interactions"]
    out = inter[inter["direction"] == "outbound"].reset_index(drop=True)
    assert out["ts"].tolist() == [pd.Timestamp("2024-01-02 10:00", tz="UTC"),
                                  pd.Timestamp("2024-01-03 09:00", tz="UTC"),
                                  pd.Timestamp(1704300000, unit="s", tz="UTC"),
                                  pd.Timestamp(1704300060, unit="s", tz="UTC")]
    assert out["channel"].tolist() == ["call", "message", "call", "video_call"]
    assert out["duration_min"].tolist()[0] == 2.0 and pd.isna(out["duration_min"].iloc[1])
    assert out["rep_id"].tolist() == ["calls:A", "calls:B", "calls:A", "calls:C"]
    engine = make_engine(f"sqlite:///{home / 'calls.db'}")
    init_db(engine)
    assert import_frames(engine, frames, dict.fromkeys(frames, str(path))).counts["interactions"] == 8


def test_a_phone_export_is_read_by_the_words_of_its_header(tmp_path: Path) -> None:
    """Headers as phones and call centres write them: words with units and slashes, US dates, durations as
    seconds, minutes or a clock; a "Call Type" of directions is not taken for the channel."""
    path = tmp_path / "calls.csv"
    path.write_text("Caller Number,Called Number,Call Date/Time,Duration (sec),Call Type\n"
                    "+15550001,+15550002,01/03/2024 09:17 PM,266,Outgoing\n"
                    "+15550002,+15550001,01/04/2024 08:05 AM,00:04:26,Incoming\n"
                    "+15550001,+15550003,01/05/2024 10:00 AM,1:02:03,Missed\n"
                    "+15550003,+15550001,01/06/2024 10:00 AM,,Incoming\n"
                    "+15550002,+15550003,01/07/2024 10:00 AM,-1,Missed\n")
    out = _outbound(read_email_archive(path, channel="call")[0])
    assert out["ts"].tolist() == [pd.Timestamp(t, tz="UTC") for t in ("2024-01-03 21:17", "2024-01-04 08:05",
                                                                      "2024-01-05 10:00", "2024-01-06 10:00",
                                                                      "2024-01-07 10:00")]
    assert out["duration_min"].tolist()[:3] == pytest.approx([266 / 60, 266 / 60, 62 + 3 / 60])
    assert out["duration_min"].iloc[3:].isna().all() and set(out["channel"]) == {"call"}  # -1: a missed call
    assert out["rep_id"].tolist() == ["calls:+15550001", "calls:+15550002", "calls:+15550001", "calls:+15550003",
                                      "calls:+15550002"]
    minutes = tmp_path / "minutes.csv"
    minutes.write_text("From,To,Date,Duration (min)\nA,B,2024-01-02,4.5\n")
    assert _outbound(read_email_archive(minutes)[0])["duration_min"].tolist() == [4.5]


def test_columns_the_adapter_does_not_know_are_named_by_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("Agent,Customer,Logged,Talk\nA,B,2024-01-02 10:00,60\nB,C,2024-01-03 11:00,120\n")
    named = {"src": "Agent", "dst": "Customer", "time": "Logged", "duration": "Talk"}
    out = _outbound(read_email_archive(path, columns=named)[0])
    assert out["rep_id"].tolist() == ["crm:A", "crm:B"] and out["duration_min"].tolist() == [1.0, 2.0]
    with pytest.raises(ValidationError, match=re.escape("--column time=When: no such column in the header "
                                                        "(Agent, Customer, Logged, Talk)")):
        read_email_archive(path, columns={**named, "time": "When"})
    with pytest.raises(ValidationError, match=re.escape("--column rep=Agent: not a field here")):
        read_email_archive(path, columns={**named, "rep": "Agent"})


def test_logs_of_one_organisation_share_its_people(tmp_path: Path, home: Path) -> None:
    """Calls and messages of one study in one namespace: a person is one rep and contact across them, and
    the second file's records are new records, not the first's."""
    calls, sms = tmp_path / "calls.csv", tmp_path / "sms.csv"
    calls.write_text("timestamp,caller,callee,duration\n60,1,2,30\n120,2,3,-1\n")
    sms.write_text("# timestamp,sender,recipient\n90,1,2\n")
    engine = make_engine(f"sqlite:///{home / 'study.db'}")
    init_db(engine)
    for path, channel in ((calls, "call"), (sms, "message")):
        import_frames(engine, *read_email_archive(path, epoch="2013-09-01", channel=channel, namespace="cns"))
    again = import_frames(engine, *read_email_archive(sms, epoch="2013-09-01", channel="message", namespace="cns"))
    assert again.unchanged["interactions"] == 2 and again.inserted["interactions"] == 0
    assert sorted(read_table(engine, "reps")["rep_id"]) == ["cns:1", "cns:2", "cns:3"]
    inter = read_table(engine, "interactions")
    assert len(inter) == 6 and inter.groupby("channel").size().to_dict() == {"call": 4, "message": 2}
    assert sorted(inter.loc[inter["channel"] == "message", "interaction_id"]) == ["cns:sms:1-in", "cns:sms:1-out"]


def _mbox(path: Path, messages: list[dict[str, str]]) -> Path:
    from email.message import EmailMessage

    box = mailbox.mbox(path)
    for headers in messages:
        message = EmailMessage()
        for k, v in headers.items():
            message[k] = v
        message.set_content("text")
        box.add(message)
    box.close()
    return path


MESSAGES = [
    {"From": '"Ann Lee" <Ann@Acme.com>', "To": "bob@client.com, Carol <carol@client.com>", "Cc": "bob@client.com",
     "Date": "Tue, 05 Mar 2024 09:30:00 +0100", "Message-ID": "<m1@acme.com>"},
    {"From": "bob@client.com", "To": "ann@acme.com", "Date": "Wed, 06 Mar 2024 10:00:00 -0000",
     "Message-ID": "<m2@client.com>"},
    {"From": "ann@acme.com", "Date": "Wed, 06 Mar 2024 11:00:00 +0000"},  # a draft: no recipient
]


def test_a_mailbox_gives_a_record_per_recipient_and_a_message_is_counted_once(tmp_path: Path, home: Path) -> None:
    """An mbox (Takeout, Thunderbird) and a folder of .eml files: From to each distinct To/Cc address, times in
    UTC; the same message in the Inbox and in Sent is one record."""
    inbox = _mbox(tmp_path / "Inbox.mbox", MESSAGES)
    out = _outbound(read_email_archive(inbox, namespace="mail")[0])
    assert out[["rep_id", "contact_id"]].values.tolist() == [["mail:ann@acme.com", "mail:bob@client.com"],
                                                            ["mail:ann@acme.com", "mail:carol@client.com"],
                                                            ["mail:bob@client.com", "mail:ann@acme.com"]]
    assert out["ts"].tolist() == [pd.Timestamp("2024-03-05 08:30", tz="UTC")] * 2 + [
        pd.Timestamp("2024-03-06 10:00", tz="UTC")]
    assert set(out["channel"]) == {"email"}
    frames = read_email_archive(inbox, namespace="mail")[0]
    assert frames["accounts"]["account_id"].tolist() == ["mail:acme.com", "mail:client.com"]
    assert frames["contacts"].set_index("email")["account_id"].to_dict() == {
        "ann@acme.com": "mail:acme.com", "bob@client.com": "mail:client.com", "carol@client.com": "mail:client.com"}
    sent = _mbox(tmp_path / "Sent.mbox", MESSAGES[:1])
    engine = make_engine(f"sqlite:///{home / 'mail.db'}")
    init_db(engine)
    import_frames(engine, *read_email_archive(inbox, namespace="mail"))
    again = import_frames(engine, *read_email_archive(sent, namespace="mail"))
    assert again.unchanged["interactions"] == 4 and again.inserted["interactions"] == 0
    folder = tmp_path / "eml"
    folder.mkdir()
    box = mailbox.mbox(inbox)
    (folder / "a.eml").write_bytes(box[0].as_bytes())
    box.close()
    assert _outbound(read_email_archive(folder)[0])["contact_id"].tolist() == ["eml:bob@client.com",
                                                                              "eml:carol@client.com"]


def test_a_message_without_a_date_is_reported(tmp_path: Path) -> None:
    box = tmp_path / "Inbox.mbox"
    box.write_text("From ann@acme.com Tue Mar  5 09:30:00 2024\nFrom: ann@acme.com\nTo: bob@client.com\n"
                   "Date: Tue, 05 Mar 2024 09:30:00 +0100\n\ntext\n\n"
                   "From ann@acme.com Tue Mar  5 10:30:00 2024\nFrom: ann@acme.com\nTo: bob@client.com\n"
                   "Date: someday\n\ntext\n")
    with pytest.raises(ValidationError, match=re.escape("Inbox.mbox:2:Date: 'someday' is not a date")):
        read_email_archive(box)


def _outbound(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    inter = frames["interactions"]
    return inter[inter["direction"] == "outbound"].reset_index(drop=True)


@pytest.mark.parametrize(("text", "message"), [
    ("from;to;when;channel\nA;B;2024-01-02;fax\n", "calls.csv:1:channel: 'fax' is not a channel word"),
    ("from,to,when,duration\nA,B,2024-01-02,soon\n", "calls.csv:1:duration: 'soon' is neither seconds nor [h:]mm:ss"),
    ("sender,recipient,time\nA,B,tomorrow\n", "calls.csv:1:time: 'tomorrow' is neither seconds"),
    ("name,number,when\nA,B,2024-01-01\nB,A,2024-01-02\n", "looks like a header whose column names are not known"),
    ("from,to,amount\nA,B,3\n", "no column for time in the header"),
])
def test_a_call_log_that_cannot_be_read_says_where_and_why(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(text)
    with pytest.raises(ValidationError, match=re.escape(message)):
        read_email_archive(path)


def test_a_deals_table_in_a_crms_own_names_becomes_contract_tables(tmp_path: Path, home: Path) -> None:
    """Column names, stage words, dates and amounts as CRMs write them; a close date counts only on a
    closed deal; other columns are kept as custom attributes; a second import changes nothing."""
    path = tmp_path / "deals.csv"
    path.write_text("Opportunity ID,Account Name,Opportunity Owner,Stage,Amount,Created Date,Close Date,Lead Source\n"
                    'D1,Acme,Ann,Closed Won,"$1,096.50",10/20/2016,03/01/2017,Web\n'
                    "D2,Acme,Bob,Closed Lost - no budget,55,10/25/2016,03/11/2017,\n"
                    "D3,Initech,Ann,Negotiation/Review,12 500 €,11/02/2016,06/30/2017,Partner\n"
                    "D4,,,Prospecting,,,,\n")
    frames, _ = read_deals(path)
    opps = frames["opportunities"].set_index("opportunity_id")
    assert opps["outcome"].tolist() == ["won", "lost", "open", "open"]
    assert opps["amount"].tolist()[:3] == [1096.5, 55.0, 12500.0] and pd.isna(opps.loc["D4", "amount"])
    assert opps.loc["D1", "closed_amount"] == 1096.5 and pd.isna(opps.loc["D2", "closed_amount"])
    assert opps.loc["D1", "closed_at"] == pd.Timestamp("2017-03-01", tz="UTC")
    assert pd.isna(opps.loc["D3", "closed_at"])  # an open deal's close date is a forecast
    assert opps.loc["D3", "created_at"] == pd.Timestamp("2016-11-02", tz="UTC")
    assert opps["owner_rep_id"].tolist() == ["Ann", "Bob", "Ann", "unassigned"]
    assert pd.isna(opps.loc["D4", "account_id"]) and sorted(frames["accounts"]["account_id"]) == ["Acme", "Initech"]
    assert json.loads(opps.loc["D1", "attributes"]) == {"Lead Source": "Web"}
    assert frames["opportunity_stages"][["opportunity_id", "stage"]].values.tolist() == [["D1", "won"], ["D2", "lost"]]
    engine = make_engine(f"sqlite:///{home / 'deals.db'}")
    init_db(engine)
    assert import_frames(engine, frames, dict.fromkeys(frames, str(path))).counts["opportunities"] == 4
    again = import_frames(engine, *read_deals(path))
    assert again.counts["opportunities"] == 4 and again.unchanged["opportunities"] == 4


def test_a_deals_table_without_ids_dates_or_known_names(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.csv"
    path.write_text("Title,Organization,Owner,Value,Result\nA deal,Acme,Ann,100,won\nB deal,Acme,Ann,200,open\n")
    opps = read_deals(path)[0]["opportunities"]
    assert opps["opportunity_id"].tolist() == ["pipeline:1", "pipeline:2"]  # the file and the row
    assert opps["outcome"].tolist() == ["won", "open"] and "created_at" not in opps
    odd = tmp_path / "odd.csv"
    odd.write_text("Ref,Who,Win\n1,Ann,won\n")
    with pytest.raises(ValidationError, match=re.escape("no column says whether a deal is won, lost or open")):
        read_deals(odd)
    named = read_deals(odd, {"stage": "Win", "opportunity_id": "Ref", "owner": "Who"})[0]["opportunities"]
    assert named[["opportunity_id", "owner_rep_id", "outcome"]].values.tolist() == [["1", "Ann", "won"]]


@pytest.mark.parametrize(("line", "message"), [
    ("D1,Ann,won,soon,", "deals.csv:1:Close Date: 'soon' is not a date"),
    ("D1,Ann,won,,lots", "deals.csv:1:Amount: 'lots' is not an amount"),
    (",Ann,won,,", "deals.csv:1:Deal ID: missing id"),
])
def test_a_bad_cell_of_a_deals_table_says_where_and_why(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(f"Deal ID,Owner,Status,Close Date,Amount\n{line}\n")
    with pytest.raises(ValidationError, match=re.escape(message)):
        read_deals(path)


def test_stage_words_give_the_outcome() -> None:
    stages = pd.Series(["Closed Won", "closed-lost", "WON", "Lost: price", "Proposal/Price Quote", None, "Won/Lost?",
                        "closedwon", "closedlost", "appointmentscheduled"])
    assert outcome_of(stages).tolist() == ["won", "lost", "won", "lost", "open", "open", "open", "won", "lost",
                                           "open"]


def test_spreadsheet_exports_read_as_their_csv_would(tmp_path: Path) -> None:
    """Deal tables and call logs saved as .xlsx: dates as date cells, numbers as number cells."""
    deals = pd.DataFrame({"Opportunity ID": ["D1", "D2", "D3"], "Account Name": ["Acme", "Acme", None],
                          "Owner": ["Ann", "Bob", "Ann"], "Stage": ["Closed Won", "Closed Lost", "Proposal"],
                          "Amount": [1200.5, 300, None],
                          "Close Date": pd.to_datetime(["2024-03-01", "2024-03-05", "2024-06-30"])})
    deals.to_excel(tmp_path / "deals.xlsx", index=False)
    csv = tmp_path / "deals.csv"
    deals.assign(**{"Close Date": deals["Close Date"].dt.strftime("%Y-%m-%d")}).to_csv(csv, index=False)
    from_sheet = read_deals(tmp_path / "deals.xlsx")[0]["opportunities"]
    pd.testing.assert_frame_equal(from_sheet.drop(columns="attributes", errors="ignore"),
                                  read_deals(csv)[0]["opportunities"].drop(columns="attributes", errors="ignore"))
    calls = pd.DataFrame({"Caller": [15550001, 15550002], "Callee": [15550002, 15550001],
                          "Start Time": pd.to_datetime(["2024-01-02 10:00", "2024-01-03 11:30"]),
                          "Duration (sec)": [120, 30]})
    calls.to_excel(tmp_path / "calls.xlsx", index=False)
    out = _outbound(read_email_archive(tmp_path / "calls.xlsx", channel="call")[0])
    assert out["rep_id"].tolist() == ["calls:15550001", "calls:15550002"]
    assert out["ts"].tolist() == [pd.Timestamp("2024-01-02 10:00", tz="UTC"),
                                  pd.Timestamp("2024-01-03 11:30", tz="UTC")]
    assert out["duration_min"].tolist() == [2.0, 0.5]


def test_amounts_read_as_exports_write_them() -> None:
    from crm.adapters.deals import _money

    text = pd.Series(["$12,500.00", "12 500 €", "EUR 1.234,56", "1,5", "1,234", "-300", "n/a", None])
    assert _money(text).tolist()[:6] == [12500.0, 12500.0, 1234.56, 1.5, 1234.0, -300.0]
    assert _money(text).iloc[6:].isna().all()


def test_dates_of_a_column_are_read_one_way() -> None:
    """A column of day-first dates is read day first throughout, even where a date would also read month
    first ("05.11.2024" next to "31.12.2024"); US exports stay month first."""
    from crm.adapters.headers import dates

    eu = dates(pd.Series(["31.12.2024", "05.11.2024", None]))
    assert eu.tolist()[:2] == [pd.Timestamp("2024-12-31", tz="UTC"), pd.Timestamp("2024-11-05", tz="UTC")]
    us = dates(pd.Series(["03/01/2017 09:17 PM", "12/25/2017 10:00 AM"]))
    assert us.tolist() == [pd.Timestamp("2017-03-01 21:17", tz="UTC"), pd.Timestamp("2017-12-25 10:00", tz="UTC")]
    assert dates(pd.Series(["05.11.2024"])).iloc[0] == pd.Timestamp("2024-11-05", tz="UTC")  # dotted: day first
    assert dates(pd.Series(["2024-11-05T10:00:00+02:00"])).iloc[0] == pd.Timestamp("2024-11-05 08:00", tz="UTC")
    assert pd.isna(dates(pd.Series(["soon"])).iloc[0])


def test_an_email_export_with_names_several_recipients_and_copies(tmp_path: Path) -> None:
    """Cells as mail clients export them ("Jo Park <jo@acme.com>", two recipients in one cell, a Cc column,
    Outlook's "From: (Address)"): one record per distinct recipient address, from the sender's address."""
    gmail = tmp_path / "gmail.csv"
    gmail.write_text('From,To,Cc,Date,Subject\n'
                     'Ann Lee <Ann@ours.com>,"Jo Park <jo@acme.com>, li@globex.com",,'
                     '"Fri, 01 Mar 2024 10:00:00 +0000",Q\n'
                     '"""Park, Jo"" <jo@acme.com>",ann@ours.com,bo@ours.com; ann@ours.com,2024-03-01 12:00,Re: Q\n')
    frames, _ = read_email_archive(gmail)
    out = frames["interactions"][frames["interactions"]["direction"] == "outbound"]
    assert list(zip(out["rep_id"], out["contact_id"], strict=True)) == [
        ("gmail:ann@ours.com", "gmail:jo@acme.com"), ("gmail:ann@ours.com", "gmail:li@globex.com"),
        ("gmail:jo@acme.com", "gmail:ann@ours.com"), ("gmail:jo@acme.com", "gmail:bo@ours.com")]
    assert out["ts"].iloc[0] == pd.Timestamp("2024-03-01 10:00", tz="UTC")
    assert sorted(frames["accounts"]["account_id"]) == ["gmail:acme.com", "gmail:globex.com", "gmail:ours.com"]
    outlook = tmp_path / "outlook.csv"
    outlook.write_text("Subject,From: (Name),From: (Address),To: (Name),To: (Address),CC: (Address),Date Sent\n"
                       "Quote,Ann Lee,ann@ours.com,Jo Park,jo@acme.com,li@globex.com,2024-03-01 10:00\n"
                       "Re,Jo Park,jo@acme.com,Ann Lee,ann@ours.com,,2024-03-01 12:00\n")
    frames, _ = read_email_archive(outlook)
    assert len(frames["interactions"]) == 2 * 3
    assert set(frames["contacts"]["email"]) == {"ann@ours.com", "jo@acme.com", "li@globex.com"}


def test_deals_exported_by_field_api_names_and_flags(tmp_path: Path) -> None:
    """Salesforce's Data Export names fields by API name (``StageName``, ``CloseDate``, ``OwnerId``) and says
    won and closed in flags that outrank an organisation's own stage names; HubSpot's export by its internal
    names (``dealstage``, ``closedate``, ``hubspot_owner_id``)."""
    salesforce = tmp_path / "Opportunity.csv"
    salesforce.write_text(
        "Id,AccountId,OwnerId,Name,StageName,Amount,CloseDate,CreatedDate,IsClosed,IsWon,Probability\n"
        "006A,001A,005A,Big deal,Contract signed,1000,2024-03-01,2024-01-01T10:00:00.000Z,true,true,100\n"
        "006B,001A,005A,Other,Went elsewhere,500,2024-03-02,2024-01-02T10:00:00.000Z,true,false,0\n"
        "006C,001B,005B,Open,Proposal,700,2024-09-30,2024-02-01T10:00:00.000Z,false,false,40\n")
    frames, _ = read_deals(salesforce)
    opps = frames["opportunities"].set_index("opportunity_id")
    assert opps["outcome"].to_dict() == {"006A": "won", "006B": "lost", "006C": "open"}
    assert opps["owner_rep_id"].to_dict() == {"006A": "005A", "006B": "005A", "006C": "005B"}
    assert opps["closed_at"].isna().tolist() == [False, False, True]  # an open deal's close date is a forecast
    assert set(json.loads(opps.loc["006A", "attributes"])) == {"Name", "Probability"}  # not the flags
    hubspot = tmp_path / "deals.csv"
    hubspot.write_text("hs_object_id,dealname,dealstage,amount,closedate,createdate,hubspot_owner_id\n"
                       "1,A,closedwon,10,2024-03-01,2024-01-01,77\n2,B,appointmentscheduled,20,,2024-01-05,78\n")
    frames, _ = read_deals(hubspot)
    opps = frames["opportunities"].set_index("opportunity_id")
    assert opps["outcome"].to_dict() == {"1": "won", "2": "open"} and opps.loc["1", "owner_rep_id"] == "77"
    assert opps.loc["1", "created_at"] == pd.Timestamp("2024-01-01", tz="UTC")
    bad = tmp_path / "bad.csv"
    bad.write_text("Id,OwnerId,IsClosed,IsWon\n006A,005A,maybe,true\n")
    with pytest.raises(ValidationError, match="'maybe' is neither true nor false"):
        read_deals(bad)


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030", "utf-16"])
def test_a_chinese_crms_deals_in_the_encodings_excel_writes(tmp_path: Path, encoding: str) -> None:
    """Chinese column names and stage words, in UTF-8, in GBK (Excel's CSV on a Chinese Windows) and in
    UTF-16 (Excel's "Unicode Text", tab-separated)."""
    text = ("商机编号,客户名称,负责人,阶段,金额,创建日期,关闭日期\n"
            "D1,阿里巴巴,王伟,赢单,1000,2024-01-02,2024-03-01\n"
            "D2,腾讯,李娜,谈判中,500,2024-02-01,2024-06-30\n"
            "D3,腾讯,李娜,未成交,300,2024-02-03,2024-06-30\n"
            "D4,百度,王伟,输单,800,2024-01-05,2024-02-20\n")
    path = tmp_path / "商机.csv"
    path.write_bytes((text.replace(",", "\t") if encoding == "utf-16" else text).encode(encoding))
    frames, _ = read_deals(path)
    opps = frames["opportunities"].set_index("opportunity_id")
    assert opps["outcome"].to_dict() == {"D1": "won", "D2": "open", "D3": "open", "D4": "lost"}
    assert opps.loc["D1", "account_id"] == "阿里巴巴" and opps.loc["D4", "owner_rep_id"] == "王伟"
    assert opps["closed_at"].notna().tolist() == [True, False, False, True]
