"""The life of an amendment, as the procedure names it: submitted (before the deadline, or late
and waiting for the chair's ruling), admitted, revised, withdrawn, merged as friendly, put to the
vote, adopted or rejected; and the final vote on the text as amended, which makes the new version
in force. The rules that decide (apply, conflicts, voting order) are the pure functions of
amendments.py; this module stores and loads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import amendments as rules
from assembly.agenda.amendments import (
    AmendmentConflict,
    AmendmentRefused,
    Change,
    Delete,
    Insert,
    Paragraph,
    Replace,
)
from assembly.agenda.documents import current_version, get_document, paragraphs_of, years_after
from assembly.agenda.models import (
    APPLIED_STATES,
    PENDING_STATES,
    Amendment,
    AmendmentEvent,
    AmendmentSponsor,
    Document,
    DocumentVersion,
)
from assembly.audit import log as audit_log
from assembly.audit import record as audit_record
from assembly.audit.canonical import canonical
from assembly.credentials.auth import Principal, Role
from assembly.credentials.models import Assembly, Nmo
from assembly.db import utcnow
from assembly.errors import Conflict, Forbidden, Invalid, NotFound
from assembly.i18n import t
from assembly.publishing import service as publishing
from assembly.voting import service as voting
from assembly.voting.models import Vote

MAX_TEXT = 20_000
MAX_CHANGES = 50
MAX_COSPONSORS = 50
CHANGE_OPS = ("replace", "insert", "delete")


@dataclass(frozen=True, slots=True)
class ChangeIn:
    """A change as a person writes it: which paragraph and the new text. The server fills in
    the text it was written against (`base_text`) and the ids of new paragraphs."""

    op: str
    paragraph_id: str | None = None
    after: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Proposal:
    changes: Sequence[ChangeIn]
    rationale: str = ""
    amends_id: int | None = None
    cosponsor_nmo_ids: Sequence[int] = ()


# -- Loading -------------------------------------------------------------------------------


async def get_amendment(db: AsyncSession, amendment_id: int) -> Amendment:
    amendment = await db.get(Amendment, amendment_id)
    if amendment is None:
        raise NotFound(t("There is no amendment {amendment_id}.", amendment_id=amendment_id))
    return amendment


async def amendments_of(db: AsyncSession, document_id: int) -> list[Amendment]:
    query = select(Amendment).where(Amendment.document_id == document_id).order_by(Amendment.number)
    return list((await db.execute(query)).scalars())


async def sponsors_of(db: AsyncSession, amendment_ids: Sequence[int]) -> dict[int, list[int]]:
    if not amendment_ids:
        return {}
    rows = await db.execute(
        select(AmendmentSponsor.amendment_id, AmendmentSponsor.nmo_id)
        .where(AmendmentSponsor.amendment_id.in_(amendment_ids))
        .order_by(AmendmentSponsor.id)
    )
    out: dict[int, list[int]] = {}
    for amendment_id, nmo_id in rows:
        out.setdefault(amendment_id, []).append(nmo_id)
    return out


async def events_of(db: AsyncSession, amendment_id: int) -> list[AmendmentEvent]:
    query = (
        select(AmendmentEvent)
        .where(AmendmentEvent.amendment_id == amendment_id)
        .order_by(AmendmentEvent.id)
    )
    return list((await db.execute(query)).scalars())


async def votes_on(db: AsyncSession, subject_kind: str, subject_id: int) -> list[Vote]:
    query = (
        select(Vote)
        .where(Vote.subject_kind == subject_kind, Vote.subject_id == subject_id)
        .order_by(Vote.id)
    )
    return list((await db.execute(query)).scalars())


def changes_of(amendment: Amendment) -> tuple[Change, ...]:
    out: list[Change] = []
    for c in amendment.changes:
        if c["op"] == "replace":
            out.append(Replace(c["paragraph_id"], c["text"], c["base_text"]))
        elif c["op"] == "insert":
            out.append(Insert(c.get("after"), c["new_id"], c["text"]))
        else:
            out.append(Delete(c["paragraph_id"], c["base_text"]))
    return tuple(out)


def _stored(changes: Sequence[Change]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in changes:
        if isinstance(c, Replace):
            out.append(
                {
                    "op": "replace",
                    "paragraph_id": c.paragraph_id,
                    "text": c.text,
                    "base_text": c.base_text,
                }
            )
        elif isinstance(c, Insert):
            out.append({"op": "insert", "after": c.after, "new_id": c.new_id, "text": c.text})
        else:
            out.append({"op": "delete", "paragraph_id": c.paragraph_id, "base_text": c.base_text})
    return out


def pure(amendment: Amendment, labels: dict[int, str]) -> rules.Amendment:
    """The amendment as the pure rules see it, named by its label (A1, A2 ...)."""
    return rules.Amendment(
        amendment.label,
        changes_of(amendment),
        degree=amendment.degree,
        amends=labels.get(amendment.amends_id) if amendment.amends_id else None,
    )


def _applied_in_order(rows: Sequence[Amendment], version: int) -> list[Amendment]:
    """The amendments to `version` already part of the text, in the order they were decided."""
    applied = [a for a in rows if a.state in APPLIED_STATES and a.version_number == version]
    return sorted(applied, key=lambda a: (a.decided_at or a.submitted_at, a.id))


async def working_text(
    db: AsyncSession, document: Document, rows: Sequence[Amendment] | None = None
) -> tuple[Paragraph, ...]:
    """The text as amended so far: the newest version with the adopted and merged amendments
    applied in the order they were decided."""
    rows = rows if rows is not None else await amendments_of(db, document.id)
    base = paragraphs_of(await current_version(db, document))
    labels = {a.id: a.label for a in rows}
    return rules.apply(
        base, [pure(a, labels) for a in _applied_in_order(rows, document.current_version)]
    )


def effective(amendment: Amendment, rows: Sequence[Amendment]) -> rules.Amendment:
    """A first-degree amendment as the plenary votes on it: reworded by the second-degree
    amendments already adopted or merged on it."""
    labels = {a.id: a.label for a in rows}
    out = pure(amendment, labels)
    for second in sorted(
        (a for a in rows if a.amends_id == amendment.id and a.state in APPLIED_STATES),
        key=lambda a: (a.decided_at or a.submitted_at, a.id),
    ):
        out = rules.amend(out, pure(second, labels))
    return out


def problems_of(
    amendment: Amendment, rows: Sequence[Amendment], text: tuple[Paragraph, ...]
) -> list[str]:
    """Why an undecided amendment cannot be voted as written; empty when it can."""
    labels = {a.id: a.label for a in rows}
    if amendment.degree == 2:
        target = next((a for a in rows if a.id == amendment.amends_id), None)
        if target is None:  # the foreign key makes this impossible
            return [t("The amendment it amends is gone.")]
        if target.state not in PENDING_STATES:
            return [
                t(
                    "It amends {target}, which is already {state}: there is nothing left to "
                    "reword.",
                    target=target.label,
                    state=target.state,
                )
            ]
        try:
            rules.amend(effective(target, rows), pure(amendment, labels))
        except (AmendmentConflict, AmendmentRefused) as exc:
            return [exc.message]
        return []
    try:
        return rules.check_applies(text, effective(amendment, rows))
    except (AmendmentConflict, AmendmentRefused) as exc:
        return [exc.message]


# -- Deadlines -----------------------------------------------------------------------------


def deadline_for(assembly: Assembly, document: Document) -> dt.datetime | None:
    """When amendments to this document close. Constitution and bylaws: the configured number
    of days before the assembly starts (RULES.md); policies and position papers: the
    assembly's policy deadline, or None when it has not set one (open until the final vote)."""
    if document.kind in ("constitution", "bylaws"):
        if assembly.starts_on is None:
            return None
        days = (
            assembly.constitution_deadline_days
            if document.kind == "constitution"
            else assembly.bylaws_deadline_days
        )
        start = dt.datetime.combine(assembly.starts_on, dt.time(0, 0), tzinfo=dt.UTC)
        return start - dt.timedelta(days=days)
    return assembly.policy_amendment_deadline


