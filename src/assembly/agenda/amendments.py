"""Amendments to a document: apply the adopted ones, say why one no longer applies, order the
votes, and show the word-level diff between two versions, as RULES.md says.

Plain functions over plain data (no database, no HTTP), tested in tests/agenda/test_amendments.py.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal, TypeAlias

from assembly.errors import Conflict, Invalid
from assembly.i18n import t


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One paragraph of a version: `id` is stable across versions, its number is its position."""

    id: str
    text: str


Document: TypeAlias = tuple[Paragraph, ...]


@dataclass(frozen=True, slots=True)
class Replace:
    """Replace the text of a paragraph; `base_text` is the text the change was written against."""

    paragraph_id: str
    text: str
    base_text: str


@dataclass(frozen=True, slots=True)
class Insert:
    """Insert a new paragraph `new_id` after paragraph `after`, or at the start when None."""

    after: str | None
    new_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete a paragraph; `base_text` is the text the change was written against."""

    paragraph_id: str
    base_text: str


Change: TypeAlias = Replace | Insert | Delete


class AmendmentRefused(Invalid):
    """An amendment breaks a rule and cannot be submitted; `rule` names the rule."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.code = rule


class AmendmentConflict(Conflict):
    """An amendment no longer applies to the current text: names the amendment and paragraph."""

    def __init__(self, amendment_id: str, paragraph_id: str, reason: str) -> None:
        message = t(
            "Amendment {amendment} no longer applies: {reason}",
            amendment=amendment_id,
            reason=reason,
        )
        super().__init__(message, code="amendment_conflict")
        self.rule = "amendment_conflict"
        self.amendment_id = amendment_id
        self.paragraph_id = paragraph_id
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Amendment:
    """An amendment: its changes, applied in the order given.

    A first-degree amendment (`degree` 1, `amends` None) changes the document. A second-degree
    amendment (`degree` 2, `amends` the id of a first-degree one) rewords that amendment: each of
    its changes is a Replace whose `paragraph_id` names the paragraph a change of the
    first-degree amendment writes (a Replace's paragraph, or an Insert's new paragraph) and whose
    `base_text` is that change's text as submitted. It cannot add or drop changes, which keeps
    what the plenary votes on readable. A third degree is refused (RULES.md).
    """

    id: str
    changes: tuple[Change, ...]
    degree: int = 1
    amends: str | None = None

    def __post_init__(self) -> None:
        if self.degree >= 3:
            raise AmendmentRefused(
                "amendment_third_degree",
                t(
                    "Amendment {amendment} would be of degree {degree}: an amendment may "
                    "amend an amendment (second degree), but no further.",
                    amendment=self.id,
                    degree=self.degree,
                ),
            )
        if self.degree < 1:
            raise AmendmentRefused(
                "amendment_degree",
                t("Amendment {amendment}: the degree must be 1 or 2.", amendment=self.id),
            )
        if not self.changes:
            raise AmendmentRefused(
                "amendment_empty",
                t(
                    "Amendment {amendment} changes nothing: add at least one change.",
                    amendment=self.id,
                ),
            )
        if self.degree == 1 and self.amends is not None:
            raise AmendmentRefused(
                "amendment_degree",
                t(
                    "Amendment {amendment} amends amendment {amends}, so it is of the second "
                    "degree.",
                    amendment=self.id,
                    amends=self.amends,
                ),
            )
        if self.degree == 2:
            if self.amends is None:
                raise AmendmentRefused(
                    "amendment_degree",
                    t(
                        "Amendment {amendment} is of the second degree but names no amendment it "
                        "amends.",
                        amendment=self.id,
                    ),
                )
            if not all(isinstance(c, Replace) for c in self.changes):
                raise AmendmentRefused(
                    "amendment_second_degree_change",
                    t(
                        "Amendment {amendment} amends amendment {amends}: it can only reword "
                        "that amendment's new texts, not insert or delete changes.",
                        amendment=self.id,
                        amends=self.amends,
                    ),
                )


