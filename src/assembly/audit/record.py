"""What enters the audit log, entry by entry: a vote's opening with its frozen electorate, its
ballots (named) or who voted and the shuffled (tracker, choice) pairs (secret), its result;
the texts voted and adopted; the chair's rulings on late amendments. Weights are written as
exact fractions in text ("3/2"), never as floats."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.audit import log
from assembly.audit.canonical import canonical
from assembly.credentials.models import Nmo
from assembly.voting.models import Ballot, ElectorateRow, Participation, SecretChoice, Vote


def weight_text(value: Fraction | None) -> str | None:
    return None if value is None else str(value)


def text_hash(paragraphs: Sequence[dict[str, str]]) -> str:
    """SHA-256 of a text's paragraphs as canonical JSON: what a vote was about, provable."""
    data = canonical({"v": 1, "type": "text", "paragraphs": list(paragraphs)})
    return hashlib.sha256(data).hexdigest()


async def vote_opened(
    db: AsyncSession, vote: Vote, options: Sequence[str], electorate: Sequence[ElectorateRow]
) -> None:
    await log.append(
        db,
        vote.assembly_id,
        "vote_opened",
        {
            "vote": vote.id,
            "kind": vote.kind,
            "question": vote.question,
            "description": vote.description,
            "options": list(options),
            "rule": vote.rule,
            "base": vote.base,
            "secret": vote.secret,
            "method": vote.method,
            "seats": vote.seats,
            "round": vote.round_no,
            "subject": {"kind": vote.subject_kind, "id": vote.subject_id},
            "entitled_weight": weight_text(vote.entitled_weight),
            "present_weight": weight_text(vote.present_weight),
            "validity_turnout": weight_text(vote.validity_turnout),
            "quorum_met": vote.quorum_met,
            "electorate": [
                {
                    "nmo": e.nmo_code,
                    "weight": str(e.weight),
                    "cast_by_nmo": e.cast_by_nmo_id,
                    "via_proxy": e.via_proxy,
                }
                for e in sorted(electorate, key=lambda e: e.nmo_code)
            ],
        },
    )


async def vote_closed(db: AsyncSession, vote: Vote, result: dict[str, Any]) -> None:
    """The ballots (named: one entry each; secret: who voted, then the shuffled choices) and
    the result, in the transaction that closes the vote."""
    codes: dict[int, str] = {
        nmo_id: code
        for nmo_id, code in await db.execute(
            select(Nmo.id, Nmo.code).where(Nmo.assembly_id == vote.assembly_id)
        )
    }
    items: list[tuple[str, Mapping[str, object]]] = []
    if not vote.secret:
        ballots = await db.execute(
            select(Ballot.nmo_id, Ballot.weight, Ballot.choice, Ballot.receipt)
            .where(Ballot.vote_id == vote.id)
            .order_by(Ballot.id)
        )
        items.extend(
            (
                "ballot",
                {
                    "vote": vote.id,
                    "nmo": codes.get(nmo_id, str(nmo_id)),
                    "weight": str(weight),
                    "choice": json.loads(choice),
                    "receipt": receipt,
                },
            )
            for nmo_id, weight, choice, receipt in ballots
        )
    else:
        voted = (
            await db.execute(select(Participation.nmo_id).where(Participation.vote_id == vote.id))
        ).scalars()
        items.append(
            (
                "secret_participation",
                {"vote": vote.id, "voted": sorted(codes.get(n, str(n)) for n in voted)},
            )
        )
        choices = [
            {"tracker": tracker, "choice": json.loads(choice), "weight": str(weight)}
            for tracker, choice, weight in await db.execute(
                select(SecretChoice.tracker, SecretChoice.choice, SecretChoice.weight).where(
                    SecretChoice.vote_id == vote.id
                )
            )
        ]
        # The order of the list says nothing about who cast what.
        secrets.SystemRandom().shuffle(choices)
        items.append(("secret_choices", {"vote": vote.id, "choices": choices}))
    items.append(("vote_result", {"vote": vote.id, "result": result}))
    await log.append_many(db, vote.assembly_id, items)
