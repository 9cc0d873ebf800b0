"""Tables as files an organiser opens in a spreadsheet: CSV in UTF-8 with a byte order mark (Excel
then reads Korean right) and XLSX workbooks. No cell is ever run as a formula."""

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

Cell = str | int | None
# a spreadsheet runs a CSV cell that starts with one of these as a formula (CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel's limit on a sheet's name
SHEET_TITLE_CHARACTERS = 31


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    """The table as CSV in UTF-8 with a byte order mark; a text cell a spreadsheet would run as a
    formula is kept as text by a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_csv_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([_csv_cell(cell) for cell in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def xlsx_bytes(title: str, header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    """The table as a workbook of one sheet named ``title``, the header row in bold and frozen;
    numbers as numbers, and every text as text (never a formula, whatever it starts with)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _sheet_title(title)
    for row in [header, *rows]:
        sheet.append([_xlsx_cell(cell) for cell in row])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                # openpyxl would store "=..." as a formula
                cell.data_type = "s"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_cell(value: Cell) -> Cell:
    if isinstance(value, str):
        # control characters XML cannot hold (a multi-line text keeps its line breaks)
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def _sheet_title(title: str) -> str:
    # characters Excel refuses in a sheet's name
    cleaned = "".join(" " if character in "[]:*?/\\" else character for character in title).strip()
    return cleaned[:SHEET_TITLE_CHARACTERS] or "Sheet"
