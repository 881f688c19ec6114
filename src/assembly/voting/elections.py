"""Secret elections as RULES.md sets them out: single seat by repeated rounds or instant
run-off, several seats by single transferable vote (Droop quota) or one mark per seat.

Plain functions over plain data with exact weights, so the server, the exports and the offline
audit verifier count the same ballots to the same result. Tested in
tests/voting/test_elections.py.

Choices this module makes where RULES.md is silent:
- "Re-open nominations" (RON) is on every ballot. Winning a single-seat round with it, being
  elected by STV, or beating candidates in a block vote leaves the post (or the seats not yet
  filled) open for new nominations.
- A blank ballot (no marks) is cast but is not a valid vote: majorities and quotas are
  counted on valid votes only.
- No valid votes at all decide nothing: the chair decides how to proceed.
- Tie for last place (single seat, and exclusion in STV): every option tied for last is
  dropped together, provided enough options remain to go on (in a single-seat round RON and
  at least one candidate; in STV at least as many continuing candidates as seats still to
  fill). Otherwise the count stops undecided and the chair decides (a new ballot, or lots as
  the rules of procedure say); in STV those ahead of the tie, elected whatever the tie's
  outcome, are elected first. No look-back to earlier rounds and no lots: the result depends
  only on the ballots.
- Ties at the cut-off of a block vote are not broken either: those seats go to the chair.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fractions import Fraction
from typing import Any

from assembly.credentials.rules import exact_sum, format_weight
from assembly.i18n import t
from assembly.voting.rules import (
    BallotRefused,
    Threshold,
    Weight,
    exact,
    format_percent_against,
)

RON = "RON"
RON_LABEL = "Re-open nominations"

_MORE_THAN_HALF = Threshold(Fraction(1, 2), True, "more than half")


class ElectionMethod(StrEnum):
    rounds = "rounds"  # one seat, one mark, a new ballot each round (repeated rounds)
    instant_runoff = "instant_runoff"  # one seat, ranked ballots counted in rounds at once
    stv = "stv"  # several seats, ranked ballots, Droop quota
    block = "block"  # several seats, at most one mark per seat (block vote)


_SINGLE_SEAT = frozenset({ElectionMethod.rounds, ElectionMethod.instant_runoff})
_RANKED = frozenset({ElectionMethod.instant_runoff, ElectionMethod.stv})

Totals = tuple[tuple[str, Fraction], ...]
"""Votes per option, in the order of the ballot's options."""


def label(option: str) -> str:
    """How an option is read aloud: candidate ids as they are, RON in words."""
    return RON_LABEL if option == RON else option


def ballot_options(options: Iterable[str]) -> tuple[str, ...]:
    """The options of a ballot in the order given, with RON added last when missing."""
    result = tuple(options)
    if isinstance(options, str):
        raise TypeError("options are a sequence of candidate ids, not one string")
    for option in result:
        if not isinstance(option, str) or not option:
            raise ValueError(f"an option is a non-empty candidate id, not {option!r}")
    if len(set(result)) != len(result):
        raise ValueError("an option appears twice on the ballot")
    return result if RON in result else (*result, RON)


def max_marks(method: ElectionMethod | str, options: Sequence[str], seats: int) -> int:
    """How many options a ballot may mark: one, one per seat, or (ranked) all of them."""
    method = ElectionMethod(method)
    _check_seats(method, seats)
    if method in _RANKED:
        return len(ballot_options(options))
    return 1 if method is ElectionMethod.rounds else seats


def check_marks(
    marks: Sequence[str], options: Sequence[str], seats: int, method: ElectionMethod | str
) -> None:
    """Refuse, before it is cast, a ballot that is not valid for this election.

    `marks` are the options marked, in order of preference for ranked methods. No marks is a
    blank ballot: allowed (an explicit abstention), cast, but not a valid vote.
    """
    allowed = max_marks(method, options, seats)
    _refuse_marks(marks, frozenset(ballot_options(options)), allowed)


