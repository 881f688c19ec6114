"""create_app(settings): the one place that wires the database, channels, routes and pages."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.bccache import Bucket
from jinja2.runtime import Context
from litestar import Litestar, MediaType, Request, Response, Router, get
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.exceptions import (
    ClientException,
    HTTPException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.logging.config import LoggingConfig
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.base import csrf_token
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Receive, Scope, Send
from markupsafe import Markup
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from assembly import __version__, i18n
from assembly.audit.keys import SigningKey
from assembly.audit.log import load_audit_key
from assembly.credentials.auth import (
    ALL_ROLES,
    SESSION_COOKIE,
    SessionAuthMiddleware,
    TokenSealer,
    remember_delegates,
    role_guard,
    roles,
)
from assembly.credentials.limits import LoginLimits, TooManyAttempts
from assembly.credentials.principals import Principals, watch
from assembly.db import (
    WRITE_INTENT,
    check_migrated,
    checkpoint_wal,
    checkpoints_in_background,
    create_engine,
)
from assembly.errors import (
    MAX_NUMBER,
    DomainError,
    LoginRequired,
    NotAuthenticated,
    NotFound,
    UnsupportedMediaType,
)
from assembly.i18n import t
from assembly.language import AssemblyLanguages, LanguageMiddleware, known_language
from assembly.live import processes
from assembly.live.broadcast import as_of, start_reading
from assembly.openapi import JSON_PATHS, ClosedStructSchemaPlugin, declare_error_responses
from assembly.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_MESSAGE,
    CSRF_REFUSED,
    csrf_config,
    csrf_cookie_valid,
    log_exception_by_route,
    security_headers_hook,
)
from assembly.settings import Settings
from assembly.voting.service import BallotSheet, BallotSheets
from assembly.voting.writer import BallotWriter

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
# The largest request body a route takes unless it says otherwise: ample for any form or
# JSON request, and a bound on what a client can make the server read.
MAX_BODY_BYTES = 1_000_000


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
    # Each open vote's options and frozen electorate, read once per process (ballot checks).
    ballot_sheets: BallotSheets = field(default_factory=BallotSheets)
    assembly_languages: AssemblyLanguages = field(default_factory=AssemblyLanguages)
    # Who each session cookie belongs to, for a moment (credentials/principals.py).
    principals: Principals = field(default_factory=Principals)

    def login_url(self, token: str) -> str:
        return f"{self.settings.public_url}/login/{token}"

    def __post_init__(self) -> None:
        self.ballot_sheets.on_read = self.remember_casters

    def in_background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` as a task of the app's: kept until it ends, cancelled at shutdown."""
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    def remember_casters(self, sheet: BallotSheet) -> None:
        """When this process reads an open vote's sheet, it reads the principals of every
        caster's live sessions too, in one query in the background: their ballots then find
        them remembered. Without it, with several server processes, each phone's ballot
        reached a process that had not seen that phone yet about half the time, and looked
        up its session alone: a third of a worker's time in the burst (BENCHMARKS.md)."""

        async def remember() -> None:
            try:
                await remember_delegates(self.engine, self.principals, sheet.casters)
            except Exception:
                # Only a head start: each request still looks up its own session.
                log.exception("reading the principals of vote %s's casters failed", sheet.vote.id)

        self.in_background(remember())


def _channels_backend(settings: Settings) -> ChannelsBackend:
    if settings.redis_url:
        from redis.asyncio import Redis

        from assembly.live.backends import PrefixedRedisBackend

        return PrefixedRedisBackend(Redis.from_url(settings.redis_url), settings.channel_prefix)
    return MemoryChannelsBackend()


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    return not request.url.path.startswith(JSON_PATHS)


def _error_response(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    message: str,
    errors: list[Any],
    *,
    login_required: bool = False,
) -> Response[Any]:
    # In the request's language: LanguageMiddleware chose it, unless the request was refused
    # before reaching it (no such route, for one); the error page renders after this returns.
    lang = known_language(request) or i18n.DEFAULT_LANGUAGE
    i18n.CURRENT.set(lang)
    message = i18n.translate(message, lang)
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


