"""The life of a vote, as the procedure names it: draft, open (freeze the electorate),
cast, close (tally and decide), cancel. Deciding is done by the pure functions in rules.py
and elections.py; this module stores and loads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import Select, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.audit import record as audit_record
from assembly.credentials import rules as credential_rules
from assembly.credentials import service as credentials
from assembly.credentials.auth import Principal
from assembly.credentials.models import Assembly, Delegate, Nmo
from assembly.db import utcnow
from assembly.errors import Conflict, Forbidden, Invalid, NotFound
from assembly.i18n import t
from assembly.voting import rules as vote_rules
from assembly.voting.models import (
    BASES,
    ELECTION_METHODS,
    MAJORITY_RULES,
    Ballot,
    ElectorateEntry,
    ElectorateRow,
    Participation,
    SecretChoice,
    Vote,
    VoteOption,
)
from assembly.voting.writer import BallotOutcome, BallotRow

MOTION_OPTIONS = (("yes", "Yes"), ("no", "No"), ("abstain", "Abstain"))
RON = "RON"
RON_LABEL = "Re-open nominations"
MAX_CLIENT_ID = 64


@dataclass(frozen=True, slots=True)
class VoteSpec:
    kind: str = "motion"
    question: str = ""
    description: str = ""
    rule: str | None = None
    base: str | None = None
    secret: bool = False
    seats: int = 1
    method: str = "rounds"
    candidates: Sequence[str] = ()


DEFAULT_BASE = {
    "simple": "cast",
    "absolute": "cast_with_abstentions",
    "two_thirds": "cast",
    "three_quarters": "cast",
    "unanimous": "cast",
}


async def get_vote(db: AsyncSession, vote_id: int) -> Vote:
    vote = await db.get(Vote, vote_id)
    if vote is None:
        raise NotFound(t("There is no vote {vote_id}.", vote_id=vote_id))
    return vote


async def options_of(db: AsyncSession, vote_id: int) -> list[VoteOption]:
    return list(
        (
            await db.execute(
                select(VoteOption)
                .where(VoteOption.vote_id == vote_id)
                .order_by(VoteOption.position, VoteOption.id)
            )
        ).scalars()
    )


async def create_vote(db: AsyncSession, assembly: Assembly, actor: str, spec: VoteSpec) -> Vote:
    """A draft vote; its rule defaults to the assembly's setting for the kind of motion."""
    if spec.kind not in ("motion", "procedural", "election"):
        raise Invalid(t("kind must be motion, procedural or election."))
    question = spec.question.strip()
    if not question:
        raise Invalid(t("A vote needs a question (what the plenary decides)."))
    if len(question) > 2000:
        raise Invalid(t("The question is longer than 2000 characters."))
    default_rule = {
        "motion": assembly.majority_ordinary,
        "procedural": assembly.majority_procedural,
        "election": "simple",
    }[spec.kind]
    rule = spec.rule or default_rule
    if rule not in MAJORITY_RULES:
        raise Invalid(
            t(
                "rule must be one of {rules}, not {rule!r}.",
                rules=", ".join(MAJORITY_RULES),
                rule=rule,
            )
        )
    base = spec.base or (
        "cast_with_abstentions"
        if rule == "two_thirds" and assembly.abstentions_in_base
        else DEFAULT_BASE[rule]
    )
    if base not in BASES:
        raise Invalid(
            t("base must be one of {bases}, not {base!r}.", bases=", ".join(BASES), base=base)
        )
    secret = spec.secret or spec.kind == "election"
    vote = Vote(
        assembly_id=assembly.id,
        kind=spec.kind,
        question=question,
        description=spec.description.strip(),
        rule=rule,
        base=base,
        secret=secret,
        seats=1,
        method="rounds",
        state="draft",
        created_by=actor,
        round_no=1,
        agenda_item_id=await _current_item(db, assembly.id),
    )
    if spec.kind == "election":
        if spec.method not in ELECTION_METHODS:
            raise Invalid(
                t("method must be one of {methods}.", methods=", ".join(ELECTION_METHODS))
            )
        if not 1 <= spec.seats <= 50:
            raise Invalid(t("seats must be from 1 to 50."))
        names = [c.strip() for c in spec.candidates if c.strip()]
        if not names:
            raise Invalid(t("An election needs at least one candidate."))
        if len(set(names)) != len(names):
            raise Invalid(t("A candidate is listed twice."))
        if spec.seats > 1 and spec.method in ("rounds", "instant_runoff"):
            raise Invalid(t("Several seats are filled by stv or block voting, not by rounds."))
        if spec.seats == 1 and spec.method in ("stv", "block"):
            vote.method = "instant_runoff" if spec.method == "stv" else "rounds"
        else:
            vote.method = spec.method
        vote.seats = spec.seats
    db.add(vote)
    await db.flush()
    if spec.kind == "election":
        for i, name in enumerate(spec.candidates):
            if name.strip():
                db.add(VoteOption(vote_id=vote.id, key=f"c{i + 1}", label=name.strip(), position=i))
        db.add(VoteOption(vote_id=vote.id, key=RON, label=RON_LABEL, position=len(spec.candidates)))
    else:
        for i, (key, label) in enumerate(MOTION_OPTIONS):
            db.add(VoteOption(vote_id=vote.id, key=key, label=label, position=i))
    await db.flush()
    return vote


