"""create_app(settings): the one place that wires the database, channels, routes and pages."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Litestar, MediaType, Request, Response, Router, get
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, ValidationException
from litestar.logging.config import LoggingConfig
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from assembly import __version__
from assembly.audit.keys import SigningKey
from assembly.audit.log import load_audit_key
from assembly.credentials.auth import (
    ALL_ROLES,
    SESSION_COOKIE,
    SessionAuthMiddleware,
    TokenSealer,
    role_guard,
    roles,
)
from assembly.credentials.limits import LoginLimits, TooManyAttempts
from assembly.db import WRITE_INTENT, check_migrated, create_engine
from assembly.errors import DomainError, LoginRequired, NotAuthenticated
from assembly.live.broadcast import as_of, start_reading
from assembly.security import security_headers_middleware
from assembly.settings import Settings
from assembly.voting.writer import BallotWriter

STATIC_DIR = Path(__file__).parent / "static"


@dataclass
class AppContext:
    """What handlers and services need from the running app, kept on app.state.ctx."""

    settings: Settings
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    sealer: TokenSealer
    audit_key: SigningKey
    channels: ChannelsPlugin
    jinja: Environment
    writer: BallotWriter
    turnout_pending: set[int] = field(default_factory=set)
    background: set[asyncio.Task[None]] = field(default_factory=set)
    login_limits: LoginLimits = field(default_factory=LoginLimits)

    def login_url(self, token: str) -> str:
        return f"{self.settings.public_url}/login/{token}"


def _channels_backend(settings: Settings) -> ChannelsBackend:
    if settings.redis_url:
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend
        from redis.asyncio import Redis

        return RedisChannelsPubSubBackend(redis=Redis.from_url(settings.redis_url))
    return MemoryChannelsBackend()


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    return not request.url.path.startswith(("/api/", "/health", "/schema"))


def _error_response(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    message: str,
    errors: list[Any],
    *,
    login_required: bool = False,
) -> Response[Any]:
    if _wants_html(request):
        if login_required and request.method == "GET" and not request.headers.get("hx-request"):
            return Redirect(f"/login?next={request.url.path}")
        headers = {}
        if request.headers.get("hx-request"):
            # htmx swaps the message into the page's alert region instead of the target.
            headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return Template(
            "error.html",
            context={"status": status, "message": message, "errors": errors},
            status_code=status,
            headers=headers,
        )
    body: dict[str, Any] = {"error": code, "message": message}
    if errors:
        body["errors"] = errors
    return Response(body, status_code=status, media_type=MediaType.JSON)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    errors = list(getattr(exc, "errors", []))
    response = _error_response(
        request,
        exc.status,
        exc.code,
        exc.message,
        errors,
        login_required=isinstance(exc, LoginRequired),
    )
    if isinstance(exc, TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


def validation_error_handler(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[Any]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    details = "; ".join(
        f"{e.get('key') or 'body'}: {e.get('message')}" for e in extra if isinstance(e, dict)
    )
    message = f"The request is not valid: {details}" if details else str(exc.detail)
    return _error_response(request, 400, "invalid_request", message, list(extra))


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    return _error_response(request, exc.status_code, "http_error", str(exc.detail), [])


@get("/health", opt=roles(ALL_ROLES), operation_id="health")
async def health(state: State) -> Response[dict[str, Any]]:
    """Whether the database and the real-time channels answer."""
    ctx: AppContext = state.ctx
    report: dict[str, Any] = {"version": __version__}
    ok = True
    try:
        async with ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        report["database"] = {
            "status": "ok",
            "kind": "sqlite" if ctx.settings.is_sqlite else "postgresql",
        }
    except Exception as exc:
        ok = False
        report["database"] = {"status": "error", "message": type(exc).__name__}
    if ctx.settings.redis_url:
        try:
            from litestar.channels.backends.redis import RedisChannelsPubSubBackend

            backend = ctx.channels._backend
            assert isinstance(backend, RedisChannelsPubSubBackend)
            await backend._redis.ping()
            report["channels"] = {"status": "ok", "kind": "redis"}
        except Exception as exc:
            ok = False
            report["channels"] = {"status": "error", "kind": "redis", "message": type(exc).__name__}
    else:
        report["channels"] = {"status": "ok", "kind": "memory"}
    report["status"] = "ok" if ok else "error"
    return Response(report, status_code=200 if ok else 503)


def make_jinja(settings: Settings) -> Environment:
    """One Jinja environment for pages and for the fragments pushed over WebSockets."""
    from assembly.credentials.rules import format_weight

    env = Environment(
        loader=FileSystemLoader(settings.templates_dir),
        autoescape=select_autoescape(["html", "xml", "svg"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["weight"] = format_weight
    env.globals["version"] = __version__
    env.globals["as_of"] = as_of
    return env


class RequestMarksMiddleware:
    """Marks what the rest of a request relies on: when its reading of the state began
    (fragments carry it, so screens keep the newest), and whether it may write (then SQLite
    begins its transactions IMMEDIATE)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start_reading()
        if scope["type"] == ScopeType.HTTP and scope.get("method") not in {
            "GET",
            "HEAD",
            "OPTIONS",
        }:
            token = WRITE_INTENT.set(True)
            try:
                await self.app(scope, receive, send)
            finally:
                WRITE_INTENT.reset(token)
            return
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, *, check_schema: bool = True) -> Litestar:
    """Build the application; nothing is configured at import time."""
    from assembly.agenda.amendment_routes import amendment_api_routes
    from assembly.agenda.routes import agenda_api_routes
    from assembly.audit.routes import audit_api_routes
    from assembly.credentials.pages import page_routes
    from assembly.credentials.routes import api_routes
    from assembly.live.routes import live_routes
    from assembly.publishing.export_routes import export_routes
    from assembly.publishing.minutes_routes import minutes_routes
    from assembly.publishing.pages import record_routes
    from assembly.publishing.routes import publishing_routes
    from assembly.voting.routes import vote_api_routes

    settings = settings or Settings.from_env()
    engine = create_engine(settings)
    session_maker = async_sessionmaker(engine, expire_on_commit=False)
    channels = ChannelsPlugin(
        backend=_channels_backend(settings),
        arbitrary_channels_allowed=True,
        create_ws_route_handlers=False,
    )
    ctx = AppContext(
        jinja=make_jinja(settings),
        settings=settings,
        engine=engine,
        session_maker=session_maker,
        sealer=TokenSealer(settings.secret_key),
        audit_key=load_audit_key(settings),
        channels=channels,
        writer=BallotWriter(engine),
    )
    db_config = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        session_dependency_key="db",
        create_all=False,
    )

    async def on_startup(app: Litestar) -> None:
        if check_schema:
            await check_migrated(engine, settings)
        await ctx.writer.start()

    async def on_shutdown(app: Litestar) -> None:
        await ctx.writer.stop()
        tasks = list(ctx.background)
        for task in tasks:
            task.cancel()
        # Let the cancelled tasks unwind (and hand back their connections) before the pool
        # goes: disposing under a task mid-query could leave a connection's close pending.
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await engine.dispose()

    return Litestar(
        route_handlers=[
            *api_routes(),
            *vote_api_routes(),
            *agenda_api_routes(),
            *amendment_api_routes(),
            *audit_api_routes(),
            *page_routes(),
            *live_routes(),
            *record_routes(),
            *export_routes(),
            *minutes_routes(),
            *publishing_routes(),
            Router(path="/", guards=[role_guard], route_handlers=[health]),
            create_static_files_router(
                path="/static",
                directories=[STATIC_DIR],
                opt=roles(ALL_ROLES),
                include_in_schema=False,
            ),
        ],
        plugins=[SQLAlchemyPlugin(config=db_config), channels],
        middleware=[
            security_headers_middleware,
            RequestMarksMiddleware,
            DefineMiddleware(SessionAuthMiddleware, exclude=["/static", "/schema"]),
        ],
        state=State({"ctx": ctx}),
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        exception_handlers={
            DomainError: domain_error_handler,
            ValidationException: validation_error_handler,
            HTTPException: http_error_handler,
        },
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(ctx.jinja)),
        openapi_config=OpenAPIConfig(
            title="assembly",
            version=__version__,
            description=(
                "JSON API of assembly: credentials, votes and the record of a General Assembly."
            ),
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
        ),
        # Unhandled errors are logged with their traceback (never request bodies).
        logging_config=LoggingConfig(
            log_exceptions="always", disable_stack_trace={400, 401, 403, 404, 405, 409, 422}
        ),
        debug=settings.debug,
    )


__all__ = ["SESSION_COOKIE", "AppContext", "NotAuthenticated", "create_app"]
