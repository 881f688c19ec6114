"""The roll call on the screens: its progress and quorum on every screen (the chair's controls
shown on the chair screen only), each NMO's answer with the desk's buttons on the staff
screens, and the phone's "Confirm I am present", with the forms behind them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import get, post
from litestar.datastructures import State
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import rollcall
from assembly.agenda.models import RollCall
from assembly.agenda.rollcall import RollCallView
from assembly.credentials import service as credentials
from assembly.credentials.auth import ALL_ROLES, CHAIR, MEMBERS, STAFF, Role, roles
from assembly.credentials.models import Delegate
from assembly.credentials.screens import Form, Req, ctx_of, is_htmx, page, see_other
from assembly.db import utcnow
from assembly.errors import MAX_NUMBER, DomainError, Forbidden, Invalid
from assembly.i18n import Message, t
from assembly.live import broadcast

DELEGATE = frozenset({Role.delegate})
CHAIR_ACTIONS = ("start", "close", "reopen")


async def roll_call_screen_view(db: AsyncSession, assembly_id: int) -> dict[str, Any]:
    """What the roll-call fragments show: the current roll call (open, else the last one),
    and for the chair's controls the sessions still to call, the likeliest first."""
    roll = await rollcall.current_roll_call(db, assembly_id)
    sessions = await rollcall.sessions_to_call(db, assembly_id)
    suggested = rollcall.next_session(sessions, utcnow())
    return {
        "in_assembly": assembly_id,  # not `assembly_id`: publish_in_every_language takes that
        "roll": await rollcall.view_of(db, roll) if roll is not None else None,
        "sessions": sessions,
        "suggested": suggested.id if suggested is not None else None,
    }


def _mine(view: RollCallView | None, delegate: Delegate, answerer_id: int | None) -> dict[str, Any]:
    answer = view.answers.get(delegate.nmo_id) if view is not None else None
    return {
        "roll": view,
        "answer": answer,
        "answers_for_nmo": answerer_id == delegate.id,
        "checked_in": delegate.checked_in,
        "nmo_code": next((n.code for n in view.nmos if n.id == delegate.nmo_id), "")
        if view is not None
        else "",
    }


async def my_roll_call_view(
    db: AsyncSession, assembly_id: int, screen: dict[str, Any], nmo_ids: set[int] | None
) -> dict[int, tuple[tuple[Any, ...], dict[str, Any]]]:
    """Each phone's prompt, for the delegates of the NMOs named (all when None), with the key
    that tells which prompts are alike (rendered once)."""
    view: RollCallView | None = screen["roll"]
    delegates = await rollcall.roll_call_answerers(db, assembly_id, nmo_ids)
    states = {s.id: s for s in await credentials.nmo_states(db, assembly_id)}
    heads = {d.nmo_id: d.id for d in delegates if d.role == "head"}
    out: dict[int, tuple[tuple[Any, ...], dict[str, Any]]] = {}
    for d in delegates:
        state = states.get(d.nmo_id)
        holder = state.holder_id if state is not None else None
        answerer = holder if holder is not None else heads.get(d.nmo_id)
        mine = _mine(view, d, answerer)
        key = (d.nmo_id, mine["answers_for_nmo"], d.checked_in, d.language)
        out[d.id] = (key, {**mine, "language": d.language})
    return out


async def _my_view(db: AsyncSession, assembly_id: int, delegate_id: int) -> dict[str, Any]:
    delegate = await credentials.get_delegate(db, delegate_id)
    roll = await rollcall.current_roll_call(db, assembly_id)
    view = await rollcall.view_of(db, roll) if roll is not None else None
    right = await rollcall.nmo_right(db, await credentials.get_nmo(db, delegate.nmo_id))
    return _mine(view, delegate, right.answerer_id)


def _check_member(request: Req, assembly_id: int) -> None:
    principal = request.user
    if principal.role in MEMBERS and principal.assembly_id != assembly_id:
        raise Forbidden(t("You can only see the assembly your delegation is registered for."))


@get("/agenda/{assembly_id:int}/roll-call", opt=roles(ALL_ROLES))
async def roll_call_fragment(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The roll call's progress and quorum (and, for the staff, each NMO's answer) as
    out-of-band fragments: on load and after a reconnect."""
    _check_member(request, assembly_id)
    await credentials.get_assembly(db, assembly_id)
    view = await roll_call_screen_view(db, assembly_id)
    staff = request.user.is_staff
    return page(request, "fragments/roll_call_answer.html", oob=True, staff=staff, **view)


@get("/agenda/{assembly_id:int}/roll-call/mine", opt=roles(DELEGATE))
async def my_roll_call_fragment(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The phone's "Confirm I am present", as an out-of-band fragment."""
    _check_member(request, assembly_id)
    assert request.user.delegate_id is not None
    view = await _my_view(db, assembly_id, request.user.delegate_id)
    return page(request, "fragments/my_roll_call.html", oob=True, **view)


@get("/delegate/roll-call", opt=roles(DELEGATE))
async def delegate_roll_call_page(db: AsyncSession, request: Req, error: str = "") -> Template:
    """The roll call on a phone without JavaScript."""
    assembly_id = request.user.assembly_id
    assert assembly_id is not None and request.user.delegate_id is not None
    assembly = await credentials.get_assembly(db, assembly_id)
    view = await _my_view(db, assembly_id, request.user.delegate_id)
    return page(
        request, "delegate/roll_call.html", assembly=assembly, oob=False, error=error[:300], **view
    )


