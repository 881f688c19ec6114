"""Role screens of credentials: secretariat setup, cards, desk, delegate, chair, projector.

Every form works twice: as an htmx request that gets back the fragment to swap in, and as a
plain HTML form (no JavaScript) answered with a 303 back to the page, or with the page itself
when it carries a one-time result (a new login link, an import report, a scan, a refusal).
The fragments a page and its htmx answers share live in one template each.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

import segno
from litestar import Request, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly import i18n
from assembly.agenda.speakers import MOTION_KINDS, MOTION_LABELS
from assembly.credentials import importing, rules, service
from assembly.credentials.auth import (
    ALL_ROLES,
    CHAIR,
    DESK,
    MEMBERS,
    SECRETARIAT,
    Principal,
    Role,
    roles,
)
from assembly.credentials.models import (
    DELEGATE_ROLES,
    MAJORITY_RULES,
    MEMBER_CLASSES,
    Assembly,
    CredentialEvent,
    Delegate,
    Nmo,
    Proxy,
    VotingRight,
)
from assembly.errors import DomainError, Forbidden, Invalid, NotFound
from assembly.i18n import t
from assembly.live.broadcast import announce_credentials

if TYPE_CHECKING:
    from assembly.app import AppContext

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
AssemblyParam = Annotated[int | None, Parameter(query="assembly", required=False)]
Req = Request[Principal, Any, Any]

MAX_IMPORT_BYTES = 5_000_000
EVENTS_PER_PAGE = 100
QR_SCALE = 4
MAJORITY_SETTINGS = (
    ("majority_ordinary", t("Ordinary motions")),
    ("majority_procedural", t("Procedural motions")),
    ("majority_amendment", t("Amendments")),
    ("majority_policy", t("Policy documents")),
    ("majority_constitution", t("Constitution")),
    ("majority_bylaws", t("Bylaws")),
    ("majority_membership", t("Admission and expulsion of members")),
)
MOTION_FIELDS = tuple((f"motion_{m}", m) for m in MOTION_KINDS)  # one checkbox per motion
RULE_CHECKBOXES = (
    "quorum_counts_proxies",
    "proxies_enabled",
    "self_checkin",
    *(name for name, _ in MOTION_FIELDS),
)
MAJORITY_NAMES = {
    "simple": t("Simple (yes > no)"),
    "absolute": t("Absolute (yes > half of all cast)"),
    "two_thirds": t("Two thirds"),
    "three_quarters": t("Three quarters"),
    "unanimous": t("Unanimous (no votes against)"),
}


# --- small helpers ----------------------------------------------------------------------


def ctx_of(state: State) -> AppContext:
    ctx: AppContext = state.ctx
    return ctx


def is_htmx(request: Req) -> bool:
    return request.headers.get("hx-request") == "true"


def page(request: Req, template: str, *, status: int = 200, **context: Any) -> Template:
    """Render a page or fragment; every template gets the principal for the header."""
    return Template(template, context={"principal": request.user, **context}, status_code=status)


def see_other(path: str, **query: Any) -> Redirect:
    """Answer a plain (no JavaScript) form post: go back to the page that shows the result."""
    params = {k: v for k, v in query.items() if v not in (None, "")}
    return Redirect(f"{path}?{urlencode(params)}" if params else path, status_code=303)


def form_int(data: dict[str, str], key: str, what: str) -> int:
    raw = (data.get(key) or "").strip()
    try:
        return int(raw)
    except ValueError:
        raise Invalid(t("Choose {what}.", what=what)) from None


def fold(text: str) -> str:
    """Case- and accent-insensitive form for searching: 'Élodie' is found by 'elodie'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def share_text(value: Any) -> str:
    return f"{value.numerator}/{value.denominator}" if value is not None else ""


async def assemblies_newest_first(db: AsyncSession) -> list[Assembly]:
    return list((await db.execute(select(Assembly).order_by(Assembly.id.desc()))).scalars())


async def chosen_assembly(
    db: AsyncSession, assembly_id: int | None
) -> tuple[Assembly | None, list[Assembly]]:
    """The assembly a staff screen shows: the one asked for, else the newest."""
    everything = await assemblies_newest_first(db)
    if assembly_id is None:
        return (everything[0] if everything else None), everything
    for assembly in everything:
        if assembly.id == assembly_id:
            return assembly, everything
    raise NotFound(t("There is no assembly {assembly_id}.", assembly_id=assembly_id))


# --- what the screens show of a delegation ------------------------------------------------

ROLE_ORDER = {role: i for i, role in enumerate(DELEGATE_ROLES)}


@dataclass
class Delegation:
    """One NMO with its delegates, who holds its vote, and the proxies it gave or carries."""

    nmo: Nmo
    delegates: list[Delegate]
    holder_id: int | None
    gave: Proxy | None = None
    holds: list[Proxy] = field(default_factory=list)
    codes: dict[int, str] = field(default_factory=dict)

    @property
    def holder(self) -> Delegate | None:
        return next((d for d in self.delegates if d.id == self.holder_id), None)

    @property
    def present(self) -> bool:
        """Counts as present (quorum, voting): credentialed and its vote holder checked in."""
        holder = self.holder
        return self.nmo.credentialed and holder is not None and holder.checked_in

    @property
    def checked_in(self) -> int:
        return sum(1 for d in self.delegates if d.checked_in)

    def code(self, nmo_id: int) -> str:
        return self.codes.get(nmo_id, "?")

    def matches(self, query: str) -> bool:
        needle = fold(query.strip())
        if not needle:
            return True
        texts = [self.nmo.code, self.nmo.name, self.nmo.country, *(d.name for d in self.delegates)]
        return any(needle in fold(t) for t in texts)