def amend(first: Amendment, second: Amendment) -> Amendment:
    """The first-degree amendment `first` as reworded by the adopted second-degree `second`."""
    if first.degree != 1:
        raise AmendmentRefused(
            "amendment_third_degree",
            t(
                "Amendment {second} amends amendment {first}, itself an amendment to an "
                "amendment: a third degree is not allowed.",
                second=second.id,
                first=first.id,
            ),
        )
    if second.degree != 2 or second.amends != first.id:
        raise AmendmentRefused(
            "amendment_second_degree_target",
            t(
                "Amendment {second} does not amend amendment {first}.",
                second=second.id,
                first=first.id,
            ),
        )
    changes = list(first.changes)
    for change in second.changes:
        assert isinstance(change, Replace)  # guaranteed by Amendment.__post_init__
        target = change.paragraph_id
        index = next(
            (
                i
                for i, c in enumerate(changes)
                if not isinstance(c, Delete) and _writes(c) == target
            ),
            None,
        )
        if index is None:
            raise AmendmentRefused(
                "amendment_second_degree_target",
                t(
                    "Amendment {second} rewords paragraph {target}, but amendment {first} "
                    "writes no new text for that paragraph.",
                    second=second.id,
                    target=target,
                    first=first.id,
                ),
            )
        current = changes[index]
        assert not isinstance(current, Delete)
        if current.text != change.base_text:
            raise AmendmentConflict(
                second.id,
                target,
                t(
                    "amendment {first}'s text for paragraph {target} has changed since it was "
                    "written (it now reads “{current}”).",
                    first=first.id,
                    target=target,
                    current=_short(current.text),
                ),
            )
        changes[index] = replace(current, text=change.text)
    return Amendment(first.id, tuple(changes))


def _writes(change: Replace | Insert) -> str:
    return change.paragraph_id if isinstance(change, Replace) else change.new_id


def _short(text: str) -> str:
    return textwrap.shorten(text, 60, placeholder=" …") or text[:60]


def _simulate(document: Document, amendment: Amendment) -> tuple[Document, list[tuple[str, str]]]:
    """The document after `amendment`, and (paragraph id, reason) for each change that fails.

    A change that fails is skipped so that every reason is found at once, for the chair.
    """
    if amendment.degree != 1:
        raise AmendmentRefused(
            "amendment_second_degree_target",
            t(
                "Amendment {amendment} amends amendment {amends}, not the document: "
                "apply it to that amendment with amend().",
                amendment=amendment.id,
                amends=amendment.amends,
            ),
        )
    paragraphs = list(document)
    problems: list[tuple[str, str]] = []

    def position(paragraph_id: str) -> int | None:
        return next((i for i, p in enumerate(paragraphs) if p.id == paragraph_id), None)

    for change in amendment.changes:
        if isinstance(change, Insert):
            if change.after is None:
                at = 0
            else:
                anchor = position(change.after)
                if anchor is None:
                    problems.append(
                        (
                            change.after,
                            t(
                                "it inserts a paragraph after paragraph {after}, which is no "
                                "longer in the text (an earlier amendment deleted it).",
                                after=change.after,
                            ),
                        )
                    )
                    continue
                at = anchor + 1
            if position(change.new_id) is not None:
                problems.append(
                    (
                        change.new_id,
                        t(
                            "the new paragraph's id {new_id} is already used in the text.",
                            new_id=change.new_id,
                        ),
                    )
                )
                continue
            paragraphs.insert(at, Paragraph(change.new_id, change.text))
            continue
        index = position(change.paragraph_id)
        replaces = isinstance(change, Replace)
        if index is None:
            gone = (
                t(
                    "it replaces paragraph {paragraph_id}, which is no longer in the text "
                    "(an earlier amendment deleted it).",
                    paragraph_id=change.paragraph_id,
                )
                if replaces
                else t(
                    "it deletes paragraph {paragraph_id}, which is no longer in the text "
                    "(an earlier amendment deleted it).",
                    paragraph_id=change.paragraph_id,
                )
            )
            problems.append((change.paragraph_id, gone))
            continue
        current = paragraphs[index].text
        if current != change.base_text:
            words = {
                "number": index + 1,
                "paragraph_id": change.paragraph_id,
                "base": _short(change.base_text),
                "current": _short(current),
            }
            changed = (
                t(
                    "it replaces paragraph {number} ({paragraph_id}), which an earlier "
                    "amendment changed: it was written against “{base}” "
                    "but the paragraph now reads “{current}”.",
                    **words,
                )
                if replaces
                else t(
                    "it deletes paragraph {number} ({paragraph_id}), which an earlier "
                    "amendment changed: it was written against “{base}” "
                    "but the paragraph now reads “{current}”.",
                    **words,
                )
            )
            problems.append((change.paragraph_id, changed))
            continue
        if isinstance(change, Replace):
            paragraphs[index] = Paragraph(change.paragraph_id, change.text)
        else:
            del paragraphs[index]
    return tuple(paragraphs), problems


