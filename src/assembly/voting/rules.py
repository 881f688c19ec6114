"""Majorities for motions: tally the ballots and decide, exactly, as RULES.md says.

Plain functions over plain data (no database, no HTTP), shared by the server, the exports and
the offline audit verifier, and tested exhaustively in tests/voting/test_rules.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import TypeAlias

from assembly.credentials.rules import format_weight
from assembly.i18n import t

Weight: TypeAlias = int | Fraction
"""A weight or total as callers give it: exact, never a float."""


class MajorityRule(StrEnum):
    simple = "simple"
    absolute = "absolute"
    two_thirds = "two_thirds"
    three_quarters = "three_quarters"
    unanimous = "unanimous"


class Base(StrEnum):
    """What the yes votes are counted against."""

    cast = "cast"  # yes + no: abstentions not counted
    cast_with_abstentions = "cast_with_abstentions"  # yes + no + abstain
    entitled = "entitled"  # every vote entitled, present or not


class MotionChoice(StrEnum):
    yes = "yes"
    no = "no"
    abstain = "abstain"


DEFAULT_BASE: Mapping[MajorityRule, Base] = MappingProxyType(
    {
        MajorityRule.simple: Base.cast,
        MajorityRule.absolute: Base.cast_with_abstentions,
        MajorityRule.two_thirds: Base.cast,
        MajorityRule.three_quarters: Base.cast,
        MajorityRule.unanimous: Base.cast,
    }
)

BASE_WORDS: Mapping[Base, str] = MappingProxyType(
    {
        Base.cast: t("votes cast excluding abstentions"),
        Base.cast_with_abstentions: t("votes cast including abstentions"),
        Base.entitled: "votes entitled",
    }
)

_NO_BASE_WORDS: Mapping[Base, str] = MappingProxyType(
    {
        Base.cast: "No votes were cast excluding abstentions",
        Base.cast_with_abstentions: "No votes were cast including abstentions",
        Base.entitled: "No votes are entitled",
    }
)


class BallotRefused(Exception):
    """A ballot breaks a rule and is refused before it is cast; `rule` names the rule."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def exact(value: object, what: str = "a weight", *, positive: bool = False) -> Fraction:
    """`value` as an exact Fraction; a float (or anything but int and Fraction) is a TypeError.

    Negative values are a ValueError, and so is 0 when `positive` (a ballot weighs more than 0).
    """
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise TypeError(
            f"{what} must be an int or a Fraction, not {type(value).__name__} {value!r}: "
            "weights are exact and a float never decides a vote"
        )
    result = Fraction(value)
    if result < 0 or (positive and result == 0):
        bound = "more than 0" if positive else "0 or more"
        raise ValueError(f"{what} must be {bound}, not {format_weight(result)}")
    return result


def default_base(rule: MajorityRule | str) -> Base:
    """The base RULES.md gives a rule when the vote does not choose another."""
    return DEFAULT_BASE[MajorityRule(rule)]


@dataclass(frozen=True, slots=True)
class Threshold:
    """The share of the base the yes votes need: more than (`strict`) or at least `share`."""

    share: Fraction
    strict: bool
    words: str  # as read aloud: "more than half", "at least two thirds"

    def met(self, yes: Fraction, base: Fraction) -> bool:
        """Whether `yes` of `base` passes; an empty base passes nothing."""
        if base <= 0:
            return False
        needed = self.share * base
        return yes > needed if self.strict else yes >= needed


_THRESHOLDS: Mapping[MajorityRule, Threshold] = MappingProxyType(
    {
        MajorityRule.simple: Threshold(Fraction(1, 2), True, t("more than half")),
        MajorityRule.absolute: Threshold(Fraction(1, 2), True, t("more than half")),
        MajorityRule.two_thirds: Threshold(Fraction(2, 3), False, t("at least two thirds")),
        MajorityRule.three_quarters: Threshold(Fraction(3, 4), False, t("at least three quarters")),
        # Every vote of the base in favour: with the default base, no votes against and at
        # least one yes; with abstentions in the base, no abstentions either.
        MajorityRule.unanimous: Threshold(Fraction(1), False, "unanimity required"),
    }
)


def threshold(rule: MajorityRule | str) -> Threshold:
    return _THRESHOLDS[MajorityRule(rule)]


