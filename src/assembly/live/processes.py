"""What the server processes tell each other (with Redis, every process of the deployment;
embedded, the one process hears itself).

A vote opened or closed in one process is news for the others: each keeps the open votes'
ballot sheets (voting.service.BallotSheets) and, with each sheet, its casters' sessions. When
a vote opens, every process reads its sheet at once instead of with the first ballot it
takes, so that the burst of ballots after an opening finds everything in place in every
process; when it closes, every process drops the sheet at once (the ballot writer would
refuse the vote's ballots anyway: it reads the vote's state where it stores them).

The news is a hint, never the truth: a process that misses it (Redis restarted) reads the
sheet with the first ballot, as before."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from assembly.db import only_reading

if TYPE_CHECKING:
    from assembly.app import AppContext

log = logging.getLogger(__name__)

PROCESSES_TOPIC = "processes"
RETRY_S = 5.0


def vote_news(ctx: AppContext, vote_id: int, state: str) -> None:
    """Tell every server process (this one too) that a vote is now in `state`."""
    message = json.dumps({"vote": vote_id, "state": state}, separators=(",", ":"))
    ctx.channels.publish(message, [PROCESSES_TOPIC])


async def heard(ctx: AppContext, message: bytes) -> None:
    """Act on one message of PROCESSES_TOPIC: read an opened vote's sheet (and with it its
    casters' sessions) unless this process has it; drop a closed or cancelled vote's."""
    from assembly.voting.models import Vote

    news = json.loads(message)
    vote_id, state = int(news["vote"]), str(news["state"])
    if state != "open":
        ctx.ballot_sheets.forget(vote_id)
        return
    if ctx.ballot_sheets.cached(vote_id) is not None:
        return  # the process that opened it, or news heard twice
    with only_reading():
        async with ctx.session_maker() as db:
            vote = await db.get(Vote, vote_id)
            if vote is not None and vote.state == "open":
                await ctx.ballot_sheets.of(db, vote)


async def listen(ctx: AppContext, subscribed: asyncio.Event | None = None) -> None:
    """Hear PROCESSES_TOPIC until cancelled (a task started with the app). A message that
    cannot be acted on is logged and the next one heard. If the subscription fails (Redis
    unreachable), that is logged and tried again every RETRY_S: the server serves meanwhile,
    as it did before it heard the others, and /health says what is wrong with Redis.
    `subscribed` is set once the first attempt has succeeded or failed."""
    while True:
        try:
            async with ctx.channels.start_subscription([PROCESSES_TOPIC]) as subscriber:
                if subscribed is not None:
                    subscribed.set()
                async for message in subscriber.iter_events():
                    try:
                        await heard(ctx, message)
                    except Exception:
                        log.exception("news from another server process could not be acted on")
        except Exception:
            log.warning(
                "cannot hear the other server processes; trying again in %s s",
                RETRY_S,
                exc_info=True,
            )
            if subscribed is not None:
                subscribed.set()
            await asyncio.sleep(RETRY_S)