async def delegations(
    db: AsyncSession, assembly_id: int, only: Collection[int] | None = None
) -> list[Delegation]:
    """The assembly's delegations (or `only` those NMO ids) in four queries, by NMO code."""
    nmos = list(
        (
            await db.execute(select(Nmo).where(Nmo.assembly_id == assembly_id).order_by(Nmo.code))
        ).scalars()
    )
    nmos.sort(key=lambda n: n.code.casefold())  # 'bvmd' sorts with the B's, as people expect
    codes = {n.id: n.code for n in nmos}
    if only is not None:
        nmos = [n for n in nmos if n.id in only]
    ids = [n.id for n in nmos]
    people = (await db.execute(select(Delegate).where(Delegate.nmo_id.in_(ids)))).scalars()
    by_nmo: dict[int, list[Delegate]] = {i: [] for i in ids}
    for person in people:
        by_nmo[person.nmo_id].append(person)
    rights = {
        k: v
        for k, v in (
            await db.execute(
                select(VotingRight.nmo_id, VotingRight.holder_id).where(VotingRight.nmo_id.in_(ids))
            )
        )
    }
    proxies = await service.standing_proxies(db, assembly_id)
    out = []
    for nmo in nmos:
        members = sorted(by_nmo[nmo.id], key=lambda d: (ROLE_ORDER.get(d.role, 9), d.id))
        out.append(
            Delegation(
                nmo=nmo,
                delegates=members,
                holder_id=rights.get(nmo.id),
                gave=next((p for p in proxies if p.giver_id == nmo.id), None),
                holds=[p for p in proxies if p.holder_id == nmo.id],
                codes=codes,
            )
        )
    return out


async def delegation(db: AsyncSession, nmo_id: int) -> Delegation:
    nmo = await service.get_nmo(db, nmo_id)
    return (await delegations(db, nmo.assembly_id, only={nmo_id}))[0]


async def quorum_of(db: AsyncSession, assembly: Assembly) -> rules.QuorumStatus:
    return (await service.standing(db, assembly)).quorum


# --- secretariat: assemblies and their rules -----------------------------------------------


def utc_field(moment: dt.datetime | None) -> str:
    """A stored moment as a datetime-local field's value, in UTC (the forms say so)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M") if moment else ""


def utc_from_field(raw: str | None) -> str | None:
    """A datetime-local field's value, which carries no zone, read as UTC (the forms say so)."""
    value = (raw or "").strip()
    if value and len(value) <= 19 and "+" not in value and not value.endswith("Z"):
        value += "+00:00"
    return value or None


def rule_values(assembly: Assembly) -> dict[str, str]:
    """The rules form's fields as text, from the stored assembly."""
    values = {
        "name": assembly.name,
        "place": assembly.place,
        "language": i18n.supported(assembly.language) or i18n.DEFAULT_LANGUAGE,
        "starts_on": assembly.starts_on.isoformat() if assembly.starts_on else "",
        "policy_amendment_deadline": utc_field(assembly.policy_amendment_deadline),
        "bylaws_deadline_days": str(assembly.bylaws_deadline_days),
        "constitution_deadline_days": str(assembly.constitution_deadline_days),
        "quorum_share": share_text(assembly.quorum_share),
        "quorum_strict": "strict" if assembly.quorum_strict else "at_least",
        "quorum_counts_proxies": "on" if assembly.quorum_counts_proxies else "",
        "proxies_enabled": "on" if assembly.proxies_enabled else "",
        "max_proxies": str(assembly.max_proxies),
        "proxy_deadline": utc_field(assembly.proxy_deadline),
        "self_checkin": "on" if assembly.self_checkin else "",
        "reason": "",
    }
    taken = set(assembly.procedural_motions.split(","))
    for name, motion in MOTION_FIELDS:
        values[name] = "on" if motion in taken else ""
    for key, _label in MAJORITY_SETTINGS:
        values[key] = getattr(assembly, key)
    return values


def rule_changes(data: dict[str, str]) -> dict[str, Any]:
    """Turn the submitted rules form into update_assembly's changes (checkboxes: absent = off)."""
    raw_max = (data.get("max_proxies") or "").strip()
    try:
        max_proxies = int(raw_max)
    except ValueError:
        raise Invalid(t("The most proxies one NMO may carry must be a whole number.")) from None
    # The amendment deadlines: a field the form did not send keeps its stored value.
    amendments: dict[str, Any] = {}
    for key, what in (
        ("bylaws_deadline_days", "bylaws"),
        ("constitution_deadline_days", "constitution"),
    ):
        if key in data:
            try:
                amendments[key] = int((data.get(key) or "").strip())
            except ValueError:
                raise Invalid(
                    t("The deadline for {what} amendments is a whole number of days.", what=what)
                ) from None
    if data.get("language"):  # the projector's, and the default of every screen
        amendments["language"] = data["language"]
    if "starts_on" in data:
        amendments["starts_on"] = (data.get("starts_on") or "").strip() or None
    if "policy_amendment_deadline" in data:
        amendments["policy_amendment_deadline"] = utc_from_field(
            data.get("policy_amendment_deadline")
        )
    changes: dict[str, Any] = {
        "name": (data.get("name") or "").strip(),
        "place": (data.get("place") or "").strip(),
        **amendments,
        "quorum_share": (data.get("quorum_share") or "").strip(),
        "quorum_strict": data.get("quorum_strict") != "at_least",
        "quorum_counts_proxies": bool(data.get("quorum_counts_proxies")),
        "proxies_enabled": bool(data.get("proxies_enabled")),
        "max_proxies": max_proxies,
        "proxy_deadline": utc_from_field(data.get("proxy_deadline")),
        "self_checkin": bool(data.get("self_checkin")),
        "procedural_motions": [motion for name, motion in MOTION_FIELDS if data.get(name)],
    }
    for key, _label in MAJORITY_SETTINGS:
        changes[key] = data.get(key, "")
    return changes


