"""The floor's rules: points jump the queue in their order, sides alternate when the chair
asks for them, a closed list takes only points, a point of order waits for an open vote,
speaking time is whole seconds, adopted motions change the list, "any objection?" passes
only when nobody objected in time."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assembly.agenda.speakers import (
    Floor,
    Kind,
    Motion,
    Objection,
    Request,
    Side,
    Turn,
    check_request,
    interrupts,
    motion_effect,
    nemo_contra,
    next_request,
    queue,
    reorder,
    speaking_totals,
)
from assembly.errors import Conflict, Invalid

T0 = dt.datetime(2026, 3, 14, 9, 0, tzinfo=dt.UTC)


def speech(id: int, side: Side = Side.NEUTRAL, position: int = 0, nmo: int = 0) -> Request:
    return Request(id=id, nmo_id=nmo or id, delegate_id=id, side=side, position=position)


def point(id: int, kind: Kind) -> Request:
    return Request(id=id, nmo_id=id, delegate_id=id, kind=kind)


requests = st.lists(
    st.builds(
        Request,
        id=st.integers(1, 10_000),
        nmo_id=st.integers(1, 20),
        delegate_id=st.integers(1, 40),
        kind=st.sampled_from(Kind),
        side=st.sampled_from(Side),
        position=st.integers(0, 5),
    ),
    max_size=25,
    unique_by=lambda r: r.id,
)
floors = st.builds(
    Floor,
    closed=st.booleans(),
    sides=st.booleans(),
    vote_open=st.booleans(),
    last_side=st.one_of(st.none(), st.sampled_from([Side.FOR, Side.AGAINST])),
)


@given(floors, requests)
def test_the_queue_holds_every_request_once_with_points_of_order_first(
    floor: Floor, waiting: list[Request]
) -> None:
    order = queue(floor, waiting)
    assert sorted(r.id for r in order) == sorted(r.id for r in waiting)
    ranks = [{Kind.POINT_OF_ORDER: 0, Kind.POINT_OF_INFORMATION: 1}.get(r.kind, 2) for r in order]
    assert ranks == sorted(ranks)
    for kind in (Kind.POINT_OF_ORDER, Kind.POINT_OF_INFORMATION):
        same = [r for r in order if r.kind is kind]
        assert same == sorted(same, key=lambda r: (r.position, r.id))


@given(requests)
def test_without_sides_speeches_follow_the_chairs_positions_then_the_time_asked(
    waiting: list[Request],
) -> None:
    speeches = [r for r in queue(Floor(), waiting) if r.kind is Kind.SPEECH]
    assert speeches == sorted(speeches, key=lambda r: (r.position, r.id))


@given(floors, requests)
def test_with_sides_a_side_speaks_twice_in_a_row_only_when_nobody_else_waits(
    floor: Floor, waiting: list[Request]
) -> None:
    floor = Floor(sides=True, last_side=floor.last_side)
    speeches = [r for r in queue(floor, waiting) if r.kind is Kind.SPEECH]
    last = floor.last_side
    for i, chosen in enumerate(speeches):
        if chosen.side is not Side.NEUTRAL and chosen.side is last:
            assert all(r.side is last for r in speeches[i:])
        if chosen.side is not Side.NEUTRAL:
            last = chosen.side


def test_sides_alternate_and_a_neutral_speech_is_not_held_back() -> None:
    waiting = [
        speech(1, Side.FOR),
        speech(2, Side.FOR),
        speech(3, Side.AGAINST),
        speech(4, Side.NEUTRAL),
        speech(5, Side.AGAINST),
    ]
    order = queue(Floor(sides=True), waiting)
    assert [r.id for r in order] == [1, 3, 2, 4, 5]
    # After a speech against, the next speech for goes first.
    order = queue(Floor(sides=True, last_side=Side.AGAINST), waiting)
    assert [r.id for r in order] == [1, 3, 2, 4, 5]
    order = queue(Floor(sides=True, last_side=Side.FOR), waiting)
    assert [r.id for r in order] == [3, 1, 4, 5, 2]


def test_points_jump_the_queue_order_before_information() -> None:
    waiting = [
        speech(1),
        point(2, Kind.POINT_OF_INFORMATION),
        speech(3),
        point(4, Kind.POINT_OF_ORDER),
    ]
    assert [r.id for r in queue(Floor(), waiting)] == [4, 2, 1, 3]
    first = next_request(Floor(), waiting)
    assert first is not None and first.id == 4
    assert next_request(Floor(), []) is None


def test_a_point_of_order_alerts_the_chair_at_once_but_never_interrupts_a_vote() -> None:
    assert interrupts(Floor(), Kind.POINT_OF_ORDER)
    assert not interrupts(Floor(vote_open=True), Kind.POINT_OF_ORDER)
    assert not interrupts(Floor(), Kind.POINT_OF_INFORMATION)
    assert not interrupts(Floor(), Kind.SPEECH)


def test_a_closed_list_takes_points_but_no_speech() -> None:
    closed = Floor(closed=True)
    with pytest.raises(Conflict, match="speakers' list is closed"):
        check_request(closed, [], 7, Kind.SPEECH, Side.NEUTRAL)
    assert check_request(closed, [], 7, Kind.POINT_OF_ORDER, Side.NEUTRAL) is Side.NEUTRAL


def test_a_delegate_waits_once_per_kind_and_a_side_is_kept_only_when_asked() -> None:
    waiting = [speech(7)]
    with pytest.raises(Conflict, match="already waiting for the floor \\(to speak\\)"):
        check_request(Floor(), waiting, 7, Kind.SPEECH, Side.NEUTRAL)
    # The same delegate may still raise a point, and another delegate may ask to speak.
    assert check_request(Floor(), waiting, 7, Kind.POINT_OF_ORDER, Side.NEUTRAL) is Side.NEUTRAL
    assert check_request(Floor(), waiting, 8, Kind.SPEECH, Side.FOR) is Side.NEUTRAL
    assert check_request(Floor(sides=True), waiting, 8, Kind.SPEECH, Side.FOR) is Side.FOR
    with pytest.raises(Invalid, match="takes no side"):
        check_request(Floor(sides=True), [], 8, Kind.POINT_OF_ORDER, Side.AGAINST)


def test_the_chair_moves_a_speech_and_positions_are_renumbered() -> None:
    waiting = [speech(1), speech(2), speech(3), point(4, Kind.POINT_OF_ORDER)]
    moved = reorder(waiting, 3, 0)
    assert [(r.id, r.position) for r in moved] == [(3, 1), (1, 2), (2, 3)]
    points = [r for r in waiting if r.kind is not Kind.SPEECH]
    assert [r.id for r in queue(Floor(), points + moved)] == [4, 3, 1, 2]
    with pytest.raises(Invalid, match="not a waiting speech"):
        reorder(waiting, 4, 0)
    with pytest.raises(Invalid, match="outside the list \\(1 to 3\\)"):
        reorder(waiting, 1, 3)


def test_speaking_time_counts_whole_seconds_runs_over_and_extends() -> None:
    turn = Turn(nmo_id=1, started_at=T0, allotted_s=120)
    assert turn.remaining_s(T0 + dt.timedelta(seconds=30.9)) == 90
    assert turn.remaining_s(T0 + dt.timedelta(seconds=150)) == -30
    longer = turn.extend(60)
    assert longer.remaining_s(T0 + dt.timedelta(seconds=150)) == 30
    stopped = Turn(1, T0, 120, stopped_at=T0 + dt.timedelta(seconds=45))
    assert stopped.spoken_s(T0 + dt.timedelta(hours=1)) == 45
    with pytest.raises(Conflict, match="already finished"):
        stopped.extend(30)
    with pytest.raises(Invalid, match="positive number of seconds"):
        turn.extend(0)


def test_each_nmos_speaking_time_adds_up_its_turns_the_running_one_to_now() -> None:
    turns = [
        Turn(1, T0, 120, stopped_at=T0 + dt.timedelta(seconds=100)),
        Turn(2, T0 + dt.timedelta(seconds=100), 120, stopped_at=T0 + dt.timedelta(seconds=160)),
        Turn(1, T0 + dt.timedelta(seconds=160), 120),
    ]
    assert speaking_totals(turns, T0 + dt.timedelta(seconds=200)) == {1: 140, 2: 60}


def test_an_adopted_motion_changes_the_list() -> None:
    open_floor = Floor(sides=True)
    closing = motion_effect(open_floor, Motion.CLOSE_LIST)
    assert closing.floor == Floor(closed=True, sides=True) and not closing.clear_speeches
    vote = motion_effect(open_floor, Motion.PROCEED_TO_VOTE)
    assert vote.floor.closed and vote.clear_speeches
    reopened = motion_effect(Floor(closed=True), Motion.REOPEN_DEBATE)
    assert not reopened.floor.closed
    postponed = motion_effect(open_floor, Motion.POSTPONE)
    assert postponed.postpone_item and postponed.clear_speeches
    assert motion_effect(open_floor, Motion.SUSPEND_SESSION).suspend_session
    for motion in (Motion.OVERRULE_CHAIR, Motion.NO_CONFIDENCE, Motion.ADOPT_AGENDA):
        assert motion_effect(open_floor, motion).floor == open_floor


def _at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_any_objection_passes_only_when_nobody_objected_in_time() -> None:
    assert nemo_contra(T0, 20, [], _at(19)) is Objection.PENDING
    assert nemo_contra(T0, 20, [], _at(20)) is Objection.PASSED
    assert nemo_contra(T0, 20, [_at(19)], _at(19)) is Objection.OBJECTED
    assert nemo_contra(T0, 20, [_at(19)], _at(60)) is Objection.OBJECTED
    # Too late: an objection at the deadline or after it does not count.
    assert nemo_contra(T0, 20, [_at(20)], _at(60)) is Objection.PASSED
    # An objection from before the question was asked belongs to another motion.
    assert nemo_contra(T0, 20, [T0 - dt.timedelta(seconds=1)], _at(5)) is (Objection.PENDING)
