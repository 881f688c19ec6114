"""JSON API of the voting domain: the chair runs votes, right holders cast ballots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Controller, Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.audit import log as audit_log
from assembly.audit import screens as audit_screens
from assembly.credentials import rules as credential_rules
from assembly.credentials import service as credentials
from assembly.credentials.auth import CHAIR, LOGGED_IN, STAFF, Principal, Role, role_guard, roles
from assembly.credentials.routes import ensure_assembly_access
from assembly.db import only_reading
from assembly.errors import Forbidden
from assembly.i18n import t
from assembly.live import broadcast
from assembly.openapi import ErrorBody
from assembly.voting import service
from assembly.voting.models import ElectorateRow, Vote
from assembly.voting.schemas import (
    BallotResultOut,
    BallotSubmission,
    CastOut,
    Countdown,
    MyRight,
    MyVoteOut,
    OptionOut,
    ProjectorShow,
    TurnoutOut,
    VoteCreate,
    VoteOpen,
    VoteOut,
)


async def vote_out(db: AsyncSession, vote: Vote) -> VoteOut:
    options = await service.options_of(db, vote.id)
    return VoteOut(
        id=vote.id,
        assembly_id=vote.assembly_id,
        kind=vote.kind,
        question=vote.question,
        description=vote.description,
        rule=vote.rule,
        base=vote.base,
        secret=vote.secret,
        seats=vote.seats,
        method=vote.method,
        round_no=vote.round_no,
        parent_id=vote.parent_id,
        state=vote.state,
        options=[OptionOut(key=o.key, label=o.label) for o in options],
        opened_at=vote.opened_at,
        closed_at=vote.closed_at,
        countdown_ends_at=vote.countdown_ends_at,
        on_projector=vote.on_projector,
        result=vote.result if vote.state == "closed" else None,
        subject_kind=vote.subject_kind,
        subject_id=vote.subject_id,
    )


async def visible_vote(db: AsyncSession, principal: Principal, vote_id: int) -> Vote:
    vote = await service.get_vote(db, vote_id)
    ensure_assembly_access(principal, vote.assembly_id)
    if vote.state == "draft" and not principal.is_staff:
        raise Forbidden(t("This vote is still a draft of the chair."))
    return vote


async def turnout_out(
    db: AsyncSession, vote: Vote, sheets: service.BallotSheets | None = None
) -> TurnoutOut:
    """Who has voted so far. An open vote's electorate comes from `sheets` when given (read
    once per process: pushed several times a second while ballots arrive, this read every
    voting right again each time); only the NMOs that voted are read."""
    if sheets is not None and vote.state == "open":
        electorate: Sequence[ElectorateRow] = (await sheets.of(db, vote)).electorate
    else:
        electorate = await service.electorate_of(db, vote.id)
    voted = await service.voted_nmos(db, vote) if vote.state != "draft" else set()
    not_voted: list[str] | None = None
    if not vote.secret and vote.state != "draft":
        not_voted = [e.nmo_code for e in electorate if e.nmo_id not in voted]
    return TurnoutOut(
        vote_id=vote.id,
        state=vote.state,
        ballots=len(voted),
        weight_cast=credential_rules.format_weight(
            credential_rules.exact_sum(e.weight for e in electorate if e.nmo_id in voted)
        ),
        electorate=len(electorate),
        electorate_weight=credential_rules.format_weight(
            credential_rules.exact_sum(e.weight for e in electorate)
        ),
        not_voted=not_voted,
    )


async def vote_view(
    db: AsyncSession, vote: Vote | None, sheets: service.BallotSheets | None = None
) -> dict[str, Any]:
    """What the shared fragments (panel, banner, turnout) render for a vote; once it is closed,
    the audit log's checkpoint signed at its close, which the result is shown with."""
    if vote is None:
        return {"vote": None, "turnout": None, "checkpoint": None}
    checkpoint = None
    if vote.state == "closed":
        checkpoint = await audit_screens.vote_checkpoint(db, vote.assembly_id, vote.id)
    return {
        "vote": await vote_out(db, vote),
        "turnout": await turnout_out(db, vote, sheets),
        "checkpoint": checkpoint,
    }


