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
from assembly.audit.record import text_hash
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


def setup_size(entries: list[dict[str, Any]]) -> int:
    """How many entries come before the first vote (the assembly's settings, its NMOs)."""
    kinds = [e["kind"] if "kind" in e else json.loads(e["data"])["type"] for e in entries]
    return kinds.index("vote_opened")


def vote_part(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return entries[setup_size(entries) :]


async def test_a_named_vote_is_logged_and_its_checkpoint_and_proofs_verify(
    make_client: ClientFactory, world: World
) -> None:
    public = await make_client()
    none_yet = await public.get(f"/api/assemblies/{world.assembly_id}/log/checkpoint")
    assert none_yet.status_code == 404 and "No checkpoint yet" in none_yet.json()["message"]
    vote = await run_vote(make_client, world, {"AAA": "yes", "BBB": "no", "CCC": "yes"})
    member = await make_client(token=world.token["AAA-del"])
    everything = await log_entries(member, world)
    # The assembly's settings and its members' classes and weights come first: every vote's
    # electorate can be traced to them.
    base = setup_size(everything)
    setup = [json.loads(e["data"]) for e in everything[:base]]
    assert [e["type"] for e in setup] == ["assembly_created"] + ["nmo_added"] * 5
    assert setup[0]["rules"]["majority_ordinary"] == "simple"
    assert {e["code"]: (e["member_class"], e["weight"]) for e in setup[1:]} == {
        "AAA": ("full", "1"),
        "BBB": ("full", "2"),
        "CCC": ("full", "3/2"),
        "DDD": ("candidate", "1"),
        "EEE": ("suspended", "1"),
    }
    entries = everything[base:]
    assert [e["kind"] for e in entries] == [
        "vote_opened",
        "ballot",
        "ballot",
        "ballot",
        "vote_result",
    ]
    assert [e["index"] for e in entries] == list(range(base, base + 5))
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
    for e in everything:  # the leaf is the hash of exactly the bytes shown
        assert unb64(e["leaf_hash"]) == merkle.leaf_hash(e["data"].encode())

    checkpoint = (await public.get(f"/api/assemblies/{world.assembly_id}/log/checkpoint")).json()
    verifier = notes.parse_verifier_key(checkpoint["verifier_key"])
    body, signers = notes.open_note(checkpoint["checkpoint"], [verifier])
    assert signers == [verifier.name]
    parsed = notes.Checkpoint.parse(body)
    assert parsed.origin.endswith(f"/assembly/{world.assembly_id}")
    size = base + 5
    assert parsed.size == checkpoint["size"] == size
    assert parsed.root == merkle.root(unb64(e["leaf_hash"]) for e in everything)
    assert checkpoint["short_root"] == parsed.root.hex()[:8]

    index = base + 2
    proof = (
        await member.get(
            f"/api/assemblies/{world.assembly_id}/log/proof/inclusion",
            params={"index": index, "size": size},
        )
    ).json()
    leaf = unb64(everything[index]["leaf_hash"])
    merkle.verify_inclusion(index, size, leaf, [unb64(h) for h in proof["proof"]], parsed.root)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(
            index + 1, size, leaf, [unb64(h) for h in proof["proof"]], parsed.root
        )
    outside = await member.get(
        f"/api/assemblies/{world.assembly_id}/log/proof/inclusion", params={"index": size}
    )
    assert outside.status_code == 404 and f"no entry {size}" in outside.json()["message"]

    # A second vote extends the log; the new checkpoint is consistent with the first.
    await run_vote(make_client, world, {"AAA": "abstain"})
    later = (await public.get(f"/api/assemblies/{world.assembly_id}/log/checkpoint")).json()
    assert later["size"] == size + 3
    consistency = (
        await member.get(
            f"/api/assemblies/{world.assembly_id}/log/proof/consistency",
            params={"from": size, "to": size + 3},
        )
    ).json()
    merkle.verify_consistency(
        size, size + 3, parsed.root, unb64(later["root"]), [unb64(h) for h in consistency["proof"]]
    )
    other = await make_client()
    refused = await other.get(f"/api/assemblies/{world.assembly_id}/log/entries")
    assert refused.status_code == 401


async def test_a_secret_vote_logs_who_voted_and_the_shuffled_choices_apart(
    make_client: ClientFactory, world: World
) -> None:
    await run_vote(make_client, world, {"AAA": "yes", "BBB": "no", "CCC": "yes"}, secret=True)
    entries = vote_part(await log_entries(await make_client(staff="chair"), world))
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


async def test_rule_changes_and_member_class_and_weight_changes_are_logged(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    changed = await secretariat.patch(
        f"/api/assemblies/{world.assembly_id}",
        json={
            "starts_on": "2027-03-01",
            "rules": {"majority_ordinary": "two_thirds", "quorum_share": "1/3"},
            "reason": "Bylaws art. 12 as amended",
        },
    )
    assert changed.status_code == 200, changed.text
    weight = await secretariat.patch(
        f"/api/nmos/{world.nmo['CCC']}", json={"weight": "5/2", "reason": "two members merged"}
    )
    assert weight.status_code == 200, weight.text
    demoted = await secretariat.patch(
        f"/api/nmos/{world.nmo['BBB']}",
        json={"member_class": "candidate", "reason": "dues unpaid"},
    )
    assert demoted.status_code == 200, demoted.text
    # A refused change is not logged: the log holds what took effect.
    refused = await secretariat.patch(f"/api/nmos/{world.nmo['AAA']}", json={"weight": "2"})
    assert refused.status_code == 422 and "reason" in refused.json()["message"]
    # Nothing changes, nothing is logged.
    same = await secretariat.patch(
        f"/api/assemblies/{world.assembly_id}", json={"rules": {"quorum_share": "1/3"}}
    )
    assert same.status_code == 200

    entries = await log_entries(await make_client(token=world.token["AAA-del"]), world)
    logged = [json.loads(e["data"]) for e in entries if e["kind"] in CHANGES]
    assert [e["type"] for e in logged] == ["assembly_changed", "nmo_changed", "nmo_changed"]
    rules, ccc, bbb = logged
    assert rules["rules"] == {
        "majority_ordinary": {"old": "simple", "new": "two_thirds"},
        "quorum_share": {"old": "1/2", "new": "1/3"},
    }
    assert rules["info"] == {"starts_on": {"old": None, "new": "2027-03-01"}}
    assert rules["reason"] == "Bylaws art. 12 as amended" and rules["by"]
    assert ccc["code"] == "CCC" and ccc["weight"] == {"old": "3/2", "new": "5/2"}
    assert "member_class" not in ccc and ccc["reason"] == "two members merged"
    assert bbb["member_class"] == {"old": "full", "new": "candidate"}


CHANGES = ("assembly_changed", "nmo_changed")


async def test_imported_and_editorially_changed_texts_are_logged_whole_and_checkpointed(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    created = await secretariat.post(
        f"/api/assemblies/{world.assembly_id}/documents",
        json={"title": "Constitution", "kind": "constitution", "text": "Art. 1\n\nArt. 2"},
    )
    assert created.status_code == 201, created.text
    document = created.json()
    paragraphs = [{"id": p["id"], "text": p["text"]} for p in document["paragraphs"]]
    edited = [paragraphs[0], {"id": paragraphs[1]["id"], "text": "Article 2"}]
    changed = await secretariat.post(
        f"/api/documents/{document['document']['id']}/versions",
        json={"reason": "typo", "paragraphs": edited},
    )
    assert changed.status_code == 201, changed.text

    entries = await log_entries(secretariat, world)
    texts = [json.loads(e["data"]) for e in entries if "paragraphs" in json.loads(e["data"])]
    assert [(t["type"], t["version"], t["in_force"]) for t in texts] == [
        ("document_imported", 1, True),
        ("editorial_change", 2, False),
    ]
    assert texts[0]["paragraphs"] == paragraphs and texts[1]["paragraphs"] == edited
    assert texts[1]["reason"] == "editorial: typo"
    assert texts[1]["text_sha256"] == text_hash(edited) != texts[0]["text_sha256"]
    # The change without a vote is covered by a signed checkpoint at once.
    checkpoint = await secretariat.get(f"/api/assemblies/{world.assembly_id}/log/checkpoint")
    assert checkpoint.status_code == 200 and checkpoint.json()["size"] == len(entries)


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
