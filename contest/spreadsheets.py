"""Cells of the spreadsheets the app writes, CSV and XLSX, kept as text.

An entrant types their own name and title, and a spreadsheet program reads a cell starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula (one that can fetch a
web address or run a command). Every export writes its rows through this module: in a CSV such
a cell gets a leading apostrophe, which Excel and LibreOffice show as text and hide; in an XLSX
every string cell is stored as a string, so nothing in it is ever a live formula.

defusedcsv (the maintained library for CSV) was not taken: it leaves a leading tab or carriage
return as it is, changes ``|`` inside such a value, and does nothing for XLSX.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
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


def append_row(sheet: Any, row: Iterable[Any]) -> None:
    """``sheet.append`` with every string cell a string: openpyxl makes a value starting with
    ``=`` a formula unless told otherwise."""
    values = list(row)
    sheet.append(values)
    for column, value in enumerate(values, start=1):
        if isinstance(value, str):
            sheet.cell(sheet.max_row, column).data_type = "s"