class AssemblyVotesController(Controller):
    path = "/api/assemblies/{assembly_id:int}/votes"
    tags = ["votes"]

    @get("/", opt=roles(LOGGED_IN), operation_id="listVotes")
    async def list_votes(
        self, db: AsyncSession, request: Request[Principal, Any, Any], assembly_id: int
    ) -> list[VoteOut]:
        """Votes of the assembly, newest first (drafts only for staff)."""
        ensure_assembly_access(request.user, assembly_id)
        query = select(Vote).where(Vote.assembly_id == assembly_id).order_by(Vote.id.desc())
        if not request.user.is_staff:
            query = query.where(Vote.state != "draft")
        return [await vote_out(db, v) for v in (await db.execute(query)).scalars()]

    @post("/", opt=roles(CHAIR), operation_id="createVote")
    async def create(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        assembly_id: int,
        data: VoteCreate,
    ) -> VoteOut:
        """Prepare a vote (draft): question, kind, majority rule and base, secret or named."""
        assembly = await credentials.get_assembly(db, assembly_id)
        vote = await service.create_vote(
            db,
            assembly,
            request.user.actor,
            service.VoteSpec(
                kind=data.kind,
                question=data.question,
                description=data.description,
                rule=data.rule,
                base=data.base,
                secret=data.secret,
                seats=data.seats,
                method=data.method,
                candidates=data.candidates,
            ),
        )
        await db.commit()
        return await vote_out(db, vote)


