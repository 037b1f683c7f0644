"""Results as XLSX and CSV: rank order, names, prizes and totals; a draft says so."""

from __future__ import annotations

import csv
import io

import httpx
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Route

from contest.demo import DemoReport
from contest.labels import PRIZES
from contest.models import Prize, Result, Role, Unit
from contest.results.routes import routes
from tests.results.support import PUBLISHED_DAY, Row, bearer, make_results
from tests.support import WRITING, make_entries, vi

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def writing_results(
    sessionmaker: async_sessionmaker[AsyncSession], *, published: bool = True
) -> list[Result]:
    """Primary (the demo's Nguyễn Minh Anh and pupils of 7 and 8) and lower secondary (12, 13)."""
    seven, eight, twelve, thirteen = await make_entries(sessionmaker, WRITING, ages=[7, 8, 12, 13])
    return await make_results(
        sessionmaker,
        [
            Row(eight, 3, 6.5),
            Row("DEMV-W7K3", 1, 9.25, Prize.FIRST),
            Row(seven, 2, 8.0, Prize.SECOND),
            Row(thirteen, 2, 7.0),
            Row(twelve, 1, 8.5, Prize.FIRST),
        ],
        published=published,
    )


async def exported(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    *,
    published: bool = True,
) -> httpx.Response:
    """The writing results' export ``name``, fetched by an organiser over the API."""
    made = await writing_results(sessionmaker, published=published)
    client.headers.update(await bearer(sessionmaker))
    return await client.get(f"/admin/contests/{made[0].contest_id}/export/{name}")


def totals(*, entries: int, first: int = 0, second: int = 0) -> list[list[object]]:
    return [
        [vi("Total entries"), entries],
        [vi(PRIZES[Prize.FIRST]), first],
        [vi(PRIZES[Prize.SECOND]), second],
        [vi(PRIZES[Prize.THIRD]), 0],
        [vi(PRIZES[Prize.HONOURABLE]), 0],
    ]


