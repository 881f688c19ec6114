"""The audit log where people see it: the projector shows each published result with the short
root and a QR code of the checkpoint signed at that vote's close (live and on reload), the chair
sees the short root; the public log page shows the key, the checkpoints and the witnesses'
cosignatures without a login, and its checkpoint.txt is the stored signed note."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import segno
from litestar import Litestar
from sqlalchemy import select

from assembly.app import create_app
from assembly.audit import keys, log, notes
from assembly.audit import screens as audit_screens
from assembly.audit.models import AuditCheckpoint, AuditCosignature, AuditEntry, AuditWitness
from assembly.db import writing
from assembly.live import broadcast
from assembly.settings import Settings
from tests.audit.test_log import run_vote
from tests.audit.test_verify import PASSPHRASE
from tests.conftest import ClientFactory, World
from tests.voting.test_screens import HX, section, text_of


@pytest.fixture
async def app(settings: Settings, tmp_path: Path) -> AsyncIterator[Litestar]:
    """The app with a sealed key file, as `serve` runs it: its key is the one published."""
    key_file = tmp_path / "audit-key.json"
    private_key, _ = keys.generate("testserver.local")
    key_file.write_bytes(keys.seal(private_key, PASSPHRASE, name="testserver.local", n=2**15))
    application = create_app(
        replace(settings, audit_key_file=key_file, audit_passphrase=PASSPHRASE)
    )
    yield application
    await application.state.ctx.engine.dispose()


async def covering_checkpoint(app: Litestar, assembly_id: int, vote_id: int) -> AuditCheckpoint:
    """Found here from the stored rows: the vote's "vote_result" entry, and the smallest
    checkpoint whose tree includes it."""
    async with writing(app.state.ctx.session_maker) as db:
        results = (
            await db.execute(
                select(AuditEntry).where(
                    AuditEntry.assembly_id == assembly_id, AuditEntry.kind == "vote_result"
                )
            )
        ).scalars()
        [entry] = [e for e in results if json.loads(e.data)["vote"] == vote_id]
        signed = (
            await db.execute(
                select(AuditCheckpoint).where(AuditCheckpoint.assembly_id == assembly_id)
            )
        ).scalars()
        return min((c for c in signed if c.size > entry.seq), key=lambda c: c.size)


async def stored_checkpoints(app: Litestar, assembly_id: int) -> list[AuditCheckpoint]:
    async with writing(app.state.ctx.session_maker) as db:
        query = (
            select(AuditCheckpoint)
            .where(AuditCheckpoint.assembly_id == assembly_id)
            .order_by(AuditCheckpoint.size)
        )
        return list((await db.execute(query)).scalars())


def qr_of(note: str) -> str:
    """The QR code of a note drawn independently of the server's helper: a page that holds
    exactly this SVG carries exactly this note."""
    qr = segno.make_qr(note, error="m")
    return str(qr.svg_inline(scale=1, dark="#000", light="#fff", svgclass="qr-code", omitsize=True))


def part(page: str, heading_id: str) -> str:
    """The section of a page under the heading with this id."""
    return page.split(f'id="{heading_id}"', 1)[1].split("</section>", 1)[0]


def captured_pushes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every fragment published to the screens from now on (and still published), in English:
    a shared fragment is also published in French and Spanish, to their topics."""
    pushed: list[str] = []
    publish = broadcast.publish

    def spy(ctx: Any, topic: str, fragment: str) -> None:
        if not topic.endswith((":fr", ":es")):
            pushed.append(fragment)
        publish(ctx, topic, fragment)

    monkeypatch.setattr(broadcast, "publish", spy)
    return pushed