async def open_vote(
    db: AsyncSession, vote: Vote, actor: str, countdown_s: int | None = None
) -> list[ElectorateRow]:
    """Open the vote: check quorum, then freeze who may vote, with which weight, through whom.
    Returns the frozen electorate."""
    if vote.state != "draft":
        raise Conflict(
            t("This vote is {state}; only a draft vote can be opened.", state=vote.state)
        )
    assembly = await credentials.get_assembly(db, vote.assembly_id)
    await db.execute(select(Vote.id).where(Vote.id == vote.id).with_for_update())
    standing = await credentials.standing(db, assembly)
    if not standing.quorum.met and not assembly.open_without_quorum:
        raise Conflict(
            t(
                "There is no quorum: {quorum} The vote cannot be opened.",
                quorum=standing.quorum.explain(),
            ),
            code="no_quorum",
        )
    if not standing.electorate:
        raise Conflict(t("Nobody could vote: no Full Member is present and credentialed."))
    entries = [
        ElectorateRow(
            nmo_id=e.nmo_id,
            nmo_code=standing.nmos[e.nmo_id].code,
            weight=e.weight,
            cast_by_nmo_id=e.cast_by_nmo_id,
            cast_by_delegate_id=e.cast_by_delegate_id,
            via_proxy=e.via_proxy,
        )
        for e in standing.electorate
    ]
    # The table's own INSERT, run as one executemany: the unit of work's flush of 2,000 ORM
    # entries took half a second of a vote's opening, the ORM's bulk insert 50 ms.
    await db.execute(
        insert(ElectorateEntry.metadata.tables[ElectorateEntry.__tablename__]),
        [{"vote_id": vote.id, **e._asdict()} for e in entries],
    )
    now = utcnow()
    vote.state = "open"
    vote.opened_at = now
    vote.entitled_weight = standing.quorum.weight_total
    vote.present_weight = credential_rules.exact_sum(e.weight for e in entries)
    vote.quorum_met = standing.quorum.met
    vote.validity_turnout = assembly.validity_turnout
    vote.vote_change_allowed = assembly.vote_change_allowed and not vote.secret
    if countdown_s is not None:
        set_countdown(vote, countdown_s)
    await db.flush()
    options = [o.key for o in await options_of(db, vote.id)]
    await audit_record.vote_opened(db, vote, options, entries)
    return entries


