"""Render a fragment once per event and publish it to every screen on the topic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assembly.app import AppContext


def assembly_topic(assembly_id: int) -> str:
    return f"assembly:{assembly_id}"


def render(ctx: AppContext, template: str, **values: Any) -> str:
    return ctx.jinja.get_template(template).render(**values)


def publish(ctx: AppContext, topic: str, html: str) -> None:
    ctx.channels.publish(html, [topic])


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
    publish(
        ctx,
        assembly_topic(assembly_id),
        render(ctx, "fragments/quorum.html", quorum=quorum, oob=True),
    )
