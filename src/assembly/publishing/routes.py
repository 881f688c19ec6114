"""The JSON API of publication: what is public, scheduled or held, and the secretariat's
decision to publish (now or from a moment) or hold a vote, a session or a text."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from litestar import Controller, Request, Router, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.credentials import service as credentials
from assembly.credentials.auth import CHAIR, SECRETARIAT, Principal, role_guard, roles
from assembly.db import utcnow
from assembly.errors import Invalid
from assembly.i18n import t
from assembly.openapi import Id
from assembly.publishing import service as publishing
from assembly.publishing.service import SUBJECTS, Publication, Publications, Subject

Req = Request[Principal, Any, Any]


@dataclass
class PublicationChange:
    """Publish `subject` `id` now (or from `at`, a UTC moment) or hold it (publish false).
    `with_results`, for a session: also publish at once every result of it still held."""

    subject: str
    id: Id
    publish: bool
    at: dt.datetime | None = None
    with_results: bool = False


def publication_out(item: Publication) -> dict[str, Any]:
    out = asdict(item)
    out["published_at"] = item.published_at.isoformat() if item.published_at else None
    return out


def publications_out(states: Publications) -> dict[str, Any]:
    return {
        "policy": states.policy,
        "votes": [publication_out(v) for v in states.votes],
        "sessions": [publication_out(s) for s in states.sessions],
        "documents": [publication_out(d) for d in states.documents],
    }


def checked_subject(subject: str) -> Subject:
    if subject not in SUBJECTS:
        raise Invalid(
            t(
                "{subject!r} is not something the record publishes: choose one of {subjects}.",
                subject=subject,
                subjects=", ".join(SUBJECTS),
            )
        )
    return subject


async def change_publication(
    db: AsyncSession,
    assembly_id: int,
    actor: str,
    subject: Subject,
    subject_id: int,
    publish: bool,
    at: dt.datetime | None = None,
    *,
    with_results: bool = False,
) -> None:
    """One decision of the secretariat, as the API and the screen take it."""
    await credentials.get_assembly(db, assembly_id)
    if subject == "session" and publish and at is None and with_results:
        await publishing.publish_session(db, assembly_id, subject_id, actor)
        return
    if not publish:
        when = None
    elif at is None:
        when = utcnow()
    else:
        when = at
    await publishing.set_published(db, assembly_id, subject, subject_id, actor, when)


class PublishingController(Controller):
    path = "/api/assemblies/{assembly_id:int}/publishing"
    tags = ["publishing"]

    @get("/", opt=roles(CHAIR), operation_id="getPublications")
    async def states(self, db: AsyncSession, assembly_id: int) -> dict[str, Any]:
        """The policy, and each closed vote, session and text in force: published (and
        since when), scheduled (from when) or held."""
        await credentials.get_assembly(db, assembly_id)
        return publications_out(await publishing.publications(db, assembly_id))

    @post("/", opt=roles(SECRETARIAT), operation_id="changePublication", status_code=200)
    async def change(
        self, db: AsyncSession, request: Req, assembly_id: int, data: PublicationChange
    ) -> dict[str, Any]:
        """Publish a vote's result, a session's attendance or a text now or from `at`, or
        hold it; answers with every item's state."""
        subject = checked_subject(data.subject)
        await change_publication(
            db,
            assembly_id,
            request.user.actor,
            subject,
            data.id,
            data.publish,
            data.at,
            with_results=data.with_results,
        )
        await db.commit()
        return publications_out(await publishing.publications(db, assembly_id))


def publishing_routes() -> list[Router]:
    from assembly.publishing import screens

    return [
        Router(path="/", guards=[role_guard], route_handlers=[PublishingController]),
        Router(
            path="/",
            guards=[role_guard],
            include_in_schema=False,
            route_handlers=screens.handlers(),
        ),
    ]
