"""Which language a request is answered in, and the chooser that changes it.

In order: `?lang=` in the address (the projector's live updates, which follow the page
they belong to), the choice made on this device (the `lang` cookie), the logged-in
delegate's stored language, the browser's Accept-Language (the JSON API and the staff
screens), the assembly's language, English. The result is i18n.CURRENT for the request.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Request, Router, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, State
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly import i18n
from assembly.credentials.auth import ALL_ROLES, Principal, role_guard, roles
from assembly.db import only_reading
from assembly.errors import Invalid

LANG_COOKIE = "lang"
LANG_QUERY = "lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
# How long the assembly's language is remembered between requests: the fallback costs a
# query only when nothing else decided, and a change of it shows within this time.
ASSEMBLY_LANGUAGE_TTL_S = 5.0
_SCOPE_KEY = "language"

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def accepted(header: str | None) -> str | None:
    """The language we offer that the Accept-Language header prefers most, or None."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        code = i18n.supported(tag)
        if code is not None and quality > 0:
            ranked.append((-quality, position, code))
    return min(ranked)[2] if ranked else None


class AssemblyLanguages:
    """The assemblies' languages, read from the database at most every few seconds."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[float, str | None]] = {}

    async def of(
        self, connection: ASGIConnection[Any, Any, Any, Any], assembly_id: int
    ) -> str | None:
        from assembly.credentials.models import Assembly

        now = time.monotonic()
        known = self._known.get(assembly_id)
        if known is not None and now - known[0] < ASSEMBLY_LANGUAGE_TTL_S:
            return known[1]
        with only_reading():  # never take SQLite's write lock for it
            async with connection.app.state.ctx.session_maker() as db:
                stored = await db.scalar(
                    select(Assembly.language).where(Assembly.id == assembly_id)
                )
        code = i18n.supported(stored)
        self._known[assembly_id] = (now, code)
        return code

    def forget(self, assembly_id: int) -> None:
        self._known.pop(assembly_id, None)


def _assembly_of(connection: ASGIConnection[Any, Any, Any, Any]) -> int | None:
    """The assembly a request is about: in its path, its query, or the delegate's own."""
    raw: object = connection.scope.get("path_params", {}).get("assembly_id")
    if raw is None:
        raw = connection.query_params.get("assembly")
    if raw is None:
        principal = connection.scope.get("user")
        raw = principal.assembly_id if isinstance(principal, Principal) else None
    try:
        return int(raw) if isinstance(raw, (int, str)) else None
    except ValueError:
        return None


def chosen_language(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The reader's own choice: in the address, on this device, or stored with the delegate."""
    explicit = i18n.supported(connection.query_params.get(LANG_QUERY))
    if explicit is not None:
        return explicit
    cookie = i18n.supported(connection.cookies.get(LANG_COOKIE))
    if cookie is not None:
        return cookie
    principal = connection.scope.get("user")
    if isinstance(principal, Principal) and principal.delegate_id is not None:
        return i18n.supported(principal.language)
    return None


def known_language(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """Every step of the order but the assembly's language, which needs the database: the
    middleware's decision, the reader's choice, the browser's Accept-Language."""
    return (
        language_decided(connection.scope)
        or chosen_language(connection)
        or accepted(connection.headers.get("accept-language"))
    )


async def request_language(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The language to answer this request in (see the module's docstring for the order)."""
    code = known_language(connection)
    if code is None:
        assembly_id = _assembly_of(connection)
        languages: AssemblyLanguages = connection.app.state.ctx.assembly_languages
        if assembly_id is not None and 0 < assembly_id < 2**31:
            code = await languages.of(connection, assembly_id)
    return code or i18n.DEFAULT_LANGUAGE


def language_decided(scope: Scope) -> str | None:
    """The language the middleware chose for this request (None before it ran)."""
    decided = scope.get(_SCOPE_KEY)
    return decided if isinstance(decided, str) else None


class LanguageMiddleware:
    """Sets i18n.CURRENT for the request (and for a socket, for as long as it is held).
    Runs after the session middleware, which knows the delegate and their language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        code = await request_language(ASGIConnection(scope, receive, send))
        scope[_SCOPE_KEY] = code  # type: ignore[literal-required]
        token = i18n.CURRENT.set(code)
        await self.app(scope, receive, send)
        # Not reset when the app raised: a refusal raised before the handler (a failed CSRF
        # check) is answered by the app's outer error handler, after this frame, in `code`.
        i18n.CURRENT.reset(token)


def language_cookie(code: str, state: State) -> Cookie:
    return Cookie(
        key=LANG_COOKIE,
        value=code,
        httponly=True,
        samesite="lax",
        secure=state.ctx.settings.secure_cookies,
        max_age=COOKIE_MAX_AGE_S,
        path="/",
    )


async def store_delegate_language(db: AsyncSession, delegate_id: int, code: str) -> None:
    from assembly.credentials.models import Delegate

    delegate = await db.get(Delegate, delegate_id)
    if delegate is not None and delegate.language != code:
        delegate.language = code


@post("/language", opt=roles(ALL_ROLES), include_in_schema=False, status_code=303)
async def choose_language(
    db: AsyncSession, request: Request[Principal, Any, Any], state: State, data: Form
) -> Redirect:
    """Show this device's screens in another language; a delegate's choice is also kept with
    them, so that what is pushed to their phone comes in it too."""
    from assembly.credentials.pages import safe_next

    code = i18n.supported(data.get("language"))
    if code is None or code != (data.get("language") or "").strip().lower():
        raise Invalid(i18n.t("Choose one of the languages offered."))
    principal = request.user
    if principal.delegate_id is not None:
        await store_delegate_language(db, principal.delegate_id, code)
        await db.commit()
    target = safe_next(data.get("next")) or "/"
    return Redirect(target, cookies=[language_cookie(code, state)], status_code=303)


def language_routes() -> list[Router]:
    return [Router(path="/", guards=[role_guard], route_handlers=[choose_language])]
