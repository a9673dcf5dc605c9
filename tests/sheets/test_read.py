"""docs/reading.md#files: bytes → sheets of string cells, whatever the encoding, delimiter or
workbook."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import fastexcel
import openpyxl
import pytest
import xlwt
from hypothesis import given, settings
from hypothesis import strategies as st
from rig.hostile import (
    ods_cell,
    ods_row,
    ods_workbook,
    xls_with,
    xlsb_workbook,
    xlsx_rows,
)

from ingestd.errors import SheetError
from ingestd.sheets.biff_extent import XlsbRecords
from ingestd.sheets.filetype import detect_format
from ingestd.sheets.ods_extent import MAX_ODS_CELLS, OdsExtent
from ingestd.sheets.read import read_sheets
from ingestd.sheets.sheet_extent import SheetExtent
from ingestd.sheets.text_file import sniff_delimiter
from ingestd.sheets.workbook_limits import check_workbook


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


# --- workbooks measured before they are read ---------------------------------------------------


_ROWS = MAX_ODS_CELLS // 10 + 1  # rows of 10 cells just past the limit
# (pattern, reason): each spans more than the ODS limit only through its repeats
ODS_PATTERNS = {
    "rows repeated": ([("S", ods_row(ods_cell("x") * 10, _ROWS))], "too_many_cells"),
    "cells repeated in repeated rows": (
        [("S", ods_row(ods_cell("x", 10), _ROWS))], "too_many_cells",
    ),
    "cells repeated past the column limit": (
        [("S", ods_row(ods_cell("x", 201)))], "too_many_columns",
    ),
    "rows repeated past the row limit": (
        [("S", ods_row(ods_cell("x"), 2_000_001))], "too_many_rows",
    ),
    "empty rows repeated between values": (
        [("S", ods_row(ods_cell("x", 10)) + ods_row(ods_cell(None, 10), _ROWS) + ods_row(
            ods_cell("x")))], "too_many_cells",
    ),
    "empty cells repeated before a value": (
        [("S", ods_row(ods_cell(None, 150) + ods_cell("x"), _ROWS // 10))], "too_many_cells",
    ),
    "covered cells repeated": (
        [("S", ods_row(ods_cell("x") + ods_cell("y", 9, covered=True), _ROWS))],
        "too_many_cells",
    ),
    "in the second of several tables": (
        [("Fine", ods_row(ods_cell("x") * 3, 5)), ("Bad", ods_row(ods_cell("x", 20), _ROWS))],
        "too_many_cells",
    ),
    "rows in row groups and header rows": (
        [("S", "<table:table-header-rows>" + ods_row(ods_cell("h", 10))
          + "</table:table-header-rows><table:table-row-group>"
          + ods_row(ods_cell("x", 10), _ROWS) + "</table:table-row-group>")],
        "too_many_cells",
    ),
}  # fmt: skip


@pytest.mark.parametrize("pattern", list(ODS_PATTERNS))
def test_an_ods_spanning_more_than_the_limits_is_refused_before_it_is_read(pattern):
    tables, reason = ODS_PATTERNS[pattern]
    with pytest.raises(SheetError) as refused:
        check_workbook(ods_workbook(*tables), max_rows=2_000_000, max_columns=200)
    assert refused.value.reason == reason


def test_a_libreoffice_ods_with_its_million_empty_rows_is_read():
    """LibreOffice ends a table with its empty rows and columns repeated to the sheet's end:
    they cost the reader nothing and are not counted."""
    rows = ods_row(ods_cell("Prefix") + ods_cell("Rate")) + ods_row(
        ods_cell("44") + ods_cell("0.1")
    )
    tail = ods_row(ods_cell(None, 1022)) + ods_row(ods_cell(None, 1024), 1_048_574)
    data = ods_workbook(
        ("Rates", rows + tail), ("Sheet2", ods_row(ods_cell(None, 1024), 1_048_576))
    )
    assert rows_of(data) == [("Prefix", "Rate"), ("44", "0.1")]


def rows_of(data: bytes) -> list[tuple]:
    (sheet,) = read_sheets(data)
    return sheet.frame.rows()


_cells = st.tuples(st.sampled_from(["x", None]), st.integers(1, 6), st.booleans())
_rows = st.tuples(st.lists(_cells, max_size=4), st.integers(1, 5))


@settings(max_examples=100, deadline=None)
@given(
    tables=st.lists(st.lists(_rows, max_size=5), min_size=1, max_size=3),
    chunk=st.sampled_from([1 << 20, 7, 64, 333]),
)
def test_the_ods_measure_is_never_below_what_the_reader_holds(tables, chunk):
    """Any mix of repeated rows and (covered) cells, in several tables: the measure of each
    table covers the rows and columns the reader gives (it may count more, never less), however
    the part's bytes arrive."""
    built = [
        (f"T{i}", "".join(ods_row("".join(ods_cell(t, n, covered=c) for t, n, c in cells), times)
                          for cells, times in rows))
        for i, rows in enumerate(tables)
    ]  # fmt: skip
    data = ods_workbook(*built)
    measured = []

    class Recording(OdsExtent):
        def _table(self, attrs):
            if hasattr(self, "table"):
                measured.append((self.last, self.width))
            super()._table(attrs)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        extent = Recording(2_000_000, 200, 32_767)
        content = archive.read("content.xml")
        for start in range(0, len(content), chunk):
            extent.feed(content[start : start + chunk])
        extent.close()
    measured.append((extent.last, extent.width))
    measured = measured[1:]  # the first entry is the state before any table
    reader = fastexcel.read_excel(data)
    for name, (last, width) in zip(reader.sheet_names, measured, strict=True):
        sheet = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
        frame = sheet.to_polars()
        columns = sheet.selected_columns
        right = columns[-1].absolute_index + 1 if columns else 0
        assert frame.height <= last and right <= width, (name, frame.height, right, last, width)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (xls_with(65535, 16383), "too_many_columns"),
        (xls_with(2, 2, dimensions=(2**32 - 16, 65535)), "too_many_cells"),
    ],
    ids=["cell in column 16384", "DIMENSIONS lie"],
)
def test_a_legacy_xls_beyond_the_limits_is_refused_before_it_is_read(data, reason):
    with pytest.raises(SheetError) as refused:
        check_workbook(data, max_rows=2_000_000, max_columns=200)
    assert refused.value.reason == reason


