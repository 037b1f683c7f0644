"""Certificates of merit: the winner's full name in Vietnamese, the prize, and a QR code that
leads to the verification page; nothing before publication."""

from __future__ import annotations

import unicodedata

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.i18n import use_locale
from contest.models import Consent, Entrant, Prize, Unit
from contest.results.certificates import initials, public_name
from tests.results.support import PUBLISHED_DAY, Row, bearer, make_results, pdf_pages, pdf_qr_codes
from tests.support import WRITING, make_entries, vi

PDF = "application/pdf"


def test_public_name_follows_consent() -> None:
    name = "Nguyễn Minh Anh"
    assert public_name(Entrant(full_name=name, consent=Consent.FULL_NAME)) == name
    assert public_name(Entrant(full_name=name, consent=Consent.INITIALS)) == "N. M. A."
    assert initials("Đỗ  thu Hà") == "Đ. T. H."
    hidden = Entrant(full_name=name, consent=Consent.HIDDEN)
    assert public_name(hidden) == vi("An entrant") == "Người dự thi"
    with use_locale("en"):
        assert public_name(hidden) == "An entrant"


async def test_a_winners_certificate_reads_in_vietnamese_and_its_qr_leads_to_verification(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    (result,) = await make_results(sessionmaker, [Row("DEMV-W7K3", 1, 9.5, Prize.FIRST)])
    client.headers.update(await bearer(sessionmaker))

    response = await client.get(f"/admin/results/{result.id}/certificate.pdf")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == PDF
    assert response.headers["cache-control"] == "no-store"
    (text,) = pdf_pages(response.content)
    text = unicodedata.normalize("NFC", text)
    for expected in (
        "Nguyễn Minh Anh",  # the full name: it is the winner's own document
        "UBND PHƯỜNG BẠCH SAM",
        vi("CERTIFICATE OF MERIT"),
        "Giải Nhất",
        "Viết về cuốn sách em yêu",
        "Tiểu học",
        "Lớp 5A, Trường Tiểu học Bạch Sam",
        "Tuần lễ hưởng ứng học tập suốt đời năm 2024",
        PUBLISHED_DAY,
        result.certificate_serial,
    ):
        assert expected in text, expected
    assert pdf_qr_codes(response.content) == [
        [f"http://testserver/verify/{result.certificate_serial}"]
    ]


async def test_a_schools_certificates_take_its_classes_winners_and_no_one_else(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    ids = await make_entries(sessionmaker, WRITING, ages=[7, 8], unit_code="th-bach-sam-3a")
    made = await make_results(
        sessionmaker,
        [
            Row("DEMV-W7K3", 1, 9.5, Prize.FIRST),
            Row(ids[0], 2, 8.0, Prize.SECOND),
            Row(ids[1], 3, 6.0, None),  # ranked, no prize: no certificate
            Row("DEMD-R8P4", 1, 9.0, Prize.FIRST),  # another school
        ],
    )
    client.headers.update(await bearer(sessionmaker))
    async with sessionmaker() as session:
        school = await session.scalar(select(Unit).where(Unit.code == "th-bach-sam"))
    assert school is not None

    response = await client.get(f"/admin/units/{school.id}/certificates.pdf")

    assert response.status_code == 200, response.text
    pages = pdf_pages(response.content)
    assert len(pages) == 2
    assert "Nguyễn Minh Anh" in pages[0] and "Giải Nhất" in pages[0]
    assert "Học sinh 0" in pages[1] and "Giải Nhì" in pages[1]
    assert not any("Trần Gia Huy" in page or "Học sinh 1" in page for page in pages)
    assert pdf_qr_codes(response.content) == [
        [f"http://testserver/verify/{made[0].certificate_serial}"],
        [f"http://testserver/verify/{made[1].certificate_serial}"],
    ]


async def test_a_contests_certificates_are_its_published_winners(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    ids = await make_entries(sessionmaker, WRITING, ages=[12, 13])
    made = await make_results(
        sessionmaker,
        [
            Row("DEMV-W7K3", 1, 9.5, Prize.FIRST),
            Row(ids[0], 1, 8.0, Prize.HONOURABLE),
            Row(ids[1], 2, 7.0, None),
        ],
    )
    client.headers.update(await bearer(sessionmaker))

    response = await client.get(f"/admin/contests/{made[0].contest_id}/certificates.pdf")

    assert response.status_code == 200, response.text
    pages = pdf_pages(response.content)
    assert len(pages) == 2
    assert "Nguyễn Minh Anh" in pages[0]
    assert "Học sinh 0" in pages[1] and "Khuyến khích" in pages[1]
    assert "viet-ve-cuon-sach-em-yeu-certificates.pdf" in response.headers["content-disposition"]


async def test_no_certificate_before_publication(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    (result,) = await make_results(
        sessionmaker, [Row("DEMV-W7K3", 1, 9.5, Prize.FIRST)], published=False
    )
    client.headers.update(await bearer(sessionmaker))
    async with sessionmaker() as session:
        school = await session.scalar(select(Unit).where(Unit.code == "th-bach-sam"))
    assert school is not None

    for path in (
        f"/admin/results/{result.id}/certificate.pdf",
        f"/admin/contests/{result.contest_id}/certificates.pdf",
        f"/admin/units/{school.id}/certificates.pdf",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert vi("There are no published prize winners here yet.") in response.text


async def test_missing_objects_are_404(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    client.headers.update(await bearer(sessionmaker))
    for path in (
        "/admin/results/999999/certificate.pdf",
        "/admin/contests/999999/certificates.pdf",
        "/admin/units/999999/certificates.pdf",
        "/admin/contests/999999/export/results.xlsx",
        "/admin/contests/999999/export/results.csv",
    ):
        assert (await client.get(path)).status_code == 404, path
