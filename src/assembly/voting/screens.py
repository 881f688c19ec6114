"""Vote screens: the chair runs votes, a right holder's phone casts ballots, the projector shows
the room the question, the turnout and the result.

Every change goes through voting/service.py and is then announced (live/broadcast.py), which
pushes the shared fragments to every screen. The pages render those same fragments from the
same data (voting.routes.vote_out and turnout_out), so a page and a push never disagree. As on
the credentials screens, every form works with htmx and as a plain HTML form without
JavaScript (answered with a 303 back to the page, or with the page when it has something to
say: a confirmation step, a receipt, a refusal).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.audit import log as audit_log
from assembly.credentials import service as credentials
from assembly.credentials.auth import ALL_ROLES, CHAIR, MEMBERS, Principal, Role, roles
from assembly.credentials.models import Assembly
from assembly.credentials.screens import (
    MAJORITY_NAMES,
    chosen_assembly,
    delegations,
    is_htmx,
    page,
    quorum_of,
    see_other,
)
from assembly.errors import DomainError, Forbidden, Invalid
from assembly.i18n import t
from assembly.live import broadcast
from assembly.voting import service
from assembly.voting.models import (
    BASES,
    ELECTION_METHODS,
    MAJORITY_RULES,
    Vote,
)
from assembly.voting.routes import visible_vote, vote_out, vote_view

if TYPE_CHECKING:
    from assembly.app import AppContext

Req = Request[Principal, Any, Any]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
AssemblyParam = Annotated[int | None, Parameter(query="assembly", required=False)]
VoteParam = Annotated[int | None, Parameter(query="vote", required=False)]

BASE_NAMES = {
    "cast": t("Votes cast (abstentions not counted)"),
    "cast_with_abstentions": t("Votes cast, abstentions included"),
    "entitled": t("All votes entitled, present or not"),
}
METHOD_NAMES = {
    "rounds": t("Rounds (one mark; repeated rounds)"),
    "instant_runoff": t("Instant run-off (ranked, one seat)"),
    "stv": t("Single transferable vote (ranked)"),
    "block": t("Block vote (one mark per seat)"),
}
KIND_NAMES = {
    "motion": t("Motion"),
    "procedural": t("Procedural motion"),
    "election": t("Election"),
}


def ctx_of(state: State) -> AppContext:
    ctx: AppContext = state.ctx
    return ctx


# --- which vote each screen shows -----------------------------------------------------------


async def assembly_votes(db: AsyncSession, assembly_id: int) -> list[Vote]:
    return list(
        (
            await db.execute(
                select(Vote).where(Vote.assembly_id == assembly_id).order_by(Vote.id.desc())
            )
        ).scalars()
    )


def newest_open(votes: Sequence[Vote]) -> Vote | None:
    opened = [v for v in votes if v.state == "open"]
    return max(opened, key=lambda v: (v.opened_at is not None, v.opened_at, v.id), default=None)


def newest_ended(votes: Sequence[Vote]) -> Vote | None:
    """The last vote that was opened and has ended (a draft cancelled unopened stays private)."""
    ended = [v for v in votes if v.state in ("closed", "cancelled") and v.opened_at is not None]
    return max(ended, key=lambda v: (v.closed_at is not None, v.closed_at, v.id), default=None)


def on_projector(votes: Sequence[Vote]) -> Vote | None:
    return next((v for v in votes if v.on_projector), None)


def chair_current(votes: Sequence[Vote], chosen: int | None) -> Vote | None:
    """The chair's panel: the vote asked for, else the open one, the projected one, the last."""
    if chosen is not None:
        found = next((v for v in votes if v.id == chosen), None)
        if found is not None:
            return found
    return newest_open(votes) or on_projector(votes) or newest_ended(votes)


def projector_current(votes: Sequence[Vote]) -> Vote | None:
    """The room sees the vote the chair put on the projector, else the open vote. A result
    reaches the room when the chair publishes it to the projector ("publish-to-projector")."""
    return on_projector(votes) or newest_open(votes)


def delegate_current(votes: Sequence[Vote]) -> Vote | None:
    """A phone shows the open vote, else the result of the last one (never a draft)."""
    return newest_open(votes) or newest_ended(votes)


