"""Decks as vendors send them, through the whole importer (reader → semantics → store): the
tricks whose meaning only shows once the rows are applied to a table."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from ingestd.config import load_config
from ingestd.ingest import import_file
from ingestd.rates.store import Store

RECEIVED = dt.datetime(2024, 5, 1, 12, 0, 0)


@pytest.fixture
def store(sqlite_url):
    s = Store(sqlite_url)
    s.upgrade()
    yield s
    s.close()


def run(store, data: bytes, name: str, *, received=RECEIVED, **kw):
    outcomes = import_file(
        store, load_config(None, env={}), "v", data, file_name=name, received_at=received, **kw
    )
    for o in outcomes:
        assert o.status == "imported", o.as_dict()
    return outcomes


def rows(store, kind="voice", table="default") -> dict[str, list[tuple]]:
    t = store.find_table("v", kind=kind, name=table)
    out: dict[str, list[tuple]] = {}
    for r in store.rows(t).iter_rows(named=True):
        price = r.get("price1", r.get("price"))
        out.setdefault(r["code"], []).append(
            (r["effective_from"], None if price is None else price.normalize(), r["discontinued"])
        )
    return out


def xlsx(rows_: list[list], *, epoch=None) -> bytes:
    wb = openpyxl.Workbook()
    if epoch is not None:
        wb.epoch = epoch
    ws = wb.active
    for r in rows_:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_serial_dates_in_the_1904_system_are_read_in_it(store):
    # a date cell and a plain number cell holding a serial, in a 1904 workbook
    serial_1904 = (dt.date(2024, 6, 1) - dt.date(1904, 1, 1)).days
    data = xlsx(
        [
            ["Prefix", "Rate", "Effective Date"],
            ["44", 0.1, dt.datetime(2024, 6, 1)],
            ["33", 0.2, serial_1904],
        ],
        epoch=CALENDAR_MAC_1904,
    )
    run(store, data, "rates.xlsx")
    got = rows(store)
    assert got["44"][0][0] == got["33"][0][0] == dt.datetime(2024, 6, 1)


def test_serial_dates_in_the_1900_system(store):
    serial_1900 = (dt.date(2024, 6, 1) - dt.date(1899, 12, 30)).days
    data = f"Prefix,Rate,Effective Date\n44,0.1,{serial_1900}\n".encode()
    run(store, data, "rates.csv")
    assert rows(store)["44"][0][0] == dt.datetime(2024, 6, 1)


def test_legacy_xls(store):
    import xlwt  # test extra: writes BIFF8 like old Excel

    book = xlwt.Workbook()
    sheet = book.add_sheet("Rates")
    sheet.write(0, 0, "Rate notice")
    for c, head in enumerate(["Dial Code", "Destination", "Price($)", "Effective Date", "Billing"]):
        sheet.write(2, c, head)
    date = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    sheet.write(3, 0, "44")
    sheet.write(3, 1, "United Kingdom")
    sheet.write(3, 2, 0.1584)
    sheet.write(3, 3, dt.datetime(2024, 6, 1), date)
    sheet.write(3, 4, "60/1")
    buf = io.BytesIO()
    book.save(buf)
    assert buf.getvalue()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # really BIFF, not XLSX
    (o,) = run(store, buf.getvalue(), "rates.xls")
    assert o.sheet["header_row"] == 3
    t = store.find_table("v")
    (r,) = store.rows(t).iter_rows(named=True)
    assert (r["code"], r["price1"].normalize(), r["interval1"], r["interval_n"]) == (
        "44",
        Decimal("0.1584"),
        60,
        1,
    )
    assert r["effective_from"] == dt.datetime(2024, 6, 1)


def test_guidelines_layout_with_end_dates_and_a_removal_row(store):
    first = (
        "44,United Kingdom,0.0100,60,0.0100,60,,,,,2024-05-01 12:00,\n"
        "33,France,0.0200,1,0.0200,1,,,,,2024-05-01 12:00,\n"
    )
    run(store, first.encode(), "tg-1.txt")
    # 44 ends on 2024-07-01; 33's effective and end times are one minute apart: removed
    second = (
        "44,United Kingdom,0.0100,60,0.0100,60,,,,,2024-05-01 12:00,2024-07-01 00:00\n"
        "33,France,0.0200,1,0.0200,1,,,,,2024-06-01 00:00,2024-06-01 00:01\n"
    )
    (o,) = run(store, second.encode(), "tg-2.txt", received=RECEIVED + dt.timedelta(days=1))
    assert o.sheet["layout"] == "guidelines"
    t = store.find_table("v")
    assert store.lookup(t, "+33 1 23", dt.datetime(2024, 5, 31))["code"] == "33"
    assert store.lookup(t, "+33 1 23", dt.datetime(2024, 6, 2)) is None  # route removed
    assert store.lookup(t, "+44 20", dt.datetime(2024, 6, 30))["code"] == "44"
    assert store.lookup(t, "+44 20", dt.datetime(2024, 7, 2)) is None  # ended


def test_zip_with_a_workbook_and_a_csv_gives_one_version_per_table(store):
    voice = xlsx([["Code", "Rate"], ["44", 0.1], ["33", 0.2]])
    sms = b"MCC;MNC;Network;Price\n234;01;Vodafone;0,0150\n310;410;AT&T;0,0090\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("voice.xlsx", voice)
        z.writestr("sms/rates.csv", sms)
    outcomes = run(store, buf.getvalue(), "decks.zip")
    assert sorted((o.kind, o.version) for o in outcomes) == [("sms", 1), ("voice", 1)]
    assert set(rows(store, "sms")) == {"23401", "310410"}
    assert rows(store, "sms")["23401"][0][1] == Decimal("0.015")


def test_jurisdiction_columns_become_one_table_each(store):
    data = (
        b"NPA-NXX,Interstate,Intrastate,Indeterminate\n"
        b"201-555,0.0050,0.0070,0.0060\n"
        b"212-555,0.0040,0.0080,0.0060\n"
    )
    outcomes = run(store, data, "us.csv")
    assert sorted(o.table for o in outcomes) == ["indeterminate", "interstate", "intrastate"]
    assert rows(store, table="intrastate")["1201555"][0][1] == Decimal("0.007")


def test_an_ambiguous_date_column_holds_the_sheet_and_names_the_answer(store):
    data = b"Prefix,Rate,Effective\n44,0.1,01/02/2024\n33,0.2,03/04/2024\n"
    (o,) = import_file(
        store, load_config(None, env={}), "v", data, file_name="a.csv", received_at=RECEIVED
    )
    assert (o.status, o.reason) == ("held", "doubtful_reading")
    assert "--date-order dmy" in o.message and "'01/02/2024'" in o.message
    assert all(t.current_version == 0 for t in store.tables())  # nothing written


def test_a_vendor_date_order_reads_the_same_sheet(store, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[vendors]]\nid = "v"\nname = "V"\ndate_order = "mdy"\n')
    data = b"Prefix,Rate,Effective\n44,0.1,01/02/2024\n33,0.2,03/04/2024\n"
    outcomes = import_file(
        store, load_config(cfg), "v", data, file_name="a.csv", received_at=dt.datetime(2023, 12, 1)
    )
    assert outcomes[0].status == "imported"
    assert rows(store)["44"][0][0] == dt.datetime(2024, 1, 2)


def test_a_code_changes_sheet_discontinues_at_its_date(store):
    run(store, xlsx([["Code", "Rate"], ["44", 0.1], ["4479", 0.2]]), "v1.xlsx")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Rates"
    for r in [["Code", "Rate"], ["44", 0.1]]:
        ws.append(r)
    changes = wb.create_sheet("Code changes")
    for r in [
        ["Code", "Destination", "Code Change", "Effective Date"],
        ["4479", "UK Mobile", "Removed", dt.datetime(2024, 6, 1)],
    ]:
        changes.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    (o,) = run(store, buf.getvalue(), "v2.xlsx", received=RECEIVED + dt.timedelta(days=1))
    assert o.counts["discontinued"] == 1
    t = store.find_table("v")
    assert store.lookup(t, "+44 79 1", dt.datetime(2024, 5, 31))["code"] == "4479"
    assert store.lookup(t, "+44 79 1", dt.datetime(2024, 6, 2))["code"] == "44"


def test_a_code_added_without_a_rate_is_a_rejected_row_and_the_report_counts_the_changes(store):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Rates"
    filler = [[str(code), 0.05] for code in range(3310, 3330)]  # one rejection stays under 5%
    for r in [["Code", "Rate"], ["44", 0.1], ["4479", 0.2], ["4916", 0.3], *filler]:
        ws.append(r)
    changes = wb.create_sheet("Code changes")
    for r in [
        ["Code", "Destination", "Code Change", "Effective Date"],
        ["4916", "Germany Mobile", "Alta", dt.datetime(2024, 6, 1)],
        ["4917", "Germany Mobile", "Alta", dt.datetime(2024, 6, 1)],
        ["4479", "UK Mobile", "Baja", dt.datetime(2024, 6, 1)],
        ["44", "UK", "Sin cambios", None],
    ]:
        changes.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    (o,) = run(store, buf.getvalue(), "v.xlsx")
    assert o.sheet["code_changes"] == {
        "removed": 1, "blocked": 0, "added": 2, "added_with_rate": 1, "unchanged": 1,
    }  # fmt: skip
    assert [(e.sheet, e.row, e.reason, e.code) for e in o.rejected] == [
        ("Code changes", 3, "added_without_rate", "4917")
    ]
    assert "4917" not in rows(store)
    assert rows(store)["4916"][0][1] == Decimal("0.3")
    assert any(at == dt.datetime(2024, 6, 1) and gone for at, _, gone in rows(store)["4479"])


def test_status_words_and_dry_run_report(store):
    data = (
        b"Destination,Code,Rate,Status\n"
        b"UK,44,0.1,New\nFrance,33,0.2,Closed\nGermany,49,0.3,Blocked\n"
    )
    (o,) = import_file(
        store,
        load_config(None, env={}),
        "v",
        data,
        file_name="s.csv",
        received_at=RECEIVED,
        dry_run=True,
    )
    assert o.status == "dry_run"
    assert o.sheet["mapping"] == {
        "Destination": "destination",
        "Code": "code",
        "Rate": "price",
        "Status": "status",
    }
    assert o.counts["discontinued"] == 1 and o.counts["forbidden"] == 1 and o.counts["new"] == 1
    assert store.tables() == []  # a dry run writes nothing


def test_an_unreadable_file_is_refused_and_the_next_one_still_imports(store):
    bad = import_file(
        store,
        load_config(None, env={}),
        "v",
        b"\x00\x01\x02binary junk" * 50,
        file_name="x.csv",
        received_at=RECEIVED,
    )
    assert bad[0].status == "refused" and bad[0].reason in ("unknown_format", "no_table")
    run(store, b"Code,Rate\n44,0.1\n", "ok.csv")
    assert pl.DataFrame(store.tables()).height == 1


def test_an_ambiguous_column_takes_the_order_earlier_decks_of_the_vendor_proved(store):
    proving = b"Prefix,Rate,Effective\n44,0.1,25/12/2023\n33,0.2,03/04/2024\n"
    (first,) = run(store, proving, "a.csv", received=dt.datetime(2023, 12, 1))
    assert first.sheet["date_order"] == "dmy"
    ambiguous = b"Prefix,Rate,Effective\n44,0.3,01/02/2024\n"
    (o,) = run(store, ambiguous, "b.csv", received=dt.datetime(2023, 12, 2))
    assert any("earlier decks" in w for w in o.sheet["warnings"])
    assert dt.datetime(2024, 2, 1) in [r[0] for r in rows(store)["44"]]
    # another vendor learned nothing
    (other,) = import_file(
        store, load_config(None, env={}), "w", ambiguous, file_name="b.csv", received_at=RECEIVED
    )
    assert other.status == "held"
    assert "doubtful_reading" in [g["name"] for g in other.guards if g["tripped"]]


def test_hyphens_the_codes_leave_open_are_read_as_the_vendors_earlier_decks_proved(store):
    # ranges and a pair in one column, and "44-44": a range of one code or 44 then 44?
    open_ended = b"Code,Rate\n447400-447402,0.1\n1264-581,0.2\n44-44,0.3\n"
    (refused,) = import_file(
        store, load_config(None, env={}), "v", open_ended, file_name="a.csv", received_at=RECEIVED
    )
    assert (refused.status, refused.reason) == ("refused", "mixed_hyphens")
    (proving,) = run(store, b"Code,Rate\n3361-3363,0.1\n", "ranges.csv")
    assert proving.sheet["hyphen"] == "range"
    (o,) = run(store, open_ended, "b.csv", received=RECEIVED + dt.timedelta(days=1))
    assert any("read as ranges, as earlier decks" in w for w in o.sheet["warnings"])
    assert {"447400", "447401", "447402", "1264581", "44"} <= set(rows(store))
    # another vendor learned nothing
    (other,) = import_file(
        store, load_config(None, env={}), "w", open_ended, file_name="b.csv", received_at=RECEIVED
    )
    assert (other.status, other.reason) == ("refused", "mixed_hyphens")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.lists(
            st.lists(st.text(max_size=12), min_size=1, max_size=6), min_size=1, max_size=12
        ).map(lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8", "surrogatepass")),
        st.lists(
            st.tuples(
                st.from_regex(r"[0-9+ ,;-]{0,12}", fullmatch=True),
                st.from_regex(r"[0-9.,$€ ]{0,8}", fullmatch=True),
                st.from_regex(r"[0-9/.:ASP -]{0,12}", fullmatch=True),
            ),
            max_size=10,
        ).map(
            lambda rows: ("Code,Rate,Effective\n" + "\n".join(",".join(r) for r in rows)).encode()
        ),
    )
)
def test_any_bytes_give_an_outcome_never_an_exception(store, data):
    before = {t.label: t.current_version for t in store.tables()}
    outcomes = import_file(
        store,
        load_config(None, env={}),
        "fuzz",
        data,
        file_name="x.csv",
        received_at=RECEIVED,
        dry_run=True,
    )
    assert outcomes and all(o.status in ("dry_run", "refused", "held") for o in outcomes)
    assert {t.label: t.current_version for t in store.tables()} == before  # nothing written


def test_vendor_table_rules_pick_the_table_kind_and_mode(store, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[[vendors]]\nid = "v"\nname = "V"\n'
        '[[vendors.tables]]\nname = "premium"\nkind = "voice"\nmode = "full"\n'
        'match = { filename = "*Premium*" }\n'
        '[[vendors.tables]]\nname = "cli"\nkind = "auto"\nmode = "auto"\n'
        'match = { subject = "(?i)\\\\bCLI\\\\b" }\n'
    )
    config = load_config(cfg)
    deck = b"Code,Rate\n44,0.1\n"
    (premium,) = import_file(
        store, config, "v", deck, file_name="Acme-Premium.csv", received_at=RECEIVED
    )
    assert (premium.table, premium.mode) == ("premium", "full")
    assert premium.mode_source == "table rule 'premium'"
    (cli,) = import_file(
        store,
        config,
        "v",
        deck,
        file_name="rates.csv",
        received_at=RECEIVED,
        subject="CLI route amendment",
    )
    assert (cli.table, cli.mode, cli.mode_source) == ("cli", "partial", "subject or file name")
    (plain,) = import_file(store, config, "v", deck, file_name="rates.csv", received_at=RECEIVED)
    assert (plain.table, plain.mode, plain.mode_source) == ("default", "partial", "vendor default")
    assert all(o.status == "imported" for o in (premium, cli, plain))


def test_an_sms_list_with_only_a_network_column_is_described_by_it(store):
    data = b"MCC,MNC,Network,Price\n234,10,O2 UK,0.0150\n"
    run(store, data, "sms.csv")
    t = store.find_table("v", kind="sms")
    assert store.rows(t)["description"].to_list() == ["O2 UK"]
