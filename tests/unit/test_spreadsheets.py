"""Tables as CSV (UTF-8 with a byte order mark) and XLSX files: headers, Korean text, numbers as
numbers, and no cell run as a formula."""

import csv
import io

import openpyxl

from gateway import spreadsheets

HEADER = ["이름", "순번"]
ROWS = [["김서연", 1], ['=HYPERLINK("http://evil")', 2], ["-1+1", None], ["@risk\x01", 3]]


def test_csv_has_a_bom_a_header_and_keeps_formulas_as_text():
    body = spreadsheets.csv_bytes(HEADER, ROWS)
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0] == HEADER
    assert table[1] == ["김서연", "1"]
    assert table[2][0] == '\'=HYPERLINK("http://evil")'
    assert table[3] == ["'-1+1", ""]
    assert table[4][0].startswith("'@")


def test_xlsx_opens_with_the_header_the_rows_numbers_and_no_formula():
    body = spreadsheets.xlsx_bytes("대기자 명단: 2026/11", HEADER, ROWS)
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    assert sheet.title == "대기자 명단  2026 11"
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values == [HEADER, ["김서연", 1], ['=HYPERLINK("http://evil")', 2], ["-1+1", None], ["@risk", 3]]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row), "text, never a formula"
    assert sheet["B2"].data_type == "n" and sheet["A1"].font.bold
    assert sheet.freeze_panes == "A2"
