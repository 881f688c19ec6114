"""An open vote's ballot sheet is read once per process, however many ballots arrive at once
(voting.service.BallotSheets)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from assembly.voting import service


def sheet_for(vote: Any) -> service.BallotSheet:
    return service.BallotSheet(
        service.OpenVote(vote.id, 1, "motion", 1, "rounds", False, False), ("yes",), {}
    )


def slow_reads(
    monkeypatch: pytest.MonkeyPatch, seconds: float = 0.0, failing: int = 0
) -> list[int]:
    """Replace the database read of a sheet by one that takes `seconds`, fails the first
    `failing` times, and records the id of each vote it reads."""
    calls: list[int] = []

    async def read(_db: Any, vote: Any) -> service.BallotSheet:
        calls.append(vote.id)
        await asyncio.sleep(seconds)
        if len(calls) <= failing:
            raise RuntimeError("database gone")
        return sheet_for(vote)

    monkeypatch.setattr(service, "read_ballot_sheet", read)
    return calls


def a_vote(vote_id: int, state: str = "open") -> Any:
    return SimpleNamespace(id=vote_id, state=state)


async def test_ballots_arriving_together_wait_for_one_read(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = slow_reads(monkeypatch, 0.05)
    sheets = service.BallotSheets()
    got = await asyncio.gather(*(sheets.of(None, a_vote(7)) for _ in range(50)))
    assert reads == [7]
    assert all(g is got[0] for g in got)
    assert sheets.cached(7) is got[0] and sheets.reads == 1


async def test_a_failed_read_fails_its_waiters_and_the_next_ballot_reads_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = slow_reads(monkeypatch, 0.02, failing=1)
    sheets = service.BallotSheets()
    outcomes = await asyncio.gather(
        *(sheets.of(None, a_vote(3)) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(o, RuntimeError) for o in outcomes) and calls == [3]
    assert sheets.cached(3) is None
    assert (await sheets.of(None, a_vote(3))).vote.id == 3
    assert calls == [3, 3]


async def test_a_cancelled_reader_leaves_its_waiters_to_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = slow_reads(monkeypatch, 0.05)
    sheets = service.BallotSheets()
    first = asyncio.create_task(sheets.of(None, a_vote(4)))
    await asyncio.sleep(0.01)
    waiter = asyncio.create_task(sheets.of(None, a_vote(4)))
    await asyncio.sleep(0.01)
    first.cancel()
    assert (await waiter).vote.id == 4
    assert calls == [4, 4]


async def test_a_sheet_is_kept_only_for_an_open_vote(monkeypatch: pytest.MonkeyPatch) -> None:
    slow_reads(monkeypatch)
    sheets = service.BallotSheets()
    await sheets.of(None, a_vote(5, "closed"))
    assert sheets.cached(5) is None