def set_countdown(vote: Vote, seconds: int) -> None:
    import datetime as dt

    if vote.state != "open":
        raise Conflict(t("A countdown runs only while the vote is open."))
    if not 0 <= seconds <= 3600:
        raise Invalid(t("A countdown is from 0 to 3600 seconds."))
    vote.countdown_ends_at = utcnow() + dt.timedelta(seconds=seconds) if seconds else None


async def cancel_vote(db: AsyncSession, vote: Vote, actor: str) -> None:
    if vote.state not in ("draft", "open"):
        raise Conflict(
            t("This vote is {state}; only a draft or open vote can be cancelled.", state=vote.state)
        )
    await db.execute(select(Vote.id).where(Vote.id == vote.id).with_for_update())
    vote.state = "cancelled"
    vote.closed_at = utcnow()


def _electorate_query(vote_id: int) -> Select[int, str, Fraction, int, int | None, bool]:
    e = ElectorateEntry
    return (
        select(e.nmo_id, e.nmo_code, e.weight, e.cast_by_nmo_id, e.cast_by_delegate_id, e.via_proxy)
        .where(e.vote_id == vote_id)
        .order_by(e.nmo_code)
    )


async def electorate_of(db: AsyncSession, vote_id: int) -> list[ElectorateRow]:
    """The vote's electorate by NMO code."""
    return [ElectorateRow(*row) for row in await db.execute(_electorate_query(vote_id))]


# --- casting ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CastRequest:
    nmo_id: int
    client_ballot_id: str
    choice: str | None = None  # motions
    marks: Sequence[str] | None = None  # elections (ranked for instant run-off and stv)
    tracker: str = ""


def canonical_choice(vote: Vote | OpenVote, option_keys: Sequence[str], req: CastRequest) -> str:
    """Check a ballot's content against the vote and return its canonical stored form."""
    if vote.kind == "election":
        from assembly.voting import elections

        marks = list(req.marks or ([] if req.choice is None else [req.choice]))
        try:
            elections.check_marks(marks, option_keys, vote.seats, vote.method)
        except vote_rules.BallotRefused as exc:
            raise Invalid(exc.message) from None
        return json.dumps(marks, separators=(",", ":"))
    if req.marks:
        raise Invalid(t("This is a motion: choose one of yes, no or abstain, not a list."))
    if req.choice not in option_keys:
        raise Invalid(
            t(
                "{choice!r} is not an option of this vote; choose one of {options}.",
                choice=req.choice,
                options=", ".join(option_keys),
            )
        )
    return json.dumps([req.choice], separators=(",", ":"))


def check_client_id(value: str) -> str:
    if (
        not value
        or len(value) > MAX_CLIENT_ID
        or not all(ch.isalnum() or ch in "-_:" for ch in value)
    ):
        raise Invalid(
            t(
                "ballot_id must be 1 to 64 letters, digits, '-', '_' or ':' made by the "
                "phone (the same id is sent again on retry)."
            )
        )
    return value


def check_tracker(value: str) -> str:
    value = value.strip().lower()
    if value and (len(value) != 32 or any(ch not in "0123456789abcdef" for ch in value)):
        raise Invalid(t("tracker must be 32 hexadecimal characters (128 random bits)."))
    return value


