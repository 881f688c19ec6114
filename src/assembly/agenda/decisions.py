"""What a closed vote on an agenda matter does: an amendment is adopted or rejected, a text as
amended comes into force, the agenda is adopted, a procedural motion takes effect. Called by
voting when such a vote closes, in the same transaction, so the decision and its effect are
stored together or not at all."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import amending, motions, service
from assembly.voting.models import Vote


async def take_effect(db: AsyncSession, vote: Vote, actor: str) -> None:
    if vote.subject_kind == "amendment":
        await amending.amendment_decided(db, vote, actor)
    elif vote.subject_kind == "document":
        await amending.document_decided(db, vote, actor)
    elif vote.subject_kind == "agenda":
        await service.agenda_decided(db, vote, actor)
    elif vote.subject_kind == "motion":
        await motions.motion_decided(db, vote, actor)
