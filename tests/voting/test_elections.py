"""Secret elections of RULES.md as plain functions: ballot validity, single-seat rounds and
instant run-off, STV with a Droop quota, block vote; then properties over generated ballots."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assembly.voting.elections import (
    RON,
    ElectionMethod,
    RoundOutcome,
    StvAction,
    StvResult,
    ballot_options,
    block_vote,
    check_marks,
    droop_quota,
    election_result,
    instant_runoff,
    max_marks,
    single_seat_round,
    stv,
)
from assembly.voting.rules import BallotRefused

F = Fraction


def marks(
    *names: str, times: int = 1, weight: Fraction | int = 1
) -> list[tuple[Fraction | int, tuple[str, ...]]]:
    return [(weight, names)] * times


def votes_for(
    option: str | None, times: int, weight: Fraction | int = 1
) -> list[tuple[Fraction | int, str | None]]:
    return [(weight, option)] * times


# --- the ballot -------------------------------------------------------------------------------


def test_re_open_nominations_is_always_on_the_ballot() -> None:
    assert ballot_options(["A", "B"]) == ("A", "B", RON)
    assert ballot_options([RON, "A"]) == (RON, "A")
    assert ballot_options([]) == (RON,)


@pytest.mark.parametrize("bad", [["A", "A"], ["A", ""]])
def test_options_are_distinct_candidate_ids(bad: list[str]) -> None:
    with pytest.raises(ValueError):
        ballot_options(bad)
    with pytest.raises(TypeError):
        ballot_options("AB")


def test_a_ballot_with_more_marks_than_seats_is_refused_before_it_is_cast() -> None:
    with pytest.raises(BallotRefused) as refused:
        check_marks(["A", "B", "C"], ["A", "B", "C"], 2, ElectionMethod.block)
    assert refused.value.rule == "too_many_marks"
    assert refused.value.message == ("You marked 3 candidates but this election allows at most 2.")


def test_a_single_seat_ballot_marks_one_option() -> None:
    check_marks(["A"], ["A", "B"], 1, "rounds")
    check_marks([RON], ["A", "B"], 1, "rounds")
    with pytest.raises(
        BallotRefused,
        match=re.escape("You marked 2 candidates but this election allows at most 1."),
    ):
        check_marks(["A", "B"], ["A", "B"], 1, "rounds")


def test_a_ranked_ballot_may_rank_every_option() -> None:
    check_marks(["B", RON, "A"], ["A", "B"], 1, "instant_runoff")
    check_marks(["B", "C", "A", RON], ["A", "B", "C"], 2, "stv")
    assert max_marks("stv", ["A", "B", "C"], 2) == 4
    assert max_marks("block", ["A", "B", "C"], 2) == 2


def test_an_empty_ballot_is_an_allowed_blank() -> None:
    for method, seats in (("rounds", 1), ("instant_runoff", 1), ("stv", 2), ("block", 2)):
        check_marks([], ["A", "B", "C"], seats, method)


def test_unknown_options_and_repeated_marks_are_refused() -> None:
    with pytest.raises(
        BallotRefused, match=re.escape("'Z' is not an option on this ballot.")
    ) as unknown:
        check_marks(["Z"], ["A", "B"], 1, "rounds")
    assert unknown.value.rule == "unknown_option"
    with pytest.raises(BallotRefused, match=re.escape("You marked A more than once.")) as twice:
        check_marks(["A", "A"], ["A", "B"], 2, "block")
    assert twice.value.rule == "duplicate_mark"
    with pytest.raises(BallotRefused, match="Re-open nominations more than once"):
        check_marks([RON, "A", RON], ["A", "B"], 1, "instant_runoff")


def test_seats_must_fit_the_method() -> None:
    with pytest.raises(ValueError, match="single seat"):
        check_marks([], ["A", "B"], 2, "rounds")
    with pytest.raises(ValueError, match="1 seat or more"):
        check_marks([], ["A", "B"], 0, "stv")
    with pytest.raises(ValueError):
        check_marks([], ["A", "B"], 1, "plurality")
    with pytest.raises(TypeError):
        check_marks("A", ["A", "B"], 1, "rounds")


# --- single seat, repeated rounds ---------------------------------------------------------------


def test_a_majority_in_round_one_elects() -> None:
    result = single_seat_round(votes_for("A", 61) + votes_for("B", 39), ["A", "B"])
    assert result.outcome is RoundOutcome.elected
    assert result.winner == result.elected == "A"
    assert result.valid == 100
    assert result.continuing == ()
    assert result.explanation == (
        "Round 1: A has 61 of 100 valid votes (61.0 %), more than half: elected"
    )


def test_re_open_nominations_winning_leaves_the_post_open() -> None:
    result = single_seat_round(votes_for(RON, 51) + votes_for("A", 49), ["A"])
    assert result.outcome is RoundOutcome.post_open
    assert result.post_open
    assert result.winner == RON and result.elected is None
    assert result.explanation == (
        "Round 1: Re-open nominations has 51 of 100 valid votes (51.0 %), more than half: "
        "the post stays open and nominations re-open"
    )


def test_without_a_majority_the_last_is_dropped_and_round_two_elects() -> None:
    first = single_seat_round(
        votes_for("A", 45) + votes_for("B", 40) + votes_for("C", 15), ["A", "B", "C"]
    )
    assert first.outcome is RoundOutcome.next_round
    assert first.dropped == ("C",)
    assert first.continuing == ("A", "B", RON)
    assert first.explanation == (
        "Round 1: no option has more than half of 100 valid votes (A 45, B 40, C 15, "
        "Re-open nominations 0); C has the fewest votes and is dropped"
    )
    second = single_seat_round(votes_for("A", 48) + votes_for("B", 52), first.continuing, number=2)
    assert second.elected == "B"
    assert second.explanation.startswith("Round 2: B has 52 of 100 valid votes (52.0 %)")


def test_blank_ballots_are_cast_but_not_valid_votes() -> None:
    result = single_seat_round(
        votes_for("A", 50) + votes_for("B", 40) + votes_for(None, 20), ["A", "B"]
    )
    assert result.blank == 20
    assert result.valid == 90
    assert result.elected == "A"  # 50 of 90; with the blanks it would be 50 of 110


def test_exactly_half_of_the_valid_votes_does_not_elect() -> None:
    result = single_seat_round(
        votes_for("A", 50) + votes_for("B", 30) + votes_for("C", 20), ["A", "B", "C"]
    )
    assert result.winner is None
    assert result.dropped == ("C",)
    tied = single_seat_round(votes_for("A", 50) + votes_for("B", 50), ["A", "B"])
    assert tied.winner is None
    assert tied.outcome is RoundOutcome.undecided  # dropping A and B would leave only RON


def test_re_open_nominations_is_never_dropped_even_with_the_fewest_votes() -> None:
    result = single_seat_round(
        votes_for("A", 40) + votes_for("B", 35) + votes_for("C", 20) + votes_for(RON, 5),
        ["A", "B", "C"],
    )
    assert result.dropped == ("C",)
    assert RON in result.continuing


def test_all_tied_for_last_are_dropped_together_when_a_candidate_remains() -> None:
    result = single_seat_round(
        votes_for("A", 40) + votes_for("B", 30) + votes_for("C", 15) + votes_for("D", 15),
        ["A", "B", "C", "D"],
    )
    assert result.dropped == ("C", "D")
    assert result.continuing == ("A", "B", RON)
    assert result.explanation.endswith("C and D have the fewest votes and are dropped")


def test_a_tie_for_last_that_would_leave_no_candidate_goes_to_the_chair() -> None:
    result = single_seat_round(
        votes_for("A", 10) + votes_for("B", 10) + votes_for(RON, 20), ["A", "B"]
    )
    assert result.outcome is RoundOutcome.undecided
    assert result.winner is None and result.dropped == () and result.continuing == ()
    assert result.explanation.endswith("so the chair decides how to proceed")


def test_a_last_candidate_tied_with_re_open_nominations_goes_to_the_chair() -> None:
    result = single_seat_round(votes_for("A", 40) + votes_for(RON, 40), ["A"])
    assert result.outcome is RoundOutcome.undecided
    assert result.explanation == (
        "Round 1: no option has more than half of 80 valid votes (A 40, Re-open nominations "
        "40), and dropping the last would leave no candidate standing, so the chair decides "
        "how to proceed"
    )


def test_a_round_of_only_blank_ballots_decides_nothing() -> None:
    result = single_seat_round(votes_for(None, 5), ["A", "B"])
    assert result.outcome is RoundOutcome.undecided
    assert result.valid == 0 and result.blank == 5
    assert result.explanation == (
        "Round 1: no valid votes were cast, so the chair decides how to proceed"
    )


def test_weighted_votes_are_summed_exactly_in_a_round() -> None:
    third = F(1, 3)
    result = single_seat_round(votes_for("A", 3, third) + votes_for("B", 1, F(99, 100)), ["A", "B"])
    assert result.votes("A") == 1
    assert result.elected == "A"
    tied = single_seat_round(votes_for("A", 3, third) + votes_for("B", 1), ["A", "B"])
    assert tied.winner is None  # 1 against 1: no majority


def test_a_ballot_for_an_option_not_standing_is_an_error_and_floats_are_refused() -> None:
    with pytest.raises(ValueError, match="'C'"):
        single_seat_round([(1, "C")], ["A", "B"])
    with pytest.raises(TypeError):
        single_seat_round([(0.5, "A")], ["A", "B"])  # type: ignore[list-item]


# --- single seat, instant run-off -----------------------------------------------------------


def test_instant_run_off_transfers_to_the_next_remaining_preference() -> None:
    rounds = instant_runoff(
        marks("A", "B", times=45) + marks("B", "A", times=40) + marks("C", "B", times=15),
        ["A", "B", "C"],
    )
    assert [r.number for r in rounds] == [1, 2]
    assert rounds[0].dropped == ("C",)
    assert rounds[1].votes("B") == 55
    assert rounds[1].elected == "B"
    assert rounds[1].options == ("A", "B", RON)


def test_instant_run_off_round_one_is_the_round_of_first_preferences() -> None:
    ranked = marks("A", "B", times=3) + marks("C", times=2) + marks(times=1) + marks("B", times=2)
    firsts = [(w, m[0] if m else None) for w, m in ranked]
    assert instant_runoff(ranked, ["A", "B", "C"])[0] == single_seat_round(firsts, ["A", "B", "C"])


def test_ballots_with_no_remaining_preference_are_exhausted() -> None:
    rounds = instant_runoff(
        marks("A", times=4) + marks("B", times=3) + marks("C", times=2) + marks(times=1),
        ["A", "B", "C"],
    )
    # Round 1: A 4 of 9, C dropped; round 2: C's 2 are exhausted, A 4 of 7 elected.
    assert rounds[1].exhausted == 2
    assert rounds[1].blank == 1
    assert rounds[1].valid == 7
    assert rounds[1].elected == "A"


def test_instant_run_off_can_re_open_nominations() -> None:
    rounds = instant_runoff(
        marks("A", RON, times=3) + marks(RON, times=3) + marks("B", RON, times=2),
        ["A", "B"],
    )
    assert rounds[0].dropped == ("B",)
    assert rounds[-1].post_open  # RON 5 of 8


def test_a_recorded_ranked_ballot_that_breaks_the_rules_is_an_error() -> None:
    with pytest.raises(ValueError, match=re.escape("not valid: You marked A more than once.")):
        instant_runoff(marks("A", "A"), ["A", "B"])


# --- several seats, single transferable vote -------------------------------------------------


def test_droop_quota_is_whole_for_whole_votes_and_exact_otherwise() -> None:
    assert droop_quota(F(100), 2, whole_votes=True) == (F(34), False)
    assert droop_quota(F(99), 2, whole_votes=True) == (F(34), False)
    assert droop_quota(F(20), 3, whole_votes=True) == (F(6), False)
    assert droop_quota(F(7, 2), 2, whole_votes=False) == (F(7, 6), True)


FOOD = ["Orange", "Pear", "Chocolate", "Strawberry", "Bonbon"]


def food_ballots() -> list[tuple[Fraction | int, tuple[str, ...]]]:
    return (
        marks("Orange", times=4)
        + marks("Pear", "Orange", times=2)
        + marks("Chocolate", "Strawberry", times=8)
        + marks("Chocolate", "Bonbon", times=4)
        + marks("Strawberry", times=1)
        + marks("Bonbon", times=1)
    )


def test_stv_textbook_example_elects_chocolate_orange_and_strawberry() -> None:
    # The party-food example of the STV textbooks (Wikipedia, "Single transferable vote"),
    # checked by hand: 20 valid votes, 3 seats, Droop quota floor(20/4) + 1 = 6.
    # Stage 1: Orange 4, Pear 2, Chocolate 12, Strawberry 1, Bonbon 1: Chocolate elected.
    # Stage 2: Chocolate's surplus 6 of 12, each ballot passing on 1/2: the 8 Chocolate >
    #          Strawberry give 4, the 4 Chocolate > Bonbon give 2: Strawberry 5, Bonbon 3.
    # Stage 3: RON (0) excluded, nothing moves.
    # Stage 4: Pear (2) excluded, its 2 go to Orange: Orange 6, elected.
    # Stage 5: Bonbon (3) excluded: its own ballot and the 4 halves from Chocolate have no
    #          continuing preference left, 3 exhausted; Strawberry, the only continuing
    #          candidate, takes the last seat with 5.
    result = stv(food_ballots(), FOOD, 3)
    assert result.quota == 6 and not result.quota_strict
    assert result.elected == ("Chocolate", "Orange", "Strawberry")
    assert [s.action for s in result.stages] == [
        StvAction.first_count,
        StvAction.surplus,
        StvAction.exclusion,
        StvAction.exclusion,
        StvAction.exclusion,
    ]
    assert [s.subjects for s in result.stages] == [
        (),
        ("Chocolate",),
        (RON,),
        ("Pear",),
        ("Bonbon",),
    ]
    assert result.stages[1].transfer_value == F(1, 2)
    assert result.stages[1].votes("Strawberry") == 5
    assert result.stages[1].votes("Bonbon") == 3
    assert result.stages[1].votes("Chocolate") == 6
    assert result.stages[3].votes("Orange") == 6
    assert result.stages[4].exhausted == 3
    assert [s.elected for s in result.stages] == [
        ("Chocolate",),
        (),
        (),
        ("Orange",),
        ("Strawberry",),
    ]
    assert result.stages[0].explanation == (
        "Stage 1, first preferences: Chocolate with 12 reaches the quota of 6 and is elected"
    )
    assert result.stages[1].explanation == (
        "Stage 2, surplus of 6 from Chocolate transferred at 0.5 of each ballot's value: "
        "no one reaches the quota of 6"
    )
    assert result.explanation == (
        "With a quota of 6 from 20 valid votes, Chocolate, Orange and Strawberry are elected"
    )
    assert not result.ron_elected and result.open_seats == 0 and result.undecided_seats == 0


def test_stv_surplus_passes_on_a_fraction_of_every_ballot_of_the_elected() -> None:
    # 16 valid votes, 2 seats, quota floor(16/3) + 1 = 6. A has 9 and a surplus of 3, so each
    # of A's ballots passes on 3/9 = 1/3: B 3 + 7/3 = 16/3, C 4 + 2/3 = 14/3. RON (0) and then
    # C are excluded; C's 4 own ballots and its 2/3 from A have nowhere to go (exhausted 14/3)
    # and B, the only one left, takes the second seat.
    result = stv(
        marks("A", "B", times=7)
        + marks("A", "C", times=2)
        + marks("C", times=4)
        + marks("B", times=3),
        ["A", "B", "C"],
        2,
    )
    assert result.quota == 6
    assert result.stages[1].transfer_value == F(1, 3)
    assert result.stages[1].votes("B") == F(16, 3)
    assert result.stages[1].votes("C") == F(14, 3)
    assert result.stages[-1].exhausted == F(14, 3)
    assert result.elected == ("A", "B")
    for stage in result.stages:
        assert sum(v for _, v in stage.totals) + stage.exhausted == 16


def test_stv_with_fractional_weights_needs_more_than_the_exact_quota() -> None:
    half = F(1, 2)
    result = stv(marks("A", times=3, weight=half) + marks("B", times=1, weight=half), ["A", "B"], 1)
    assert result.quota == 1 and result.quota_strict  # exactly 2 / (1 + 1)
    assert result.elected == ("A",)  # 3/2 is more than 1
    tied = stv(marks("A", times=2, weight=half) + marks("B", times=2, weight=half), ["A", "B"], 1)
    assert tied.elected == ()  # 1 is not more than 1: the tie is the chair's
    assert tied.undecided_seats == 1


def test_stv_stops_when_re_open_nominations_is_elected_and_the_other_seats_stay_open() -> None:
    # 25 valid votes, 3 seats, quota 7: RON and A reach it at once; B is not elected.
    result = stv(marks(RON, times=10) + marks("A", times=10) + marks("B", times=5), ["A", "B"], 3)
    assert result.ron_elected
    assert result.elected == ("A",)
    assert result.open_seats == 2
    assert result.stages[-1].elected == ("A", RON)
    assert result.explanation == (
        "With a quota of 7 from 25 valid votes, A is elected; as Re-open nominations was "
        "elected, 2 of 3 seats stay open"
    )


def test_stv_excludes_re_open_nominations_like_any_candidate() -> None:
    result = stv(marks(RON, times=1) + marks("A", times=4) + marks("B", times=3), ["A", "B"], 1)
    assert result.stages[1].subjects == (RON,)
    assert result.elected == ("A",)
    assert not result.ron_elected


def test_stv_fills_the_last_seats_with_the_last_continuing_candidates() -> None:
    # Quota floor(9/4) + 1 = 3: A (5) elected, its surplus of 2 has nowhere to go; B (2) and
    # C (2) are then the only candidates left for the 2 seats, RON (0) excluded before them.
    result = stv(
        marks("A", times=5) + marks("B", times=2) + marks("C", times=2), ["A", "B", "C"], 3
    )
    assert result.elected == ("A", "B", "C")
    assert result.stages[-1].explanation.endswith(
        "B and C are elected as the only options still continuing"
    )


def test_stv_elects_those_ahead_of_a_tie_that_cannot_be_excluded_and_leaves_the_rest() -> None:
    # Quota floor(6/4) + 1 = 2: A elected; B (1), C (0) and RON (0) continue for 2 seats.
    # Excluding C and RON together would leave B alone, so B, elected whatever the tie's
    # outcome, takes a seat and the chair decides the last one between C and RON.
    result = stv(marks("A", times=5) + marks("B", times=1), ["A", "B", "C"], 3)
    assert result.elected == ("A", "B")
    assert result.undecided_seats == 1
    assert result.tied == ("C", RON)
    assert result.explanation == (
        "With a quota of 2 from 6 valid votes, A and B are elected; C and Re-open nominations "
        "are tied for last place, so the chair decides the last seat between them"
    )


def test_stv_excludes_all_tied_for_last_together_when_enough_remain() -> None:
    result = stv(
        marks("A", times=4)
        + marks("B", "A", times=2)
        + marks("C", "D", times=2)
        + marks("D", times=3),
        ["A", "B", "C", "D"],
        1,
    )
    # Quota floor(11/2) + 1 = 6. RON (0) out; then B and C (2 each) out together: A 6, D 5.
    exclusions = [s.subjects for s in result.stages if s.action is StvAction.exclusion]
    assert exclusions == [(RON,), ("B", "C")]
    assert result.elected == ("A",)


def test_stv_tie_for_last_that_leaves_too_few_goes_to_the_chair() -> None:
    result = stv(marks("A") + marks("B"), ["A", "B"], 1)
    assert result.elected == ()
    assert result.undecided_seats == 1
    assert result.tied == ("A", "B")
    assert result.stages[-1].explanation.endswith(
        "A and B are tied for last place with 1 and excluding them all would leave too few "
        "candidates, so the chair decides between them the 1 seat still to fill"
    )
    assert result.explanation.endswith(
        "A and B are tied for last place, so the chair decides the last seat between them"
    )


def test_stv_with_only_blank_ballots_fills_no_seat() -> None:
    result = stv(marks(times=4), ["A", "B"], 2)
    assert result.valid == 0 and result.blank == 4
    assert result.elected == () and result.undecided_seats == 2
    assert result.explanation == (
        "No valid votes were cast: no seat is filled and the chair decides how to proceed"
    )


def test_stv_refuses_floats_and_bad_seats() -> None:
    with pytest.raises(TypeError):
        stv([(1.0, ("A",))], ["A"], 1)  # type: ignore[list-item]
    with pytest.raises(ValueError):
        stv([], ["A"], 0)


# --- several seats, one mark per seat ------------------------------------------------------


def test_block_vote_elects_the_most_voted() -> None:
    result = block_vote(
        marks("A", "B", times=5) + marks("C", RON, times=3) + marks("B", times=2) + marks(times=1),
        ["A", "B", "C"],
        2,
    )
    assert result.elected == ("B", "A")
    assert result.votes("B") == 7 and result.votes("C") == 3
    assert result.valid == 10 and result.blank == 1
    assert result.explanation == "B and A are elected with the most of 10 valid ballots (B 7, A 5)"


def test_block_vote_candidates_need_more_votes_than_re_open_nominations() -> None:
    result = block_vote(marks("A", RON, times=5) + marks("C", "B", times=3), ["A", "B", "C"], 3)
    assert result.elected == ()
    assert result.open_seats == 3
    result = block_vote(marks("A", "B", times=5) + marks(RON, "C", times=3), ["A", "B", "C"], 3)
    assert result.elected == ("A", "B")
    assert result.open_seats == 1  # C ties with RON: a tie fails
    assert result.explanation.endswith(
        "1 seat stays open, as no other candidate has more votes than Re-open nominations (3)"
    )


def test_block_vote_tie_at_the_cut_off_is_left_unresolved() -> None:
    result = block_vote(marks("A", "B", times=5) + marks("A", "C", times=5), ["A", "B", "C"], 2)
    assert result.elected == ("A",)
    assert result.tied == ("B", "C")
    assert result.undecided_seats == 1
    assert result.explanation == (
        "A is elected with the most of 10 valid ballots (A 10); B and C are tied with 5 for "
        "the last seat, so the chair decides"
    )


def test_block_vote_a_tie_that_fits_the_seats_elects_all_tied() -> None:
    result = block_vote(marks("A", "B", times=5) + marks("C", times=1), ["A", "B", "C"], 2)
    assert result.elected == ("A", "B")
    assert result.tied == ()


def test_block_vote_refuses_ballots_with_too_many_marks() -> None:
    with pytest.raises(ValueError, match="allows at most 2"):
        block_vote(marks("A", "B", "C"), ["A", "B", "C"], 2)


def test_block_vote_with_no_valid_ballots_leaves_every_seat_to_the_chair() -> None:
    result = block_vote(marks(times=3), ["A", "B"], 2)
    assert result.undecided_seats == 2 and result.open_seats == 0 and result.elected == ()


# --- one JSON result per method -------------------------------------------------------------


def test_election_result_gives_json_ready_data_for_every_method() -> None:
    rounds = election_result("rounds", 1, ["A", "B"], [(1, ["A"]), (1, ["A"]), (1, [])])
    assert rounds["elected"] == ["A"]
    assert rounds["rounds"][0]["totals"] == {"A": "2", "B": "0", RON: "0"}
    assert rounds["rounds"][0]["blank"] == "1"
    irv = election_result("instant_runoff", 1, ["A", "B", "C"], food_like())
    assert irv["elected"] == ["B"] and len(irv["rounds"]) == 2
    counted = election_result("stv", 3, FOOD, food_ballots())
    assert counted["elected"] == ["Chocolate", "Orange", "Strawberry"]
    assert counted["quota"] == "6"
    assert counted["rounds"][1]["transfer_value"] == "0.5"
    block = election_result("block", 2, ["A", "B", "C"], [(F(1, 2), ["A", "B"]), (1, ["C"])])
    assert block["elected"] == ["C"]
    assert block["rounds"][0]["totals"]["A"] == "0.5"


def food_like() -> list[tuple[Fraction | int, tuple[str, ...]]]:
    return marks("A", "B", times=45) + marks("B", "A", times=40) + marks("C", "B", times=15)


# --- properties ---------------------------------------------------------------------------------

weights = st.integers(1, 4) | st.fractions(min_value=F(1, 6), max_value=F(4), max_denominator=6)


@st.composite
def elections(
    draw: st.DrawFn, *, max_candidates: int = 5, max_seats: int = 3, ranked: bool = True
) -> tuple[tuple[str, ...], int, list[tuple[Fraction | int, tuple[str, ...]]]]:
    candidates = [f"C{i}" for i in range(draw(st.integers(1, max_candidates)))]
    options = ballot_options(candidates)
    seats = draw(st.integers(1, max_seats))
    limit = len(options) if ranked else seats

    def ballot(order: Sequence[str]) -> st.SearchStrategy[tuple[str, ...]]:
        return st.integers(0, min(limit, len(order))).map(lambda k: tuple(order[:k]))

    papers = st.tuples(weights, st.permutations(options).flatmap(ballot))
    return options, seats, draw(st.lists(papers, max_size=30))


@given(elections(), st.data())
@settings(max_examples=300)
def test_stv_conserves_every_vote_and_fills_at_most_the_seats(
    election: tuple[tuple[str, ...], int, list[tuple[Fraction | int, tuple[str, ...]]]],
    data: st.DataObject,
) -> None:
    options, seats, papers = election
    result = stv(papers, options, seats)
    total = sum((F(w) for w, _ in papers), F(0))
    assert result.valid + result.blank == total
    for stage in result.stages:
        assert sum(v for _, v in stage.totals) + stage.exhausted == result.valid
    assert len(result.elected) + result.open_seats + result.undecided_seats == seats
    assert RON not in result.elected
    assert len(set(result.elected)) == len(result.elected)
    assert result.open_seats == 0 or result.ron_elected
    shuffled = data.draw(st.permutations(papers))
    assert stv(shuffled, options, seats) == result  # the order of the ballots never matters


@given(elections())
def test_stv_scaling_fractional_weights_changes_no_one_elected(
    election: tuple[tuple[str, ...], int, list[tuple[Fraction | int, tuple[str, ...]]]],
) -> None:
    options, seats, papers = election
    scaled = [(F(w) * F(7, 5), m) for w, m in papers]
    assume(any(F(w).denominator != 1 for w, m in papers if m))
    assume(any(w.denominator != 1 for w, m in scaled if m))
    plain, bigger = stv(papers, options, seats), stv(scaled, options, seats)
    assert (plain.elected, plain.open_seats, plain.undecided_seats) == (
        bigger.elected,
        bigger.open_seats,
        bigger.undecided_seats,
    )
    assert bigger.quota == plain.quota * F(7, 5)


@given(elections(max_seats=1), st.data())
@settings(max_examples=300)
def test_instant_run_off_ends_in_one_decision_and_drops_only_candidates(
    election: tuple[tuple[str, ...], int, list[tuple[Fraction | int, tuple[str, ...]]]],
    data: st.DataObject,
) -> None:
    options, _, papers = election
    rounds = instant_runoff(papers, options)
    total = sum((F(w) for w, _ in papers), F(0))
    for earlier, later in itertools.pairwise(rounds):
        assert earlier.outcome is RoundOutcome.next_round
        assert later.options == earlier.continuing
    for result in rounds:
        assert result.valid + result.blank + result.exhausted == total
        assert RON in result.options and RON not in result.dropped
        if result.winner is not None:
            assert result.votes(result.winner) > result.valid / 2
    assert rounds[-1].outcome is not RoundOutcome.next_round
    assert instant_runoff(data.draw(st.permutations(papers)), options) == rounds


@given(elections(max_seats=1, ranked=False))
def test_a_round_elects_exactly_when_an_option_has_more_than_half(
    election: tuple[tuple[str, ...], int, list[tuple[Fraction | int, tuple[str, ...]]]],
) -> None:
    options, _, papers = election
    result = single_seat_round([(w, m[0] if m else None) for w, m in papers], options)
    leaders = [o for o, v in result.totals if v > result.valid / 2]
    assert (result.winner is not None) == bool(leaders)
    if result.outcome is RoundOutcome.next_round:
        assert result.dropped and len(result.continuing) >= 2
        lowest = min(v for o, v in result.totals if o != RON)
        assert {result.votes(o) for o in result.dropped} == {lowest}


@given(elections(ranked=False), st.data())
@settings(max_examples=300)
def test_block_vote_elects_only_candidates_ahead_of_everyone_not_elected(
    election: tuple[tuple[str, ...], int, list[tuple[Fraction | int, tuple[str, ...]]]],
    data: st.DataObject,
) -> None:
    options, seats, papers = election
    result = block_vote(papers, options, seats)
    assert len(result.elected) + result.open_seats + result.undecided_seats == seats
    losers = [o for o in options if o not in result.elected and o != RON]
    for winner in result.elected:
        assert result.votes(winner) > result.votes(RON)
        assert all(result.votes(winner) > result.votes(o) for o in losers)
    assert sum(v for _, v in result.totals) <= result.valid * seats
    assert block_vote(data.draw(st.permutations(papers)), options, seats) == result


def test_the_same_ballots_always_give_the_same_result() -> None:
    first: StvResult = stv(food_ballots(), FOOD, 3)
    assert all(stv(food_ballots(), FOOD, 3) == first for _ in range(3))
