"""Amendment screens: follow a document's amendments on a phone (each change as a word diff, and
why one no longer applies), and propose, revise or withdraw one as the head of delegation or the
secretariat. amending.py decides and stores; this module turns forms into its proposals.

The proposal form works without JavaScript: its helper buttons (add a change, remove one, take a
paragraph's text) post the form back and get it again with that done and everything typed kept;
with htmx the same answers swap the form in place.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import get, post
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import amending, documents
from assembly.agenda.amending import AmendmentView, ChangeIn, Proposal
from assembly.agenda.amendments import (
    AmendmentConflict,
    AmendmentRefused,
    Change,
    Delete,
    Insert,
    Paragraph,
    Replace,
)
from assembly.agenda.models import PENDING_STATES, Amendment, Document
from assembly.credentials import service as credentials
from assembly.credentials.auth import LOGGED_IN, Principal, Role, roles
from assembly.credentials.models import Nmo
from assembly.credentials.routes import ensure_assembly_access
from assembly.credentials.screens import Req, ctx_of, is_htmx, page, see_other
from assembly.db import utcnow
from assembly.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from assembly.i18n import t
from assembly.live.broadcast import announce_agenda

# Who may reach the proposer's routes; amending decides who may act for which NMO.
PROPOSERS = frozenset({Role.secretariat, Role.delegate})
# The paragraph choice "before paragraph 1": only a new paragraph can go there.
START = "@start"
KIND_NAMES = {
    "policy": t("Policy"),
    "position_paper": t("Position paper"),
    "constitution": t("Constitution"),
    "bylaws": t("Bylaws"),
}
STATE_WORDS = {
    "submitted": t("Submitted"),
    "admitted": t("Admitted"),
    "withdrawn": t("Withdrawn"),
    "merged": t("Merged as friendly"),
    "adopted": t("Adopted"),
    "rejected": t("Rejected"),
}
STATE_TONES = {"merged": "ok", "adopted": "ok", "rejected": "bad", "withdrawn": "muted"}
LIVE_VOTE_STATES = ("draft", "open")

_CHANGE_FIELD = re.compile(r"(?:op|paragraph|text)_(\d{1,3})")

IdParam = Annotated[int | None, Parameter(query="amends", required=False)]
ParagraphParam = Annotated[str | None, Parameter(query="paragraph", required=False)]
SubmittedParam = Annotated[int | None, Parameter(query="submitted", required=False)]
RevisedParam = Annotated[int | None, Parameter(query="revised", required=False)]
WithdrawnParam = Annotated[int | None, Parameter(query="withdrawn", required=False)]


# --- who may do what -------------------------------------------------------------------------


def refusal_for(principal: Principal, nmo: Nmo) -> str:
    """Why this person may not submit or change the amendments of `nmo` ("" when they may).
    The rule is amending's; the screens ask it first so that they offer only what will work."""
    try:
        amending.may_propose_for(principal, nmo)
    except Forbidden as exc:
        return exc.message
    return ""


def may_propose_for(principal: Principal, nmo: Nmo) -> bool:
    return not refusal_for(principal, nmo) and nmo.member_class != "suspended"


async def readable_document(db: AsyncSession, principal: Principal, document_id: int) -> Document:
    document = await documents.get_document(db, document_id)
    ensure_assembly_access(principal, document.assembly_id)
    return document


async def nmos_of(db: AsyncSession, assembly_id: int) -> list[Nmo]:
    rows = (await db.execute(select(Nmo).where(Nmo.assembly_id == assembly_id))).scalars()
    return sorted(rows, key=lambda n: n.code.casefold())


@dataclass(frozen=True, slots=True)
class Opening:
    """Whether amendments to the document can be submitted now, and until when."""

    deadline: dt.datetime | None
    passed: bool
    closed: str  # why no amendment can be submitted now; "" when one can


