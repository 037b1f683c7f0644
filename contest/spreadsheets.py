"""Cells of the spreadsheets the app writes, CSV and XLSX, kept as text.

An entrant types their own name and title, and a spreadsheet program reads a cell starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula (one that can fetch a
web address or run a command). Every export writes its rows through this module: in a CSV such
a cell gets a leading apostrophe, which Excel and LibreOffice show as text and hide; in an XLSX
every string cell is stored as a string, so nothing in it is ever a live formula.

XLSX files are written with xlsxwriter in its constant-memory mode (each row goes to disk as
the next one starts), through ``write_xlsx_row``: its ``write()`` would make a string starting
with ``=`` a formula, so every cell is written by its type.

defusedcsv (the maintained library for CSV) was not taken: it leaves a leading tab or carriage
return as it is, changes ``|`` inside such a value, and does nothing for XLSX.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain negative number ("-3", "-2.5") is data, not a formula, and stays as it is.
_NUMBER = re.compile(r"-?[0-9][0-9.,]*")


def is_formula_like(value: str) -> bool:
    return value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value)


def text_cell(value: Any) -> Any:
    """A CSV cell: a string a spreadsheet would read as a formula, marked as text."""
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value


class CsvWriter:
    """``csv.writer`` whose every cell goes through ``text_cell``."""

    def __init__(self, buffer: IO[str], **options: Any) -> None:
        self._writer = csv.writer(buffer, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([text_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def xlsx_text(value: str) -> str:
    """A string as an XLSX cell keeps it. A carriage return becomes a line feed, as an XML
    reader would read it anyway (xlsxwriter would otherwise store it escaped as ``_x000D_``)."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def write_xlsx_row(
    sheet: Any,
    row: int,
    values: Sequence[Any],
    formats: Mapping[int, Any] | None = None,
) -> None:
    """Row ``row`` (from 0) of an xlsxwriter sheet, each cell written by its type: a string
    always as a string, never a formula; None as nothing. ``formats`` maps a column (from 0)
    to its cell format."""
    for column, value in enumerate(values):
        style = formats.get(column) if formats else None
        if value is None or value == "":
            if style is not None:
                sheet.write_blank(row, column, None, style)
        elif isinstance(value, str):
            text = xlsx_text(value)
            if text.startswith("<r>") and text.endswith("</r>"):
                # In constant-memory mode xlsxwriter copies a string shaped like its own rich
                # text markup into the file unescaped; as rich text of plain parts it is
                # escaped like any other string.
                parts = [text[:1], text[1:2], text[2:], *([style] if style else [])]
                sheet.write_rich_string(row, column, *parts)
            else:
                sheet.write_string(row, column, text, style)
        elif isinstance(value, bool):
            sheet.write_boolean(row, column, value, style)
        elif isinstance(value, int | float):
            sheet.write_number(row, column, value, style)
        else:
            sheet.write_string(row, column, str(value), style)
