"""The channels backend of a deployment with several processes: Redis, with the deployment's
prefix on every channel name, so that two deployments sharing one Redis never hear each other
(Redis pub/sub ignores the database number of the URL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis


class PrefixedRedisBackend(RedisChannelsPubSubBackend):
    """Redis pub/sub as `{prefix}:{channel}`; the app still sees the bare channel names."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        super().__init__(redis=redis)
        self._prefix = f"{prefix}:" if prefix else ""
        self._lock: asyncio.Lock | None = None

    def _one_at_a_time(self) -> asyncio.Lock:
        # redis-py's PubSub connects on first use without a lock: phones subscribing at once
        # (a room of them reconnecting) each opened a connection, and only the last one was
        # read, so the other phones heard nothing. Subscriptions go one at a time instead.
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def _in_redis(self, channels: Iterable[str]) -> list[str]:
        return [self._prefix + channel for channel in channels]

    async def subscribe(self, channels: Iterable[str]) -> None:
        async with self._one_at_a_time():
            await super().subscribe(self._in_redis(channels))

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        async with self._one_at_a_time():
            await super().unsubscribe(self._in_redis(channels))

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        await super().publish(data, self._in_redis(channels))

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        async for channel, data in super().stream_events():
            yield channel.removeprefix(self._prefix), data
