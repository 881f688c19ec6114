"""Who a session cookie belongs to is remembered per process (credentials/principals.py) and
forgotten on every change: a logout, a reissued card or a new role applies at once in the
process that made it, and within GENERATION_CHECK_S when another process or an `assembly`
command makes it (triggers move auth_generation). On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar import Litestar
from sqlalchemy import delete, event, select, update

from assembly.credentials import service
from assembly.credentials.auth import SESSION_COOKIE, Principal, Role
from assembly.credentials.models import AuthGeneration, Delegate, LoginSession
from assembly.credentials.principals import GENERATION_CHECK_S, Principals
from assembly.db import create_engine, utcnow, writing
from assembly.settings import Settings
from tests.conftest import ClientFactory, World

DELEGATE = Principal(Role.delegate, name="AAA-head", delegate_id=1)


@contextmanager
def statements(app: Litestar) -> Iterator[list[str]]:
    """The SQL the app's engine runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = app.state.ctx.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def generation(app: Litestar) -> int:
    async with app.state.ctx.session_maker() as db:
        n = await db.scalar(select(AuthGeneration.n).where(AuthGeneration.id == 1))
    assert n is not None, "migration 0013 makes the counter's row"
    return n


async def me(client: Any) -> dict[str, Any]:
    response = await client.get("/api/auth/me")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_remembered_session_is_not_read_again(
    app: Litestar, world: World, make_client: ClientFactory
) -> None:
    phone = await make_client(token=world.token["AAA-head"])
    assert (await me(phone))["delegate_id"] == world.delegate["AAA-head"]
    with statements(app) as seen:
        for _ in range(3):
            assert (await me(phone))["delegate_id"] == world.delegate["AAA-head"]
    assert not [s for s in seen if "login_session" in s], seen
    assert len(app.state.ctx.principals) >= 1


async def test_logout_applies_at_once_even_to_a_copied_cookie(
    app: Litestar, world: World, make_client: ClientFactory
) -> None:
    phone = await make_client(token=world.token["AAA-head"])
    assert (await me(phone))["role"] == "delegate"  # now remembered
    secret = phone.cookies[SESSION_COOKIE]
    response = await phone.post("/api/auth/logout")
    assert response.status_code == 200, response.text
    phone.cookies.set(SESSION_COOKIE, secret)  # someone kept the old cookie
    assert (await me(phone))["role"] == "public"


async def test_a_new_role_and_a_reissued_card_apply_at_once(
    app: Litestar, world: World, make_client: ClientFactory
) -> None:
    phone = await make_client(token=world.token["BBB-del"])
    secretariat = await make_client(staff="secretariat")
    delegate_id = world.delegate["BBB-del"]
    assert (await me(phone))["role"] == "delegate"
    response = await secretariat.patch(f"/api/delegates/{delegate_id}/", json={"role": "observer"})
    assert response.status_code == 200, response.text
    assert (await me(phone))["role"] == "observer"
    response = await secretariat.post(f"/api/delegates/{delegate_id}/token")
    assert response.status_code == 200, response.text
    assert (await me(phone))["role"] == "public"  # the reissue ended every session of theirs


async def test_a_change_made_by_another_process_applies_within_the_check_interval(
    app: Litestar, settings: Settings, world: World, make_client: ClientFactory
) -> None:
    phone = await make_client(token=world.token["CCC-head"])
    assert (await me(phone))["role"] == "delegate"
    before = await generation(app)
    # Another process (or `assembly` run beside the server): its own engine, which this
    # app's session events never see; only the database's triggers tell.
    other = create_engine(settings)
    try:
        async with other.begin() as conn:
            await conn.execute(
                delete(LoginSession).where(LoginSession.delegate_id == world.delegate["CCC-head"])
            )
    finally:
        await other.dispose()
    assert await generation(app) > before
    await asyncio.sleep(GENERATION_CHECK_S + 0.1)
    assert (await me(phone))["role"] == "public"


async def test_only_what_a_principal_holds_moves_the_counter(
    app: Litestar, world: World, make_client: ClientFactory
) -> None:
    """Checking in (many times an hour at the desk) must not empty every process's memory;
    a new name, role or language, and any change to a login session, must."""
    await make_client(token=world.token["AAA-head"])  # one login session
    start = await generation(app)
    async with writing(app.state.ctx.session_maker) as db:
        d = await db.get(Delegate, world.delegate["AAA-del"])
        assert d is not None
        await service.set_checked_in(db, d, "test", True, via="desk")
        await db.commit()
    assert await generation(app) == start
    async with writing(app.state.ctx.session_maker) as db:
        await db.execute(
            update(Delegate).where(Delegate.id == world.delegate["AAA-del"]).values(language="fr")
        )
        await db.commit()
    assert await generation(app) == start + 1
    async with writing(app.state.ctx.session_maker) as db:
        await db.execute(update(LoginSession).values(expires_at=utcnow() + dt.timedelta(hours=1)))
        await db.commit()
    assert await generation(app) == start + 2


