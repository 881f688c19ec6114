"""HTML pages (htmx) of the credentials domain; left out of the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly import i18n
from assembly.credentials import service
from assembly.credentials.auth import ALL_ROLES, SESSION_COOKIE, Principal, Role, role_guard, roles
from assembly.credentials.limits import TooManyAttempts
from assembly.credentials.models import Assembly
from assembly.credentials.routes import session_cookie
from assembly.db import WRITE_INTENT
from assembly.errors import NotAuthenticated

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def home_for(principal: Principal) -> str:
    """Where each role lands after logging in."""
    return {
        Role.secretariat: "/secretariat",
        Role.chair: "/chair",
        Role.desk: "/desk",
        Role.delegate: "/delegate",
        Role.observer: "/delegate",
    }.get(principal.role, "/")


def safe_next(target: str | None) -> str | None:
    """Only follow local paths after login, never another site."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@get("/", opt=roles(ALL_ROLES), include_in_schema=False)
async def index(db: AsyncSession, request: Request[Principal, Any, Any]) -> Template | Redirect:
    if request.user.role is not Role.public:
        return Redirect(home_for(request.user))
    # The assemblies' names are public (the projector shows them), and so are their logs.
    assemblies = (await db.execute(select(Assembly).order_by(Assembly.id.desc()))).scalars()
    return Template(
        "index.html", context={"principal": request.user, "assemblies": list(assemblies)}
    )


@get("/login", opt=roles(ALL_ROLES), include_in_schema=False)
async def login_page(request: Request[Principal, Any, Any], next: str | None = None) -> Template:
    return Template(
        "login.html",
        context={"principal": request.user, "next": safe_next(next) or "", "message": ""},
    )


@post("/login", opt=roles(ALL_ROLES), include_in_schema=False, status_code=303)
async def login_submit(db: AsyncSession, state: State, data: Form) -> Response[Any]:
    try:
        secret = await service.staff_login(
            db,
            data.get("username", ""),
            data.get("password", ""),
            state.ctx.settings.session_max_age_s,
            state.ctx.login_limits,
        )
    except (NotAuthenticated, TooManyAttempts) as exc:
        return Template(
            "login.html",
            context={"next": safe_next(data.get("next")) or "", "message": exc.message},
            status_code=exc.status,
        )
    await db.commit()
    principal = Principal(Role.public)
    user_role = await _staff_role(db, data.get("username", ""))
    if user_role is not None:
        principal = Principal(user_role)
    target = safe_next(data.get("next")) or home_for(principal)
    return Redirect(target, cookies=[session_cookie(secret, state)], status_code=303)


async def _staff_role(db: AsyncSession, username: str) -> Role | None:
    from assembly.credentials.models import StaffUser

    role = await db.scalar(select(StaffUser.role).where(StaffUser.username == username.strip()))
    return Role(role) if role else None


@get("/login/{token:str}", opt=roles(ALL_ROLES), include_in_schema=False)
async def delegate_login(
    db: AsyncSession, request: Request[Principal, Any, Any], state: State, token: str
) -> Response[Any]:
    """The link on a delegate's card: opening it on a phone starts a session. A language
    chosen on this phone before is kept as the delegate's."""
    from assembly.language import LANG_COOKIE, store_delegate_language

    WRITE_INTENT.set(True)  # a GET that writes (the session): begin IMMEDIATE on SQLite
    delegate, secret = await service.delegate_login(
        db, token, state.ctx.settings.session_max_age_s, state.ctx.login_limits
    )
    if chosen := i18n.supported(request.cookies.get(LANG_COOKIE)):
        await store_delegate_language(db, delegate.id, chosen)
    await db.commit()
    return Redirect("/delegate", cookies=[session_cookie(secret, state)], status_code=303)


@post("/logout", opt=roles(ALL_ROLES), include_in_schema=False, status_code=303)
async def logout(db: AsyncSession, request: Request[Any, Any, Any], state: State) -> Response[Any]:
    await service.logout(db, request.cookies.get(SESSION_COOKIE))
    await db.commit()
    return Redirect("/", cookies=[session_cookie("", state, max_age=0)], status_code=303)


def page_routes() -> list[Router]:
    from assembly.agenda import amendment_screens, document_screens, floor_screens, rollcall_screens
    from assembly.agenda import screens as agenda_screens
    from assembly.audit import screens as audit_screens
    from assembly.credentials import screens
    from assembly.voting import screens as voting_screens

    return [
        Router(
            path="/",
            guards=[role_guard],
            include_in_schema=False,
            route_handlers=[
                index,
                login_page,
                login_submit,
                delegate_login,
                logout,
                *screens.handlers(),
                *voting_screens.handlers(),
                *agenda_screens.handlers(),
                *document_screens.handlers(),
                *amendment_screens.handlers(),
                *floor_screens.FLOOR_PAGES,
                *rollcall_screens.ROLL_CALL_PAGES,
                *audit_screens.handlers(),
            ],
        )
    ]