async def why_not_entitled(
    db: AsyncSession, vote: Vote | OpenVote, principal: Principal, nmo_id: int
) -> str:
    """The precise reason a right holder's ballot for `nmo_id` is refused."""
    nmo = await db.get(Nmo, nmo_id)
    if nmo is None or nmo.assembly_id != vote.assembly_id:
        return t("There is no NMO {nmo_id} in this assembly.", nmo_id=nmo_id)
    if nmo.member_class == "suspended":
        return t("{nmo} is suspended: suspended members have no vote.", nmo=nmo.code)
    if nmo.member_class != "full":
        return t(
            "{nmo} is a {member_class} member: only Full Members vote.",
            nmo=nmo.code,
            member_class=nmo.member_class,
        )
    entry = (
        await db.execute(
            select(ElectorateEntry).where(
                ElectorateEntry.vote_id == vote.id, ElectorateEntry.nmo_id == nmo_id
            )
        )
    ).scalar_one_or_none()
    if entry is None:
        return t(
            "{nmo} was not in the electorate when this vote opened (it was not present "
            "and credentialed, or its proxy holder was absent).",
            nmo=nmo.code,
        )
    if entry.cast_by_delegate_id != principal.delegate_id:
        holder = (
            await db.get(Delegate, entry.cast_by_delegate_id) if entry.cast_by_delegate_id else None
        )
        who = holder.name if holder else t("nobody")
        if entry.via_proxy:
            return t(
                "The vote of {nmo} in this vote is cast by {who} through its proxy, not by you.",
                nmo=nmo.code,
                who=who,
            )
        return t(
            "The vote of {nmo} in this vote is cast by {who}, not by you.", nmo=nmo.code, who=who
        )
    return ""


def refusal_message(vote: Vote | OpenVote, outcome: BallotOutcome, code: str) -> str:
    if outcome.reason == "vote_closed":
        return t("This vote is closed: ballots are no longer accepted.")
    if vote.vote_change_allowed:
        return t(
            "{code} has already voted in this vote; a second, different ballot is refused.",
            code=code,
        )
    return t(
        "{code} has already voted in this vote; a second, different ballot is refused "
        "(changing a vote is not allowed at this assembly).",
        code=code,
    )


# --- closing and results --------------------------------------------------------------


async def recorded_choices(db: AsyncSession, vote: Vote) -> list[tuple[Fraction, list[str]]]:
    """(weight, marks) of every ballot recorded for the vote."""
    if vote.secret:
        rows = await db.execute(
            select(SecretChoice.weight, SecretChoice.choice).where(SecretChoice.vote_id == vote.id)
        )
    else:
        rows = await db.execute(
            select(Ballot.weight, Ballot.choice).where(Ballot.vote_id == vote.id)
        )
    return [(weight, json.loads(choice)) for weight, choice in rows.all()]


async def turnout(db: AsyncSession, vote: Vote) -> tuple[int, Fraction]:
    table = Participation if vote.secret else Ballot
    count = await db.scalar(select(func.count()).select_from(table).where(table.vote_id == vote.id))
    if vote.secret:
        weight_rows = await db.execute(
            select(ElectorateEntry.weight)
            .join(
                Participation,
                (Participation.vote_id == ElectorateEntry.vote_id)
                & (Participation.nmo_id == ElectorateEntry.nmo_id),
            )
            .where(ElectorateEntry.vote_id == vote.id)
        )
    else:
        weight_rows = await db.execute(select(Ballot.weight).where(Ballot.vote_id == vote.id))
    return int(count or 0), credential_rules.exact_sum(w for (w,) in weight_rows.all())


def _bars(totals: dict[str, Fraction]) -> dict[str, int]:
    whole = credential_rules.exact_sum(totals.values())
    return {k: int(v * 100 / whole) if whole else 0 for k, v in totals.items()}