async def opening_of(db: AsyncSession, document: Document) -> Opening:
    state = await amending.document_state(db, document)
    deadline: dt.datetime | None = state["deadline"]
    final = state["final_vote"]
    closed = ""
    if final is not None and final.state in LIVE_VOTE_STATES:
        closed = t(
            "The final vote on “{title}” has started: no more amendments.", title=document.title
        )
    elif deadline is None and document.kind in ("constitution", "bylaws"):
        closed = t(
            "Amendments to the {kind} close a set number of days before the assembly "
            "starts, and this assembly has no start date yet: the secretariat sets "
            "it first.",
            kind=document.kind,
        )
    return Opening(deadline, deadline is not None and utcnow() > deadline, closed)


# --- the list of amendments ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShownChange:
    """One change as the list shows it: what it does in words (`verb` and `place`), the
    paragraph to link to on the document page, and its word runs (equal, insert, delete)."""

    op: str
    verb: str
    place: str
    anchor: str | None
    new_id: str | None
    words: list[tuple[str, str]]


def shown_change(
    change: Change,
    number: int | None,
    words: list[tuple[str, str]],
    target_label: str | None,
    on_page: set[str],
) -> ShownChange:
    def where(paragraph_id: str) -> str:
        if number is None:
            return t("paragraph {paragraph_id} (no longer in the text)", paragraph_id=paragraph_id)
        return t("paragraph {number}", number=number)

    if isinstance(change, Insert):
        place: str
        anchor: str | None
        if change.after is None:
            place, anchor = t("at the start"), None
        else:
            place, anchor = where(change.after), change.after
        verb = t("Insert a new paragraph after") if change.after else t("Insert a new paragraph")
        return ShownChange("insert", verb, place, _on(anchor, on_page), change.new_id, words)
    if isinstance(change, Delete):
        anchor = change.paragraph_id
        return ShownChange("delete", t("Delete"), where(anchor), _on(anchor, on_page), None, words)
    if target_label is not None:  # a second-degree change rewords a text the target writes
        if number is None:
            return ShownChange(
                "replace",
                t("Reword {target_label}'s new paragraph", target_label=target_label),
                change.paragraph_id,
                None,
                None,
                words,
            )
        verb = t("Reword {target_label}'s new text for", target_label=target_label)
        return ShownChange(
            "replace",
            verb,
            t("paragraph {number}", number=number),
            _on(change.paragraph_id, on_page),
            None,
            words,
        )
    anchor = change.paragraph_id
    return ShownChange("replace", t("Replace"), where(anchor), _on(anchor, on_page), None, words)


def _on(paragraph_id: str | None, on_page: set[str]) -> str | None:
    """The anchor on the document page, when the current version has that paragraph."""
    return paragraph_id if paragraph_id in on_page else None


@dataclass(frozen=True, slots=True)
class ShownAmendment:
    """One amendment on the list, with what the person looking at it may do."""

    view: AmendmentView
    state: str
    tone: str
    changes: list[ShownChange]
    voting: bool
    older: bool
    can_change: bool  # revise or withdraw it
    can_amend: bool  # propose an amendment to it (second degree)

    @property
    def row(self) -> Amendment:
        return self.view.row


def state_words(row: Amendment) -> str:
    if row.state == "submitted" and row.late:
        return t("Late: waits for the chair's ruling")
    if row.state == "admitted" and row.late:
        return t("Admitted late, by the chair's ruling")
    return STATE_WORDS.get(row.state, row.state)


def shown_amendment(
    view: AmendmentView,
    document: Document,
    principal: Principal,
    nmos: dict[int, Nmo],
    on_page: set[str],
    can_propose: bool,
) -> ShownAmendment:
    row = view.row
    voting = view.vote is not None and view.vote.state in LIVE_VOTE_STATES
    open_to_change = row.state in PENDING_STATES and not voting
    nmo = nmos.get(row.nmo_id)
    tone = STATE_TONES.get(row.state, "")
    if row.state == "submitted" and row.late:
        tone = "warn"
    return ShownAmendment(
        view=view,
        state=state_words(row),
        tone=tone,
        changes=[
            shown_change(change, number, words, view.target_label, on_page)
            for change, number, words in zip(view.changes, view.paragraphs, view.words, strict=True)
        ],
        voting=voting,
        older=row.version_number != document.current_version,
        can_change=open_to_change and nmo is not None and not refusal_for(principal, nmo),
        can_amend=(
            open_to_change
            and can_propose
            and row.degree == 1
            and row.version_number == document.current_version
        ),
    )