async def my_rights(db: AsyncSession, vote: Vote, delegate_id: int) -> list[dict[str, Any]]:
    return (await service.rights_by_delegate(db, vote, delegate_id)).get(delegate_id, [])


# --- chair ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VoteRow:
    """One line of the chair's list of votes, with the actions its state allows."""

    vote: Vote
    has_next_round: bool

    @property
    def can_next_round(self) -> bool:
        v = self.vote
        if v.kind != "election" or v.method != "rounds" or v.state != "closed" or not v.result:
            return False
        rounds = v.result.get("rounds") or []
        undecided = bool(rounds) and rounds[-1].get("outcome") == "next_round"
        return undecided and not self.has_next_round

    @property
    def verdict(self) -> str:
        v = self.vote
        if v.state != "closed" or not v.result:
            return ""
        if v.kind == "election":
            return "decided" if not v.result.get("undecided_seats") else "undecided"
        if not v.result.get("valid", True):
            return "not valid"
        return "adopted" if v.result.get("adopted") else "not adopted"


def vote_rows(votes: Sequence[Vote]) -> dict[str, list[VoteRow]]:
    """The list grouped as the chair works through it: open, prepared, then finished."""
    later_rounds = {(v.parent_id, v.round_no) for v in votes if v.parent_id is not None}
    groups: dict[str, list[VoteRow]] = {"open": [], "draft": [], "ended": []}
    for v in votes:
        row = VoteRow(v, ((v.parent_id or v.id), v.round_no + 1) in later_rounds)
        groups["ended" if v.state in ("closed", "cancelled") else v.state].append(row)
    return groups


def blank_vote_form() -> dict[str, str]:
    return {
        "question": "",
        "description": "",
        "kind": "motion",
        "rule": "",
        "base": "",
        "ballot": "named",
        "candidates": "",
        "seats": "1",
        "method": "rounds",
    }


async def chair_votes_context(
    db: AsyncSession,
    assembly: Assembly,
    chosen: int | None = None,
    *,
    notice: str = "",
    error: str = "",
    form: dict[str, str] | None = None,
    form_notice: str = "",
    form_error: str = "",
    panel: bool = True,
) -> dict[str, Any]:
    votes = await assembly_votes(db, assembly.id)
    current = chair_current(votes, chosen)
    view = await vote_view(db, current if panel else None)
    return {
        "assembly": assembly,
        "groups": vote_rows(votes),
        "current_id": current.id if current else None,
        "notice": notice,
        "error": error,
        "form": {**blank_vote_form(), **(form or {})},
        "form_notice": form_notice,
        "form_error": form_error,
        "kinds": KIND_NAMES,
        "majority_rules": MAJORITY_RULES,
        "majority_names": MAJORITY_NAMES,
        "bases": BASES,
        "base_names": BASE_NAMES,
        "methods": ELECTION_METHODS,
        "method_names": METHOD_NAMES,
        "show_missing": True,
        **view,
    }


async def chair_page(
    db: AsyncSession, request: Req, assembly: Assembly, status: int = 200, **votes: Any
) -> Template:
    """The whole chair screen (chair/index.html) with its votes section already filled in,
    for a browser without JavaScript (which cannot load the section by itself)."""
    _, everything = await chosen_assembly(db, assembly.id)
    context = await chair_votes_context(db, assembly, **votes)
    context.update(
        assemblies=everything,
        quorum=await quorum_of(db, assembly),
        delegations=await delegations(db, assembly.id),
        votes_inline=True,
    )
    return page(request, "chair/index.html", status=status, **context)


@get("/chair/votes", opt=roles(CHAIR))
async def chair_votes(
    db: AsyncSession, request: Req, assembly_id: AssemblyParam, vote_id: VoteParam
) -> Template:
    """The chair's votes: the current vote's live panel, every vote with its actions, and the
    form to prepare one (the chair page loads this section; without JavaScript, the page)."""
    assembly, _ = await chosen_assembly(db, assembly_id)
    if assembly is None:
        raise Invalid(t("There is no assembly yet: the secretariat creates it first."))
    if is_htmx(request):
        context = await chair_votes_context(db, assembly, vote_id)
        return page(request, "chair/_votes.html", **context)
    return await chair_page(db, request, assembly, chosen=vote_id)