async def test_results_as_xlsx_one_sheet_per_division_in_rank_order_with_totals(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    response = await exported(client, sessionmaker, "results.xlsx")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert (
        'filename="viet-ve-cuon-sach-em-yeu-results.xlsx"'
        in (response.headers["content-disposition"])
    )
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Tiểu học", "Trung học cơ sở", "Cộng đồng"]
    primary = [list(row) for row in book["Tiểu học"].iter_rows(values_only=True)]
    title = vi("Results: %(contest)s", contest="Viết về cuốn sách em yêu")
    assert primary[0][0] == f"{title} · Tiểu học"
    assert PUBLISHED_DAY in primary[1][0]
    assert primary[3][:3] == [vi("Rank"), vi("Receipt code"), vi("Full name")]
    assert primary[3][-2:] == [vi("Prize"), vi("Name in public")]
    people = primary[4:7]
    assert [(r[0], r[1], r[2], r[9], r[12]) for r in people] == [
        (1, "DEMV-W7K3", "Nguyễn Minh Anh", 9.25, "Giải Nhất"),
        (2, people[1][1], "Học sinh 0", 8.0, "Giải Nhì"),
        (3, people[2][1], "Học sinh 1", 6.5, None),
    ]
    # The unit, its school, age, grade, book, title, the plain mean and the judges.
    assert people[0][3:9] == [
        "Lớp 5A",
        "Trường Tiểu học Bạch Sam",
        10,
        5,
        "Dế Mèn phiêu lưu ký – Tô Hoài",
        "Chú Dế Mèn và bài học về lòng dũng cảm",
    ]
    assert people[0][10:12] == [9.0, 3]
    # What the public may be told: the name as each consented (initials, here).
    assert [r[13] for r in people] == ["N. M. A.", "H. S. 0.", "H. S. 1."]
    assert primary[7] == [None] * len(primary[7])
    assert [row[:2] for row in primary[8:]] == totals(entries=3, first=1, second=1)

    secondary = [list(row) for row in book["Trung học cơ sở"].iter_rows(values_only=True)]
    assert [(r[0], r[2]) for r in secondary[4:6]] == [(1, "Học sinh 2"), (2, "Học sinh 3")]
    assert [row[:2] for row in secondary[7:]] == totals(entries=2, first=1)
    community = [list(row) for row in book["Cộng đồng"].iter_rows(values_only=True)]
    assert [row[:2] for row in community[5:]] == totals(entries=0)


async def test_an_export_before_publication_is_a_draft(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    response = await exported(client, sessionmaker, "results.xlsx", published=False)

    assert response.status_code == 200
    assert "draft-results.xlsx" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    first = book.worksheets[0]
    assert vi("DRAFT, preliminary results not yet published") in first["A1"].value
    assert vi("DRAFT, preliminary results not yet published") in book.properties.title
    assert [row[2] for row in first.iter_rows(min_row=5, max_row=7, values_only=True)] == [
        "Nguyễn Minh Anh",
        "Học sinh 0",
        "Học sinh 1",
    ]


async def test_results_as_csv_with_a_byte_order_mark(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    response = await exported(client, sessionmaker, "results.csv")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == [vi("Division"), vi("Rank"), vi("Receipt code"), vi("Full name")]
    people = [row for row in rows[1:] if row[1].isdigit()]
    assert [(r[0], r[1], r[3], r[13]) for r in people] == [
        ("Tiểu học", "1", "Nguyễn Minh Anh", "Giải Nhất"),
        ("Tiểu học", "2", "Học sinh 0", "Giải Nhì"),
        ("Tiểu học", "3", "Học sinh 1", ""),
        ("Trung học cơ sở", "1", "Học sinh 2", "Giải Nhất"),
        ("Trung học cơ sở", "2", "Học sinh 3", ""),
    ]
    assert people[0][11] == "9.0" and people[0][12] == "3"
    summary = [(r[0], r[1], r[2]) for r in rows[1:] if not r[1].isdigit()]
    assert summary[:5] == [
        ("Tiểu học", vi("Total entries"), "3"),
        ("Tiểu học", "Giải Nhất", "1"),
        ("Tiểu học", "Giải Nhì", "1"),
        ("Tiểu học", vi(PRIZES[Prize.THIRD]), "0"),
        ("Tiểu học", vi(PRIZES[Prize.HONOURABLE]), "0"),
    ]
    assert ("Trung học cơ sở", vi("Total entries"), "2") in summary
    assert ("Cộng đồng", vi("Total entries"), "0") in summary


async def test_exports_are_for_organisers_only(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    made = await writing_results(sessionmaker)
    async with sessionmaker() as session:
        unit_id = await session.scalar(select(Unit.id).where(Unit.code == "th-bach-sam"))
    paths = [
        f"/admin/contests/{made[0].contest_id}/export/results.xlsx",
        f"/admin/contests/{made[0].contest_id}/export/results.csv",
        f"/admin/contests/{made[0].contest_id}/certificates.pdf",
        f"/admin/units/{unit_id}/certificates.pdf",
        f"/admin/results/{made[1].id}/certificate.pdf",
        "/admin/report",
        "/admin/report.xlsx",
        "/admin/report.pdf",
    ]
    # Every console route of the package is in the list.
    assert len(paths) == sum(1 for r in routes if isinstance(r, Route) and "/admin" in r.path)
    for path in paths:
        anonymous = await client.get(path)
        assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
        for role in (Role.COORDINATOR, Role.JUDGE):
            refused = await client.get(path, headers=await bearer(sessionmaker, role))
            assert refused.status_code == 403, (path, role)
            assert "Nguyễn Minh Anh" not in refused.text
        allowed = await client.get(path, headers=await bearer(sessionmaker))
        assert allowed.status_code == 200, path