async def list_context(
    db: AsyncSession, principal: Principal, document: Document, **extra: Any
) -> dict[str, Any]:
    assembly = await credentials.get_assembly(db, document.assembly_id)
    nmos = {n.id: n for n in await nmos_of(db, assembly.id)}
    opening = await opening_of(db, document)
    mine = nmos.get(principal.nmo_id) if principal.nmo_id is not None else None
    can_propose = not opening.closed and (
        principal.role is Role.secretariat
        or (mine is not None and may_propose_for(principal, mine))
    )
    version = await documents.current_version(db, document)
    on_page = {p.id for p in documents.paragraphs_of(version)}
    views = await amending.amendment_views(db, document)
    return {
        "assembly": assembly,
        "document": document,
        "kind_names": KIND_NAMES,
        "opening": opening,
        "can_propose": can_propose,
        "shown": [
            shown_amendment(v, document, principal, nmos, on_page, can_propose) for v in views
        ],
        "notice": "",
        "error": "",
        **extra,
    }


async def done_notice(
    db: AsyncSession,
    document: Document,
    submitted: int | None,
    revised: int | None,
    withdrawn: int | None,
) -> str:
    """The one-line outcome a plain form's redirect asks the list to show."""
    amendment_id = submitted or revised or withdrawn
    amendment = await db.get(Amendment, amendment_id) if amendment_id else None
    if amendment is None or amendment.document_id != document.id:
        return ""
    if submitted:
        return submitted_notice(amendment)
    if revised:
        return t("{label} was revised.", label=amendment.label)
    return t("{label} was withdrawn.", label=amendment.label)


def submitted_notice(amendment: Amendment) -> str:
    if amendment.late:
        return t(
            "{amendment} was submitted after the deadline: the chair decides whether to admit it.",
            amendment=amendment.label,
        )
    return t("{amendment} was submitted.", amendment=amendment.label)


@get("/documents/{document_id:int}/amendments", opt=roles(LOGGED_IN))
async def amendments_page(
    db: AsyncSession,
    request: Req,
    document_id: int,
    submitted: SubmittedParam,
    revised: RevisedParam,
    withdrawn: WithdrawnParam,
) -> Template:
    """A document's amendments in voting order: who proposes them, their state, each change
    word by word, and why one no longer applies."""
    document = await readable_document(db, request.user, document_id)
    notice = await done_notice(db, document, submitted, revised, withdrawn)
    context = await list_context(db, request.user, document, notice=notice)
    return page(request, "amendments/list.html", **context)


# --- the proposal form -----------------------------------------------------------------------


@dataclass(slots=True)
class ChangeForm:
    """One change as typed: the kind, the paragraph id (for an insert: the one it follows, or
    START; for a second-degree change: the id of the text it rewords) and the new text."""

    op: str = "replace"
    paragraph: str = ""
    text: str = ""

    @property
    def blank(self) -> bool:
        return not self.paragraph and not self.text.strip()


@dataclass(slots=True)
class ProposalForm:
    """Everything the form holds, as typed, so that a refusal gives it all back."""

    changes: list[ChangeForm]
    rationale: str = ""
    nmo: str = ""
    cosponsors: list[str] = field(default_factory=list)