@get("/chair/votes/list", opt=roles(CHAIR))
async def chair_vote_list(db: AsyncSession, request: Req, assembly_id: AssemblyParam) -> Template:
    """The list of votes and their actions (refreshed after every live vote message)."""
    assembly, _ = await chosen_assembly(db, assembly_id)
    if assembly is None:
        raise Invalid(t("There is no assembly yet: the secretariat creates it first."))
    context = await chair_votes_context(db, assembly, panel=False)
    return page(request, "chair/_vote_list.html", **context)


@get("/chair/votes/{vote_id:int}/panel", opt=roles(CHAIR))
async def chair_vote_panel(db: AsyncSession, request: Req, vote_id: int) -> Template:
    """One vote's panel on the chair's screen (out-of-band swap into #vote-panel)."""
    vote = await service.get_vote(db, vote_id)
    return page(
        request,
        "fragments/vote_panel.html",
        oob=True,
        show_missing=True,
        **await vote_view(db, vote),
    )


def vote_spec(data: dict[str, str]) -> service.VoteSpec:
    """The prepare-a-vote form as the service's VoteSpec (empty rule or base: the default)."""
    raw_seats = (data.get("seats") or "1").strip()
    try:
        seats = int(raw_seats)
    except ValueError:
        raise Invalid(t("Seats must be a whole number, such as 1 or 3.")) from None
    kind = data.get("kind") or "motion"
    return service.VoteSpec(
        kind=kind,
        question=data.get("question", ""),
        description=data.get("description", ""),
        rule=data.get("rule") or None,
        base=data.get("base") or None,
        secret=data.get("ballot") == "secret",
        seats=seats,
        method=data.get("method") or "rounds",
        candidates=(data.get("candidates") or "").splitlines() if kind == "election" else (),
    )


@post("/chair/assemblies/{assembly_id:int}/votes", opt=roles(CHAIR), status_code=200)
async def chair_create_vote(
    db: AsyncSession, request: Req, assembly_id: int, data: Form
) -> Template | Redirect:
    """Prepare a vote (a draft): question, kind, majority rule and base, secret or named."""
    assembly = await credentials.get_assembly(db, assembly_id)
    try:
        await service.create_vote(db, assembly, request.user.actor, vote_spec(data))
    except DomainError as exc:
        await db.rollback()
        assembly = await credentials.get_assembly(db, assembly_id)
        typed = {k: v for k, v in data.items() if isinstance(v, str)}
        votes: dict[str, Any] = {"form": typed, "form_error": exc.message}
        if is_htmx(request):
            context = await chair_votes_context(db, assembly, **votes)
            return page(request, "chair/_vote_form.html", status=exc.status, **context)
        return await chair_page(db, request, assembly, status=exc.status, **votes)
    await db.commit()
    # The panel keeps showing the vote it showed (an open vote's turnout matters more than a
    # new draft); the draft appears in the list.
    if not is_htmx(request):
        return see_other("/chair/votes", assembly=assembly_id)
    context = await chair_votes_context(
        db, assembly, form_notice=t("The vote is prepared: open it from the list below.")
    )
    return page(request, "chair/_vote_created.html", **context)


# What a chair's action does to a vote; it returns the notice and the vote to show next.
Action = Callable[[Vote], Awaitable[tuple[str, int]]]