@dataclass(frozen=True, slots=True)
class MotionTally:
    """The totals of a motion: weights (exact) and numbers of ballots per choice."""

    yes: Fraction
    no: Fraction
    abstain: Fraction
    yes_count: int
    no_count: int
    abstain_count: int

    def __post_init__(self) -> None:
        for name in ("yes", "no", "abstain"):
            # Accept ints for convenience but store Fractions, so equal tallies compare equal.
            object.__setattr__(self, name, exact(getattr(self, name), f"the {name} weight"))
        for name in ("yes", "no", "abstain"):
            count = getattr(self, f"{name}_count")
            if isinstance(count, bool) or not isinstance(count, int):
                raise TypeError(f"{name}_count must be an int, not {type(count).__name__}")
            if count < 0:
                raise ValueError(f"{name}_count must be 0 or more, not {count}")
            if (count == 0) != (getattr(self, name) == 0):
                # Every ballot weighs more than 0, so weight and count are zero together.
                raise ValueError(
                    f"{count} {name} ballots cannot weigh {format_weight(getattr(self, name))}"
                )

    @property
    def cast(self) -> Fraction:
        """Votes cast excluding abstentions."""
        return self.yes + self.no

    @property
    def cast_with_abstentions(self) -> Fraction:
        return self.yes + self.no + self.abstain

    @property
    def ballots(self) -> int:
        return self.yes_count + self.no_count + self.abstain_count

    def weight_of(self, base: Base) -> Fraction | None:
        """The weight of `base` that the tally knows; None for `entitled` (not in a tally)."""
        if base is Base.cast:
            return self.cast
        if base is Base.cast_with_abstentions:
            return self.cast_with_abstentions
        return None


def check_motion_choice(choice: object) -> MotionChoice:
    """The choice of a motion ballot, or BallotRefused saying what may be chosen."""
    if isinstance(choice, str) and choice in MotionChoice.__members__:
        return MotionChoice(choice)
    raise BallotRefused(
        "motion_choice",
        t("{choice!r} is not a choice on this ballot: choose yes, no or abstain.", choice=choice),
    )


