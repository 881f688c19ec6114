"""The credentials rules of RULES.md (proxies, who votes, quorum, weights) as plain functions:
each rule with its code and message, then properties over large generated assemblies."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assembly.credentials.rules import (
    DelegateRole,
    MemberClass,
    NmoState,
    ProxyRules,
    ProxyState,
    QuorumRule,
    RuleViolation,
    check_proxy,
    check_right_holder,
    electorate,
    exact_sum,
    format_weight,
    parse_weight,
    quorum,
    quorum_required,
)

NOW = dt.datetime(2026, 8, 1, 12, 0, tzinfo=dt.UTC)
ON = ProxyRules(enabled=True, max_proxies=1)


def nmo(
    id: int,
    member_class: MemberClass = MemberClass.full,
    weight: Fraction | int = 1,
    *,
    credentialed: bool = True,
    present: bool = True,
) -> NmoState:
    return NmoState(
        id=id,
        code=f"N{id}",
        member_class=member_class,
        weight=Fraction(weight),
        credentialed=credentialed,
        holder_present=present,
        holder_id=100 + id,
    )


def refusal(
    giver: NmoState,
    holder: NmoState,
    active: list[ProxyState] | None = None,
    rules: ProxyRules = ON,
    now: dt.datetime = NOW,
) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        check_proxy(giver, holder, active or [], rules, now)
    return caught.value


# --- check_proxy: one test per rule ---------------------------------------------------


def test_proxies_are_refused_when_the_assembly_has_them_off() -> None:
    exc = refusal(nmo(1), nmo(2), rules=ProxyRules())
    assert exc.rule == "proxies_off"
    assert exc.message == "Proxies are not allowed at this assembly."
    assert str(exc) == exc.message


def test_proxies_off_is_the_default() -> None:
    assert ProxyRules().enabled is False
    assert ProxyRules().max_proxies == 1


def test_a_proxy_after_the_deadline_is_refused_and_the_message_gives_the_deadline() -> None:
    deadline = NOW - dt.timedelta(minutes=1)
    exc = refusal(nmo(1), nmo(2), rules=ProxyRules(enabled=True, deadline=deadline))
    assert exc.rule == "proxy_deadline"
    assert "deadline for proxies passed" in exc.message
    assert "2026-08-01 11:59 UTC" in exc.message


def test_the_deadline_message_is_in_utc_whatever_zone_the_deadline_was_given_in() -> None:
    cest = dt.timezone(dt.timedelta(hours=2))
    deadline = dt.datetime(2026, 8, 1, 13, 30, tzinfo=cest)  # 11:30 UTC
    exc = refusal(nmo(1), nmo(2), rules=ProxyRules(enabled=True, deadline=deadline))
    assert "2026-08-01 11:30 UTC" in exc.message


def test_a_proxy_up_to_the_deadline_itself_is_accepted() -> None:
    assert check_proxy(nmo(1), nmo(2), [], ProxyRules(enabled=True, deadline=NOW), NOW) is None
    assert check_proxy(nmo(1), nmo(2), [], ProxyRules(enabled=True), NOW) is None


def test_an_nmo_cannot_give_its_vote_to_itself() -> None:
    exc = refusal(nmo(1), nmo(1))
    assert exc.rule == "proxy_self"
    assert exc.message == "N1 cannot give its vote to itself."


@pytest.mark.parametrize(
    "member_class", [MemberClass.candidate, MemberClass.associate, MemberClass.suspended]
)
def test_only_a_full_member_may_give_its_vote(member_class: MemberClass) -> None:
    exc = refusal(nmo(1, member_class), nmo(2))
    assert exc.rule == "proxy_full_members_only"
    assert exc.message == (
        f"Only Full Members hold a vote to give; N1 is a {member_class.value} member."
    )


@pytest.mark.parametrize(
    "member_class", [MemberClass.candidate, MemberClass.associate, MemberClass.suspended]
)
def test_only_a_full_member_may_hold_a_proxy(member_class: MemberClass) -> None:
    exc = refusal(nmo(1), nmo(2, member_class))
    assert exc.rule == "proxy_full_members_only"
    assert exc.message == (
        f"Only Full Members hold a vote to hold; N2 is a {member_class.value} member."
    )


def test_a_giver_can_have_only_one_standing_proxy() -> None:
    exc = refusal(nmo(1), nmo(3), [ProxyState(1, 2)])
    assert exc.rule == "proxy_one_per_giver"
    assert "N1 has already given its vote away" in exc.message
    assert "revoke that proxy first" in exc.message


def test_an_nmo_that_gave_its_vote_away_cannot_hold_proxies() -> None:
    exc = refusal(nmo(3), nmo(1), [ProxyState(1, 2)])
    assert exc.rule == "proxy_no_chains"
    assert "N1 has given its own vote away" in exc.message
    assert "(no chains)" in exc.message


def test_a_proxy_holder_cannot_pass_its_own_vote_on() -> None:
    exc = refusal(nmo(2), nmo(3), [ProxyState(1, 2)])
    assert exc.rule == "proxy_no_chains"
    assert "N2 holds the vote of another NMO" in exc.message
    assert "(no chains)" in exc.message


def test_a_holder_carries_at_most_one_proxy_by_default() -> None:
    exc = refusal(nmo(2), nmo(3), [ProxyState(1, 3)])
    assert exc.rule == "proxy_cap"
    assert exc.message == (
        "N3 already carries 1 proxy, the most one NMO may hold at this assembly (1)."
    )


def test_with_max_proxies_two_a_holder_takes_a_second_proxy_but_not_a_third() -> None:
    two = ProxyRules(enabled=True, max_proxies=2)
    assert check_proxy(nmo(2), nmo(4), [ProxyState(1, 4)], two, NOW) is None
    exc = refusal(nmo(3), nmo(4), [ProxyState(1, 4), ProxyState(2, 4)], rules=two)
    assert exc.rule == "proxy_cap"
    assert exc.message == (
        "N4 already carries 2 proxies, the most one NMO may hold at this assembly (2)."
    )


def test_with_max_proxies_zero_nobody_may_hold_a_proxy() -> None:
    exc = refusal(nmo(1), nmo(2), rules=ProxyRules(enabled=True, max_proxies=0))
    assert exc.rule == "proxy_cap"
    assert "No NMO may hold proxies at this assembly (max_proxies is 0)" in exc.message


def test_a_holder_above_a_lowered_cap_is_told_how_many_it_carries() -> None:
    active = [ProxyState(1, 5), ProxyState(2, 5)]
    exc = refusal(nmo(3), nmo(5), active, rules=ProxyRules(enabled=True, max_proxies=1))
    assert exc.rule == "proxy_cap"
    assert "N5 already carries 2 proxies" in exc.message


def test_proxies_between_other_nmos_do_not_count_against_a_holder() -> None:
    assert check_proxy(nmo(3), nmo(4), [ProxyState(1, 2)], ON, NOW) is None


def test_the_first_broken_rule_is_reported_in_the_order_of_the_rules() -> None:
    # Everything is wrong at once: proxies off comes first, then the deadline, then self.
    late = ProxyRules(enabled=True, deadline=NOW - dt.timedelta(days=1))
    suspended = nmo(1, MemberClass.suspended)
    assert refusal(suspended, suspended, rules=ProxyRules()).rule == "proxies_off"
    assert refusal(suspended, suspended, rules=late).rule == "proxy_deadline"
    assert refusal(suspended, suspended).rule == "proxy_self"


# --- the voting right -------------------------------------------------------------------


def test_the_vote_is_held_by_a_head_or_delegate_of_the_same_nmo() -> None:
    assert check_right_holder(DelegateRole.head, True, "AAA") is None
    assert check_right_holder(DelegateRole.delegate, True, "AAA") is None
    with pytest.raises(RuleViolation) as other:
        check_right_holder(DelegateRole.delegate, False, "AAA")
    assert other.value.rule == "holder_same_nmo"
    assert other.value.message == "The vote of AAA can only be held by one of its delegates."
    with pytest.raises(RuleViolation) as observer:
        check_right_holder(DelegateRole.observer, True, "AAA")
    assert observer.value.rule == "holder_not_observer"
    assert "An observer cannot hold the vote of AAA" in observer.value.message


# --- electorate -------------------------------------------------------------------------


def test_a_credentialed_present_full_member_votes_with_its_weight_through_its_holder() -> None:
    [vote] = electorate([nmo(1, weight=Fraction(3, 2))], [])
    assert vote.nmo_id == 1
    assert vote.weight == Fraction(3, 2)
    assert vote.cast_by_nmo_id == 1
    assert vote.cast_by_delegate_id == 101
    assert vote.via_proxy is False


@pytest.mark.parametrize(
    "member_class", [MemberClass.candidate, MemberClass.associate, MemberClass.suspended]
)
def test_members_other_than_full_never_vote(member_class: MemberClass) -> None:
    assert electorate([nmo(1, member_class)], []) == []


def test_an_uncredentialed_delegation_never_votes_even_when_present() -> None:
    assert electorate([nmo(1, credentialed=False)], []) == []


def test_an_absent_delegation_does_not_vote() -> None:
    assert electorate([nmo(1, present=False)], []) == []


def test_a_proxy_vote_carries_the_givers_weight_and_is_cast_by_the_holder() -> None:
    giver = nmo(1, weight=Fraction(5, 2), present=False)
    holder = nmo(2, weight=1)
    votes = {v.nmo_id: v for v in electorate([giver, holder], [ProxyState(1, 2)])}
    assert set(votes) == {1, 2}
    assert votes[1].weight == Fraction(5, 2)
    assert votes[1].cast_by_nmo_id == 2
    assert votes[1].cast_by_delegate_id == 102
    assert votes[1].via_proxy is True
    assert votes[2].weight == 1
    assert votes[2].via_proxy is False


def test_the_giver_cannot_vote_itself_while_its_proxy_stands_even_when_present() -> None:
    votes = electorate([nmo(1), nmo(2)], [ProxyState(1, 2)])
    assert [(v.nmo_id, v.cast_by_nmo_id) for v in votes] == [(1, 2), (2, 2)]


def test_an_absent_holder_voids_the_proxy_and_the_giver_still_cannot_vote() -> None:
    votes = electorate([nmo(1), nmo(2, present=False)], [ProxyState(1, 2)])
    assert votes == []


def test_an_uncredentialed_holder_voids_the_proxy() -> None:
    votes = electorate([nmo(1), nmo(2, credentialed=False)], [ProxyState(1, 2)])
    assert votes == []


def test_a_holder_no_longer_a_full_member_voids_the_proxy() -> None:
    votes = electorate([nmo(1), nmo(2, MemberClass.suspended)], [ProxyState(1, 2)])
    assert votes == []


def test_the_vote_of_an_uncredentialed_giver_is_not_cast_by_proxy() -> None:
    votes = electorate([nmo(1, credentialed=False), nmo(2)], [ProxyState(1, 2)])
    assert [v.nmo_id for v in votes] == [2]


def test_a_proxy_from_a_giver_no_longer_a_full_member_is_not_cast() -> None:
    votes = electorate([nmo(1, MemberClass.suspended), nmo(2)], [ProxyState(1, 2)])
    assert [v.nmo_id for v in votes] == [2]


def test_the_electorate_is_in_nmo_order() -> None:
    votes = electorate([nmo(3), nmo(1), nmo(2)], [])
    assert [v.nmo_id for v in votes] == [1, 2, 3]


# --- quorum -----------------------------------------------------------------------------

HALF = QuorumRule()  # more than 1/2, the default
THIRD = QuorumRule(share=Fraction(1, 3), strict=False)


def full_members(total: int, present: int) -> list[NmoState]:
    return [nmo(i, present=i <= present) for i in range(1, total + 1)]


def test_the_default_quorum_is_more_than_half_without_proxies() -> None:
    assert HALF.share == Fraction(1, 2)
    assert HALF.strict is True
    assert HALF.counts_proxies is False
    assert HALF.describe() == "more than 1/2 of the Full Members"
    assert THIRD.describe() == "at least 1/3 of the Full Members"


@pytest.mark.parametrize(
    ("total", "rule", "required"),
    [
        (0, HALF, 1),
        (1, HALF, 1),
        (2, HALF, 2),
        (4, HALF, 3),  # exactly half is not more than half
        (5, HALF, 3),
        (130, HALF, 66),
        (131, HALF, 66),
        (0, THIRD, 0),
        (1, THIRD, 1),
        (3, THIRD, 1),  # exactly a third is at least a third
        (6, THIRD, 2),
        (7, THIRD, 3),
        (100, QuorumRule(share=Fraction(33, 100), strict=False), 33),
        (100, QuorumRule(share=Fraction(33, 100), strict=True), 34),
        (10, QuorumRule(share=Fraction(1, 3), strict=True), 4),
    ],
)
def test_quorum_required_counts(total: int, rule: QuorumRule, required: int) -> None:
    assert quorum_required(total, rule) == required


@pytest.mark.parametrize(
    ("total", "present", "rule", "met"),
    [
        (4, 2, HALF, False),
        (4, 3, HALF, True),
        (5, 2, HALF, False),
        (5, 3, HALF, True),
        (6, 1, THIRD, False),
        (6, 2, THIRD, True),
        (7, 2, THIRD, False),
        (7, 3, THIRD, True),
    ],
)
def test_quorum_is_met_on_either_side_of_the_line(
    total: int, present: int, rule: QuorumRule, met: bool
) -> None:
    status = quorum(full_members(total, present), [], rule)
    assert status.full_members == total
    assert status.present == present
    assert status.met is met
    assert status.explain().endswith("quorum met." if met else "no quorum.")


@pytest.mark.parametrize("rule", [HALF, THIRD])
def test_an_assembly_without_full_members_never_has_quorum(rule: QuorumRule) -> None:
    guests = [nmo(1, MemberClass.candidate), nmo(2, MemberClass.associate)]
    status = quorum(guests, [], rule)
    assert status.full_members == 0
    assert status.met is False
    assert status.weight_total == 0


def test_only_full_members_count_towards_quorum() -> None:
    nmos = [
        nmo(1),
        nmo(2, present=False),
        nmo(3, MemberClass.candidate),
        nmo(4, MemberClass.suspended),
        nmo(5, MemberClass.associate),
    ]
    status = quorum(nmos, [], HALF)
    assert (status.full_members, status.present, status.required) == (2, 1, 2)
    assert status.met is False


def test_uncredentialed_members_are_not_present_for_quorum() -> None:
    status = quorum([nmo(1, credentialed=False), nmo(2), nmo(3)], [], HALF)
    assert status.present == 2
    assert status.met is True
    status = quorum([nmo(1, credentialed=False), nmo(2, credentialed=False), nmo(3)], [], HALF)
    assert status.present == 1
    assert status.met is False


def test_proxies_count_for_quorum_only_when_the_rule_says_so() -> None:
    # Four Full Members: 1 and 2 present, 3 absent but represented by 1; 4 absent.
    nmos = [nmo(1), nmo(2), nmo(3, present=False), nmo(4, present=False)]
    proxies = [ProxyState(3, 1)]
    without = quorum(nmos, proxies, HALF)
    assert (without.present, without.represented_by_proxy, without.counted) == (2, 1, 2)
    assert without.met is False
    assert without.explain() == (
        "2 of 4 Full Members present; quorum is more than 1/2 of the Full Members (3): no quorum."
    )
    counting = quorum(nmos, proxies, QuorumRule(counts_proxies=True))
    assert (counting.present, counting.represented_by_proxy, counting.counted) == (2, 1, 3)
    assert counting.met is True
    assert counting.explain() == (
        "2 of 4 Full Members present and 1 represented by proxy; quorum is more than 1/2 of "
        "the Full Members (3): quorum met."
    )


def test_a_present_giver_is_not_counted_twice() -> None:
    nmos = [nmo(1), nmo(2), nmo(3, present=False), nmo(4, present=False)]
    status = quorum(nmos, [ProxyState(2, 1)], QuorumRule(counts_proxies=True))
    assert status.represented_by_proxy == 0
    assert status.counted == 2
    assert status.met is False


def test_a_proxy_held_by_an_absent_holder_does_not_count_for_quorum() -> None:
    nmos = [nmo(1, present=False), nmo(2), nmo(3, present=False)]
    status = quorum(nmos, [ProxyState(3, 1)], QuorumRule(counts_proxies=True))
    assert status.represented_by_proxy == 0
    assert status.counted == 1


def test_weights_are_summed_as_exact_fractions() -> None:
    # Ten members of weight 1/10: a float sum would be 0.9999999999999999.
    nmos = [nmo(i, weight=Fraction(1, 10)) for i in range(1, 11)]
    status = quorum(nmos, [], HALF)
    assert status.weight_total == Fraction(1)
    assert isinstance(status.weight_total, Fraction)
    thirds = [nmo(1, weight=Fraction(1, 3)), nmo(2, weight=Fraction(1, 3)), nmo(3, weight=3)]
    status = quorum(thirds, [], HALF)
    assert status.weight_total == Fraction(11, 3)
    assert status.weight_present == Fraction(11, 3)
    assert status.weight_represented == Fraction(11, 3)
    assert all(isinstance(w, Fraction) for w in (status.weight_present, status.weight_represented))


def test_weight_present_and_weight_represented_differ_by_proxies() -> None:
    nmos = [nmo(1, weight=2), nmo(2, weight=Fraction(3, 2), present=False), nmo(3, weight=5)]
    status = quorum(nmos, [ProxyState(2, 1)], HALF)
    assert status.weight_total == Fraction(17, 2)
    assert status.weight_present == 7
    assert status.weight_represented == Fraction(17, 2)


# --- weights as text --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (1, Fraction(1)),
        (7, Fraction(7)),
        ("2", Fraction(2)),
        ("1.5", Fraction(3, 2)),
        (" 2.50 ", Fraction(5, 2)),
        ("3/2", Fraction(3, 2)),
        ("+4", Fraction(4)),
        ("0.0625", Fraction(1, 16)),
        (Fraction(7, 3), Fraction(7, 3)),
        (1_000_000, Fraction(1_000_000)),
        ("1/10000", Fraction(1, 10_000)),
    ],
)
def test_parse_weight_reads_exact_numbers(raw: object, value: Fraction) -> None:
    parsed = parse_weight(raw)
    assert parsed == value
    assert type(parsed) is Fraction


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (0, "must be more than 0, not 0"),
        ("0", "must be more than 0, not 0"),
        ("0.0", "must be more than 0, not 0"),
        (-1, "must be more than 0, not -1"),
        ("-2.5", "must be more than 0, not -2.5"),
        ("-3/2", "must be more than 0, not -1.5"),
        ("abc", "'abc' is not a number"),
        ("1.5.2", "'1.5.2' is not a number"),
        ("1,5", "'1,5' is not a number"),
        ("0x10", "'0x10' is not a number"),
        ("nan", "'nan' is not a number"),
        ("inf", "'inf' is not a number"),
        ("1/0", "'1/0' is not a number"),
        ("2 votes", "'2 votes' is not a number"),
        ("", "a weight must be a number"),
        ("   ", "a weight must be a number"),
        (True, "a weight must be a number"),
        (False, "a weight must be a number"),
        (None, "a weight must be a number"),
        (1.5, "a weight is given as a whole number or as text"),
        (Decimal("1.5"), "a weight is given as a whole number or as text"),
        ("1e-9", "out of range"),
        (1_000_001, "out of range"),
        ("1/10001", "out of range"),
        # Read at once, not by computing 10**999999999.
        ("1e999999999", "out of range"),
        ("1e-999999999", "out of range"),
        ("1e9_999_999", "out of range"),
        ("1" * 5000, "out of range"),
    ],
)
def test_parse_weight_refuses_what_is_not_an_exact_positive_number(
    raw: object, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        parse_weight(raw)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(3), "3"),
        (Fraction(5, 2), "2.5"),
        (Fraction(3, 2), "1.5"),
        (Fraction(1, 16), "0.0625"),
        (Fraction(7, 20), "0.35"),
        (Fraction(1001, 1000), "1.001"),
        (Fraction(1, 3), "1/3"),
        (Fraction(7, 6), "7/6"),
        (Fraction(-5, 2), "-2.5"),
        (Fraction(0), "0"),
    ],
)
def test_format_weight_writes_what_people_write(value: Fraction, text: str) -> None:
    assert format_weight(value) == text


valid_weights = st.builds(
    Fraction, st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=10**4)
).filter(lambda f: f <= 10**6 and f.denominator <= 10**4)


@given(valid_weights)
def test_a_weight_survives_format_then_parse_exactly(value: Fraction) -> None:
    text = format_weight(value)
    assert parse_weight(text) == value
    assert "e" not in text.lower()


@given(valid_weights)
def test_format_is_a_fixed_point_of_parse(value: Fraction) -> None:
    text = format_weight(value)
    assert format_weight(parse_weight(text)) == text


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4))
def test_decimal_text_is_read_exactly_never_through_a_float(value: Decimal) -> None:
    assert parse_weight(str(value)) == Fraction(value)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_are_always_refused(value: float) -> None:
    with pytest.raises(ValueError, match="whole number or as text"):
        parse_weight(value)


@given(st.integers(max_value=0) | st.fractions(max_value=0))
def test_zero_and_negative_weights_are_always_refused(value: int | Fraction) -> None:
    with pytest.raises(ValueError, match="must be more than 0"):
        parse_weight(value)


# --- properties over generated assemblies -----------------------------------------------

member_classes = st.sampled_from(list(MemberClass))
small_weights = st.builds(
    Fraction, st.integers(min_value=1, max_value=20), st.integers(min_value=1, max_value=6)
)


@st.composite
def assemblies(draw: st.DrawFn) -> tuple[list[NmoState], list[ProxyState], ProxyRules]:
    """NMOs of every kind, and the proxies that check_proxy accepted from random requests."""
    count = draw(st.integers(min_value=0, max_value=12))
    nmos = [
        NmoState(
            id=i,
            code=f"N{i}",
            member_class=draw(member_classes),
            weight=draw(small_weights),
            credentialed=draw(st.booleans()),
            holder_present=draw(st.booleans()),
            holder_id=100 + i,
        )
        for i in range(1, count + 1)
    ]
    rules = ProxyRules(enabled=True, max_proxies=draw(st.integers(min_value=0, max_value=3)))
    proxies: list[ProxyState] = []
    if count >= 2:
        requests = draw(
            st.lists(
                st.tuples(
                    st.integers(min_value=0, max_value=count - 1),
                    st.integers(min_value=0, max_value=count - 1),
                ),
                max_size=20,
            )
        )
        for g, h in requests:
            try:
                check_proxy(nmos[g], nmos[h], proxies, rules, NOW)
            except RuleViolation:
                continue
            proxies.append(ProxyState(nmos[g].id, nmos[h].id))
    return nmos, proxies, rules


quorum_rules = st.builds(
    QuorumRule,
    share=st.builds(
        Fraction, st.integers(min_value=1, max_value=100), st.integers(min_value=1, max_value=100)
    ).filter(lambda f: f <= 1),
    strict=st.booleans(),
    counts_proxies=st.booleans(),
)


@given(assemblies())
@settings(max_examples=300)
def test_accepted_proxies_never_chain_and_respect_the_cap(
    world: tuple[list[NmoState], list[ProxyState], ProxyRules],
) -> None:
    nmos, proxies, rules = world
    givers = [p.giver_id for p in proxies]
    holders = Counter(p.holder_id for p in proxies)
    full = {n.id for n in nmos if n.member_class is MemberClass.full}
    assert len(givers) == len(set(givers))
    assert not set(givers) & set(holders)
    assert all(count <= rules.max_proxies for count in holders.values())
    assert all(p.giver_id in full and p.holder_id in full for p in proxies)
    assert all(p.giver_id != p.holder_id for p in proxies)


@given(assemblies())
@settings(max_examples=300)
def test_each_nmo_appears_at_most_once_in_the_electorate_and_only_if_entitled(
    world: tuple[list[NmoState], list[ProxyState], ProxyRules],
) -> None:
    nmos, proxies, _rules = world
    by_id = {n.id: n for n in nmos}
    given_to = {p.giver_id: p.holder_id for p in proxies}
    votes = electorate(nmos, proxies)
    ids = [v.nmo_id for v in votes]
    assert len(ids) == len(set(ids))
    for v in votes:
        owner, caster = by_id[v.nmo_id], by_id[v.cast_by_nmo_id]
        assert owner.member_class is MemberClass.full and owner.credentialed
        assert caster.member_class is MemberClass.full and caster.present
        assert v.weight == owner.weight
        assert v.cast_by_delegate_id == caster.holder_id
        assert v.via_proxy == (v.nmo_id in given_to)
        if v.via_proxy:
            assert v.cast_by_nmo_id == given_to[v.nmo_id]
        else:
            assert v.cast_by_nmo_id == v.nmo_id
    # Every present, credentialed Full Member that kept its vote is in the electorate.
    for n in nmos:
        if n.member_class is MemberClass.full and n.present and n.id not in given_to:
            assert n.id in ids


@given(assemblies())
@settings(max_examples=300)
def test_no_nmo_casts_more_than_one_plus_max_proxies_votes(
    world: tuple[list[NmoState], list[ProxyState], ProxyRules],
) -> None:
    nmos, proxies, rules = world
    cast = Counter(v.cast_by_nmo_id for v in electorate(nmos, proxies))
    assert all(count <= 1 + rules.max_proxies for count in cast.values())


@given(assemblies(), quorum_rules)
@settings(max_examples=300)
def test_quorum_figures_agree_with_the_electorate(
    world: tuple[list[NmoState], list[ProxyState], ProxyRules], rule: QuorumRule
) -> None:
    nmos, proxies, _rules = world
    status = quorum(nmos, proxies, rule)
    votes = electorate(nmos, proxies)
    full = [n for n in nmos if n.member_class is MemberClass.full]
    assert status.full_members == len(full)
    assert status.present == sum(1 for n in full if n.present)
    assert status.weight_represented == sum((v.weight for v in votes), Fraction(0))
    assert status.weight_total == sum((n.weight for n in full), Fraction(0))
    assert status.weight_present == sum((n.weight for n in full if n.present), Fraction(0))
    assert status.represented_by_proxy == sum(
        1 for v in votes if v.via_proxy and not next(n for n in full if n.id == v.nmo_id).present
    )
    assert status.required == quorum_required(len(full), rule)
    assert status.met == (len(full) > 0 and status.counted >= status.required)


def meets(count: int, total: int, rule: QuorumRule) -> bool:
    """The rule as RULES.md words it, with exact arithmetic."""
    if rule.strict:
        return count > rule.share * total
    return count >= rule.share * total


@given(st.integers(min_value=1, max_value=1000), quorum_rules)
@settings(max_examples=500)
def test_required_is_the_smallest_count_that_meets_the_rule(total: int, rule: QuorumRule) -> None:
    required = quorum_required(total, rule)
    assert meets(required, total, rule)
    assert not meets(required - 1, total, rule)
    assert required >= 1


@given(assemblies(), quorum_rules, st.data())
@settings(max_examples=300)
def test_quorum_is_monotone_in_presence(
    world: tuple[list[NmoState], list[ProxyState], ProxyRules],
    rule: QuorumRule,
    data: st.DataObject,
) -> None:
    nmos, proxies, _rules = world
    absent = [i for i, n in enumerate(nmos) if not n.present]
    assume(absent)
    i = data.draw(st.sampled_from(absent))
    arrived = list(nmos)
    arrived[i] = NmoState(
        id=nmos[i].id,
        code=nmos[i].code,
        member_class=nmos[i].member_class,
        weight=nmos[i].weight,
        credentialed=True,
        holder_present=True,
        holder_id=nmos[i].holder_id,
    )
    before = quorum(nmos, proxies, rule)
    after = quorum(arrived, proxies, rule)
    assert after.counted >= before.counted
    assert after.weight_present >= before.weight_present
    assert after.weight_represented >= before.weight_represented
    if before.met:
        assert after.met


@given(st.lists(st.one_of(st.integers(-(10**6), 10**6), valid_weights, st.fractions())))
def test_exact_sum_is_the_sum(values: list[Fraction | int]) -> None:
    total = exact_sum(values)
    assert isinstance(total, Fraction)
    assert total == sum(values, Fraction(0))


@given(st.one_of(st.integers(-(10**9), 10**9), st.fractions()))
def test_a_weight_column_stores_and_reads_back_exactly(value: Fraction | int) -> None:
    from sqlalchemy.dialects import sqlite

    from assembly.db import FractionType

    column = FractionType()
    stored = column.process_bind_param(value, sqlite.dialect())
    assert stored == str(Fraction(value))
    read = column.process_result_value(stored, sqlite.dialect())
    assert read == value and isinstance(read, Fraction)
    assert column.process_result_value("1.5", sqlite.dialect()) == Fraction(3, 2)  # any text
    with pytest.raises(ValueError):  # not a number: Fraction's own refusal, not int()'s
        column.process_result_value("--5", sqlite.dialect())
    assert column.process_bind_param(True, sqlite.dialect()) == "1"
