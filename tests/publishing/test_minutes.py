"""The PDF minutes: made from the public record, so they hold each published decision with its
result and explanation, a table of contents and the latest checkpoint; nothing held; a secret
vote only as trackers; every NMO's name in its own script. Served to anyone at
/record/{id}/minutes.pdf, and written by `assembly publish minutes`."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Litestar
from pypdf import PdfReader
from sqlalchemy import update

from assembly.agenda import service as agenda
from assembly.cli import main
from assembly.credentials import service as credentials
from assembly.credentials.models import Nmo
from assembly.db import utcnow, writing
from assembly.publishing.minutes import minutes_html, minutes_pdf, outline
from assembly.publishing.record import PublicRecord, build_record
from tests.audit.test_log import run_vote
from tests.conftest import SECRET as SECRET_KEY
from tests.conftest import ClientFactory, World

NAMES = {
    "AAA": "Société Française des Étudiants",
    "BBB": "Ελλάδα Φοιτητές Ιατρικής",
    "CCC": "Türkiye Tıp Öğrencileri",
    "DDD": "Việt Nam Sinh viên Y khoa",
}
NAMED = "Shall the Assembly adopt the budget for 2028?"
SECRET = "Shall the Assembly thank the Organizing Committee?"
HELD = "Shall the Assembly move to the held motion?"


@dataclass
class Minutes:
    record: PublicRecord
    pdf: bytes
    text: str  # the PDF's text, whitespace collapsed
    votes: dict[str, dict[str, Any]]  # question -> the closed vote as the API returned it


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in reader.pages))


def body_start(text: str, heading: str) -> int:
    """Where `heading` starts in the body: its second occurrence, the first being in the
    table of contents."""
    return text.index(heading, text.index(heading) + len(heading))


@pytest.fixture
async def minutes(app: Litestar, make_client: ClientFactory, world: World) -> Minutes:
    """Plenary I (now, attendance published) with one agenda item: a named vote and a secret
    one, published at their close; then a third vote held by the secretariat."""
    now = utcnow()
    hour = dt.timedelta(hours=1)
    async with writing(app.state.ctx.session_maker) as db:
        for code, name in NAMES.items():
            await db.execute(update(Nmo).where(Nmo.id == world.nmo[code]).values(name=name))
        assembly = await credentials.get_assembly(db, world.assembly_id)
        sitting = await agenda.add_session(
            db, assembly, "test", "Plenary I", now - hour, now + hour
        )
        sitting.published_at = now - hour
        item = await agenda.add_item(db, assembly, "test", "Budget", "other", session_id=sitting.id)
        await agenda.make_current(db, item)
        await db.commit()
    named = {"AAA": "yes", "BBB": "yes", "CCC": "no"}
    secret = {"AAA": "yes", "BBB": "no", "CCC": "yes"}
    votes = {
        NAMED: await run_vote(make_client, world, named, question=NAMED),
        SECRET: await run_vote(make_client, world, secret, question=SECRET, secret=True),
    }
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        await credentials.update_assembly(db, assembly, "test", {"publish_results": "manual"})
        await db.commit()
    votes[HELD] = await run_vote(make_client, world, {"AAA": "no"}, question=HELD)
    async with writing(app.state.ctx.session_maker) as db:
        record = await build_record(db, world.assembly_id)
    pdf = minutes_pdf(record, app.state.ctx.jinja)
    return Minutes(record, pdf, pdf_text(pdf), votes)


async def test_the_minutes_are_a_pdf_with_contents_every_published_decision_and_the_checkpoint(
    minutes: Minutes,
) -> None:
    assert minutes.pdf.startswith(b"%PDF")
    assert "Contents" in minutes.text
    for question in (NAMED, SECRET):
        vote = minutes.record.vote(minutes.votes[question]["id"])
        assert body_start(minutes.text, question) > minutes.text.index(question)
        assert re.sub(r"\s+", " ", vote.explanation) in minutes.text
        assert vote.outcome.capitalize() in minutes.text
    checkpoint = minutes.record.checkpoint
    assert checkpoint is not None
    assert checkpoint.short_root in minutes.text and checkpoint.origin in minutes.text
    assert checkpoint.verifier_key.split("+")[-1] in minutes.text.replace(" ", "")
    assert "Only published items are included" in minutes.text


async def test_a_held_result_is_not_in_the_minutes(minutes: Minutes) -> None:
    assert HELD not in minutes.text
    assert [v.question for v in minutes.record.votes] == [NAMED, SECRET]


async def test_a_secret_vote_is_minuted_as_trackers_never_as_nmos_and_choices(
    minutes: Minutes,
) -> None:
    vote = minutes.record.vote(minutes.votes[SECRET]["id"])
    assert len(vote.trackers) == 3
    start = body_start(minutes.text, SECRET)
    section = minutes.text[start : body_start(minutes.text, "Attendance at Plenary I")]
    for row in vote.trackers:
        assert row.tracker in section
    for code, name in NAMES.items():
        assert code not in section and name not in section
    # The named vote before it has its roll call, NMO by NMO.
    roll_call = minutes.text[body_start(minutes.text, NAMED) : start]
    assert "Roll call" in roll_call
    assert all(code in roll_call for code in ("AAA", "BBB", "CCC"))


async def test_names_in_any_script_survive_into_the_pdf(minutes: Minutes) -> None:
    for name in NAMES.values():
        assert name in minutes.text


async def test_decisions_are_minuted_under_their_session_and_agenda_item(
    minutes: Minutes,
) -> None:
    shape = outline(minutes.record)
    assert [s.session.name for s in shape.sessions] == ["Plenary I"]
    [item] = shape.sessions[0].items
    assert item.item.title == "Budget"
    assert [v.question for v in item.votes] == [NAMED, SECRET]
    assert shape.items == [] and shape.other_votes == [] and shape.decisions == 2


async def test_anyone_gets_the_minutes_inline_with_only_what_is_published(
    minutes: Minutes, make_client: ClientFactory, world: World
) -> None:
    for client in (await make_client(), await make_client(staff="secretariat")):
        response = await client.get(f"/record/{world.assembly_id}/minutes.pdf")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == (
            f'inline; filename="minutes-{world.assembly_id}.pdf"'
        )
        text = pdf_text(response.content)
        assert NAMED in text and HELD not in text
    missing = await (await make_client()).get("/record/999/minutes.pdf")
    assert missing.status_code == 404


async def test_the_secretariat_writes_the_minutes_and_a_marked_draft_with_the_cli(
    app: Litestar, minutes: Minutes, world: World, tmp_path: Path
) -> None:
    settings = app.state.ctx.settings
    env: dict[str, str | None] = {
        "ASSEMBLY_DATABASE_URL": settings.database_url,
        "ASSEMBLY_SECRET_KEY": SECRET_KEY,
        "ASSEMBLY_PUBLIC_URL": settings.public_url,
        "ASSEMBLY_AUDIT_KEY_FILE": None,
        "ASSEMBLY_REDIS_URL": None,
    }
    texts = {}
    for name, extra in (("public", []), ("draft", ["--draft"])):
        out = tmp_path / f"{name}.pdf"
        args = ["publish", "minutes", "--assembly", str(world.assembly_id), "--out", str(out)]
        # The command runs its own event loop, so it gets a thread of its own.
        done = await asyncio.to_thread(CliRunner().invoke, main, [*args, *extra], env=env)
        assert done.exit_code == 0, done.output
        assert f"Wrote {out}" in done.output
        texts[name] = pdf_text(out.read_bytes())
    assert NAMED in texts["public"] and HELD not in texts["public"]
    assert HELD in texts["draft"] and "Draft for the secretariat" in texts["draft"]


async def test_the_staff_copy_marks_what_is_held(
    app: Litestar, minutes: Minutes, world: World
) -> None:
    async with writing(app.state.ctx.session_maker) as db:
        staff = await build_record(db, world.assembly_id, staff_view=True)
    html = minutes_html(staff, app.state.ctx.jinja)
    assert HELD in html and "not published" in html
