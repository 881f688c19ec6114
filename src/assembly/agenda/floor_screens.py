"""The speakers' list on the screens: one fragment for the chair, the projector and the phones
(the speaker, a countdown and the queue, with the chair's controls shown on the chair screen
only), the phone's own buttons to ask for the floor, and the forms behind them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import get, post
from litestar.datastructures import State
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import floor, motions
from assembly.agenda import service as agenda
from assembly.agenda.floor import FloorState
from assembly.agenda.models import ProceduralMotion
from assembly.agenda.speakers import MOTION_LABELS, Kind, Motion, Side
from assembly.credentials import service as credentials
from assembly.credentials.auth import ALL_ROLES, CHAIR, MEMBERS, Role, roles
from assembly.credentials.models import Nmo
from assembly.credentials.screens import Form, Req, ctx_of, form_int, is_htmx, page, see_other
from assembly.db import utcnow
from assembly.errors import MAX_NUMBER, DomainError, Forbidden, Invalid
from assembly.i18n import t
from assembly.live import broadcast
from assembly.live.broadcast import settle_objections_later

DELEGATE = frozenset({Role.delegate})
KIND_LABELS = {
    Kind.SPEECH.value: t("Speech"),
    Kind.POINT_OF_ORDER.value: t("Point of order"),
    Kind.POINT_OF_INFORMATION.value: t("Point of information"),
}
SIDE_LABELS = {Side.FOR.value: t("for"), Side.AGAINST.value: t("against"), Side.NEUTRAL.value: ""}
EXTENSIONS_S = (30, 60)
NEMO_DEFAULT_S = 20  # "any objection?": the time the chair's button gives the room


async def _nmos(db: AsyncSession, assembly_id: int) -> dict[int, Nmo]:
    query = select(Nmo).where(Nmo.assembly_id == assembly_id)
    return {n.id: n for n in (await db.execute(query)).scalars()}


async def floor_view(
    db: AsyncSession, state: FloorState | None, assembly_id: int
) -> dict[str, Any]:
    """What the floor fragment shows: the pending procedural motions, and the current item's
    list (`state` is None while the plenary is on no item)."""
    nmos = await _nmos(db, assembly_id)
    pending = await motions.pending_motions(db, assembly_id)
    nemo = await motions.pending_nemo(db, assembly_id)
    asked = {
        "motions": pending,
        "motion_labels": MOTION_LABELS,
        "nmos": nmos,
        "nemo": nemo,
        "nemo_motion": next((m for m in pending if nemo and m.id == nemo.motion_id), None),
        "nemo_left": (
            max(0, int((motions.nemo_deadline(nemo) - utcnow()).total_seconds()))
            if nemo is not None
            else 0
        ),
        "nemo_seconds": NEMO_DEFAULT_S,
    }
    if state is None:
        return {"floor": None, **asked}
    return {
        **asked,
        "floor": state,
        "nmos": nmos,
        "kinds": KIND_LABELS,
        "sides": SIDE_LABELS,
        "extensions": EXTENSIONS_S,
        "totals": sorted(state.totals.items(), key=lambda t: (-t[1], t[0])),
    }


@dataclass(frozen=True)
class MotionsNow:
    """The assembly's motions as the phones' controls need them, read once per push."""

    allowed: list[Motion]
    pending: list[ProceduralMotion]


async def motions_now(db: AsyncSession, assembly_id: int) -> MotionsNow:
    assembly = await credentials.get_assembly(db, assembly_id)
    return MotionsNow(
        allowed=motions.allowed_motions(assembly),
        pending=await motions.pending_motions(db, assembly_id),
    )


def my_floor_view(
    state: FloorState | None, now: MotionsNow, assembly_id: int, delegate_id: int
) -> dict[str, Any]:
    """A phone's controls: ask to speak (for or against when sides are asked), raise a point
    or a motion, or withdraw what this delegate is waiting for."""
    raised = [m for m in now.pending if m.delegate_id == delegate_id and m.state == "raised"]
    common = {
        "my_motions": raised,
        "allowed_motions": [m for m in now.allowed if m.value not in {r.kind for r in raised}],
        "motion_labels": MOTION_LABELS,
        "assembly_id": assembly_id,
    }
    if state is None:
        return {"floor": None, "mine": [], **common}
    mine = [r for r in state.waiting if r.delegate_id == delegate_id]
    speaking = state.speaking is not None and state.speaking.delegate_id == delegate_id
    return {
        **common,
        "floor": state,
        "mine": mine,
        "waiting_kinds": {r.kind for r in mine},
        "kinds": KIND_LABELS,
        "sides": SIDE_LABELS,
        "place": {r.id: i + 1 for i, r in enumerate(state.waiting)},
        "speaking_now": speaking,
    }


def _check_member(request: Req, assembly_id: int) -> None:
    principal = request.user
    if principal.role in MEMBERS and principal.assembly_id != assembly_id:
        raise Forbidden(t("You can only see the assembly your delegation is registered for."))


@get("/agenda/{assembly_id:int}/floor", opt=roles(ALL_ROLES))
async def floor_fragment(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The current item's speakers' list as an out-of-band fragment (load and reconnect)."""
    _check_member(request, assembly_id)
    await credentials.get_assembly(db, assembly_id)
    view = await floor_view(db, await floor.current_floor(db, assembly_id), assembly_id)
    return page(request, "fragments/floor.html", oob=True, alert=False, **view)


