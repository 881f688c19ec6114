"""The assembly's record as the public sees it, built once from the database and rendered by
the public pages, the CSV and JSON exports, the Markdown texts and the PDF minutes alike, so
that all of them show the same thing. Only what is published is in it, unless it is built for
the staff who prepare it. A secret vote's record holds its totals and its (tracker, choice)
list, never who chose what."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda.models import (
    AgendaItem,
    Document,
    DocumentVersion,
    PlenarySession,
    RollCall,
    RollCallAnswer,
)
from assembly.audit import log as audit_log
from assembly.audit import notes
from assembly.audit.models import AuditEntry
from assembly.credentials.models import Assembly, CredentialEvent, Nmo
from assembly.db import utcnow
from assembly.errors import NotFound
from assembly.i18n import t
from assembly.publishing.service import is_published
from assembly.voting.models import Ballot, ElectorateEntry, SecretChoice, Vote, VoteOption


@dataclass(frozen=True, slots=True)
class RollCallRow:
    """One NMO in a named vote: its weight, who cast its vote, and its choice (None: it was in
    the electorate and did not vote)."""

    nmo: str
    nmo_name: str
    weight: Fraction
    via_proxy: bool
    cast_by: str  # the NMO code whose delegate cast it (itself, or its proxy holder's NMO)
    choice: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class TrackerRow:
    tracker: str
    choice: tuple[str, ...]
    weight: Fraction


@dataclass(slots=True)
class VoteRecord:
    id: int
    question: str
    description: str
    kind: str
    rule: str
    base: str
    secret: bool
    method: str
    seats: int
    round_no: int
    options: list[tuple[str, str]]  # (key, label) in ballot order
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None
    published_at: dt.datetime | None
    published: bool
    result: dict[str, Any]
    agenda_item_id: int | None
    subject: tuple[str, int] | None
    roll_call: list[RollCallRow] = field(default_factory=list)  # named votes only
    trackers: list[TrackerRow] = field(default_factory=list)  # secret votes only
    log_index: int | None = None  # the audit log entry of its result

    @property
    def explanation(self) -> str:
        return str(self.result.get("explanation", ""))

    @property
    def outcome(self) -> str:
        """One word or phrase for tables: adopted, rejected, elected …, no decision."""
        if self.kind == "election":
            elected = self.result.get("elected") or []
            labels = dict(self.options)
            if elected:
                return "elected: " + ", ".join(labels.get(k, k) for k in elected)
            return "no one elected"
        if self.result.get("valid") is False:
            return "not valid"
        return "adopted" if self.result.get("adopted") else "rejected"

    def label(self, key: str) -> str:
        return dict(self.options).get(key, key)


@dataclass(frozen=True, slots=True)
class AttendanceRow:
    nmo: str
    nmo_name: str
    member_class: str
    present: bool
    delegates: int  # how many of its delegates were checked in at some moment of the session
    # How the session's roll call marked it: "phone" (its right holder confirmed), "desk",
    # or "" (not answered, or the session had no roll call: then check-ins decide `present`).
    marked: str = ""


@dataclass(slots=True)
class SessionRecord:
    id: int
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    published: bool
    attendance: list[AttendanceRow] = field(default_factory=list)
    published_at: dt.datetime | None = None  # when it is (or becomes) public; None: held
    roll_call: bool = False  # the attendance is the session's roll call's, not the check-ins'

    @property
    def present(self) -> int:
        return sum(1 for row in self.attendance if row.present)


@dataclass(slots=True)
class ItemRecord:
    id: int
    position: int
    title: str
    kind: str
    session_id: int | None
    document_id: int | None
    votes: list[int]  # ids of the record's votes on this item, in order


@dataclass(frozen=True, slots=True)
class VersionRecord:
    number: int
    reason: str
    created_at: dt.datetime
    paragraphs: tuple[tuple[str, str], ...]  # (id, text)


@dataclass(slots=True)
class DocumentRecord:
    id: int
    kind: str
    title: str
    in_force_version: int | None
    valid_until: dt.date | None
    published: bool
    versions: list[VersionRecord]
    published_at: dt.datetime | None = None  # when it is (or becomes) public; None: held

    @property
    def in_force(self) -> VersionRecord | None:
        return next((v for v in self.versions if v.number == self.in_force_version), None)


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    origin: str
    size: int
    short_root: str
    note: str  # the C2SP signed note, as signed
    verifier_key: str
    created_at: dt.datetime


@dataclass(slots=True)
class PublicRecord:
    assembly_id: int
    name: str
    place: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    generated_at: dt.datetime
    staff_view: bool  # True: built for the staff, held items included and marked
    sessions: list[SessionRecord]
    agenda: list[ItemRecord]
    votes: list[VoteRecord]
    documents: list[DocumentRecord]
    checkpoint: CheckpointRecord | None

    def vote(self, vote_id: int) -> VoteRecord:
        for vote in self.votes:
            if vote.id == vote_id:
                return vote
        raise NotFound(t("There is no published vote {vote_id} in this assembly.", vote_id=vote_id))

    def document(self, document_id: int) -> DocumentRecord:
        for document in self.documents:
            if document.id == document_id:
                return document
        raise NotFound(
            t(
                "There is no published document {document_id} in this assembly.",
                document_id=document_id,
            )
        )

    def unplaced_votes(self) -> list[VoteRecord]:
        """Votes on no agenda item (prepared before the plenary moved to one)."""
        placed = {v for item in self.agenda for v in item.votes}
        return [v for v in self.votes if v.id not in placed]


def _choice(raw: str) -> tuple[str, ...]:
    value = json.loads(raw)
    return tuple(value) if isinstance(value, list) else (str(value),)


async def build_record(
    db: AsyncSession,
    assembly_id: int,
    *,
    staff_view: bool = False,
    now: dt.datetime | None = None,
    verifier_key: str | None = None,
) -> PublicRecord:
    """The record of the assembly as of `now`: only what is published then, unless
    `staff_view`. `verifier_key` is the running server's, used when no checkpoint has one."""
    now = now or utcnow()
    assembly = await db.get(Assembly, assembly_id)
    if assembly is None:
        raise NotFound(t("There is no assembly {assembly_id}.", assembly_id=assembly_id))

    def shown(published_at: dt.datetime | None) -> bool:
        return staff_view or is_published(published_at, now)

    nmos = {
        n.id: n
        for n in (await db.execute(select(Nmo).where(Nmo.assembly_id == assembly_id))).scalars()
    }
    votes = await _votes(db, assembly_id, nmos, shown, now)
    sessions = await _sessions(db, assembly_id, nmos, shown, now)
    items = list(
        (
            await db.execute(
                select(AgendaItem)
                .where(AgendaItem.assembly_id == assembly_id)
                .order_by(AgendaItem.position)
            )
        ).scalars()
    )
    agenda = []
    for item in items:
        on_item = [
            v.id
            for v in votes
            if v.agenda_item_id == item.id
            or (
                v.agenda_item_id is None
                and item.document_id is not None
                and v.subject is not None
                and v.subject[0] == "document"
                and v.subject[1] == item.document_id
            )
        ]
        agenda.append(
            ItemRecord(
                item.id,
                item.position,
                item.title,
                item.kind,
                item.session_id,
                item.document_id,
                on_item,
            )
        )
    return PublicRecord(
        assembly_id=assembly.id,
        name=assembly.name,
        place=assembly.place,
        starts_on=assembly.starts_on,
        ends_on=assembly.ends_on,
        generated_at=now,
        staff_view=staff_view,
        sessions=sessions,
        agenda=agenda,
        votes=votes,
        documents=await _documents(db, assembly_id, shown, now),
        checkpoint=await _checkpoint(db, assembly_id, verifier_key),
    )


