"""The one WebSocket each screen holds: it receives HTML fragments for htmx to swap in."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit

from litestar import Router, WebSocket, websocket
from litestar.channels import ChannelsPlugin
from litestar.connection import ASGIConnection
from litestar.exceptions import WebSocketDisconnect, WebSocketException
from litestar.handlers.base import BaseRouteHandler

from assembly import i18n
from assembly.credentials.auth import ALL_ROLES, MEMBERS, Principal, check_role, roles
from assembly.errors import DomainError
from assembly.live.broadcast import assembly_topic, delegate_topic, screens_topic

# A WebSocket close reason may carry at most 123 bytes.
_MAX_CLOSE_REASON = 123


async def socket_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """role_guard for sockets: a refusal closes with 4000 + its HTTP status (4401, 4403).

    Litestar maps any other exception raised on a socket to 4500 "Internal Server Error",
    which would tell a logged-out screen that the server is broken.
    """
    try:
        check_role(connection, handler)
    except DomainError as exc:
        said = str(i18n.translate(exc.message))
        reason = said.encode()[:_MAX_CLOSE_REASON].decode(errors="ignore")
        raise WebSocketException(detail=reason, code=4000 + exc.status) from None


def origin_allowed(socket: WebSocket[Any, Any, Any]) -> bool:
    """Refuse cross-site sockets: the Origin must be this server's own host."""
    origin = socket.headers.get("origin")
    if origin is None:
        return True  # not a browser (a bench or test client); the session still decides
    host = socket.headers.get("host", "")
    return urlsplit(origin).netloc == host


@websocket("/ws/assembly/{assembly_id:int}", opt=roles(ALL_ROLES))
async def assembly_socket(socket: WebSocket[Principal, Any, Any], assembly_id: int) -> None:
    """The assembly's topic carries no personal data (counts, questions, results), so the
    public projector may hold it too; a delegate also gets their personal topic. The shared
    topics are the ones in the screen's language (the request's: a page that shows another,
    as the projector does, connects with ?lang=)."""
    principal = socket.user
    foreign = principal.role in MEMBERS and principal.assembly_id != assembly_id
    if not origin_allowed(socket) or foreign:
        await socket.close(code=4403, reason="forbidden")
        return
    lang = i18n.current_language()  # set by LanguageMiddleware for this socket
    topics = [assembly_topic(assembly_id, lang)]
    if principal.delegate_id is not None:
        topics.append(delegate_topic(principal.delegate_id))
    if principal.role not in MEMBERS:
        topics.append(screens_topic(assembly_id, lang))
    await hold_screen(socket, socket.app.state.ctx.channels, topics)


async def hold_screen(
    socket: WebSocket[Any, Any, Any], channels: ChannelsPlugin, topics: list[str]
) -> None:
    """Send the topics' fragments to the screen until it goes away."""

    async def send(fragment: str | bytes) -> None:
        with contextlib.suppress(WebSocketDisconnect, OSError):  # gone: the loop below ends
            await socket.send_data(fragment)

    # Subscribe before accepting: whatever is published once the screen is connected
    # reaches it (the page itself was rendered from the server's state before that).
    async with channels.start_subscription(topics) as subscriber:
        await socket.accept()
        # join=False: a gone screen gets nothing more. Joining waits for every queued fragment
        # to be sent, forever once a send has failed (the dead sender never marks it done),
        # keeping the subscription and holding up the server's shutdown.
        async with subscriber.run_in_background(send, join=False):
            try:
                while True:
                    await socket.receive_data(mode="text")
            except WebSocketDisconnect:
                pass


def live_routes() -> list[Router]:
    return [Router(path="/", guards=[socket_guard], route_handlers=[assembly_socket])]
