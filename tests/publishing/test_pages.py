"""The public record's pages: anyone reads them without logging in; they show only what is
published (the secretariat and the chair also see what is held, marked), name nobody's choice in
a secret vote, carry no script, and stay small for a full assembly."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
import uuid
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from litestar import Litestar
from sqlalchemy import insert

from assembly.agenda import documents
from assembly.agenda import service as agenda
from assembly.agenda.amendments import Paragraph
from assembly.audit import log as audit_log
from assembly.audit.receipts import check_receipt
from assembly.cli import main
from assembly.credentials import service as credentials
from assembly.db import utcnow, writing
from assembly.voting import service as voting
from assembly.voting.models import Ballot, Participation, SecretChoice
from tests.audit.test_log import run_vote
from tests.conftest import ClientFactory, World, seed_world

MISSING_VOTE = "There is no published vote {} in this assembly."


async def set_policy(app: Litestar, world: World, policy: str) -> None:
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        await credentials.update_assembly(db, assembly, "test", {"publish_results": policy})
        await db.commit()


async def add_bylaws(app: Litestar, world: World) -> int:
    """The Bylaws in force at version 2 (an editorial change of version 1)."""
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        document, _ = await documents.create_document(
            db,
            assembly,
            "test",
            "Bylaws",
            "bylaws",
            "# Membership\n\nMembers pay dues yearly.\n\nThe board meets monthly.",
        )
        first = documents.paragraphs_of(await documents.current_version(db, document))
        changed = (first[0], Paragraph(first[1].id, "Members pay dues every year."), first[2])
        await documents.editorial_change(db, document, "test", "wording", changed)
        document.in_force_version = 2
        await db.commit()
        return document.id


def section(html: str, element_id: str) -> str:
    """The HTML of the table with this id."""
    match = re.search(rf'<table[^>]*id="{element_id}".*?</table>', html, re.DOTALL)
    assert match is not None, f"no table #{element_id}"
    return match.group(0)


def record_urls(world: World, vote_id: int) -> list[str]:
    base = f"/record/{world.assembly_id}"
    return [base, f"{base}/results", f"{base}/votes/{vote_id}"]


async def test_anyone_reads_the_record_without_a_login_and_without_script(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    now = utcnow()
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        sitting = await agenda.add_session(
            db,
            assembly,
            "test",
            "Plenary I",
            now - dt.timedelta(hours=1),
            now + dt.timedelta(hours=1),
        )
        await agenda.add_item(db, assembly, "test", "Opening", session_id=sitting.id)
        await db.commit()
        session_id = sitting.id
    document_id = await add_bylaws(app, world)
    named = await run_vote(make_client, world, {"AAA": "yes", "BBB": "no"})
    secret = await run_vote(make_client, world, {"AAA": "yes", "CCC": "no"}, secret=True)
    election = await run_vote(
        make_client,
        world,
        {"AAA": "c1", "BBB": "c2", "CCC": "c1"},
        kind="election",
        secret=True,
        candidates=["Ana Lima", "Bo Chen"],
    )
    await change(make_client, world, "session", session_id)
    public = await make_client()
    base = f"/record/{world.assembly_id}"
    pages = [
        base,
        f"{base}/results",
        f"{base}/votes/{named['id']}",
        f"{base}/votes/{secret['id']}",
        f"{base}/votes/{election['id']}",
        f"{base}/sessions/{session_id}",
        f"{base}/documents/{document_id}",
        f"{base}/documents/{document_id}/diff?old=1&new=2",
    ]
    for url in pages:
        response = await public.get(url)
        assert response.status_code == 200, (url, response.text[:2000])
        assert "<script" not in response.text, url
        assert 'style="' not in response.text, url
    overview = (await public.get(base)).text
    assert "Opening" in overview and "Plenary I" in overview and "Bylaws" in overview
    assert f"{base}/votes/{named['id']}/proof.tlog-proof" in overview
    assert f"/assemblies/{world.assembly_id}/log" in overview
    named_page = (await public.get(f"{base}/votes/{named['id']}")).text
    roll = section(named_page, f"vote-{named['id']}-roll-call")
    assert "did not vote" in roll and "NMO BBB" in roll
    elected = (await public.get(f"{base}/votes/{election['id']}")).text
    assert "Elected: Ana Lima" in elected and "Ana Lima (elected)" in elected
    diff = (await public.get(f"{base}/documents/{document_id}/diff?old=1&new=2")).text
    assert "<ins>" in diff and "<del>" in diff


async def change(
    make_client: ClientFactory, world: World, subject: str, subject_id: int, publish: bool = True
) -> dict[str, Any]:
    """The secretariat publishes (or holds) through the API, as its screen does."""
    office = await make_client(staff="secretariat")
    response = await office.post(
        f"/api/assemblies/{world.assembly_id}/publishing",
        json={"subject": subject, "id": subject_id, "publish": publish},
    )
    assert response.status_code == 200, response.text
    states: dict[str, Any] = response.json()
    return states


async def assert_hidden(client: Any, world: World, vote_id: int, question: str) -> None:
    base = f"/record/{world.assembly_id}"
    for url in (base, f"{base}/results"):
        response = await client.get(url)
        assert response.status_code == 200
        assert question not in response.text, url
        assert f"/votes/{vote_id}" not in response.text, url
    for url in (f"{base}/votes/{vote_id}", f"{base}/votes/{vote_id}/proof.tlog-proof"):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert MISSING_VOTE.format(vote_id) in response.text, url


async def assert_shown(client: Any, world: World, vote_id: int, question: str) -> None:
    base = f"/record/{world.assembly_id}"
    for url in (base, f"{base}/results", f"{base}/votes/{vote_id}"):
        response = await client.get(url)
        assert response.status_code == 200, url
        assert question in response.text, url
        assert "not published" not in response.text, url
    proof = await client.get(f"{base}/votes/{vote_id}/proof.tlog-proof")
    assert proof.status_code == 200


async def test_a_held_result_is_on_no_public_page_until_the_secretariat_publishes_it(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    await set_policy(app, world, "manual")
    vote = await run_vote(make_client, world, {"AAA": "yes", "BBB": "no"})
    question = vote["question"]
    public = await make_client()
    delegate = await make_client(token=world.token["AAA-head"])
    desk = await make_client(staff="desk")
    for client in (public, delegate, desk):
        await assert_hidden(client, world, vote["id"], question)
    # A held vote answers exactly as one that does not exist.
    missing = await public.get(f"/record/{world.assembly_id}/votes/9999")
    assert missing.status_code == 404 and MISSING_VOTE.format(9999) in missing.text

    for role in ("secretariat", "chair"):
        staff = await make_client(staff=role)
        page = await staff.get(f"/record/{world.assembly_id}/votes/{vote['id']}")
        assert page.status_code == 200 and question in page.text
        assert "not published: held" in page.text
        results = await staff.get(f"/record/{world.assembly_id}/results")
        assert question in results.text and "not published: held" in results.text

    await change(make_client, world, "vote", vote["id"])
    for client in (public, delegate, desk):
        await assert_shown(client, world, vote["id"], question)

    await change(make_client, world, "vote", vote["id"], publish=False)
    await assert_hidden(public, world, vote["id"], question)


async def test_with_the_session_end_policy_a_result_waits_for_the_end_of_its_session(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    await set_policy(app, world, "session_end")
    ends = utcnow() + dt.timedelta(seconds=3)
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        await agenda.add_session(
            db, assembly, "test", "Plenary I", ends - dt.timedelta(hours=1), ends
        )
        await db.commit()
    vote = await run_vote(make_client, world, {"AAA": "yes"})
    assert utcnow() < ends, "the vote took longer than the session: make the session longer"
    public = await make_client()
    await assert_hidden(public, world, vote["id"], vote["question"])
    staff = await make_client(staff="secretariat")
    marked = await staff.get(f"/record/{world.assembly_id}/votes/{vote['id']}")
    assert "not published, public from" in marked.text
    await asyncio.sleep(max(0.0, (ends - utcnow()).total_seconds()) + 0.1)
    await assert_shown(public, world, vote["id"], vote["question"])


async def test_a_secret_vote_shows_totals_and_trackers_and_never_an_nmo_next_to_a_choice(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    vote = await run_vote(
        make_client, world, {"AAA": "yes", "BBB": "no", "CCC": "abstain"}, secret=True
    )
    public = await make_client()
    page = (await public.get(f"/record/{world.assembly_id}/votes/{vote['id']}")).text
    trackers = section(page, f"vote-{vote['id']}-trackers")
    assert trackers.count("<tr>") == 1 + 3  # the header and three ballots
    assert re.findall(r"<code>([0-9a-f]{32})</code>", trackers) == sorted(
        re.findall(r"<code>([0-9a-f]{32})</code>", trackers)
    )
    for choice in ("Yes", "No", "Abstain"):
        assert f'<td data-label="Choice">{choice}</td>' in trackers
    totals = section(page, f"vote-{vote['id']}-totals")
    assert '<th scope="row">Yes</th><td class="num">1</td><td class="num">1</td>' in totals
    assert '<th scope="row">No</th><td class="num">2</td><td class="num">1</td>' in totals
    assert "roll-call" not in page
    for code in world.nmo:
        assert code not in trackers
        assert code not in page, f"{code} is on a secret vote's page"
    results = (await public.get(f"/record/{world.assembly_id}/results")).text
    for code in world.nmo:
        assert code not in results
    proof = await public.get(f"/record/{world.assembly_id}/votes/{vote['id']}/proof.tlog-proof")
    entry = check_receipt(proof.text, app.state.ctx.audit_key.verifier_key).entry
    assert entry["type"] == "vote_result"
    for code in world.nmo:
        assert code not in str(entry)


async def test_the_proof_of_a_result_checks_offline_against_the_verifier_key(
    app: Litestar, make_client: ClientFactory, world: World, tmp_path: Path
) -> None:
    vote = await run_vote(make_client, world, {"AAA": "yes", "BBB": "yes"})
    public = await make_client()
    response = await public.get(f"/record/{world.assembly_id}/votes/{vote['id']}/proof.tlog-proof")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "attachment" in response.headers["content-disposition"]
    key = app.state.ctx.audit_key.verifier_key
    receipt = check_receipt(response.text, key)
    assert receipt.kind == "vote_result" and receipt.vote == vote["id"]
    assert receipt.entry["result"]["adopted"] is True
    assert "The result of vote" in receipt.describe() and "adopted" in receipt.describe()
    proof_file = tmp_path / f"vote-{vote['id']}-result.tlog-proof"
    proof_file.write_bytes(response.content)
    done = CliRunner().invoke(main, ["audit", "receipt", str(proof_file), "--key", key])
    assert done.exit_code == 0, done.output
    assert f"The result of vote {vote['id']}: " in done.output and "it holds" in done.output
    tampered = tmp_path / "tampered.tlog-proof"
    tampered.write_text(response.text.replace("index ", "index 1", 1))
    refused = CliRunner().invoke(main, ["audit", "receipt", str(tampered), "--key", key])
    assert refused.exit_code == 1 and "FAIL" in refused.output
    overview = (await public.get(f"/record/{world.assembly_id}")).text
    assert key in overview


async def seed_full_assembly(app: Litestar, nmos: int, votes: int, secret_every: int) -> World:
    """`nmos` Full Members present, and `votes` closed motions in which every NMO voted;
    ballots go straight into their tables, the votes close through the voting service."""
    world = await seed_world(
        app, nmos=[(f"N{i:03d}", "full", 1 + i % 3) for i in range(nmos)], check_in=True
    )
    ctx = app.state.ctx
    choices = ("yes", "no", "abstain")
    async with writing(ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        for number in range(votes):
            secret = number % secret_every == 0
            vote = await voting.create_vote(
                db,
                assembly,
                "test",
                voting.VoteSpec(
                    question=f"Motion {number + 1}: that the federation adopts proposal {number}",
                    secret=secret,
                ),
            )
            electorate = await voting.open_vote(db, vote, "test")
            now = utcnow()
            rows = [
                {
                    "vote_id": vote.id,
                    "nmo_id": e.nmo_id,
                    "client_ballot_id": uuid.uuid4().hex,
                    "cast_by_delegate_id": e.cast_by_delegate_id,
                    "receipt": uuid.uuid4().hex[:12].upper(),
                    "cast_at": now,
                }
                for e in electorate
            ]
            marks = [f'["{choices[(i + number) % 3]}"]' for i in range(len(electorate))]
            if secret:
                await db.execute(insert(Participation), rows)
                await db.execute(
                    insert(SecretChoice),
                    [
                        {
                            "id": uuid.uuid4().int >> 65,
                            "vote_id": vote.id,
                            "choice": mark,
                            "weight": e.weight,
                            "tracker": uuid.uuid4().hex,
                        }
                        for e, mark in zip(electorate, marks, strict=True)
                    ],
                )
            else:
                await db.execute(
                    insert(Ballot),
                    [
                        {**row, "choice": mark, "weight": e.weight}
                        for row, e, mark in zip(rows, electorate, marks, strict=True)
                    ],
                )
            await voting.close_vote(db, vote, "test")
        await audit_log.sign_checkpoint(
            db, ctx.audit_key, ctx.settings.public_url, world.assembly_id
        )
        await db.commit()
    return world


async def test_the_results_of_130_nmos_and_100_votes_stay_under_300_kb_without_script(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_full_assembly(app, nmos=130, votes=100, secret_every=10)
    public = await make_client()
    started = time.perf_counter()
    response = await public.get(f"/record/{world.assembly_id}/results")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    size = len(response.content)
    print(f"results page: {size} bytes for 130 NMOs and 100 votes, in {elapsed:.2f} s")
    assert size < 300_000
    assert "<script" not in response.text
    assert response.text.count('class="record-vote ') == 100
    assert response.text.count("proof.tlog-proof") == 100
    # Roll calls are on the votes' own pages, not here.
    assert "roll-call" not in response.text
    vote_page = await public.get(f"/record/{world.assembly_id}/votes/2")
    assert vote_page.status_code == 200 and vote_page.text.count('class="num">') > 130
