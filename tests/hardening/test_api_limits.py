"""The API states its limits in its description and holds to them: a value out of the stated
range, or a field where none belongs, is refused, never ignored."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contest.demo import DemoReport
from tests.results.support import bearer
from tests.support import WRITING

ROUNDS = f"/api/v1/contests/{WRITING}/rounds"


@pytest.mark.parametrize(
    "body",
    [
        {"action": "close", "per_unit": 0},
        {"action": "close", "top_per_division": 3},
        {"action": "close", "surprise": True},
        {"action": "next", "per_unit": 0},
        {"action": "next", "top_per_division": -1},
        {"action": "next", "per_unit": 10_001},
        {"action": "next", "per_unit": True},
        {"action": "next", "per_unit": 2, "top_per_division": 2},
        {"action": "next"},
        {"action": "reopen"},
    ],
)
async def test_a_round_change_out_of_its_schema_is_refused(
    demo: DemoReport,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, object],
) -> None:
    answer = await client.post(ROUNDS, json=body, headers=await bearer(sessionmaker))
    assert answer.status_code == 422, answer.text


async def test_the_description_states_the_limits(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/v1/openapi.json")).json()
    paths = schema["paths"]
    rounds = paths["/contests/{slug}/rounds"]["post"]["requestBody"]["content"]
    shapes = rounds["application/json"]["schema"]["oneOf"]
    numbers = [
        shape["properties"][name]
        for shape in shapes
        for name in ("per_unit", "top_per_division")
        if name in shape["properties"]
    ]
    assert numbers and all(n["minimum"] == 1 and n["maximum"] == 10_000 for n in numbers)
    assert all(shape["additionalProperties"] is False for shape in shapes)
    entry = paths["/contests/{slug}/entries"]["post"]["requestBody"]["content"]
    # Both submission endpoints share one schema: the limits are read where it is defined.
    ref = entry["multipart/form-data"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"]
    coordinator = paths["/coordinator/contests/{slug}/entries"]["post"]["requestBody"]["content"]
    assert coordinator["multipart/form-data"]["schema"]["$ref"] == ref
    assert fields["age"]["minimum"] == 3 and fields["age"]["maximum"] == 120
    assert fields["full_name"]["maxLength"] == 100 and fields["title"]["maxLength"] == 200
    upload = paths["/contests/{slug}/uploads"]["post"]["requestBody"]["content"]
    slot = upload["application/json"]["schema"]["properties"]
    assert slot["size"]["minimum"] == 1 and "image/jpeg" in slot["content_type"]["enum"]
    # Every number in a path is a row id, every word in it is not empty.
    for item in paths.values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"]["type"] == "integer":
                    assert parameter["schema"]["minimum"] == 1
                    assert parameter["schema"]["maximum"] == 2**31 - 1
                if parameter["in"] == "path" and parameter["schema"]["type"] == "string":
                    assert parameter["schema"]["minLength"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"content_type": "image/png", "size": 100, "filename": "x" * 181},
        {"content_type": "image/png", "size": 100, "filename": None},
        {"content_type": "image/png", "size": 100, "filename": 7},
        {"content_type": "image/png", "size": True},
        {"content_type": "image/png", "size": 0},
    ],
)
async def test_an_upload_slot_out_of_its_schema_is_refused(
    demo: DemoReport, client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    answer = await client.post("/api/v1/contests/ve-tranh-theo-sach/uploads", json=body)
    assert answer.status_code == 422, answer.text


async def test_an_upload_slot_takes_a_size_written_as_a_whole_float(
    demo: DemoReport, client: httpx.AsyncClient
) -> None:
    answer = await client.post(
        "/api/v1/contests/ve-tranh-theo-sach/uploads",
        json={"content_type": "image/png", "size": 100.0, "filename": "tranh.png"},
    )
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize(
    "body",
    [
        {"points": {}, "submit": {}},
        {"points": {}, "submit": "yes"},
        {"points": {}, "comment": 5},
        {"points": {}, "feedback": ["x"]},
        {"points": {}, "comment": "x" * 4001},
    ],
)
async def test_a_score_out_of_its_schema_is_refused(
    demo: DemoReport,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, object],
) -> None:
    from sqlalchemy import select

    from contest.models import Assignment, Contest, Role, User
    from judging.services import run_assignment

    headers = await bearer(sessionmaker, Role.JUDGE)
    async with sessionmaker() as session:
        judge = await session.scalar(
            select(User).where(User.role == Role.JUDGE).order_by(User.id.desc())
        )
        contest = await session.scalar(select(Contest).where(Contest.slug == WRITING))
        assert judge and contest
        await session.refresh(judge, ["judged_contests"])
        judge.judged_contests.append(contest)
        await session.commit()
        await run_assignment(session, contest_id=contest.id, actor=None)
        await session.commit()
        assignment = await session.scalar(
            select(Assignment.id).where(Assignment.judge_id == judge.id)
        )
    assert assignment is not None
    path = f"/api/v1/judge/assignments/{assignment}/score"
    answer = await client.put(path, json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    # The same with proper types is a saved draft.
    assert (
        await client.put(path, json={"points": {}, "submit": False}, headers=headers)
    ).status_code == 200