def _deadline_known(assembly: Assembly, document: Document) -> None:
    if document.kind in ("constitution", "bylaws") and assembly.starts_on is None:
        raise Conflict(
            t(
                "Amendments to the {kind} close a set number of days before the assembly "
                "starts, and this assembly has no start date yet: the secretariat sets "
                "it first.",
                kind=document.kind,
            ),
            code="deadline_unknown",
        )


# -- Checking what a person wrote ----------------------------------------------------------


def _clean_text(text: str, where: str) -> str:
    text = (text or "").strip()
    if not text:
        raise Invalid(
            t("{where}: the new text is empty (to remove a paragraph, delete it).", where=where)
        )
    if len(text) > MAX_TEXT:
        raise Invalid(
            t(
                "{where}: the text is longer than {max_text} characters.",
                where=where,
                max_text=MAX_TEXT,
            )
        )
    return text


def _number_of(text: tuple[Paragraph, ...], paragraph_id: str) -> int | None:
    return next((n for n, p in enumerate(text, start=1) if p.id == paragraph_id), None)


def build_changes(
    wanted: Sequence[ChangeIn], text: tuple[Paragraph, ...], label: str
) -> tuple[Change, ...]:
    """First-degree changes against the text as amended so far; new paragraphs are named
    <label>.<n> (A3.1, A3.2), unique in the document whatever else is adopted."""
    if not wanted:
        raise Invalid(t("An amendment needs at least one change."))
    if len(wanted) > MAX_CHANGES:
        raise Invalid(
            t("An amendment has at most {max_changes} changes; split it.", max_changes=MAX_CHANGES)
        )
    texts = {p.id: p.text for p in text}
    out: list[Change] = []
    touched: set[str] = set()
    inserted = 0
    for n, c in enumerate(wanted, start=1):
        where = t("Change {n}", n=n)
        if c.op not in CHANGE_OPS:
            raise Invalid(
                t("{where}: the kind of change must be replace, insert or delete.", where=where)
            )
        if c.op == "insert":
            after = c.after or None
            if after is not None and after not in texts and after not in touched:
                raise Invalid(
                    t(
                        "{where}: there is no paragraph {after!r} to insert after.",
                        where=where,
                        after=after,
                    )
                )
            inserted += 1
            new_id = f"{label}.{inserted}"
            out.append(Insert(after, new_id, _clean_text(c.text, where)))
            touched.add(new_id)
            continue
        paragraph_id = c.paragraph_id or ""
        if paragraph_id not in texts:
            raise Invalid(
                t(
                    "{where}: there is no paragraph {paragraph_id!r} in the text.",
                    where=where,
                    paragraph_id=paragraph_id,
                )
            )
        if paragraph_id in touched:
            raise Invalid(
                t(
                    "{where}: paragraph {number} is changed twice in one amendment; write it "
                    "as one change.",
                    where=where,
                    number=_number_of(text, paragraph_id),
                )
            )
        touched.add(paragraph_id)
        if c.op == "replace":
            new = _clean_text(c.text, where)
            if new == texts[paragraph_id]:
                raise Invalid(
                    t(
                        "{where}: the new text of paragraph {number} is the same as the current "
                        "one.",
                        where=where,
                        number=_number_of(text, paragraph_id),
                    )
                )
            out.append(Replace(paragraph_id, new, texts[paragraph_id]))
        else:
            out.append(Delete(paragraph_id, texts[paragraph_id]))
    return tuple(out)


