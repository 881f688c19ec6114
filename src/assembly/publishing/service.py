"""What reaches the public record, and when. Each vote, document and plenary session has a
`published_at`: the moment it becomes public (None: held). A vote's moment is set at its close
by the assembly's policy (at once, when its plenary session ends, or when the secretariat
publishes it); the secretariat can publish or hold anything at any time. A text adopted by a
vote is published with that vote's result. Staff see everything; everyone else sees what is
published, on the public pages and in every export."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda.models import Document, PlenarySession
from assembly.credentials.auth import Principal, Role
from assembly.credentials.models import Assembly
from assembly.credentials.service import record
from assembly.db import utcnow
from assembly.errors import Conflict, Invalid, NotFound
from assembly.i18n import t
from assembly.voting.models import Vote

Subject = Literal["vote", "document", "session"]
SUBJECTS: tuple[Subject, ...] = ("vote", "document", "session")


def is_published(published_at: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    return published_at is not None and published_at <= (now or utcnow())


def sees_unpublished(principal: Principal | None) -> bool:
    """The secretariat and the chair prepare the record: they see what is held too."""
    return principal is not None and principal.role in (Role.secretariat, Role.chair)


async def session_of(db: AsyncSession, assembly_id: int, at: dt.datetime) -> PlenarySession | None:
    """The plenary session sitting at `at` (the first by start if sessions overlap)."""
    query = (
        select(PlenarySession)
        .where(
            PlenarySession.assembly_id == assembly_id,
            PlenarySession.starts_at <= at,
            PlenarySession.ends_at >= at,
        )
        .order_by(PlenarySession.starts_at)
        .limit(1)
    )
    return (await db.execute(query)).scalar_one_or_none()


async def vote_closed(db: AsyncSession, vote: Vote) -> None:
    """Set when the result of a vote that has just closed reaches the public record."""
    assembly = await db.get(Assembly, vote.assembly_id)
    assert assembly is not None and vote.closed_at is not None
    if assembly.publish_results == "at_close":
        vote.published_at = vote.closed_at
    elif assembly.publish_results == "session_end":
        sitting = await session_of(db, vote.assembly_id, vote.closed_at)
        # Outside any planned session the secretariat decides.
        vote.published_at = sitting.ends_at if sitting is not None else None
    else:
        vote.published_at = None


def text_adopted(document: Document, vote: Vote) -> None:
    """A text the plenary adopted is public with the result that adopted it."""
    document.published_at = vote.published_at


async def _subject(
    db: AsyncSession, subject: Subject, subject_id: int
) -> Vote | Document | PlenarySession:
    row: Vote | Document | PlenarySession | None
    if subject == "vote":
        row = await db.get(Vote, subject_id)
    elif subject == "document":
        row = await db.get(Document, subject_id)
    elif subject == "session":
        row = await db.get(PlenarySession, subject_id)
    else:
        raise Invalid(
            t(
                "Only {subjects} are published, not {subject!r}.",
                subjects=", ".join(SUBJECTS),
                subject=subject,
            )
        )
    if row is None:
        raise NotFound(
            t("There is no {subject} {subject_id}.", subject=subject, subject_id=subject_id)
        )
    return row


async def set_published(
    db: AsyncSession,
    assembly_id: int,
    subject: Subject,
    subject_id: int,
    actor: str,
    when: dt.datetime | None,
    *,
    now: dt.datetime | None = None,
) -> Vote | Document | PlenarySession:
    """Publish `subject` from `when` (now if `when` is now or earlier), or hold it (None).
    A vote is published only once it is closed; a document only once it is in force."""
    row = await _subject(db, subject, subject_id)
    if row.assembly_id != assembly_id:
        raise NotFound(
            t(
                "There is no {subject} {subject_id} in this assembly.",
                subject=subject,
                subject_id=subject_id,
            )
        )
    now = now or utcnow()
    if when is not None:
        if when.tzinfo is None:
            raise Invalid(t("A publication time needs a time zone (all times are UTC: add Z)."))
        when = max(when.astimezone(dt.UTC), now)  # a moment past means now
        if isinstance(row, Vote) and row.state != "closed":
            raise Conflict(
                t(
                    "Vote {vote} is {state}: only a closed vote's result is public.",
                    vote=row.id,
                    state=row.state,
                )
            )
        if isinstance(row, Document) and row.in_force_version is None:
            raise Conflict(
                t(
                    "{title} is not in force: a text is published once the plenary adopts it.",
                    title=row.title,
                )
            )
    before = row.published_at
    row.published_at = when
    if before != when:
        record(
            db,
            assembly_id,
            "published" if when is not None else "held",
            actor,
            detail={
                "subject": subject,
                "id": subject_id,
                "from": when.isoformat() if when is not None else None,
            },
        )
    return row


async def publish_session(
    db: AsyncSession, assembly_id: int, session_id: int, actor: str
) -> list[Vote]:
    """Publish at once a plenary session's attendance and every closed vote of it that is
    still held: what the secretariat does when it releases a session."""
    sitting = await _subject(db, "session", session_id)
    assert isinstance(sitting, PlenarySession)
    if sitting.assembly_id != assembly_id:
        raise NotFound(
            t("There is no session {session_id} in this assembly.", session_id=session_id)
        )
    now = utcnow()
    await set_published(db, assembly_id, "session", session_id, actor, now, now=now)
    held = (
        await db.execute(
            select(Vote).where(
                Vote.assembly_id == assembly_id,
                Vote.state == "closed",
                Vote.closed_at >= sitting.starts_at,
                Vote.closed_at <= sitting.ends_at,
            )
        )
    ).scalars()
    released = [v for v in held if not is_published(v.published_at, now)]
    for vote in released:
        await set_published(db, assembly_id, "vote", vote.id, actor, now, now=now)
    return released


State = Literal["published", "scheduled", "held"]


def state_of(published_at: dt.datetime | None, now: dt.datetime | None = None) -> State:
    """Where an item stands: public, public from a moment to come, or held."""
    if published_at is None:
        return "held"
    return "published" if is_published(published_at, now) else "scheduled"


@dataclass(frozen=True, slots=True)
class Publication:
    """One item the secretariat publishes: a closed vote, a plenary session's attendance or
    a text in force, with when it is (or becomes) public."""

    subject: Subject
    id: int
    title: str
    published_at: dt.datetime | None
    state: State
    session_id: int | None = None  # a vote: the plenary session it closed in


@dataclass(slots=True)
class Publications:
    policy: str
    votes: list[Publication] = field(default_factory=list)
    sessions: list[Publication] = field(default_factory=list)
    documents: list[Publication] = field(default_factory=list)

    def held_in(self, session_id: int) -> list[Publication]:
        """The votes of a session not yet public: what publishing the session releases."""
        return [v for v in self.votes if v.session_id == session_id and v.state != "published"]


async def publications(
    db: AsyncSession, assembly_id: int, now: dt.datetime | None = None
) -> Publications:
    """What the secretariat decides on: every closed vote, session and text in force."""
    now = now or utcnow()
    assembly = await db.get(Assembly, assembly_id)
    if assembly is None:
        raise NotFound(t("There is no assembly {assembly_id}.", assembly_id=assembly_id))
    out = Publications(policy=assembly.publish_results)
    sittings = list(
        (
            await db.execute(
                select(PlenarySession)
                .where(PlenarySession.assembly_id == assembly_id)
                .order_by(PlenarySession.starts_at)
            )
        ).scalars()
    )
    for sitting in sittings:
        out.sessions.append(
            Publication(
                "session",
                sitting.id,
                sitting.name,
                sitting.published_at,
                state_of(sitting.published_at, now),
            )
        )
    votes = (
        await db.execute(
            select(Vote)
            .where(Vote.assembly_id == assembly_id, Vote.state == "closed")
            .order_by(Vote.closed_at, Vote.id)
        )
    ).scalars()
    for vote in votes:
        # The same sitting publish_session releases it with.
        sitting_id = next(
            (
                s.id
                for s in sittings
                if vote.closed_at is not None and s.starts_at <= vote.closed_at <= s.ends_at
            ),
            None,
        )
        out.votes.append(
            Publication(
                "vote",
                vote.id,
                vote.question,
                vote.published_at,
                state_of(vote.published_at, now),
                sitting_id,
            )
        )
    documents = (
        await db.execute(
            select(Document)
            .where(Document.assembly_id == assembly_id, Document.in_force_version.is_not(None))
            .order_by(Document.kind, Document.title)
        )
    ).scalars()
    for document in documents:
        out.documents.append(
            Publication(
                "document",
                document.id,
                document.title,
                document.published_at,
                state_of(document.published_at, now),
            )
        )
    return out