@post("/roll-call/{session_id:int}/confirm", opt=roles(DELEGATE), status_code=200)
async def confirm_presence(
    db: AsyncSession, request: Req, state: State, session_id: int
) -> Template | Redirect:
    """A right holder confirms from the phone that its NMO is present."""
    session = await rollcall.get_session(db, session_id)
    assembly_id = session.assembly_id  # a rollback below expires `session`
    _check_member(request, assembly_id)
    assert request.user.delegate_id is not None
    delegate_id = request.user.delegate_id
    nmo_id: int | None = None
    error = ""
    status = 200
    try:
        roll = await rollcall.session_roll_call(db, session)
        delegate = await credentials.get_delegate(db, delegate_id)
        nmo_id = delegate.nmo_id
        _, changed = await rollcall.confirm(db, roll, delegate, request.user.actor)
    except DomainError as exc:
        await db.rollback()
        error, status, changed = exc.message, exc.status, False
    else:
        await db.commit()
    if changed and nmo_id is not None:
        await broadcast.announce_roll_call(ctx_of(state), assembly_id, nmo_ids={nmo_id})
    if not is_htmx(request):
        return see_other("/delegate/roll-call", error=error)
    view = await _my_view(db, assembly_id, delegate_id)
    return page(
        request, "fragments/my_roll_call.html", oob=True, error=error, status=status, **view
    )


Act = Callable[[], Awaitable[tuple[Message, int, set[int] | None]]]


async def _staff_act(
    db: AsyncSession, request: Req, state: State, assembly_id: int, back: str, action: Act
) -> Template | Redirect:
    """Run a chair's or the desk's action: stored and pushed to every screen, or refused
    with nothing stored and the reason shown where it was asked."""
    notice: str = ""
    error: str = ""
    status = 200
    nmo_ids: set[int] | None = None
    try:
        notice, _, nmo_ids = await action()
    except DomainError as exc:
        await db.rollback()
        error, status = exc.message, exc.status
    else:
        await db.commit()
        await broadcast.announce_roll_call(ctx_of(state), assembly_id, nmo_ids=nmo_ids)
    if not is_htmx(request):
        return see_other(back, assembly=assembly_id)
    view = await roll_call_screen_view(db, assembly_id)
    return page(
        request,
        "fragments/roll_call_answer.html",
        status=status,
        oob=True,
        staff=True,
        only=nmo_ids,
        notice=notice,
        error=error,
        **view,
    )


def _number(data: dict[str, str], key: str, what: str) -> int:
    raw = (data.get(key) or "").strip()
    if not raw.isdigit() or not 0 < int(raw) <= MAX_NUMBER:
        raise Invalid(t("Choose {what}.", what=what))
    return int(raw)


@post(
    "/chair/assemblies/{assembly_id:int}/roll-call/{action:str}", opt=roles(CHAIR), status_code=200
)
async def chair_roll_call(
    db: AsyncSession, request: Req, state: State, assembly_id: int, action: str, data: Form
) -> Template | Redirect:
    """The chair starts the roll call of a plenary session, closes it, or reopens it."""
    assembly = await credentials.get_assembly(db, assembly_id)
    actor = request.user.actor

    async def act() -> tuple[Message, int, set[int] | None]:
        if action not in CHAIR_ACTIONS:
            raise Invalid(
                t("Unknown action {action!r}: start, close or reopen.", action=action[:40])
            )
        session = await rollcall.get_session(
            db, _number(data, "session_id", t("a plenary session"))
        )
        if session.assembly_id != assembly.id:
            raise Invalid(
                t(
                    "There is no plenary session {session_id} in this assembly.",
                    session_id=session.id,
                )
            )
        roll: RollCall
        if action == "start":
            roll = await rollcall.start(db, assembly, session, actor)
            return t("The roll call of “{session}” is open.", session=session.name), roll.id, None
        roll = await rollcall.session_roll_call(db, session)
        if action == "close":
            await rollcall.close(db, roll, actor)
            return t("The roll call of “{session}” is closed.", session=session.name), roll.id, None
        await rollcall.reopen(db, roll, actor)
        return t("The roll call of “{session}” is open again.", session=session.name), roll.id, None

    return await _staff_act(db, request, state, assembly.id, "/chair", act)


@post("/desk/roll-call/{session_id:int}/nmos/{nmo_id:int}", opt=roles(STAFF), status_code=200)
async def desk_mark(
    db: AsyncSession, request: Req, state: State, session_id: int, nmo_id: int, data: Form
) -> Template | Redirect:
    """The desk (or the chair calling the names) marks an NMO present or absent."""
    session = await rollcall.get_session(db, session_id)
    back = "/chair" if request.user.role is Role.chair else "/desk"

    async def act() -> tuple[Message, int, set[int] | None]:
        present_raw = data.get("present", "")
        if present_raw not in ("yes", "no"):
            raise Invalid(t("Choose present or absent."))
        present = present_raw == "yes"
        roll = await rollcall.session_roll_call(db, session)
        nmo = await credentials.get_nmo(db, nmo_id)
        await rollcall.mark(db, roll, nmo, present, actor=request.user.actor)
        notice = (
            t("{nmo} is marked present.", nmo=nmo.code)
            if present
            else t("{nmo} is marked absent.", nmo=nmo.code)
        )
        return notice, roll.id, {nmo.id}

    return await _staff_act(db, request, state, session.assembly_id, back, act)


ROLL_CALL_PAGES = [
    roll_call_fragment,
    my_roll_call_fragment,
    delegate_roll_call_page,
    confirm_presence,
    chair_roll_call,
    desk_mark,
]
