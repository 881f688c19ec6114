"""The roll call's rules as plain functions: who may answer for which NMO, how a phone's
confirmation and a desk's mark meet, how far the roll call has got, and the quorum it makes
by the assembly's own rule; then properties over generated assemblies and answer sequences."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assembly.agenda.rollcall_rules import (
    Answer,
    Answerer,
    NmoRight,
    Via,
    answered_states,
    check_answer,
    merge,
    progress,
    roll_call_quorum,
)
from assembly.credentials.rules import (
    DelegateRole,
    MemberClass,
    NmoState,
    ProxyState,
    QuorumRule,
    RuleViolation,
    quorum,
)

AAA = NmoRight(nmo_id=1, code="AAA", holder_id=11, head_id=10)
NOBODY_HOLDS = NmoRight(nmo_id=2, code="BBB", holder_id=None, head_id=20)


def holder(**changes: object) -> Answerer:
    values: dict[str, object] = {
        "delegate_id": 11,
        "nmo_id": 1,
        "role": DelegateRole.delegate,
        "checked_in": True,
    }
    values.update(changes)
    return Answerer(**values)  # type: ignore[arg-type]


def refused(answerer: Answerer, nmo: NmoRight, *, open_: bool = True) -> str:
    with pytest.raises(RuleViolation) as caught:
        check_answer(answerer, nmo, open_=open_)
    return caught.value.rule


def test_the_delegate_holding_the_vote_answers_for_its_nmo() -> None:
    check_answer(holder(), AAA, open_=True)


def test_while_nobody_holds_the_vote_the_head_answers() -> None:
    check_answer(holder(delegate_id=20, nmo_id=2, role=DelegateRole.head), NOBODY_HOLDS, open_=True)
    assert refused(holder(delegate_id=21, nmo_id=2), NOBODY_HOLDS) == "roll_call_right_holder"


def test_the_head_does_not_answer_when_another_delegate_holds_the_vote() -> None:
    assert refused(holder(delegate_id=10, role=DelegateRole.head), AAA) == "roll_call_right_holder"


def test_a_proxy_holder_does_not_answer_for_the_nmo_it_represents() -> None:
    # The holder of BBB's proxy is a delegate of AAA: it answers for AAA only.
    assert refused(holder(), NOBODY_HOLDS) == "roll_call_own_nmo"


def test_observers_absent_delegates_and_a_closed_roll_call_are_refused_with_reasons() -> None:
    assert refused(holder(role=DelegateRole.observer), AAA) == "roll_call_observer"
    assert refused(holder(checked_in=False), AAA) == "roll_call_check_in"
    assert refused(holder(), AAA, open_=False) == "roll_call_closed"
    with pytest.raises(RuleViolation) as caught:
        check_answer(holder(checked_in=False), AAA, open_=True)
    assert "Check in at the credentials desk" in caught.value.message


PHONE = Answer(1, True, Via.phone)
DESK_PRESENT = Answer(1, True, Via.desk)
DESK_ABSENT = Answer(1, False, Via.desk)


def test_a_phone_confirms_once_and_never_undoes_the_desk() -> None:
    assert merge(None, PHONE) == PHONE
    assert merge(PHONE, PHONE) is None  # a second tap changes nothing
    assert merge(DESK_PRESENT, PHONE) is None  # marked present at the desk first: stays so
    assert merge(DESK_ABSENT, PHONE) == PHONE  # came in late: the phone confirms
    with pytest.raises(ValueError):
        merge(None, Answer(1, False, Via.phone))


def test_the_desk_has_the_last_word() -> None:
    assert merge(PHONE, DESK_ABSENT) == DESK_ABSENT
    assert merge(PHONE, DESK_PRESENT) == DESK_PRESENT  # now recorded as marked at the desk
    assert merge(DESK_ABSENT, DESK_PRESENT) == DESK_PRESENT
    assert merge(DESK_PRESENT, DESK_PRESENT) is None
    assert merge(None, DESK_ABSENT) == DESK_ABSENT


def test_progress_counts_every_nmo_of_the_assembly_and_ignores_strangers() -> None:
    answers = {
        1: Answer(1, True, Via.phone),
        2: Answer(2, True, Via.desk),
        3: Answer(3, False, Via.desk),
        99: Answer(99, True, Via.desk),
    }
    p = progress([1, 2, 3, 4, 5], answers)
    assert (p.expected, p.present, p.absent, p.answered, p.waiting) == (5, 2, 1, 3, 2)
    assert (p.by_phone, p.by_desk) == (1, 1)


def state(
    id: int,
    member_class: MemberClass = MemberClass.full,
    *,
    credentialed: bool = True,
    checked_in: bool = True,
) -> NmoState:
    return NmoState(
        id=id,
        code=f"N{id:03}",
        member_class=member_class,
        weight=Fraction(1),
        credentialed=credentialed,
        holder_present=checked_in,
        holder_id=id * 10,
    )


def test_the_quorum_counts_the_full_members_answered_present_not_the_check_ins() -> None:
    nmos = [
        state(1),
        state(2),
        state(3),
        state(4, MemberClass.candidate),
        state(5, credentialed=False),
    ]
    answers = {n: Answer(n, True, Via.desk) for n in (1, 4, 5)}
    status = roll_call_quorum(nmos, answers, [], QuorumRule())
    # Four Full Members (1, 2, 3, 5); only 1 counts: 4 is a candidate, 5 not credentialed.
    assert (status.full_members, status.present, status.required, status.met) == (4, 1, 3, False)
    answers |= {2: Answer(2, True, Via.phone), 3: Answer(3, True, Via.phone)}
    status = roll_call_quorum(nmos, answers, [], QuorumRule())
    assert (status.present, status.met) == (3, True)
    # An NMO marked absent is not present, even with its holder checked in.
    answers[3] = Answer(3, False, Via.desk)
    assert roll_call_quorum(nmos, answers, [], QuorumRule()).present == 2


def test_a_proxy_counts_through_its_holders_answer_when_the_rule_counts_proxies() -> None:
    nmos = [state(1), state(2), state(3)]
    proxies = [ProxyState(giver_id=2, holder_id=1)]
    answers = {1: Answer(1, True, Via.phone)}
    counting = QuorumRule(share=Fraction(1, 2), strict=True, counts_proxies=True)
    status = roll_call_quorum(nmos, answers, proxies, counting)
    assert (status.present, status.represented_by_proxy, status.met) == (1, 1, True)
    assert roll_call_quorum(nmos, answers, proxies, QuorumRule()).met is False
    # The holder absent, the proxy does not count either.
    status = roll_call_quorum(nmos, {1: Answer(1, False, Via.desk)}, proxies, counting)
    assert (status.present, status.represented_by_proxy, status.met) == (0, 0, False)


def test_an_at_least_one_third_rule_is_the_assemblys_own() -> None:
    nmos = [state(i) for i in range(1, 7)]
    rule = QuorumRule(share=Fraction(1, 3), strict=False)
    answers = {i: Answer(i, True, Via.desk) for i in (1, 2)}
    status = roll_call_quorum(nmos, answers, [], rule)
    assert (status.required, status.met) == (2, True)


# --- properties -------------------------------------------------------------------------

CLASSES = st.sampled_from(list(MemberClass))


@st.composite
def assemblies(draw: st.DrawFn) -> tuple[list[NmoState], dict[int, Answer], list[ProxyState]]:
    n = draw(st.integers(min_value=0, max_value=40))
    nmos = [
        state(
            i,
            draw(CLASSES),
            credentialed=draw(st.booleans()),
            checked_in=draw(st.booleans()),
        )
        for i in range(1, n + 1)
    ]
    answers = {}
    for nmo in nmos:
        kind = draw(st.sampled_from(["none", "phone", "desk_present", "desk_absent"]))
        if kind == "phone":
            answers[nmo.id] = Answer(nmo.id, True, Via.phone)
        elif kind.startswith("desk"):
            answers[nmo.id] = Answer(nmo.id, kind == "desk_present", Via.desk)
    full = [s.id for s in nmos if s.member_class is MemberClass.full]
    proxies = []
    if len(full) >= 2 and draw(st.booleans()):
        giver, holder_id = draw(st.permutations(full))[:2]
        proxies.append(ProxyState(giver, holder_id))
    return nmos, answers, proxies


RULES = st.builds(
    QuorumRule,
    share=st.sampled_from([Fraction(1, 2), Fraction(1, 3), Fraction(33, 100), Fraction(2, 3)]),
    strict=st.booleans(),
    counts_proxies=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(assemblies(), RULES)
def test_the_quorum_counts_exactly_the_credentialed_full_members_answered_present(
    world: tuple[list[NmoState], dict[int, Answer], list[ProxyState]], rule: QuorumRule
) -> None:
    nmos, answers, proxies = world
    status = roll_call_quorum(nmos, answers, proxies, rule)
    expected = {
        n.id
        for n in nmos
        if n.member_class is MemberClass.full
        and n.credentialed
        and n.id in answers
        and answers[n.id].present
    }
    assert status.present == len(expected)
    assert status.full_members == sum(1 for n in nmos if n.member_class is MemberClass.full)
    # The check-ins do not matter during a roll call, only the answers.
    flipped = [
        NmoState(
            n.id,
            n.code,
            n.member_class,
            n.weight,
            n.credentialed,
            not n.holder_present,
            n.holder_id,
        )
        for n in nmos
    ]
    assert roll_call_quorum(flipped, answers, proxies, rule) == status


@settings(max_examples=300, deadline=None)
@given(assemblies(), RULES, st.data())
def test_one_more_nmo_answering_present_never_loses_the_quorum(
    world: tuple[list[NmoState], dict[int, Answer], list[ProxyState]],
    rule: QuorumRule,
    data: st.DataObject,
) -> None:
    nmos, answers, proxies = world
    waiting = [n.id for n in nmos if not (n.id in answers and answers[n.id].present)]
    if not waiting:
        return
    nmo_id = data.draw(st.sampled_from(waiting))
    before = roll_call_quorum(nmos, answers, proxies, rule)
    after = roll_call_quorum(
        nmos, {**answers, nmo_id: Answer(nmo_id, True, Via.phone)}, proxies, rule
    )
    assert after.present >= before.present
    assert after.met or not before.met


@settings(max_examples=200, deadline=None)
@given(assemblies(), RULES)
def test_everyone_answering_present_is_the_quorum_of_everyone_checked_in(
    world: tuple[list[NmoState], dict[int, Answer], list[ProxyState]], rule: QuorumRule
) -> None:
    nmos, _, proxies = world
    everyone = {n.id: Answer(n.id, True, Via.desk) for n in nmos}
    all_in = [
        NmoState(n.id, n.code, n.member_class, n.weight, n.credentialed, True, n.holder_id)
        for n in nmos
    ]
    assert roll_call_quorum(nmos, everyone, proxies, rule) == quorum(all_in, proxies, rule)
    assert [s.holder_present for s in answered_states(nmos, {})] == [False] * len(nmos)


ANSWERS = st.lists(st.sampled_from([PHONE, DESK_PRESENT, DESK_ABSENT]), min_size=1, max_size=12)


@settings(max_examples=500, deadline=None)
@given(ANSWERS)
def test_any_sequence_of_answers_ends_as_the_last_desk_mark_or_a_later_phone_says(
    sequence: list[Answer],
) -> None:
    current: Answer | None = None
    for answer in sequence:
        merged = merge(current, answer)
        if merged is not None:
            current = merged
        assert current is not None
        # Applying the same answer again is always a no-op.
        assert merge(current, answer) is None
    assert current is not None
    desk = [i for i, a in enumerate(sequence) if a.via is Via.desk]
    phone_after = [
        i for i, a in enumerate(sequence) if a.via is Via.phone and (not desk or i > desk[-1])
    ]
    if not desk:
        assert current == PHONE
    elif phone_after and not sequence[desk[-1]].present:
        assert current == PHONE  # marked absent, then confirmed from the phone
    else:
        assert current == sequence[desk[-1]]
    assert current.present or current.via is Via.desk  # only the desk marks absent


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=30),
    st.dictionaries(
        st.integers(min_value=1, max_value=40),
        st.sampled_from([PHONE, DESK_PRESENT, DESK_ABSENT]),
    ),
)
def test_progress_adds_up(count: int, raw: dict[int, Answer]) -> None:
    answers = {k: Answer(k, a.present, a.via) for k, a in raw.items()}
    p = progress(range(1, count + 1), answers)
    assert p.present + p.absent + p.waiting == p.expected == count
    assert p.by_phone + p.by_desk == p.present
    assert p.waiting >= 0