def build_rewording(
    wanted: Sequence[ChangeIn], target: rules.Amendment, label: str
) -> tuple[Change, ...]:
    """Second-degree changes: each rewords a text that the target amendment writes."""
    if not wanted:
        raise Invalid(t("An amendment needs at least one change."))
    writes = {
        (c.paragraph_id if isinstance(c, Replace) else c.new_id): c.text
        for c in target.changes
        if not isinstance(c, Delete)
    }
    out: list[Change] = []
    seen: set[str] = set()
    for n, c in enumerate(wanted, start=1):
        where = t("Change {n}", n=n)
        if c.op != "replace":
            raise AmendmentRefused(
                "amendment_second_degree_change",
                t(
                    "{where}: an amendment to amendment {target} can only reword the texts "
                    "it writes, not insert or delete.",
                    where=where,
                    target=target.id,
                ),
            )
        paragraph_id = c.paragraph_id or ""
        if paragraph_id not in writes:
            raise Invalid(
                t(
                    "{where}: amendment {target} writes no text for paragraph "
                    "{paragraph_id!r}; it writes {written}.",
                    where=where,
                    target=target.id,
                    paragraph_id=paragraph_id,
                    written=", ".join(sorted(writes)) or t("none"),
                )
            )
        if paragraph_id in seen:
            raise Invalid(
                t(
                    "{where}: the text for {paragraph_id} is reworded twice.",
                    where=where,
                    paragraph_id=paragraph_id,
                )
            )
        seen.add(paragraph_id)
        new = _clean_text(c.text, where)
        if new == writes[paragraph_id]:
            raise Invalid(
                t(
                    "{where}: the new wording is the same as amendment {target}'s.",
                    where=where,
                    target=target.id,
                )
            )
        out.append(Replace(paragraph_id, new, writes[paragraph_id]))
    return tuple(out)


# -- Who may act ---------------------------------------------------------------------------


def may_propose_for(principal: Principal, nmo: Nmo) -> None:
    if principal.role is Role.secretariat:
        return
    if principal.role is Role.delegate and principal.is_head and principal.nmo_id == nmo.id:
        return
    if principal.role is Role.delegate and principal.nmo_id == nmo.id:
        raise Forbidden(
            t(
                "Only the head of delegation of {nmo} submits or changes its amendments.",
                nmo=nmo.code,
            )
        )
    raise Forbidden(
        t(
            "An amendment is submitted by the head of delegation of its NMO, or by "
            "the secretariat on the NMO's behalf."
        )
    )


def _record(
    db: AsyncSession,
    amendment: Amendment,
    kind: str,
    actor: str,
    note: str = "",
    vote_id: int | None = None,
) -> None:
    db.add(
        AmendmentEvent(
            amendment_id=amendment.id, kind=kind, actor=actor, note=note, vote_id=vote_id
        )
    )


async def _live_vote(db: AsyncSession, amendment: Amendment) -> Vote | None:
    for vote in await votes_on(db, "amendment", amendment.id):
        if vote.state in ("draft", "open"):
            return vote
    return None