def compute_result(
    vote: Vote, options: Sequence[VoteOption], choices: list[tuple[Fraction, list[str]]]
) -> dict[str, Any]:
    """The result of a closed vote as JSON-ready data; the one function every screen,
    export and the offline verifier use."""
    fmt = credential_rules.format_weight
    if vote.kind != "election":
        tally = vote_rules.tally_motion((w, marks[0]) for w, marks in choices)
        decision = vote_rules.decide(
            tally,
            vote_rules.MajorityRule(vote.rule),
            vote_rules.Base(vote.base),
            entitled_weight=vote.entitled_weight or Fraction(0),
            present_weight=vote.present_weight,
            validity_turnout=vote.validity_turnout,
        )
        return {
            "kind": vote.kind,
            "adopted": decision.adopted,
            "valid": decision.valid,
            "rule": vote.rule,
            "base": vote.base,
            "threshold": fmt(decision.threshold),
            "base_weight": fmt(decision.base_weight),
            "totals": {
                "yes": fmt(tally.yes),
                "no": fmt(tally.no),
                "abstain": fmt(tally.abstain),
            },
            "counts": {
                "yes": tally.yes_count,
                "no": tally.no_count,
                "abstain": tally.abstain_count,
            },
            "explanation": decision.explanation,
            # Whole percentages of the votes cast, only for drawing the chart.
            "bars": _bars({"yes": tally.yes, "no": tally.no, "abstain": tally.abstain}),
        }
    from assembly.voting import elections

    return elections.election_result(vote.method, vote.seats, [o.key for o in options], choices)


@dataclass(frozen=True, slots=True)
class CastResult:
    nmo_id: int
    nmo_code: str
    status: str
    receipt: str
    message: str


@dataclass(frozen=True, slots=True)
class Caster:
    """One voting right as frozen at the vote's opening: the NMO, its code and its weight."""

    nmo_code: str
    weight: Fraction


@dataclass(frozen=True, slots=True)
class OpenVote:
    """What checking and answering a ballot reads of a vote, as it was when the vote's sheet
    was read (while it was open). None of it changes while the vote is open."""

    id: int
    assembly_id: int
    kind: str
    seats: int
    method: str
    secret: bool
    vote_change_allowed: bool

    @classmethod
    def of(cls, vote: Vote) -> OpenVote:
        return cls(
            id=vote.id,
            assembly_id=vote.assembly_id,
            kind=vote.kind,
            seats=vote.seats,
            method=vote.method,
            secret=vote.secret,
            vote_change_allowed=vote.vote_change_allowed,
        )


@dataclass(frozen=True, slots=True)
class BallotSheet:
    """What checking a ballot needs of an open vote: the vote, its option keys and who casts
    for which NMO. None of it can change while the vote is open (the electorate is frozen at
    opening), so a process reads it once per vote, not once per ballot request."""

    vote: OpenVote
    option_keys: tuple[str, ...]
    casters: Mapping[int, Mapping[int, Caster]]  # delegate id -> NMO id -> right
    # Every voting right (with a caster or not), by NMO code.
    electorate: tuple[ElectorateRow, ...] = ()


class BallotSheets:
    """The sheets of the open votes this process has taken ballots for, the newest few kept.

    A sheet is kept only while its vote is open here: closing or cancelling a vote drops it.
    When another process closes the vote, this one learns it from its ballot writer, which
    reads the vote's state in the transaction that stores the ballots (so a ballot is never
    stored in a closed vote), and drops the sheet then."""

    KEEP = 32

    def __init__(self, on_read: Callable[[BallotSheet], None] | None = None) -> None:
        # Called with each sheet of an open vote read here (the app remembers its casters'
        # sessions then: see app.remember_casters).
        self.on_read = on_read
        self._sheets: dict[int, BallotSheet] = {}
        # Reads under way: the first ballots of a vote arrive together, and every one of them
        # reading the whole electorate at once made the burst's slowest requests.
        self._reading: dict[int, asyncio.Future[BallotSheet]] = {}
        self.reads = 0

    def cached(self, vote_id: int) -> BallotSheet | None:
        return self._sheets.get(vote_id)

    def forget(self, vote_id: int) -> None:
        self._sheets.pop(vote_id, None)

    async def of(self, db: AsyncSession, vote: Vote) -> BallotSheet:
        sheet = self._sheets.get(vote.id)
        if sheet is not None:
            return sheet
        loop = asyncio.get_running_loop()
        reading = self._reading.get(vote.id)
        if reading is not None and reading.get_loop() is loop:
            try:
                return await asyncio.shield(reading)  # one read serves every request waiting
            except asyncio.CancelledError:
                if not reading.cancelled():
                    raise  # this request was cancelled
            # the request reading it was cancelled: read it here
        reading = self._reading[vote.id] = loop.create_future()
        try:
            sheet = await read_ballot_sheet(db, vote)
        except Exception as exc:
            reading.set_exception(exc)
            reading.exception()  # retrieved here, whether or not anyone else waits
            raise
        except BaseException:  # cancelled: the requests waiting read it themselves
            reading.cancel()
            raise
        finally:
            if self._reading.get(vote.id) is reading:
                del self._reading[vote.id]
        self.reads += 1
        if not reading.done():
            reading.set_result(sheet)
        if vote.state == "open":
            self._sheets[vote.id] = sheet
            while len(self._sheets) > self.KEEP:
                del self._sheets[next(iter(self._sheets))]
            if self.on_read is not None:
                self.on_read(sheet)
        return sheet


