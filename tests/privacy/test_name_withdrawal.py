"""Withdrawing the consent to show a name, from the private link (page and API): one service,
and from that moment no public place shows the name: the gallery (also the copy it had cached),
the certificate's verification page and API, the public results, the results exports' public
name, and certificates made afterwards. The notice says how, and its wording's version."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.models import AuditEvent, Consent, Prize, Result
from contest.notice import AGREEMENT_VERSION
from tests.intake import files
from tests.intake.conftest import LOCAL_ONLY
from tests.intake.support import entrant_by_code, entrant_fields, receipt_of, submit_page
from tests.results.support import Row, bearer, make_results, pdf_pages
from tests.support import DRAWING, csrf_from, vi

NAME = "Phan Thị Ngọc Hân"
API = "/api/v1"
GALLERY = f"/contests/{DRAWING}/winners"


async def _published_winner(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[str, str, Result]:
    """A child of 10 who won a first prize, named in full with both parts of the consent."""
    code, token = receipt_of(
        await submit_page(
            app,
            DRAWING,
            entrant_fields(full_name=NAME, consent="full_name"),
            [("t.png", files.drawing_png())],
        )
    )
    (result,) = await make_results(sessionmaker, [Row(code, 1, 9.5, Prize.FIRST)])
    return code, token, result


def _public_names(export: httpx.Response) -> list[str]:
    """The results CSV's last column (the name in public) of each entrant's row."""
    assert export.status_code == 200, export.text
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][-1] == vi("Name in public")
    return [row[-1] for row in rows[1:] if row[1].isdigit()]


async def _everywhere(
    app: httpx.AsyncClient, organiser: dict[str, str], result: Result
) -> dict[str, Any]:
    """What each public place (and each organiser's file meant for the public) shows now."""
    gallery = await app.get(GALLERY)
    assert gallery.status_code == 200
    verify = await app.get(f"/verify/{result.certificate_serial}")
    verify_api = await app.get(f"{API}/verify/{result.certificate_serial}")
    results = await app.get(f"{API}/contests/{DRAWING}/results")
    export = await app.get(
        f"/admin/contests/{result.contest_id}/export/results.csv", headers=organiser
    )
    certificates = await app.get(
        f"/admin/contests/{result.contest_id}/certificates.pdf", headers=organiser
    )
    assert certificates.status_code == 200, certificates.text
    return {
        "gallery": gallery.text,
        "verify": verify.text,
        "verify_api": verify_api.json()["name"],
        "results": [w["name"] for w in results.json()["winners"]],
        "export": _public_names(export),
        "certificate": "\n".join(pdf_pages(certificates.content)),
    }


@LOCAL_ONLY
async def test_a_name_consented_by_child_and_guardian_shows_and_its_withdrawal_hides_it_at_once(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    code, token, result = await _published_winner(app, sessionmaker)
    organiser = await bearer(sessionmaker)
    shown = await _everywhere(app, organiser, result)
    assert NAME in shown["gallery"]
    assert f'data-field="name">{NAME}<' in shown["verify"]
    assert shown["verify_api"] == NAME
    assert NAME in shown["results"]
    assert NAME in shown["export"]
    assert NAME in shown["certificate"]

    receipt = f"/entries/{code}?token={token}"
    csrf = await csrf_from(app, receipt)
    withdrawn = await app.post(
        f"/entries/{code}/name/withdraw", params={"token": token}, data={"csrf_token": csrf}
    )

    assert withdrawn.status_code == 303, withdrawn.text
    assert "name_withdrawn=1" in withdrawn.headers["location"]
    page = await app.get(withdrawn.headers["location"])
    assert 'id="name-withdrawn"' in page.text and 'id="withdraw-name"' not in page.text
    # No clock moved: the gallery's cached copy was dropped, not left to age.
    hidden = await _everywhere(app, organiser, result)
    for place, shows in hidden.items():
        assert NAME not in str(shows), place
    assert NAME not in hidden["gallery"]
    assert f'data-field="name">{vi("An entrant")}<' in hidden["verify"]
    assert hidden["verify_api"] == vi("An entrant")
    assert vi("An entrant") in hidden["results"]
    assert vi("An entrant") in hidden["export"]
    assert vi("An entrant") in hidden["certificate"]

    entrant = await entrant_by_code(sessionmaker, code)
    assert entrant.consent == Consent.HIDDEN
    assert entrant.child_consent_at is None and entrant.name_withdrawn_at is not None
    async with sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.object_type == "entry", AuditEvent.object_id == str(result.entry_id)
                )
            )
        ).all()
    assert actions.count("entry.name_consent_withdraw") == 1


