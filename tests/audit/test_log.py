"""The stored audit log: votes write their opening, ballots and result; each close signs a
checkpoint that verifies with the published key; proofs served by the API verify against it;
the database refuses to change or delete an entry."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from assembly.audit import merkle, notes
from tests.conftest import ClientFactory, World


def unb64(value: str) -> bytes:
    return base64.b64decode(value)


async def run_vote(
    make_client: ClientFactory, world: World, choices: dict[str, str], **spec: Any
) -> dict[str, Any]:
    chair = await make_client(staff="chair")
    vote = (
        await chair.post(
            f"/api/assemblies/{world.assembly_id}/votes",
            json={"question": f"Motion {uuid.uuid4().hex[:4]}?", **spec},
        )
    ).json()
    assert (await chair.post(f"/api/votes/{vote['id']}/open")).status_code == 200
    for code, choice in choices.items():
        phone = await make_client(token=world.token[f"{code}-head"])
        ballot: dict[str, Any] = {
            "nmo_id": world.nmo[code],
            "ballot_id": uuid.uuid4().hex,
            "choice": choice,
        }
        if spec.get("secret"):
            ballot["tracker"] = uuid.uuid4().hex
        cast = await phone.post(f"/api/votes/{vote['id']}/ballots", json={"ballots": [ballot]})
        assert cast.status_code == 200, cast.text
    closed = await chair.post(f"/api/votes/{vote['id']}/close")
    assert closed.status_code == 200, closed.text
    result: dict[str, Any] = closed.json()
    return result


async def log_entries(client: Any, world: World) -> list[dict[str, Any]]:
    response = await client.get(f"/api/assemblies/{world.assembly_id}/log/entries")
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


async def test_a_named_vote_is_logged_and_its_checkpoint_and_proofs_verify(
    make_client: ClientFactory, world: World
) -> None:
    public = await make_client()
    none_yet = await public.get(f"/api/assemblies/{world.assembly_id}/log/checkpoint")
    assert none_yet.status_code == 404 and "No checkpoint yet" in none_yet.json()["message"]
    vote = await run_vote(make_client, world, {"AAA": "yes", "BBB": "no", "CCC": "yes"})
    member = await make_client(token=world.token["AAA-del"])
    entries = await log_entries(member, world)
    assert [e["kind"] for e in entries] == [
        "vote_opened",
        "ballot",
        "ballot",
        "ballot",
        "vote_result",
    ]
    opened = json.loads(entries[0]["data"])
    assert opened["vote"] == vote["id"] and opened["rule"] == "simple"
    assert [(e["nmo"], e["weight"]) for e in opened["electorate"]] == [
        ("AAA", "1"),
        ("BBB", "2"),
        ("CCC", "3/2"),
    ]
    ballots = {json.loads(e["data"])["nmo"]: json.loads(e["data"]) for e in entries[1:4]}
    assert ballots["BBB"]["choice"] == ["no"] and ballots["CCC"]["weight"] == "3/2"
    result = json.loads(entries[4]["data"])["result"]
    assert result == vote["result"]
    for e in entries:  # the leaf is the hash of exactly the bytes shown
        assert unb64(e["leaf_hash"]) == merkle.leaf_hash(e["data"].encode())

    checkpoint = (await public.get(f"/api/assemblies/{world.assembly_id}/log/checkpoint")).json()
    verifier = notes.parse_verifier_key(checkpoint["verifier_key"])
    body, signers = notes.open_note(checkpoint["checkpoint"], [verifier])
    assert signers == [verifier.name]
    parsed = notes.Checkpoint.parse(body)
    assert parsed.origin.endswith(f"/assembly/{world.assembly_id}")
    assert parsed.size == checkpoint["size"] == 5
    assert parsed.root == merkle.root(unb64(e["leaf_hash"]) for e in entries)
    assert checkpoint["short_root"] == parsed.root.hex()[:8]

    proof = (
        await member.get(
            f"/api/assemblies/{world.assembly_id}/log/proof/inclusion",
            params={"index": 2, "size": 5},
        )
    ).json()
    merkle.verify_inclusion(
        2, 5, unb64(entries[2]["leaf_hash"]), [unb64(h) for h in proof["proof"]], parsed.root
    )
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(
            3, 5, unb64(entries[2]["leaf_hash"]), [unb64(h) for h in proof["proof"]], parsed.root
        )
    outside = await member.get(
        f"/api/assemblies/{world.assembly_id}/log/proof/inclusion", params={"index": 9}
    )
    assert outside.status_code == 404 and "no entry 9" in outside.json()["message"]

    # A second vote extends the log; the new checkpoint is consistent with the first.
    await run_vote(make_client, world, {"AAA": "abstain"})
    later = (await public.get(f"/api/assemblies/{world.assembly_id}/log/checkpoint")).json()
    assert later["size"] == 5 + 3
    consistency = (
        await member.get(
            f"/api/assemblies/{world.assembly_id}/log/proof/consistency",
            params={"from": 5, "to": 8},
        )
    ).json()
    merkle.verify_consistency(
        5, 8, parsed.root, unb64(later["root"]), [unb64(h) for h in consistency["proof"]]
    )
    other = await make_client()
    refused = await other.get(f"/api/assemblies/{world.assembly_id}/log/entries")
    assert refused.status_code == 401


async def test_a_secret_vote_logs_who_voted_and_the_shuffled_choices_apart(
    make_client: ClientFactory, world: World
) -> None:
    await run_vote(make_client, world, {"AAA": "yes", "BBB": "no", "CCC": "yes"}, secret=True)
    entries = await log_entries(await make_client(staff="chair"), world)
    assert [e["kind"] for e in entries] == [
        "vote_opened",
        "secret_participation",
        "secret_choices",
        "vote_result",
    ]
    voted = json.loads(entries[1]["data"])
    assert voted["voted"] == ["AAA", "BBB", "CCC"]
    choices = json.loads(entries[2]["data"])["choices"]
    assert sorted(c["choice"][0] for c in choices) == ["no", "yes", "yes"]
    assert all(set(c) == {"tracker", "choice", "weight"} for c in choices)
    # Nothing in the choices entry names an NMO.
    assert not any(code in entries[2]["data"] for code in world.nmo)


async def test_the_database_refuses_to_change_or_delete_the_log(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    await run_vote(make_client, world, {"AAA": "yes"})
    for statement in (
        "UPDATE audit_entry SET kind = 'forged' WHERE seq = 0",
        "DELETE FROM audit_entry WHERE seq = 1",
        "UPDATE audit_checkpoint SET note = 'forged'",
        "DELETE FROM audit_checkpoint",
    ):
        async with app.state.ctx.engine.connect() as connection:
            with pytest.raises((DBAPIError, IntegrityError)) as refused:
                await connection.execute(text(statement))
            assert "append-only" in str(refused.value)
            await connection.rollback()