# -- Transitions ---------------------------------------------------------------------------


async def submit(
    db: AsyncSession,
    principal: Principal,
    document: Document,
    nmo: Nmo,
    proposal: Proposal,
    *,
    now: dt.datetime | None = None,
) -> Amendment:
    """Store a new amendment whole, or refuse it with the reason. After the deadline it is
    stored as late: it waits for the chair, who admits it (a recorded ruling) or refuses it."""
    now = now or utcnow()
    assembly = await db.get(Assembly, document.assembly_id)
    assert assembly is not None
    if nmo.assembly_id != document.assembly_id:
        raise Invalid(t("{nmo} is not a member of this assembly.", nmo=nmo.code))
    may_propose_for(principal, nmo)
    if nmo.member_class == "suspended":
        raise Forbidden(t("{nmo} is suspended and cannot submit amendments.", nmo=nmo.code))
    for vote in await votes_on(db, "document", document.id):
        if vote.state in ("draft", "open"):
            raise Conflict(
                t(
                    "The final vote on “{title}” has started: no more amendments.",
                    title=document.title,
                ),
                code="final_vote_started",
            )
        if vote.state == "closed":
            raise Conflict(
                t(
                    "The plenary has taken its final vote on “{title}” (vote {vote}): the "
                    "text can no longer be amended at this assembly.",
                    title=document.title,
                    vote=vote.id,
                ),
                code="final_vote_taken",
            )
    _deadline_known(assembly, document)
    rationale = proposal.rationale.strip()
    if len(rationale) > MAX_TEXT:
        raise Invalid(t("The rationale is longer than {max_text} characters.", max_text=MAX_TEXT))
    sponsors = list(dict.fromkeys(proposal.cosponsor_nmo_ids))
    if len(sponsors) > MAX_COSPONSORS:
        raise Invalid(t("At most {max_cosponsors} co-sponsors.", max_cosponsors=MAX_COSPONSORS))
    if nmo.id in sponsors:
        raise Invalid(
            t("{nmo} proposes the amendment; it cannot also co-sponsor it.", nmo=nmo.code)
        )
    if sponsors:
        found = (
            await db.execute(
                select(Nmo.id).where(Nmo.id.in_(sponsors), Nmo.assembly_id == assembly.id)
            )
        ).scalars()
        missing = set(sponsors) - set(found)
        if missing:
            raise Invalid(
                t("Co-sponsor {code} is not an NMO of this assembly.", code=sorted(missing)[0])
            )
    number = (
        await db.scalar(
            select(func.max(Amendment.number)).where(Amendment.document_id == document.id)
        )
        or 0
    ) + 1
    label = f"A{number}"
    rows = await amendments_of(db, document.id)
    target: Amendment | None = None
    if proposal.amends_id is not None:
        target = next((a for a in rows if a.id == proposal.amends_id), None)
        if target is None:
            raise Invalid(
                t(
                    "Amendment {amends_id} is not an amendment to “{title}”.",
                    amends_id=proposal.amends_id,
                    title=document.title,
                )
            )
        if target.degree == 2:
            raise AmendmentRefused(
                "amendment_third_degree",
                t(
                    "{target} is itself an amendment to an amendment: a third degree is not "
                    "allowed (RULES.md).",
                    target=target.label,
                ),
            )
        if target.state not in PENDING_STATES:
            raise Conflict(
                t(
                    "{target} is {state}: it can no longer be amended.",
                    target=target.label,
                    state=target.state,
                )
            )
        if await _live_vote(db, target) is not None:
            raise Conflict(
                t("{target} is being voted on: it can no longer be amended.", target=target.label)
            )
        changes = build_rewording(proposal.changes, effective(target, rows), label)
    else:
        text = await working_text(db, document, rows)
        changes = build_changes(proposal.changes, text, label)
    deadline = deadline_for(assembly, document)
    late = deadline is not None and now > deadline
    amendment = Amendment(
        document_id=document.id,
        number=number,
        version_number=document.current_version,
        degree=2 if target else 1,
        amends_id=target.id if target else None,
        nmo_id=nmo.id,
        changes=_stored(changes),
        rationale=rationale,
        state="submitted",
        late=late,
        submitted_at=now,
        submitted_by=principal.actor,
    )
    db.add(amendment)
    await db.flush()
    for sponsor in sponsors:
        db.add(AmendmentSponsor(amendment_id=amendment.id, nmo_id=sponsor))
    note = f"on behalf of {nmo.code}" if principal.role is Role.secretariat else ""
    if late:
        assert deadline is not None
        note = (note + "; " if note else "") + (
            f"late: the deadline was {deadline:%Y-%m-%d %H:%M} UTC; it waits for the chair"
        )
    _record(db, amendment, "submitted", principal.actor, note)
    await db.flush()
    return amendment


