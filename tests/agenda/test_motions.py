"""Procedural motions: raised from the phone, put to the vote by the chair in one action by the
procedural majority (two thirds by default), carried out when adopted (the list closes, waiting
speeches end), left without effect when rejected, ruled out only with a reason; the assembly
chooses which motions it takes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.agenda.test_floor import ask, current_item
from tests.conftest import ClientFactory, World


async def raise_motion(phone: Any, world: World, kind: str) -> Any:
    return await phone.post(f"/api/assemblies/{world.assembly_id}/motions", json={"kind": kind})


async def vote_on(
    make_client: ClientFactory, world: World, motion_id: int, choices: dict[str, str]
) -> dict[str, Any]:
    chair = await make_client(staff="chair")
    opened = await chair.post(f"/api/motions/{motion_id}/vote", json={})
    assert opened.status_code == 201, opened.text
    vote: dict[str, Any] = opened.json()
    for code, choice in choices.items():
        phone = await make_client(token=world.token[f"{code}-head"])
        ballot = {"nmo_id": world.nmo[code], "ballot_id": uuid.uuid4().hex, "choice": choice}
        cast = await phone.post(f"/api/votes/{vote['id']}/ballots", json={"ballots": [ballot]})
        assert cast.status_code == 200, cast.text
    closed = await chair.post(f"/api/votes/{vote['id']}/close")
    assert closed.status_code == 200, closed.text
    return {"opened": vote, "closed": closed.json()}


async def test_an_adopted_motion_to_close_the_list_closes_it(
    make_client: ClientFactory, world: World
) -> None:
    item_id = await current_item(make_client, world)
    aaa = await make_client(token=world.token["AAA-head"])
    bbb = await make_client(token=world.token["BBB-head"])
    assert (await ask(bbb, item_id)).status_code == 201
    raised = await raise_motion(aaa, world, "close_list")
    assert raised.status_code == 201, raised.text
    motion = raised.json()
    assert motion["label"] == "Close the speakers' list" and motion["item_id"] == item_id
    again = await raise_motion(aaa, world, "close_list")
    assert again.status_code == 409 and "already raised" in again.json()["message"]

    chair = await make_client(staff="chair")
    shown = await chair.get(f"/agenda/{world.assembly_id}/floor")
    assert "Close the speakers&#39; list" in shown.text and "Put to the vote" in shown.text

    outcome = await vote_on(make_client, world, motion["id"], {"AAA": "yes", "BBB": "yes"})
    assert outcome["opened"]["rule"] == "two_thirds" and outcome["opened"]["kind"] == "procedural"
    assert "(motion by AAA)" in outcome["opened"]["question"]
    assert outcome["closed"]["result"]["adopted"] is True

    floor = (await chair.get(f"/api/agenda-items/{item_id}/floor")).json()
    assert floor["closed"] is True
    assert [r["nmo_code"] for r in floor["waiting"]] == ["BBB"]  # who was waiting still speaks
    ccc = await make_client(token=world.token["CCC-head"])
    refused = await ask(ccc, item_id)
    assert refused.status_code == 409 and "list is closed" in refused.json()["message"]
    listed = (await chair.get(f"/api/assemblies/{world.assembly_id}/motions")).json()
    assert [(m["kind"], m["state"], m["vote_id"]) for m in listed] == [
        ("close_list", "adopted", outcome["opened"]["id"])
    ]
    # The effect is recorded beside the agenda, naming the motion and its vote.
    assert (await chair.get(f"/agenda/{world.assembly_id}/floor")).status_code == 200


async def test_proceed_to_vote_ends_the_waiting_speeches_and_a_rejected_motion_changes_nothing(
    make_client: ClientFactory, world: World
) -> None:
    item_id = await current_item(make_client, world)
    aaa = await make_client(token=world.token["AAA-head"])
    bbb = await make_client(token=world.token["BBB-head"])
    assert (await ask(bbb, item_id)).status_code == 201
    assert (await ask(aaa, item_id, kind="point_of_information")).status_code == 201
    reopen = (await raise_motion(aaa, world, "proceed_to_vote")).json()
    rejected = await vote_on(make_client, world, reopen["id"], {"AAA": "yes", "BBB": "no"})
    assert rejected["closed"]["result"]["adopted"] is False
    chair = await make_client(staff="chair")
    floor = (await chair.get(f"/api/agenda-items/{item_id}/floor")).json()
    assert floor["closed"] is False and len(floor["waiting"]) == 2

    motion = (await raise_motion(aaa, world, "proceed_to_vote")).json()
    adopted = await vote_on(make_client, world, motion["id"], {"AAA": "yes", "BBB": "yes"})
    assert adopted["closed"]["result"]["adopted"] is True
    floor = (await chair.get(f"/api/agenda-items/{item_id}/floor")).json()
    assert floor["closed"] is True
    # Speeches end; the point of information is still heard.
    assert [r["kind"] for r in floor["waiting"]] == ["point_of_information"]


async def test_the_chair_rules_a_motion_out_only_with_a_reason_and_only_the_raiser_withdraws(
    make_client: ClientFactory, world: World
) -> None:
    await current_item(make_client, world)
    aaa = await make_client(token=world.token["AAA-head"])
    bbb = await make_client(token=world.token["BBB-head"])
    chair = await make_client(staff="chair")
    motion = (await raise_motion(aaa, world, "no_confidence")).json()
    bare = await chair.post(f"/api/motions/{motion['id']}/dismiss", json={"reason": " "})
    assert bare.status_code == 422 and "Say why" in bare.json()["message"]
    ruled = await chair.post(
        f"/api/motions/{motion['id']}/dismiss", json={"reason": "Not seconded."}
    )
    assert ruled.status_code == 200 and ruled.json()["state"] == "dismissed"
    assert ruled.json()["reason"] == "Not seconded."
    late = await chair.post(f"/api/motions/{motion['id']}/vote", json={})
    assert late.status_code == 409 and "dismissed" in late.json()["message"]

    other = (await raise_motion(aaa, world, "postpone")).json()
    stolen = await bbb.post(f"/api/motions/{other['id']}/withdraw")
    assert stolen.status_code == 403 and "you raised" in stolen.json()["message"]
    withdrawn = await aaa.post(f"/api/motions/{other['id']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"


async def test_the_assembly_chooses_the_motions_it_takes(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    url = f"/api/assemblies/{world.assembly_id}"
    wrong = await secretariat.patch(url, json={"rules": {"procedural_motions": ["filibuster"]}})
    assert wrong.status_code == 422, wrong.text
    assert "unknown motion 'filibuster'" in wrong.json()["message"]
    changed = await secretariat.patch(
        url, json={"rules": {"procedural_motions": ["proceed_to_vote", "close_list"]}}
    )
    assert changed.status_code == 200, changed.text
    rules = (await secretariat.get(url)).json()["rules"]
    assert rules["procedural_motions"] == ["close_list", "proceed_to_vote"]

    aaa = await make_client(token=world.token["AAA-head"])
    refused = await raise_motion(aaa, world, "no_confidence")
    assert refused.status_code == 409
    assert "close the speakers' list, proceed to vote" in refused.json()["message"]
    mine = await aaa.get(f"/agenda/{world.assembly_id}/floor/mine")
    assert 'value="close_list"' in mine.text and 'value="no_confidence"' not in mine.text
    raised = await aaa.post(
        "/motions/raise", data={"kind": "close_list"}, headers={"HX-Request": "true"}
    )
    assert raised.status_code == 200 and "You moved: close the speakers&#39; list" in raised.text


async def test_any_objection_one_objection_keeps_the_motion_for_a_vote(
    make_client: ClientFactory, world: World
) -> None:
    await current_item(make_client, world)
    aaa = await make_client(token=world.token["AAA-head"])
    bbb = await make_client(token=world.token["BBB-head"])
    chair = await make_client(staff="chair")
    motion = (await raise_motion(aaa, world, "close_list")).json()
    asked = await chair.post(f"/api/motions/{motion['id']}/nemo-contra", json={"seconds": 60})
    assert asked.status_code == 201, asked.text
    assert asked.json()["outcome"] == "pending"
    twice = await chair.post(f"/api/motions/{motion['id']}/nemo-contra", json={"seconds": 60})
    assert twice.status_code == 409 and "already being asked" in twice.json()["message"]
    shown = await bbb.get(f"/agenda/{world.assembly_id}/floor")
    assert "Any objection?" in shown.text and "I object" in shown.text

    objected = await bbb.post(f"/api/assemblies/{world.assembly_id}/motions/objection")
    assert objected.status_code == 200 and objected.json()["outcome"] == "objected"
    again = await bbb.post(f"/api/assemblies/{world.assembly_id}/motions/objection")
    assert again.status_code == 409 and "no motion to object to" in again.json()["message"]
    listed = (await chair.get(f"/api/assemblies/{world.assembly_id}/motions")).json()
    assert [(m["state"], m["without_vote"]) for m in listed] == [("raised", False)]
    # The chair can still put it to a vote.
    assert (await chair.post(f"/api/motions/{motion['id']}/vote", json={})).status_code == 201


async def test_any_objection_with_none_in_time_passes_without_a_vote_and_takes_effect(
    make_client: ClientFactory, world: World
) -> None:
    item_id = await current_item(make_client, world)
    aaa = await make_client(token=world.token["AAA-head"])
    chair = await make_client(staff="chair")
    motion = (await raise_motion(aaa, world, "close_list")).json()
    short = await chair.post(f"/api/motions/{motion['id']}/nemo-contra", json={"seconds": 2})
    assert short.status_code == 422 and "between 5 and 600 seconds" in short.json()["message"]
    asked = await chair.post(f"/api/motions/{motion['id']}/nemo-contra", json={"seconds": 5})
    assert asked.status_code == 201, asked.text
    # The server records the outcome by itself once the time is up.
    for _ in range(40):
        listed = (await chair.get(f"/api/assemblies/{world.assembly_id}/motions")).json()
        if listed[0]["state"] != "raised":
            break
        await asyncio.sleep(0.25)
    assert [(m["state"], m["without_vote"], m["vote_id"]) for m in listed] == [
        ("adopted", True, None)
    ]
    assert listed[0]["decided_at"] == asked.json()["deadline"]
    floor = (await chair.get(f"/api/agenda-items/{item_id}/floor")).json()
    assert floor["closed"] is True
    late = await aaa.post(f"/api/assemblies/{world.assembly_id}/motions/objection")
    assert late.status_code == 409


async def test_a_motion_put_to_the_vote_asks_its_question_in_the_assemblys_language(
    make_client: ClientFactory, world: World
) -> None:
    """The question is the vote's stored, signed text: written once, in the language of the
    assembly, whatever language the chair's or the raiser's screen is in."""
    secretariat = await make_client(staff="secretariat")
    changed = await secretariat.patch(
        f"/api/assemblies/{world.assembly_id}", json={"language": "fr"}
    )
    assert changed.status_code == 200, changed.text
    await current_item(make_client, world, title="Débat général")
    aaa = await make_client(token=world.token["AAA-head"])
    motion = (await raise_motion(aaa, world, "close_list")).json()
    chair = await make_client(staff="chair")
    opened = await chair.post(
        f"/api/motions/{motion['id']}/vote", json={}, headers={"accept-language": "es"}
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["question"] == (
        "Clore la liste des orateurs sur «\u00a0Débat général\u00a0»\u00a0? (motion de AAA)"
    )
