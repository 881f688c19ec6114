"""JSON API of the credentials domain under /api/ (pages live in pages.py).

A handler builds its answer, then commits, then announces: one request is one transaction, and
nothing reopens one on the request's session while the announcement reads on its own.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, Router, delete, get, patch, post
from litestar.datastructures import Cookie, State
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.credentials import importing, service
from assembly.credentials.auth import (
    ALL_ROLES,
    CHAIR,
    DESK,
    LOGGED_IN,
    SECRETARIAT,
    SESSION_COOKIE,
    STAFF,
    Principal,
    Role,
    role_guard,
    roles,
)
from assembly.credentials.models import Assembly, CredentialEvent, Delegate, Nmo, StaffUser
from assembly.credentials.rules import format_weight
from assembly.credentials.schemas import (
    AssemblyCreate,
    AssemblyOut,
    AssemblyUpdate,
    CheckIn,
    CredentialChange,
    DelegateCreate,
    DelegateOut,
    DelegateUpdate,
    EntitlementOut,
    EventOut,
    ImportResult,
    LoginLink,
    Me,
    NmoCreate,
    NmoOut,
    NmoUpdate,
    ProxyCreate,
    ProxyOut,
    QuorumOut,
    RightHandover,
    Scan,
    SelfCheckInSwitch,
    StaffCreate,
    StaffLogin,
    StaffOut,
    assembly_out,
    delegate_out,
    nmo_out,
    proxy_out,
    quorum_out,
)
from assembly.errors import MAX_NUMBER, Forbidden, Invalid, NotFound
from assembly.i18n import t
from assembly.live.broadcast import announce_credentials


def ctx_of(state: State) -> Any:
    return state.ctx


def ensure_assembly_access(principal: Principal, assembly_id: int) -> None:
    """Staff see every assembly; a delegate or observer only their own."""
    if principal.is_staff:
        return
    if principal.assembly_id != assembly_id:
        raise Forbidden(t("You can only see the assembly your delegation is registered for."))


def ensure_nmo_access(principal: Principal, nmo: Nmo) -> None:
    ensure_assembly_access(principal, nmo.assembly_id)


def session_cookie(secret: str, state: State, *, max_age: int | None = None) -> Cookie:
    settings = ctx_of(state).settings
    return Cookie(
        key=SESSION_COOKIE,
        value=secret,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_max_age_s if max_age is None else max_age,
        path="/",
    )


async def holders(db: AsyncSession, nmo_ids: list[int]) -> dict[int, int | None]:
    from assembly.credentials.models import VotingRight

    rows = await db.execute(
        select(VotingRight.nmo_id, VotingRight.holder_id).where(VotingRight.nmo_id.in_(nmo_ids))
    )
    return {nmo_id: holder for nmo_id, holder in rows.all()}


async def nmo_view(db: AsyncSession, nmo: Nmo) -> NmoOut:
    states = {s.id: s for s in await service.nmo_states(db, nmo.assembly_id)}
    state = states[nmo.id]
    return nmo_out(nmo, state.holder_id, state.present)


async def run_import(
    db: AsyncSession, principal: Principal, state: State, assembly_id: int, kind: str, text: str
) -> ImportResult:
    """One CSV import in one transaction: every row stored, or none."""
    a = await service.get_assembly(db, assembly_id)
    if kind == "nmos":
        created = await importing.import_nmos(db, a, principal.actor, text)
    else:
        created = await importing.import_delegates(
            db, ctx_of(state).sealer, a, principal.actor, text
        )
    await db.commit()
    await announce_credentials(ctx_of(state), assembly_id)
    what = t("NMOs") if kind == "nmos" else t("delegates")
    return ImportResult(
        created=created, message=t("Imported {created} {noun}.", created=created, noun=what)
    )


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/login", opt=roles(ALL_ROLES), operation_id="staffLogin", status_code=200)
    async def login(self, db: AsyncSession, state: State, data: StaffLogin) -> Response[Me]:
        """Log a staff member in with username and password; sets the session cookie."""
        ctx = ctx_of(state)
        secret = await service.staff_login(
            db, data.username, data.password, ctx.settings.session_max_age_s, ctx.login_limits
        )
        user = (
            await db.execute(select(StaffUser).where(StaffUser.username == data.username.strip()))
        ).scalar_one()
        await db.commit()
        me = Me(
            role=user.role,
            name=user.username,
            staff_user_id=user.id,
            delegate_id=None,
            nmo_id=None,
            assembly_id=None,
            is_head=False,
        )
        return Response(me, cookies=[session_cookie(secret, state)])

    @post("/logout", opt=roles(ALL_ROLES), operation_id="logout", status_code=200)
    async def logout(
        self, db: AsyncSession, request: Request[Any, Any, Any], state: State
    ) -> Response[dict[str, str]]:
        """End this session."""
        await service.logout(db, request.cookies.get(SESSION_COOKIE))
        await db.commit()
        return Response({"status": "logged out"}, cookies=[session_cookie("", state, max_age=0)])

    @get("/me", opt=roles(ALL_ROLES), operation_id="me")
    async def me(self, request: Request[Principal, Any, Any]) -> Me:
        """Who this session is."""
        p = request.user
        return Me(
            role=p.role.value,
            name=p.name,
            staff_user_id=p.staff_user_id,
            delegate_id=p.delegate_id,
            nmo_id=p.nmo_id,
            assembly_id=p.assembly_id,
            is_head=p.is_head,
        )


class StaffController(Controller):
    path = "/api/staff"
    tags = ["staff"]

    @get("/", opt=roles(SECRETARIAT), operation_id="listStaff")
    async def list_staff(self, db: AsyncSession) -> list[StaffOut]:
        """Staff accounts."""
        users = (await db.execute(select(StaffUser).order_by(StaffUser.username))).scalars()
        return [
            StaffOut(
                id=u.id,
                username=u.username,
                display_name=u.display_name,
                role=u.role,
                active=u.active,
            )
            for u in users
        ]

    @post("/", opt=roles(SECRETARIAT), operation_id="createStaff")
    async def create_staff(self, db: AsyncSession, data: StaffCreate) -> StaffOut:
        """Create a secretariat, chair or credentials-desk account."""
        u = await service.add_staff(db, data.username, data.password, data.role, data.display_name)
        await db.commit()
        return StaffOut(
            id=u.id, username=u.username, display_name=u.display_name, role=u.role, active=u.active
        )


class AssemblyController(Controller):
    path = "/api/assemblies"
    tags = ["assemblies"]

    @get("/", opt=roles(LOGGED_IN), operation_id="listAssemblies")
    async def list_assemblies(
        self, db: AsyncSession, request: Request[Principal, Any, Any]
    ) -> list[AssemblyOut]:
        """Assemblies this login may see."""
        query = select(Assembly).order_by(Assembly.id)
        if not request.user.is_staff:
            query = query.where(Assembly.id == request.user.assembly_id)
        return [assembly_out(a) for a in (await db.execute(query)).scalars()]

    @post("/", opt=roles(SECRETARIAT), operation_id="createAssembly")
    async def create_assembly(
        self, db: AsyncSession, request: Request[Principal, Any, Any], data: AssemblyCreate
    ) -> AssemblyOut:
        """Create a General Assembly with its rule settings."""
        service.check_rule_fields(data.rules)
        a = await service.create_assembly(
            db,
            request.user.actor,
            data.name,
            place=data.place,
            starts_on=data.starts_on,
            ends_on=data.ends_on,
            language=data.language,
            **data.rules,
        )
        await db.commit()
        return assembly_out(a)

    @get("/{assembly_id:int}", opt=roles(LOGGED_IN), operation_id="getAssembly")
    async def get_assembly(
        self, db: AsyncSession, request: Request[Principal, Any, Any], assembly_id: int
    ) -> AssemblyOut:
        """One assembly and its rules."""
        ensure_assembly_access(request.user, assembly_id)
        return assembly_out(await service.get_assembly(db, assembly_id))

    @patch("/{assembly_id:int}", opt=roles(SECRETARIAT), operation_id="updateAssembly")
    async def update_assembly(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        assembly_id: int,
        data: AssemblyUpdate,
    ) -> AssemblyOut:
        """Change the assembly's details or rules; rule changes are recorded."""
        service.check_rule_fields(data.rules)
        a = await service.get_assembly(db, assembly_id)
        changes: dict[str, Any] = {
            k: v
            for k, v in {
                "name": data.name,
                "place": data.place,
                "starts_on": data.starts_on,
                "ends_on": data.ends_on,
                "language": data.language,
            }.items()
            if v is not None
        }
        changes.update(data.rules)
        await service.update_assembly(db, a, request.user.actor, changes, data.reason)
        await db.commit()
        await announce_credentials(ctx_of(state), assembly_id)
        return assembly_out(a)

    @post(
        "/{assembly_id:int}/self-check-in",
        opt=roles(CHAIR),
        operation_id="allowSelfCheckIn",
        status_code=200,
    )
    async def self_check_in_switch(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        assembly_id: int,
        data: SelfCheckInSwitch,
    ) -> AssemblyOut:
        """The chair opens or closes self check-in from the phones (recorded as a rule change)."""
        a = await service.get_assembly(db, assembly_id)
        await service.update_assembly(
            db, a, request.user.actor, {"self_checkin": data.allowed}, "set by the chair"
        )
        out = assembly_out(a)
        await db.commit()
        await announce_credentials(ctx_of(state), assembly_id)
        return out

    @get("/{assembly_id:int}/nmos", opt=roles(LOGGED_IN), operation_id="listNmos")
    async def list_nmos(
        self, db: AsyncSession, request: Request[Principal, Any, Any], assembly_id: int
    ) -> list[NmoOut]:
        """NMOs of the assembly with class, weight, credentials and presence."""
        ensure_assembly_access(request.user, assembly_id)
        await service.get_assembly(db, assembly_id)
        states = {s.id: s for s in await service.nmo_states(db, assembly_id)}
        nmos = (
            await db.execute(select(Nmo).where(Nmo.assembly_id == assembly_id).order_by(Nmo.code))
        ).scalars()
        return [nmo_out(n, states[n.id].holder_id, states[n.id].present) for n in nmos]

    @post("/{assembly_id:int}/nmos", opt=roles(SECRETARIAT), operation_id="createNmo")
    async def create_nmo(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        assembly_id: int,
        data: NmoCreate,
    ) -> NmoOut:
        """Register an NMO for this assembly."""
        a = await service.get_assembly(db, assembly_id)
        nmo = await service.add_nmo(
            db,
            a,
            request.user.actor,
            code=data.code,
            name=data.name,
            country=data.country,
            member_class=data.member_class,
            weight=data.weight,
        )
        await db.commit()
        await announce_credentials(ctx_of(state), assembly_id)
        return nmo_out(nmo, None, False)

    @get("/{assembly_id:int}/quorum", opt=roles(LOGGED_IN), operation_id="getQuorum")
    async def quorum(
        self, db: AsyncSession, request: Request[Principal, Any, Any], assembly_id: int
    ) -> QuorumOut:
        """Live quorum: present Full Members and represented weight against the rule."""
        ensure_assembly_access(request.user, assembly_id)
        a = await service.get_assembly(db, assembly_id)
        return quorum_out((await service.standing(db, a)).quorum)

    @get("/{assembly_id:int}/electorate", opt=roles(STAFF), operation_id="getElectorate")
    async def electorate(self, db: AsyncSession, assembly_id: int) -> list[EntitlementOut]:
        """Who may cast which vote with which weight right now."""
        a = await service.get_assembly(db, assembly_id)
        st = await service.standing(db, a)
        return [
            EntitlementOut(
                nmo_id=e.nmo_id,
                nmo_code=st.nmos[e.nmo_id].code,
                weight=format_weight(e.weight),
                cast_by_nmo_id=e.cast_by_nmo_id,
                cast_by_nmo_code=st.nmos[e.cast_by_nmo_id].code,
                cast_by_delegate_id=e.cast_by_delegate_id,
                via_proxy=e.via_proxy,
            )
            for e in st.electorate
        ]

    @get("/{assembly_id:int}/proxies", opt=roles(LOGGED_IN), operation_id="listProxies")
    async def list_proxies(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        assembly_id: int,
        include_revoked: bool = False,
    ) -> list[ProxyOut]:
        """Standing proxies (and revoked ones when asked)."""
        from assembly.credentials.models import Proxy

        ensure_assembly_access(request.user, assembly_id)
        query = select(Proxy).where(Proxy.assembly_id == assembly_id).order_by(Proxy.id)
        if not include_revoked:
            query = query.where(Proxy.revoked_at.is_(None))
        codes = {
            k: v
            for k, v in (
                await db.execute(select(Nmo.id, Nmo.code).where(Nmo.assembly_id == assembly_id))
            )
        }
        return [proxy_out(p, codes) for p in (await db.execute(query)).scalars()]

    @post(
        "/{assembly_id:int}/proxies",
        opt=roles({Role.secretariat, Role.delegate}),
        operation_id="giveProxy",
    )
    async def give_proxy(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        assembly_id: int,
        data: ProxyCreate,
    ) -> ProxyOut:
        """Hand an NMO's vote to another NMO (the giver's head, or the secretariat)."""
        ensure_assembly_access(request.user, assembly_id)
        a = await service.get_assembly(db, assembly_id)
        giver = await service.get_nmo(db, data.giver_id)
        holder = await service.get_nmo(db, data.holder_id)
        proxy = await service.give_proxy(db, request.user, a, giver, holder)
        await db.commit()
        await announce_credentials(ctx_of(state), assembly_id)
        return proxy_out(proxy, {giver.id: giver.code, holder.id: holder.code})

    @get("/{assembly_id:int}/events", opt=roles(STAFF), operation_id="listCredentialEvents")
    async def events(
        self,
        db: AsyncSession,
        assembly_id: int,
        after: Annotated[int, Parameter(le=MAX_NUMBER)] = 0,
        limit: Annotated[int, Parameter(le=MAX_NUMBER)] = 200,
    ) -> list[EventOut]:
        """The append-only record of credentials changes, oldest first."""
        if not 1 <= limit <= 1000:
            raise Invalid(t("limit must be from 1 to 1000."))
        rows = (
            await db.execute(
                select(CredentialEvent)
                .where(CredentialEvent.assembly_id == assembly_id, CredentialEvent.id > after)
                .order_by(CredentialEvent.id)
                .limit(limit)
            )
        ).scalars()
        return [
            EventOut(
                id=e.id,
                at=e.at,
                actor=e.actor,
                kind=e.kind,
                nmo_id=e.nmo_id,
                delegate_id=e.delegate_id,
                detail=e.detail,
                reason=e.reason,
            )
            for e in rows
        ]

    @post(
        "/{assembly_id:int}/import/nmos",
        opt=roles(SECRETARIAT),
        operation_id="importNmos",
        request_max_body_size=5_000_000,
    )
    async def import_nmos(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        assembly_id: int,
        data: str = Body(media_type=RequestEncodingType.JSON, description="CSV text"),
    ) -> ImportResult:
        """Import NMOs from CSV (code,name,country,member_class,weight); all rows or none."""
        return await run_import(db, request.user, state, assembly_id, "nmos", data)

    @post(
        "/{assembly_id:int}/import/delegates",
        opt=roles(SECRETARIAT),
        operation_id="importDelegates",
        request_max_body_size=5_000_000,
    )
    async def import_delegates(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        assembly_id: int,
        data: str = Body(media_type=RequestEncodingType.JSON, description="CSV text"),
    ) -> ImportResult:
        """Import delegates from CSV (nmo_code,name,email,role,language); all rows or none."""
        return await run_import(db, request.user, state, assembly_id, "delegates", data)

    @post("/{assembly_id:int}/scan", opt=roles(DESK), operation_id="scanCard")
    async def scan(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        assembly_id: int,
        data: Scan,
    ) -> DelegateOut:
        """Check a delegate in (or out) from what the desk scanner read off their card."""
        delegate = await service.delegate_by_token(db, service.token_from_scan(data.scanned))
        if delegate is None:
            raise NotFound(t("No delegate has this card: it may have been replaced by a new one."))
        nmo = await service.get_nmo(db, delegate.nmo_id)
        if nmo.assembly_id != assembly_id:
            raise NotFound(t("This card belongs to another assembly."))
        await service.set_checked_in(db, delegate, request.user.actor, data.present, via="scan")
        right = await service.voting_right(db, nmo.id)
        out = delegate_out(delegate, right.holder_id)
        await db.commit()
        await announce_credentials(ctx_of(state), assembly_id)
        return out