async def revise(
    db: AsyncSession, principal: Principal, amendment: Amendment, proposal: Proposal
) -> Amendment:
    """The proposer rewrites an undecided amendment, typically after an earlier one changed the
    paragraph it touches; the new text is checked against the text as amended now."""
    document = await get_document(db, amendment.document_id)
    nmo = await db.get(Nmo, amendment.nmo_id)
    assert nmo is not None
    may_propose_for(principal, nmo)
    if amendment.state not in PENDING_STATES:
        raise Conflict(
            t(
                "{amendment} is {state}: it can no longer be revised.",
                amendment=amendment.label,
                state=amendment.state,
            )
        )
    if await _live_vote(db, amendment) is not None:
        raise Conflict(
            t("{amendment} is being voted on: it cannot be revised now.", amendment=amendment.label)
        )
    rows = await amendments_of(db, document.id)
    if any(a.amends_id == amendment.id and a.state in APPLIED_STATES for a in rows):
        raise Conflict(
            t(
                "An amendment to {amendment} has been adopted: its wording is the "
                "plenary's now, and the proposer can no longer revise it.",
                amendment=amendment.label,
            )
        )
    if amendment.degree == 2:
        target = next(a for a in rows if a.id == amendment.amends_id)
        changes = build_rewording(proposal.changes, effective(target, rows), amendment.label)
    else:
        others = [a for a in rows if a.id != amendment.id]
        text = await working_text(db, document, others)
        changes = build_changes(proposal.changes, text, amendment.label)
    amendment.changes = _stored(changes)
    amendment.version_number = document.current_version
    if proposal.rationale.strip():
        amendment.rationale = proposal.rationale.strip()
    amendment.revised_at = utcnow()
    _record(db, amendment, "revised", principal.actor)
    await db.flush()
    return amendment


async def withdraw(db: AsyncSession, principal: Principal, amendment: Amendment) -> list[str]:
    """The proposer (or the secretariat) withdraws an undecided amendment; the amendments to
    it fall with it. Returns the labels withdrawn."""
    nmo = await db.get(Nmo, amendment.nmo_id)
    assert nmo is not None
    may_propose_for(principal, nmo)
    if amendment.state not in PENDING_STATES:
        raise Conflict(
            t(
                "{amendment} is {state}: it can no longer be withdrawn.",
                amendment=amendment.label,
                state=amendment.state,
            )
        )
    if await _live_vote(db, amendment) is not None:
        raise Conflict(
            t(
                "{amendment} is being voted on: the chair cancels the vote first.",
                amendment=amendment.label,
            )
        )
    now = utcnow()
    amendment.state = "withdrawn"
    amendment.decided_at = now
    _record(db, amendment, "withdrawn", principal.actor)
    done = [amendment.label]
    for second in await amendments_of(db, amendment.document_id):
        if second.amends_id == amendment.id and second.state in PENDING_STATES:
            second.state = "withdrawn"
            second.decided_at = now
            _record(
                db,
                second,
                "withdrawn",
                principal.actor,
                f"falls with {amendment.label}, which it amends",
            )
            done.append(second.label)
    await db.flush()
    return done


async def admit(db: AsyncSession, actor: str, amendment: Amendment, ruling: str = "") -> None:
    """The chair admits an amendment for debate. A late one needs the chair's ruling, which is
    recorded with the reason given."""
    if amendment.state != "submitted":
        raise Conflict(
            t(
                "{amendment} is {state}; only a submitted one is admitted.",
                amendment=amendment.label,
                state=amendment.state,
            )
        )
    ruling = ruling.strip()
    if amendment.late and not ruling:
        raise Invalid(
            t(
                "{amendment} came after the deadline: admitting it is a ruling of the "
                "chair; give the reason.",
                amendment=amendment.label,
            )
        )
    if len(ruling) > 2000:
        raise Invalid(t("The ruling is longer than 2000 characters."))
    amendment.state = "admitted"
    _record(db, amendment, "admitted_late" if amendment.late else "admitted", actor, ruling)
    if amendment.late:
        document = await get_document(db, amendment.document_id)
        await audit_log.append(
            db,
            document.assembly_id,
            "late_amendment_admitted",
            {
                "document": document.id,
                "amendment": amendment.label,
                "nmo": (await db.get(Nmo, amendment.nmo_id) or Nmo(code="?")).code,
                "changes": amendment.changes,
                "ruling": ruling,
                "by": actor,
            },
        )
    await db.flush()


