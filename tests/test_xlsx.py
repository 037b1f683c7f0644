"""The streamed workbook reads back, in openpyxl, exactly as the same cells written by
xlsxwriter (the app's other writer) do: values, types, formats, widths and frozen rows."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import pytest
import xlsxwriter  # type: ignore[import-untyped, unused-ignore]
from openpyxl import load_workbook

from contest import xlsx
from contest.spreadsheets import write_xlsx_row

ROWS: list[list[Any]] = [
    [1, "AB12-CD34", "Nguyễn Thị Mai", "Lớp 5A", "Trường Tiểu học Bạch Sam", 10, None, 12.5],
    [2, '=HYPERLINK("http://x")', " leading space", "trailing ", "a & b < c > d", 0, -3, 7.0],
    [3, "<r>rich</r>", "tab\tinside", "line\r\nbreak", "cr\ronly", 1.25, "", None],
    [4, "control \x01 \x1f", "_x0041_ literal", "\ufffe", "Ý kiến “trích dẫn”", 1e20, 2**40, 0.1],
    [5, True, False, "@SUM(A1)", "+1", "-2", "-x", 3.14159265358979],
]
WIDTHS = (8, 12, 26, 14, 30, 6, 6, 10)
SCORE_COLUMN = 7


def _reference() -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True})
    book.set_properties({"title": "Kết quả", "author": "Ban tổ chức"})
    title = book.add_format({"bold": True, "font_size": 14})
    bold = book.add_format({"bold": True})
    score = book.add_format({"num_format": "0.00"})
    for name in ("Bảng A", "Bảng B"):
        sheet = book.add_worksheet(name)
        write_xlsx_row(sheet, 0, ["Tiêu đề"], {0: title})
        write_xlsx_row(sheet, 3, ["Hạng", "Mã"], {0: bold, 1: bold})
        for number, row in enumerate(ROWS):
            write_xlsx_row(sheet, 4 + number, row, {SCORE_COLUMN: score})
        write_xlsx_row(sheet, 10, ["Tổng", len(ROWS)], {0: bold})
        for column, width in enumerate(WIDTHS):
            sheet.set_column(column, column, width)
        sheet.freeze_panes(4, 0)
    book.close()
    return out.getvalue()


def _streamed() -> bytes:
    out = io.BytesIO()
    book = xlsx.StreamedBook(
        out, title="Kết quả", author="Ban tổ chức", created=datetime(2026, 10, 7, 8, 30)
    )
    styles = (xlsx.PLAIN,) * SCORE_COLUMN + (xlsx.SCORE,)
    for name in ("Bảng A", "Bảng B"):
        sheet = book.add_sheet(name, widths=WIDTHS, freeze_rows=4)
        sheet.row(0, ["Tiêu đề"], (xlsx.TITLE,))
        sheet.row(3, ["Hạng", "Mã"], (xlsx.BOLD, xlsx.BOLD))
        sheet.rows(4, ROWS[:2], styles)
        for number, row in enumerate(ROWS[2:], start=6):
            sheet.row(number, row, styles)
        sheet.row(10, ["Tổng", len(ROWS)], (xlsx.BOLD,))
    book.close()
    return out.getvalue()


def _cells(data: bytes) -> list[list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(data))
    return [
        [
            (c.coordinate, c.value, type(c.value), c.number_format, c.font.b, c.font.sz)
            for row in sheet.iter_rows()
            for c in row
        ]
        for sheet in book.worksheets
    ]


def test_the_streamed_workbook_reads_as_xlsxwriters_cell_for_cell() -> None:
    assert _cells(_streamed()) == _cells(_reference())


def test_sheet_names_title_author_widths_and_frozen_rows() -> None:
    streamed, reference = (load_workbook(io.BytesIO(d)) for d in (_streamed(), _reference()))
    assert streamed.sheetnames == reference.sheetnames == ["Bảng A", "Bảng B"]
    assert streamed.properties.title == "Kết quả"
    assert streamed.properties.creator == "Ban tổ chức"
    for ours, theirs in zip(streamed.worksheets, reference.worksheets, strict=True):
        assert ours.freeze_panes == theirs.freeze_panes == "A5"
        # Excel's widths carry its padding; xlsxwriter joins equal neighbours into one range.
        assert [ours.column_dimensions[x].width for x in "ABCDEFGH"] == [
            w + 0.7109375 for w in WIDTHS
        ]
        assert theirs.column_dimensions["A"].width == WIDTHS[0] + 0.7109375


def test_the_sheets_say_the_range_they_fill_as_read_only_readers_need() -> None:
    book = load_workbook(io.BytesIO(_streamed()), read_only=True)
    for sheet in book.worksheets:
        assert (sheet.max_row, sheet.max_column) == (11, len(ROWS[0]))
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[4] == tuple(ROWS[0])


def test_a_string_is_never_a_formula() -> None:
    book = load_workbook(io.BytesIO(_streamed()))
    values = [c.value for row in book.worksheets[0].iter_rows() for c in row]
    assert '=HYPERLINK("http://x")' in values
    assert all(c.data_type != "f" for row in book.worksheets[0].iter_rows() for c in row)


@pytest.mark.parametrize(("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ")])
def test_column_letters(index: int, letters: str) -> None:
    assert xlsx.column_letters(index) == letters