class NmoController(Controller):
    path = "/api/nmos/{nmo_id:int}"
    tags = ["nmos"]

    @get("/", opt=roles(LOGGED_IN), operation_id="getNmo")
    async def get_nmo(
        self, db: AsyncSession, request: Request[Principal, Any, Any], nmo_id: int
    ) -> NmoOut:
        """One NMO."""
        nmo = await service.get_nmo(db, nmo_id)
        ensure_nmo_access(request.user, nmo)
        return await nmo_view(db, nmo)

    @patch("/", opt=roles(SECRETARIAT), operation_id="updateNmo")
    async def update_nmo(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        nmo_id: int,
        data: NmoUpdate,
    ) -> NmoOut:
        """Change an NMO; a class or weight change needs a reason and is recorded."""
        nmo = await service.get_nmo(db, nmo_id)
        await service.change_nmo(
            db,
            nmo,
            request.user.actor,
            reason=data.reason,
            member_class=data.member_class,
            weight=data.weight,
            name=data.name,
            country=data.country,
        )
        out = await nmo_view(db, nmo)
        await db.commit()
        await announce_credentials(ctx_of(state), nmo.assembly_id)
        return out

    @post("/credential", opt=roles(DESK), operation_id="credentialNmo", status_code=200)
    async def credential(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        nmo_id: int,
        data: CredentialChange,
    ) -> NmoOut:
        """Mark the delegation credentialed, or withdraw its credentials."""
        nmo = await service.get_nmo(db, nmo_id)
        await service.set_credentialed(db, nmo, request.user.actor, data.credentialed, data.reason)
        out = await nmo_view(db, nmo)
        await db.commit()
        await announce_credentials(ctx_of(state), nmo.assembly_id)
        return out

    @get("/delegates", opt=roles(LOGGED_IN), operation_id="listDelegates")
    async def list_delegates(
        self, db: AsyncSession, request: Request[Principal, Any, Any], nmo_id: int
    ) -> list[DelegateOut]:
        """The delegation of an NMO."""
        nmo = await service.get_nmo(db, nmo_id)
        ensure_nmo_access(request.user, nmo)
        right = await service.voting_right(db, nmo.id)
        delegates = (
            await db.execute(
                select(Delegate).where(Delegate.nmo_id == nmo_id).order_by(Delegate.id)
            )
        ).scalars()
        return [delegate_out(d, right.holder_id) for d in delegates]

    @post("/delegates", opt=roles(SECRETARIAT), operation_id="createDelegate")
    async def create_delegate(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        nmo_id: int,
        data: DelegateCreate,
    ) -> DelegateOut:
        """Register a delegate; the head of delegation holds the vote by default."""
        nmo = await service.get_nmo(db, nmo_id)
        delegate, _token = await service.add_delegate(
            db,
            ctx_of(state).sealer,
            nmo,
            request.user.actor,
            name=data.name,
            email=data.email,
            role=data.role,
            language=data.language,
        )
        right = await service.voting_right(db, nmo.id)
        out = delegate_out(delegate, right.holder_id)
        await db.commit()
        await announce_credentials(ctx_of(state), nmo.assembly_id)
        return out

    @post(
        "/voting-right",
        opt=roles({Role.secretariat, Role.desk, Role.delegate}),
        operation_id="handOverRight",
        status_code=200,
    )
    async def hand_over(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        nmo_id: int,
        data: RightHandover,
    ) -> NmoOut:
        """Hand the NMO's vote to another of its delegates (its head, or staff)."""
        nmo = await service.get_nmo(db, nmo_id)
        ensure_nmo_access(request.user, nmo)
        new_holder = await service.get_delegate(db, data.holder_id)
        await service.hand_over_right(db, request.user, nmo, new_holder)
        out = await nmo_view(db, nmo)
        await db.commit()
        await announce_credentials(ctx_of(state), nmo.assembly_id)
        return out