async def refuse(db: AsyncSession, actor: str, amendment: Amendment, ruling: str) -> None:
    """The chair rules an amendment out of order (for instance a late one): it is rejected
    without a vote, with the reason recorded."""
    if amendment.state not in PENDING_STATES:
        raise Conflict(
            t(
                "{amendment} is {state}; it can no longer be refused.",
                amendment=amendment.label,
                state=amendment.state,
            )
        )
    if await _live_vote(db, amendment) is not None:
        raise Conflict(
            t("{amendment} is being voted on: cancel the vote first.", amendment=amendment.label)
        )
    ruling = ruling.strip()
    if not ruling:
        raise Invalid(t("Ruling an amendment out of order needs a reason."))
    amendment.state = "rejected"
    amendment.decided_at = utcnow()
    _record(db, amendment, "ruled_out", actor, ruling)
    await db.flush()


async def merge(db: AsyncSession, actor: str, amendment: Amendment) -> None:
    """A friendly amendment: the proposer of the text accepted it and no delegation objected,
    so the chair merges it into the text without a vote."""
    if amendment.state != "admitted":
        raise Conflict(
            t(
                "{amendment} is {state}; only an admitted amendment can be merged.",
                amendment=amendment.label,
                state=amendment.state,
            )
        )
    if await _live_vote(db, amendment) is not None:
        raise Conflict(
            t("{amendment} is being voted on: cancel the vote first.", amendment=amendment.label)
        )
    document = await get_document(db, amendment.document_id)
    rows = await amendments_of(db, document.id)
    _check_votable(amendment, rows, await working_text(db, document, rows))
    amendment.state = "merged"
    amendment.decided_at = utcnow()
    _record(
        db,
        amendment,
        "merged",
        actor,
        "friendly: accepted by the proposer of the text, no delegation objected",
    )
    await db.flush()


def _check_votable(
    amendment: Amendment, rows: Sequence[Amendment], text: tuple[Paragraph, ...]
) -> None:
    problems = problems_of(amendment, rows, text)
    if problems:
        raise Conflict(
            t(
                "{amendment} no longer applies to the text as amended: {problem} The "
                "proposer can revise it.",
                amendment=amendment.label,
                problem=problems[0],
            ),
            code="amendment_conflict",
        )
    if amendment.degree == 1:
        waiting = [
            a.label for a in rows if a.amends_id == amendment.id and a.state in PENDING_STATES
        ]
        if waiting:
            raise Conflict(
                t(
                    "First decide the amendments to {amendment} ({waiting}): amendments to "
                    "an amendment are voted before it.",
                    amendment=amendment.label,
                    waiting=", ".join(waiting),
                ),
                code="voting_order",
            )


def describe(amendment: Amendment, text: tuple[Paragraph, ...], changes: Sequence[Change]) -> str:
    """One line per change, in words, for the vote's description."""
    lines: list[str] = []
    for c in changes:
        if isinstance(c, Replace):
            n = _number_of(text, c.paragraph_id)
            where = f"paragraph {n}" if n else f"the new paragraph {c.paragraph_id}"
            lines.append(f"Replace {where} with: {c.text}")
        elif isinstance(c, Insert):
            n = _number_of(text, c.after) if c.after else None
            where = f"after paragraph {n}" if n else "at the start"
            lines.append(f"Insert {where}: {c.text}")
        else:
            lines.append(f"Delete paragraph {_number_of(text, c.paragraph_id)}: {c.base_text}")
    return "\n".join(lines)


async def open_amendment_vote(
    db: AsyncSession, actor: str, amendment: Amendment, countdown_s: int | None = None
) -> Vote:
    """One action of the chair: a vote on the amendment (simple majority by default, whatever
    the main text needs) is created and opened; if it cannot open, nothing is stored."""
    if amendment.state != "admitted":
        raise Conflict(
            t(
                "{amendment} is {state}; only an admitted amendment is voted on.",
                amendment=amendment.label,
                state=amendment.state,
            )
        )
    if await _live_vote(db, amendment) is not None:
        raise Conflict(t("{amendment} is already being voted on.", amendment=amendment.label))
    document = await get_document(db, amendment.document_id)
    assembly = await db.get(Assembly, document.assembly_id)
    assert assembly is not None
    rows = await amendments_of(db, document.id)
    text = await working_text(db, document, rows)
    _check_votable(amendment, rows, text)
    nmo = await db.get(Nmo, amendment.nmo_id)
    assert nmo is not None
    labels = {a.id: a.label for a in rows}
    if amendment.degree == 2:
        target = labels[amendment.amends_id] if amendment.amends_id else "?"
        question = (
            f"Adopt amendment {amendment.label} ({nmo.code}) to amendment {target} "
            f"on “{document.title}”?"
        )
        description = "\n".join(
            f"Reword {c.paragraph_id}: {c.text}"
            for c in changes_of(amendment)
            if isinstance(c, Replace)
        )
    else:
        question = f"Adopt amendment {amendment.label} ({nmo.code}) to “{document.title}”?"
        description = describe(amendment, text, effective(amendment, rows).changes)
    vote = await voting.create_vote(
        db,
        assembly,
        actor,
        voting.VoteSpec(
            question=question[:2000],
            description=description,
            rule=assembly.majority_amendment,
        ),
    )
    vote.subject_kind, vote.subject_id = "amendment", amendment.id
    await voting.open_vote(db, vote, actor, countdown_s)
    voted = (
        _stored(effective(amendment, rows).changes) if amendment.degree == 1 else amendment.changes
    )
    await audit_log.append(
        db,
        assembly.id,
        "amendment_voted",
        {
            "vote": vote.id,
            "document": document.id,
            "version": amendment.version_number,
            "amendment": amendment.label,
            "amends": labels.get(amendment.amends_id) if amendment.amends_id else None,
            "changes": voted,
            "changes_sha256": hashlib.sha256(
                canonical({"v": 1, "type": "changes", "changes": voted})
            ).hexdigest(),
        },
    )
    _record(db, amendment, "put_to_vote", actor, vote_id=vote.id)
    await db.flush()
    return vote