async def _votes(
    db: AsyncSession, assembly_id: int, nmos: dict[int, Nmo], shown: Any, now: dt.datetime
) -> list[VoteRecord]:
    rows = [
        v
        for v in (
            await db.execute(
                select(Vote)
                .where(Vote.assembly_id == assembly_id, Vote.state == "closed")
                .order_by(Vote.closed_at, Vote.id)
            )
        ).scalars()
        if shown(v.published_at)
    ]
    ids = [v.id for v in rows]
    options: dict[int, list[tuple[str, str]]] = defaultdict(list)
    electorate: dict[int, list[ElectorateEntry]] = defaultdict(list)
    ballots: dict[int, dict[int, Ballot]] = defaultdict(dict)
    trackers: dict[int, list[TrackerRow]] = defaultdict(list)
    if ids:
        for option in (
            await db.execute(
                select(VoteOption)
                .where(VoteOption.vote_id.in_(ids))
                .order_by(VoteOption.vote_id, VoteOption.position)
            )
        ).scalars():
            options[option.vote_id].append((option.key, option.label))
        for entry in (
            await db.execute(select(ElectorateEntry).where(ElectorateEntry.vote_id.in_(ids)))
        ).scalars():
            electorate[entry.vote_id].append(entry)
        for row in (await db.execute(select(Ballot).where(Ballot.vote_id.in_(ids)))).scalars():
            ballots[row.vote_id][row.nmo_id] = row
        # Sorted by tracker: the order says nothing about who voted when.
        for choice in (
            await db.execute(
                select(SecretChoice)
                .where(SecretChoice.vote_id.in_(ids))
                .order_by(SecretChoice.vote_id, SecretChoice.tracker, SecretChoice.id)
            )
        ).scalars():
            trackers[choice.vote_id].append(
                TrackerRow(choice.tracker, _choice(choice.choice), choice.weight)
            )
    results = await _result_entries(db, assembly_id)
    out = []
    for vote in rows:
        record = VoteRecord(
            id=vote.id,
            question=vote.question,
            description=vote.description,
            kind=vote.kind,
            rule=vote.rule,
            base=vote.base,
            secret=vote.secret,
            method=vote.method,
            seats=vote.seats,
            round_no=vote.round_no,
            options=options[vote.id],
            opened_at=vote.opened_at,
            closed_at=vote.closed_at,
            published_at=vote.published_at,
            published=is_published(vote.published_at, now),
            result=vote.result or {},
            agenda_item_id=vote.agenda_item_id,
            subject=(
                (vote.subject_kind, vote.subject_id)
                if vote.subject_kind is not None and vote.subject_id is not None
                else None
            ),
            log_index=results.get(vote.id),
        )
        if vote.secret:
            record.trackers = trackers[vote.id]
        else:
            cast = ballots[vote.id]
            for entry in sorted(electorate[vote.id], key=lambda e: e.nmo_code):
                ballot = cast.get(entry.nmo_id)
                holder = nmos.get(entry.cast_by_nmo_id)
                record.roll_call.append(
                    RollCallRow(
                        nmo=entry.nmo_code,
                        nmo_name=nmos[entry.nmo_id].name if entry.nmo_id in nmos else "",
                        weight=entry.weight,
                        via_proxy=entry.via_proxy,
                        cast_by=holder.code if holder is not None else entry.nmo_code,
                        choice=_choice(ballot.choice) if ballot is not None else None,
                    )
                )
        out.append(record)
    return out