def read_form(raw: Any) -> tuple[ProposalForm, str]:
    """The form and the button that sent it ("submit", "add", "fill:N", "remove:N",
    "amend:<paragraph id>"). Changes are the indexed fields op_N, paragraph_N, text_N."""

    def value(key: str) -> str:
        got = raw.get(key)
        return got if isinstance(got, str) else ""

    indexes = sorted({int(m[1]) for key in raw if (m := _CHANGE_FIELD.fullmatch(key))})
    changes = [
        ChangeForm(
            op=value(f"op_{i}") or "replace",
            paragraph=value(f"paragraph_{i}").strip(),
            text=value(f"text_{i}").replace("\r\n", "\n"),
        )
        for i in indexes[: amending.MAX_CHANGES + 1]
    ]
    form = ProposalForm(
        changes=changes or [ChangeForm()],
        rationale=value("rationale").replace("\r\n", "\n"),
        nmo=value("nmo").strip(),
        cosponsors=[v for v in raw.getall("cosponsor", []) if isinstance(v, str)],
    )
    return form, value("step") or "submit"


def optional_id(raw: Any, key: str) -> int | None:
    got = raw.get(key)
    if not isinstance(got, str) or not got.strip():
        return None
    try:
        return int(got)
    except ValueError:
        raise Invalid(t("{key} must be the number of an amendment.", key=key)) from None


def form_of(amendment: Amendment) -> ProposalForm:
    """The revise form, filled with the amendment's changes as they stand."""
    changes: list[ChangeForm] = []
    for c in amending.changes_of(amendment):
        if isinstance(c, Replace):
            changes.append(ChangeForm("replace", c.paragraph_id, c.text))
        elif isinstance(c, Insert):
            changes.append(ChangeForm("insert", c.after or START, c.text))
        else:
            changes.append(ChangeForm("delete", c.paragraph_id, ""))
    return ProposalForm(changes or [ChangeForm()], rationale=amendment.rationale)


def proposal_of(form: ProposalForm, *, second_degree: bool, amends_id: int | None) -> Proposal:
    """The form as amending's proposal; fully blank changes (an unused "add another") are
    dropped from the form first, so the numbers in a refusal match what is shown."""
    form.changes = [c for c in form.changes if not c.blank] or [ChangeForm()]
    wanted: list[ChangeIn] = []
    for n, c in enumerate(form.changes, start=1):
        if not c.paragraph:
            what = t("the text it rewords") if second_degree else t("the paragraph it changes")
            raise Invalid(t("Change {n}: choose {what}.", n=n, what=what))
        if second_degree:
            wanted.append(ChangeIn("replace", paragraph_id=c.paragraph, text=c.text))
        elif c.op == "insert":
            after = None if c.paragraph == START else c.paragraph
            wanted.append(ChangeIn("insert", after=after, text=c.text))
        elif c.paragraph == START:
            raise Invalid(
                t(
                    "Change {n}: only a new paragraph can go before paragraph 1; choose the "
                    "paragraph to replace or delete.",
                    n=n,
                )
            )
        else:
            wanted.append(ChangeIn(c.op, paragraph_id=c.paragraph, text=c.text))
    try:
        cosponsors = [int(v) for v in form.cosponsors]
    except ValueError:
        raise Invalid(t("A co-sponsor is not an NMO of this assembly.")) from None
    return Proposal(
        changes=wanted,
        rationale=form.rationale,
        amends_id=amends_id,
        cosponsor_nmo_ids=cosponsors,
    )


@dataclass(frozen=True, slots=True)
class Written:
    """A text the amended amendment writes: what a second-degree change can reword."""

    id: str
    title: str
    text: str


def written_by(
    target: Amendment, rows: Sequence[Amendment], numbers: dict[str, int]
) -> list[Written]:
    """The texts the target writes, as the plenary would vote on it (reworded by the
    second-degree amendments already adopted on it)."""
    try:
        changes = amending.effective(target, rows).changes
    except (AmendmentConflict, AmendmentRefused):
        changes = amending.changes_of(target)
    out: list[Written] = []
    for c in changes:
        if isinstance(c, Replace):
            n = numbers.get(c.paragraph_id)
            where = (
                t("paragraph {number}", number=n)
                if n
                else t("paragraph {number}", number=c.paragraph_id)
            )
            out.append(Written(c.paragraph_id, t("Its new text for {where}", where=where), c.text))
        elif isinstance(c, Insert):
            n = numbers.get(c.after) if c.after else None
            where = t("after paragraph {n}", n=n) if n else t("at the start")
            out.append(
                Written(
                    c.new_id,
                    t(
                        "The new paragraph {new_id} it inserts {where}",
                        new_id=c.new_id,
                        where=where,
                    ),
                    c.text,
                )
            )
    return out