FINAL_RULE = {
    "policy": "majority_policy",
    "position_paper": "majority_policy",
    "constitution": "majority_constitution",
    "bylaws": "majority_bylaws",
}


async def open_final_vote(
    db: AsyncSession, actor: str, document: Document, countdown_s: int | None = None
) -> Vote:
    """The final vote on the text as amended (two thirds by default for policies, the
    constitution and the bylaws). Every amendment must be decided first."""
    for earlier in await votes_on(db, "document", document.id):
        if earlier.state in ("draft", "open"):
            raise Conflict(
                t("The final vote on “{title}” has already started.", title=document.title)
            )
        if earlier.state == "closed":
            raise Conflict(
                t(
                    "The plenary has already taken its final vote on “{title}” (vote {earlier}).",
                    title=document.title,
                    earlier=earlier.id,
                )
            )
    rows = await amendments_of(db, document.id)
    undecided = [
        a.label
        for a in rows
        if a.state in PENDING_STATES and a.version_number == document.current_version
    ]
    if undecided:
        raise Conflict(
            t(
                "Decide every amendment before the final vote: {undecided} still waiting "
                "(vote, merge, rule out, or have them withdrawn).",
                undecided=", ".join(undecided),
            ),
            code="amendments_pending",
        )
    assembly = await db.get(Assembly, document.assembly_id)
    assert assembly is not None
    applied = [a.label for a in _applied_in_order(rows, document.current_version)]
    as_amended = f" as amended by {', '.join(applied)}" if applied else ""
    vote = await voting.create_vote(
        db,
        assembly,
        actor,
        voting.VoteSpec(
            question=f"Adopt “{document.title}”{as_amended}?"[:2000],
            description=(
                "The final vote on the whole text. If it is adopted, the text as amended "
                "becomes the version in force; if not, "
                + (
                    f"version {document.in_force_version} stays in force."
                    if document.in_force_version
                    else "the text is not adopted."
                )
            ),
            rule=getattr(assembly, FINAL_RULE[document.kind]),
        ),
    )
    vote.subject_kind, vote.subject_id = "document", document.id
    await voting.open_vote(db, vote, actor, countdown_s)
    text = [{"id": p.id, "text": p.text} for p in await working_text(db, document, rows)]
    await audit_log.append(
        db,
        assembly.id,
        "text_voted",
        {
            "vote": vote.id,
            "document": document.id,
            "title": document.title,
            "as_amended_by": applied,
            "paragraphs": text,
            "text_sha256": audit_record.text_hash(text),
        },
    )
    await db.flush()
    return vote


# -- What a closed vote does ---------------------------------------------------------------


async def amendment_decided(db: AsyncSession, vote: Vote, actor: str) -> None:
    amendment = await get_amendment(db, vote.subject_id or 0)
    adopted = bool(vote.result and vote.result.get("adopted"))
    if amendment.state not in PENDING_STATES:
        return
    amendment.state = "adopted" if adopted else "rejected"
    amendment.decided_at = utcnow()
    explanation = str((vote.result or {}).get("explanation", ""))
    _record(db, amendment, amendment.state, actor, explanation, vote_id=vote.id)
    await db.flush()


async def document_decided(db: AsyncSession, vote: Vote, actor: str) -> DocumentVersion | None:
    """Adopted: the text as amended becomes the version in force (a new version when an
    amendment changed it). Not adopted: nothing changes; the old version stays in force."""
    if not (vote.result and vote.result.get("adopted")):
        return None
    document = await get_document(db, vote.subject_id or 0)
    rows = await amendments_of(db, document.id)
    applied = _applied_in_order(rows, document.current_version)
    text = await working_text(db, document, rows)
    version: DocumentVersion | None = None
    if applied:
        version = DocumentVersion(
            document_id=document.id,
            number=document.current_version + 1,
            paragraphs=[{"id": p.id, "text": p.text} for p in text],
            reason=(
                f"adopted by vote {vote.id} with amendments {', '.join(a.label for a in applied)}"
            ),
            created_by=actor,
        )
        db.add(version)
        document.current_version = version.number
    document.in_force_version = document.current_version
    publishing.text_adopted(document, vote)
    adopted = [{"id": p.id, "text": p.text} for p in text]
    await audit_log.append(
        db,
        document.assembly_id,
        "text_adopted",
        {
            "vote": vote.id,
            "document": document.id,
            "kind": document.kind,
            "title": document.title,
            "version": document.current_version,
            "paragraphs": adopted,
            "text_sha256": audit_record.text_hash(adopted),
        },
    )
    if document.kind in ("policy", "position_paper"):
        assembly = await db.get(Assembly, document.assembly_id)
        assert assembly is not None
        document.valid_until = years_after(utcnow().date(), assembly.policy_validity_years)
    await db.flush()
    return version