def check_applies(document: Document, amendment: Amendment) -> list[str]:
    """Why the first-degree `amendment` no longer applies to `document`; empty when it applies."""
    return [reason for _, reason in _simulate(document, amendment)[1]]


def _fold_second_degree(amendments: Sequence[Amendment]) -> list[Amendment]:
    """The first-degree amendments, each reworded by the second-degree ones adopted on it."""
    by_id = {a.id: a for a in amendments}
    firsts = {a.id: a for a in amendments if a.degree == 1}
    for second in amendments:
        if second.degree == 2:
            assert second.amends is not None
            if second.amends not in by_id:
                # The amendment it rewords was not adopted, so the rewording changes nothing.
                continue
            # amend() refuses a third degree (an amendment to a second-degree one).
            firsts[second.amends] = amend(firsts.get(second.amends, by_id[second.amends]), second)
    return [firsts[a.id] for a in amendments if a.degree == 1]


def apply(document: Document, amendments: Iterable[Amendment]) -> Document:
    """The new version: `document` with the adopted `amendments` applied in the order given.

    An adopted second-degree amendment rewords the first-degree amendment it amends wherever it
    appears in the list; when that amendment was not adopted, it changes nothing. Raises
    AmendmentConflict for the first change that no longer applies.
    """
    current = document
    for amendment in _fold_second_degree(list(amendments)):
        current, problems = _simulate(current, amendment)
        if problems:
            paragraph_id, reason = problems[0]
            raise AmendmentConflict(amendment.id, paragraph_id, reason)
    return current


def voting_order(amendments: Iterable[Amendment], document: Document) -> list[str]:
    """The ids of `amendments` in the order the plenary votes on them (RULES.md).

    First-degree amendments go in paragraph order: the position (1-based) of the first paragraph
    they touch, an insert counting at the position after its anchor (1 at the start); ties by
    amendment id; one that touches no paragraph of `document` goes last. Each is preceded by the
    second-degree amendments to it, by id (A2 before A10).
    """
    pending = list(amendments)
    by_id = {a.id: a for a in pending}
    positions = {p.id: i for i, p in enumerate(document, start=1)}
    seconds: dict[str, list[Amendment]] = {}
    for a in pending:
        if a.degree == 2:
            assert a.amends is not None
            target = by_id.get(a.amends)
            if target is None:
                raise AmendmentRefused(
                    "amendment_second_degree_target",
                    t(
                        "Amendment {a} amends amendment {amends}, which is not on the list.",
                        a=a.id,
                        amends=a.amends,
                    ),
                )
            if target.degree != 1:
                raise AmendmentRefused(
                    "amendment_third_degree",
                    t(
                        "Amendment {a} amends amendment {amends}, itself an amendment to an "
                        "amendment: a third degree is not allowed.",
                        a=a.id,
                        amends=a.amends,
                    ),
                )
            seconds.setdefault(a.amends, []).append(a)

    def first_touched(amendment: Amendment) -> int:
        touched: list[int] = []
        for change in amendment.changes:
            if isinstance(change, Insert):
                if change.after is None:
                    touched.append(1)
                elif change.after in positions:
                    touched.append(positions[change.after] + 1)
            elif change.paragraph_id in positions:
                touched.append(positions[change.paragraph_id])
        return min(touched, default=len(document) + 2)

    order: list[str] = []
    firsts = sorted(
        (a for a in pending if a.degree == 1), key=lambda a: (first_touched(a), _natural(a.id))
    )
    for first in firsts:
        order.extend(s.id for s in sorted(seconds.get(first.id, []), key=lambda s: _natural(s.id)))
        order.append(first.id)
    return order