async def read_ballot_sheet(db: AsyncSession, vote: Vote) -> BallotSheet:
    casters: dict[int, dict[int, Caster]] = {}
    entries = await electorate_of(db, vote.id)
    for e in entries:
        if e.cast_by_delegate_id is not None:
            casters.setdefault(e.cast_by_delegate_id, {})[e.nmo_id] = Caster(e.nmo_code, e.weight)
    return BallotSheet(
        OpenVote.of(vote),
        tuple(o.key for o in await options_of(db, vote.id)),
        casters,
        tuple(entries),
    )


async def voted_nmos(db: AsyncSession, vote: Vote) -> set[int]:
    """The NMOs that have cast a ballot in the vote (for a secret vote: took part)."""
    table = Participation if vote.secret else Ballot
    return set((await db.execute(select(table.nmo_id).where(table.vote_id == vote.id))).scalars())


def check_caster(principal: Principal) -> None:
    if principal.delegate_id is None:
        raise Forbidden(t("Only a delegate holding a vote can cast a ballot."))


def check_open(vote: Vote) -> None:
    if vote.state != "open":
        raise Conflict(
            {
                "draft": t("This vote has not been opened yet."),
                "closed": t("This vote is closed: ballots are no longer accepted."),
                "cancelled": t("This vote was cancelled: ballots are no longer accepted."),
            }[vote.state],
            code=f"vote_{vote.state}",
        )


async def prepare_ballots(
    db: AsyncSession,
    vote: Vote,
    principal: Principal,
    requests: Sequence[CastRequest],
    sheets: BallotSheets | None = None,
) -> tuple[list[BallotRow], dict[int, str]]:
    """Check every ballot of a submission; any problem refuses the whole submission.
    `sheets`: the process's ballot sheets of open votes (read afresh without them)."""
    check_caster(principal)
    check_open(vote)
    sheet = await (sheets.of(db, vote) if sheets else read_ballot_sheet(db, vote))
    return await check_ballots(lambda: contextlib.nullcontext(db), sheet, principal, requests)


async def check_ballots(
    reader: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    sheet: BallotSheet,
    principal: Principal,
    requests: Sequence[CastRequest],
) -> tuple[list[BallotRow], dict[int, str]]:
    """Check a submission against an open vote's sheet; return the rows for the writer and
    the NMO codes. The database is read (in a session from `reader`) only to say why a right
    is not the caster's: a submission that passes opens no session at all."""
    check_caster(principal)
    if not requests:
        raise Invalid(t("The submission holds no ballot."))
    if len(requests) > 100:
        raise Invalid(t("At most 100 ballots can be sent at once."))
    vote = sheet.vote
    option_keys = list(sheet.option_keys)
    mine = sheet.casters.get(principal.delegate_id or 0, {})
    rows: list[BallotRow] = []
    codes: dict[int, str] = {}
    for req in requests:
        client_id = check_client_id(req.client_ballot_id)
        if req.nmo_id in codes:
            raise Invalid(t("The submission holds two ballots for the same NMO."))
        entry = mine.get(req.nmo_id)
        if entry is None:
            async with reader() as db:
                why = await why_not_entitled(db, vote, principal, req.nmo_id)
            raise Forbidden(why, code="not_entitled")
        choice = canonical_choice(vote, option_keys, req)
        codes[req.nmo_id] = entry.nmo_code
        rows.append(
            BallotRow(
                vote_id=vote.id,
                nmo_id=req.nmo_id,
                client_ballot_id=client_id,
                choice=choice,
                weight=entry.weight,
                cast_by_delegate_id=principal.delegate_id,
                secret=vote.secret,
                tracker=check_tracker(req.tracker) if vote.secret else "",
            )
        )
    return rows, codes


