"""The demo a newcomer starts with `make demo`: a whole assembly, ready to vote."""

from __future__ import annotations

from litestar import Litestar
from sqlalchemy import func, select

from assembly.agenda import amending, documents
from assembly.agenda import service as agenda
from assembly.credentials import service
from assembly.credentials.models import Assembly, Nmo
from assembly.db import writing
from assembly.demo import DEMO_AGENDA, DEMO_NAME, DEMO_NMOS, seed_demo
from assembly.voting.models import Vote
from tests.conftest import ClientFactory


async def test_demo_seeds_twelve_nmos_with_quorum_and_draft_votes_and_can_be_rerun(
    app: Litestar, make_client: ClientFactory
) -> None:
    ctx = app.state.ctx
    async with writing(ctx.session_maker) as db:
        first = await seed_demo(db, ctx.settings)
        await db.commit()
    async with writing(ctx.session_maker) as db:
        again = await seed_demo(db, ctx.settings)  # `demo --keep` on a seeded database
        await db.commit()
        assert again == first
        assembly = (
            await db.execute(select(Assembly).where(Assembly.name == DEMO_NAME))
        ).scalar_one()
        assert await db.scalar(select(func.count()).select_from(Nmo)) == len(DEMO_NMOS) == 12
        classes = set((await db.execute(select(Nmo.member_class))).scalars())
        assert classes == {"full", "candidate", "associate", "suspended"}
        standing = await service.standing(db, assembly)
        assert standing.quorum.met
        kinds = sorted((await db.execute(select(Vote.kind).where(Vote.state == "draft"))).scalars())
        current = await agenda.current_item(db, assembly.id)
        assert current is not None and current.title == DEMO_AGENDA[0][0]
        assert len(await agenda.items_of(db, assembly.id)) == len(DEMO_AGENDA)
        assert kinds == ["election", "motion"]
        # A policy with amendments and the Bylaws with one change, admitted, ready to vote.
        texts = {d.kind: d for d in await documents.documents_of(db, assembly.id)}
        assert set(texts) == {"policy", "bylaws"}
        policy = await amending.amendment_views(db, texts["policy"])
        assert [(v.label, v.row.degree, v.row.state) for v in policy] == [
            ("A5", 1, "admitted"),
            ("A2", 2, "admitted"),
            ("A1", 1, "admitted"),
            ("A4", 1, "admitted"),
            ("A3", 1, "admitted"),
        ]
        assert all(not v.problems for v in policy)
        [change] = await amending.amendment_views(db, texts["bylaws"])
        assert change.row.state == "admitted" and not change.row.late and change.votable
        items = await agenda.items_of(db, assembly.id)
        assert {i.document_id for i in items} == {None, texts["policy"].id, texts["bylaws"].id}
        assert len(await agenda.sessions_of(db, assembly.id)) == 2
    # Every printed delegate link logs that delegate in.
    links = [line.split()[-1] for line in first.splitlines() if "/login/" in line]
    assert len(links) == sum(len(people) for *_, people in DEMO_NMOS)
    phone = await make_client()
    response = await phone.get(
        links[0].replace(ctx.settings.public_url, ""), follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/delegate"
    # The public record and the audit log page it prints open without a login.
    public = [
        line.split()[2]
        for line in first.splitlines()
        if line.strip().startswith(("Public record", "Audit log"))
    ]
    assert len(public) == 2
    for url in public:
        page = await (await make_client()).get(url.replace(ctx.settings.public_url, ""))
        assert page.status_code == 200, url


async def test_an_old_card_link_explains_itself_instead_of_sending_to_the_staff_login(
    make_client: ClientFactory,
) -> None:
    phone = await make_client()
    response = await phone.get("/login/not-a-valid-token", follow_redirects=False)
    assert response.status_code == 401
    assert "This login link is not valid" in response.text
    assert "not-a-valid-token" not in response.headers.get("location", "")