async def secretariat_context(
    db: AsyncSession, assembly: Assembly | None, everything: list[Assembly]
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "assembly": assembly,
        "assemblies": everything,
        "majority_settings": MAJORITY_SETTINGS,
        "majority_names": MAJORITY_NAMES,
        "majority_rules": MAJORITY_RULES,
        "motion_fields": MOTION_FIELDS,
        "motion_labels": MOTION_LABELS,
        "member_classes": MEMBER_CLASSES,
        "rules_notice": "",
        "rules_error": "",
        "nmo_notice": "",
        "nmo_error": "",
        "nmo_form": {},
        "values": rule_values(assembly) if assembly else {},
        "delegations": [],
    }
    if assembly is not None:
        context["delegations"] = await delegations(db, assembly.id)
    return context


@get("/secretariat", opt=roles(SECRETARIAT))
async def secretariat_home(db: AsyncSession, request: Req, assembly_id: AssemblyParam) -> Template:
    """Set up an assembly: its rules, its NMOs, their delegates."""
    assembly, everything = await chosen_assembly(db, assembly_id)
    return page(
        request, "secretariat/index.html", **await secretariat_context(db, assembly, everything)
    )


@post("/secretariat/assemblies", opt=roles(SECRETARIAT), status_code=303)
async def secretariat_create_assembly(db: AsyncSession, request: Req, data: Form) -> Redirect:
    """Create a new General Assembly; its rules start at the defaults of RULES.md."""
    values: dict[str, Any] = {"place": (data.get("place") or "").strip()}
    for key in ("starts_on", "ends_on"):
        if raw := (data.get(key) or "").strip():
            try:
                values[key] = dt.date.fromisoformat(raw)
            except ValueError:
                raise Invalid(t("{key} must be a date like 2026-08-01.", key=key)) from None
    assembly = await service.create_assembly(db, request.user.actor, data.get("name", ""), **values)
    await db.commit()
    return see_other("/secretariat", assembly=assembly.id)


@post("/secretariat/assemblies/{assembly_id:int}/rules", opt=roles(SECRETARIAT), status_code=200)
async def secretariat_update_rules(
    db: AsyncSession, request: Req, state: State, assembly_id: int, data: Form
) -> Template | Redirect:
    """Change the assembly's name, place and rule settings; rule changes are recorded."""
    assembly = await service.get_assembly(db, assembly_id)
    notice, error, status = "", "", 200
    try:
        changed = await service.update_assembly(
            db, assembly, request.user.actor, rule_changes(data), data.get("reason", "").strip()
        )
    except DomainError as exc:
        await db.rollback()
        error, status = exc.message, exc.status
    else:
        await db.commit()
        ctx_of(state).assembly_languages.forget(assembly_id)
        await announce_credentials(ctx_of(state), assembly_id)
        if not is_htmx(request):
            return see_other("/secretariat", assembly=assembly_id)
        notice = (
            t("Saved: {changed} changed.", changed=", ".join(sorted(changed)))
            if changed
            else t("Nothing changed.")
        )
    assembly = await service.get_assembly(db, assembly_id)
    values = rule_values(assembly)
    if error:  # keep what was typed, so only the wrong field needs fixing
        values.update(data)
        values.update({key: "on" if data.get(key) else "" for key in RULE_CHECKBOXES})
    if is_htmx(request):
        return page(
            request,
            "secretariat/_rules.html",
            status=status,
            assembly=assembly,
            values=values,
            rules_notice=notice,
            rules_error=error,
            majority_settings=MAJORITY_SETTINGS,
            majority_names=MAJORITY_NAMES,
            majority_rules=MAJORITY_RULES,
            motion_fields=MOTION_FIELDS,
            motion_labels=MOTION_LABELS,
        )
    context = await secretariat_context(db, assembly, await assemblies_newest_first(db))
    context.update(values=values, rules_error=error)
    return page(request, "secretariat/index.html", status=status, **context)


# --- secretariat: NMOs and delegates ----------------------------------------------------------


@post("/secretariat/assemblies/{assembly_id:int}/nmos", opt=roles(SECRETARIAT), status_code=200)
async def secretariat_add_nmo(
    db: AsyncSession, request: Req, state: State, assembly_id: int, data: Form
) -> Template | Redirect:
    """Register an NMO for this assembly."""
    assembly = await service.get_assembly(db, assembly_id)
    notice, error, status = "", "", 200
    try:
        nmo = await service.add_nmo(
            db,
            assembly,
            request.user.actor,
            code=data.get("code", ""),
            name=data.get("name", ""),
            country=data.get("country", ""),
            member_class=data.get("member_class") or "full",
            weight=data.get("weight") or "1",
        )
    except DomainError as exc:
        await db.rollback()
        error, status = exc.message, exc.status
    else:
        code = nmo.code
        await db.commit()
        await announce_credentials(ctx_of(state), assembly_id)
        if not is_htmx(request):
            return see_other("/secretariat", assembly=assembly_id)
        notice = t("{code} added. Open it to add its delegates.", code=code)
    assembly = await service.get_assembly(db, assembly_id)
    context = await secretariat_context(db, assembly, await assemblies_newest_first(db))
    context.update(nmo_notice=notice, nmo_error=error, nmo_form=data if error else {})
    template = "secretariat/_nmos.html" if is_htmx(request) else "secretariat/index.html"
    return page(request, template, status=status, **context)


