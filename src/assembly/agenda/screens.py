"""Agenda screens: the chair plans the plenary sessions, orders the items and links each to its
session and document, puts the agenda to the vote and moves the plenary on; the amendments panel
runs the amendments to the current item's document in voting order, up to the final vote.
Every screen shows the current item (fetched on load and after reconnects, pushed when the
chair moves on).

As on the other screens, every form works with htmx (answered with the refreshed section, a
refusal included, with its 4xx status) and as a plain form (answered with a 303 to the
section's own page, or with that page and the refusal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from litestar import get, post
from litestar.datastructures import State
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import amending, documents, service
from assembly.agenda.amendments import (
    AmendmentConflict,
    AmendmentRefused,
    Change,
    Delete,
    Insert,
)
from assembly.agenda.models import (
    APPLIED_STATES,
    ITEM_KINDS,
    PENDING_STATES,
    AgendaEvent,
    AgendaItem,
    Amendment,
    AmendmentEvent,
    Document,
    PlenarySession,
)
from assembly.credentials import service as credentials
from assembly.credentials.auth import ALL_ROLES, CHAIR, MEMBERS, roles
from assembly.credentials.screens import Form, Req, ctx_of, is_htmx, page, see_other
from assembly.errors import DomainError, Forbidden, Invalid
from assembly.i18n import t
from assembly.live import broadcast
from assembly.voting.models import Vote

DOCUMENT_KINDS = {
    "policy": t("Policy"),
    "position_paper": t("Position paper"),
    "constitution": t("Constitution"),
    "bylaws": t("Bylaws"),
}
# Whose majority the final vote on a text needs, in the words of the assembly's rules.
FINAL_RULE_OWNER = {
    "policy": t("policies and position papers"),
    "position_paper": t("policies and position papers"),
    "constitution": "the constitution",
    "bylaws": "the bylaws",
}
RECENT_CHANGES = 5

# What a chair's action does; it returns the notice and the vote it opened, if any.
Action = Callable[[], Awaitable[tuple[str, int | None]]]


def form_id(data: dict[str, str], key: str, what: str) -> int | None:
    """An optional choice from a select list: empty means none."""
    raw = (data.get(key) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Invalid(t("Choose {what} from the list.", what=what)) from None


def utc_moment(data: dict[str, str], key: str, what: str) -> dt.datetime:
    """A date and time typed in a datetime-local field, which the form says is UTC."""
    raw = (data.get(key) or "").strip()
    if not raw:
        raise Invalid(t("Give the {what} as a date and time (UTC).", what=what))
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(
            t(
                "The {what} “{raw}” is not a date and time: write it as 2025-03-01 09:00 (UTC).",
                what=what,
                raw=raw,
            )
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


# --- the agenda ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionGroup:
    """The items of one plenary session (or, with no session, those not scheduled yet)."""

    session: PlenarySession | None
    items: list[AgendaItem]


@dataclass(frozen=True, slots=True)
class ChangeLine:
    """One recorded change of the agenda, in words."""

    at: dt.datetime
    actor: str
    words: str


def event_words(
    event: AgendaEvent,
    titles: dict[int, str],
    sessions: dict[int, str],
    document_titles: dict[int, str],
) -> str:
    """What a change of the agenda did, as the chair would say it to the plenary."""
    d = event.detail or {}
    text: str
    if event.kind == "session_added":
        text = t("Added the plenary session “{name}”", name=d.get("name", ""))
    elif event.kind == "item_added":
        text = t(
            "Added “{title}” as item {position}",
            title=d.get("title", ""),
            position=d.get("position", "?"),
        )
    elif event.kind == "item_moved":
        text = t(
            "Moved “{title}” from {old} to {new}",
            title=d.get("title", ""),
            old=d.get("from_position", "?"),
            new=d.get("to_position", "?"),
        )
    elif event.kind == "item_linked":
        item_id = d.get("item_id")
        title = (
            titles.get(item_id, t("item {item_id}", item_id=item_id))
            if isinstance(item_id, int)
            else t("an item")
        )
        session_id, document_id = d.get("session_id"), d.get("document_id")
        where = (
            t(
                "in “{session}”",
                session=sessions.get(session_id, t("session {session_id}", session_id=session_id)),
            )
            if isinstance(session_id, int)
            else t("in no session")
        )
        what = (
            t(
                "with the document “{title}”",
                title=document_titles.get(
                    document_id, t("document {document_id}", document_id=document_id)
                ),
            )
            if isinstance(document_id, int)
            else t("with no document")
        )
        text = t("Put “{title}” {where}, {what}", title=title, where=where, what=what)
    elif event.kind == "adopted":
        text = t("The plenary adopted the agenda")
        if d.get("vote_id"):
            text = t("The plenary adopted the agenda (vote {vote})", vote=d["vote_id"])
    else:
        text = event.kind.replace("_", " ").capitalize()
    if d.get("after_adoption"):
        text = t("{change} (after the agenda was adopted)", change=text)
    return text


def session_groups(
    sessions: Sequence[PlenarySession], items: Sequence[AgendaItem]
) -> list[SessionGroup]:
    """Sessions in time order with their items in agenda order; then the unscheduled items
    (all of them under no heading when there are no sessions yet)."""
    groups = [SessionGroup(s, [i for i in items if i.session_id == s.id]) for s in sessions]
    unscheduled = [i for i in items if i.session_id is None]
    if unscheduled or not sessions:
        groups.append(SessionGroup(None, unscheduled))
    return groups


async def agenda_context(db: AsyncSession, assembly_id: int, **extra: Any) -> dict[str, Any]:
    assembly = await credentials.get_assembly(db, assembly_id)
    items = await service.items_of(db, assembly_id)
    sessions = await service.sessions_of(db, assembly_id)
    docs = await documents.documents_of(db, assembly_id)
    votes = await service.agenda_votes(db, assembly_id)
    titles = {i.id: i.title for i in items}
    session_names = {s.id: s.name for s in sessions}
    document_titles = {d.id: d.title for d in docs}
    changes = [
        ChangeLine(e.at, e.actor, event_words(e, titles, session_names, document_titles))
        for e in reversed(await service.events_of(db, assembly_id))
    ]
    closed = [v for v in votes if v.state == "closed"]
    return {
        "assembly": assembly,
        "items": items,
        "kinds": ITEM_KINDS,
        "sessions": sessions,
        "groups": session_groups(sessions, items),
        "documents": docs,
        "document_titles": document_titles,
        "adoption_vote": next((v for v in votes if v.state in ("draft", "open")), None),
        "last_adoption": closed[-1] if closed else None,
        "recent_changes": changes[:RECENT_CHANGES],
        "earlier_changes": changes[RECENT_CHANGES:],
        "notice": "",
        "error": "",
        "where": "",
        "session_form": {"name": "", "starts_at": "", "ends_at": ""},
        "item_form": {"title": "", "kind": "other", "session_id": "", "document_id": ""},
        **extra,
    }


def current_item_changed(state: State, assembly_id: int) -> Callable[[], Awaitable[None]]:
    """Every screen shows the current item with its number and document: push it again after
    a change that may alter them (and, through the live message, refresh the chair's panel
    and the phones' lists of amendments)."""

    async def announce() -> None:
        await broadcast.announce_agenda(ctx_of(state), assembly_id)

    return announce


def agenda_page_url(assembly_id: int) -> str:
    return f"/chair/assemblies/{assembly_id}/agenda"


async def agenda_answer(
    db: AsyncSession,
    request: Req,
    assembly_id: int,
    *,
    status: int = 200,
    **extra: Any,
) -> Template:
    template = "chair/_agenda.html" if is_htmx(request) else "chair/_agenda_page.html"
    context = await agenda_context(db, assembly_id, **extra)
    return page(request, template, status=status, **context)


async def agenda_act(
    db: AsyncSession,
    request: Req,
    state: State,
    assembly_id: int,
    action: Action,
    *,
    where: str = "",
    form: dict[str, Any] | None = None,
    after: Callable[[], Awaitable[None]] | None = None,
) -> Template | Redirect:
    """Run a chair's change to the agenda: stored whole and answered with the section, or
    refused with nothing stored and the reason shown by the form (which keeps what was typed)."""
    try:
        notice, vote_id = await action()
    except DomainError as exc:
        await db.rollback()
        typed = form or {}
        return await agenda_answer(
            db, request, assembly_id, status=exc.status, error=exc.message, where=where, **typed
        )
    await db.commit()
    if vote_id is not None:
        await broadcast.announce_vote(ctx_of(state), vote_id)
    if after is not None:
        await after()
    if not is_htmx(request):
        return see_other(agenda_page_url(assembly_id))
    return await agenda_answer(db, request, assembly_id, notice=notice, where=where)


@get("/chair/assemblies/{assembly_id:int}/agenda", opt=roles(CHAIR))
async def chair_agenda(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The chair's agenda: sessions, the items by session with their documents, the forms to
    change them, whether the agenda is adopted, and every change recorded (a page without
    JavaScript)."""
    return await agenda_answer(db, request, assembly_id)


@post("/chair/assemblies/{assembly_id:int}/agenda", opt=roles(CHAIR), status_code=200)
async def chair_add_item(
    db: AsyncSession, request: Req, state: State, assembly_id: int, data: Form
) -> Template | Redirect:
    """Add an item at the end of the agenda, in a session and with its document if given."""
    typed = {k: data.get(k, "") for k in ("title", "kind", "session_id", "document_id")}

    async def action() -> tuple[str, int | None]:
        assembly = await credentials.get_assembly(db, assembly_id)
        item = await service.add_item(
            db,
            assembly,
            request.user.actor,
            data.get("title", ""),
            data.get("kind") or "other",
            session_id=form_id(data, "session_id", t("a plenary session")),
            document_id=form_id(data, "document_id", t("a document")),
        )
        return t("Added: {title}", title=item.title), None

    return await agenda_act(
        db, request, state, assembly_id, action, where="add", form={"item_form": typed}
    )


@post("/chair/assemblies/{assembly_id:int}/sessions", opt=roles(CHAIR), status_code=200)
async def chair_add_session(
    db: AsyncSession, request: Req, state: State, assembly_id: int, data: Form
) -> Template | Redirect:
    """Add a plenary session with its planned start and end (typed in UTC)."""
    typed = {k: data.get(k, "") for k in ("name", "starts_at", "ends_at")}

    async def action() -> tuple[str, int | None]:
        assembly = await credentials.get_assembly(db, assembly_id)
        session = await service.add_session(
            db,
            assembly,
            request.user.actor,
            data.get("name", ""),
            utc_moment(data, "starts_at", t("start")),
            utc_moment(data, "ends_at", t("end")),
        )
        return t("Added the plenary session “{name}”.", name=session.name), None

    return await agenda_act(
        db, request, state, assembly_id, action, where="session", form={"session_form": typed}
    )


@post("/chair/agenda-items/{item_id:int}/move", opt=roles(CHAIR), status_code=200)
async def chair_move_item(
    db: AsyncSession, request: Req, state: State, item_id: int, data: Form
) -> Template | Redirect:
    """Move an item to another place in the agenda (recorded, and marked as a change to the
    adopted agenda once it is adopted)."""
    item = await service.get_item(db, item_id)
    assembly_id = item.assembly_id

    async def action() -> tuple[str, int | None]:
        assembly = await credentials.get_assembly(db, assembly_id)
        raw = (data.get("position") or "").strip()
        try:
            position = int(raw)
        except ValueError:
            raise Invalid(t("Say where to move the item: a position such as 1 or 2.")) from None
        old = item.position
        await service.move_item(db, assembly, request.user.actor, item, position)
        done = t(
            "Moved “{title}” from {old} to {position}.",
            title=item.title,
            old=old,
            position=position,
        )
        if assembly.agenda_adopted_at is not None:
            done = t("{done} The change to the adopted agenda is recorded.", done=done)
        return done, None

    return await agenda_act(
        db, request, state, assembly_id, action, after=current_item_changed(state, assembly_id)
    )


@post("/chair/agenda-items/{item_id:int}/link", opt=roles(CHAIR), status_code=200)
async def chair_link_item(
    db: AsyncSession, request: Req, state: State, item_id: int, data: Form
) -> Template | Redirect:
    """Put an item in a plenary session and attach the document it debates (or neither)."""
    item = await service.get_item(db, item_id)
    assembly_id = item.assembly_id

    async def action() -> tuple[str, int | None]:
        assembly = await credentials.get_assembly(db, assembly_id)
        await service.link_item(
            db,
            assembly,
            request.user.actor,
            item,
            session_id=form_id(data, "session_id", t("a plenary session")),
            document_id=form_id(data, "document_id", t("a document")),
        )
        return t("Saved the session and document of “{title}”.", title=item.title), None

    return await agenda_act(
        db, request, state, assembly_id, action, after=current_item_changed(state, assembly_id)
    )


@post("/chair/assemblies/{assembly_id:int}/agenda/adopt", opt=roles(CHAIR), status_code=200)
async def chair_adopt_agenda(
    db: AsyncSession, request: Req, state: State, assembly_id: int
) -> Template | Redirect:
    """Put the agenda to the vote (a procedural motion): the vote opens at once."""

    async def action() -> tuple[str, int | None]:
        assembly = await credentials.get_assembly(db, assembly_id)
        vote = await service.open_adoption_vote(db, assembly, request.user.actor)
        return t("The vote on the agenda is open: ballots are on the phones."), vote.id

    return await agenda_act(db, request, state, assembly_id, action, where="status")


@post("/chair/agenda-items/{item_id:int}/current", opt=roles(CHAIR), status_code=200)
async def chair_make_current(
    db: AsyncSession, request: Req, state: State, item_id: int
) -> Template | Redirect:
    """Move the plenary to this item; the phones and the projector follow."""
    item = await service.get_item(db, item_id)
    assembly_id = item.assembly_id

    async def action() -> tuple[str, int | None]:
        await service.make_current(db, item)
        return t("Now: {title}", title=item.title), None

    return await agenda_act(
        db, request, state, assembly_id, action, after=current_item_changed(state, assembly_id)
    )


@get("/agenda/{assembly_id:int}/current", opt=roles(ALL_ROLES))
async def current_item(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The current item as an out-of-band fragment: what every screen fetches to catch up."""
    principal = request.user
    if principal.role in MEMBERS and principal.assembly_id != assembly_id:
        raise Forbidden(t("You can only see the assembly your delegation is registered for."))
    await credentials.get_assembly(db, assembly_id)
    item = await service.current_item(db, assembly_id)
    return page(request, "fragments/current_item.html", item=item, oob=True)


# --- the amendments to the current item's document ------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One change of an amendment: where it acts, in words, and its words added and removed."""

    where: str
    words: list[tuple[str, str]]


@dataclass(slots=True)
class AmendmentRow:
    """An amendment as the chair's panel shows it, with what the chair may do with it."""

    view: amending.AmendmentView
    state_words: str
    changes: list[ChangeRow]
    notes: list[str] = field(default_factory=list)
    in_order: bool = True

    @property
    def waiting(self) -> list[str]:
        """Amendments to this one still undecided: they are voted first."""
        return self.view.waiting

    @property
    def row(self) -> Amendment:
        return self.view.row

    @property
    def being_voted(self) -> bool:
        vote = self.view.vote
        return vote is not None and vote.state in ("draft", "open")

    @property
    def may_admit(self) -> bool:
        return self.view.row.state == "submitted"

    @property
    def may_refuse(self) -> bool:
        return self.view.row.state in PENDING_STATES and not self.being_voted

    @property
    def may_merge(self) -> bool:
        return self.view.row.state == "admitted" and not self.being_voted and not self.view.problems


def change_rows(view: amending.AmendmentView) -> list[ChangeRow]:
    out: list[ChangeRow] = []
    for change, number, words in zip(view.changes, view.paragraphs, view.words, strict=False):
        if view.row.degree == 2:
            paragraph = (
                t("paragraph {number}", number=number)
                if number
                else t("its new paragraph {paragraph_id}", paragraph_id=change_id(change))
            )
            where = t(
                "Rewords {target_label}'s text for {paragraph}",
                target_label=view.target_label,
                paragraph=paragraph,
            )
        elif isinstance(change, Insert):
            if number:
                where = t("New paragraph after paragraph {number}", number=number)
            elif change.after is None:
                where = t("New paragraph at the start")
            else:
                where = t("New paragraph after {after} (no longer in the text)", after=change.after)
        else:
            if isinstance(change, Delete):
                where = (
                    t("Paragraph {number}: delete", number=number)
                    if number
                    else t(
                        "Paragraph {paragraph_id} (no longer in the text): delete",
                        paragraph_id=change.paragraph_id,
                    )
                )
            else:
                where = (
                    t("Paragraph {number}: replace", number=number)
                    if number
                    else t(
                        "Paragraph {paragraph_id} (no longer in the text): replace",
                        paragraph_id=change.paragraph_id,
                    )
                )
        out.append(ChangeRow(where, list(words)))
    return out


def change_id(change: Change) -> str:
    return change.new_id if isinstance(change, Insert) else change.paragraph_id


def state_words(view: amending.AmendmentView, events: Sequence[AmendmentEvent]) -> str:
    a = view.row
    vote = view.vote
    if vote is not None and vote.state == "open":
        return t("Being voted on")
    if vote is not None and vote.state == "draft":
        return t("A vote on it is prepared")
    last = events[-1].kind if events else ""
    if a.state == "submitted":
        return t("Submitted late: waiting for the chair's ruling") if a.late else t("Submitted")
    if a.state == "admitted":
        return t("Admitted for debate")
    if a.state == "withdrawn":
        return t("Withdrawn")
    if a.state == "merged":
        return t("Merged as friendly")
    if a.state == "adopted":
        return t("Adopted by the plenary")
    if a.state == "rejected":
        return t("Ruled out of order") if last == "ruled_out" else t("Rejected by the plenary")
    return str(a.state)


def event_notes(events: Sequence[AmendmentEvent]) -> list[str]:
    """The chair's rulings and how the amendment ended, from its history."""
    notes: list[str] = []
    for e in events:
        if e.kind == "admitted_late" and e.note:
            notes.append(t("Admitted after the deadline. The chair's ruling: {note}", note=e.note))
        elif e.kind == "ruled_out" and e.note:
            notes.append(t("Ruled out of order: {note}", note=e.note))
        elif e.kind == "withdrawn" and e.note:
            notes.append(t("Withdrawn: {note}", note=e.note))
        elif e.kind in ("adopted", "rejected") and e.note:
            notes.append(e.note)
    return notes


def rewording_notes(
    view: amending.AmendmentView, views: Sequence[amending.AmendmentView]
) -> list[str]:
    """A first-degree amendment reworded by adopted or merged amendments to it: while it waits,
    its changes are shown as reworded, and so they stay once it is decided."""
    reworded = [
        w.label for w in views if w.row.amends_id == view.row.id and w.row.state in APPLIED_STATES
    ]
    if not reworded:
        return []
    labels = ", ".join(reworded)
    if view.row.state in PENDING_STATES:
        return [t("Shown as reworded by {labels}.", labels=labels)]
    return [t("Decided as reworded by {labels}.", labels=labels)]


async def amendment_rows(
    db: AsyncSession, document: Document, views: Sequence[amending.AmendmentView]
) -> list[AmendmentRow]:
    ids = [v.row.id for v in views]
    history: dict[int, list[AmendmentEvent]] = {i: [] for i in ids}
    if ids:
        found = await db.execute(
            select(AmendmentEvent)
            .where(AmendmentEvent.amendment_id.in_(ids))
            .order_by(AmendmentEvent.id)
        )
        for event in found.scalars():
            history[event.amendment_id].append(event)
    states = {v.row.id: v.row.state for v in views}
    rows: list[AmendmentRow] = []
    for v in views:
        a = v.row
        target_gone = a.amends_id is not None and states.get(a.amends_id) == "withdrawn"
        rows.append(
            AmendmentRow(
                view=v,
                state_words=state_words(v, history[a.id]),
                changes=change_rows(v),
                notes=rewording_notes(v, views) + event_notes(history[a.id]),
                in_order=(
                    a.version_number == document.current_version
                    and a.state != "withdrawn"
                    and not target_gone
                ),
            )
        )
    return rows


def final_vote_done(final: Vote | None, rows: Sequence[AmendmentRow], document: Document) -> bool:
    """The text was adopted and nothing was proposed to its version since."""
    if final is None or final.state != "closed" or not (final.result or {}).get("adopted"):
        return False
    closed = final.closed_at
    return not any(
        r.row.version_number == document.current_version
        and (closed is None or r.row.submitted_at > closed)
        for r in rows
    )


async def amendments_context(db: AsyncSession, assembly_id: int, **extra: Any) -> dict[str, Any]:
    assembly = await credentials.get_assembly(db, assembly_id)
    item = await service.current_item(db, assembly_id)
    context: dict[str, Any] = {
        "assembly": assembly,
        "item": item,
        "document": None,
        "notice": "",
        "error": "",
        **extra,
    }
    if item is None or item.document_id is None:
        return context
    document = await documents.get_document(db, item.document_id)
    views = await amending.amendment_views(db, document)
    rows = await amendment_rows(db, document, views)
    state = await amending.document_state(db, document)
    final: Vote | None = state["final_vote"]
    deadline: dt.datetime | None = state["deadline"]
    pending = [
        r.view.label
        for r in rows
        if r.row.state in PENDING_STATES and r.row.version_number == document.current_version
    ]
    context.update(
        document=document,
        kind_name=DOCUMENT_KINDS.get(document.kind, document.kind),
        deadline=deadline,
        deadline_passed=deadline is not None and deadline < dt.datetime.now(dt.UTC),
        in_order=[r for r in rows if r.in_order],
        others=[r for r in rows if not r.in_order],
        pending=pending,
        final_vote=final,
        final_live=final is not None and final.state in ("draft", "open"),
        final_done=final_vote_done(final, rows, document),
        final_rule=getattr(assembly, amending.FINAL_RULE[document.kind]),
        final_rule_owner=FINAL_RULE_OWNER.get(document.kind, document.kind),
        amendment_rule=assembly.majority_amendment,
    )
    return context


def amendments_page_url(assembly_id: int) -> str:
    return f"/chair/assemblies/{assembly_id}/amendments"


async def amendments_answer(
    db: AsyncSession, request: Req, assembly_id: int, *, status: int = 200, **extra: Any
) -> Template:
    template = "chair/_amendments.html" if is_htmx(request) else "chair/_amendments_page.html"
    context = await amendments_context(db, assembly_id, **extra)
    return page(request, template, status=status, **context)


async def amendments_act(
    db: AsyncSession, request: Req, state: State, assembly_id: int, action: Action
) -> Template | Redirect:
    """Run a chair's decision on an amendment or the text: stored whole (a vote it opens is
    announced to every screen) or refused with nothing stored; answered with the panel."""
    error, status = "", 200
    try:
        notice, vote_id = await action()
    except DomainError as exc:
        error, status = exc.message, exc.status
    except AmendmentConflict as exc:
        error, status = exc.message, 409
    except AmendmentRefused as exc:
        error, status = exc.message, 422
    else:
        await db.commit()
        if vote_id is not None:
            await broadcast.announce_vote(ctx_of(state), vote_id)
        else:
            # As the JSON API does: a live message makes the screens that list the
            # amendments (the phones, other chair screens) fetch them again.
            await broadcast.announce_agenda(ctx_of(state), assembly_id)
        if not is_htmx(request):
            return see_other(amendments_page_url(assembly_id))
        return await amendments_answer(db, request, assembly_id, notice=notice)
    await db.rollback()
    return await amendments_answer(db, request, assembly_id, status=status, error=error)


async def amendment_act(
    db: AsyncSession,
    request: Req,
    state: State,
    amendment_id: int,
    action: Callable[[Amendment], Awaitable[tuple[str, int | None]]],
) -> Template | Redirect:
    amendment = await amending.get_amendment(db, amendment_id)
    document = await documents.get_document(db, amendment.document_id)

    async def run() -> tuple[str, int | None]:
        return await action(amendment)

    return await amendments_act(db, request, state, document.assembly_id, run)


@get("/chair/assemblies/{assembly_id:int}/amendments", opt=roles(CHAIR))
async def chair_amendments(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The amendments to the current item's document in voting order, with the chair's
    actions on each and the final vote (the chair screen refreshes it after live messages)."""
    return await amendments_answer(db, request, assembly_id)


@post("/chair/amendments/{amendment_id:int}/admit", opt=roles(CHAIR), status_code=200)
async def chair_admit_amendment(
    db: AsyncSession, request: Req, state: State, amendment_id: int, data: Form
) -> Template | Redirect:
    """Admit an amendment for debate; a late one needs the chair's ruling (recorded)."""

    async def action(amendment: Amendment) -> tuple[str, int | None]:
        await amending.admit(db, request.user.actor, amendment, data.get("ruling", ""))
        return t("{amendment} is admitted for debate.", amendment=amendment.label), None

    return await amendment_act(db, request, state, amendment_id, action)


@post("/chair/amendments/{amendment_id:int}/refuse", opt=roles(CHAIR), status_code=200)
async def chair_refuse_amendment(
    db: AsyncSession, request: Req, state: State, amendment_id: int, data: Form
) -> Template | Redirect:
    """Rule an amendment out of order, with the reason (recorded)."""

    async def action(amendment: Amendment) -> tuple[str, int | None]:
        await amending.refuse(db, request.user.actor, amendment, data.get("reason", ""))
        return t("{amendment} is ruled out of order.", amendment=amendment.label), None

    return await amendment_act(db, request, state, amendment_id, action)


@post("/chair/amendments/{amendment_id:int}/merge", opt=roles(CHAIR), status_code=200)
async def chair_merge_amendment(
    db: AsyncSession, request: Req, state: State, amendment_id: int, data: Form
) -> Template | Redirect:
    """Merge a friendly amendment into the text without a vote, once the chair confirms that
    the proposer of the text accepted it and no delegation objects."""

    async def action(amendment: Amendment) -> tuple[str, int | None]:
        if data.get("confirmed") != "1":
            raise Invalid(
                t(
                    "Merging {amendment} needs your confirmation that the proposer of the "
                    "text accepted it and that no delegation objects.",
                    amendment=amendment.label,
                )
            )
        await amending.merge(db, request.user.actor, amendment)
        return t(
            "{amendment} is merged into the text as friendly.", amendment=amendment.label
        ), None

    return await amendment_act(db, request, state, amendment_id, action)


@post("/chair/amendments/{amendment_id:int}/vote", opt=roles(CHAIR), status_code=200)
async def chair_vote_amendment(
    db: AsyncSession, request: Req, state: State, amendment_id: int
) -> Template | Redirect:
    """Put an amendment to the vote now: the vote is created and opened in one click."""

    async def action(amendment: Amendment) -> tuple[str, int | None]:
        vote = await amending.open_amendment_vote(db, request.user.actor, amendment)
        return t(
            "The vote on {amendment} is open: ballots are on the phones.", amendment=amendment.label
        ), vote.id

    return await amendment_act(db, request, state, amendment_id, action)


@post("/chair/documents/{document_id:int}/final-vote", opt=roles(CHAIR), status_code=200)
async def chair_final_vote(
    db: AsyncSession, request: Req, state: State, document_id: int
) -> Template | Redirect:
    """Open the final vote on the text as amended; every amendment must be decided first."""
    document = await documents.get_document(db, document_id)

    async def action() -> tuple[str, int | None]:
        vote = await amending.open_final_vote(db, request.user.actor, document)
        return t(
            "The final vote on “{title}” is open: ballots are on the phones.", title=document.title
        ), vote.id

    return await amendments_act(db, request, state, document.assembly_id, action)


def handlers() -> list[Any]:
    return [
        chair_agenda,
        chair_add_item,
        chair_add_session,
        chair_move_item,
        chair_link_item,
        chair_adopt_agenda,
        chair_make_current,
        current_item,
        chair_amendments,
        chair_admit_amendment,
        chair_refuse_amendment,
        chair_merge_amendment,
        chair_vote_amendment,
        chair_final_vote,
    ]