@dataclass(slots=True)
class FormSetting:
    """What the form is about: a new amendment (maybe to an amendment) or a revision."""

    document: Document
    text: tuple[Paragraph, ...]
    rows: list[Amendment]
    target: Amendment | None = None
    amendment: Amendment | None = None
    blocked: str = ""  # why no form can be shown (the target cannot be amended ...)

    @property
    def numbers(self) -> dict[str, int]:
        return {p.id: n for n, p in enumerate(self.text, start=1)}

    @property
    def written(self) -> list[Written]:
        if self.target is None:
            return []
        return written_by(self.target, self.rows, self.numbers)

    @property
    def texts(self) -> dict[str, str]:
        """What each choosable paragraph (or target's text) reads now."""
        if self.target is not None:
            return {w.id: w.text for w in self.written}
        return {p.id: p.text for p in self.text}


async def setting_for(
    db: AsyncSession,
    document: Document,
    *,
    amends_id: int | None = None,
    amendment: Amendment | None = None,
) -> FormSetting:
    rows = await amending.amendments_of(db, document.id)
    text = await amending.working_text(db, document, rows)
    setting = FormSetting(document, text, rows, amendment=amendment)
    if amendment is not None and amendment.amends_id is not None:
        amends_id = amendment.amends_id
    if amends_id is None:
        return setting
    target = next((a for a in rows if a.id == amends_id), None)
    if target is None:
        setting.blocked = t(
            "Amendment {amends_id} is not an amendment to “{title}”.",
            amends_id=amends_id,
            title=document.title,
        )
        return setting
    setting.target = target
    if amendment is not None:
        return setting  # revising: amending says what still can be done
    if target.degree == 2:
        setting.blocked = t(
            "{target} is itself an amendment to an amendment: a third degree is not allowed.",
            target=target.label,
        )
    elif target.state not in PENDING_STATES:
        setting.blocked = t(
            "{target} is {state}: it can no longer be amended.",
            target=target.label,
            state=target.state,
        )
    elif not setting.written:
        setting.blocked = t(
            "{target} only deletes paragraphs: it writes no text to reword.", target=target.label
        )
    return setting


def apply_step(setting: FormSetting, form: ProposalForm, step: str) -> tuple[str, str]:
    """Do what a helper button asks; returns (error, the id of the field to focus)."""
    texts = setting.texts
    changes = form.changes
    kind, _, arg = step.partition(":")
    if kind == "add":
        if len(changes) >= amending.MAX_CHANGES:
            return t(
                "An amendment has at most {max_changes} changes; split it.",
                max_changes=amending.MAX_CHANGES,
            ), ""
        changes.append(ChangeForm())
        return "", f"paragraph_{len(changes)}"
    if kind == "amend" and arg in texts:
        if len(changes) == 1 and changes[0].blank:
            changes[0] = ChangeForm("replace", arg, texts[arg])
        elif len(changes) >= amending.MAX_CHANGES:
            return t(
                "An amendment has at most {max_changes} changes; split it.",
                max_changes=amending.MAX_CHANGES,
            ), ""
        else:
            changes.append(ChangeForm("replace", arg, texts[arg]))
        index = next(i for i, c in enumerate(changes, start=1) if c.paragraph == arg)
        return "", f"text_{index}"
    if kind in ("fill", "remove") and arg.isdigit() and 1 <= int(arg) <= len(changes):
        n = int(arg)
        if kind == "remove":
            if len(changes) > 1:
                del changes[n - 1]
            return "", f"paragraph_{max(1, n - 1)}"
        chosen = changes[n - 1].paragraph
        if chosen not in texts:
            return t(
                "Change {n}: choose a paragraph first, then take its text.", n=n
            ), f"paragraph_{n}"
        changes[n - 1].text = texts[chosen]
        return "", f"text_{n}"
    return "", ""