def _refuse_marks(marks: Sequence[str], standing: frozenset[str], allowed: int) -> None:
    if isinstance(marks, str):
        raise TypeError("marks are a sequence of options, not one string")
    if len(marks) > allowed:
        raise BallotRefused(
            "too_many_marks",
            t(
                "You marked {count} candidates but this election allows at most {allowed}.",
                count=len(marks),
                allowed=allowed,
            ),
        )
    seen: set[str] = set()
    for mark in marks:
        if mark not in standing:
            raise BallotRefused(
                "unknown_option", t("{mark!r} is not an option on this ballot.", mark=mark)
            )
        if mark in seen:
            raise BallotRefused(
                "duplicate_mark", t("You marked {mark} more than once.", mark=label(mark))
            )
        seen.add(mark)


def _check_seats(method: ElectionMethod, seats: int) -> None:
    if isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
        raise ValueError(f"an election fills 1 seat or more, not {seats!r}")
    if method in _SINGLE_SEAT and seats != 1:
        raise ValueError(f"{method.value} fills a single seat, not {seats}")


def _read_ballots(
    ballots: Iterable[tuple[Weight, Sequence[str]]],
    options: tuple[str, ...],
    seats: int,
    method: ElectionMethod,
) -> list[tuple[Fraction, tuple[str, ...]]]:
    """Exact weights and checked marks; a bad recorded ballot is a ValueError, not a refusal."""
    allowed = max_marks(method, options, seats)
    standing = frozenset(options)
    read: list[tuple[Fraction, tuple[str, ...]]] = []
    for weight, marks in ballots:
        value = exact(weight, "a ballot's weight", positive=True)
        try:
            _refuse_marks(marks, standing, allowed)
        except BallotRefused as refused:
            raise ValueError(f"a recorded ballot is not valid: {refused.message}") from None
        read.append((value, tuple(marks)))
    return read


def _totals(options: Sequence[str], votes: Mapping[str, Fraction]) -> Totals:
    return tuple((option, votes.get(option, Fraction(0))) for option in options)


def _votes_of(totals: Totals, option: str) -> Fraction:
    for name, votes in totals:
        if name == option:
            return votes
    raise KeyError(option)


