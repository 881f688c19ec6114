"""Security headers on every HTTP response (pages, API and static files alike), the CSRF
protection of every unsafe request, and error logs that name no secret."""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash
from litestar.types import BeforeMessageSendHookHandler, Logger, Message, Scope

from assembly.i18n import t
from assembly.settings import Settings

# Scripts, styles, fonts and images come from the app itself only: no inline script or style
# attribute anywhere (htmx's own indicator style is switched off in base.html), and 'self'
# covers the same-origin WebSocket of the live screens. The QR codes are inline SVG markup
# with presentation attributes, which no style-src rule touches.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


# Sent only when the public URL is https: a browser then refuses plain http to this host for
# a year. Over http (a venue's LAN, a laptop) browsers ignore it, and it would be wrong.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def security_headers(settings: Settings) -> dict[str, str]:
    if settings.over_https:
        return {**SECURITY_HEADERS, "Strict-Transport-Security": STRICT_TRANSPORT_SECURITY}
    return dict(SECURITY_HEADERS)


def security_headers_hook(settings: Settings) -> BeforeMessageSendHookHandler:
    """A `before_send` hook giving each HTTP response start security_headers(settings). A
    hook rather than a middleware: it also reaches the responses no route handles (404, 405)."""
    all_headers = security_headers(settings)

    # A coroutine: Litestar runs a plain function hook in its thread pool, which cost a
    # thread hand-off for every response start, body and WebSocket message sent.
    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            headers = MutableScopeHeaders.from_message(message)
            for name, value in all_headers.items():
                headers[name] = value

    return add_headers


# Double-submit CSRF protection (Litestar's CSRFMiddleware): any GET sets the `csrftoken`
# cookie; an unsafe request must echo it, in the X-CSRFToken header (htmx via static/csrf.js
# and ballot.js, both reading <meta name="csrf-token">; API clients) or in a form's
# `_csrf_token` field (forms posted without JavaScript). A cross-site page can neither read
# the cookie nor set the header. The token is an HMAC with a key derived from
# ASSEMBLY_SECRET_KEY.
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "X-CSRFToken"
CSRF_FIELD = "_csrf_token"
# litestar.middleware.csrf refuses with a PermissionDeniedException carrying this detail.
CSRF_REFUSED = "CSRF token verification failed"
CSRF_MESSAGE = t(
    "This page's security token is missing or out of date, so the request was refused and "
    "nothing was changed. Reload the page and try again. (Programs: send the X-CSRFToken "
    "header with the value of the csrftoken cookie that any GET request sets.)"
)
# Called without a browser session by design, so there is no session to forge a request in:
# a witness posts its cosignature from `assembly audit witness` (the key's signature is what
# counts). Routes opt out with opt={CSRF_EXEMPT: True}.
CSRF_EXEMPT = "exclude_from_csrf"


def csrf_secret(settings: Settings) -> str:
    return (
        HKDF(algorithm=hashes.SHA256(), length=32, salt=b"assembly-csrf", info=b"v1")
        .derive(settings.secret_key.encode())
        .hex()
    )


def csrf_config(settings: Settings) -> CSRFConfig:
    return CSRFConfig(
        secret=csrf_secret(settings),
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER.lower(),
        # HttpOnly like the session cookie: scripts read the token from the page instead.
        cookie_httponly=True,
        cookie_samesite="lax",
        cookie_secure=settings.secure_cookies,
        exclude_from_csrf_key=CSRF_EXEMPT,
    )


def csrf_cookie_valid(settings: Settings, value: str) -> bool:
    """Whether a csrftoken cookie was made with this server's key. Litestar reuses any
    cookie on a GET without checking it, so one made under an earlier ASSEMBLY_SECRET_KEY
    would fail every form until it is dropped (see app.http_error_handler)."""
    token, mac = value[:CSRF_SECRET_LENGTH], value[CSRF_SECRET_LENGTH:]
    expected = generate_csrf_hash(token=token, secret=csrf_secret(settings))
    return len(token) == CSRF_SECRET_LENGTH and hmac.compare_digest(mac, expected)


def log_exception_by_route(logger: Logger, scope: Scope, tb: list[str]) -> None:
    """Log an unhandled exception with its route's template, not the request's path
    (Litestar's default): the path of /login/{token} is a login token, and a mistyped one is
    one character away from a real one."""
    logger.exception(
        "Uncaught exception (connection_type=%s, route=%r):",
        scope["type"],
        scope.get("path_template") or "(none)",
    )
