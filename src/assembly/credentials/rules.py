"""Who may vote, through whom, and whether the plenary has quorum: plain functions over plain data.

Nothing here touches the database or HTTP, so every rule of RULES.md on rights, proxies and
quorum is tested exhaustively in tests/credentials/test_rules.py.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from assembly.i18n import t


class MemberClass(StrEnum):
    full = "full"
    candidate = "candidate"
    associate = "associate"
    suspended = "suspended"


class DelegateRole(StrEnum):
    head = "head"
    delegate = "delegate"
    observer = "observer"


class RuleViolation(Exception):
    """A credentials rule refuses the action; `rule` names the rule, the message explains it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass(frozen=True, slots=True)
class NmoState:
    """What the rules need to know of one NMO at one moment."""

    id: int
    code: str
    member_class: MemberClass
    weight: Fraction
    credentialed: bool
    holder_present: bool  # its right holder is checked in
    holder_id: int | None = None

    @property
    def votes(self) -> bool:
        return self.member_class is MemberClass.full

    @property
    def present(self) -> bool:
        """Present for quorum and voting: credentialed and its right holder checked in."""
        return self.credentialed and self.holder_present


@dataclass(frozen=True, slots=True)
class ProxyState:
    giver_id: int
    holder_id: int


@dataclass(frozen=True, slots=True)
class ProxyRules:
    enabled: bool = False
    max_proxies: int = 1
    deadline: dt.datetime | None = None


MAX_WEIGHT_TEXT = 40
_EXPONENT = re.compile(r"[eE][+-]?([0-9_]+)$")