def _names(options: Sequence[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    labels = [label(option) for option in options]
    if len(labels) <= 1:
        return "".join(labels)
    return f"{', '.join(labels[:-1])} and {labels[-1]}"


def _standings(totals: Totals) -> str:
    """ "A 45, B 40, Re-open nominations 15": most votes first, ties in ballot order."""
    order = sorted(range(len(totals)), key=lambda i: (-totals[i][1], i))
    return ", ".join(f"{label(totals[i][0])} {format_weight(totals[i][1])}" for i in order)


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _seats_open(count: int, seats: int) -> str:
    """ "1 of 3 seats stays open", "2 of 3 seats stay open"."""
    seat_words = _plural(seats, "seat", "seats")
    return f"{count} of {seats} {seat_words} {_plural(count, 'stays', 'stay')} open"


# --- single seat -----------------------------------------------------------------------------


class RoundOutcome(StrEnum):
    elected = "elected"  # a candidate has more than half of the valid votes
    post_open = "post_open"  # RON has more than half: nominations re-open
    next_round = "next_round"  # no majority: the last option(s) dropped, another round
    undecided = "undecided"  # no majority and no option can be dropped: the chair decides


@dataclass(frozen=True, slots=True)
class RoundResult:
    """One round of a single-seat election: exact totals and what they decide."""

    number: int
    options: tuple[str, ...]  # the options standing in this round, RON included
    totals: Totals  # votes per option, in the order of `options`
    valid: Fraction  # the sum of `totals`
    blank: Fraction  # ballots cast with no mark
    exhausted: Fraction  # instant run-off: ballots whose ranked options have all been dropped
    outcome: RoundOutcome
    winner: str | None  # the option with more than half of the valid votes (may be RON)
    dropped: tuple[str, ...]  # options dropped before the next round
    explanation: str

    def votes(self, option: str) -> Fraction:
        return _votes_of(self.totals, option)

    @property
    def elected(self) -> str | None:
        """The candidate elected this round, if any (never RON)."""
        return self.winner if self.outcome is RoundOutcome.elected else None

    @property
    def post_open(self) -> bool:
        return self.outcome is RoundOutcome.post_open

    @property
    def continuing(self) -> tuple[str, ...]:
        """The options of the next round; empty when this round ends the election."""
        if self.outcome is not RoundOutcome.next_round:
            return ()
        return tuple(option for option in self.options if option not in self.dropped)


def _decide_round(
    number: int,
    options: tuple[str, ...],
    votes: Mapping[str, Fraction],
    blank: Fraction,
    exhausted: Fraction,
) -> RoundResult:
    totals = _totals(options, votes)
    valid = exact_sum(v for _, v in totals)
    prefix = f"Round {number}: "
    winner = next((option for option, v in totals if valid and v > valid / 2), None)
    dropped: tuple[str, ...] = ()
    if winner is not None:
        share = votes[winner] / valid
        shown = format_percent_against(share, _MORE_THAN_HALF, met=True)
        head = (
            f"{label(winner)} has {format_weight(votes[winner])} of {format_weight(valid)} "
            f"valid votes ({shown}), more than half: "
        )
        if winner == RON:
            outcome = RoundOutcome.post_open
            explanation = prefix + head + "the post stays open and nominations re-open"
        else:
            outcome = RoundOutcome.elected
            explanation = prefix + head + "elected"
    elif not valid:
        outcome = RoundOutcome.undecided
        explanation = prefix + "no valid votes were cast, so the chair decides how to proceed"
    else:
        candidates = [(option, v) for option, v in totals if option != RON]
        head = (
            f"no option has more than half of {format_weight(valid)} valid votes "
            f"({_standings(totals)})"
        )
        lowest = min((v for _, v in candidates), default=None)
        tied = tuple(option for option, v in candidates if v == lowest)
        if tied and len(options) - len(tied) >= 2:
            outcome = RoundOutcome.next_round
            dropped = tied
            has = _plural(len(tied), "has", "have")
            verb = _plural(len(tied), "is", "are")
            explanation = (
                f"{prefix}{head}; {_names(tied)} {has} the fewest votes and {verb} dropped"
            )
        else:
            outcome = RoundOutcome.undecided
            explanation = (
                f"{prefix}{head}, and dropping the last would leave no candidate standing, "
                "so the chair decides how to proceed"
            )
    return RoundResult(
        number=number,
        options=options,
        totals=totals,
        valid=valid,
        blank=blank,
        exhausted=exhausted,
        outcome=outcome,
        winner=winner,
        dropped=dropped,
        explanation=explanation,
    )


def single_seat_round(
    ballots: Iterable[tuple[Weight, str | None]],
    options: Sequence[str],
    *,
    number: int = 1,
) -> RoundResult:
    """Count one round of a single-seat election; each ballot marks one option or none (blank).

    A candidate, or RON, with more than half of the valid votes (blanks excluded) wins; RON
    winning leaves the post open. Otherwise the candidate with the fewest votes is dropped for
    the next round (RON is never dropped); candidates tied for last are all dropped if RON
    and at least one candidate remain, and otherwise the round is undecided and the chair
    decides.
    """
    standing = ballot_options(options)
    votes = dict.fromkeys(standing, Fraction(0))
    blank = Fraction(0)
    for weight, choice in ballots:
        value = exact(weight, "a ballot's weight", positive=True)
        if choice is None:
            blank += value
        elif choice in votes:
            votes[choice] += value
        else:
            raise ValueError(f"a recorded ballot marks {choice!r}, which is not standing")
    return _decide_round(number, standing, votes, blank, Fraction(0))


def instant_runoff(
    ballots: Iterable[tuple[Weight, Sequence[str]]], options: Sequence[str]
) -> list[RoundResult]:
    """Count a single seat from ranked ballots in rounds, as repeated rounds would go.

    Each round counts every ballot for its highest-ranked option still standing, then decides
    as `single_seat_round` does. A ballot none of whose options still stands is exhausted and
    no longer a valid vote; an empty ballot is blank throughout.
    """
    standing = ballot_options(options)
    read = _read_ballots(ballots, standing, 1, ElectionMethod.instant_runoff)
    rounds: list[RoundResult] = []
    while True:
        still = set(standing)
        votes = dict.fromkeys(standing, Fraction(0))
        blank = exhausted = Fraction(0)
        for value, ranking in read:
            if not ranking:
                blank += value
                continue
            top = next((option for option in ranking if option in still), None)
            if top is None:
                exhausted += value
            else:
                votes[top] += value
        result = _decide_round(len(rounds) + 1, standing, votes, blank, exhausted)
        rounds.append(result)
        if result.outcome is not RoundOutcome.next_round:
            return rounds
        standing = result.continuing


# --- several seats: single transferable vote --------------------------------------------------


def droop_quota(valid: Fraction, seats: int, *, whole_votes: bool) -> tuple[Fraction, bool]:
    """The Droop quota and whether a candidate must exceed it (True) or reach it (False).

    With whole votes it is floor(valid / (seats + 1)) + 1, to be reached; with fractional
    weights it is exactly valid / (seats + 1), to be exceeded. Either way no more than `seats`
    candidates can make it.
    """
    if whole_votes:
        return Fraction(valid.numerator // (valid.denominator * (seats + 1)) + 1), False
    return valid / (seats + 1), True


class StvAction(StrEnum):
    first_count = "first_count"
    surplus = "surplus"
    exclusion = "exclusion"


@dataclass(frozen=True, slots=True)
class StvStage:
    """One stage of an STV count: an action, the totals after it, and who it elected."""

    number: int
    action: StvAction
    subjects: tuple[str, ...]  # whose surplus was transferred, or who was excluded
    transfer_value: Fraction | None  # surplus: the share of each ballot's value passed on
    totals: Totals  # every option, after the action; elected candidates keep the quota
    exhausted: Fraction  # value with no continuing preference left
    elected: tuple[str, ...]  # elected at this stage, by quota or as the last continuing
    explanation: str

    def votes(self, option: str) -> Fraction:
        return _votes_of(self.totals, option)


@dataclass(frozen=True, slots=True)
class StvResult:
    seats: int
    options: tuple[str, ...]
    valid: Fraction
    blank: Fraction
    quota: Fraction
    quota_strict: bool  # True: more than the quota is needed; False: the quota is enough
    stages: tuple[StvStage, ...]
    elected: tuple[str, ...]  # candidates in order of election; never RON
    ron_elected: bool
    open_seats: int  # seats left open because RON was elected
    undecided_seats: int  # seats the count could not fill: the chair decides
    tied: tuple[str, ...]  # the options tied for last between which the chair decides
    explanation: str


@dataclass(slots=True)
class _Paper:
    ranking: tuple[str, ...]
    value: Fraction
    at: int  # index in `ranking` of the option now holding the paper


@dataclass(slots=True)
class _Count:
    options: tuple[str, ...]
    quota: Fraction
    strict: bool
    piles: dict[str, list[_Paper]] = field(default_factory=dict)
    continuing: list[str] = field(default_factory=list)
    exhausted: Fraction = Fraction(0)

    def total(self, option: str) -> Fraction:
        return exact_sum(paper.value for paper in self.piles[option])

    def totals(self) -> Totals:
        return tuple((option, self.total(option)) for option in self.options)

    def reaches(self, votes: Fraction) -> bool:
        return votes > self.quota if self.strict else votes >= self.quota

    def place(self, paper: _Paper) -> None:
        """Give the paper to its next continuing preference, or to the exhausted pile."""
        for at in range(paper.at + 1, len(paper.ranking)):
            if paper.ranking[at] in self.continuing:
                paper.at = at
                self.piles[paper.ranking[at]].append(paper)
                return
        self.exhausted += paper.value


def stv(
    ballots: Iterable[tuple[Weight, Sequence[str]]], options: Sequence[str], seats: int
) -> StvResult:
    """Fill `seats` by single transferable vote: Droop quota, weighted inclusive Gregory.

    - Valid votes are the non-blank ballots; the quota is `droop_quota` of them (whole votes
      when every weight is an integer).
    - Each stage, every continuing candidate at the quota is elected (most votes first). A
      surplus is then transferred, largest first (ties: order of election): every ballot held
      by the elected candidate, including those received by transfer, passes on
      surplus / total of its current value to its next continuing preference, so the elected
      candidate keeps exactly the quota. Value with no preference left is exhausted.
    - With no surplus to transfer, the continuing candidate with the fewest votes is excluded
      and all its ballots pass on at their current value. Options tied for last are excluded
      together if enough continue to fill the seats; otherwise those ahead of the tie are
      elected and the chair decides between the tied for the seats left (`tied`).
    - When no more candidates continue than seats remain, they are all elected.
    - RON is a candidate like the others (it can be excluded); once it is elected the count
      stops and every seat not yet filled stays open.
    """
    standing = ballot_options(options)
    read = _read_ballots(ballots, standing, seats, ElectionMethod.stv)
    blank = exact_sum(value for value, ranking in read if not ranking)
    papers = [_Paper(ranking, value, -1) for value, ranking in read if ranking]
    valid = exact_sum(paper.value for paper in papers)
    whole = all(paper.value.denominator == 1 for paper in papers)
    quota, strict = droop_quota(valid, seats, whole_votes=whole)
    count = _Count(standing, quota, strict, {option: [] for option in standing}, list(standing))
    for paper in papers:
        count.place(paper)

    quota_words = f"the quota of {format_weight(quota)}"
    reach = ("exceeds", "exceed") if strict else ("reaches", "reach")
    elected: list[str] = []
    surpluses: list[tuple[str, Fraction]] = []  # elected, surplus not yet transferred
    stages: list[StvStage] = []
    ron_elected = False
    undecided = 0
    unresolved: list[str] = []
    action = StvAction.first_count
    subjects: tuple[str, ...] = ()
    transfer_value: Fraction | None = None
    head = "Stage 1, first preferences"

    while True:
        totals = count.totals()
        votes = dict(totals)
        reached = sorted(
            (c for c in count.continuing if count.reaches(votes[c])),
            key=lambda c: (-votes[c], standing.index(c)),
        )
        now_elected: list[str] = []
        parts: list[str] = []
        if not valid:
            undecided = seats
            parts.append("no valid votes were cast, so the chair decides how to fill the seats")
        elif reached:
            who = _names([f"{label(c)} with {format_weight(votes[c])}" for c in reached])
            one = len(reached) == 1
            parts.append(
                f"{who} {reach[0] if one else reach[1]} {quota_words} and "
                f"{'is' if one else 'are'} elected"
            )
        else:
            parts.append(f"no one {reach[0]} {quota_words}")
        for candidate in reached:
            count.continuing.remove(candidate)
            now_elected.append(candidate)
            if candidate == RON:
                ron_elected = True
            else:
                elected.append(candidate)
                if votes[candidate] > quota:
                    surpluses.append((candidate, votes[candidate] - quota))
        remaining = seats - len(elected)
        finished = not valid or ron_elected or remaining == 0
        if ron_elected:
            parts.append(f"as {RON_LABEL} is elected, {_seats_open(remaining, seats)}")
        elif remaining == 0:
            parts.append("every seat is filled")
        elif not finished and len(count.continuing) <= remaining:
            last = list(count.continuing)
            count.continuing.clear()
            now_elected.extend(last)
            for candidate in last:
                if candidate == RON:
                    ron_elected = True
                else:
                    elected.append(candidate)
            one = len(last) == 1
            parts.append(
                f"{_names(last)} {'is' if one else 'are'} elected as the only "
                f"{'option' if one else 'options'} still continuing"
            )
            if ron_elected:
                parts.append(_seats_open(seats - len(elected), seats))
            finished = True
        elif not finished and not surpluses:
            # Nothing to transfer: exclude the last, unless a tie leaves too few to go on.
            lowest = min(votes[c] for c in count.continuing)
            tied = [c for c in count.continuing if votes[c] == lowest]
            if len(count.continuing) - len(tied) < remaining:
                # Whichever of the tied went first, everyone ahead of them would be elected:
                # elect those now and leave the tied to the chair for the seats that are left.
                sure = [c for c in count.continuing if c not in tied]
                count.continuing[:] = tied
                now_elected.extend(sure)
                for candidate in sure:
                    if candidate == RON:
                        ron_elected = True
                    else:
                        elected.append(candidate)
                if sure:
                    one = len(sure) == 1
                    parts.append(
                        f"{_names(sure)} {'is' if one else 'are'} elected ahead of a tie for "
                        "last place"
                    )
                left = seats - len(elected)
                if ron_elected:
                    parts.append(_seats_open(left, seats))
                else:
                    undecided = left
                    unresolved = tied
                    parts.append(
                        f"{_names(tied)} are tied for last place with {format_weight(lowest)} "
                        f"and excluding them all would leave too few candidates, so the chair "
                        f"decides between them the {left} {_plural(left, 'seat', 'seats')} "
                        "still to fill"
                    )
                finished = True
        stages.append(
            StvStage(
                number=len(stages) + 1,
                action=action,
                subjects=subjects,
                transfer_value=transfer_value,
                totals=totals,
                exhausted=count.exhausted,
                elected=tuple(now_elected),
                explanation=f"{head}: {'; '.join(parts)}",
            )
        )
        if finished:
            break

        number = len(stages) + 1
        if surpluses:
            biggest = max(range(len(surpluses)), key=lambda i: (surpluses[i][1], -i))
            source, surplus = surpluses.pop(biggest)
            held = votes[source]
            transfer_value = surplus / held
            moving = [
                _Paper(p.ranking, p.value * transfer_value, p.at) for p in count.piles[source]
            ]
            for paper in count.piles[source]:
                paper.value -= paper.value * transfer_value
            for paper in moving:
                count.place(paper)
            action, subjects = StvAction.surplus, (source,)
            head = (
                f"Stage {number}, surplus of {format_weight(surplus)} from {label(source)} "
                f"transferred at {format_weight(transfer_value)} of each ballot's value"
            )
        else:
            lowest = min(votes[c] for c in count.continuing)
            tied = [c for c in count.continuing if votes[c] == lowest]
            for candidate in tied:
                count.continuing.remove(candidate)
            for candidate in tied:
                pile, count.piles[candidate] = count.piles[candidate], []
                for paper in pile:
                    count.place(paper)
            transfer_value = None
            action, subjects = StvAction.exclusion, tuple(tied)
            head = (
                f"Stage {number}, {_names(tied)} excluded with the fewest votes "
                f"({format_weight(lowest)}) and {_plural(len(tied), 'its', 'their')} ballots "
                "transferred"
            )

    open_seats = seats - len(elected) - undecided if ron_elected else 0
    result = StvResult(
        seats=seats,
        options=standing,
        valid=valid,
        blank=blank,
        quota=quota,
        quota_strict=strict,
        stages=tuple(stages),
        elected=tuple(elected),
        ron_elected=ron_elected,
        open_seats=open_seats,
        undecided_seats=undecided,
        tied=tuple(unresolved),
        explanation="",
    )
    return replace(result, explanation=_stv_summary(result))


def _stv_summary(result: StvResult) -> str:
    if not result.valid:
        return "No valid votes were cast: no seat is filled and the chair decides how to proceed"
    elected = result.elected
    who = (
        f"{_names(elected)} {_plural(len(elected), 'is', 'are')} elected"
        if elected
        else "no one is elected"
    )
    text = (
        f"With a quota of {format_weight(result.quota)} from {format_weight(result.valid)} "
        f"valid votes, {who}"
    )
    if result.open_seats:
        text += f"; as {RON_LABEL} was elected, {_seats_open(result.open_seats, result.seats)}"
    if result.undecided_seats:
        left = result.undecided_seats
        text += (
            f"; {_names(result.tied)} are tied for last place, so the chair decides "
            f"{_plural(left, 'the last seat', f'the last {left} seats')} between them"
        )
    return text


# --- several seats: one mark per seat ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockVoteResult:
    seats: int
    options: tuple[str, ...]
    totals: Totals  # votes per option, in the order of `options`
    valid: Fraction  # ballots with at least one mark
    blank: Fraction
    elected: tuple[str, ...]  # most votes first
    open_seats: int  # seats no candidate won: too few had more votes than RON
    tied: tuple[str, ...]  # candidates tied at the cut-off
    undecided_seats: int  # seats the tie at the cut-off leaves for the chair to decide
    explanation: str

    def votes(self, option: str) -> Fraction:
        return _votes_of(self.totals, option)


def block_vote(
    ballots: Iterable[tuple[Weight, Sequence[str]]], options: Sequence[str], seats: int
) -> BlockVoteResult:
    """Fill `seats` by one mark per seat: the candidates with the most votes are elected.

    Each ballot marks at most `seats` options, each at most once, and every mark carries the
    ballot's full weight. Only candidates with more votes than RON can be elected (a tie with
    RON fails); if fewer such candidates than seats, the rest stay open. Candidates tied at the
    cut-off for the last seat(s) are not separated: those seats are undecided and the chair
    decides. No valid votes at all leave every seat undecided.
    """
    standing = ballot_options(options)
    read = _read_ballots(ballots, standing, seats, ElectionMethod.block)
    votes = dict.fromkeys(standing, Fraction(0))
    blank = valid = Fraction(0)
    for value, marks in read:
        if not marks:
            blank += value
            continue
        valid += value
        for mark in marks:
            votes[mark] += value
    totals = _totals(standing, votes)
    bar = votes[RON]
    above = sorted(
        (c for c in standing if c != RON and votes[c] > bar),
        key=lambda c: (-votes[c], standing.index(c)),
    )
    elected: list[str] = []
    tied: list[str] = []
    open_seats = undecided = 0
    if not valid:
        undecided = seats
        explanation = "No valid votes were cast: no seat is filled and the chair decides"
    else:
        if len(above) <= seats:
            elected = above
            open_seats = seats - len(above)
        else:
            cutoff = votes[above[seats - 1]]
            elected = [c for c in above if votes[c] > cutoff]
            at_cutoff = [c for c in above if votes[c] == cutoff]
            if len(elected) + len(at_cutoff) <= seats:
                elected += at_cutoff
            else:
                tied = at_cutoff
                undecided = seats - len(elected)
        parts = []
        if elected:
            standings = ", ".join(f"{label(c)} {format_weight(votes[c])}" for c in elected)
            parts.append(
                f"{_names(elected)} {_plural(len(elected), 'is', 'are')} elected with the most "
                f"of {format_weight(valid)} valid ballots ({standings})"
            )
        else:
            parts.append(f"no one is elected from {format_weight(valid)} valid ballots")
        if open_seats:
            parts.append(
                f"{open_seats} {_plural(open_seats, 'seat stays', 'seats stay')} open, as no "
                f"{'other ' if elected else ''}candidate has more votes than {RON_LABEL} "
                f"({format_weight(bar)})"
            )
        if tied:
            parts.append(
                f"{_names(tied)} are tied with {format_weight(votes[tied[0]])} for the last "
                f"{_plural(undecided, 'seat', f'{undecided} seats')}, so the chair decides"
            )
        explanation = "; ".join(parts)
        explanation = explanation[0].upper() + explanation[1:]
    return BlockVoteResult(
        seats=seats,
        options=standing,
        totals=totals,
        valid=valid,
        blank=blank,
        elected=tuple(elected),
        open_seats=open_seats,
        tied=tuple(tied),
        undecided_seats=undecided,
        explanation=explanation,
    )


# --- one result for every screen, export and the verifier --------------------------------------


def _totals_out(totals: Totals) -> dict[str, str]:
    return {option: format_weight(votes) for option, votes in totals}


def _round_out(result: RoundResult) -> dict[str, Any]:
    return {
        "number": result.number,
        "totals": _totals_out(result.totals),
        "valid": format_weight(result.valid),
        "blank": format_weight(result.blank),
        "exhausted": format_weight(result.exhausted),
        "outcome": result.outcome.value,
        "winner": result.winner,
        "dropped": list(result.dropped),
        "explanation": result.explanation,
    }


def election_result(
    method: ElectionMethod | str,
    seats: int,
    options: Sequence[str],
    ballots: Iterable[tuple[Weight, Sequence[str]]],
) -> dict[str, Any]:
    """Count an election by its method and give the result as JSON-ready data.

    `ballots` are (weight, marks) as recorded; for `rounds` each ballot marks at most one
    option and the count is the round these ballots were cast in. Weights are written as
    `format_weight` strings, so the data is exact and reads as it is shown.
    """
    method = ElectionMethod(method)
    standing = ballot_options(options)
    out: dict[str, Any] = {"kind": "election", "method": method.value, "seats": seats}
    if method is ElectionMethod.rounds:
        _check_seats(method, seats)
        read = _read_ballots(ballots, standing, seats, method)
        result = single_seat_round(((w, m[0] if m else None) for w, m in read), standing)
        rounds = [result]
    elif method is ElectionMethod.instant_runoff:
        rounds = instant_runoff(ballots, standing)
    if method in _SINGLE_SEAT:
        last = rounds[-1]
        out |= {
            "elected": [] if last.elected is None else [last.elected],
            "post_open": last.post_open,
            "open_seats": 1 if last.post_open else 0,
            "undecided_seats": 1 if last.outcome is RoundOutcome.undecided else 0,
            "continuing": list(last.continuing),
            "rounds": [_round_out(r) for r in rounds],
            "explanation": last.explanation,
        }
    elif method is ElectionMethod.stv:
        counted = stv(ballots, standing, seats)
        out |= {
            "elected": list(counted.elected),
            "post_open": counted.ron_elected,
            "open_seats": counted.open_seats,
            "undecided_seats": counted.undecided_seats,
            "tied": list(counted.tied),
            "quota": format_weight(counted.quota),
            "quota_strict": counted.quota_strict,
            "valid": format_weight(counted.valid),
            "blank": format_weight(counted.blank),
            "rounds": [
                {
                    "number": stage.number,
                    "action": stage.action.value,
                    "subjects": list(stage.subjects),
                    "transfer_value": None
                    if stage.transfer_value is None
                    else format_weight(stage.transfer_value),
                    "totals": _totals_out(stage.totals),
                    "exhausted": format_weight(stage.exhausted),
                    "elected": list(stage.elected),
                    "explanation": stage.explanation,
                }
                for stage in counted.stages
            ],
            "explanation": counted.explanation,
        }
    else:
        block = block_vote(ballots, standing, seats)
        out |= {
            "elected": list(block.elected),
            "post_open": block.open_seats > 0,
            "open_seats": block.open_seats,
            "undecided_seats": block.undecided_seats,
            "tied": list(block.tied),
            "valid": format_weight(block.valid),
            "blank": format_weight(block.blank),
            "rounds": [{"number": 1, "totals": _totals_out(block.totals)}],
            "explanation": block.explanation,
        }
    return out
