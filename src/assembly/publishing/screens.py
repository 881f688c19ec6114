"""The secretariat's publication screen: the policy for results, and for each closed vote,
plenary session and text in force whether it is public, scheduled or held, with the buttons
that publish or hold it. Forms work as plain posts (303 back to the screen) and with htmx
(the controls section comes back to be swapped in), like the other secretariat screens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.credentials import service as credentials
from assembly.credentials.auth import SECRETARIAT, roles
from assembly.credentials.models import PUBLISH_RESULTS
from assembly.credentials.screens import (
    Form,
    Req,
    form_int,
    is_htmx,
    page,
    see_other,
    utc_from_field,
)
from assembly.errors import DomainError, Invalid
from assembly.i18n import t
from assembly.publishing import service as publishing
from assembly.publishing.routes import change_publication, checked_subject

POLICY_NAMES = {
    "at_close": t("At once, when the vote closes"),
    "session_end": t("When the plenary session the vote closed in ends"),
    "manual": t("Only when the secretariat publishes it"),
}
ACTIONS = ("publish", "schedule", "hold", "publish_session")
# What the form asks for when the number of a subject is missing or wrong.
SUBJECT_WORDS = {"vote": t("the vote"), "document": t("the document"), "session": t("the session")}
# What a notice calls the subject, in a sentence and at its start.
SUBJECT_NAMES = {"vote": t("vote"), "document": t("document"), "session": t("session")}
SUBJECT_TITLES = {"vote": t("Vote"), "document": t("Document"), "session": t("Session")}


def screen_path(assembly_id: int) -> str:
    return f"/secretariat/assemblies/{assembly_id}/publishing"


async def screen_context(db: AsyncSession, assembly_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "assembly": await credentials.get_assembly(db, assembly_id),
        "states": await publishing.publications(db, assembly_id),
        "policies": PUBLISH_RESULTS,
        "policy_names": POLICY_NAMES,
        "notice": "",
        "error": "",
        **extra,
    }


async def answer(
    db: AsyncSession, request: Req, assembly_id: int, notice: str, error: str, status: int
) -> Template | Redirect:
    """A plain post that worked goes back to the screen; htmx gets the controls to swap in,
    and a refusal without htmx gets the screen with the message."""
    if not error and not is_htmx(request):
        return see_other(screen_path(assembly_id))
    context = await screen_context(db, assembly_id, notice=notice, error=error)
    template = "publishing/_controls.html" if is_htmx(request) else "publishing/secretariat.html"
    return page(request, template, status=status, **context)


@get("/secretariat/assemblies/{assembly_id:int}/publishing", opt=roles(SECRETARIAT))
async def publishing_screen(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """What is public, scheduled or held, and the buttons that decide it."""
    return page(request, "publishing/secretariat.html", **await screen_context(db, assembly_id))


@post(
    "/secretariat/assemblies/{assembly_id:int}/publishing/policy",
    opt=roles(SECRETARIAT),
    status_code=200,
)
async def publishing_policy(
    db: AsyncSession, request: Req, assembly_id: int, data: Form
) -> Template | Redirect:
    """When the results of the votes still to close reach the public record."""
    assembly = await credentials.get_assembly(db, assembly_id)
    notice, error, status = "", "", 200
    try:
        changed = await credentials.update_assembly(
            db,
            assembly,
            request.user.actor,
            {"publish_results": (data.get("publish_results") or "").strip()},
            (data.get("reason") or "").strip(),
        )
    except DomainError as exc:
        await db.rollback()
        error, status = exc.message, exc.status
    else:
        await db.commit()
        notice = (
            t("Policy saved: it applies to the votes that close from now on.") if changed else ""
        )
        notice = notice or t("Nothing changed.")
    return await answer(db, request, assembly_id, notice, error, status)


def publication_time(data: dict[str, str]) -> dt.datetime:
    raw = utc_from_field(data.get("at"))
    if raw is None:
        raise Invalid(t("Choose the moment (UTC) from which it is public."))
    try:
        return dt.datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(
            t("{value!r} is not a date and time such as 2026-08-01T18:00.", value=data.get("at"))
        ) from None


@post(
    "/secretariat/assemblies/{assembly_id:int}/publishing", opt=roles(SECRETARIAT), status_code=200
)
async def publishing_change(
    db: AsyncSession, request: Req, assembly_id: int, data: Form
) -> Template | Redirect:
    """Publish now, publish from a moment, or hold one vote, session or text."""
    notice, error, status = "", "", 200
    try:
        subject = checked_subject((data.get("subject") or "").strip())
        subject_id = form_int(data, "id", SUBJECT_WORDS[subject])
        action = (data.get("action") or "").strip()
        if action not in ACTIONS:
            raise Invalid(t("Choose what to do: {actions}.", actions=", ".join(ACTIONS)))
        at = publication_time(data) if action == "schedule" else None
        await change_publication(
            db,
            assembly_id,
            request.user.actor,
            subject,
            subject_id,
            action != "hold",
            at,
            with_results=action == "publish_session",
        )
    except DomainError as exc:
        await db.rollback()
        error, status = exc.message, exc.status
    else:
        await db.commit()
        notice = {
            "publish": t(
                "Published {subject} {subject_id}.",
                subject=SUBJECT_NAMES[subject],
                subject_id=subject_id,
            ),
            "schedule": t(
                "{subject} {subject_id} is public from the time chosen.",
                subject=SUBJECT_TITLES[subject],
                subject_id=subject_id,
            ),
            "hold": t(
                "Held {subject} {subject_id}: it is out of the public record.",
                subject=SUBJECT_NAMES[subject],
                subject_id=subject_id,
            ),
            "publish_session": t(
                "Published session {subject_id} and its held results.", subject_id=subject_id
            ),
        }[action]
    return await answer(db, request, assembly_id, notice, error, status)


def handlers() -> list[Any]:
    return [publishing_screen, publishing_policy, publishing_change]