async def chair_act(
    db: AsyncSession,
    request: Req,
    state: State,
    vote_id: int,
    action: Action,
    *,
    announce: bool = True,
) -> Template | Redirect:
    """Run a chair's action on a vote, commit, announce it; answer with the list and panel."""
    vote = await service.get_vote(db, vote_id)
    assembly_id = vote.assembly_id
    show = vote_id
    notice, error, status = "", "", 200
    try:
        notice, show = await action(vote)
    except DomainError as exc:
        await db.rollback()
        error, status = exc.message, exc.status
    else:
        await db.commit()
        ctx_of(state).ballot_sheets.forget(vote_id)  # closed or cancelled: no sheet
        if announce:
            await broadcast.announce_vote(ctx_of(state), vote_id)
        if not is_htmx(request):
            return see_other("/chair/votes", assembly=assembly_id, vote=show)
    assembly = await credentials.get_assembly(db, assembly_id)
    if not is_htmx(request):
        return await chair_page(db, request, assembly, status=status, chosen=show, error=error)
    context = await chair_votes_context(db, assembly, show, notice=notice, error=error)
    return page(request, "chair/_vote_changed.html", status=status, **context)


def confirmation(
    request: Req, data: dict[str, str], vote: Vote, action: str, question: str, detail: str
) -> Template | None:
    """Closing and cancelling ask first. htmx asks in the browser (hx-confirm) and sends
    confirmed=1; a plain form gets this page, whose button sends confirmed=1."""
    if data.get("confirmed") == "1":
        return None
    return page(
        request,
        "chair/confirm.html",
        vote=vote,
        action=action,
        question=question,
        detail=detail,
    )