def describe_outcomes(
    vote: Vote | OpenVote, outcomes: Sequence[BallotOutcome], codes: dict[int, str]
) -> list[CastResult]:
    results = []
    for o in outcomes:
        code = codes.get(o.nmo_id, str(o.nmo_id))
        if o.status == "refused":
            message = refusal_message(vote, o, code)
        elif o.status == "changed":
            message = t(
                "The ballot of {code} is changed (new receipt {receipt}).",
                code=code,
                receipt=o.receipt,
            )
        elif o.status == "duplicate":
            message = t(
                "The ballot of {code} was already recorded (receipt {receipt}).",
                code=code,
                receipt=o.receipt,
            )
        else:
            message = t(
                "The ballot of {code} is recorded (receipt {receipt}).",
                code=code,
                receipt=o.receipt,
            )
        results.append(CastResult(o.nmo_id, code, o.status, o.receipt, message))
    return results


async def _current_item(db: AsyncSession, assembly_id: int) -> int | None:
    """The agenda item the plenary is on: a vote prepared now belongs to it in the record."""
    from assembly.agenda.models import AgendaItem  # the agenda builds on voting

    return await db.scalar(
        select(AgendaItem.id).where(AgendaItem.assembly_id == assembly_id, AgendaItem.is_current)
    )


async def close_vote(db: AsyncSession, vote: Vote, actor: str) -> dict[str, Any]:
    """Close the vote and decide it; ballots that arrive after this commit are refused."""
    if vote.state != "open":
        raise Conflict(
            t("This vote is {state}; only an open vote can be closed.", state=vote.state)
        )
    locked = (
        await db.execute(select(Vote.state).where(Vote.id == vote.id).with_for_update())
    ).scalar_one()
    if locked != "open":
        raise Conflict(t("This vote is {locked}; only an open vote can be closed.", locked=locked))
    vote.state = "closed"
    vote.closed_at = utcnow()
    await db.flush()
    options = await options_of(db, vote.id)
    result = compute_result(vote, options, await recorded_choices(db, vote))
    count, weight = await turnout(db, vote)
    result["ballots"] = count
    result["weight_cast"] = credential_rules.format_weight(weight)
    result["electorate_weight"] = credential_rules.format_weight(vote.present_weight or Fraction(0))
    vote.result = result
    await audit_record.vote_closed(db, vote, result)
    # When the result reaches the public record (the assembly's policy); a text it adopts
    # follows it. Imported here: publishing builds on voting.
    from assembly.publishing.service import vote_closed as schedule_publication

    await schedule_publication(db, vote)
    if vote.subject_kind is not None:
        # What the vote decides (an amendment, a text, the agenda) belongs to the agenda,
        # which builds on voting; imported here so that voting does not depend on it.
        from assembly.agenda.decisions import take_effect

        await take_effect(db, vote, actor)
    return result


