"""The public verification page and API: genuine serials of published prizes only, and the
name only as the entrant consented."""

from __future__ import annotations

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from contest.models import Consent, Entrant, Entry, EntryStatus, Prize
from tests.results.support import PUBLISHED_DAY, Row, make_results
from tests.support import vi


async def test_the_page_shows_a_genuine_certificate_with_the_consented_name(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    initials, full = await make_results(
        sessionmaker,
        [Row("DEMV-W7K3", 1, 9.5, Prize.FIRST), Row("DEMD-R8P4", 2, 8.5, Prize.SECOND)],
    )

    page = await client.get(f"/verify/{initials.certificate_serial}")

    assert page.status_code == 200
    assert vi("This certificate is genuine") in page.text
    assert 'data-field="name">N. M. A.<' in page.text
    assert "Nguyễn Minh Anh" not in page.text and "Lớp 5A" not in page.text
    for expected in (
        "Trường Tiểu học Bạch Sam",
        "Viết về cuốn sách em yêu",
        "Tiểu học",
        "Giải Nhất",
        "Tuần lễ hưởng ứng học tập suốt đời năm 2024",
        PUBLISHED_DAY,
    ):
        assert expected in page.text, expected
    assert page.headers["x-robots-tag"] == "noindex"

    # Lower case, as a person may type it, is the same serial.
    other = await client.get(f"/verify/{str(full.certificate_serial).lower()}")
    assert other.status_code == 200
    assert 'data-field="name">Trần Gia Huy<' in other.text
    assert "Giải Nhì" in other.text and "Trường THCS Bạch Sam" in other.text


async def test_a_hidden_name_is_never_shown(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    (result,) = await make_results(sessionmaker, [Row("DEMS-T9Q5", 1, 9.0, Prize.THIRD)])
    async with sessionmaker() as session:
        await session.execute(
            update(Entrant).where(Entrant.full_name == "Lê Thị Mai").values(consent=Consent.HIDDEN)
        )
        await session.commit()

    page = await client.get(f"/verify/{result.certificate_serial}")
    api = await client.get(f"/api/v1/verify/{result.certificate_serial}")

    assert page.status_code == api.status_code == 200
    assert f'data-field="name">{vi("An entrant")}<' in page.text
    assert "Lê Thị Mai" not in page.text and "Lê Thị Mai" not in api.text
    assert api.json()["name"] == vi("An entrant")


async def test_the_api_answers_with_the_certificate(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    (result,) = await make_results(sessionmaker, [Row("DEMV-W7K3", 1, 9.5, Prize.FIRST)])

    response = await client.get(f"/api/v1/verify/{result.certificate_serial}")

    assert response.status_code == 200
    assert response.json() == {
        "serial": result.certificate_serial,
        "genuine": True,
        "name": "N. M. A.",
        "school": "Trường Tiểu học Bạch Sam",
        "contest": "Viết về cuốn sách em yêu",
        "division": "Tiểu học",
        "prize": "first",
        "prize_label": "Giải Nhất",
        "event": "Tuần lễ hưởng ứng học tập suốt đời năm 2024",
        "organizer": "UBND phường Bạch Sam",
        "published_on": "2024-10-08",
    }
    schema = (await client.get("/api/v1/openapi.json")).json()
    operation = schema["paths"]["/verify/{serial}"]["get"]
    assert operation["operationId"] == "verifyCertificate"
    assert operation["responses"]["404"] == {"$ref": "#/components/responses/404"}


async def test_unknown_forged_and_unpublished_serials_are_not_found(
    demo: DemoReport,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    published, unpublished_entry = await make_results(
        sessionmaker,
        [Row("DEMV-W7K3", 1, 9.5, Prize.FIRST)],
    ) + await make_results(sessionmaker, [Row("DEMD-R8P4", 1, 9.0, Prize.FIRST)], published=False)
    # A serial that exists but belongs to results not yet published.
    assert unpublished_entry.certificate_serial and unpublished_entry.published_at is None
    forged = "2024-2222-3333"
    for serial in (
        forged,
        unpublished_entry.certificate_serial,
        "not-a-serial",
        "2024-7KQ3-M9X0",  # 0 is not in the alphabet
        "x" * 300,
    ):
        page = await client.get(f"/verify/{serial}")
        assert page.status_code == 404, serial
        assert vi("Page not found") in page.text
        assert "Trần Gia Huy" not in page.text
        api = await client.get(f"/api/v1/verify/{serial}")
        assert api.status_code == 404, serial
        assert api.json()["error"]["status"] == 404

    # A certificate stops verifying when its entry is withdrawn or disqualified afterwards.
    assert (await client.get(f"/verify/{published.certificate_serial}")).status_code == 200
    async with sessionmaker() as session:
        await session.execute(
            update(Entry)
            .where(Entry.receipt_code == "DEMV-W7K3")
            .values(status=EntryStatus.DISQUALIFIED)
        )
        await session.commit()
    assert (await client.get(f"/verify/{published.certificate_serial}")).status_code == 404