def parse_weight(raw: object) -> Fraction:
    """Read a weight as an exact positive number: 1, "2", "1.5", "3/2"; never through a float."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError(t("a weight must be a number such as 1, 2.5 or 3/2"))
    if isinstance(raw, int):
        value = Fraction(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if not text:
            raise ValueError(t("a weight must be a number such as 1, 2.5 or 3/2"))
        exponent = _EXPONENT.search(text)
        big = exponent is not None and len(exponent[1].replace("_", "").lstrip("0")) > 2
        if len(text) > MAX_WEIGHT_TEXT or big:
            # Fraction() computes 10**exponent exactly: "1e999999999" would take minutes.
            raise ValueError(
                t("{text!r} is out of range for a weight", text=text[:MAX_WEIGHT_TEXT])
            )
        try:
            value = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise ValueError(t("{raw!r} is not a number such as 1, 2.5 or 3/2", raw=raw)) from None
    elif isinstance(raw, Fraction):
        value = raw
    else:
        raise ValueError(t("a weight is given as a whole number or as text such as '2.5' or '3/2'"))
    if value <= 0:
        raise ValueError(
            t("a weight must be more than 0, not {weight}", weight=format_weight(value))
        )
    if value.denominator > 10_000 or value > 1_000_000:
        raise ValueError(t("{raw!r} is out of range for a weight", raw=raw))
    return value


def exact_sum(values: Iterable[Fraction | int]) -> Fraction:
    """The exact sum of weights, as sum(values, Fraction(0)) but several times faster for the
    usual case of a few distinct denominators (whole weights, halves): numerators are added as
    integers per denominator, and only those subtotals as fractions. Fraction addition
    reduces by a gcd at every step, which made summing 2,000 weights a millisecond or more."""
    by_denominator: dict[int, int] = {}
    for value in values:
        den = value.denominator
        by_denominator[den] = by_denominator.get(den, 0) + value.numerator
    return sum((Fraction(n, d) for d, n in by_denominator.items()), Fraction(0))


def format_weight(value: Fraction) -> str:
    """Show a weight as people write it: 3, 2.5, or 1/3 when no short decimal is exact."""
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den == 1:
        # A terminating decimal: print it exactly.
        digits = 0
        scaled = value
        while scaled.denominator != 1:
            scaled *= 10
            digits += 1
        sign = "-" if scaled < 0 else ""
        whole = str(abs(scaled.numerator)).rjust(digits + 1, "0")
        return f"{sign}{whole[:-digits]}.{whole[-digits:]}"
    return f"{value.numerator}/{value.denominator}"


def check_proxy(
    giver: NmoState,
    holder: NmoState,
    active: Sequence[ProxyState],
    rules: ProxyRules,
    now: dt.datetime,
) -> None:
    """Raise RuleViolation naming the rule a new proxy from `giver` to `holder` would break."""
    if not rules.enabled:
        raise RuleViolation("proxies_off", t("Proxies are not allowed at this assembly."))
    if rules.deadline is not None and now > rules.deadline:
        deadline = rules.deadline.astimezone(dt.UTC)
        raise RuleViolation(
            "proxy_deadline",
            t(
                "The deadline for proxies passed at {deadline:%Y-%m-%d %H:%M} UTC.",
                deadline=deadline,
            ),
        )
    if giver.id == holder.id:
        raise RuleViolation(
            "proxy_self", t("{giver} cannot give its vote to itself.", giver=giver.code)
        )
    for nmo, side in ((giver, "give"), (holder, "hold")):
        if not nmo.votes:
            member_class = nmo.member_class.value
            raise RuleViolation(
                "proxy_full_members_only",
                t(
                    "Only Full Members hold a vote to give; {nmo} is a {member_class} member.",
                    nmo=nmo.code,
                    member_class=member_class,
                )
                if side == "give"
                else t(
                    "Only Full Members hold a vote to hold; {nmo} is a {member_class} member.",
                    nmo=nmo.code,
                    member_class=member_class,
                ),
            )
    for proxy in active:
        if proxy.giver_id == giver.id:
            raise RuleViolation(
                "proxy_one_per_giver",
                t(
                    "{giver} has already given its vote away; revoke that proxy first.",
                    giver=giver.code,
                ),
            )
    if any(p.giver_id == holder.id for p in active):
        raise RuleViolation(
            "proxy_no_chains",
            t(
                "{holder} has given its own vote away, so it cannot hold proxies (no chains).",
                holder=holder.code,
            ),
        )
    if any(p.holder_id == giver.id for p in active):
        raise RuleViolation(
            "proxy_no_chains",
            t(
                "{giver} holds the vote of another NMO, so it cannot give its own away "
                "(no chains).",
                giver=giver.code,
            ),
        )
    if rules.max_proxies <= 0:
        raise RuleViolation(
            "proxy_cap", t("No NMO may hold proxies at this assembly (max_proxies is 0).")
        )
    carried = sum(1 for p in active if p.holder_id == holder.id)
    if carried >= rules.max_proxies:
        raise RuleViolation(
            "proxy_cap",
            t(
                "{holder} already carries {carried} proxy, the most one NMO may hold "
                "at this assembly ({max_proxies}).",
                holder=holder.code,
                carried=carried,
                max_proxies=rules.max_proxies,
            )
            if carried == 1
            else t(
                "{holder} already carries {carried} proxies, the most one NMO may hold "
                "at this assembly ({max_proxies}).",
                holder=holder.code,
                carried=carried,
                max_proxies=rules.max_proxies,
            ),
        )


@dataclass(frozen=True, slots=True)
class Entitlement:
    """One vote that may be cast right now: whose it is, its weight, and who casts it."""

    nmo_id: int
    weight: Fraction
    cast_by_nmo_id: int
    cast_by_delegate_id: int | None
    via_proxy: bool


def electorate(nmos: Iterable[NmoState], proxies: Iterable[ProxyState]) -> list[Entitlement]:
    """Every vote that can be cast now, following RULES.md.

    A Full Member votes when credentialed and present. A proxy moves its vote to the holder
    and counts only while the holder is present and credentialed; while the proxy stands the
    giver cannot vote itself, even when the holder is away.
    """
    by_id = {n.id: n for n in nmos}
    given = {p.giver_id: p.holder_id for p in proxies}
    out: list[Entitlement] = []
    for nmo in sorted(by_id.values(), key=lambda n: n.id):
        if not nmo.votes:
            continue
        holder_id = given.get(nmo.id)
        if holder_id is None:
            if nmo.present:
                out.append(Entitlement(nmo.id, nmo.weight, nmo.id, nmo.holder_id, False))
            continue
        holder = by_id.get(holder_id)
        if holder is not None and holder.votes and holder.present and nmo.credentialed:
            out.append(Entitlement(nmo.id, nmo.weight, holder.id, holder.holder_id, True))
    return out


@dataclass(frozen=True, slots=True)
class QuorumRule:
    """Quorum as a share of the Full Members: "more than 1/2" (strict) or "at least 1/3"."""

    share: Fraction = Fraction(1, 2)
    strict: bool = True
    counts_proxies: bool = False

    def describe(self) -> str:
        share = f"{self.share.numerator}/{self.share.denominator}"
        if self.strict:
            return t("more than {share} of the Full Members", share=share)
        return t("at least {share} of the Full Members", share=share)


def quorum_required(total: int, rule: QuorumRule) -> int:
    """The smallest number of Full Members present that meets the rule."""
    needed = rule.share * total
    if rule.strict:
        return math.floor(needed) + 1
    return max(math.ceil(needed), 1 if total else 0)


@dataclass(frozen=True, slots=True)
class QuorumStatus:
    full_members: int
    present: int
    represented_by_proxy: int
    required: int
    met: bool
    weight_total: Fraction
    weight_present: Fraction
    weight_represented: Fraction
    rule: QuorumRule

    @property
    def counted(self) -> int:
        return self.present + (self.represented_by_proxy if self.rule.counts_proxies else 0)

    def explain(self) -> str:
        words = {
            "present": self.present,
            "full_members": self.full_members,
            "by_proxy": self.represented_by_proxy,
            "rule": self.rule.describe(),
            "required": self.required,
        }
        if self.rule.counts_proxies and self.represented_by_proxy:
            if self.met:
                return t(
                    "{present} of {full_members} Full Members present and {by_proxy} "
                    "represented by proxy; quorum is {rule} ({required}): quorum met.",
                    **words,
                )
            return t(
                "{present} of {full_members} Full Members present and {by_proxy} "
                "represented by proxy; quorum is {rule} ({required}): no quorum.",
                **words,
            )
        if self.met:
            return t(
                "{present} of {full_members} Full Members present; quorum is {rule} "
                "({required}): quorum met.",
                **words,
            )
        return t(
            "{present} of {full_members} Full Members present; quorum is {rule} "
            "({required}): no quorum.",
            **words,
        )


def quorum(
    nmos: Iterable[NmoState], proxies: Iterable[ProxyState], rule: QuorumRule
) -> QuorumStatus:
    full = [n for n in nmos if n.votes]
    entitled = electorate(full, proxies)
    present_ids = {n.id for n in full if n.present}
    by_proxy = [e for e in entitled if e.via_proxy and e.nmo_id not in present_ids]
    total = len(full)
    required = quorum_required(total, rule)
    present = len(present_ids)
    counted = present + (len(by_proxy) if rule.counts_proxies else 0)
    return QuorumStatus(
        full_members=total,
        present=present,
        represented_by_proxy=len(by_proxy),
        required=required,
        met=total > 0 and counted >= required,
        weight_total=exact_sum(n.weight for n in full),
        weight_present=exact_sum(n.weight for n in full if n.id in present_ids),
        weight_represented=exact_sum(e.weight for e in entitled),
        rule=rule,
    )


def check_right_holder(new_holder_role: DelegateRole, same_nmo: bool, nmo_code: str) -> None:
    """The vote of an NMO is held by its head or another (non-observer) delegate of that NMO."""
    if not same_nmo:
        raise RuleViolation(
            "holder_same_nmo",
            t(
                "The vote of {nmo_code} can only be held by one of its delegates.",
                nmo_code=nmo_code,
            ),
        )
    if new_holder_role is DelegateRole.observer:
        raise RuleViolation(
            "holder_not_observer",
            t(
                "An observer cannot hold the vote of {nmo_code}; choose the head or a delegate.",
                nmo_code=nmo_code,
            ),
        )
