"""Bad input to the JSON API: malformed, empty, oversized and wrongly typed bodies, unknown
fields, the wrong content type, numbers out of range. Each gets a 4xx whose JSON message says
what is wrong, and nothing of the refused request is stored."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.app import MAX_BODY_BYTES
from assembly.credentials import service
from assembly.credentials.models import Assembly, Nmo
from assembly.voting.models import Ballot, Vote
from tests.conftest import SECRETARIAT, ClientFactory, World, seed_world

Client = AsyncTestClient[Litestar]
JSON = {"Content-Type": "application/json"}


def refused(response: Any, status: int, *phrases: str) -> str:
    """The response is a JSON refusal with `status` whose message names every phrase."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    message: str = body["message"]
    for phrase in phrases:
        assert phrase.lower() in message.lower(), message
    return message


async def count(db: AsyncSession, model: Any) -> int:
    await db.rollback()  # a fresh snapshot: see what the app committed since
    return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


async def secretariat(make_client: ClientFactory, world: World) -> Client:
    del world  # seeded: the staff accounts exist
    return await make_client(staff="secretariat")


MALFORMED = [
    b'{"name": "General Assembly"',  # cut off
    b'{"name": "General Assembly",}',  # trailing comma
    b"{'name': 'General Assembly'}",  # Python, not JSON
    b"name=General+Assembly",  # a form
    b'{"name": NaN}',
    b'{"name": Infinity}',
    b"\xff\xfe{}",  # not UTF-8
]