class DelegateController(Controller):
    path = "/api/delegates/{delegate_id:int}"
    tags = ["delegates"]

    @get("/", opt=roles(STAFF | {Role.delegate, Role.observer}), operation_id="getDelegate")
    async def get_delegate(
        self, db: AsyncSession, request: Request[Principal, Any, Any], delegate_id: int
    ) -> DelegateOut:
        """One delegate."""
        d = await service.get_delegate(db, delegate_id)
        nmo = await service.get_nmo(db, d.nmo_id)
        ensure_nmo_access(request.user, nmo)
        right = await service.voting_right(db, nmo.id)
        return delegate_out(d, right.holder_id)

    @patch("/", opt=roles(SECRETARIAT), operation_id="updateDelegate")
    async def update_delegate(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        delegate_id: int,
        data: DelegateUpdate,
    ) -> DelegateOut:
        """Change a delegate's name, email, role or language."""
        d = await service.get_delegate(db, delegate_id)
        await service.update_delegate(
            db,
            d,
            request.user.actor,
            name=data.name,
            email=data.email,
            role=data.role,
            language=data.language,
        )
        nmo = await service.get_nmo(db, d.nmo_id)
        right = await service.voting_right(db, nmo.id)
        out = delegate_out(d, right.holder_id)
        await db.commit()
        await announce_credentials(ctx_of(state), nmo.assembly_id)
        return out

    @post("/check-in", opt=roles(DESK), operation_id="checkInDelegate", status_code=200)
    async def check_in(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        delegate_id: int,
        data: CheckIn,
    ) -> DelegateOut:
        """Check a delegate in (present: true) or out (present: false) at the desk."""
        d = await service.get_delegate(db, delegate_id)
        await service.set_checked_in(db, d, request.user.actor, data.present, via="desk")
        nmo = await service.get_nmo(db, d.nmo_id)
        right = await service.voting_right(db, nmo.id)
        out = delegate_out(d, right.holder_id)
        await db.commit()
        await announce_credentials(ctx_of(state), nmo.assembly_id)
        return out

    @post("/token", opt=roles(SECRETARIAT), operation_id="reissueToken", status_code=200)
    async def reissue(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        delegate_id: int,
    ) -> LoginLink:
        """Revoke the delegate's login link and issue a new one; their sessions end."""
        d = await service.get_delegate(db, delegate_id)
        token = await service.reissue_token(db, ctx_of(state).sealer, d, request.user.actor)
        await db.commit()
        return LoginLink(delegate_id=d.id, login_url=ctx_of(state).login_url(token))

    @get("/login-link", opt=roles(SECRETARIAT), operation_id="getLoginLink")
    async def login_link(self, db: AsyncSession, state: State, delegate_id: int) -> LoginLink:
        """The delegate's current login link (as printed on the card)."""
        d = await service.get_delegate(db, delegate_id)
        return LoginLink(
            delegate_id=d.id,
            login_url=ctx_of(state).login_url(service.login_token(ctx_of(state).sealer, d)),
        )