XLSX_PATTERNS = {
    "a row numbered past the row limit": (
        b'<row r="2"><c r="Z2"><v>1</v></c></row><row r="2000001"><c><v>1</v></c></row>',
        "too_many_rows",
    ),
    "a row numbered far, its cells without references": (
        b'<row r="2"><c r="Z2"><v>1</v></c></row><row r="1999999"><c><v>1</v></c></row>',
        "too_many_cells",
    ),
    "a row of cells without references past the column limit": (
        b'<row r="2">' + b"<c><v>1</v></c>" * 300 + b"</row>",
        "too_many_columns",
    ),
    "cells without references after a far one": (
        b'<row r="999999"><c r="GR999999"><v>1</v></c>' + b"<c><v>1</v></c>" * 10 + b"</row>",
        "too_many_columns",
    ),
    "the reference after other attributes": (
        b'<row r="1999999"><c t="n" r="Z1999999"><v>1</v></c><c s="0"><v>1</v></c></row>',
        "too_many_cells",
    ),
}


@pytest.mark.parametrize("pattern", list(XLSX_PATTERNS))
def test_an_xlsx_whose_rows_place_cells_beyond_the_limits_is_refused_before_it_is_read(pattern):
    rows, reason = XLSX_PATTERNS[pattern]
    with pytest.raises(SheetError) as refused:
        check_workbook(xlsx_rows(rows), max_rows=2_000_000, max_columns=200)
    assert refused.value.reason == reason


def test_an_xlsx_whose_cells_have_no_references_is_read():
    rows = b"".join(
        b'<row><c t="inlineStr"><is><t>%d</t></is></c><c><v>0.5</v></c></row>' % n for n in (44, 45)
    )
    assert rows_of(xlsx_rows(rows)) == [("Prefix", None), ("44", "0.5"), ("45", "0.5")]


def test_a_legacy_xls_with_a_formatted_blank_far_away_is_read():
    assert rows_of(xls_with(1, 1))[:2] == [("Prefix", None), (None, "far")]


# --- cells longer than the limit ----------------------------------------------------------------