# -- What the chair sees -------------------------------------------------------------------


@dataclass(slots=True)
class AmendmentView:
    """One amendment as the screens and the API show it."""

    row: Amendment
    nmo_code: str
    sponsors: list[str]
    target_label: str | None
    changes: tuple[Change, ...]
    paragraphs: list[int | None]
    problems: list[str]
    vote: Vote | None
    words: list[list[tuple[str, str]]] = field(default_factory=list)
    # Undecided amendments to this one: they are voted first.
    waiting: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.row.label

    @property
    def votable(self) -> bool:
        return (
            self.row.state == "admitted"
            and not self.problems
            and not self.waiting
            and (self.vote is None or self.vote.state not in ("draft", "open"))
        )


async def amendment_views(db: AsyncSession, document: Document) -> list[AmendmentView]:
    """The amendments to the newest version in voting order (second degree before first, in
    paragraph order), then the older and withdrawn ones; each with why it no longer applies."""
    rows = await amendments_of(db, document.id)
    text = await working_text(db, document, rows)
    labels = {a.id: a.label for a in rows}
    version_text = paragraphs_of(await current_version(db, document))
    live = [
        a
        for a in rows
        if a.version_number == document.current_version
        and a.state != "withdrawn"
        and not (
            a.amends_id is not None
            and next(t for t in rows if t.id == a.amends_id).state == "withdrawn"
        )
    ]
    order = rules.voting_order([pure(a, labels) for a in live], version_text)
    by_label = {a.label: a for a in rows}
    ordered = [by_label[label] for label in order]
    ordered += [a for a in rows if a not in ordered]
    codes: dict[int, str] = {
        nmo_id: code
        for nmo_id, code in await db.execute(
            select(Nmo.id, Nmo.code).where(Nmo.assembly_id == document.assembly_id)
        )
    }
    sponsors = await sponsors_of(db, [a.id for a in rows])
    votes: dict[int, Vote] = {}
    for vote in (
        await db.execute(
            select(Vote)
            .where(Vote.subject_kind == "amendment", Vote.subject_id.in_([a.id for a in rows]))
            .order_by(Vote.id)
        )
    ).scalars():
        if vote.subject_id is not None:
            votes[vote.subject_id] = vote
    out: list[AmendmentView] = []
    for a in ordered:
        pending = a.state in PENDING_STATES
        if a.degree == 1 and a.state != "withdrawn":
            # As the plenary votes (or voted) on it: reworded by adopted amendments to it.
            try:
                changes = effective(a, rows).changes
            except (AmendmentConflict, AmendmentRefused):
                changes = changes_of(a)
        else:
            changes = changes_of(a)
        current = text if pending else version_text
        out.append(
            AmendmentView(
                row=a,
                nmo_code=codes.get(a.nmo_id, "?"),
                sponsors=[codes.get(n, "?") for n in sponsors.get(a.id, [])],
                target_label=labels.get(a.amends_id) if a.amends_id else None,
                changes=changes,
                paragraphs=[
                    _number_of(
                        current,
                        (c.after or "") if isinstance(c, Insert) else c.paragraph_id,
                    )
                    for c in changes
                ],
                problems=problems_of(a, rows, text) if pending else [],
                vote=votes.get(a.id),
                waiting=[
                    w.label for w in rows if w.amends_id == a.id and w.state in PENDING_STATES
                ],
                words=[
                    [
                        (op, t)
                        for op, t in rules.word_diff(
                            "" if isinstance(c, Insert) else c.base_text,
                            "" if isinstance(c, Delete) else c.text,
                        )
                    ]
                    for c in changes
                ],
            )
        )
    return out


async def document_state(db: AsyncSession, document: Document) -> dict[str, Any]:
    """Where the document stands: in force or proposed, its final vote, its deadline."""
    assembly = await db.get(Assembly, document.assembly_id)
    assert assembly is not None
    finals = await votes_on(db, "document", document.id)
    return {
        "deadline": deadline_for(assembly, document),
        "final_vote": finals[-1] if finals else None,
        "in_force_version": document.in_force_version,
    }
