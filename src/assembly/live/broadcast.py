"""Render a fragment once per event (and language) and publish it to every screen on the topic.

A topic shared by many screens is one per language: a screen subscribes to its reader's, and
each event is rendered once in each language, never once per screen. A delegate's personal
fragments are rendered in that delegate's own language."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, ParamSpec

from assembly import i18n
from assembly.live.processes import vote_news

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from assembly.app import AppContext


log = logging.getLogger(__name__)

# When the state a fragment shows was read: the start of the request, or of the
# announcement (which runs after its change committed). Screens keep the newest: a catch-up
# fetch that read the database before a change must not overwrite that change's push.
AS_OF: contextvars.ContextVar[int] = contextvars.ContextVar("as_of", default=0)


def as_of() -> int:
    """Microseconds since the epoch at which this fragment's data was read (for templates)."""
    return AS_OF.get() or time.time_ns() // 1000


def start_reading() -> None:
    AS_OF.set(time.time_ns() // 1000)


P = ParamSpec("P")


def never_fails(fn: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
    """An announcement runs after the change committed: if it fails, the change still
    stands, so log the error and let the request succeed; screens catch up on reconnect."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            start_reading()
            await fn(*args, **kwargs)
        except Exception:
            log.exception("announcement %s failed", fn.__name__)

    return wrapper


def assembly_topic(assembly_id: int, lang: str) -> str:
    """What every screen of the assembly shows, in one language."""
    return f"assembly:{assembly_id}:{lang}"


def render(ctx: AppContext, template: str, **values: Any) -> str:
    return ctx.jinja.get_template(template).render(**values)


def publish(ctx: AppContext, topic: str, html: str) -> None:
    ctx.channels.publish(html, [topic])


def publish_in_every_language(
    ctx: AppContext,
    topic: Callable[[int, str], str],
    assembly_id: int,
    template: str,
    **values: Any,
) -> None:
    """Render the fragment once per language and publish each rendering to its readers."""
    for lang in i18n.LANGUAGES:
        with i18n.use_language(lang):
            html = render(ctx, template, **values)
        publish(ctx, topic(assembly_id, lang), html)


def render_for(ctx: AppContext, lang: str | None, template: str, **values: Any) -> str:
    """A personal fragment, in its reader's language."""
    with i18n.use_language(lang):
        return render(ctx, template, **values)


async def delegate_languages(db: AsyncSession, assembly_id: int) -> dict[int, str]:
    """Each delegate's screen language (one query for the whole assembly)."""
    from sqlalchemy import select

    from assembly.credentials.models import Delegate, Nmo

    rows = await db.execute(
        select(Delegate.id, Delegate.language)
        .join(Nmo, Nmo.id == Delegate.nmo_id)
        .where(Nmo.assembly_id == assembly_id)
    )
    return {delegate_id: language for delegate_id, language in rows.all()}


@never_fails
async def announce_credentials(ctx: AppContext, assembly_id: int) -> None:
    """After a credentials change commits: push the live quorum to chair and desk screens.

    The fragment carries counts only, no personal data, so one rendering serves every socket.
    """
    from assembly.credentials import service
    from assembly.credentials.models import Assembly

    async with ctx.session_maker() as db:
        assembly = await db.get(Assembly, assembly_id)
        if assembly is None:
            return
        quorum = (await service.standing(db, assembly)).quorum
    publish_in_every_language(
        ctx, assembly_topic, assembly_id, "fragments/quorum.html", quorum=quorum, oob=True
    )


@never_fails
async def announce_agenda(ctx: AppContext, assembly_id: int) -> None:
    """After the chair moves the plenary to another item: every screen shows it."""
    from assembly.agenda.service import current_item

    async with ctx.session_maker() as db:
        item = await current_item(db, assembly_id)
    publish_in_every_language(
        ctx, assembly_topic, assembly_id, "fragments/current_item.html", item=item, oob=True
    )
    await announce_floor(ctx, assembly_id)  # the new item's speakers' list


def screens_topic(assembly_id: int, lang: str) -> str:
    """What only the room's screens show (chair, projector, desk, secretariat), never a
    phone: the live turnout, pushed a few times a second while ballots arrive, which for a
    named vote lists every NMO yet to vote. Sent to every phone it was most of the server's
    work during a ballot burst (see BENCHMARKS.md)."""
    return f"screens:{assembly_id}:{lang}"


def delegate_topic(delegate_id: int) -> str:
    """Personal state (my ballot, my receipts) goes only to that delegate's screens."""
    return f"delegate:{delegate_id}"


TURNOUT_INTERVAL_S = 0.25


async def _vote_view(ctx: AppContext, vote_id: int) -> dict[str, Any] | None:
    from assembly.voting.models import Vote
    from assembly.voting.routes import vote_view

    async with ctx.session_maker() as db:
        vote = await db.get(Vote, vote_id)
        return None if vote is None else await vote_view(db, vote, ctx.ballot_sheets)


@never_fails
async def announce_vote(ctx: AppContext, vote_id: int) -> None:
    """After a vote changes: the panel to the room's screens (rendered once per language),
    and to each delegate one message with the banner and, for a right holder, their own
    ballot with its receipts, from the server's state.

    Only phones show the banner, and only the room's screens the panel. Both went to every
    screen of the assembly before: phones threw away the panel (with its list of the NMOs
    yet to vote, 20 kB each for 2,000 phones), and a phone's banner and ballot were two
    messages to send and receive instead of one.

    A draft is the chair's own: nothing is announced of it unless the chair puts it on the
    projector (to let the room read the question before it opens)."""
    from assembly.voting import service
    from assembly.voting.models import Vote
    from assembly.voting.routes import vote_view

    async with ctx.session_maker() as db:
        row = await db.get(Vote, vote_id)
        if row is None or (row.opened_at is None and not row.on_projector):
            return
        view = await vote_view(db, row, ctx.ballot_sheets)  # an open vote's sheet, read now
        vote = view["vote"]
        # The room's screens first (a result, a vote opening): what the phones get is read
        # and made after.
        publish_in_every_language(
            ctx, screens_topic, vote.assembly_id, "fragments/vote_panel.html", oob=True, **view
        )
        rights = await service.rights_by_delegate(db, row, sheets=ctx.ballot_sheets)
        languages = await delegate_languages(db, row.assembly_id)
    if row.subject_kind == "motion":  # its motion and the list it may close are on every screen
        await announce_floor(ctx, row.assembly_id)
    banners: dict[str | None, str] = {}

    def banner(lang: str | None) -> str:
        if lang not in banners:
            banners[lang] = render_for(ctx, lang, "fragments/vote_banner.html", oob=True, **view)
        return banners[lang]

    ballots = personal_ballots(ctx, vote, rights, languages)
    others = ((d, "") for d in languages.keys() - rights.keys())
    for count, (delegate_id, ballot) in enumerate(itertools.chain(ballots, others)):
        publish(ctx, delegate_topic(delegate_id), banner(languages.get(delegate_id)) + ballot)
        if count % BALLOTS_BETWEEN_SENDS == 0:
            # Let the sockets send what is published so far (the room's screens first, then
            # the first phones) while the rest are made.
            await asyncio.sleep(0)
    if row.opened_at is not None:
        # The other processes read or drop their sheets: after the phones' messages, which
        # they send first (reading the sheet at once had made their phones wait longer).
        vote_news(ctx, row.id, row.state)


BALLOTS_BETWEEN_SENDS = 200

# Stand-ins for one right's NMO id, code and receipt in a ballot rendered once per shape:
# letters and digits, so HTML escaping and URL encoding leave them as they are.
_STAND_IN = "QZXJ{index}{field}Z"
_STAND_INS = re.compile(r"QZXJ(\d+)([NCR])Z")


class _StandIn:
    """A right's NMO id, code or receipt in a ballot rendered once per shape. It can be
    printed (escaped, joined, URL-encoded, put into a message) and nothing else: a template
    that tests, compares, measures or transforms it raises TypeError, and that shape is then
    rendered for each holder instead."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __html__(self) -> str:
        return self.text

    def __format__(self, spec: str) -> str:
        if spec:
            self._refuse()
        return self.text

    def _refuse(self, *_args: Any) -> Any:
        raise TypeError("a stand-in can only be printed")

    # No __iter__: filters such as urlencode treat a non-iterable as one value to print.
    __bool__ = __len__ = __getitem__ = __contains__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __add__ = __radd__ = __mul__ = __mod__ = __int__ = __float__ = __index__ = _refuse
    __hash__ = None  # type: ignore[assignment]


def _stand_ins(rights: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **right,
            "nmo_id": _StandIn(_STAND_IN.format(index=i, field="N")),
            "nmo_code": _StandIn(_STAND_IN.format(index=i, field="C")),
            "receipt": _StandIn(_STAND_IN.format(index=i, field="R")) if right["receipt"] else "",
        }
        for i, right in enumerate(rights)
    ]


class _Skeleton:
    """A ballot rendered with stand-ins, split once at its stand-ins: filling it in for a
    holder joins the pieces with that holder's values, instead of searching the whole ballot
    for stand-ins again (10 kB per ballot, for each of 2,000 holders)."""

    __slots__ = ("slots", "texts")

    def __init__(self, skeleton: str) -> None:
        pieces = _STAND_INS.split(skeleton)  # text, index, field, text, index, field, ..., text
        self.texts = pieces[0::3]
        self.slots = [  # (right's index, field, the stand-in as written)
            (int(pieces[i]), pieces[i + 1], _STAND_IN.format(index=pieces[i], field=pieces[i + 1]))
            for i in range(1, len(pieces), 3)
        ]

    def filled(self, rights: list[dict[str, Any]]) -> str:
        """The ballot with each stand-in replaced by its right's value, escaped as the
        template escapes it (a code that happens to look like a stand-in stays as it is)."""
        from markupsafe import escape

        out = [self.texts[0]]
        for (index, field, stand_in), text in zip(self.slots, self.texts[1:], strict=True):
            if index >= len(rights):
                out.append(stand_in)
            elif field == "N":
                out.append(str(int(rights[index]["nmo_id"])))
            else:
                right = rights[index]
                out.append(str(escape(right["nmo_code"] if field == "C" else right["receipt"])))
            out.append(text)
        return "".join(out)


def personal_ballots(
    ctx: AppContext,
    vote: Any,
    rights: dict[int, list[dict[str, Any]]],
    languages: dict[int, str],
) -> Iterator[tuple[int, str]]:
    """Each right holder's ballot (fragments/my_ballot.html), in their language.

    Most holders' ballots look alike: one right of weight 1, not yet cast; a proxy holder's
    two. Such ballots differ only in the NMO ids, codes and receipts printed in them, so each
    shape (language; per right: proxy or not, weight, cast or not) is rendered once with
    stand-ins, which are then replaced per holder (escaped as the template would). Rendering
    every ballot took 0.2 ms each, 0.4 s of a 2,000-phone vote's opening before anyone could
    vote. A stand-in refuses to be anything but printed, and the shape's first holder is
    also rendered directly and must come out the same; otherwise that shape falls back to
    rendering each holder."""
    template = "fragments/my_ballot.html"
    skeletons: dict[tuple[Any, ...], _Skeleton | None] = {}
    for delegate_id, mine in rights.items():
        lang = languages.get(delegate_id)
        shape = (lang, tuple((r["via_proxy"], r["weight"], bool(r["receipt"])) for r in mine))
        if shape not in skeletons:
            direct = render_for(ctx, lang, template, oob=True, vote=vote, rights=mine)
            try:
                skeleton: str | None = render_for(
                    ctx, lang, template, oob=True, vote=vote, rights=_stand_ins(mine)
                )
            except TypeError:  # the template does more than print them
                skeleton = None
            compiled = None if skeleton is None else _Skeleton(skeleton)
            if compiled is not None and compiled.filled(mine) != direct:
                compiled = None
            if compiled is None:
                log.warning("%s cannot be rendered once per shape %r", template, shape)
            skeletons[shape] = compiled
            yield delegate_id, direct
            continue
        known = skeletons[shape]
        if known is None:
            yield delegate_id, render_for(ctx, lang, template, oob=True, vote=vote, rights=mine)
        else:
            yield delegate_id, known.filled(mine)


def ballots_arrived(ctx: AppContext, vote_id: int, assembly_id: int) -> None:
    """Coalesce turnout updates: at most one render per TURNOUT_INTERVAL_S per vote."""
    pending: set[int] = ctx.turnout_pending
    if vote_id in pending:
        return
    pending.add(vote_id)

    async def later() -> None:
        try:
            await asyncio.sleep(TURNOUT_INTERVAL_S)
        finally:
            pending.discard(vote_id)
        start_reading()
        view = await _vote_view(ctx, vote_id)
        if view is not None:
            publish_in_every_language(
                ctx, screens_topic, assembly_id, "fragments/turnout.html", oob=True, **view
            )

    ctx.in_background(later())


@never_fails
async def announce_floor(ctx: AppContext, assembly_id: int, *, alert: bool = False) -> None:
    """After a change to a speakers' list, or a move to another item: the chair screen, the
    projector and the phones show the speaker, the time left and the queue; `alert` marks a
    point of order the chair must hear at once. Every delegate who asked for the floor on the
    item gets their phone's own controls again (their place in the queue may have moved)."""
    from assembly.agenda.floor import current_floor
    from assembly.agenda.floor_screens import floor_view, motions_now, my_floor_view
    from assembly.agenda.motions import motion_raisers

    async with ctx.session_maker() as db:
        state = await current_floor(db, assembly_id)
        view = await floor_view(db, state, assembly_id)
        asked = set(state.delegates) if state is not None else set()
        delegates = sorted(asked | await motion_raisers(db, assembly_id))
        now = await motions_now(db, assembly_id)  # read once for every phone
        personal = {d: my_floor_view(state, now, assembly_id, d) for d in delegates}
        languages = await delegate_languages(db, assembly_id) if personal else {}
    publish_in_every_language(
        ctx, assembly_topic, assembly_id, "fragments/floor.html", oob=True, alert=alert, **view
    )
    for delegate_id, mine in personal.items():
        publish(
            ctx,
            delegate_topic(delegate_id),
            render_for(
                ctx, languages.get(delegate_id), "fragments/my_floor.html", oob=True, **mine
            ),
        )


def settle_objections_later(ctx: AppContext, assembly_id: int, seconds: int) -> None:
    """When the time for objections is up, record the outcome and show it on every screen.
    If the server restarts in between, the next action on the motions records it instead."""
    import asyncio

    from assembly.agenda.motions import settle_due
    from assembly.db import writing

    async def later() -> None:
        await asyncio.sleep(seconds + 0.2)
        try:
            async with writing(ctx.session_maker) as db:
                changed = await settle_due(db, assembly_id)
                await db.commit()
        except Exception:
            log.exception("recording the outcome of an objection call failed")
            return
        if changed:
            await announce_floor(ctx, assembly_id)

    ctx.in_background(later())


@never_fails
async def announce_roll_call(
    ctx: AppContext, assembly_id: int, *, nmo_ids: set[int] | None = None
) -> None:
    """After the chair starts, closes or reopens a roll call, or an NMO answers: every screen
    shows how far it has got and the quorum it makes, the staff screens the answer of each
    NMO (the desk marks from it), and the phones of the NMOs concerned (all of them when
    `nmo_ids` is None) their own prompt. A phone's prompt depends only on its NMO and on
    whether this delegate answers for it, so each distinct one is rendered once."""
    from assembly.agenda.rollcall_screens import my_roll_call_view, roll_call_screen_view

    async with ctx.session_maker() as db:
        view = await roll_call_screen_view(db, assembly_id)
        personal = await my_roll_call_view(db, assembly_id, view, nmo_ids)
    publish_in_every_language(
        ctx, assembly_topic, assembly_id, "fragments/roll_call.html", oob=True, **view
    )
    # The staff's list of every NMO: whole when the roll call changes, else only the answers
    # that changed (the desk's buttons stay where the keyboard left them).
    staff = "fragments/roll_call_nmos.html" if nmo_ids is None else "fragments/roll_call_rows.html"
    publish_in_every_language(
        ctx, screens_topic, assembly_id, staff, oob=True, only=nmo_ids, **view
    )
    rendered: dict[tuple[Any, ...], str] = {}
    for delegate_id, (key, mine) in personal.items():
        if key not in rendered:
            rendered[key] = render_for(
                ctx, mine["language"], "fragments/my_roll_call.html", oob=True, **mine
            )
        publish(ctx, delegate_topic(delegate_id), rendered[key])