async def next_round(db: AsyncSession, vote: Vote, actor: str) -> Vote:
    """After a round with no majority: a new draft round with the options still standing."""
    if vote.kind != "election" or vote.method != "rounds":
        raise Conflict(t("Only an election decided in rounds has a next round."))
    if vote.state != "closed" or not vote.result:
        raise Conflict(t("Close this round before preparing the next one."))
    rounds = vote.result.get("rounds") or []
    outcome = rounds[-1]["outcome"] if rounds else None
    if outcome != "next_round":
        raise Conflict(
            t("This round decided the election (or left it to the chair): there is no next round.")
        )
    continuing = [k for k in vote.result.get("continuing", []) if k != RON]
    existing = await db.scalar(
        select(Vote.id).where(
            Vote.parent_id == (vote.parent_id or vote.id), Vote.round_no == vote.round_no + 1
        )
    )
    if existing is not None:
        raise Conflict(
            t(
                "Round {round} already exists (vote {existing}).",
                round=vote.round_no + 1,
                existing=existing,
            )
        )
    labels = {o.key: o.label for o in await options_of(db, vote.id)}
    new = Vote(
        assembly_id=vote.assembly_id,
        kind="election",
        question=vote.question,
        description=vote.description,
        rule=vote.rule,
        base=vote.base,
        secret=True,
        seats=vote.seats,
        method=vote.method,
        parent_id=vote.parent_id or vote.id,
        round_no=vote.round_no + 1,
        state="draft",
        created_by=actor,
        agenda_item_id=vote.agenda_item_id,
    )
    db.add(new)
    await db.flush()
    for i, key in enumerate([*continuing, RON]):
        db.add(VoteOption(vote_id=new.id, key=key, label=labels.get(key, RON_LABEL), position=i))
    await db.flush()
    return new


async def put_on_projector(db: AsyncSession, vote: Vote, show: bool) -> None:
    """One vote at most is on the projector: showing one takes any other off (a draft may
    be shown, to let the room read the question before the vote opens)."""
    if show:
        others = (
            await db.execute(
                select(Vote).where(
                    Vote.assembly_id == vote.assembly_id,
                    Vote.on_projector.is_(True),
                    Vote.id != vote.id,
                )
            )
        ).scalars()
        for other in others:
            other.on_projector = False
    vote.on_projector = show


async def rights_by_delegate(
    db: AsyncSession,
    vote: Vote,
    delegate_id: int | None = None,
    sheets: BallotSheets | None = None,
) -> dict[int, list[dict[str, Any]]]:
    """Per right holder, the votes they cast in `vote` (own NMO first, then proxies) with
    the receipt once cast: what each phone shows, in two queries for the whole vote (one
    when the open vote's sheet in `sheets` holds its electorate)."""
    if sheets is not None and vote.state == "open":
        entries = [
            e
            for e in (await sheets.of(db, vote)).electorate
            if delegate_id is None or e.cast_by_delegate_id == delegate_id
        ]
    else:
        query = _electorate_query(vote.id)
        if delegate_id is not None:
            query = query.where(ElectorateEntry.cast_by_delegate_id == delegate_id)
        entries = [ElectorateRow(*row) for row in await db.execute(query)]
    if not entries:
        return {}
    table = Participation if vote.secret else Ballot
    receipt_query = select(table.nmo_id, table.receipt).where(table.vote_id == vote.id)
    if delegate_id is not None:
        receipt_query = receipt_query.where(table.nmo_id.in_([e.nmo_id for e in entries]))
    receipts = {nmo_id: receipt for nmo_id, receipt in await db.execute(receipt_query)}
    out: dict[int, list[dict[str, Any]]] = {}
    for e in entries:
        if e.cast_by_delegate_id is None:
            continue
        out.setdefault(e.cast_by_delegate_id, []).append(
            {
                "nmo_id": e.nmo_id,
                "nmo_code": e.nmo_code,
                "weight": credential_rules.format_weight(e.weight),
                "via_proxy": e.via_proxy,
                "voted": e.nmo_id in receipts,
                "receipt": receipts.get(e.nmo_id, ""),
            }
        )
    return out