async def form_context(
    db: AsyncSession,
    principal: Principal,
    setting: FormSetting,
    form: ProposalForm,
    **extra: Any,
) -> dict[str, Any]:
    document, amendment, target = setting.document, setting.amendment, setting.target
    assembly = await credentials.get_assembly(db, document.assembly_id)
    nmos = [n for n in await nmos_of(db, assembly.id) if n.member_class != "suspended"]
    proposer: Nmo | None = None
    if amendment is not None:
        proposer = await db.get(Nmo, amendment.nmo_id)
    elif principal.role is not Role.secretariat and principal.nmo_id is not None:
        proposer = await db.get(Nmo, principal.nmo_id)
    target_nmo = await db.get(Nmo, target.nmo_id) if target is not None else None
    problems: list[str] = []
    if amendment is not None:
        problems = amending.problems_of(amendment, setting.rows, setting.text)
    if amendment is not None:
        action = f"/amendments/{amendment.id}/revise"
    else:
        action = f"/documents/{document.id}/amendments"
    return {
        "assembly": assembly,
        "document": document,
        "kind_names": KIND_NAMES,
        "opening": await opening_of(db, document),
        "action": action,
        "amendment": amendment,
        "target": target,
        "target_code": target_nmo.code if target_nmo is not None else "",
        "written": setting.written,
        "text": list(enumerate(setting.text, start=1)),
        "texts": setting.texts,
        "numbers": setting.numbers,
        "form": form,
        "proposer": proposer,
        "nmo_choices": nmos if principal.role is Role.secretariat and amendment is None else [],
        "cosponsor_choices": (
            [n for n in nmos if proposer is None or n.id != proposer.id]
            if amendment is None
            else []
        ),
        "problems": problems,
        "blocked": setting.blocked,
        "start": START,
        "max_changes": amending.MAX_CHANGES,
        "error": "",
        "focus": "",
        **extra,
    }


def form_answer(request: Req, context: dict[str, Any], status: int = 200) -> Template:
    """The form again: the fragment for htmx, the whole page for a plain post."""
    template = "amendments/_form.html" if is_htmx(request) else "amendments/propose.html"
    return page(request, template, status=status, **context)


def first_change(setting: FormSetting, paragraph: str | None) -> ProposalForm:
    """A new form: one change, on the paragraph asked for (with its text) if any."""
    texts = setting.texts
    if paragraph is None and setting.target is not None and len(texts) == 1:
        paragraph = next(iter(texts))
    if paragraph:
        op = "insert" if paragraph == START else "replace"
        return ProposalForm([ChangeForm(op, paragraph, texts.get(paragraph, ""))])
    return ProposalForm([ChangeForm()])


@get("/documents/{document_id:int}/amendments/new", opt=roles(PROPOSERS))
async def propose_page(
    db: AsyncSession,
    request: Req,
    document_id: int,
    paragraph: ParagraphParam,
    amends: IdParam,
) -> Template:
    """The form to propose an amendment (?paragraph=ID to start on that paragraph), or an
    amendment to an amendment (?amends=ID)."""
    principal = request.user
    document = await readable_document(db, principal, document_id)
    if principal.role is not Role.secretariat:
        nmo = await db.get(Nmo, principal.nmo_id) if principal.nmo_id is not None else None
        if nmo is None:
            raise Forbidden(t("Only a head of delegation or the secretariat proposes amendments."))
        if refusal := refusal_for(principal, nmo):
            raise Forbidden(refusal)
        if nmo.member_class == "suspended":
            raise Forbidden(t("{nmo} is suspended and cannot submit amendments.", nmo=nmo.code))
    setting = await setting_for(db, document, amends_id=amends)
    context = await form_context(db, principal, setting, first_change(setting, paragraph))
    status = 422 if setting.blocked else 200
    return page(request, "amendments/propose.html", status=status, **context)