async def test_malformed_json_is_refused_with_a_message_and_creates_nothing(
    make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    client = await secretariat(make_client, world)
    before = await count(db, Assembly)
    for body in MALFORMED:
        response = await client.post("/api/assemblies", content=body, headers=JSON)
        refused(response, 400, "JSON is malformed")
        assert response.json()["error"] == "invalid_json"
    assert await count(db, Assembly) == before


WRONG_SHAPES = [
    (b"", "no body"),
    (b"null", "object"),
    (b"[]", "object"),
    (b'[{"name": "General Assembly"}]', "object"),  # a list for an object
    (b'"General Assembly"', "object"),
    (b"{}", "name"),
]


async def test_a_body_of_the_wrong_shape_is_refused_and_says_what_was_expected(
    make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    client = await secretariat(make_client, world)
    before = await count(db, Assembly)
    for body, phrase in WRONG_SHAPES:
        response = await client.post("/api/assemblies", content=body, headers=JSON)
        refused(response, 400, phrase)
    assert await count(db, Assembly) == before


async def test_an_unknown_field_is_refused_by_name(
    make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    client = await secretariat(make_client, world)
    before = await count(db, Assembly)
    response = await client.post(
        "/api/assemblies", json={"name": "General Assembly", "quorum": "1/2"}
    )
    refused(response, 400, "quorum")
    assert await count(db, Assembly) == before


WRONG_TYPES = [
    ("seats", "two"),  # text for a whole number
    ("seats", "2"),  # even if it reads as one: no silent coercion
    ("seats", 1.5),
    ("secret", 1),
    ("seats", [1]),
    ("secret", "yes"),
    ("question", {"text": "Adopt?"}),  # an object for text
    ("candidates", "Ann, Bob"),  # text for a list
    ("candidates", [1, 2]),
]


async def test_a_field_of_the_wrong_type_is_refused_by_name_and_no_vote_is_made(
    make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    chair = await make_client(staff="chair")
    for field, value in WRONG_TYPES:
        body = {"question": "Adopt the agenda?", field: value}
        response = await chair.post(f"/api/assemblies/{world.assembly_id}/votes", json=body)
        refused(response, 400, field, "expected")
    assert await count(db, Vote) == 0


BAD_WEIGHTS = [
    (1.5, 400, "weight"),  # a float: weights are exact, never floats
    (1e300, 400, "weight"),
    ("NaN", 422, "not a number"),
    ("Infinity", 422, "not a number"),
    ("-Infinity", 422, "not a number"),
    ("1e999999999", 422, "out of range"),  # would take minutes to compute exactly
    ("1e-999999999", 422, "out of range"),
    ("0", 422, "more than 0"),
    ("-1", 422, "more than 0"),
    (10**20, 422, "out of range"),  # beyond a 64-bit integer
    (1_000_001, 422, "out of range"),
    ("3/0", 422, "not a number"),
]


async def test_a_weight_that_is_not_an_exact_positive_number_is_refused(
    make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    client = await secretariat(make_client, world)
    before = await count(db, Nmo)
    for weight, status, phrase in BAD_WEIGHTS:
        response = await client.post(
            f"/api/assemblies/{world.assembly_id}/nmos",
            json={"code": "ZZZ", "name": "NMO ZZZ", "weight": weight},
        )
        refused(response, status, phrase)
    assert await count(db, Nmo) == before


async def test_numbers_beyond_range_in_a_body_are_refused_by_name(
    make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    chair = await make_client(staff="chair")
    election = {"question": "Chair?", "kind": "election", "candidates": ["Ann", "Bob"]}
    response = await chair.post(
        f"/api/assemblies/{world.assembly_id}/votes", json={**election, "seats": 10**30}
    )
    refused(response, 422, "seats")
    assert await count(db, Vote) == 0
    client = await secretariat(make_client, world)
    for giver in (10**30, 2**63, 2**31, 0, -1):
        response = await client.post(
            f"/api/assemblies/{world.assembly_id}/proxies",
            json={"giver_id": giver, "holder_id": world.nmo["AAA"]},
        )
        refused(response, 400, "giver_id")


async def test_text_no_database_can_store_is_refused_by_name(
    make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    """PostgreSQL refuses a NUL character and an unpaired surrogate in text (SQLite would
    keep them): both runs refuse them the same way, before the database sees them."""
    client = await secretariat(make_client, world)
    before = await count(db, Assembly)
    for body, phrases in (
        (b'{"name": "General\\u0000Assembly"}', ("name", "NUL")),
        (b'{"name": "GA", "rules": {"x\\u0000": 1}}', ("rules", "NUL")),
        (b'{"name": "General \\ud800 Assembly"}', ("JSON is malformed", "surrogate")),
    ):
        response = await client.post("/api/assemblies", content=body, headers=JSON)
        refused(response, 400, *phrases)
    assert await count(db, Assembly) == before
    response = await client.post(
        "/api/auth/login", json={"username": "secretariat\x00", "password": "x"}
    )
    refused(response, 400, "username", "NUL")
    response = await client.get(
        f"/api/assemblies/{world.assembly_id}/log/receipt",
        params={"vote": 1, "receipt": "abc\x00"},
    )
    refused(response, 400, "receipt", "NUL")


async def test_a_share_in_the_rules_must_be_exact_too(
    make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    client = await secretariat(make_client, world)
    url = f"/api/assemblies/{world.assembly_id}"
    before = (await client.get(url)).json()["rules"]
    for share, phrase in ((0.5, "whole number or as text"), ("NaN", "not a number")):
        response = await client.patch(url, json={"rules": {"quorum_share": share}})
        refused(response, 422, "quorum_share", phrase)
    assert (await client.get(url)).json()["rules"] == before


async def test_a_body_over_the_limit_is_refused_before_it_is_read(
    make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    client = await secretariat(make_client, world)
    before = await count(db, Assembly)
    name = "x" * (MAX_BODY_BYTES + 1)
    response = await client.post("/api/assemblies", json={"name": name})
    refused(response, 413, "too large", f"{MAX_BODY_BYTES:,} bytes")
    assert await count(db, Assembly) == before


async def test_a_document_may_be_larger_than_other_bodies(
    make_client: ClientFactory, world: World
) -> None:
    client = await secretariat(make_client, world)
    paragraphs = "\n\n".join(f"Article {i}. " + "words " * 200 for i in range(1, 1200))
    assert len(paragraphs) > MAX_BODY_BYTES
    response = await client.post(
        f"/api/assemblies/{world.assembly_id}/documents",
        json={"title": "Statutes", "kind": "constitution", "text": paragraphs},
    )
    assert response.status_code == 201, response.text[:300]


async def test_a_body_in_another_format_is_refused_even_if_it_is_json(
    make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    """text/plain and forms are what another site's page can post without asking."""
    client = await secretariat(make_client, world)
    before = await count(db, Assembly)
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ):
        response = await client.post(
            "/api/assemblies",
            content=b'{"name": "General Assembly"}',
            headers={"Content-Type": content_type},
        )
        refused(response, 415, "application/json", content_type.split(";")[0])
    assert await count(db, Assembly) == before
    response = await client.post(
        "/api/assemblies",
        content=b'{"name": "General Assembly"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text


async def test_an_id_beyond_what_the_database_holds_is_not_found(
    make_client: ClientFactory, world: World
) -> None:
    client = await secretariat(make_client, world)
    for path, phrase in (
        ("/api/assemblies/99999999999999999999", "no assembly 99999999999999999999"),
        ("/api/votes/2147483648", "no vote 2147483648"),
        ("/api/nmos/-99999999999999999999", "no nmo"),
        ("/api/documents/1/versions/99999999999", "no version"),
    ):
        refused(await client.get(path), 404, phrase)


async def test_a_number_in_the_query_beyond_range_is_refused_by_name(
    make_client: ClientFactory, world: World
) -> None:
    client = await secretariat(make_client, world)
    response = await client.get(
        f"/api/assemblies/{world.assembly_id}/log/entries", params={"start": 2**40}
    )
    refused(response, 400, "start")
    response = await client.get(
        f"/api/assemblies/{world.assembly_id}/events", params={"after": "soon"}
    )
    refused(response, 400, "after")


async def test_a_ballot_batch_with_one_bad_row_stores_no_ballot(
    app: Litestar, make_client: ClientFactory, db: AsyncSession
) -> None:
    world = await seed_world(app, proxies_enabled=True)
    async with app.state.ctx.session_maker() as s:
        await service.give_proxy(
            s,
            SECRETARIAT,
            await service.get_assembly(s, world.assembly_id),
            await service.get_nmo(s, world.nmo["CCC"]),
            await service.get_nmo(s, world.nmo["AAA"]),
        )
        await s.commit()
    chair = await make_client(staff="chair")
    vote = (
        await chair.post(f"/api/assemblies/{world.assembly_id}/votes", json={"question": "Q?"})
    ).json()
    assert (await chair.post(f"/api/votes/{vote['id']}/open", json={})).status_code == 200
    holder = await make_client(token=world.token["AAA-head"])
    good = {"nmo_id": world.nmo["AAA"], "ballot_id": "good-1", "choice": "yes"}
    bad_rows: list[tuple[dict[str, Any], int, str]] = [
        ({"nmo_id": world.nmo["CCC"], "ballot_id": "bad-1", "choice": "maybe"}, 422, "maybe"),
        ({"nmo_id": world.nmo["CCC"], "ballot_id": "bad 2!", "choice": "no"}, 422, "ballot_id"),
        ({"nmo_id": "CCC", "ballot_id": "bad-3", "choice": "no"}, 400, "nmo_id"),
        ({"nmo_id": world.nmo["CCC"], "ballot_id": "bad-4", "weight": 2}, 400, "weight"),
        ({"nmo_id": world.nmo["BBB"], "ballot_id": "bad-5", "choice": "no"}, 403, "BBB"),
        ({"nmo_id": 2**63, "ballot_id": "bad-6", "choice": "no"}, 400, "nmo_id"),
    ]
    for bad, status, phrase in bad_rows:
        response = await holder.post(
            f"/api/votes/{vote['id']}/ballots", json={"ballots": [good, bad]}
        )
        refused(response, status, phrase)
        assert await count(db, Ballot) == 0, bad
    response = await holder.post(
        f"/api/votes/{vote['id']}/ballots", content=b'{"ballots": [', headers=JSON
    )
    refused(response, 400, "JSON")
    assert await count(db, Ballot) == 0
    # The same good row alone is taken: it was the bad one that refused the batch.
    response = await holder.post(f"/api/votes/{vote['id']}/ballots", json={"ballots": [good]})
    assert response.status_code == 200, response.text
    assert await count(db, Ballot) == 1