def test_a_lookup_that_began_before_a_change_is_not_remembered() -> None:
    principals = Principals()
    began = principals.generation
    principals.forget_all()  # a change committed while the lookup was reading
    principals.put("k", DELEGATE, began, None)
    assert principals.get("k") is None
    principals.put("k", DELEGATE, principals.generation, None)
    assert principals.get("k") == DELEGATE


def test_an_entry_never_outlives_its_session_nor_the_cache_time() -> None:
    principals = Principals()
    ended = utcnow() - dt.timedelta(seconds=1)
    principals.put("ended", DELEGATE, principals.generation, ended)
    assert principals.get("ended") is None
    principals.put("soon", DELEGATE, principals.generation, utcnow() + dt.timedelta(seconds=0.05))
    assert principals.get("soon") == DELEGATE
    nothing_kept = Principals(ttl_s=0)
    nothing_kept.put("k", DELEGATE, nothing_kept.generation, None)
    assert nothing_kept.get("k") is None


async def test_soon_ending_entries_lapse() -> None:
    principals = Principals()
    principals.put("soon", DELEGATE, principals.generation, utcnow() + dt.timedelta(seconds=0.05))
    await asyncio.sleep(0.1)
    assert principals.get("soon") is None


async def test_reading_an_open_votes_sheet_remembers_its_casters_sessions(
    app: Litestar, world: World, make_client: ClientFactory
) -> None:
    """A process that reads an open vote's sheet reads its casters' live sessions with it, in
    one query: their ballots then find them remembered, in a process that never saw them.
    Sessions of delegates without a right in the vote, and expired ones, are not read."""
    from tests.voting.test_api import cast, make_vote, open_vote

    ctx = app.state.ctx
    chair = await make_client(staff="chair")
    casters = {
        code: await make_client(token=world.token[f"{code}-head"]) for code in ("AAA", "BBB")
    }
    bystander = await make_client(token=world.token["DDD-head"])  # a candidate: no vote
    for phone in (*casters.values(), bystander):
        assert (await me(phone))["role"] == "delegate"
    expired = world.delegate["BBB-del"]
    late = await make_client(token=world.token["BBB-del"])
    assert (await me(late))["role"] == "delegate"
    async with writing(ctx.session_maker) as db:
        await db.execute(
            update(LoginSession)
            .where(LoginSession.delegate_id == expired)
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    vote = await make_vote(chair, world)
    ctx.principals.forget_all()  # as in a process that has seen none of these phones
    ctx.ballot_sheets.forget(vote["id"])
    with statements(app) as seen:
        await open_vote(chair, vote["id"])  # reads the sheet, and the casters' sessions
        for _ in range(200):  # in the background, in the app's own event loop
            if len(ctx.principals) >= 2:
                break
            await asyncio.sleep(0.01)
    reads = [s for s in seen if "login_session.delegate_id IN" in s]
    assert len(reads) == 1, seen  # one query for all the casters
    remembered = {p.delegate_id for _, p in ctx.principals._entries.values()}
    assert world.delegate["AAA-head"] in remembered
    assert world.delegate["BBB-head"] in remembered
    assert world.delegate["DDD-head"] not in remembered
    assert expired not in remembered

    with statements(app) as seen:
        response = await cast(casters["AAA"], vote["id"], world.nmo["AAA"], "yes")
        assert response.status_code == 200, response.text
    assert not [s for s in seen if "login_session" in s], seen


async def test_casters_read_before_a_change_are_not_kept_after_it(
    app: Litestar, world: World, make_client: ClientFactory
) -> None:
    """The casters' sessions are read in the background: a change that lands meanwhile (a
    logout) wins, as for a single lookup (Principals.put refuses what was read before)."""
    from assembly.credentials.auth import remember_delegates

    ctx = app.state.ctx
    phone = await make_client(token=world.token["AAA-head"])
    assert (await me(phone))["role"] == "delegate"
    ctx.principals.forget_all()
    original = ctx.principals.put

    def change_in_between(*args: Any) -> None:
        ctx.principals.changed_here()  # as a logout committing while the read was under way
        original(*args)

    ctx.principals.put = change_in_between
    try:
        await remember_delegates(ctx.engine, ctx.principals, [world.delegate["AAA-head"]])
    finally:
        del ctx.principals.put
    assert len(ctx.principals) == 0
    assert await remember_delegates(ctx.engine, ctx.principals, []) == 0
    assert await remember_delegates(ctx.engine, ctx.principals, [world.delegate["AAA-head"]]) == 1
    assert len(ctx.principals) == 1