def tally_motion(ballots: Iterable[tuple[Weight, str]]) -> MotionTally:
    """Sum the weight and count the ballots of each choice ("yes", "no" or "abstain")."""
    weights = {choice: Fraction(0) for choice in MotionChoice}
    counts = dict.fromkeys(MotionChoice, 0)
    for weight, choice in ballots:
        value = exact(weight, "a ballot's weight", positive=True)
        if not (isinstance(choice, str) and choice in MotionChoice.__members__):
            raise ValueError(f"{choice!r} is not a motion choice (yes, no or abstain)")
        weights[MotionChoice(choice)] += value
        counts[MotionChoice(choice)] += 1
    return MotionTally(
        yes=weights[MotionChoice.yes],
        no=weights[MotionChoice.no],
        abstain=weights[MotionChoice.abstain],
        yes_count=counts[MotionChoice.yes],
        no_count=counts[MotionChoice.no],
        abstain_count=counts[MotionChoice.abstain],
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """What a motion's tally decides under a rule and base, and the sentence that says so."""

    adopted: bool
    valid: bool  # False when too few of the votes present were cast (validity turnout)
    rule: MajorityRule
    base: Base
    base_weight: Fraction
    threshold: Fraction  # the share of the base needed, e.g. Fraction(2, 3)
    strict: bool  # True: more than `threshold`; False: at least `threshold`
    yes_share: Fraction | None  # None when the base is 0
    tally: MotionTally
    explanation: str


def decide(
    tally: MotionTally,
    rule: MajorityRule | str,
    base: Base | str,
    *,
    entitled_weight: Weight,
    present_weight: Weight | None = None,
    validity_turnout: Weight | None = None,
) -> Decision:
    """Decide a motion: is it adopted under `rule`, counted against `base`?

    A tie fails, and a base of 0 adopts nothing. With `validity_turnout` (a share, e.g.
    Fraction(1, 2)) the vote is valid only if the votes cast, abstentions included, are at
    least that share of `present_weight`; an invalid vote adopts nothing.
    """
    rule = MajorityRule(rule)
    base = Base(base)
    entitled = exact(entitled_weight, "the entitled weight")
    present = None if present_weight is None else exact(present_weight, "the present weight")
    turnout = None if validity_turnout is None else exact(validity_turnout, "the validity turnout")
    cast_all = tally.cast_with_abstentions
    if cast_all > entitled:
        raise ValueError(
            f"{format_weight(cast_all)} votes were cast but only {format_weight(entitled)} "
            "are entitled"
        )
    if present is not None and not cast_all <= present <= entitled:
        raise ValueError(
            f"the present weight {format_weight(present)} must lie between the votes cast "
            f"({format_weight(cast_all)}) and the votes entitled ({format_weight(entitled)})"
        )
    if turnout is not None:
        if turnout > 1:
            raise ValueError(f"a validity turnout is a share of 1 or less, not {turnout}")
        if present is None:
            raise ValueError("a validity turnout needs the present weight to compare with")

    counted = tally.weight_of(base)
    base_weight = entitled if counted is None else counted
    needed = threshold(rule)
    yes_share = tally.yes / base_weight if base_weight else None
    met = needed.met(tally.yes, base_weight)
    valid = turnout is None or present is None or cast_all >= turnout * present
    adopted = valid and met

    if not valid:
        assert turnout is not None and present is not None
        explanation = (
            f"{format_weight(cast_all)} of {format_weight(present)} votes present were cast "
            f"including abstentions ({format_percent(cast_all / present)}), but a valid vote "
            f"needs at least {describe_share(turnout)}: not adopted"
        )
    elif yes_share is None:
        explanation = f"{_NO_BASE_WORDS[base]}"
        if base is Base.cast and tally.abstain:
            explanation += f" ({format_weight(tally.abstain)} votes were abstentions)"
        explanation += ": not adopted"
    else:
        percent = format_percent_against(yes_share, needed, met=met)
        verdict = "adopted" if met else "not adopted"
        if not met and needed.strict and yes_share == needed.share:
            verdict += " (a tie fails)"
        explanation = (
            f"{format_weight(tally.yes)} of {format_weight(base_weight)} {BASE_WORDS[base]} "
            f"is {percent}, {needed.words}: {verdict}"
        )
    return Decision(
        adopted=adopted,
        valid=valid,
        rule=rule,
        base=base,
        base_weight=base_weight,
        threshold=needed.share,
        strict=needed.strict,
        yes_share=yes_share,
        tally=tally,
        explanation=explanation,
    )


def _round_half_up(value: Fraction, decimals: int) -> Fraction:
    scale = 10**decimals
    magnitude = (abs(value) * scale + Fraction(1, 2)).__floor__()
    return Fraction(magnitude if value >= 0 else -magnitude, scale)


def format_percent(share: Fraction, decimals: int = 1) -> str:
    """`share` as a percentage rounded half up from the exact value: 61/88 -> "69.3 %"."""
    shown = _round_half_up(Fraction(share) * 100, decimals)
    scaled = abs(shown * 10**decimals).numerator  # an integer: shown has `decimals` digits
    sign = "-" if shown < 0 else ""
    if decimals == 0:
        return f"{sign}{scaled} %"
    digits = str(scaled).rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]} %"


_MAX_DECIMALS = 12


def format_percent_against(share: Fraction, needed: Threshold, *, met: bool) -> str:
    """`share` as a percentage with one decimal, or more when one would hide the verdict.

    Rounding 99.995 % to "100.0 %" next to "unanimity required: not adopted", or 50.04 % to
    "50.0 %" next to "more than half: adopted", would read as a contradiction; so the figure
    gains decimals until it lies on the same side of the threshold as the decision.
    """
    limit = needed.share * 100
    for decimals in range(1, _MAX_DECIMALS + 1):
        shown = _round_half_up(share * 100, decimals)
        if (shown > limit if needed.strict else shown >= limit) == met:
            return format_percent(share, decimals)
    return format_percent(share, _MAX_DECIMALS)


_SHARE_WORDS: Mapping[Fraction, str] = MappingProxyType(
    {
        Fraction(1, 2): "half",
        Fraction(1, 3): "one third",
        Fraction(2, 3): "two thirds",
        Fraction(1, 4): "one quarter",
        Fraction(3, 4): "three quarters",
    }
)


def describe_share(share: Fraction) -> str:
    """A share as people say it: "half", "two thirds", "40 %", "12.5 %", or "5/7"."""
    if share in _SHARE_WORDS:
        return _SHARE_WORDS[share]
    for decimals in range(3):
        if (share * 100 * 10**decimals).denominator == 1:
            return format_percent(share, decimals)
    return f"{share.numerator}/{share.denominator}"