async def refuse_bad_requests(request: Request[Any, Any, Any]) -> None:
    """What every request must be before its handler reads it. An id in the path beyond
    MAX_NUMBER names nothing that exists (the query's numbers are bounded where they are
    declared). A JSON API body is sent as JSON (a form or text/plain body is what a page of
    another site could send without asking the browser first), with the types its schema
    declares: Litestar would turn 1 into true and "2" into 2."""
    for name, value in request.path_params.items():
        if isinstance(value, int) and abs(value) > MAX_NUMBER:
            what = "version" if name == "number" else name.removesuffix("_id").replace("_", " ")
            raise NotFound(t("There is no {what} {value}.", what=what, value=value))
    params = [("path", k, v) for k, v in request.path_params.items()]
    params += [("query", k, v) for k, v in request.query_params.multi_items()]
    for source, key, value in params:
        _refuse_bad_text(value, key, source)
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None or not request.url.path.startswith("/api/"):
        return
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            t(
                "Send the body as JSON (Content-Type: application/json), not {media_type}.",
                media_type=media_type,
            )
        )
    if not await request.body():
        return  # the handler says that the body is missing
    try:
        body = await request.json()
    except SerializationException as exc:
        raise ClientException(str(exc)) from exc  # malformed JSON: see http_error_handler
    _refuse_bad_text(body, "", "body")
    try:
        msgspec.convert(body, data.annotation, strict=True)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$")
        key = where.rstrip("`").lstrip(".") or "body"
        raise ValidationException(
            extra=[{"message": message, "key": key, "source": "body"}]
        ) from None