def _long_xlsx(text: str) -> bytes:
    return xlsx(
        lambda b: b.active.append(["Prefix", "Destination"]) or b.active.append(["44", text])
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda t: f'Prefix,Destination\r\n44,"{t[:50]}\n{t[50:]}"\r\n'.encode(),  # quoted, 2 lines
        _long_xlsx,
        lambda t: ods_workbook(
            ("S", ods_row(ods_cell("Prefix")) + ods_row(ods_cell("44") + ods_cell(t)))
        ),
    ],
    ids=["csv", "xlsx", "ods"],
)
def test_a_cell_longer_than_the_limit_refuses_its_sheet(build):
    with pytest.raises(SheetError) as refused:
        read_sheets(build("y" * 101), max_cell_size=100)
    assert refused.value.reason == "cell_too_large"
    assert "row 2" in str(refused.value) and "more than 100" in str(refused.value)
    assert rows_of(build("y" * 99))[1][1].replace("\n", "") == "y" * 99


def test_an_xls_cell_longer_than_the_limit_refuses_its_sheet():
    book = xlwt.Workbook()
    sheet = book.add_sheet("Rates")
    sheet.write(0, 0, "Prefix")
    sheet.write(1, 0, "y" * 300)
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(SheetError) as refused:
        read_sheets(out.getvalue(), max_cell_size=200)
    assert refused.value.reason == "cell_too_large"


def test_runs_of_spaces_are_counted_before_the_reader_writes_them_out():
    spaces = ods_cell('<text:s text:c="2000000000"/>')
    with pytest.raises(SheetError) as refused:
        check_workbook(ods_workbook(("S", ods_row(spaces))), max_rows=10, max_columns=10)
    assert refused.value.reason == "cell_too_large"


@pytest.mark.parametrize(
    "text",
    [
        'Prefix,Destination\r\n44,ab"c' + "y" * 200_000 + "\r\n",  # one line, quotes inside
        'Prefix,Destination\r\n44,ab"c\r\n45,"' + "y\n" * 100_000 + "\r\n",  # never closed
    ],
    ids=["quote inside a field", "quote left open"],
)
def test_a_csv_field_beyond_the_csv_modules_limit_is_a_cell_too_large(text):
    with pytest.raises(SheetError) as refused:
        read_sheets(text.encode())
    assert refused.value.reason == "cell_too_large"


@pytest.mark.parametrize(
    "data",
    [
        xlsx_rows(
            b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
            + b"y" * 3_000_000
            + b"</t></is></c></row>"
        ),
        ods_workbook(("S", ods_row(ods_cell("y" * 3_000_000)))),
    ],
    ids=["xlsx", "ods"],
)
def test_a_cell_of_megabytes_is_refused_while_its_part_inflates(data):
    with pytest.raises(SheetError) as refused:
        check_workbook(data, max_rows=10, max_columns=10)
    assert refused.value.reason == "cell_too_large"


def test_an_xlsb_is_read_and_one_with_a_far_cell_refused_before_it_is_read():
    cells = [(0, 0, "Prefix"), (0, 1, "Rate"), (1, 0, "44"), (1, 1, 0.1)]
    assert rows_of(xlsb_workbook(cells)) == [("Prefix", "Rate"), ("44", "0.1")]
    for far, reason in (
        ((2, 16_383, 1.0), "too_many_columns"),
        ((2, 2**24, 1.0), "too_many_columns"),
    ):
        with pytest.raises(SheetError) as refused:
            check_workbook(xlsb_workbook([*cells, far]), max_rows=2_000_000, max_columns=200)
        assert refused.value.reason == reason


@pytest.mark.parametrize("chunk", [1, 3, 7, 100])
def test_xlsb_records_are_measured_however_the_part_arrives(chunk):
    cells = [(r, c, f"v{r}" * (r % 5) if c % 2 else float(r)) for r in range(40) for c in (0, 3, 7)]
    cells.append((41, 130, 1.0))
    with zipfile.ZipFile(io.BytesIO(xlsb_workbook(cells))) as archive:
        part = archive.read("xl/worksheets/sheet1.bin")
    extent = SheetExtent("s", columns=0, rows=0)
    records = XlsbRecords(extent)
    for start in range(0, len(part), chunk):
        records.feed(part[start : start + chunk])
    assert (extent.rows, extent.columns) == (42, 131)