async def nmo_page_context(db: AsyncSession, nmo_id: int) -> dict[str, Any]:
    view = await delegation(db, nmo_id)
    return {
        "assembly": await service.get_assembly(db, view.nmo.assembly_id),
        "d": view,
        "member_classes": MEMBER_CLASSES,
        "delegate_roles": DELEGATE_ROLES,
        "change_notice": "",
        "change_error": "",
        "delegates_notice": "",
        "delegates_error": "",
        "delegate_form": {},
        "new_link": None,
    }


@get("/secretariat/nmos/{nmo_id:int}", opt=roles(SECRETARIAT))
async def secretariat_nmo(db: AsyncSession, request: Req, nmo_id: int) -> Template:
    """One delegation: change its class or weight, its delegates and their login links."""
    return page(request, "secretariat/nmo.html", **await nmo_page_context(db, nmo_id))


@post("/secretariat/nmos/{nmo_id:int}", opt=roles(SECRETARIAT), status_code=200)
async def secretariat_change_nmo(
    db: AsyncSession, request: Req, state: State, nmo_id: int, data: Form
) -> Template | Redirect:
    """Change an NMO's member class or weight; the reason is required and recorded."""
    nmo = await service.get_nmo(db, nmo_id)
    assembly_id = nmo.assembly_id
    notice, error, status = "", "", 200
    try:
        changed = await service.change_nmo(
            db,
            nmo,
            request.user.actor,
            reason=data.get("reason", ""),
            member_class=data.get("member_class") or None,
            weight=(data.get("weight") or "").strip() or None,
        )
    except DomainError as exc:
        await db.rollback()
        error, status = exc.message, exc.status
    else:
        await db.commit()
        await announce_credentials(ctx_of(state), assembly_id)
        if not is_htmx(request):
            return see_other(f"/secretariat/nmos/{nmo_id}")
        notice = (
            t(
                "Saved: {changed} changed.",
                changed=" and ".join(c.replace("member_class", "class") for c in changed),
            )
            if changed
            else t("Nothing changed.")
        )
    context = await nmo_page_context(db, nmo_id)
    context.update(change_notice=notice, change_error=error)
    template = "secretariat/_nmo_summary.html" if is_htmx(request) else "secretariat/nmo.html"
    return page(request, template, status=status, **context)


@post("/secretariat/nmos/{nmo_id:int}/delegates", opt=roles(SECRETARIAT), status_code=200)
async def secretariat_add_delegate(
    db: AsyncSession, request: Req, state: State, nmo_id: int, data: Form
) -> Template:
    """Register a delegate and show their new login link once (it is also on their card)."""
    nmo = await service.get_nmo(db, nmo_id)
    assembly_id = nmo.assembly_id
    ctx = ctx_of(state)
    new_link, error, status = None, "", 200
    try:
        delegate, token = await service.add_delegate(
            db,
            ctx.sealer,
            nmo,
            request.user.actor,
            name=data.get("name", ""),
            email=data.get("email", ""),
            role=data.get("role") or "delegate",
            language=(data.get("language") or "en").strip() or "en",
        )
    except DomainError as exc:
        await db.rollback()
        error, status = exc.message, exc.status
    else:
        new_link = {"name": delegate.name, "url": ctx.login_url(token)}
        await db.commit()
        await announce_credentials(ctx, assembly_id)
    context = await nmo_page_context(db, nmo_id)
    context.update(
        new_link=new_link,
        delegates_error=error,
        delegate_form=data if error else {},
        delegates_notice=f"{new_link['name']} added." if new_link else "",
    )
    template = "secretariat/_delegates.html" if is_htmx(request) else "secretariat/nmo.html"
    return page(request, template, status=status, **context)


@post("/secretariat/delegates/{delegate_id:int}/token", opt=roles(SECRETARIAT), status_code=200)
async def secretariat_reissue_token(
    db: AsyncSession, request: Req, state: State, delegate_id: int
) -> Template:
    """Replace a delegate's login link (a lost card); the old card and their sessions stop."""
    ctx = ctx_of(state)
    delegate = await service.get_delegate(db, delegate_id)
    nmo_id = delegate.nmo_id
    token = await service.reissue_token(db, ctx.sealer, delegate, request.user.actor)
    await db.commit()
    new_link = {"name": delegate.name, "url": ctx.login_url(token), "delegate_id": delegate_id}
    context = await nmo_page_context(db, nmo_id)
    context["new_link"] = new_link
    if is_htmx(request):
        person = next(p for p in context["d"].delegates if p.id == delegate_id)
        return page(request, "secretariat/_delegate.html", person=person, **context)
    return page(request, "secretariat/nmo.html", **context)


# --- secretariat: CSV import, the record, the cards ----------------------------------------

IMPORTS = {
    "nmos": {
        "title": t("NMOs"),
        "one": t("NMO"),
        "columns": importing.NMO_COLUMNS,
        "required": importing.NMO_REQUIRED,
        "example": "code,name,country,member_class,weight\n"
        "IFMSA-QC,IFMSA-Québec,Canada,full,2\nSaMSA,South African MSA,South Africa,candidate,1",
    },
    "delegates": {
        "title": t("delegates"),
        "one": t("delegate"),
        "columns": importing.DELEGATE_COLUMNS,
        "required": importing.DELEGATE_REQUIRED,
        "example": "nmo_code,name,email,role,language\n"
        "IFMSA-QC,Élodie Tremblay,elodie@example.org,head,fr\n"
        "IFMSA-QC,Samuel Roy,,delegate,en",
    },
}


def blank_import(kind: str) -> dict[str, Any]:
    return {"kind": kind, **IMPORTS[kind], "text": "", "notice": "", "errors": [], "message": ""}


