"""Amendments from proposal to adopted text, through the JSON API: deadlines, second degree,
conflicts, voting order, withdrawal and merge, the final vote and the version it makes."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from litestar import Litestar
from sqlalchemy import select

from assembly.agenda.models import Amendment, AmendmentEvent, Document
from assembly.audit.record import text_hash
from assembly.credentials.models import Assembly
from assembly.db import writing
from tests.conftest import ClientFactory, World

POLICY = """# Climate and Health

The federation recognises climate change as a health emergency.

Medical schools should teach planetary health.

NMOs should reduce the carbon footprint of their events.
"""
# p1 heading, p2 recognises, p3 schools, p4 NMOs


async def new_document(client: Any, world: World, kind: str = "policy", text: str = POLICY) -> int:
    response = await client.post(
        f"/api/assemblies/{world.assembly_id}/documents",
        json={"title": "Climate and Health", "kind": kind, "text": text},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["document"]["id"])


async def propose(client: Any, document_id: int, *changes: dict[str, Any], **extra: Any) -> Any:
    return await client.post(
        f"/api/documents/{document_id}/amendments", json={"changes": list(changes), **extra}
    )


async def proposed(client: Any, document_id: int, *changes: dict[str, Any], **extra: Any) -> Any:
    response = await propose(client, document_id, *changes, **extra)
    assert response.status_code == 201, response.text
    return response.json()


async def vote_on(
    make_client: ClientFactory, world: World, chair: Any, vote_id: int, choices: dict[str, str]
) -> dict[str, Any]:
    for code, choice in choices.items():
        phone = await make_client(token=world.token[f"{code}-head"])
        ballot = {"nmo_id": world.nmo[code], "ballot_id": uuid.uuid4().hex, "choice": choice}
        cast = await phone.post(f"/api/votes/{vote_id}/ballots", json={"ballots": [ballot]})
        assert cast.status_code == 200, cast.text
    closed = await chair.post(f"/api/votes/{vote_id}/close")
    assert closed.status_code == 200, closed.text
    result: dict[str, Any] = closed.json()["result"]
    return result


ADOPT = {"AAA": "yes", "BBB": "yes", "CCC": "yes"}
REJECT = {"AAA": "yes", "BBB": "no"}


async def amendments(client: Any, document_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/documents/{document_id}/amendments")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_policy_through_two_amendments_to_its_adopted_version(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    chair = await make_client(staff="chair")
    head = await make_client(token=world.token["AAA-head"])
    doc = await new_document(secretariat, world)
    fresh = (await secretariat.get(f"/api/documents/{doc}")).json()
    assert fresh["document"]["in_force_version"] is None  # a proposal until adopted

    a1 = await proposed(
        head,
        doc,
        {
            "op": "replace",
            "paragraph_id": "p3",
            "text": "Every medical school must teach planetary health.",
        },
        rationale="Stronger wording.",
        cosponsors=[world.nmo["BBB"]],
    )
    assert a1["label"] == "A1" and a1["nmo_code"] == "AAA" and a1["cosponsors"] == ["BBB"]
    assert a1["state"] == "submitted" and a1["late"] is False
    assert a1["changes"][0]["paragraph_number"] == 3
    assert ("delete", "Medical schools should ") in [tuple(w) for w in a1["changes"][0]["words"]]
    a2 = await proposed(
        await make_client(token=world.token["BBB-head"]),
        doc,
        {"op": "insert", "after": "p4", "text": "The secretariat reports on progress yearly."},
        {"op": "delete", "paragraph_id": "p2"},
    )
    assert [c["new_id"] for c in a2["changes"]] == ["A2.1", None]

    # Only an admitted amendment is voted on.
    early = await chair.post(f"/api/amendments/{a1['id']}/vote")
    assert early.status_code == 409 and "only an admitted amendment" in early.json()["message"]
    for a in (a1, a2):
        assert (await chair.post(f"/api/amendments/{a['id']}/admit")).status_code == 200

    # The final vote waits for every amendment.
    waiting = await chair.post(f"/api/documents/{doc}/final-vote")
    assert waiting.status_code == 409 and "A1, A2" in waiting.json()["message"]

    vote = (await chair.post(f"/api/amendments/{a1['id']}/vote")).json()
    assert vote["state"] == "open" and vote["rule"] == "simple"
    assert vote["subject_kind"] == "amendment" and vote["subject_id"] == a1["id"]
    assert "Every medical school must teach" in vote["description"]
    again = await chair.post(f"/api/amendments/{a1['id']}/vote")
    assert again.status_code == 409 and "already being voted on" in again.json()["message"]
    assert (await vote_on(make_client, world, chair, vote["id"], ADOPT))["adopted"] is True
    vote = (await chair.post(f"/api/amendments/{a2['id']}/vote")).json()
    assert (await vote_on(make_client, world, chair, vote["id"], REJECT))["adopted"] is False

    listed = await amendments(chair, doc)
    assert {a["label"]: a["state"] for a in listed["amendments"]} == {
        "A1": "adopted",
        "A2": "rejected",
    }
    final = (await chair.post(f"/api/documents/{doc}/final-vote")).json()
    assert final["rule"] == "two_thirds" and final["subject_kind"] == "document"
    assert final["question"] == "Adopt “Climate and Health” as amended by A1?"
    assert (await vote_on(make_client, world, chair, final["id"], ADOPT))["adopted"] is True

    adopted = (await head.get(f"/api/documents/{doc}")).json()
    assert adopted["document"]["current_version"] == 2
    assert adopted["document"]["in_force_version"] == 2
    assert adopted["reason"] == f"adopted by vote {final['id']} with amendments A1"
    assert [p["text"] for p in adopted["paragraphs"]] == [
        "# Climate and Health",
        "The federation recognises climate change as a health emergency.",
        "Every medical school must teach planetary health.",
        "NMOs should reduce the carbon footprint of their events.",
    ]
    # The log holds what each vote was about and the text adopted, with its hash.
    entries = (await chair.get(f"/api/assemblies/{world.assembly_id}/log/entries")).json()
    logged = [json.loads(e["data"]) for e in entries]
    voted = [e for e in logged if e["type"] == "amendment_voted"]
    assert [(e["amendment"], e["changes"][0]["op"]) for e in voted] == [
        ("A1", "replace"),
        ("A2", "insert"),
    ]
    [text_voted] = [e for e in logged if e["type"] == "text_voted"]
    [text_adopted] = [e for e in logged if e["type"] == "text_adopted"]
    assert text_voted["text_sha256"] == text_adopted["text_sha256"]
    assert text_adopted["version"] == 2 and text_adopted["paragraphs"][2]["id"] == "p3"
    assert text_adopted["text_sha256"] == text_hash(text_adopted["paragraphs"])
    diff = (await secretariat.get(f"/api/documents/{doc}/diff?from=1&to=2")).json()
    changed = [p for p in diff["paragraphs"] if p["status"] != "unchanged"]
    assert [(p["id"], p["status"]) for p in changed] == [("p3", "changed")]
    # After the final vote no more amendments.
    late = await propose(head, doc, {"op": "delete", "paragraph_id": "p2"})
    assert late.status_code == 409 and "can no longer be amended" in late.json()["message"]
    twice = await chair.post(f"/api/documents/{doc}/final-vote")
    assert twice.status_code == 409 and "already taken its final vote" in twice.json()["message"]


async def test_a_rejected_final_vote_leaves_the_old_version_in_force(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    chair = await make_client(staff="chair")
    bylaws = await new_document(secretariat, world, kind="bylaws", text="One.\n\nTwo.")
    async with writing(secretariat.app.state.ctx.session_maker) as db:
        assembly = await db.get(Assembly, world.assembly_id)
        assert assembly is not None
        assembly.starts_on = dt.date.today() + dt.timedelta(days=60)
        await db.commit()
    a1 = await proposed(
        secretariat,
        bylaws,
        {"op": "replace", "paragraph_id": "p2", "text": "Two, amended."},
        nmo_id=world.nmo["CCC"],
    )
    await chair.post(f"/api/amendments/{a1['id']}/admit")
    vote = (await chair.post(f"/api/amendments/{a1['id']}/vote")).json()
    await vote_on(make_client, world, chair, vote["id"], ADOPT)
    final = (await chair.post(f"/api/documents/{bylaws}/final-vote")).json()
    assert final["description"].endswith("version 1 stays in force.")
    assert (await vote_on(make_client, world, chair, final["id"], REJECT))["adopted"] is False
    document = (await chair.get(f"/api/documents/{bylaws}")).json()
    assert document["document"]["current_version"] == 1
    assert document["document"]["in_force_version"] == 1
    assert [p["text"] for p in document["paragraphs"]] == ["One.", "Two."]


async def test_second_degree_amendments_are_voted_first_and_reword_the_first(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    chair = await make_client(staff="chair")
    doc = await new_document(secretariat, world)
    aaa = await make_client(token=world.token["AAA-head"])
    bbb = await make_client(token=world.token["BBB-head"])
    a1 = await proposed(aaa, doc, {"op": "insert", "after": "p4", "text": "Report yearly."})
    a2 = await proposed(
        bbb,
        doc,
        {"op": "replace", "paragraph_id": "A1.1", "text": "Report every six months."},
        amends=a1["id"],
    )
    assert a2["degree"] == 2 and a2["amends_label"] == "A1"
    third = await propose(
        aaa, doc, {"op": "replace", "paragraph_id": "A1.1", "text": "Never."}, amends=a2["id"]
    )
    assert third.status_code == 422 and "third degree is not allowed" in third.json()["message"]
    wrong = await propose(
        aaa, doc, {"op": "insert", "after": "p2", "text": "More."}, amends=a1["id"]
    )
    assert wrong.status_code == 422 and "only reword" in wrong.json()["message"]
    for a in (a1, a2):
        await chair.post(f"/api/amendments/{a['id']}/admit")
    waiting = {a["label"]: a for a in (await amendments(chair, doc))["amendments"]}
    assert waiting["A1"]["votable"] is False and waiting["A2"]["votable"] is True
    out_of_order = await chair.post(f"/api/amendments/{a1['id']}/vote")
    assert out_of_order.status_code == 409
    assert "First decide the amendments to A1 (A2)" in out_of_order.json()["message"]
    assert [a["label"] for a in (await amendments(chair, doc))["amendments"]] == ["A2", "A1"]

    vote = (await chair.post(f"/api/amendments/{a2['id']}/vote")).json()
    assert "to amendment A1" in vote["question"]
    await vote_on(make_client, world, chair, vote["id"], ADOPT)
    vote = (await chair.post(f"/api/amendments/{a1['id']}/vote")).json()
    assert "Report every six months." in vote["description"]  # A1 as amended by A2
    await vote_on(make_client, world, chair, vote["id"], ADOPT)
    decided = {a["label"]: a for a in (await amendments(chair, doc))["amendments"]}
    # Once adopted, A1 still shows what the plenary adopted: its text as reworded by A2.
    assert decided["A1"]["state"] == "adopted"
    assert decided["A1"]["changes"][0]["text"] == "Report every six months."
    # The proposer can no longer revise what the plenary reworded.
    final = (await chair.post(f"/api/documents/{doc}/final-vote")).json()
    await vote_on(make_client, world, chair, final["id"], ADOPT)
    text = [p["text"] for p in (await chair.get(f"/api/documents/{doc}")).json()["paragraphs"]]
    assert text[-1] == "Report every six months."
    assert (await chair.get(f"/api/documents/{doc}")).json()["paragraphs"][-1]["id"] == "A1.1"


async def test_conflicting_amendments_show_why_and_the_proposer_revises(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    chair = await make_client(staff="chair")
    doc = await new_document(secretariat, world)
    aaa = await make_client(token=world.token["AAA-head"])
    bbb = await make_client(token=world.token["BBB-head"])
    a1 = await proposed(aaa, doc, {"op": "replace", "paragraph_id": "p3", "text": "Schools must."})
    a2 = await proposed(bbb, doc, {"op": "replace", "paragraph_id": "p3", "text": "Schools may."})
    a3 = await proposed(bbb, doc, {"op": "delete", "paragraph_id": "p3"})
    for a in (a1, a2, a3):
        await chair.post(f"/api/amendments/{a['id']}/admit")
    vote = (await chair.post(f"/api/amendments/{a1['id']}/vote")).json()
    await vote_on(make_client, world, chair, vote["id"], ADOPT)

    listed = {a["label"]: a for a in (await amendments(chair, doc))["amendments"]}
    assert listed["A2"]["votable"] is False
    assert "which an earlier amendment changed" in listed["A2"]["problems"][0]
    assert "now reads “Schools must.”" in listed["A2"]["problems"][0]
    refused = await chair.post(f"/api/amendments/{a2['id']}/vote")
    assert refused.status_code == 409 and "The proposer can revise it" in refused.json()["message"]

    # Someone else cannot revise it; its proposer can, against the new text.
    other = await aaa.post(
        f"/api/amendments/{a2['id']}/revise",
        json={"changes": [{"op": "replace", "paragraph_id": "p3", "text": "x"}]},
    )
    assert other.status_code == 403 and "head of delegation" in other.json()["message"]
    revised = await bbb.post(
        f"/api/amendments/{a2['id']}/revise",
        json={
            "changes": [{"op": "replace", "paragraph_id": "p3", "text": "Schools may, and should."}]
        },
    )
    assert revised.status_code == 200, revised.text
    body = revised.json()
    assert body["problems"] == [] and body["votable"] is True
    assert body["changes"][0]["base_text"] == "Schools must."
    assert [e["kind"] for e in body["events"]] == ["submitted", "admitted", "revised"]
    # The delete written against the old text also conflicts; withdrawing it clears it.
    assert listed["A3"]["problems"]
    assert (await bbb.post(f"/api/amendments/{a3['id']}/withdraw")).json()["state"] == "withdrawn"
    again = await bbb.post(f"/api/amendments/{a3['id']}/withdraw")
    assert again.status_code == 409 and "A3 is withdrawn" in again.json()["message"]


async def test_withdrawal_takes_the_amendments_to_it_along_and_merge_applies_without_a_vote(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    chair = await make_client(staff="chair")
    doc = await new_document(secretariat, world)
    aaa = await make_client(token=world.token["AAA-head"])
    bbb = await make_client(token=world.token["BBB-head"])
    a1 = await proposed(aaa, doc, {"op": "replace", "paragraph_id": "p4", "text": "NMOs act."})
    a2 = await proposed(
        bbb, doc, {"op": "replace", "paragraph_id": "p4", "text": "NMOs act now."}, amends=a1["id"]
    )
    cannot = await bbb.post(f"/api/amendments/{a1['id']}/withdraw")
    assert cannot.status_code == 403
    gone = await aaa.post(f"/api/amendments/{a1['id']}/withdraw")
    assert gone.status_code == 200 and gone.json()["state"] == "withdrawn"
    second = (await chair.get(f"/api/amendments/{a2['id']}")).json()
    assert second["state"] == "withdrawn"
    assert "falls with A1" in second["events"][-1]["note"]

    a3 = await proposed(aaa, doc, {"op": "replace", "paragraph_id": "p2", "text": "It is."})
    not_yet = await chair.post(f"/api/amendments/{a3['id']}/merge")
    assert not_yet.status_code == 409 and "only an admitted amendment" in not_yet.json()["message"]
    await chair.post(f"/api/amendments/{a3['id']}/admit")
    merged = (await chair.post(f"/api/amendments/{a3['id']}/merge")).json()
    assert merged["state"] == "merged"
    assert "no delegation objected" in merged["events"][-1]["note"]
    # Merged text is the base of new amendments, and of the final vote.
    a4 = await proposed(aaa, doc, {"op": "replace", "paragraph_id": "p2", "text": "It is so."})
    assert a4["changes"][0]["base_text"] == "It is."
    await chair.post(f"/api/amendments/{a4['id']}/refuse", json={"ruling": "Out of scope."})
    final = (await chair.post(f"/api/documents/{doc}/final-vote")).json()
    assert final["question"] == "Adopt “Climate and Health” as amended by A3?"
    await vote_on(make_client, world, chair, final["id"], ADOPT)
    paragraphs = (await chair.get(f"/api/documents/{doc}")).json()["paragraphs"]
    assert paragraphs[1]["text"] == "It is."


async def test_deadlines_per_kind_and_the_chairs_ruling_on_late_amendments(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    chair = await make_client(staff="chair")
    constitution = await new_document(secretariat, world, kind="constitution", text="Art. 1.")
    policy = await new_document(secretariat, world)
    head = await make_client(token=world.token["AAA-head"])
    change = {"op": "replace", "paragraph_id": "p1", "text": "Article 1."}
    unknown = await propose(head, constitution, change)
    assert unknown.status_code == 409 and "no start date" in unknown.json()["message"]

    async with writing(app.state.ctx.session_maker) as db:
        assembly = await db.get(Assembly, world.assembly_id)
        assert assembly is not None
        # Constitution: 90 days before; bylaws: 30 days. The assembly starts in 60 days.
        assembly.starts_on = dt.date.today() + dt.timedelta(days=60)
        assembly.policy_amendment_deadline = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        await db.commit()
    late = await proposed(head, constitution, change)
    assert late["late"] is True and late["state"] == "submitted"
    assert "late: the deadline was" in late["events"][0]["note"]
    on_time = await proposed(head, policy, {"op": "delete", "paragraph_id": "p4"})
    assert on_time["late"] is False
    listed = await amendments(head, constitution)
    expected = dt.datetime.combine(
        dt.date.today() + dt.timedelta(days=60), dt.time(0), tzinfo=dt.UTC
    ) - dt.timedelta(days=90)
    assert dt.datetime.fromisoformat(listed["deadline"]) == expected

    no_reason = await chair.post(f"/api/amendments/{late['id']}/admit", json={"ruling": " "})
    assert no_reason.status_code == 422 and "give the reason" in no_reason.json()["message"]
    admitted = await chair.post(
        f"/api/amendments/{late['id']}/admit", json={"ruling": "Editorial; no objection."}
    )
    event = admitted.json()["events"][-1]
    assert event["kind"] == "admitted_late" and event["note"] == "Editorial; no objection."
    assert event["actor"] == "chair:chair"
    entries = (await chair.get(f"/api/assemblies/{world.assembly_id}/log/entries")).json()
    [ruling] = [json.loads(e["data"]) for e in entries if e["kind"] == "late_amendment_admitted"]
    assert (ruling["amendment"], ruling["nmo"]) == ("A1", "AAA")
    assert ruling["ruling"] == "Editorial; no objection." and ruling["by"] == "chair:chair"
    assert (await head.post(f"/api/amendments/{late['id']}/admit")).status_code == 403

    async with writing(app.state.ctx.session_maker) as db:
        assembly = await db.get(Assembly, world.assembly_id)
        assert assembly is not None
        assembly.policy_amendment_deadline = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        await db.commit()
    after = await proposed(head, policy, {"op": "delete", "paragraph_id": "p3"})
    assert after["late"] is True
    ruled_out = await chair.post(
        f"/api/amendments/{after['id']}/refuse", json={"ruling": "Late, and not urgent."}
    )
    assert ruled_out.json()["state"] == "rejected"
    assert ruled_out.json()["events"][-1]["kind"] == "ruled_out"


async def test_refusals_say_what_is_wrong_and_store_nothing(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    doc = await new_document(secretariat, world)
    head = await make_client(token=world.token["AAA-head"])
    member = await make_client(token=world.token["AAA-del"])
    suspended = await make_client(token=world.token["EEE-head"])
    cases = [
        (
            member,
            {"changes": [{"op": "delete", "paragraph_id": "p2"}]},
            403,
            "Only the head of delegation of AAA",
        ),
        (suspended, {"changes": [{"op": "delete", "paragraph_id": "p2"}]}, 403, "suspended"),
        (head, {"changes": []}, 422, "at least one change"),
        (
            head,
            {"changes": [{"op": "move", "paragraph_id": "p2"}]},
            422,
            "must be replace, insert or delete",
        ),
        (
            head,
            {"changes": [{"op": "replace", "paragraph_id": "p9", "text": "x"}]},
            422,
            "no paragraph 'p9'",
        ),
        (
            head,
            {"changes": [{"op": "replace", "paragraph_id": "p2", "text": "  "}]},
            422,
            "the new text is empty",
        ),
        (
            head,
            {
                "changes": [
                    {
                        "op": "replace",
                        "paragraph_id": "p2",
                        "text": "The federation recognises climate change as a health emergency.",
                    }
                ]
            },
            422,
            "same as the current one",
        ),
        (
            head,
            {
                "changes": [
                    {"op": "delete", "paragraph_id": "p2"},
                    {"op": "replace", "paragraph_id": "p2", "text": "y"},
                ]
            },
            422,
            "changed twice",
        ),
        (
            head,
            {"changes": [{"op": "insert", "after": "p7", "text": "y"}]},
            422,
            "no paragraph 'p7' to insert after",
        ),
        (
            head,
            {"changes": [{"op": "delete", "paragraph_id": "p2"}], "cosponsors": [world.nmo["AAA"]]},
            422,
            "cannot also co-sponsor",
        ),
        (
            head,
            {"changes": [{"op": "delete", "paragraph_id": "p2"}], "amends": 999},
            422,
            "is not an amendment to",
        ),
        (secretariat, {"changes": [{"op": "delete", "paragraph_id": "p2"}]}, 422, "Name the NMO"),
        (head, {"changes": [{"op": "delete", "paragraph_id": "p2"}], "colour": "red"}, 400, ""),
    ]
    for client, body, status, message in cases:
        response = await client.post(f"/api/documents/{doc}/amendments", json=body)
        assert response.status_code == status, (body, response.text)
        assert message in response.text, (message, response.text)
    async with writing(app.state.ctx.session_maker) as db:
        assert (await db.execute(select(Amendment))).first() is None
        assert (await db.execute(select(AmendmentEvent))).first() is None
        assert (await db.get(Document, doc)) is not None
