"""Shapes of the voting JSON API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from assembly.openapi import Id


class Struct(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class VoteCreate(Struct):
    question: str
    kind: str = "motion"
    description: str = ""
    rule: str | None = None
    base: str | None = None
    secret: bool = False
    seats: int = 1
    method: str = "rounds"
    candidates: list[str] = msgspec.field(default_factory=list)


class VoteOpen(Struct):
    countdown_s: int | None = None


class Countdown(Struct):
    seconds: int


class ProjectorShow(Struct):
    show: bool = True


class OptionOut(Struct):
    key: str
    label: str


class VoteOut(Struct):
    id: int
    assembly_id: int
    kind: str
    question: str
    description: str
    rule: str
    base: str
    secret: bool
    seats: int
    method: str
    round_no: int
    parent_id: int | None
    state: str
    options: list[OptionOut]
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None
    countdown_ends_at: dt.datetime | None
    on_projector: bool
    result: dict[str, Any] | None
    # What the vote decides besides its question: "agenda", "amendment" or "document".
    subject_kind: str | None = None
    subject_id: int | None = None


class BallotIn(Struct):
    nmo_id: Id
    ballot_id: str
    choice: str | None = None
    marks: list[str] | None = None
    tracker: str = ""


class BallotSubmission(Struct):
    ballots: list[BallotIn]


class BallotResultOut(Struct):
    nmo_id: int
    nmo_code: str
    status: str
    receipt: str
    message: str


class CastOut(Struct):
    vote_id: int
    ballots: list[BallotResultOut]
    message: str = ""


class TurnoutOut(Struct):
    vote_id: int
    state: str
    ballots: int
    weight_cast: str
    electorate: int
    electorate_weight: str
    not_voted: list[str] | None  # NMO codes, named votes only


class MyRight(Struct):
    nmo_id: int
    nmo_code: str
    weight: str
    via_proxy: bool
    voted: bool
    receipt: str


class MyVoteOut(Struct):
    vote: VoteOut
    rights: list[MyRight]
