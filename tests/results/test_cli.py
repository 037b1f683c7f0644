"""``contest export …``: the same files from the command line, written whole, with a bar."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import Prize
from contest.results.cli import (
    ExportCommandError,
    ProgressBar,
    export_certificates,
    export_report,
    export_results,
)
from contest.settings import Settings
from tests.results.support import Row, make_results, pdf_pages, pdf_qr_codes
from tests.support import WRITING, make_entries, vi


def pdfs_under(folder: Path) -> list[Path]:
    return list(folder.glob("**/*.pdf"))


def test_the_progress_bar_grows_on_one_line() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, "Certificates", width=10)
    for done in range(1, 101):
        bar(done, 100)
    drawn = stream.getvalue()
    assert drawn.startswith("\rCertificates [..........] 1/100\rCertificates [#.........] 10/100")
    assert drawn.endswith("\rCertificates [##########] 100/100\n")
    assert drawn.count("\r") == 11  # redrawn as it grows, not for every item
    ProgressBar(None, "quiet")(1, 2)


async def test_export_commands_write_results_report_and_certificates(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    tmp_path: Path,
) -> None:
    (pupil,) = await make_entries(sessionmaker, WRITING, ages=[7], unit_code="th-bach-sam-3a")
    made = await make_results(
        sessionmaker,
        [Row("DEMV-W7K3", 1, 9.0, Prize.FIRST), Row(pupil, 2, 8.0, Prize.THIRD)],
    )
    bar = io.StringIO()

    message = await asyncio.to_thread(
        export_results, settings, WRITING, tmp_path / "results.xlsx", "xlsx", progress=bar
    )
    assert str(tmp_path / "results.xlsx") in message
    sheet = load_workbook(tmp_path / "results.xlsx").worksheets[0]
    assert [r[2] for r in sheet.iter_rows(min_row=5, max_row=6, values_only=True)] == [
        "Nguyễn Minh Anh",
        "Học sinh 0",
    ]
    assert bar.getvalue().endswith("2/2\n")

    await asyncio.to_thread(
        export_results, settings, WRITING, tmp_path / "results.csv", "csv", progress=None
    )
    text = (tmp_path / "results.csv").read_bytes().decode("utf-8-sig")
    assert next(csv.reader(io.StringIO(text)))[0] == vi("Division")

    for fmt in ("xlsx", "pdf", "html"):
        await asyncio.to_thread(
            export_report, settings, tmp_path / f"report.{fmt}", fmt, progress=None
        )
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and 'class="bar w-100"' in html
    assert "Trường Tiểu học Bạch Sam" in html and "url_for" not in html
    assert pdf_pages((tmp_path / "report.pdf").read_bytes())
    assert load_workbook(tmp_path / "report.xlsx").sheetnames

    bar = io.StringIO()
    message = await asyncio.to_thread(
        export_certificates,
        settings,
        unit_code="th-bach-sam",
        path=tmp_path / "school.pdf",
        progress=bar,
    )
    data = (tmp_path / "school.pdf").read_bytes()
    assert [("Nguyễn Minh Anh" in p, "Học sinh 0" in p) for p in pdf_pages(data)] == [
        (True, False),
        (False, True),
    ]
    assert pdf_qr_codes(data)[1] == [f"http://testserver/verify/{made[1].certificate_serial}"]
    assert bar.getvalue().endswith("2/2\n")
    await asyncio.to_thread(
        export_certificates, settings, contest_slug=WRITING, path=tmp_path / "all.pdf"
    )
    assert len(pdf_pages((tmp_path / "all.pdf").read_bytes())) == 2


async def test_export_commands_explain_what_is_wrong(
    demo: DemoReport, settings: Settings, tmp_path: Path
) -> None:
    target = tmp_path / "out.pdf"
    with pytest.raises(ExportCommandError, match=vi("There is no contest %(slug)s.", slug="x")):
        await asyncio.to_thread(export_results, settings, "x", target, "xlsx", progress=None)
    with pytest.raises(ExportCommandError):
        await asyncio.to_thread(export_results, settings, WRITING, target, "ods", progress=None)
    with pytest.raises(ExportCommandError, match=vi("There is no unit %(code)s.", code="nope")):
        await asyncio.to_thread(export_certificates, settings, unit_code="nope", path=target)
    with pytest.raises(ExportCommandError):
        await asyncio.to_thread(export_certificates, settings, path=target)
    # Nothing is published: no certificates, and no file left behind.
    with pytest.raises(
        ExportCommandError, match=vi("There are no published prize winners here yet.")
    ):
        await asyncio.to_thread(export_certificates, settings, contest_slug=WRITING, path=target)
    with pytest.raises(ExportCommandError):
        await asyncio.to_thread(
            export_report, settings, tmp_path / "missing" / "r.pdf", "pdf", progress=None
        )
    assert pdfs_under(tmp_path) == []