async def _result_entries(db: AsyncSession, assembly_id: int) -> dict[int, int]:
    """vote id -> index of its vote_result entry in the audit log."""
    found: dict[int, int] = {}
    for seq, data in await db.execute(
        select(AuditEntry.seq, AuditEntry.data).where(
            AuditEntry.assembly_id == assembly_id, AuditEntry.kind == "vote_result"
        )
    ):
        vote_id = json.loads(data).get("vote")
        if isinstance(vote_id, int):
            found[vote_id] = seq
    return found


async def _sessions(
    db: AsyncSession, assembly_id: int, nmos: dict[int, Nmo], shown: Any, now: dt.datetime
) -> list[SessionRecord]:
    sittings = list(
        (
            await db.execute(
                select(PlenarySession)
                .where(PlenarySession.assembly_id == assembly_id)
                .order_by(PlenarySession.starts_at)
            )
        ).scalars()
    )
    events = list(
        (
            await db.execute(
                select(CredentialEvent)
                .where(
                    CredentialEvent.assembly_id == assembly_id,
                    CredentialEvent.kind.in_(("checked_in", "checked_out")),
                )
                .order_by(CredentialEvent.at, CredentialEvent.id)
            )
        ).scalars()
    )
    # Each session's roll call, when it has one: NMO id -> its answer.
    roll_calls: dict[int, dict[int, RollCallAnswer]] = {}
    rows = await db.execute(
        select(RollCall.session_id, RollCallAnswer)
        .outerjoin(RollCallAnswer, RollCallAnswer.roll_call_id == RollCall.id)
        .where(RollCall.assembly_id == assembly_id)
    )
    for session_id, answer in rows:
        answers = roll_calls.setdefault(session_id, {})
        if answer is not None:
            answers[answer.nmo_id] = answer
    out = []
    for sitting in sittings:
        record = SessionRecord(
            sitting.id,
            sitting.name,
            sitting.starts_at,
            sitting.ends_at,
            is_published(sitting.published_at, now),
            published_at=sitting.published_at,
        )
        if shown(sitting.published_at):
            record.attendance = attendance(nmos, events, sitting.starts_at, sitting.ends_at)
            if sitting.id in roll_calls:
                record.roll_call = True
                record.attendance = roll_call_attendance(
                    record.attendance, nmos, roll_calls[sitting.id]
                )
        out.append(record)
    return out