@LOCAL_ONLY
async def test_the_api_withdraws_with_the_edit_token_only_and_a_second_time_changes_nothing(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    code, token, _result = await _published_winner(app, sessionmaker)
    assert NAME in (await app.get(GALLERY)).text  # cached from here on
    path = f"{API}/entries/{code}/name/withdraw"

    wrong = await app.post(path, headers={"X-Edit-Token": "not-the-token"})
    missing = await app.post(path)
    unknown = await app.post(
        f"{API}/entries/ZZZZ-ZZZZ/name/withdraw", headers={"X-Edit-Token": token}
    )

    assert wrong.status_code == missing.status_code == 403
    assert unknown.status_code == 404
    assert (await entrant_by_code(sessionmaker, code)).consent == Consent.FULL_NAME
    assert NAME in (await app.get(GALLERY)).text

    done = await app.post(path, headers={"X-Edit-Token": token})

    assert done.status_code == 200, done.text
    assert done.json()["consent"] == "hidden" and done.json()["receipt_code"] == code
    assert NAME not in (await app.get(GALLERY)).text
    first = (await entrant_by_code(sessionmaker, code)).name_withdrawn_at
    again = await app.post(path, headers={"X-Edit-Token": token})
    assert again.status_code == 200
    assert again.json()["name_withdrawn_at"] == done.json()["name_withdrawn_at"]
    assert (await entrant_by_code(sessionmaker, code)).name_withdrawn_at == first
    # The family's copy of the data says so too.
    data = await app.get(f"{API}/entries/{code}/my-data", headers={"X-Edit-Token": token})
    record = json.loads(zipfile.ZipFile(io.BytesIO(data.content)).read("entry.json"))
    assert record["entrant"]["name_in_public"] == "hidden"
    assert record["entrant"]["name_withdrawn_at"] == done.json()["name_withdrawn_at"]
    assert record["entrant"]["child_consent_at"] is None


@LOCAL_ONLY
async def test_the_page_refuses_a_withdrawal_without_the_private_link_or_the_form_token(
    app: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    code, token, _result = await _published_winner(app, sessionmaker)
    receipt = f"/entries/{code}?token={token}"
    csrf = await csrf_from(app, receipt)

    forged = await app.post(
        f"/entries/{code}/name/withdraw", params={"token": token}, data={"csrf_token": "x"}
    )
    no_link = await app.post(
        f"/entries/{code}/name/withdraw", params={"token": "wrong"}, data={"csrf_token": csrf}
    )

    assert forged.status_code == no_link.status_code == 403
    assert (await entrant_by_code(sessionmaker, code)).consent == Consent.FULL_NAME
    assert NAME in (await app.get(GALLERY)).text


@LOCAL_ONLY
async def test_the_notice_names_the_law_the_childs_consent_and_how_to_withdraw(
    app: httpx.AsyncClient,
) -> None:
    page = await app.get("/privacy")

    assert page.status_code == 200
    assert AGREEMENT_VERSION == "2026-12"
    assert vi("Wording version %(version)s.", version=AGREEMENT_VERSION) in page.text
    for needle in ("91/2025/QH15", "356/2025/NĐ-CP", vi("Stop showing the name")):
        assert needle in page.text, needle
    english = await app.get("/privacy", headers={"Cookie": "lang=en"})
    assert "From the age of 7 the child must also agree" in english.text
    assert "“Stop showing the name”" in english.text