async def proposing_nmo(
    db: AsyncSession, principal: Principal, document: Document, form: ProposalForm
) -> Nmo:
    """The NMO the amendment is for: the secretariat chooses it, a head proposes for its own."""
    if principal.role is Role.secretariat:
        nmo_id = int(form.nmo) if form.nmo.isdigit() else None
        if nmo_id is None:
            raise Invalid(t("Choose the NMO on whose behalf the amendment is submitted."))
    else:
        nmo_id = principal.nmo_id
        if nmo_id is None:
            raise Forbidden(t("Only a head of delegation or the secretariat proposes amendments."))
    nmo = await db.get(Nmo, nmo_id)
    if nmo is None or nmo.assembly_id != document.assembly_id:
        raise Invalid(t("That NMO is not a member of this assembly."))
    return nmo


@post("/documents/{document_id:int}/amendments", opt=roles(PROPOSERS), status_code=200)
async def propose_submit(
    db: AsyncSession, request: Req, state: State, document_id: int
) -> Template | Redirect:
    """Submit an amendment (or an amendment to one, with amends=ID); the helper buttons of the
    form (add, remove, take a paragraph's text) answer with the form again."""
    principal = request.user
    document = await readable_document(db, principal, document_id)
    raw = await request.form()
    form, step = read_form(raw)
    amends_id = optional_id(raw, "amends")
    if step != "submit":
        setting = await setting_for(db, document, amends_id=amends_id)
        error, focus = apply_step(setting, form, step)
        context = await form_context(db, principal, setting, form, error=error, focus=focus)
        return form_answer(request, context, 422 if error else 200)
    try:
        nmo = await proposing_nmo(db, principal, document, form)
        proposal = proposal_of(form, second_degree=amends_id is not None, amends_id=amends_id)
        amendment = await amending.submit(db, principal, document, nmo, proposal)
    except (DomainError, AmendmentRefused, AmendmentConflict) as exc:
        await db.rollback()
        error, status = exc.message, refusal_status(exc)
    else:
        amendment_id, notice, assembly_id = (
            amendment.id,
            submitted_notice(amendment),
            nmo.assembly_id,
        )
        late = amendment.late
        await db.commit()
        await announce_agenda(ctx_of(state), assembly_id)
        if not is_htmx(request):
            return see_other(f"/documents/{document_id}/amendments", submitted=amendment_id)
        return page(
            request,
            "amendments/_saved.html",
            document=document,
            amendment_id=amendment_id,
            notice=notice,
            late=late,
        )
    document = await documents.get_document(db, document_id)
    setting = await setting_for(db, document, amends_id=amends_id)
    context = await form_context(db, principal, setting, form, error=error)
    return form_answer(request, context, status)


def refusal_status(exc: Exception) -> int:
    if isinstance(exc, DomainError):
        return exc.status
    return 409 if isinstance(exc, AmendmentConflict) else 422


# --- revise and withdraw ---------------------------------------------------------------------


async def own_amendment(db: AsyncSession, principal: Principal, amendment_id: int) -> Amendment:
    """The amendment, if this person may change it (its NMO's head, or the secretariat)."""
    amendment = await amending.get_amendment(db, amendment_id)
    document = await documents.get_document(db, amendment.document_id)
    ensure_assembly_access(principal, document.assembly_id)
    nmo = await db.get(Nmo, amendment.nmo_id)
    if nmo is None:
        raise NotFound(t("There is no NMO for amendment {amendment}.", amendment=amendment.label))
    if refusal := refusal_for(principal, nmo):
        raise Forbidden(refusal)
    return amendment


