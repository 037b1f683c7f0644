"""The writers behind every export stream: rows a batch at a time into the caller's file, a
division longer than a sheet on a next sheet, progress after each batch, and a contest's
certificates of more than one batch in one ZIP."""

from __future__ import annotations

import csv
import io
import zipfile

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import Contest, Entrant, Event, Prize
from contest.progress import Progress, no_progress
from contest.results import certificates, exports
from contest.results.certificates import NoCertificatesError, write_certificates
from contest.results.downloads import MEDIA_TYPES, ExportInfo
from contest.results.exports import (
    ExportFormatError,
    ExportNotFoundError,
    write_report_export,
    write_results_export,
)
from tests.results import support
from tests.results.support import Row, bearer, make_results
from tests.results.test_exports import writing_results
from tests.support import WRITING, vi

Calls = list[tuple[int, int]]


def recorder() -> tuple[Calls, Progress]:
    calls: Calls = []

    async def progress(done: int, total: int) -> None:
        calls.append((done, total))

    return calls, progress


async def _contest_id(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        found = await session.scalar(select(Contest.id).where(Contest.slug == WRITING))
    assert found is not None
    return found


async def _export(
    sessionmaker: async_sessionmaker[AsyncSession],
    fmt: str,
    progress: Progress = no_progress,
) -> tuple[bytes, ExportInfo]:
    out = io.BytesIO()
    async with sessionmaker() as session:
        info = await write_results_export(
            session,
            contest_id=await _contest_id(sessionmaker),
            fmt=fmt,
            out=out,
            locale="vi",
            progress=progress,
        )
    return out.getvalue(), info


def _sheets(data: bytes) -> dict[str, list[list[object]]]:
    book = load_workbook(io.BytesIO(data))
    return {s.title: [list(r) for r in s.iter_rows(values_only=True)] for s in book.worksheets}


def _people(rows: list[list[object]]) -> list[list[object]]:
    """A sheet's result rows: below the headers, with a rank."""
    return [row for row in rows[4:] if isinstance(row[0], int)]


async def test_a_division_longer_than_a_sheet_goes_on_in_a_next_sheet_with_its_headers(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await writing_results(sessionmaker)
    whole = _sheets((await _export(sessionmaker, "xlsx"))[0])
    # Room for the 4 heading rows, 2 results and the 6 rows of totals.
    monkeypatch.setattr(exports, "SHEET_ROW_LIMIT", 12)

    split = _sheets((await _export(sessionmaker, "xlsx"))[0])

    assert list(whole) == ["Tiểu học", "Trung học cơ sở", "Cộng đồng"]
    assert list(split) == ["Tiểu học", "Tiểu học (2)", "Trung học cơ sở", "Cộng đồng"]
    first, rest = split["Tiểu học"], split["Tiểu học (2)"]
    assert all(len(rows) <= 12 for rows in split.values())
    assert first[:4] == rest[:4] == whole["Tiểu học"][:4]
    assert _people(first) + _people(rest) == _people(whole["Tiểu học"])
    assert len(_people(first)) == 2 and len(_people(rest)) == 1
    # The totals, for the whole division, close its last sheet only.
    assert [r[:2] for r in rest[-5:]] == [r[:2] for r in whole["Tiểu học"][-5:]]
    assert rest[-5][:2] == [vi("Total entries"), 3]
    assert vi("Total entries") not in [r[0] for r in first]
    assert split["Trung học cơ sở"] == whole["Trung học cơ sở"]


async def test_batches_write_the_same_rows_as_one_read_and_report_progress(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await writing_results(sessionmaker)
    whole_xlsx, _info = await _export(sessionmaker, "xlsx")
    whole_csv, _info = await _export(sessionmaker, "csv")
    monkeypatch.setattr(exports, "EXPORT_BATCH", 2)
    calls, progress = recorder()

    xlsx, info = await _export(sessionmaker, "xlsx", progress)
    csv_data, csv_info = await _export(sessionmaker, "csv")

    assert calls == [(2, 5), (4, 5), (5, 5)]
    assert info == ExportInfo("viet-ve-cuon-sach-em-yeu-results.xlsx", MEDIA_TYPES["xlsx"], 5)
    assert csv_info.rows == 5 and csv_info.media_type == "text/csv; charset=utf-8"
    assert csv_data == whole_csv
    assert _sheets(xlsx) == _sheets(whole_xlsx)
    # The two formats carry the same rows.
    table = list(csv.reader(io.StringIO(csv_data.decode("utf-8-sig"))))
    in_csv = [row[0:4] for row in table[1:] if row[1].isdigit()]
    in_xlsx = [
        [name, str(row[0]), row[1], row[2]]
        for name, rows in _sheets(xlsx).items()
        for row in _people(rows)
    ]
    assert in_csv == in_xlsx and len(in_csv) == 5


async def test_a_name_shaped_like_xlsx_markup_is_kept_as_text(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    made = await writing_results(sessionmaker)
    markup = '<r><t>x</t></r><c t="str"><f>1+1</f></c>'
    async with sessionmaker() as session:
        await session.execute(update(Entrant).values(full_name=markup))
        await session.commit()

    data, info = await _export(sessionmaker, "xlsx")

    names = [row[2] for rows in _sheets(data).values() for row in _people(rows)]
    assert names == [markup] * len(made) == [markup] * info.rows


async def test_a_bad_format_or_contest_writes_nothing(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await writing_results(sessionmaker)
    out = io.BytesIO()
    async with sessionmaker() as session:
        event_id = await session.scalar(select(Event.id))
        assert event_id is not None
        with pytest.raises(ExportFormatError) as refused:
            await write_results_export(
                session, contest_id=await _contest_id(sessionmaker), fmt="ods", out=out
            )
        assert refused.value.status_code == 422
        assert refused.value.message == vi("Choose one of the formats: xlsx, csv.")
        with pytest.raises(ExportFormatError):
            await write_report_export(session, event_id=event_id, fmt="csv", out=out)
        with pytest.raises(ExportNotFoundError):
            await write_results_export(session, contest_id=999_999, fmt="csv", out=out)
        with pytest.raises(ExportNotFoundError):
            await write_report_export(session, event_id=999_999, fmt="xlsx", out=out)
    assert out.getvalue() == b""


async def test_the_report_writer_reports_its_two_steps(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await writing_results(sessionmaker)
    calls, progress = recorder()
    out = io.BytesIO()
    async with sessionmaker() as session:
        event_id = await session.scalar(select(Event.id))
        assert event_id is not None
        info = await write_report_export(
            session, event_id=event_id, fmt="xlsx", out=out, progress=progress
        )
    assert calls == [(0, 2), (1, 2), (2, 2)]
    assert info.filename.startswith("report-") and info.filename.endswith(".xlsx")
    # Every submitted entry: the demo's three and the four new ones of the writing results.
    assert info.rows == 7
    assert len(load_workbook(io.BytesIO(out.getvalue())).sheetnames) == 5


async def test_certificates_of_more_than_one_batch_land_in_one_zip_with_every_one(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await writing_results(sessionmaker)  # three winners in the writing contest
    (third,) = await make_results(sessionmaker, [Row("DEMD-R8P4", 1, 9.0, Prize.FIRST)])
    contest_id = ids[0].contest_id
    monkeypatch.setattr(certificates, "CERTIFICATES_PER_BATCH", 1)
    calls, progress = recorder()
    out = io.BytesIO()

    async with sessionmaker() as session:
        info = await write_certificates(
            session,
            base_url="http://testserver",
            out=out,
            contest_id=contest_id,
            locale="vi",
            progress=progress,
        )

    assert info == ExportInfo("viet-ve-cuon-sach-em-yeu-certificates.zip", "application/zip", 3)
    assert calls == [(1, 3), (2, 3), (3, 3)]
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        names = archive.namelist()
        parts = [archive.read(name) for name in names]
    assert names == [
        "viet-ve-cuon-sach-em-yeu-certificates-000001-000001.pdf",
        "viet-ve-cuon-sach-em-yeu-certificates-000002-000002.pdf",
        "viet-ve-cuon-sach-em-yeu-certificates-000003-000003.pdf",
    ]
    pages = [support.pdf_pages(part) for part in parts]
    assert [len(p) for p in pages] == [1, 1, 1]
    # Hand-out order: by division, then prize; lower secondary after primary.
    assert "Nguyễn Minh Anh" in pages[0][0] and "Giải Nhất" in pages[0][0]
    assert "Học sinh 0" in pages[1][0] and "Giải Nhì" in pages[1][0]
    assert "Học sinh 2" in pages[2][0] and "Giải Nhất" in pages[2][0]
    serials = [r.certificate_serial for r in ids if r.prize is not None]
    assert [support.pdf_qr_codes(part)[0] for part in parts] == [
        [f"http://testserver/verify/{serial}"] for serial in serials
    ]
    assert third.contest_id != contest_id


async def test_no_winner_no_certificate_file(
    demo: DemoReport, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    made = await writing_results(sessionmaker, published=False)
    out = io.BytesIO()
    async with sessionmaker() as session:
        for which in ({"contest_id": made[0].contest_id}, {"result_id": made[1].id}):
            with pytest.raises(NoCertificatesError) as refused:
                await write_certificates(session, base_url="http://x", out=out, **which)
            assert refused.value.status_code == 404
        with pytest.raises(ValueError):
            await write_certificates(session, base_url="http://x", out=out)
    assert out.getvalue() == b""


async def test_a_download_streams_the_writers_file_with_its_length(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = await writing_results(sessionmaker)
    client.headers.update(await bearer(sessionmaker))
    monkeypatch.setattr(certificates, "CERTIFICATES_PER_BATCH", 2)

    response = await client.get(f"/admin/contests/{made[0].contest_id}/certificates.pdf")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert (
        'filename="viet-ve-cuon-sach-em-yeu-certificates.zip"'
        in (response.headers["content-disposition"])
    )
    assert response.headers["cache-control"] == "no-store"
    assert int(response.headers["content-length"]) == len(response.content)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        pages = [len(support.pdf_pages(archive.read(name))) for name in archive.namelist()]
    assert pages == [2, 1]