async def test_the_projector_shows_the_short_root_and_qr_of_the_checkpoint_signed_at_the_close(
    app: Litestar, make_client: ClientFactory, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await run_vote(make_client, world, {"AAA": "yes", "BBB": "no", "CCC": "yes"})
    second = await run_vote(make_client, world, {"AAA": "no", "BBB": "yes"}, secret=True)
    at_first = await covering_checkpoint(app, world.assembly_id, first["id"])
    at_second = await covering_checkpoint(app, world.assembly_id, second["id"])
    # Each close signs its own checkpoint: the first result's is not the latest one.
    assert at_first.size < at_second.size
    assert notes.short_root(at_first.root) != notes.short_root(at_second.root)

    chair = await make_client(staff="chair")
    pushed = captured_pushes(monkeypatch)
    published = await chair.post(
        f"/chair/votes/{first['id']}/projector", data={"show": "1"}, headers=HX
    )
    assert published.status_code == 200, published.text

    # Live: the panel pushed to every screen when the chair publishes carries the short root
    # (the QR code is drawn only by the projector's own fetch, which the push triggers).
    [panel] = [p for p in pushed if 'id="vote-panel"' in p]
    assert f'data-vote-id="{first["id"]}"' in panel
    short = notes.short_root(at_first.root)
    assert f"Audit log checkpoint {short}" in text_of(section(panel, "vote-panel"))
    assert "<svg" not in panel.split("result-checkpoint", 1)[1]

    # The projector's fetch (after the push, after a reconnect, and on reload).
    public = await make_client()
    shown = (await public.get(f"/projector/{world.assembly_id}/vote")).text
    assert "Adopted" in shown
    checkpoint = section(shown, "vote-panel").split('class="result-checkpoint"', 1)[1]
    assert re.search(rf'<code class="short-root">{short}</code>', checkpoint)
    assert notes.short_root(at_second.root) not in shown
    assert qr_of(at_first.note) in checkpoint
    assert re.search(r'<div class="qr" role="img" aria-label="QR code of the signed', checkpoint)
    page = (await public.get(f"/projector/{world.assembly_id}")).text
    assert f'hx-get="/projector/{world.assembly_id}/vote"' in page

    # The chair's panel shows the short root of the same checkpoint, without the QR code.
    chair_page = (
        await chair.get("/chair/votes", params={"assembly": world.assembly_id, "vote": first["id"]})
    ).text
    chair_panel = section(chair_page, "vote-panel")
    assert f"Audit log checkpoint {short}" in text_of(chair_panel)
    assert 'class="qr"' not in chair_panel
    assert f'href="/assemblies/{world.assembly_id}/log"' in chair_panel


async def test_a_vote_closed_from_the_chair_screen_shows_its_checkpoint_at_once(
    app: Litestar, make_client: ClientFactory, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    chair = await make_client(staff="chair")
    vote = (
        await chair.post(
            f"/api/assemblies/{world.assembly_id}/votes", json={"question": "Adopt the minutes?"}
        )
    ).json()
    await chair.post(f"/chair/votes/{vote['id']}/projector", data={"show": "1"}, headers=HX)
    await chair.post(f"/chair/votes/{vote['id']}/open", headers=HX)
    phone = await make_client(token=world.token["AAA-head"])
    ballot = {"nmo_id": world.nmo["AAA"], "ballot_id": "b" * 32, "choice": "yes"}
    cast = await phone.post(f"/api/votes/{vote['id']}/ballots", json={"ballots": [ballot]})
    assert cast.status_code == 200, cast.text
    pushed = captured_pushes(monkeypatch)
    closed = await chair.post(
        f"/chair/votes/{vote['id']}/close", data={"confirmed": "1"}, headers=HX
    )
    assert closed.status_code == 200, closed.text
    short = notes.short_root((await covering_checkpoint(app, world.assembly_id, vote["id"])).root)
    # The chair's own answer, the push to every screen and the projector all show it.
    assert f"Audit log checkpoint {short}" in text_of(closed.text)
    [panel] = [p for p in pushed if 'id="vote-panel"' in p]
    assert f"Audit log checkpoint {short}" in text_of(panel)
    projector = (await (await make_client()).get(f"/projector/{world.assembly_id}/vote")).text
    assert f'<code class="short-root">{short}</code>' in projector and "<svg" in projector


async def test_the_qr_code_carries_the_stored_signed_note(
    app: Litestar, make_client: ClientFactory, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    vote = await run_vote(make_client, world, {"AAA": "yes", "BBB": "yes"})
    stored = await covering_checkpoint(app, world.assembly_id, vote["id"])
    encoded: list[tuple[str, str]] = []
    make_qr = segno.make_qr

    def spy(content: str, **options: Any) -> segno.QRCode:
        encoded.append((content, options["error"]))
        return make_qr(content, **options)

    monkeypatch.setattr(segno, "make_qr", spy)
    audit_screens.checkpoint_qr.cache_clear()
    async with writing(app.state.ctx.session_maker) as db:
        view = await audit_screens.vote_checkpoint(db, world.assembly_id, vote["id"])
    assert view is not None
    assert (view.size, view.note) == (stored.size, stored.note)
    assert view.short_root == notes.short_root(stored.root)
    svg = str(view.qr)
    assert encoded == [(stored.note, "m")]
    assert svg.startswith('<svg viewBox="0 0 ') and 'class="qr-code"' in svg
    # The note verifies with the published key: what the room scans is a real checkpoint.
    verifier = notes.parse_verifier_key(app.state.ctx.audit_key.verifier_key)
    body, signers = notes.open_note(view.note, [verifier])
    assert signers == [verifier.name] and notes.Checkpoint.parse(body).root == stored.root


async def test_an_older_votes_checkpoint_is_found_among_many_results(
    app: Litestar, make_client: ClientFactory, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    votes = [await run_vote(make_client, world, {"AAA": "yes"}) for _ in range(3)]
    monkeypatch.setattr(log, "RESULTS_AT_A_TIME", 1)  # one result a page: the oldest is last
    async with app.state.ctx.session_maker() as db:  # reads only
        for vote in votes:
            view = await audit_screens.vote_checkpoint(db, world.assembly_id, vote["id"])
            stored = await covering_checkpoint(app, world.assembly_id, vote["id"])
            assert view is not None and (view.size, view.note) == (stored.size, stored.note)
        unknown = max(v["id"] for v in votes) + 1
        assert await audit_screens.vote_checkpoint(db, world.assembly_id, unknown) is None


def test_a_long_checkpoint_still_makes_a_qr_code_a_phone_reads_on_a_projector() -> None:
    name = "general-assembly.a-federation-with-a-rather-long-domain-name.example.org"
    private_key, _ = keys.generate(name)
    body = notes.Checkpoint(f"{name}/assembly/12345", 2**40, b"\x01" * 32).body()
    note = notes.sign_note(body, name, private_key)
    assert len(note.encode()) > 300
    svg = str(audit_screens.checkpoint_qr(note))
    side = int(re.match(r'<svg viewBox="0 0 (\d+) \1"', svg)[1])  # type: ignore[index]
    # At most version 15 (77 modules) plus the quiet zone of 4 on each side.
    assert side <= 77 + 8


async def test_the_public_log_page_shows_key_checkpoints_witnesses_and_cosignatures(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    public = await make_client()  # nobody logged in
    empty = await public.get(f"/assemblies/{world.assembly_id}/log")
    assert empty.status_code == 200
    assert "No checkpoint yet" in empty.text
    # Before any checkpoint, the running server's key.
    assert app.state.ctx.audit_key.verifier_key in empty.text
    assert "Test GA" in empty.text

    await run_vote(make_client, world, {"AAA": "yes", "BBB": "no", "CCC": "yes"})
    await run_vote(make_client, world, {"BBB": "yes", "CCC": "abstain"})
    signed = await stored_checkpoints(app, world.assembly_id)
    latest = signed[-1]
    assert latest.verifier_key == app.state.ctx.audit_key.verifier_key

    # A witness run by NMO AAA cosigned the first checkpoint and the latest, validly.
    witness_private, witness_key = keys.generate("aaa-witness", notes.KeyType.cosignature_v1)
    async with writing(app.state.ctx.session_maker) as db:
        witness = AuditWitness(
            assembly_id=world.assembly_id,
            name="AAA's witness",
            verifier_key=witness_key,
            nmo_id=world.nmo["AAA"],
            added_by="test",
        )
        db.add(witness)
        await db.flush()
        for checkpoint in (signed[0], latest):
            body, _ = notes.parse_note(checkpoint.note)
            line = notes.cosign(body, "aaa-witness", witness_private, 1_790_000_000)
            verifier = notes.parse_verifier_key(witness_key)
            assert notes.verify_cosignature(body, line, verifier) == 1_790_000_000
            db.add(
                AuditCosignature(
                    assembly_id=world.assembly_id,
                    witness_id=witness.id,
                    size=checkpoint.size,
                    line=line,
                    timestamp=1_790_000_000,
                )
            )
        await db.commit()

    response = await public.get(f"/assemblies/{world.assembly_id}/log")
    assert response.status_code == 200
    page = response.text
    text = text_of(page)
    assert "Test GA" in text
    assert f"testserver.local/assembly/{world.assembly_id}" in text  # the log's origin
    key = re.search(r'<pre class="copyable key-block"[^>]*><code>([^<]*)</code></pre>', page)
    assert key and key[1] == latest.verifier_key
    # The latest checkpoint: its size, short root, signed note and its QR code.
    latest_part = part(page, "latest-title")
    assert f"<dd>{latest.size}</dd>" in latest_part
    assert f'<code class="short-root">{notes.short_root(latest.root)}</code>' in latest_part
    note = re.search(r'<pre class="copyable note"[^>]*><code>([^<]*)</code></pre>', page)
    assert note and html.unescape(note[1]) == latest.note
    assert qr_of(latest.note) in page
    assert 'role="img" aria-label="QR code of the signed checkpoint' in page
    assert f'href="/assemblies/{world.assembly_id}/log/checkpoint.txt"' in page
    # Every checkpoint, newest first, with who cosigned it.
    rows = re.findall(
        r'<code class="short-root">([0-9a-f]{8})</code>', part(page, "checkpoints-title")
    )
    assert rows == [notes.short_root(c.root) for c in reversed(signed)]
    assert "Cosigned by AAA&#39;s witness." in latest_part
    # The witness: its name, its NMO, its key and the checkpoints it cosigned.
    witnesses = part(page, "witnesses-title")
    assert "AAA&#39;s witness" in witnesses and "NMO AAA" in witnesses
    assert witness_key in witnesses
    assert f"of {signed[0].size}, {latest.size} entries" in text_of(witnesses)
    # How to verify, with this assembly's commands and key.
    steps = text_of(part(page, "verify-title"))
    assert f"assembly audit export --assembly {world.assembly_id} --out log.json" in steps
    assert f"assembly audit verify log.json --key '{latest.verifier_key}' --checkpoint" in steps


async def test_checkpoint_txt_is_the_stored_signed_note_and_unknown_assemblies_are_404(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    public = await make_client()
    none_yet = await public.get(f"/assemblies/{world.assembly_id}/log/checkpoint.txt")
    assert none_yet.status_code == 404 and "No checkpoint yet" in none_yet.text

    await run_vote(make_client, world, {"AAA": "yes"})
    latest = (await stored_checkpoints(app, world.assembly_id))[-1]
    saved = await public.get(f"/assemblies/{world.assembly_id}/log/checkpoint.txt")
    assert saved.status_code == 200
    assert saved.headers["content-type"].startswith("text/plain")
    assert saved.content == latest.note.encode()
    assert f"checkpoint-{latest.size}.txt" in saved.headers["content-disposition"]

    unknown = world.assembly_id + 1000
    for path in (f"/assemblies/{unknown}/log", f"/assemblies/{unknown}/log/checkpoint.txt"):
        missing = await public.get(path)
        assert missing.status_code == 404
        assert f"There is no assembly {unknown}" in missing.text
        assert "<h1>" in missing.text  # a page, not a bare error


async def test_the_start_page_links_each_assembly_to_its_public_log(
    make_client: ClientFactory, world: World
) -> None:
    start = (await (await make_client()).get("/")).text
    assert "Test GA" in start
    assert f'href="/assemblies/{world.assembly_id}/log"' in start
    chair = (await (await make_client(staff="chair")).get("/chair")).text
    assert f'href="/assemblies/{world.assembly_id}/log"' in chair
