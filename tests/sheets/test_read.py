"""SPEC §3.1: bytes → sheets of string cells, whatever the encoding, delimiter or workbook."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest

from ingestd.errors import SheetError
from ingestd.sheets.read import detect_format, read_sheets, sniff_delimiter


def rows(data: bytes, **kw) -> list[tuple]:
    (sheet,) = read_sheets(data, **kw)
    return sheet.frame.rows()


def xlsx(build, *, patch=None) -> bytes:
    """A workbook written by openpyxl; ``patch`` edits the first sheet's XML (cached values)."""
    book = openpyxl.Workbook()
    build(book)
    buf = io.BytesIO()
    book.save(buf)
    if patch is None:
        return buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            content = src.read(name)
            if name == "xl/worksheets/sheet1.xml":
                content = patch(content.decode()).encode()
            dst.writestr(name, content)
    return out.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


# --- detect_format ---------------------------------------------------------------------------


def test_detect_format_from_magic_bytes_not_names():
    book = xlsx(lambda b: b.active.append(["a"]))
    assert detect_format(book) == "xlsx"
    assert detect_format(zip_of({"xl/workbook.xml": b"<workbook/>"})) == "xlsx"
    assert detect_format(zip_of({"xl/workbook.bin": b""})) == "xlsb"
    ods = zip_of({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"})
    assert detect_format(ods) == "ods"
    assert detect_format(zip_of({"rates.csv": b"a,b\n"})) == "zip"
    assert detect_format(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600) == "xls"
    assert detect_format(b"Prefix,Price\n44,0.1\n") == "csv"
    assert detect_format("Prefix;Preis\n49;0,1\n".encode("utf-16")) == "csv"
    assert detect_format("Préfixe;Prix €\n".encode("cp1252")) == "csv"


@pytest.mark.parametrize(
    "junk",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\xff\xd8\xff\xe0\x00\x10JFIF",
        b"\x1f\x8b\x08\x00" + bytes(range(40)),
        bytes(range(256)) * 4,
        b"a\x00b\x00c\x00" * 100,
    ],
)
def test_detect_format_refuses_binary_junk(junk):
    with pytest.raises(SheetError) as caught:
        detect_format(junk)
    assert caught.value.reason == "unknown_format"


def test_a_corrupt_workbook_is_unreadable():
    with pytest.raises(SheetError) as caught:
        read_sheets(zip_of({"xl/workbook.xml": b"not xml"}))
    assert caught.value.reason in ("unreadable", "unknown_format")


# --- CSV / TXT -------------------------------------------------------------------------------

TEXT = "Prefix,Price,Destination\r\n44,0.15,Königsberg € «Mobile»\r\n33,0.2,Île-de-France\r\n"
EXPECTED = [
    ("Prefix", "Price", "Destination"),
    ("44", "0.15", "Königsberg € «Mobile»"),
    ("33", "0.2", "Île-de-France"),
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom", "cp1252"])
def test_csv_encodings(encoding):
    if encoding == "utf-16-be-bom":
        data = b"\xfe\xff" + TEXT.encode("utf-16-be")
    else:
        data = TEXT.encode(encoding)
    assert rows(data) == EXPECTED


def test_latin1_is_the_last_resort():
    # 0x81 is undefined in cp1252, so only latin-1 takes these bytes
    data = "Prefix,Name\n44,caf\xe9\x81\n".encode("latin-1")
    assert rows(data)[1] == ("44", "caf\xe9\x81")


def test_a_file_that_stops_being_utf8_after_the_first_lines_is_read_as_cp1252():
    # the first 20,000 lines are ASCII (the sniffed head decodes as UTF-8); the last is not
    body = "".join(f"44{i:05d},0.1,Germany\n" for i in range(20_000))
    data = ("Prefix,Price,Destination\n" + body + "33,0.2,Île-de-France\n").encode("cp1252")
    got = rows(data)
    assert got[-1] == ("33", "0.2", "Île-de-France") and len(got) == 20_002


def test_nul_bytes_are_found_on_their_line_after_multibyte_text():
    lines = ["Prefix,Price,Destination", *(f"44{i},0.1,Königsberg € «Mobile»" for i in range(40))]
    data = "\n".join([*lines, "33,0.2,Île\0-de-France", ""]).encode()  # too few to look binary
    with pytest.raises(SheetError) as e:
        read_sheets(data)
    assert e.value.reason == "nul_bytes" and "line 42" in str(e.value)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters(delimiter):
    lines = [["Prefix", "Price", "Valid From"], ["44", "0,15", "2023-05-16"], ["49", "0,2", ""]]
    if delimiter == ",":
        lines = [[cell.replace(",", ".") for cell in line] for line in lines]
    data = "\n".join(delimiter.join(line) for line in lines).encode()
    got = rows(data)
    assert got[0] == ("Prefix", "Price", "Valid From")
    assert got[1][0] == "44" and got[1][2] == "2023-05-16"
    assert got[2][2] is None


def test_semicolon_wins_over_decimal_commas_without_a_header():
    assert sniff_delimiter("49;0,15\n44;0,2\n33;1,5\n") == ";"
    assert sniff_delimiter("49,0.15\n44,0.2\n") == ","
    assert sniff_delimiter("Country\tRate\nKorea, Republic of\t0.1\n") == "\t"


def test_quoted_fields_keep_delimiters_quotes_and_newlines():
    data = (
        b"Prefix,Description,Price\r\n"
        b'44,"London, ""City""",0.1\r\n'
        b'49,"two\r\nlines",0.2\r\n'
        b"33,plain,0.3\r\n"
    )
    got = rows(data)
    assert got[1] == ("44", 'London, "City"', "0.1")
    assert got[2][0] == "49" and got[2][1].splitlines() == ["two", "lines"]
    assert got[3] == ("33", "plain", "0.3")


def test_row_numbers_survive_notice_blocks_blank_lines_and_ragged_rows():
    data = (
        b"Acme Rates\n"  # one field: the widest row comes later
        b"\n"
        b"Issue date:,16/09/2026\n"
        b"Prefix,Price,Billing,Change\n"
        b"44,0.1\n"  # short row: padded with nulls
        b"49,0.2,60/1,Increase,extra,more\n"  # long row: all of it kept
    )
    got = rows(data)
    assert len(got) == 6  # row i of the frame = spreadsheet row i + 1
    assert got[0] == ("Acme Rates", None, None, None, None, None)
    assert got[1] == (None,) * 6
    assert got[3][:4] == ("Prefix", "Price", "Billing", "Change")
    assert got[4] == ("44", "0.1", None, None, None, None)
    assert got[5] == ("49", "0.2", "60/1", "Increase", "extra", "more")


def test_a_record_spanning_lines_can_be_the_widest():
    data = b'a,b\n"x\ny",1,2,3,4\n'
    assert rows(data) == [("a", "b", None, None, None), ("x\ny", "1", "2", "3", "4")]


def test_quotes_inside_unquoted_fields_do_not_crash():
    data = b'Prefix,Description,Price\n44,12" screen,0.1\n49,x"y,0.2\n'
    assert rows(data)[1:] == [("44", '12" screen', "0.1"), ("49", 'x"y', "0.2")]


def test_classic_mac_line_ends():
    assert rows(b"a,b\r1,2\r") == [("a", "b"), ("1", "2")]


def test_blank_cells_are_null_and_trailing_empty_columns_go():
    got = rows(b"a, ,c,,,\n1,2,  ,,,\n")
    assert got == [("a", None, "c"), ("1", "2", None)]


def test_empty_text_has_no_sheet():
    assert read_sheets(b"") == []
    assert read_sheets(b"\n\n,,\n") == []


def test_csv_sheet_is_named_after_the_file():
    (sheet,) = read_sheets(b"a,b\n", filename="in/acme_rates.csv")
    assert sheet.name == "acme_rates"


def test_csv_limits():
    with pytest.raises(SheetError) as caught:
        read_sheets(b"a\n" * 11, max_rows=10)
    assert caught.value.reason == "too_many_rows"
    with pytest.raises(SheetError) as caught:
        read_sheets(b",".join([b"x"] * 6) + b"\n", max_columns=5)
    assert caught.value.reason == "too_many_columns"
    assert len(read_sheets(b"a\n" * 10, max_rows=10)[0].frame) == 10


def test_csv_of_many_rows_is_read_whole():
    data = b"Prefix,Price\n" + b"".join(b"%d,0.%d\n" % (i, i) for i in range(50_000))
    frame = read_sheets(data)[0].frame
    assert frame.height == 50_001
    assert frame.row(50_000) == ("49999", "0.49999")


# --- workbooks -------------------------------------------------------------------------------


def _deck(book):
    sheet = book.active
    sheet.title = "Pricing"
    sheet["A2"] = "Acme Wholesale"  # row 1 stays blank
    sheet["A3"], sheet["B3"] = "Date Issued:", dt.datetime(2023, 5, 9, 11, 33, 1)
    sheet.append([])
    sheet.append(["Prefix", "Price", "Valid From", "Blocked", "Note", "Total"])
    sheet.append([7940.0, 0.15840000000000001, dt.datetime(2023, 5, 16), True, "0049", "=B6*2"])
    sheet.append([79407, 1 / 3, dt.date(2023, 5, 17), False, "true", None])
    sheet.append(["44", 0.1 + 0.2, None, None, "1.50", None])  # openpyxl stores "0.3"
    book.create_sheet("Empty")
    notes = book.create_sheet("Notes")
    notes["B2"] = "All prices in USD"


def test_workbook_cells_are_rendered_canonically():
    data = xlsx(
        _deck,
        patch=lambda x: x.replace("<f>B6*2</f><v />", "<f>B6*2</f><v>0.30000000000000004</v>"),
    )
    sheets = read_sheets(data)
    assert [s.name for s in sheets] == ["Pricing", "Notes"]  # the empty sheet is skipped
    got = sheets[0].frame.rows()
    assert got[0] == (None,) * 6  # the blank first row is kept: row numbers stay true
    assert got[1][0] == "Acme Wholesale"
    assert got[2][:2] == ("Date Issued:", "2023-05-09 11:33:01")
    assert got[4] == ("Prefix", "Price", "Valid From", "Blocked", "Note", "Total")
    # whole floats lose ".0"; dates are ISO; booleans 1/0; text stays text; the formula cell
    # shows its cached value, binary noise and all (shortest round trip, beyond fastexcel's
    # own 9 decimals)
    assert got[5] == ("7940", "0.1584", "2023-05-16", "1", "0049", "0.30000000000000004")
    assert got[6] == ("79407", "0.3333333333333333", "2023-05-17", "0", "true", None)
    assert got[7] == ("44", "0.3", None, None, "1.50", None)
    assert sheets[1].frame.rows() == [(None,), ("All prices in USD",)]  # from row 1, column B


def test_workbook_without_numbers_with_fractions():
    data = xlsx(lambda b: [b.active.append(r) for r in (["a", "b"], [1, "x"], [2.0, None])])
    assert rows(data) == [("a", "b"), ("1", "x"), ("2", None)]


def test_workbook_limits():
    def many(book):
        for i in range(12):
            book.active.append([i, "x"])

    with pytest.raises(SheetError) as caught:
        read_sheets(xlsx(many), max_rows=10)
    assert caught.value.reason == "too_many_rows"
    with pytest.raises(SheetError) as caught:
        read_sheets(xlsx(many), max_columns=1)
    assert caught.value.reason == "too_many_columns"
