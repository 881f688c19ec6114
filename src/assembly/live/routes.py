"""The one WebSocket each screen holds: it receives HTML fragments for htmx to swap in."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import Router, WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from assembly.credentials.auth import LOGGED_IN, Principal, role_guard, roles
from assembly.live.broadcast import assembly_topic


def origin_allowed(socket: WebSocket[Any, Any, Any]) -> bool:
    """Refuse cross-site sockets: the Origin must be this server's own host."""
    origin = socket.headers.get("origin")
    if origin is None:
        return True  # not a browser (a bench or test client); the session still decides
    host = socket.headers.get("host", "")
    return urlsplit(origin).netloc == host


@websocket("/ws/assembly/{assembly_id:int}", opt=roles(LOGGED_IN))
async def assembly_socket(socket: WebSocket[Principal, Any, Any], assembly_id: int) -> None:
    principal = socket.user
    if not origin_allowed(socket) or (
        not principal.is_staff and principal.assembly_id != assembly_id
    ):
        await socket.close(code=4403, reason="forbidden")
        return
    await socket.accept()
    channels = socket.app.state.ctx.channels
    async with (
        channels.start_subscription([assembly_topic(assembly_id)]) as subscriber,
        subscriber.run_in_background(socket.send_data),
    ):
        try:
            while True:
                await socket.receive_data(mode="text")
        except WebSocketDisconnect:
            pass


def live_routes() -> list[Router]:
    return [Router(path="/", guards=[role_guard], route_handlers=[assembly_socket])]