class VoteController(Controller):
    path = "/api/votes/{vote_id:int}"
    tags = ["votes"]

    @get("/", opt=roles(LOGGED_IN), operation_id="getVote")
    async def get_vote(
        self, db: AsyncSession, request: Request[Principal, Any, Any], vote_id: int
    ) -> VoteOut:
        """A vote with its options, state and (once closed) its result."""
        return await vote_out(db, await visible_vote(db, request.user, vote_id))

    @post("/open", opt=roles(CHAIR), operation_id="openVote", status_code=200)
    async def open(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        vote_id: int,
        data: VoteOpen | None = None,
    ) -> VoteOut:
        """Open the vote: quorum is checked and the electorate frozen."""
        vote = await service.get_vote(db, vote_id)
        await service.open_vote(db, vote, request.user.actor, data.countdown_s if data else None)
        await db.commit()
        await broadcast.announce_vote(state.ctx, vote.id)
        return await vote_out(db, vote)

    @post("/close", opt=roles(CHAIR), operation_id="closeVote", status_code=200)
    async def close(
        self, db: AsyncSession, request: Request[Principal, Any, Any], state: State, vote_id: int
    ) -> VoteOut:
        """Close the vote and decide it."""
        vote = await service.get_vote(db, vote_id)
        await service.close_vote(db, vote, request.user.actor)
        await audit_log.sign_checkpoint(
            db, state.ctx.audit_key, state.ctx.settings.public_url, vote.assembly_id
        )
        await db.commit()
        state.ctx.ballot_sheets.forget(vote.id)  # its ballots are now refused before the writer
        await broadcast.announce_vote(state.ctx, vote.id)
        return await vote_out(db, vote)

    @post("/cancel", opt=roles(CHAIR), operation_id="cancelVote", status_code=200)
    async def cancel(
        self, db: AsyncSession, request: Request[Principal, Any, Any], state: State, vote_id: int
    ) -> VoteOut:
        """Cancel a draft or open vote; no result is computed."""
        vote = await service.get_vote(db, vote_id)
        await service.cancel_vote(db, vote, request.user.actor)
        await db.commit()
        state.ctx.ballot_sheets.forget(vote.id)
        await broadcast.announce_vote(state.ctx, vote.id)
        return await vote_out(db, vote)

    @post("/countdown", opt=roles(CHAIR), operation_id="setCountdown", status_code=200)
    async def countdown(
        self, db: AsyncSession, state: State, vote_id: int, data: Countdown
    ) -> VoteOut:
        """Start (or clear, with 0) a countdown shown on every screen."""
        vote = await service.get_vote(db, vote_id)
        service.set_countdown(vote, data.seconds)
        await db.commit()
        await broadcast.announce_vote(state.ctx, vote.id)
        return await vote_out(db, vote)

    @post("/projector", opt=roles(CHAIR), operation_id="showOnProjector", status_code=200)
    async def projector(
        self, db: AsyncSession, state: State, vote_id: int, data: ProjectorShow
    ) -> VoteOut:
        """Show this vote (and its result once closed) on the projector, or take it off."""
        vote = await service.get_vote(db, vote_id)
        await service.put_on_projector(db, vote, data.show)
        await db.commit()
        await broadcast.announce_vote(state.ctx, vote.id)
        return await vote_out(db, vote)

    @post("/next-round", opt=roles(CHAIR), operation_id="nextRound", status_code=201)
    async def next_round(
        self, db: AsyncSession, request: Request[Principal, Any, Any], vote_id: int
    ) -> VoteOut:
        """Prepare the next round of an election when no candidate had a majority."""
        vote = await service.get_vote(db, vote_id)
        new = await service.next_round(db, vote, request.user.actor)
        await db.commit()
        return await vote_out(db, new)

    @get("/turnout", opt=roles(STAFF), operation_id="getTurnout")
    async def turnout(self, db: AsyncSession, vote_id: int) -> TurnoutOut:
        """Ballots and weight cast so far; for named votes, who has not voted yet."""
        return await turnout_out(db, await service.get_vote(db, vote_id))

    @get("/mine", opt=roles({Role.delegate, Role.observer}), operation_id="myVote")
    async def mine(
        self, db: AsyncSession, request: Request[Principal, Any, Any], vote_id: int
    ) -> MyVoteOut:
        """The votes this delegate casts in this vote (own NMO and proxies) and their receipts."""
        vote = await visible_vote(db, request.user, vote_id)
        delegate_id = request.user.delegate_id or 0
        rights = (await service.rights_by_delegate(db, vote, delegate_id)).get(delegate_id, [])
        return MyVoteOut(
            vote=await vote_out(db, vote),
            rights=[
                MyRight(
                    nmo_id=r["nmo_id"],
                    nmo_code=r["nmo_code"],
                    weight=r["weight"],
                    via_proxy=r["via_proxy"],
                    voted=r["voted"],
                    receipt=r["receipt"],
                )
                for r in rights
            ],
        )

    @post(
        "/ballots",
        opt=roles({Role.delegate}),
        operation_id="castBallots",
        status_code=200,
        # A ballot the writer refuses answers 409 with the submission's results; a vote that
        # is not open answers 409 with the usual error body.
        responses={
            409: ResponseSpec(
                CastOut | ErrorBody,
                generate_examples=False,
                description=t("The vote is not open, or a ballot was refused"),
            )
        },
    )
    async def cast(
        self,
        request: Request[Principal, Any, Any],
        state: State,
        vote_id: int,
        data: BallotSubmission,
    ) -> Response[CastOut]:
        """Cast ballots (one per NMO whose vote you hold); acknowledged after they commit.
        Re-sending the same ballot_id returns the same receipt."""
        ctx = state.ctx
        requests = [
            service.CastRequest(
                nmo_id=b.nmo_id,
                client_ballot_id=b.ballot_id,
                choice=b.choice,
                marks=b.marks,
                tracker=b.tracker,
            )
            for b in data.ballots
        ]
        # An open vote's sheet answers every check without the database: who may cast for
        # which NMO, the options, the vote itself. Without one, the vote is read (and the
        # sheet with it, when the vote is open). No request-wide database session: making,
        # committing and closing one was a fifth of a ballot's work on the server, for a
        # check that reads nothing when it passes.
        sheet = ctx.ballot_sheets.cached(vote_id)
        vote: Vote | service.OpenVote
        with only_reading():  # the writer stores the ballots; checking them takes no lock
            if sheet is not None:
                vote = sheet.vote
                ensure_assembly_access(request.user, vote.assembly_id)
                rows, codes = await service.check_ballots(
                    ctx.session_maker, sheet, request.user, requests
                )
            else:
                async with ctx.session_maker() as db:
                    vote = await visible_vote(db, request.user, vote_id)
                    rows, codes = await service.prepare_ballots(
                        db, vote, request.user, requests, ctx.ballot_sheets
                    )
        outcomes = await ctx.writer.submit(rows)
        if any(o.reason == "vote_closed" for o in outcomes):
            ctx.ballot_sheets.forget(vote_id)  # closed by another process
        results = service.describe_outcomes(vote, outcomes, codes)
        broadcast.ballots_arrived(ctx, vote.id, vote.assembly_id)
        body = CastOut(
            vote_id=vote.id,
            ballots=[
                BallotResultOut(
                    nmo_id=r.nmo_id,
                    nmo_code=r.nmo_code,
                    status=r.status,
                    receipt=r.receipt,
                    message=r.message,
                )
                for r in results
            ],
        )
        refused = [r for r in results if r.status == "refused"]
        if refused:
            body.message = refused[0].message
            return Response(body, status_code=409)
        return Response(body, status_code=200)


def vote_api_routes() -> list[Router]:
    return [
        Router(
            path="/", guards=[role_guard], route_handlers=[AssemblyVotesController, VoteController]
        )
    ]