def _natural(label: str) -> tuple[tuple[int, str], ...]:
    """A sort key that puts A2 before A10: digit runs compare as numbers."""
    return tuple(
        (int(part), "") if part.isdigit() else (-1, part) for part in re.findall(r"\d+|\D+", label)
    )


WordOp: TypeAlias = Literal["equal", "insert", "delete"]

_TOKEN = re.compile(r"(\S*)(\s*)")


def _words(text: str) -> list[tuple[str, str]]:
    """(word, whitespace after it) pairs that join back into `text`; leading whitespace comes
    with an empty word."""
    return [(m[1], m[2]) for m in _TOKEN.finditer(text) if m[0]]


def word_diff(old_text: str, new_text: str) -> list[tuple[WordOp, str]]:
    """The word-level changes from `old_text` to `new_text`, as (op, text) runs.

    Joining the "equal" and "insert" texts gives `new_text`; "equal" and "delete" give `old_text`.
    A replaced run shows as its deletion followed by its insertion.
    """
    old, new = _words(old_text), _words(new_text)
    runs: list[tuple[WordOp, str]] = []

    def add(op: WordOp, tokens: list[str]) -> None:
        text = "".join(tokens)
        if not text:
            return
        if runs and runs[-1][0] == op:
            runs[-1] = (op, runs[-1][1] + text)
        else:
            runs.append((op, text))

    # Words are matched without their whitespace, so "act." at the end of a paragraph still
    # matches "act. " before an added sentence; a change of spacing alone shows on its own.
    matcher = difflib.SequenceMatcher(
        None, [w for w, _ in old], [w for w, _ in new], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for (word, old_space), (_, new_space) in zip(old[i1:i2], new[j1:j2], strict=True):
                add("equal", [word])
                if old_space == new_space:
                    add("equal", [old_space])
                else:
                    add("delete", [old_space])
                    add("insert", [new_space])
        else:
            add("delete", [w + space for w, space in old[i1:i2]])
            add("insert", [w + space for w, space in new[j1:j2]])
    return runs


class ParagraphStatus(StrEnum):
    added = "added"
    removed = "removed"
    changed = "changed"
    unchanged = "unchanged"


@dataclass(frozen=True, slots=True)
class ParagraphDiff:
    """How one paragraph differs between two versions; `words` is set when it changed."""

    id: str
    status: ParagraphStatus
    old_text: str | None
    new_text: str | None
    words: tuple[tuple[WordOp, str], ...] = ()


def document_diff(old: Document, new: Document) -> list[ParagraphDiff]:
    """Every paragraph of both versions, in the new version's order, removed ones at their old
    place (after the paragraph that preceded them and is still there)."""
    new_ids = {p.id for p in new}
    old_texts = {p.id: p.text for p in old}
    removed_after: dict[str | None, list[Paragraph]] = {}
    anchor: str | None = None
    for paragraph in old:
        if paragraph.id in new_ids:
            anchor = paragraph.id
        else:
            removed_after.setdefault(anchor, []).append(paragraph)

    def removed(after: str | None) -> list[ParagraphDiff]:
        return [
            ParagraphDiff(p.id, ParagraphStatus.removed, p.text, None)
            for p in removed_after.get(after, [])
        ]

    out = removed(None)
    for paragraph in new:
        before = old_texts.get(paragraph.id)
        if before is None:
            out.append(ParagraphDiff(paragraph.id, ParagraphStatus.added, None, paragraph.text))
        elif before == paragraph.text:
            out.append(
                ParagraphDiff(paragraph.id, ParagraphStatus.unchanged, before, paragraph.text)
            )
        else:
            words = tuple(word_diff(before, paragraph.text))
            out.append(
                ParagraphDiff(paragraph.id, ParagraphStatus.changed, before, paragraph.text, words)
            )
        out.extend(removed(paragraph.id))
    return out