@get("/amendments/{amendment_id:int}/revise", opt=roles(PROPOSERS))
async def revise_page(db: AsyncSession, request: Req, amendment_id: int) -> Template:
    """The proposer's form to rewrite an undecided amendment, filled with its changes."""
    amendment = await own_amendment(db, request.user, amendment_id)
    if amendment.state not in PENDING_STATES:
        raise Conflict(
            t(
                "{amendment} is {state}: it can no longer be revised.",
                amendment=amendment.label,
                state=amendment.state,
            )
        )
    document = await documents.get_document(db, amendment.document_id)
    setting = await setting_for(db, document, amendment=amendment)
    context = await form_context(db, request.user, setting, form_of(amendment))
    return page(request, "amendments/propose.html", **context)


@post("/amendments/{amendment_id:int}/revise", opt=roles(PROPOSERS), status_code=200)
async def revise_submit(
    db: AsyncSession, request: Req, state: State, amendment_id: int
) -> Template | Redirect:
    """Save the rewritten amendment, checked against the text as amended now."""
    principal = request.user
    amendment = await own_amendment(db, principal, amendment_id)
    document_id = amendment.document_id
    raw = await request.form()
    form, step = read_form(raw)
    if step != "submit":
        document = await documents.get_document(db, document_id)
        setting = await setting_for(db, document, amendment=amendment)
        error, focus = apply_step(setting, form, step)
        context = await form_context(db, principal, setting, form, error=error, focus=focus)
        return form_answer(request, context, 422 if error else 200)
    try:
        proposal = proposal_of(
            form, second_degree=amendment.degree == 2, amends_id=amendment.amends_id
        )
        await amending.revise(db, principal, amendment, proposal)
    except (DomainError, AmendmentRefused, AmendmentConflict) as exc:
        await db.rollback()
        error, status = exc.message, refusal_status(exc)
    else:
        label = amendment.label
        document = await documents.get_document(db, document_id)
        assembly_id = document.assembly_id
        await db.commit()
        await announce_agenda(ctx_of(state), assembly_id)
        if not is_htmx(request):
            return see_other(f"/documents/{document_id}/amendments", revised=amendment_id)
        return page(
            request,
            "amendments/_saved.html",
            document=document,
            amendment_id=amendment_id,
            notice=t("{label} was revised.", label=label),
            late=False,
        )
    amendment = await amending.get_amendment(db, amendment_id)
    document = await documents.get_document(db, document_id)
    setting = await setting_for(db, document, amendment=amendment)
    context = await form_context(db, principal, setting, form, error=error)
    return form_answer(request, context, status)


@post("/amendments/{amendment_id:int}/withdraw", opt=roles(PROPOSERS), status_code=200)
async def withdraw(
    db: AsyncSession, request: Req, state: State, amendment_id: int
) -> Template | Redirect:
    """The proposer withdraws an undecided amendment (after a confirmation); amendments to it
    fall with it."""
    principal = request.user
    amendment = await own_amendment(db, principal, amendment_id)
    document = await documents.get_document(db, amendment.document_id)
    document_id, assembly_id = document.id, document.assembly_id
    raw = await request.form()
    if raw.get("confirmed") != "1":
        rows = await amending.amendments_of(db, document_id)
        falling = [
            a.label for a in rows if a.amends_id == amendment.id and a.state in PENDING_STATES
        ]
        return page(
            request,
            "amendments/confirm.html",
            document=document,
            amendment=amendment,
            falling=falling,
        )
    notice, error, status = "", "", 200
    try:
        done = await amending.withdraw(db, principal, amendment)
    except DomainError as exc:
        await db.rollback()
        error, status = exc.message, exc.status
    else:
        await db.commit()
        await announce_agenda(ctx_of(state), assembly_id)
        if not is_htmx(request):
            return see_other(f"/documents/{document_id}/amendments", withdrawn=amendment_id)
        notice = t("Withdrawn: {done}.", done=", ".join(done))
    document = await documents.get_document(db, document_id)
    context = await list_context(db, principal, document, notice=notice, error=error)
    template = "amendments/_list.html" if is_htmx(request) else "amendments/list.html"
    return page(request, template, status=status, **context)


def handlers() -> list[Any]:
    return [
        amendments_page,
        propose_page,
        propose_submit,
        revise_page,
        revise_submit,
        withdraw,
    ]