def attendance(
    nmos: dict[int, Nmo],
    events: list[CredentialEvent],
    starts_at: dt.datetime,
    ends_at: dt.datetime,
) -> list[AttendanceRow]:
    """Who was present during [starts_at, ends_at]: an NMO is present when one of its
    delegates was checked in at some moment of it (checked in before and not yet out at the
    start, or checked in during it)."""
    inside: set[int] = set()  # delegates checked in at the current point of the replay
    seen: dict[int, set[int]] = defaultdict(set)  # nmo -> delegates present in the session
    for event in events:
        if event.at > ends_at:
            break
        if event.delegate_id is None or event.nmo_id is None:
            continue
        if event.at < starts_at:
            if event.kind == "checked_in":
                inside.add(event.delegate_id)
            else:
                inside.discard(event.delegate_id)
            continue
        if event.kind == "checked_in":
            seen[event.nmo_id].add(event.delegate_id)
    # Those still inside at the start were present at it.
    owner = {e.delegate_id: e.nmo_id for e in events if e.delegate_id is not None}
    for delegate in inside:
        nmo = owner.get(delegate)
        if nmo is not None:
            seen[nmo].add(delegate)
    return [
        AttendanceRow(n.code, n.name, n.member_class, bool(seen.get(n.id)), len(seen.get(n.id, ())))
        for n in sorted(nmos.values(), key=lambda n: n.code)
    ]


def roll_call_attendance(
    by_check_in: list[AttendanceRow], nmos: dict[int, Nmo], answers: dict[int, RollCallAnswer]
) -> list[AttendanceRow]:
    """The attendance of a session that held a roll call: present is what the roll call
    recorded (an NMO that never answered is absent), marked says how; the number of its
    delegates checked in stays as the check-ins show it."""
    by_code = {n.code: n.id for n in nmos.values()}
    out = []
    for row in by_check_in:
        answer = answers.get(by_code.get(row.nmo, -1))
        present = answer is not None and answer.present
        out.append(replace(row, present=present, marked=answer.via if answer is not None else ""))
    return out


async def _documents(
    db: AsyncSession, assembly_id: int, shown: Any, now: dt.datetime
) -> list[DocumentRecord]:
    documents = [
        d
        for d in (
            await db.execute(
                select(Document)
                .where(Document.assembly_id == assembly_id, Document.in_force_version.is_not(None))
                .order_by(Document.kind, Document.title)
            )
        ).scalars()
        if shown(d.published_at)
    ]
    if not documents:
        return []
    versions: dict[int, list[VersionRecord]] = defaultdict(list)
    for version in (
        await db.execute(
            select(DocumentVersion)
            .where(DocumentVersion.document_id.in_([d.id for d in documents]))
            .order_by(DocumentVersion.document_id, DocumentVersion.number)
        )
    ).scalars():
        versions[version.document_id].append(
            VersionRecord(
                version.number,
                version.reason,
                version.created_at,
                tuple((p["id"], p["text"]) for p in version.paragraphs),
            )
        )
    return [
        DocumentRecord(
            d.id,
            d.kind,
            d.title,
            d.in_force_version,
            d.valid_until,
            is_published(d.published_at, now),
            # The public sees the versions up to the one in force, not drafts after it.
            [v for v in versions[d.id] if v.number <= (d.in_force_version or 0)],
            published_at=d.published_at,
        )
        for d in documents
    ]


async def _checkpoint(
    db: AsyncSession, assembly_id: int, verifier_key: str | None
) -> CheckpointRecord | None:
    latest = await audit_log.latest_checkpoint(db, assembly_id)
    if latest is None:
        return None
    body, _ = notes.parse_note(latest.note)
    return CheckpointRecord(
        origin=notes.Checkpoint.parse(body).origin,
        size=latest.size,
        short_root=notes.short_root(latest.root),
        note=latest.note,
        verifier_key=latest.verifier_key or verifier_key or "",
        created_at=latest.created_at,
    )