class MeController(Controller):
    path = "/api/me"
    tags = ["delegates"]

    @post(
        "/check-in",
        opt=roles({Role.delegate, Role.observer}),
        operation_id="selfCheckIn",
        status_code=200,
    )
    async def self_check_in(
        self, db: AsyncSession, request: Request[Principal, Any, Any], state: State, data: CheckIn
    ) -> DelegateOut:
        """Check yourself in or out, when the chair allows self check-in."""
        d = await service.self_check_in(db, request.user, data.present)
        right = await service.voting_right(db, d.nmo_id)
        out = delegate_out(d, right.holder_id)
        await db.commit()
        await announce_credentials(ctx_of(state), request.user.assembly_id or 0)
        return out


class ProxyController(Controller):
    path = "/api/proxies/{proxy_id:int}"
    tags = ["proxies"]

    @delete(
        "/",
        opt=roles({Role.secretariat, Role.delegate}),
        operation_id="revokeProxy",
        status_code=200,
    )
    async def revoke(
        self, db: AsyncSession, request: Request[Principal, Any, Any], state: State, proxy_id: int
    ) -> ProxyOut:
        """Revoke a standing proxy (the giver's head, or the secretariat)."""
        proxy = await service.get_proxy(db, proxy_id)
        ensure_assembly_access(request.user, proxy.assembly_id)
        await service.revoke_proxy(db, request.user, proxy)
        codes = {
            k: v
            for k, v in (
                await db.execute(
                    select(Nmo.id, Nmo.code).where(Nmo.id.in_([proxy.giver_id, proxy.holder_id]))
                )
            )
        }
        out = proxy_out(proxy, codes)
        await db.commit()
        await announce_credentials(ctx_of(state), proxy.assembly_id)
        return out


def api_routes() -> list[Router]:
    return [
        Router(
            path="/",
            guards=[role_guard],
            route_handlers=[
                AuthController,
                StaffController,
                AssemblyController,
                NmoController,
                DelegateController,
                MeController,
                ProxyController,
            ],
        )
    ]


__all__ = ["CHAIR", "api_routes"]