def _refuse_bad_text(value: Any, where: str, source: str) -> None:
    """Text that no database column takes (PostgreSQL's refuse it, SQLite's would keep it):
    a NUL character, or half of a UTF-16 surrogate pair."""
    if isinstance(value, str):
        if "\x00" in value or (not value.isascii() and _not_utf8(value)):
            raise ValidationException(
                extra=[
                    {
                        "message": t(
                            "text may not hold a NUL character (\\u0000) or an unpaired surrogate "
                            "(\\ud800 to \\udfff)"
                        ),
                        "key": where or source,
                        "source": source,
                    }
                ]
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_bad_text(key, where or source, source)
            _refuse_bad_text(item, f"{where}.{key}" if where else str(key), source)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_bad_text(item, f"{where}[{i}]", source)


def _not_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


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


def _explain(error: dict[str, Any]) -> str:
    key, message = error.get("key") or "body", error.get("message")
    if error.get("source") == "body" and message == f"'{key}'":
        # Litestar's word for a body that is not there at all.
        return t("body: the request has no body; send it as JSON")
    return f"{key}: {message}"


def validation_error_handler(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[Any]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    details = "; ".join(_explain(e) for e in extra if isinstance(e, dict))
    message = (
        t("The request is not valid: {details}", details=details) if details else str(exc.detail)
    )
    return _error_response(request, 400, "invalid_request", message, list(extra))


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, PermissionDeniedException) and exc.detail == CSRF_REFUSED:
        response = _error_response(request, 403, "csrf_failed", CSRF_MESSAGE, [])
        cookie = request.cookies.get(CSRF_COOKIE)
        settings: Settings = request.app.state.ctx.settings
        if cookie is not None and not csrf_cookie_valid(settings, cookie):
            # Made under another secret key: drop it, so that the reload gets a valid one.
            response.delete_cookie(CSRF_COOKIE, path="/")
        return response
    if exc.status_code == 413:
        limit = request.route_handler.resolve_request_max_body_size()
        message = t(
            "The request body is too large: this address takes at most {limit:,} bytes.",
            limit=limit,
        )
        return _error_response(request, 413, "too_large", message, [])
    if isinstance(exc.__cause__, SerializationException):
        detail = str(exc.detail)
        if not detail.startswith("JSON"):
            detail = f"JSON is malformed: {detail[:1].lower()}{detail[1:]}"
        return _error_response(request, exc.status_code, "invalid_json", detail, [])
    return _error_response(request, exc.status_code, "http_error", str(exc.detail), [])


@get(
    "/health",
    opt=roles(ALL_ROLES),
    operation_id="health",
    responses={
        503: ResponseSpec(
            dict[str, Any],
            generate_examples=False,
            description="The database or the real-time channels do not answer",
        )
    },
)
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


@pass_context
def csrf_field(context: Context) -> Markup:
    """A plain form's hidden CSRF token (htmx requests send it as a header, static/csrf.js).
    Fragments pushed over the WebSocket render without a request, so without a token: only
    pages running JavaScript receive them, and there htmx and ballot.js send the header."""
    token = csrf_token(context.get_all()) if "request" in context else ""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


class CompiledTemplates(BytecodeCache):
    """Compiled templates kept in memory for every environment of the process: an app built
    again (tests build one per test) does not compile its templates again. Jinja checks each
    template's source checksum, so an edited template is compiled afresh."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if (code := self.store.get(bucket.key)) is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


def make_jinja(settings: Settings) -> Environment:
    """One Jinja environment for pages and for the fragments pushed over WebSockets."""
    from assembly.credentials.rules import format_weight

    env = Environment(
        loader=FileSystemLoader(settings.templates_dir),
        bytecode_cache=COMPILED_TEMPLATES,
        autoescape=select_autoescape(["html", "xml", "svg"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["weight"] = format_weight
    # Pages and pushed fragments are translated into the language of the work in hand.
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext, ngettext=i18n.ngettext, pgettext=i18n.pgettext, newstyle=True
    )
    env.policies["ext.i18n.trimmed"] = True  # {% trans %} text is one line, as extracted
    env.filters["translate"] = i18n.translate
    # A t() message printed as it is ({{ error }}) is shown in the reader's language too.
    env.finalize = i18n.translate
    env.globals["current_language"] = i18n.current_language
    env.globals["languages"] = i18n.LANGUAGES
    env.globals["csrf_field"] = csrf_field
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


def _refusals(cls: type[Exception] = DomainError) -> set[type[Exception]]:
    """Every refusal the domain raises: the class and all its subclasses."""
    found: set[type[Exception]] = {cls}
    for sub in cls.__subclasses__():
        found |= _refusals(sub)
    return found


GC_GEN0_THRESHOLD = 10_000


def tune_gc() -> None:
    """The garbage collector set for a long-running server process, once it has started.

    gc.freeze() takes what start-up made (modules, routes, compiled templates: objects that
    live as long as the process) out of every later collection. The youngest generation is
    collected after 10,000 new objects instead of 700, so fewer of a request's short-lived
    objects are still alive at a collection and promoted to the older generations, whose full
    collections walk every object in the process. With 2,000 phones connected those took up to
    0.3 s each, twelve times in one bench run, stopping every request and push meanwhile
    (BENCHMARKS.md); tuned, none ran and the longest pause was 47 ms."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])


def compile_templates(app: Litestar) -> None:
    """Every template compiled before the first request, not by the first push that uses it:
    the first vote opened in a process compiled five, 30-40 ms while 2,000 phones waited for
    their ballot. Tests skip this (they compile what they use, once per test process)."""
    jinja: Environment = app.state.ctx.jinja
    for name in jinja.list_templates():
        jinja.get_template(name)


def create_server_app() -> Litestar:
    """The app as `assembly serve` runs it in each server process: create_app() from the
    environment, its templates compiled and the garbage collector tuned once it has started
    (compile_templates, tune_gc). Tests build their apps with create_app and leave the test
    process's collector alone."""
    app = create_app()
    app.on_startup.extend([compile_templates, tune_gc])
    return app


def create_app(settings: Settings | None = None, *, check_schema: bool = True) -> Litestar:
    """Build the application; nothing is configured at import time."""
    from assembly.agenda.amendment_routes import amendment_api_routes
    from assembly.agenda.routes import agenda_api_routes
    from assembly.audit.routes import audit_api_routes
    from assembly.credentials.pages import page_routes
    from assembly.credentials.routes import api_routes
    from assembly.language import language_routes
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
    watch(engine.sync_engine, ctx.principals)
    if settings.is_sqlite:
        checkpoints_in_background(engine)
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
        if settings.is_sqlite:
            ctx.in_background(checkpoint_wal(engine))
        # Read the catalogues now, not in the first push to the room (a vote opening).
        for lang in i18n.LANGUAGES:
            i18n.translations(lang)

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

    app = Litestar(
        route_handlers=[
            *api_routes(),
            *vote_api_routes(),
            *agenda_api_routes(),
            *amendment_api_routes(),
            *audit_api_routes(),
            *page_routes(),
            *live_routes(),
            *language_routes(),
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
        plugins=[SQLAlchemyPlugin(config=db_config), channels, ClosedStructSchemaPlugin()],
        middleware=[
            RequestMarksMiddleware,
            DefineMiddleware(SessionAuthMiddleware, exclude=["/static", "/schema"]),
            # After the session: a delegate's stored language is one of its inputs.
            LanguageMiddleware,
        ],
        before_send=[security_headers_hook(settings)],
        csrf_config=csrf_config(settings),
        before_request=refuse_bad_requests,
        # Routes that take a whole document or a file to import allow more (5 MB).
        request_max_body_size=MAX_BODY_BYTES,
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
        # Unhandled errors are logged with their traceback and route (never request bodies,
        # nor paths, which may carry login tokens).
        logging_config=LoggingConfig(
            log_exceptions="always",
            # Refusals (a wrong password, a closed vote) are answers, not failures: they are
            # not logged, so the log holds what needs a look.
            disable_stack_trace={400, 401, 403, 404, 405, 409, 413, 415, 422, 429, *_refusals()},
            exception_logging_handler=log_exception_by_route,
        ),
        debug=settings.debug,
    )
    declare_error_responses(app)

    async def hear_other_processes(app: Litestar) -> None:
        # After the channels plugin has started (its start-up hook comes before this one).
        # Start-up waits for the first subscription (at most 10 s), not for its success.
        subscribed = asyncio.Event()
        ctx.in_background(processes.listen(ctx, subscribed))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscribed.wait(), timeout=10)

    app.on_startup.append(hear_other_processes)
    return app


__all__ = ["SESSION_COOKIE", "AppContext", "NotAuthenticated", "create_app"]
