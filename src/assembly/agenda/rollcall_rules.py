"""The roll call at the start of a plenary as plain rules: who may answer for which NMO from a
phone, how a new answer (a phone's confirmation, a desk's mark) meets the one before, how far
the roll call has got, and the quorum it shows. No database and no HTTP: `rollcall` stores
what these functions decide.

Proxies do not answer the roll call. A roll call records who is in the room; an NMO that
handed its vote to another is not, it is represented, and RULES.md counts a proxy only
while its holder is present. So the holder answers for its own NMO, and the quorum counts
the NMOs it represents through that answer when the assembly's quorum rule counts proxies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from assembly.credentials.rules import (
    DelegateRole,
    NmoState,
    ProxyState,
    QuorumRule,
    QuorumStatus,
    RuleViolation,
    quorum,
)
from assembly.i18n import t


class Via(StrEnum):
    """How an NMO's answer was given."""

    phone = "phone"  # confirmed by its right holder from the phone
    desk = "desk"  # marked by the staff at the desk (or the chair calling the names)


@dataclass(frozen=True, slots=True)
class Answer:
    """An NMO's answer to the roll call: present or absent, and how it was given."""

    nmo_id: int
    present: bool
    via: Via


@dataclass(frozen=True, slots=True)
class Answerer:
    """The delegate pressing "Confirm I am present" on a phone."""

    delegate_id: int
    nmo_id: int
    role: DelegateRole
    checked_in: bool


@dataclass(frozen=True, slots=True)
class NmoRight:
    """Who speaks for an NMO at the roll call: the delegate holding its vote, or its head of
    delegation while nobody holds it."""

    nmo_id: int
    code: str
    holder_id: int | None
    head_id: int | None

    @property
    def answerer_id(self) -> int | None:
        return self.holder_id if self.holder_id is not None else self.head_id


def check_answer(answerer: Answerer, nmo: NmoRight, *, open_: bool) -> None:
    """Raise RuleViolation naming the rule when `answerer` may not confirm `nmo` present."""
    if not open_:
        raise RuleViolation(
            "roll_call_closed", t("The roll call is closed: ask the desk to mark you.")
        )
    if answerer.role is DelegateRole.observer:
        raise RuleViolation(
            "roll_call_observer",
            t("An observer does not answer the roll call; the delegate holding the vote does."),
        )
    if answerer.nmo_id != nmo.nmo_id:
        raise RuleViolation(
            "roll_call_own_nmo",
            t(
                "You answer the roll call for your own NMO only, not for {nmo}: a proxy counts "
                "through its holder's presence.",
                nmo=nmo.code,
            ),
        )
    if nmo.answerer_id != answerer.delegate_id:
        raise RuleViolation(
            "roll_call_right_holder",
            t(
                "The delegate holding the vote of {nmo} answers the roll call for it.",
                nmo=nmo.code,
            ),
        )
    if not answerer.checked_in:
        raise RuleViolation(
            "roll_call_check_in",
            t("Check in at the credentials desk first: only delegates checked in are present."),
        )


def merge(previous: Answer | None, new: Answer) -> Answer | None:
    """The NMO's answer once `new` arrives, or None when nothing changes.

    A phone only ever says "present": a second tap, or a tap after the desk already marked
    the NMO present, changes nothing (the first way it was marked stays in the record). The
    desk has the last word: its mark replaces any answer, and a phone may still confirm an
    NMO the desk marked absent (its delegate came in late)."""
    if new.via is Via.phone:
        if not new.present:
            raise ValueError("a phone confirms presence only")
        if previous is not None and previous.present:
            return None
        return new
    if previous is not None and previous.present == new.present and previous.via is Via.desk:
        return None
    return new


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the roll call has got: NMOs expected, present, absent and yet to answer."""

    expected: int
    present: int
    absent: int
    by_phone: int
    by_desk: int

    @property
    def answered(self) -> int:
        return self.present + self.absent

    @property
    def waiting(self) -> int:
        return self.expected - self.answered


def progress(nmo_ids: Iterable[int], answers: Mapping[int, Answer]) -> Progress:
    """Every NMO of the assembly is expected to answer; answers of others are ignored."""
    ids = set(nmo_ids)
    mine = [a for n, a in answers.items() if n in ids]
    present = [a for a in mine if a.present]
    return Progress(
        expected=len(ids),
        present=len(present),
        absent=len(mine) - len(present),
        by_phone=sum(1 for a in present if a.via is Via.phone),
        by_desk=sum(1 for a in present if a.via is Via.desk),
    )


def answered_states(nmos: Iterable[NmoState], answers: Mapping[int, Answer]) -> list[NmoState]:
    """The NMOs as the roll call sees them: present when answered present, whatever the
    check-ins say (an NMO yet to answer is not present)."""
    return [
        replace(n, holder_present=bool((a := answers.get(n.id)) is not None and a.present))
        for n in nmos
    ]


def roll_call_quorum(
    nmos: Iterable[NmoState],
    answers: Mapping[int, Answer],
    proxies: Iterable[ProxyState],
    rule: QuorumRule,
) -> QuorumStatus:
    """The quorum during a roll call, by the assembly's own rule: the Full Members answered
    present (and credentialed) count, and with a rule that counts proxies, the NMOs whose
    proxy holder answered present."""
    return quorum(answered_states(nmos, answers), proxies, rule)