async def read_upload(data: dict[str, Any]) -> str:
    """The CSV from the uploaded file when one was chosen, else from the text box."""
    upload = data.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read()
        if raw.strip():
            try:
                return raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise Invalid(
                    t(
                        "The file is not UTF-8 text: save it from the spreadsheet as 'CSV UTF-8' "
                        "and try again."
                    )
                ) from None
    text = data.get("csv")
    return text if isinstance(text, str) else ""


@get("/secretariat/assemblies/{assembly_id:int}/import", opt=roles(SECRETARIAT))
async def secretariat_import_page(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """Paste or upload the member and delegate lists as CSV."""
    assembly = await service.get_assembly(db, assembly_id)
    return page(
        request,
        "secretariat/import.html",
        assembly=assembly,
        imports=[blank_import("nmos"), blank_import("delegates")],
    )


async def run_import(
    db: AsyncSession, request: Req, state: State, assembly_id: int, kind: str, data: Upload
) -> Template:
    """Import NMOs or delegates from CSV: every row is checked, then all are stored or none."""
    ctx = ctx_of(state)
    assembly = await service.get_assembly(db, assembly_id)
    result = blank_import(kind)
    status = 200
    text = ""
    try:
        text = await read_upload(data)
        if kind == "nmos":
            created = await importing.import_nmos(db, assembly, request.user.actor, text)
        else:
            created = await importing.import_delegates(
                db, ctx.sealer, assembly, request.user.actor, text
            )
    except Invalid as exc:
        await db.rollback()
        result.update(message=exc.message, errors=exc.errors, text=text)
        status = exc.status
    else:
        await db.commit()
        await announce_credentials(ctx, assembly_id)
        noun = IMPORTS[kind]["one"] if created == 1 else IMPORTS[kind]["title"]
        result["notice"] = t("Imported {created} {noun}.", created=created, noun=noun)
    assembly = await service.get_assembly(db, assembly_id)
    if is_htmx(request):
        return page(
            request, "secretariat/_import.html", status=status, assembly=assembly, imp=result
        )
    others = [blank_import(k) if k != kind else result for k in IMPORTS]
    return page(
        request, "secretariat/import.html", status=status, assembly=assembly, imports=others
    )


@post(
    "/secretariat/assemblies/{assembly_id:int}/import/nmos",
    opt=roles(SECRETARIAT),
    status_code=200,
    request_max_body_size=MAX_IMPORT_BYTES,
)
async def secretariat_import_nmos(
    db: AsyncSession, request: Req, state: State, assembly_id: int, data: Upload
) -> Template:
    """Import NMOs from CSV (code, name, country, member_class, weight)."""
    return await run_import(db, request, state, assembly_id, "nmos", data)


@post(
    "/secretariat/assemblies/{assembly_id:int}/import/delegates",
    opt=roles(SECRETARIAT),
    status_code=200,
    request_max_body_size=MAX_IMPORT_BYTES,
)
async def secretariat_import_delegates(
    db: AsyncSession, request: Req, state: State, assembly_id: int, data: Upload
) -> Template:
    """Import delegates from CSV (nmo_code, name, email, role, language)."""
    return await run_import(db, request, state, assembly_id, "delegates", data)


EVENT_KINDS = {
    "assembly_created": t("Assembly created"),
    "assembly_rules": t("Rules changed"),
    "nmo_added": "NMO added",
    "nmo_class": t("Member class changed"),
    "nmo_weight": t("Weight changed"),
    "nmo_credentialed": t("Credentialed"),
    "nmo_uncredentialed": t("Credentials withdrawn"),
    "delegate_added": t("Delegate added"),
    "delegate_role": t("Delegate's role changed"),
    "token_reissued": t("Login link reissued"),
    "checked_in": t("Checked in"),
    "checked_out": t("Checked out"),
    "right_handover": t("Vote handed over"),
    "proxy_given": t("Proxy given"),
    "proxy_revoked": t("Proxy revoked"),
    "import_nmos": "NMOs imported",
    "import_delegates": t("Delegates imported"),
}


def describe_event(event: CredentialEvent, names: dict[int, str]) -> str:
    """An event's detail in words; delegate ids of a vote hand-over become names."""
    parts = []
    for key, value in event.detail.items():
        if event.kind == "right_handover" and key in {"from", "to"}:
            value = names.get(value, f"#{value}") if isinstance(value, int) else "nobody"
        elif isinstance(value, dict):
            value = f"{value.get('old')} → {value.get('new')}"
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


@get("/secretariat/assemblies/{assembly_id:int}/events", opt=roles(SECRETARIAT))
async def secretariat_events(
    db: AsyncSession,
    request: Req,
    assembly_id: int,
    before: Annotated[int | None, Parameter(query="before", required=False)] = None,
) -> Template:
    """The append-only record of credentials changes, newest first."""
    assembly = await service.get_assembly(db, assembly_id)
    query = select(CredentialEvent).where(CredentialEvent.assembly_id == assembly_id)
    if before is not None:
        query = query.where(CredentialEvent.id < before)
    events = list(
        (
            await db.execute(query.order_by(CredentialEvent.id.desc()).limit(EVENTS_PER_PAGE + 1))
        ).scalars()
    )
    older = events[EVENTS_PER_PAGE].id + 1 if len(events) > EVENTS_PER_PAGE else None
    events = events[:EVENTS_PER_PAGE]
    codes = {
        k: v
        for k, v in (
            await db.execute(select(Nmo.id, Nmo.code).where(Nmo.assembly_id == assembly_id))
        )
    }
    names = {
        k: v
        for k, v in (
            await db.execute(
                select(Delegate.id, Delegate.name)
                .join(Nmo, Nmo.id == Delegate.nmo_id)
                .where(Nmo.assembly_id == assembly_id)
            )
        )
    }
    return page(
        request,
        "secretariat/events.html",
        assembly=assembly,
        events=events,
        codes=codes,
        names=names,
        describe=describe_event,
        kinds=EVENT_KINDS,
        older=older,
        newest=before is None,
    )


@dataclass(frozen=True, slots=True)
class Card:
    delegate: Delegate
    url: str
    qr: str  # inline SVG made by segno from `url`; the only markup a template marks safe
    problem: str = ""


def qr_svg(url: str) -> str:
    # omitsize: a viewBox instead of a fixed size, so CSS sizes the code on screen and paper.
    qr = segno.make(url, error="m")
    return str(qr.svg_inline(scale=QR_SCALE, svgclass="qr-code", omitsize=True))


@get("/secretariat/assemblies/{assembly_id:int}/cards", opt=roles(SECRETARIAT))
async def secretariat_cards(
    db: AsyncSession,
    request: Req,
    state: State,
    assembly_id: int,
    nmo_id: Annotated[int | None, Parameter(query="nmo", required=False)] = None,
) -> Template:
    """Printable credential cards, one page per delegation, each with its login QR code."""
    ctx = ctx_of(state)
    assembly = await service.get_assembly(db, assembly_id)
    if nmo_id is not None:
        nmo = await service.get_nmo(db, nmo_id)
        if nmo.assembly_id != assembly_id:
            raise NotFound(t("NMO {nmo} is not registered for this assembly.", nmo=nmo.code))
    views = await delegations(db, assembly_id, only=None if nmo_id is None else {nmo_id})
    pages = []
    for view in views:
        cards = []
        for person in view.delegates:
            try:
                url = ctx.login_url(service.login_token(ctx.sealer, person))
            except DomainError as exc:
                cards.append(Card(person, "", "", exc.message))
                continue
            cards.append(Card(person, url, qr_svg(url)))
        if cards:
            pages.append((view, cards))
    return page(request, "secretariat/cards.html", assembly=assembly, pages=pages, one_nmo=nmo_id)


# --- credentials desk ---------------------------------------------------------------------


async def desk_results(db: AsyncSession, assembly_id: int, query: str) -> list[Delegation]:
    return [d for d in await delegations(db, assembly_id) if d.matches(query)]


@get("/desk", opt=roles(DESK))
async def desk_home(
    db: AsyncSession,
    request: Req,
    assembly_id: AssemblyParam,
    q: Annotated[str, Parameter(query="q", required=False)] = "",
) -> Template:
    """Credentials desk: scan cards, find a delegation, credential it, check people in."""
    assembly, everything = await chosen_assembly(db, assembly_id)
    context: dict[str, Any] = {
        "assembly": assembly,
        "assemblies": everything,
        "q": q,
        "results": [],
        "quorum": None,
        "scan": None,
    }
    if assembly is not None:
        context["results"] = await desk_results(db, assembly.id, q)
        context["quorum"] = await quorum_of(db, assembly)
    return page(request, "desk/index.html", **context)


@get("/desk/search", opt=roles(DESK))
async def desk_search(
    db: AsyncSession,
    request: Req,
    assembly_id: AssemblyParam,
    q: Annotated[str, Parameter(query="q", required=False)] = "",
) -> Template:
    """The desk's live search results (an htmx fragment)."""
    if assembly_id is None:
        raise Invalid(t("Say which assembly to search (assembly=ID)."))
    assembly = await service.get_assembly(db, assembly_id)
    return page(
        request,
        "desk/_search.html",
        assembly=assembly,
        q=q,
        results=await desk_results(db, assembly_id, q),
    )


async def desk_answer(
    db: AsyncSession, request: Req, nmo_id: int, query: str
) -> Template | Redirect:
    """After a desk change: the delegation's block and the new quorum, or back to the page."""
    view = await delegation(db, nmo_id)
    if not is_htmx(request):
        return see_other("/desk", assembly=view.nmo.assembly_id, q=query)
    assembly = await service.get_assembly(db, view.nmo.assembly_id)
    return page(
        request,
        "desk/_nmo_changed.html",
        assembly=assembly,
        d=view,
        q=query,
        quorum=await quorum_of(db, assembly),
    )


@post("/desk/nmos/{nmo_id:int}/credential", opt=roles(DESK), status_code=200)
async def desk_credential(
    db: AsyncSession, request: Req, state: State, nmo_id: int, data: Form
) -> Template | Redirect:
    """Credential a delegation, or withdraw its credentials."""
    nmo = await service.get_nmo(db, nmo_id)
    assembly_id = nmo.assembly_id
    await service.set_credentialed(
        db, nmo, request.user.actor, data.get("credentialed") == "1", data.get("reason", "")
    )
    await db.commit()
    await announce_credentials(ctx_of(state), assembly_id)
    return await desk_answer(db, request, nmo_id, data.get("q", ""))


@post("/desk/delegates/{delegate_id:int}/check-in", opt=roles(DESK), status_code=200)
async def desk_check_in(
    db: AsyncSession, request: Req, state: State, delegate_id: int, data: Form
) -> Template | Redirect:
    """Check a delegate in (present=1) or out (present=0) at the desk."""
    delegate = await service.get_delegate(db, delegate_id)
    nmo_id = delegate.nmo_id
    nmo = await service.get_nmo(db, nmo_id)
    await service.set_checked_in(
        db, delegate, request.user.actor, data.get("present") == "1", via="desk"
    )
    await db.commit()
    await announce_credentials(ctx_of(state), nmo.assembly_id)
    return await desk_answer(db, request, nmo_id, data.get("q", ""))


@dataclass(frozen=True, slots=True)
class ScanResult:
    ok: bool
    message: str
    delegate: Delegate | None = None
    nmo: Nmo | None = None
    warning: str = ""


@post("/desk/scan", opt=roles(DESK), status_code=200)
async def desk_scan(db: AsyncSession, request: Req, state: State, data: Form) -> Template:
    """Check in the delegate whose card the scanner just read (it types the login link)."""
    assembly_id = form_int(data, "assembly", t("the assembly"))
    assembly = await service.get_assembly(db, assembly_id)
    scanned = data.get("scanned", "")
    delegate = await service.delegate_by_token(db, service.token_from_scan(scanned))
    nmo = await service.get_nmo(db, delegate.nmo_id) if delegate else None
    status = 200
    if not scanned.strip():
        result = ScanResult(
            False, t("Nothing was scanned: hold the card's QR code to the scanner.")
        )
        status = 422
    elif delegate is None or nmo is None:
        result = ScanResult(
            False,
            t(
                "No delegate has this card: it may have been replaced by a new one. "
                "Search for the person by name below."
            ),
        )
        status = 404
    elif nmo.assembly_id != assembly_id:
        result = ScanResult(False, t("This card belongs to another assembly."))
        status = 404
    else:
        changed = await service.set_checked_in(db, delegate, request.user.actor, True, via="scan")
        await db.commit()
        await announce_credentials(ctx_of(state), assembly_id)
        warning = (
            ""
            if nmo.credentialed
            else t(
                "{nmo} is not credentialed yet: it does not count for quorum or votes.",
                nmo=nmo.code,
            )
        )
        verb = t("Checked in") if changed else t("Already checked in")
        result = ScanResult(True, verb, delegate, nmo, warning)
    context: dict[str, Any] = {"assembly": assembly, "scan": result, "q": ""}
    if is_htmx(request):
        context["quorum"] = await quorum_of(db, assembly)
        context["d"] = await delegation(db, nmo.id) if result.ok and nmo else None
        return page(request, "desk/_scan_changed.html", status=status, **context)
    _, everything = await chosen_assembly(db, assembly_id)
    context.update(
        assemblies=everything,
        results=await desk_results(db, assembly_id, ""),
        quorum=await quorum_of(db, assembly),
    )
    return page(request, "desk/index.html", status=status, **context)


# --- delegate home ------------------------------------------------------------------------


async def delegate_context(db: AsyncSession, principal: Principal) -> dict[str, Any]:
    if principal.delegate_id is None or principal.assembly_id is None:
        raise Forbidden(t("This page is for delegates: open the link on your credential card."))
    assembly = await service.get_assembly(db, principal.assembly_id)
    me = await service.get_delegate(db, principal.delegate_id)
    views = await delegations(db, assembly.id)
    mine = next(v for v in views if v.nmo.id == me.nmo_id)
    standing = await service.standing(db, assembly)
    return {
        "assembly": assembly,
        "me": me,
        "d": mine,
        "can_act": principal.role is Role.delegate,
        "is_head": principal.is_head and principal.role is Role.delegate,
        "proxy_targets": [
            v.nmo for v in views if v.nmo.id != mine.nmo.id and v.nmo.member_class == "full"
        ],
        "casts": [e for e in standing.electorate if e.cast_by_nmo_id == mine.nmo.id],
        "codes": mine.codes,
        "quorum": standing.quorum,
        "notice": "",
        "error": "",
        "where": "",
    }


@get("/delegate", opt=roles(MEMBERS))
async def delegate_home(db: AsyncSession, request: Req) -> Template:
    """A delegate's phone: my delegation, who holds our vote, presence and proxies."""
    return page(request, "delegate/index.html", **await delegate_context(db, request.user))


async def delegate_answer(
    db: AsyncSession,
    request: Req,
    state: State,
    action: Callable[[], Awaitable[None]],
    done: str,
    where: str,
) -> Template | Redirect:
    """Run a delegate's action; show the outcome (or the rule that refused it) by its form."""
    principal = request.user
    notice, error, status = "", "", 200
    try:
        await action()
    except DomainError as exc:
        await db.rollback()
        error, status = exc.message, exc.status
    else:
        await db.commit()
        await announce_credentials(ctx_of(state), principal.assembly_id or 0)
        if not is_htmx(request):
            return see_other("/delegate")
        notice = done
    context = await delegate_context(db, principal)
    context.update(notice=notice, error=error, where=where)
    template = "delegate/_delegation_changed.html" if is_htmx(request) else "delegate/index.html"
    return page(request, template, status=status, **context)


@post("/delegate/check-in", opt=roles(MEMBERS), status_code=200)
async def delegate_check_in(
    db: AsyncSession, request: Req, state: State, data: Form
) -> Template | Redirect:
    """Check yourself in or out, when the assembly allows self check-in."""
    present = data.get("present") == "1"

    async def action() -> None:
        await service.self_check_in(db, request.user, present)

    done = t("You are checked in.") if present else t("You are checked out.")
    return await delegate_answer(db, request, state, action, done, "presence")


@post("/delegate/voting-right", opt=roles({Role.delegate}), status_code=200)
async def delegate_hand_over(
    db: AsyncSession, request: Req, state: State, data: Form
) -> Template | Redirect:
    """The head of delegation hands the NMO's vote to another of its delegates."""
    principal = request.user

    async def action() -> None:
        if principal.nmo_id is None:
            raise Forbidden(t("Only a delegate can hand over their NMO's vote."))
        holder = await service.get_delegate(
            db, form_int(data, "holder_id", t("who holds the vote"))
        )
        nmo = await service.get_nmo(db, principal.nmo_id)
        await service.hand_over_right(db, principal, nmo, holder)

    return await delegate_answer(
        db, request, state, action, t("The vote was handed over."), "right"
    )


@post("/delegate/proxy", opt=roles({Role.delegate}), status_code=200)
async def delegate_give_proxy(
    db: AsyncSession, request: Req, state: State, data: Form
) -> Template | Redirect:
    """The head gives the NMO's vote to another Full Member NMO (a proxy)."""
    principal = request.user

    async def action() -> None:
        if principal.nmo_id is None or principal.assembly_id is None:
            raise Forbidden(t("Only a delegate can give their NMO's vote."))
        assembly = await service.get_assembly(db, principal.assembly_id)
        giver = await service.get_nmo(db, principal.nmo_id)
        holder = await service.get_nmo(
            db, form_int(data, "holder_id", t("the NMO to hold your vote"))
        )
        if holder.assembly_id != assembly.id:
            raise NotFound(t("That NMO is not registered for this assembly."))
        await service.give_proxy(db, principal, assembly, giver, holder)

    return await delegate_answer(db, request, state, action, t("Your proxy was given."), "proxy")


@post("/delegate/proxies/{proxy_id:int}/revoke", opt=roles({Role.delegate}), status_code=200)
async def delegate_revoke_proxy(
    db: AsyncSession, request: Req, state: State, proxy_id: int
) -> Template | Redirect:
    """The head takes the NMO's vote back from the NMO holding it."""
    principal = request.user

    async def action() -> None:
        proxy = await service.get_proxy(db, proxy_id)
        if proxy.assembly_id != principal.assembly_id:
            raise Forbidden(t("You can only revoke proxies of your own assembly."))
        await service.revoke_proxy(db, principal, proxy)

    return await delegate_answer(db, request, state, action, t("Your proxy was revoked."), "proxy")


# --- chair and projector ------------------------------------------------------------------


@get("/chair", opt=roles(CHAIR))
async def chair_home(db: AsyncSession, request: Req, assembly_id: AssemblyParam) -> Template:
    """The chair's control screen: live quorum and who is present."""
    assembly, everything = await chosen_assembly(db, assembly_id)
    context: dict[str, Any] = {"assembly": assembly, "assemblies": everything}
    if assembly is not None:
        context["quorum"] = await quorum_of(db, assembly)
        context["delegations"] = await delegations(db, assembly.id)
    return page(request, "chair/index.html", **context)


@post("/chair/assemblies/{assembly_id:int}/self-check-in", opt=roles(CHAIR), status_code=200)
async def chair_self_check_in(
    db: AsyncSession, request: Req, state: State, assembly_id: int, data: Form
) -> Template | Redirect:
    """The chair opens or closes self check-in from the phones."""
    assembly = await service.get_assembly(db, assembly_id)
    allowed = data.get("allowed") == "1"
    await service.update_assembly(
        db, assembly, request.user.actor, {"self_checkin": allowed}, "set by the chair"
    )
    await db.commit()
    await announce_credentials(state.ctx, assembly_id)
    if request.headers.get("hx-request"):
        return page(request, "chair/_self_check_in.html", assembly=assembly)
    return Redirect(f"/chair?assembly={assembly_id}", status_code=303)


@get("/chair/nmos", opt=roles(CHAIR))
async def chair_nmos(db: AsyncSession, request: Req, assembly_id: AssemblyParam) -> Template:
    """The chair's presence list (an htmx fragment, refreshed when the quorum changes)."""
    if assembly_id is None:
        raise Invalid(t("Say which assembly (assembly=ID)."))
    assembly = await service.get_assembly(db, assembly_id)
    return page(
        request,
        "chair/_nmos.html",
        assembly=assembly,
        delegations=await delegations(db, assembly.id),
    )


def may_listen(principal: Principal, assembly_id: int) -> bool:
    """Whether /ws/assembly/ID accepts this principal: anyone but another assembly's
    delegates (the assembly topic carries no personal data)."""
    return principal.role not in MEMBERS or principal.assembly_id == assembly_id


@get("/projector/{assembly_id:int}", opt=roles(ALL_ROLES))
async def projector(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The room's screen: the assembly's name and the live quorum, no personal data."""
    assembly = await service.get_assembly(db, assembly_id)
    if i18n.supported(request.query_params.get("lang")) is None:
        # The room reads the assembly's language, whatever the projector's browser prefers.
        i18n.CURRENT.set(i18n.supported(assembly.language) or i18n.DEFAULT_LANGUAGE)
    return page(
        request,
        "projector/index.html",
        assembly=assembly,
        quorum=await quorum_of(db, assembly),
        live=may_listen(request.user, assembly_id),
    )


@get("/projector/{assembly_id:int}/quorum", opt=roles(ALL_ROLES))
async def projector_quorum(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The quorum fragment (out-of-band swap): polled by a public projector, and fetched by
    every live screen to catch up after its WebSocket reconnects."""
    assembly = await service.get_assembly(db, assembly_id)
    return page(request, "fragments/quorum.html", quorum=await quorum_of(db, assembly), oob=True)


def handlers() -> list[Any]:
    return [
        secretariat_home,
        secretariat_create_assembly,
        secretariat_update_rules,
        secretariat_add_nmo,
        secretariat_nmo,
        secretariat_change_nmo,
        secretariat_add_delegate,
        secretariat_reissue_token,
        secretariat_import_page,
        secretariat_import_nmos,
        secretariat_import_delegates,
        secretariat_events,
        secretariat_cards,
        desk_home,
        desk_search,
        desk_credential,
        desk_check_in,
        desk_scan,
        delegate_home,
        delegate_check_in,
        delegate_hand_over,
        delegate_give_proxy,
        delegate_revoke_proxy,
        chair_home,
        chair_nmos,
        chair_self_check_in,
        projector,
        projector_quorum,
    ]