def optional_seconds(data: dict[str, str], key: str) -> int | None:
    raw = (data.get(key) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Invalid(t("A countdown is a whole number of seconds, from 0 to 3600.")) from None


@post("/chair/votes/{vote_id:int}/open", opt=roles(CHAIR), status_code=200)
async def chair_open_vote(
    db: AsyncSession, request: Req, state: State, vote_id: int, data: Form
) -> Template | Redirect:
    """Open the vote: quorum is checked, the electorate frozen, every phone gets its ballot."""

    async def action(vote: Vote) -> tuple[str, int]:
        seconds = optional_seconds(data, "countdown")
        await service.open_vote(db, vote, request.user.actor, seconds or None)
        done = t("The vote is open: ballots are on the phones.")
        shown = on_projector(await assembly_votes(db, vote.assembly_id))
        if shown is not None and shown.id != vote.id:
            done = t(
                "The vote is open: ballots are on the phones. The projector still shows "
                "“{question}”: take it off to show this vote.",
                question=shown.question,
            )
        return done, vote.id

    return await chair_act(db, request, state, vote_id, action)


@post("/chair/votes/{vote_id:int}/close", opt=roles(CHAIR), status_code=200)
async def chair_close_vote(
    db: AsyncSession, request: Req, state: State, vote_id: int, data: Form
) -> Template | Redirect:
    """Close the vote and decide it (after a confirmation)."""
    vote = await service.get_vote(db, vote_id)
    asked = confirmation(
        request,
        data,
        vote,
        "close",
        t("Close this vote?"),
        t("Ballots are no longer accepted and the result is computed and shown."),
    )
    if asked is not None:
        return asked

    async def action(vote: Vote) -> tuple[str, int]:
        await service.close_vote(db, vote, request.user.actor)
        ctx = ctx_of(state)
        await audit_log.sign_checkpoint(
            db, ctx.audit_key, ctx.settings.public_url, vote.assembly_id
        )
        return t("The vote is closed."), vote.id

    return await chair_act(db, request, state, vote_id, action)


@post("/chair/votes/{vote_id:int}/cancel", opt=roles(CHAIR), status_code=200)
async def chair_cancel_vote(
    db: AsyncSession, request: Req, state: State, vote_id: int, data: Form
) -> Template | Redirect:
    """Cancel a prepared or open vote; no result is computed (after a confirmation)."""
    vote = await service.get_vote(db, vote_id)
    asked = confirmation(
        request,
        data,
        vote,
        "cancel",
        t("Cancel this vote?"),
        t("No result is computed; ballots already cast are not counted."),
    )
    if asked is not None:
        return asked

    async def action(vote: Vote) -> tuple[str, int]:
        await service.cancel_vote(db, vote, request.user.actor)
        return t("The vote is cancelled."), vote.id

    return await chair_act(db, request, state, vote_id, action)


@post("/chair/votes/{vote_id:int}/countdown", opt=roles(CHAIR), status_code=200)
async def chair_countdown(
    db: AsyncSession, request: Req, state: State, vote_id: int, data: Form
) -> Template | Redirect:
    """Start a countdown shown on every screen (0 clears it)."""

    async def action(vote: Vote) -> tuple[str, int]:
        seconds = optional_seconds(data, "seconds")
        if seconds is None:
            raise Invalid(t("Say how many seconds the countdown runs (0 stops it)."))
        service.set_countdown(vote, seconds)
        done = (
            t("Countdown: {seconds} seconds.", seconds=seconds)
            if seconds
            else t("The countdown is stopped.")
        )
        return done, vote.id

    return await chair_act(db, request, state, vote_id, action)


@post("/chair/votes/{vote_id:int}/projector", opt=roles(CHAIR), status_code=200)
async def chair_projector(
    db: AsyncSession, request: Req, state: State, vote_id: int, data: Form
) -> Template | Redirect:
    """Show this vote (its result once closed) on the projector, or take it off."""
    show = data.get("show", "1") != "0"

    async def action(vote: Vote) -> tuple[str, int]:
        await service.put_on_projector(db, vote, show)
        done = t("The projector shows this vote.") if show else t("The vote is off the projector.")
        return done, vote.id

    return await chair_act(db, request, state, vote_id, action)


@post("/chair/votes/{vote_id:int}/next-round", opt=roles(CHAIR), status_code=200)
async def chair_next_round(
    db: AsyncSession, request: Req, state: State, vote_id: int
) -> Template | Redirect:
    """Prepare the next round of an election when no candidate had a majority."""

    async def action(vote: Vote) -> tuple[str, int]:
        new = await service.next_round(db, vote, request.user.actor)
        return t(
            "Round {round_no} is prepared: open it when the room is ready.", round_no=new.round_no
        ), new.id

    return await chair_act(db, request, state, vote_id, action, announce=False)


# --- delegate's phone -----------------------------------------------------------------------


async def ballot_context(db: AsyncSession, principal: Principal) -> dict[str, Any]:
    """The phone's vote: the current vote's banner and this delegate's ballots or receipts."""
    if principal.assembly_id is None:
        raise Forbidden(t("This page is for delegates: open the link on your credential card."))
    vote = delegate_current(await assembly_votes(db, principal.assembly_id))
    rights = (
        await my_rights(db, vote, principal.delegate_id)
        if vote is not None and principal.delegate_id is not None
        else []
    )
    return {
        "assembly": await credentials.get_assembly(db, principal.assembly_id),
        "vote": await vote_out(db, vote) if vote is not None else None,
        "rights": rights,
        "review": None,
        "outcomes": [],
        "error": "",
    }


@get("/delegate/vote", opt=roles(MEMBERS))
async def delegate_vote(db: AsyncSession, request: Req) -> Template:
    """The current vote on a phone: the banner and my ballot (or receipts), from the server's
    state. The delegate page loads it at first and again after every reconnect."""
    context = await ballot_context(db, request.user)
    template = "delegate/_vote.html" if is_htmx(request) else "delegate/vote.html"
    return page(request, template, **context)


@dataclass(frozen=True, slots=True)
class Review:
    """A ballot about to be cast without JavaScript: shown once more before it is sent."""

    nmo_ids: list[int]
    codes: list[str]
    marks: list[str]
    labels: list[str]
    ballot_ids: list[str]
    ranked: bool


def is_ranked(vote: Vote) -> bool:
    return vote.kind == "election" and vote.method in ("instant_runoff", "stv")


def marks_from_form(vote: Vote, form: Any) -> list[str]:
    """The options a plain form marked: ranks (1, 2, ...) become an ordered list."""
    if form.get("confirmed") == "1":
        return [m for m in form.getall("mark", []) if m]
    if not is_ranked(vote):
        return [c for c in form.getall("choice", []) if c]
    ranked: dict[int, str] = {}
    for key, value in form.items():
        if not key.startswith("rank-") or not str(value).strip():
            continue
        try:
            rank = int(value)
        except ValueError:
            raise Invalid(
                t("A rank is a number: 1 for your first choice, 2 for the next.")
            ) from None
        if rank in ranked:
            raise Invalid(
                t("You gave rank {rank} to two candidates; give each rank once.", rank=rank)
            )
        ranked[rank] = key.removeprefix("rank-")
    return [ranked[r] for r in sorted(ranked)]


def form_ids(form: Any) -> list[int]:
    try:
        return [int(v) for v in form.getall("nmo", [])]
    except ValueError:
        raise Invalid(t("The ballot names an NMO that is not a number.")) from None


@post("/delegate/vote/{vote_id:int}/ballots", opt=roles({Role.delegate}), status_code=200)
async def delegate_cast(db: AsyncSession, request: Req, state: State, vote_id: int) -> Template:
    """Cast ballots from a plain form (a phone without JavaScript): the first post shows the
    ballot for review, the second (confirmed=1, with the ballot ids made for the review)
    casts it, so sending the confirmation again returns the same receipts."""
    principal = request.user
    form = await request.form()
    status = 200
    review: Review | None = None
    outcomes: list[service.CastResult] = []
    error = ""
    try:
        vote = await visible_vote(db, principal, vote_id)
        nmo_ids = form_ids(form)
        if not nmo_ids:
            raise Invalid(t("The ballot says for which NMO it is cast."))
        marks = marks_from_form(vote, form)
        if vote.kind != "election" and len(marks) != 1:
            raise Invalid(t("Choose one option: yes, no or abstain."))
        confirmed = form.get("confirmed") == "1"
        ids = list(form.getall("ballot_id", [])) if confirmed else []
        if len(ids) != len(nmo_ids):
            ids = [secrets.token_hex(16) for _ in nmo_ids]
        requests = [
            service.CastRequest(
                nmo_id=nmo_id,
                client_ballot_id=ballot_id,
                choice=None if vote.kind == "election" else marks[0],
                marks=marks if vote.kind == "election" else None,
            )
            for nmo_id, ballot_id in zip(nmo_ids, ids, strict=True)
        ]
        rows, codes = await service.prepare_ballots(
            db, vote, principal, requests, state.ctx.ballot_sheets
        )
        await db.commit()  # nothing written: end the read transaction before the writer runs
        if not confirmed:
            labels = {o.key: o.label for o in await service.options_of(db, vote.id)}
            review = Review(
                nmo_ids=nmo_ids,
                codes=[codes[n] for n in nmo_ids],
                marks=marks,
                labels=[labels.get(m, m) for m in marks],
                ballot_ids=ids,
                ranked=is_ranked(vote),
            )
        else:
            ctx = ctx_of(state)
            written = await ctx.writer.submit(rows)
            outcomes = service.describe_outcomes(vote, written, codes)
            broadcast.ballots_arrived(ctx, vote.id, vote.assembly_id)
            if any(o.status == "refused" for o in outcomes):
                status = 409
    except DomainError as exc:
        await db.rollback()
        error, status = exc.message, exc.status
    context = await ballot_context(db, principal)
    context.update(review=review, outcomes=outcomes, error=error)
    return page(request, "delegate/vote.html", status=status, **context)


# --- projector ------------------------------------------------------------------------------


@get("/projector/{assembly_id:int}/vote", opt=roles(ALL_ROLES))
async def projector_vote(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The vote panel the room sees (out-of-band swap into #vote-panel): polled by a public
    projector, fetched by a live one after each vote message and reconnect. Totals only, and
    with a result the QR code of the checkpoint signed at its close (only the projector draws
    it: the panel pushed to every screen carries the short root alone)."""
    await credentials.get_assembly(db, assembly_id)
    vote = projector_current(await assembly_votes(db, assembly_id))
    return page(
        request,
        "fragments/vote_panel.html",
        oob=True,
        show_missing=False,
        show_qr=True,
        **await vote_view(db, vote),
    )


def handlers() -> list[Any]:
    return [
        chair_votes,
        chair_vote_list,
        chair_vote_panel,
        chair_create_vote,
        chair_open_vote,
        chair_close_vote,
        chair_cancel_vote,
        chair_countdown,
        chair_projector,
        chair_next_round,
        delegate_vote,
        delegate_cast,
        projector_vote,
    ]
