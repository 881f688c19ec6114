"""The majority rules of RULES.md as plain functions: every rule against every base over a grid of
small tallies, the sentences a chair reads aloud, then properties over generated ballots."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assembly.voting.rules import (
    DEFAULT_BASE,
    BallotRefused,
    Base,
    Decision,
    MajorityRule,
    MotionChoice,
    MotionTally,
    check_motion_choice,
    decide,
    default_base,
    describe_share,
    exact,
    format_percent,
    tally_motion,
    threshold,
)

F = Fraction


def ballots(
    yes: int = 0, no: int = 0, abstain: int = 0, weight: Fraction | int = 1
) -> list[tuple[Fraction | int, str]]:
    return [(weight, "yes")] * yes + [(weight, "no")] * no + [(weight, "abstain")] * abstain


def motion(
    yes: int = 0,
    no: int = 0,
    abstain: int = 0,
    rule: MajorityRule | str = MajorityRule.simple,
    base: Base | str | None = None,
    *,
    entitled: Fraction | int | None = None,
    **kwargs: object,
) -> Decision:
    tally = tally_motion(ballots(yes, no, abstain))
    base = default_base(rule) if base is None else base
    entitled = tally.cast_with_abstentions if entitled is None else entitled
    return decide(tally, rule, base, entitled_weight=entitled, **kwargs)  # type: ignore[arg-type]


# --- the rules, one by one ---------------------------------------------------------------------


def test_each_rule_has_the_default_base_of_rules_md() -> None:
    assert dict(DEFAULT_BASE) == {
        MajorityRule.simple: Base.cast,
        MajorityRule.absolute: Base.cast_with_abstentions,
        MajorityRule.two_thirds: Base.cast,
        MajorityRule.three_quarters: Base.cast,
        MajorityRule.unanimous: Base.cast,
    }
    assert default_base("two_thirds") is Base.cast


@pytest.mark.parametrize(
    ("rule", "share", "strict"),
    [
        (MajorityRule.simple, F(1, 2), True),
        (MajorityRule.absolute, F(1, 2), True),
        (MajorityRule.two_thirds, F(2, 3), False),
        (MajorityRule.three_quarters, F(3, 4), False),
        (MajorityRule.unanimous, F(1), False),
    ],
)
def test_each_rule_needs_its_share_of_the_base(
    rule: MajorityRule, share: Fraction, strict: bool
) -> None:
    assert threshold(rule).share == share
    assert threshold(rule).strict is strict
    decision = motion(3, 1, rule=rule)
    assert decision.threshold == share
    assert decision.strict is strict


def expected(rule: MajorityRule, yes: int, no: int, abstain: int, base_weight: int) -> bool:
    """RULES.md in its own words, with integer cross-multiplication: no Fraction, no float."""
    if base_weight == 0:
        return False
    if rule in (MajorityRule.simple, MajorityRule.absolute):
        return 2 * yes > base_weight
    if rule is MajorityRule.two_thirds:
        return 3 * yes >= 2 * base_weight
    if rule is MajorityRule.three_quarters:
        return 4 * yes >= 3 * base_weight
    return yes == base_weight


@pytest.mark.parametrize("rule", list(MajorityRule))
@pytest.mark.parametrize("base", list(Base))
def test_every_small_tally_is_decided_as_rules_md_says(rule: MajorityRule, base: Base) -> None:
    entitled = 18
    for yes, no, abstain in itertools.product(range(7), repeat=3):
        decision = motion(yes, no, abstain, rule, base, entitled=entitled)
        base_weight = {
            Base.cast: yes + no,
            Base.cast_with_abstentions: yes + no + abstain,
            Base.entitled: entitled,
        }[base]
        assert decision.base_weight == base_weight
        assert decision.adopted is expected(rule, yes, no, abstain, base_weight), (yes, no, abstain)
        assert decision.valid
        assert decision.yes_share == (F(yes, base_weight) if base_weight else None)
        assert decision.explanation.endswith(": adopted") is decision.adopted


def test_simple_majority_is_more_yes_than_no_whatever_the_abstentions() -> None:
    assert motion(5, 4, 100).adopted
    assert not motion(4, 5, 0).adopted


def test_absolute_majority_counts_the_abstentions() -> None:
    assert motion(6, 3, 2, MajorityRule.absolute).adopted  # 6 of 11
    assert not motion(6, 3, 3, MajorityRule.absolute).adopted  # 6 of 12 is not more than half
    assert motion(6, 3, 3, MajorityRule.simple).adopted


def test_two_thirds_may_count_abstentions_in_the_base_when_a_setting_says_so() -> None:
    assert motion(20, 10, 5, MajorityRule.two_thirds, Base.cast).adopted
    assert not motion(20, 10, 5, MajorityRule.two_thirds, Base.cast_with_abstentions).adopted


def test_entitled_base_counts_absent_votes_against_the_motion() -> None:
    decision = motion(51, 0, 0, MajorityRule.simple, Base.entitled, entitled=100)
    assert decision.adopted
    assert decision.explanation == "51 of 100 votes entitled is 51.0 %, more than half: adopted"
    assert not motion(50, 0, 0, MajorityRule.simple, Base.entitled, entitled=100).adopted
    assert motion(67, 3, 0, MajorityRule.two_thirds, Base.entitled, entitled=100).adopted
    assert not motion(66, 0, 0, MajorityRule.two_thirds, Base.entitled, entitled=100).adopted


# --- ties, empty bases, abstentions -----------------------------------------------------------


def test_a_tie_fails_and_the_chair_hears_so() -> None:
    decision = motion(40, 40)
    assert not decision.adopted
    assert decision.yes_share == F(1, 2)
    assert decision.explanation == (
        "40 of 80 votes cast excluding abstentions is 50.0 %, more than half: "
        "not adopted (a tie fails)"
    )


def test_yes_exactly_half_of_an_absolute_base_is_a_tie_and_fails() -> None:
    decision = motion(5, 3, 2, MajorityRule.absolute)
    assert not decision.adopted
    assert decision.explanation.endswith("not adopted (a tie fails)")


@pytest.mark.parametrize("rule", list(MajorityRule))
@pytest.mark.parametrize("base", [Base.cast, Base.cast_with_abstentions])
def test_no_votes_adopt_nothing(rule: MajorityRule, base: Base) -> None:
    decision = motion(0, 0, 0, rule, base, entitled=10)
    assert not decision.adopted
    assert decision.yes_share is None
    assert decision.base_weight == 0


def test_no_votes_are_read_aloud_as_such() -> None:
    assert motion().explanation == "No votes were cast excluding abstentions: not adopted"
    assert (
        motion(rule=MajorityRule.absolute).explanation
        == "No votes were cast including abstentions: not adopted"
    )
    nobody = decide(tally_motion([]), "simple", "entitled", entitled_weight=0)
    assert not nobody.adopted
    assert nobody.explanation == "No votes are entitled: not adopted"


@pytest.mark.parametrize("rule", list(MajorityRule))
def test_only_abstentions_adopt_nothing(rule: MajorityRule) -> None:
    for base in Base:
        assert not motion(0, 0, 7, rule, base, entitled=10).adopted


def test_only_abstentions_are_named_in_the_sentence() -> None:
    assert motion(0, 0, 3).explanation == (
        "No votes were cast excluding abstentions (3 votes were abstentions): not adopted"
    )
    assert motion(0, 0, 3, MajorityRule.absolute).explanation == (
        "0 of 3 votes cast including abstentions is 0.0 %, more than half: not adopted"
    )


def test_unanimity_means_no_votes_against_and_at_least_one_yes() -> None:
    assert motion(10, 0, 3, MajorityRule.unanimous).adopted
    assert not motion(10, 1, 0, MajorityRule.unanimous).adopted
    assert not motion(0, 0, 3, MajorityRule.unanimous).adopted
    assert motion(1, 0, 0, MajorityRule.unanimous).adopted


def test_unanimity_with_abstentions_in_the_base_lets_no_one_abstain() -> None:
    rule, base = MajorityRule.unanimous, Base.cast_with_abstentions
    assert not motion(10, 0, 1, rule, base).adopted
    assert motion(10, 0, 0, rule, base).adopted


def test_unanimity_short_by_a_sliver_does_not_read_as_100_percent() -> None:
    decision = motion(19999, 1, 0, MajorityRule.unanimous)
    assert decision.explanation == (
        "19999 of 20000 votes cast excluding abstentions is 99.995 %, unanimity required: "
        "not adopted"
    )


def test_a_bare_majority_does_not_read_as_50_percent() -> None:
    decision = motion(5001, 4999)
    assert decision.adopted
    assert "is 50.01 %, more than half: adopted" in decision.explanation


# --- exact weights -----------------------------------------------------------------------------


def test_thirds_add_up_exactly_to_a_tie() -> None:
    third = F(1, 3)
    tally = tally_motion([(third, "yes")] * 3 + [(1, "no")])
    assert tally.yes == 1  # a float sum would be 0.999...
    decision = decide(tally, "simple", "cast", entitled_weight=2)
    assert not decision.adopted
    assert decision.explanation.endswith("not adopted (a tie fails)")


def test_thirds_beat_slightly_less_than_one() -> None:
    tally = tally_motion([(F(1, 3), "yes")] * 3 + [(F(99, 100), "no")])
    decision = decide(tally, "simple", "cast", entitled_weight=2)
    assert decision.adopted
    assert decision.explanation == (
        "1 of 1.99 votes cast excluding abstentions is 50.3 %, more than half: adopted"
    )


def test_weighted_two_thirds_is_decided_exactly() -> None:
    # 2/3 of 3 = 2: two NMOs of weight 1, one of weight 1/2 and one of 1/2 against.
    tally = tally_motion([(1, "yes"), (1, "yes"), (F(1, 2), "no"), (F(1, 2), "no")])
    decision = decide(tally, "two_thirds", "cast", entitled_weight=3)
    assert decision.yes_share == F(2, 3)
    assert decision.adopted
    assert decision.explanation == (
        "2 of 3 votes cast excluding abstentions is 66.7 %, at least two thirds: adopted"
    )


def test_the_chairs_example_reads_as_written() -> None:
    decision = motion(61, 27, 0, MajorityRule.two_thirds, entitled=130)
    assert decision.adopted
    assert decision.explanation == (
        "61 of 88 votes cast excluding abstentions is 69.3 %, at least two thirds: adopted"
    )


def test_tally_counts_ballots_and_sums_weights_per_choice() -> None:
    tally = tally_motion([(3, "yes"), (F(1, 2), "no"), (2, "yes"), (1, "abstain")])
    assert tally == MotionTally(F(5), F(1, 2), F(1), 2, 1, 1)
    assert tally.cast == F(11, 2)
    assert tally.cast_with_abstentions == F(13, 2)
    assert tally.ballots == 4


def test_a_tally_read_with_int_weights_stores_fractions() -> None:
    from_ints = MotionTally(5, 1, 0, 5, 1, 0)  # type: ignore[arg-type]
    assert from_ints == MotionTally(F(5), F(1), F(0), 5, 1, 0)
    assert isinstance(from_ints.yes, Fraction)


def test_a_tally_whose_counts_and_weights_disagree_is_refused() -> None:
    with pytest.raises(ValueError, match="0 yes ballots cannot weigh 5"):
        MotionTally(F(5), F(0), F(0), 0, 0, 0)
    with pytest.raises(ValueError, match="0 or more"):
        MotionTally(F(-1), F(0), F(0), 1, 0, 0)


def test_an_unknown_choice_in_a_tally_is_named() -> None:
    with pytest.raises(ValueError, match="'maybe'"):
        tally_motion([(1, "yes"), (1, "maybe")])


@pytest.mark.parametrize("weight", [0, -1, F(-1, 2)])
def test_a_ballot_weighs_more_than_nothing(weight: Fraction | int) -> None:
    with pytest.raises(ValueError, match="more than 0"):
        tally_motion([(weight, "yes")])


@pytest.mark.parametrize("bad", [0.5, 1.0, True, "1", None, 2 + 0j])
def test_anything_but_int_and_fraction_is_refused_as_a_weight(bad: object) -> None:
    with pytest.raises(TypeError, match="a float never decides a vote"):
        tally_motion([(bad, "yes")])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        MotionTally(bad, 0, 0, 1, 0, 0)  # type: ignore[arg-type]
    tally = tally_motion(ballots(3, 1))
    with pytest.raises(TypeError):
        decide(tally, "simple", "cast", entitled_weight=bad)  # type: ignore[arg-type]
    if bad is None:
        return  # present weight and turnout are optional
    with pytest.raises(TypeError):
        decide(tally, "simple", "cast", entitled_weight=10, present_weight=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        decide(
            tally,
            "simple",
            "cast",
            entitled_weight=10,
            present_weight=10,
            validity_turnout=bad,  # type: ignore[arg-type]
        )


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_no_float_ever_enters_a_tally(weight: float) -> None:
    with pytest.raises(TypeError):
        tally_motion([(1, "yes"), (weight, "no")])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        exact(weight)


def test_more_votes_cast_than_entitled_is_an_error_not_a_result() -> None:
    tally = tally_motion(ballots(6, 5))
    with pytest.raises(ValueError, match="only 10 are entitled"):
        decide(tally, "simple", "cast", entitled_weight=10)
    with pytest.raises(ValueError, match="present weight"):
        decide(tally, "simple", "cast", entitled_weight=20, present_weight=10)
    with pytest.raises(ValueError, match="present weight"):
        decide(tally, "simple", "cast", entitled_weight=20, present_weight=21)


def test_rules_and_bases_are_read_from_their_stored_names() -> None:
    tally = tally_motion(ballots(3, 1))
    decision = decide(tally, "two_thirds", "cast_with_abstentions", entitled_weight=4)
    assert decision.rule is MajorityRule.two_thirds
    assert decision.base is Base.cast_with_abstentions
    with pytest.raises(ValueError):
        decide(tally, "most", "cast", entitled_weight=4)


# --- validity turnout --------------------------------------------------------------------------


def test_too_few_votes_cast_make_the_vote_invalid_whatever_the_majority() -> None:
    decision = motion(49, 0, 0, entitled=120, present_weight=100, validity_turnout=F(1, 2))
    assert not decision.valid
    assert not decision.adopted
    assert decision.explanation == (
        "49 of 100 votes present were cast including abstentions (49.0 %), but a valid vote "
        "needs at least half: not adopted"
    )


def test_a_turnout_exactly_at_the_share_is_valid() -> None:
    decision = motion(50, 0, 0, entitled=120, present_weight=100, validity_turnout=F(1, 2))
    assert decision.valid
    assert decision.adopted


def test_abstentions_count_as_cast_for_validity() -> None:
    decision = motion(10, 0, 40, entitled=100, present_weight=100, validity_turnout=F(1, 2))
    assert decision.valid
    assert decision.adopted


def test_a_no_vote_can_make_a_vote_valid_and_so_adopted() -> None:
    # The known paradox of a validity turnout: staying away can defeat a motion that voting
    # against it would let through. RULES.md asks for it; this test keeps it visible.
    before = motion(10, 0, 0, entitled=30, present_weight=30, validity_turnout=F(1, 2))
    after = motion(10, 5, 0, entitled=30, present_weight=30, validity_turnout=F(1, 2))
    assert not before.adopted and not before.valid
    assert after.adopted and after.valid


def test_a_validity_turnout_needs_the_present_weight_and_a_share_of_at_most_one() -> None:
    tally = tally_motion(ballots(3, 1))
    with pytest.raises(ValueError, match="present weight"):
        decide(tally, "simple", "cast", entitled_weight=4, validity_turnout=F(1, 2))
    with pytest.raises(ValueError, match="1 or less"):
        decide(tally, "simple", "cast", entitled_weight=4, present_weight=4, validity_turnout=2)


@pytest.mark.parametrize(
    ("share", "words"),
    [(F(1, 2), "half"), (F(2, 3), "two thirds"), (F(2, 5), "40 %"), (F(1, 8), "12.5 %")],
)
def test_a_turnout_share_is_said_as_people_say_it(share: Fraction, words: str) -> None:
    assert describe_share(share) == words
    assert describe_share(F(5, 7)) == "5/7"


# --- percentages --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "decimals", "shown"),
    [
        (F(61, 88), 1, "69.3 %"),
        (F(2, 3), 1, "66.7 %"),
        (F(1, 3), 1, "33.3 %"),
        (F(1, 16), 1, "6.3 %"),  # 6.25 rounds half up
        (F(29, 200), 0, "15 %"),  # 14.5 rounds half up, where round() would give 14
        (F(1, 2000), 1, "0.1 %"),
        (F(0), 1, "0.0 %"),
        (F(1), 1, "100.0 %"),
    ],
)
def test_percentages_round_half_up_from_the_exact_share(
    share: Fraction, decimals: int, shown: str
) -> None:
    assert format_percent(share, decimals) == shown


# --- ballots ------------------------------------------------------------------------------------


def test_a_motion_ballot_chooses_yes_no_or_abstain() -> None:
    assert check_motion_choice("yes") is MotionChoice.yes
    assert check_motion_choice("abstain") is MotionChoice.abstain
    for bad in ("maybe", "YES", "", None, 1):
        with pytest.raises(BallotRefused) as refused:
            check_motion_choice(bad)
        assert refused.value.rule == "motion_choice"
        assert "choose yes, no or abstain" in refused.value.message


# --- properties ---------------------------------------------------------------------------------

weights = st.integers(1, 6) | st.fractions(min_value=F(1, 12), max_value=F(6), max_denominator=12)
choices = st.sampled_from(["yes", "no", "abstain"])
ballot_lists = st.lists(st.tuples(weights, choices), max_size=25)
shares = st.fractions(min_value=0, max_value=1, max_denominator=20)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    """A rule, a base, ballots and an electorate they fit in, maybe with a validity turnout."""
    cast = draw(ballot_lists)
    present = sum((F(w) for w, _ in cast), F(0)) + draw(weights | st.just(0))
    return {
        "ballots": cast,
        "rule": draw(st.sampled_from(list(MajorityRule))),
        "base": draw(st.sampled_from(list(Base))),
        "present": present,
        "entitled": present + draw(weights | st.just(0)),
        "turnout": draw(st.none() | shares),
    }


def run(
    scenario: dict[str, object],
    cast: list[tuple[Fraction | int, str]] | None = None,
    *,
    scale: Fraction = F(1),
    room: Fraction = F(0),
) -> Decision:
    """Decide the scenario, optionally with other ballots, every weight times `scale`, and `room`
    more weight present and entitled."""
    chosen = scenario["ballots"] if cast is None else cast
    assert isinstance(chosen, list)
    tally = tally_motion((F(w) * scale, c) for w, c in chosen)
    present, entitled = scenario["present"], scenario["entitled"]
    assert isinstance(present, Fraction) and isinstance(entitled, Fraction)
    return decide(
        tally,
        scenario["rule"],  # type: ignore[arg-type]
        scenario["base"],  # type: ignore[arg-type]
        entitled_weight=(entitled + room) * scale,
        present_weight=(present + room) * scale,
        validity_turnout=scenario["turnout"],  # type: ignore[arg-type]
    )


@given(scenarios(), st.data())
def test_the_order_of_the_ballots_never_matters(
    scenario: dict[str, object], data: st.DataObject
) -> None:
    cast = scenario["ballots"]
    assert isinstance(cast, list)
    shuffled = data.draw(st.permutations(cast))
    assert run(scenario, shuffled) == run(scenario)
    assert run(scenario) == run(scenario)  # and the same input decides the same, every time


@given(scenarios(), st.fractions(min_value=F(1, 10), max_value=10, max_denominator=10))
def test_scaling_every_weight_changes_no_decision(
    scenario: dict[str, object], factor: Fraction
) -> None:
    assume(factor > 0)
    plain, scaled = run(scenario), run(scenario, scale=factor)
    assert scaled.adopted == plain.adopted
    assert scaled.valid == plain.valid
    assert scaled.yes_share == plain.yes_share
    assert scaled.base_weight == plain.base_weight * factor


@given(scenarios(), weights)
def test_one_more_yes_never_defeats_an_adopted_motion(
    scenario: dict[str, object], weight: Fraction | int
) -> None:
    cast = scenario["ballots"]
    assert isinstance(cast, list)
    before = run(scenario, room=F(weight))
    after = run(scenario, [*cast, (weight, "yes")], room=F(weight))
    if before.adopted:
        assert after.adopted


@given(scenarios(), weights)
def test_one_more_no_never_adopts_a_valid_motion_that_failed(
    scenario: dict[str, object], weight: Fraction | int
) -> None:
    # Only a valid vote: a no can lift turnout over the validity share (see the paradox test).
    cast = scenario["ballots"]
    assert isinstance(cast, list)
    before = run(scenario, room=F(weight))
    after = run(scenario, [*cast, (weight, "no")], room=F(weight))
    if before.valid and not before.adopted:
        assert not after.adopted
    if scenario["turnout"] is None:
        assert before.valid and after.valid


@given(scenarios())
def test_two_thirds_is_adopted_exactly_when_yes_is_at_least_two_thirds(
    scenario: dict[str, object],
) -> None:
    decision = run({**scenario, "rule": MajorityRule.two_thirds, "turnout": None})
    if decision.base_weight > 0:
        assert decision.yes_share is not None
        assert decision.adopted is (decision.yes_share >= F(2, 3))
    else:
        assert decision.yes_share is None and not decision.adopted


@given(scenarios())
@settings(max_examples=300)
def test_every_decision_follows_its_threshold_and_says_so(scenario: dict[str, object]) -> None:
    decision = run(scenario)
    share = decision.yes_share
    met = share is not None and (
        share > decision.threshold if decision.strict else share >= decision.threshold
    )
    assert decision.adopted is (decision.valid and met)
    assert decision.explanation.endswith(": adopted") is decision.adopted
    assert "\n" not in decision.explanation
    if decision.rule is MajorityRule.unanimous and decision.adopted:
        assert decision.tally.no == 0 and decision.tally.yes > 0