@get("/agenda/{assembly_id:int}/floor/mine", opt=roles(DELEGATE))
async def my_floor_fragment(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The phone's own buttons for the floor, as an out-of-band fragment."""
    _check_member(request, assembly_id)
    assert request.user.delegate_id is not None
    state = await floor.current_floor(db, assembly_id)
    view = my_floor_view(
        state, await motions_now(db, assembly_id), assembly_id, request.user.delegate_id
    )
    return page(request, "fragments/my_floor.html", oob=True, **view)


async def _answer_phone(
    db: AsyncSession, request: Req, assembly_id: int, *, error: str = "", status: int = 200
) -> Template | Redirect:
    if not is_htmx(request):
        return see_other("/delegate/floor", error=error) if error else see_other("/delegate/floor")
    assert request.user.delegate_id is not None
    state = await floor.current_floor(db, assembly_id)
    view = my_floor_view(
        state, await motions_now(db, assembly_id), assembly_id, request.user.delegate_id
    )
    return page(request, "fragments/my_floor.html", oob=True, error=error, status=status, **view)


@get("/delegate/floor", opt=roles(DELEGATE))
async def delegate_floor_page(db: AsyncSession, request: Req, error: str = "") -> Template:
    """The floor on a phone without JavaScript: the list and this delegate's buttons."""
    assembly_id = request.user.assembly_id
    assert assembly_id is not None and request.user.delegate_id is not None
    assembly = await credentials.get_assembly(db, assembly_id)
    state = await floor.current_floor(db, assembly_id)
    return page(
        request,
        "delegate/floor.html",
        assembly=assembly,
        oob=False,
        alert=False,
        error=error[:300],
        **(
            await floor_view(db, state, assembly_id)
            | my_floor_view(
                state, await motions_now(db, assembly_id), assembly_id, request.user.delegate_id
            )
        ),
    )


Act = Callable[[], Awaitable[None]]
ChairAct = Callable[[], Awaitable[tuple[str, int | None]]]


async def _phone_act(
    db: AsyncSession, request: Req, state: State, assembly_id: int, action: Act, alert: bool
) -> Template | Redirect:
    """Run a phone's action: stored and pushed to every screen, or refused with nothing
    stored and the reason shown on the phone."""
    try:
        await action()
    except DomainError as exc:
        await db.rollback()
        return await _answer_phone(db, request, assembly_id, error=exc.message, status=exc.status)
    await db.commit()
    await broadcast.announce_floor(ctx_of(state), assembly_id, alert=alert)
    return await _answer_phone(db, request, assembly_id)


async def _chair_act(
    db: AsyncSession, request: Req, state: State, assembly_id: int, action: ChairAct
) -> Template | Redirect:
    """Run a chair's action (it says what happened, and which vote it opened, if any)."""
    try:
        notice, vote_id = await action()
    except DomainError as exc:
        await db.rollback()
        return await _answer_chair(db, request, assembly_id, error=exc.message, status=exc.status)
    await db.commit()
    if vote_id is not None:
        await broadcast.announce_vote(ctx_of(state), vote_id)
    await broadcast.announce_floor(ctx_of(state), assembly_id)
    return await _answer_chair(db, request, assembly_id, notice=notice)


def _delegate_id(request: Req) -> int:
    assert request.user.delegate_id is not None
    return request.user.delegate_id


@post("/floor/{item_id:int}/ask", opt=roles(DELEGATE), status_code=200)
async def ask_floor(
    db: AsyncSession, request: Req, state: State, item_id: int, data: Form
) -> Template | Redirect:
    """A phone asks for the floor or raises a point."""
    item = await agenda.get_item(db, item_id)
    _check_member(request, item.assembly_id)
    kind_raw = data.get("kind", "speech")

    async def action() -> None:
        kind = _choice(Kind, kind_raw, t("kind of request"))
        side = _choice(Side, data.get("side", "neutral") or "neutral", t("side"))
        delegate = await credentials.get_delegate(db, _delegate_id(request))
        await floor.request_floor(db, delegate, item, kind, side, request.user.actor)

    alert = kind_raw == Kind.POINT_OF_ORDER
    return await _phone_act(db, request, state, item.assembly_id, action, alert)


@post("/floor/requests/{request_id:int}/withdraw", opt=roles(DELEGATE), status_code=200)
async def withdraw_floor(
    db: AsyncSession, request: Req, state: State, request_id: int
) -> Template | Redirect:
    """A phone takes back its request."""
    row = await floor.get_request(db, request_id)
    _check_member(request, row.assembly_id)

    async def action() -> None:
        await floor.withdraw(db, row, _delegate_id(request))

    return await _phone_act(db, request, state, row.assembly_id, action, False)


@post("/motions/raise", opt=roles(DELEGATE), status_code=200)
async def raise_motion(
    db: AsyncSession, request: Req, state: State, data: Form
) -> Template | Redirect:
    """A phone raises a procedural motion; the chair sees it at once."""
    assembly_id = request.user.assembly_id
    assert assembly_id is not None

    async def action() -> None:
        kind = _choice(Motion, data.get("kind", ""), t("motion"))
        assembly = await credentials.get_assembly(db, assembly_id)
        delegate = await credentials.get_delegate(db, _delegate_id(request))
        await motions.raise_motion(db, assembly, delegate, kind, request.user.actor)

    return await _phone_act(db, request, state, assembly_id, action, True)


@post("/motions/object", opt=roles(DELEGATE), status_code=200)
async def object_to_motion(db: AsyncSession, request: Req, state: State) -> Template | Redirect:
    """A phone objects, for its NMO, to the motion the chair asked "any objection?" on."""
    assembly_id = request.user.assembly_id
    assert assembly_id is not None

    async def action() -> None:
        delegate = await credentials.get_delegate(db, _delegate_id(request))
        await motions.object_to(db, assembly_id, delegate)

    return await _phone_act(db, request, state, assembly_id, action, False)


@post("/motions/{motion_id:int}/withdraw", opt=roles(DELEGATE), status_code=200)
async def withdraw_motion(
    db: AsyncSession, request: Req, state: State, motion_id: int
) -> Template | Redirect:
    """A phone withdraws the motion it raised."""
    motion = await motions.get_motion(db, motion_id)
    _check_member(request, motion.assembly_id)

    async def action() -> None:
        await motions.withdraw(db, motion, _delegate_id(request))

    return await _phone_act(db, request, state, motion.assembly_id, action, False)


@post("/chair/motions/{motion_id:int}/{action:str}", opt=roles(CHAIR), status_code=200)
async def chair_motion(
    db: AsyncSession, request: Req, state: State, motion_id: int, action: str, data: Form
) -> Template | Redirect:
    """The chair puts a motion to the vote at once, or rules it out with a reason."""
    motion = await motions.get_motion(db, motion_id)
    actor = request.user.actor

    async def act() -> tuple[str, int | None]:
        if action == "vote":
            vote = await motions.put_to_vote(db, motion, actor)
            return t("The motion is put to the vote: the phones have the ballot."), vote.id
        if action == "dismiss":
            await motions.dismiss(db, motion, actor, data.get("reason", ""))
            return t("The motion is ruled out of order."), None
        if action == "nemo":
            seconds = _number(data, "seconds", t("the seconds to object"))
            await motions.ask_objection(db, motion, seconds, actor)
            settle_objections_later(ctx_of(state), motion.assembly_id, seconds)
            return t("Any objection? The room has {seconds} seconds.", seconds=seconds), None
        raise Invalid(t("Unknown action {action!r}: vote, nemo or dismiss.", action=action))

    return await _chair_act(db, request, state, motion.assembly_id, act)


def _choice(enum: Any, value: str, what: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise Invalid(t("Unknown {what}: {value!r}.", what=what, value=value)) from None


CHAIR_ACTIONS = ("start", "stop", "extend", "close", "reopen", "sides", "no-sides", "time", "add")


@post("/chair/floor/{item_id:int}/{action:str}", opt=roles(CHAIR), status_code=200)
async def chair_floor(
    db: AsyncSession, request: Req, state: State, item_id: int, action: str, data: Form
) -> Template | Redirect:
    """The chair runs the list: next speaker, stop, more time, close or reopen, sides, the time
    per speaker, or a speaker added from the room."""
    item = await agenda.get_item(db, item_id)
    actor = request.user.actor

    async def act() -> tuple[str, int | None]:
        if action == "start":
            request_id = (
                _number(data, "request_id", t("a request")) if data.get("request_id") else None
            )
            row = await floor.start(db, item, request_id, actor)
            notice = t("The floor is given to request {request}.", request=row.id)
        elif action == "stop":
            await floor.stop(db, item)
            notice = t("The floor is free.")
        elif action == "extend":
            seconds = _number(data, "seconds", t("the number of seconds"))
            await floor.extend(db, item, seconds, actor)
            notice = t("{seconds} seconds more.", seconds=seconds)
        elif action in ("close", "reopen"):
            await floor.set_list(db, item, actor, closed=action == "close")
            notice = t("The list is closed.") if action == "close" else t("The list is open.")
        elif action in ("sides", "no-sides"):
            await floor.set_list(db, item, actor, sides=action == "sides")
            notice = t("Speakers say for or against.") if action == "sides" else t("No sides.")
        elif action == "time":
            seconds = _number(data, "speaking_time_s", t("the speaking time in seconds"))
            await floor.set_list(db, item, actor, speaking_time_s=seconds)
            notice = t("Each speaker has {seconds} seconds.", seconds=seconds)
        elif action == "add":
            nmo_id = _number(data, "nmo_id", t("an NMO"))
            kind = _choice(Kind, data.get("kind", "speech"), t("kind of request"))
            side = _choice(Side, data.get("side", "neutral") or "neutral", t("side"))
            await floor.add_speaker(db, item, nmo_id, kind, side, actor)
            notice = t("Added to the list.")
        else:
            raise Invalid(
                t(
                    "Unknown action {action!r}: one of {actions}.",
                    action=action,
                    actions=", ".join(CHAIR_ACTIONS),
                )
            )
        return notice, None

    return await _chair_act(db, request, state, item.assembly_id, act)


@post("/chair/floor/requests/{request_id:int}/{action:str}", opt=roles(CHAIR), status_code=200)
async def chair_floor_request(
    db: AsyncSession, request: Req, state: State, request_id: int, action: str
) -> Template | Redirect:
    """The chair removes a waiting request or moves a speech up or down the list."""
    row = await floor.get_request(db, request_id)
    item = await agenda.get_item(db, row.item_id)
    actor = request.user.actor

    async def act() -> tuple[str, int | None]:
        if action == "remove":
            await floor.remove(db, item, row, actor)
            notice = t("Removed from the list.")
        elif action in ("up", "down"):
            fs = await floor.floor_of(db, item)
            speeches = [r.id for r in fs.waiting if r.kind == Kind.SPEECH]
            if row.id not in speeches:
                raise Invalid(
                    t("Only a waiting speech can be moved; points keep their precedence.")
                )
            index = speeches.index(row.id) + (-1 if action == "up" else 1)
            await floor.move(db, item, row, max(0, min(index, len(speeches) - 1)), actor)
            notice = t("Moved.")
        else:
            raise Invalid(t("Unknown action {action!r}: remove, up or down.", action=action))
        return notice, None

    return await _chair_act(db, request, state, item.assembly_id, act)


def _number(data: dict[str, str], key: str, what: str) -> int:
    number = form_int(data, key, what)
    if not 0 < number <= MAX_NUMBER:
        raise Invalid(t("Choose {what}: a positive whole number.", what=what))
    return number


async def _answer_chair(
    db: AsyncSession,
    request: Req,
    assembly_id: int,
    *,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> Template | Redirect:
    if not is_htmx(request):
        return see_other("/chair", assembly=assembly_id)
    state = await floor.current_floor(db, assembly_id)
    view = await floor_view(db, state, assembly_id)
    return page(
        request,
        "fragments/floor_answer.html",
        status=status,
        notice=notice,
        error=error,
        oob=True,
        alert=False,
        **view,
    )


FLOOR_PAGES = [
    floor_fragment,
    my_floor_fragment,
    delegate_floor_page,
    ask_floor,
    withdraw_floor,
    chair_floor,
    chair_floor_request,
    raise_motion,
    object_to_motion,
    withdraw_motion,
    chair_motion,
]
