"""Amendments: applying the adopted ones, conflicts, the order of voting and the diff."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assembly.agenda.amendments import (
    Amendment,
    AmendmentConflict,
    AmendmentRefused,
    Change,
    Delete,
    Document,
    Insert,
    Paragraph,
    ParagraphDiff,
    ParagraphStatus,
    Replace,
    amend,
    apply,
    check_applies,
    document_diff,
    voting_order,
    word_diff,
)

DOC: Document = (
    Paragraph("p1", "Health is a human right."),
    Paragraph("p2", "Students call on governments to act."),
    Paragraph("p3", "The federation will report yearly."),
)


def texts(document: Document) -> list[tuple[str, str]]:
    return [(p.id, p.text) for p in document]


def test_replace_changes_only_that_paragraph() -> None:
    a = Amendment("A1", (Replace("p2", "Students urge governments to act now.", DOC[1].text),))
    assert texts(apply(DOC, [a])) == [
        ("p1", DOC[0].text),
        ("p2", "Students urge governments to act now."),
        ("p3", DOC[2].text),
    ]


def test_delete_removes_the_paragraph() -> None:
    a = Amendment("A1", (Delete("p2", DOC[1].text),))
    assert [p.id for p in apply(DOC, [a])] == ["p1", "p3"]


def test_insert_at_the_start_after_a_paragraph_and_after_the_last() -> None:
    a = Amendment(
        "A1",
        (
            Insert(None, "n1", "Preamble."),
            Insert("p1", "n2", "Between."),
            Insert("p3", "n3", "Closing."),
        ),
    )
    assert [p.id for p in apply(DOC, [a])] == ["n1", "p1", "n2", "p2", "p3", "n3"]
    assert apply(DOC, [a])[0] == Paragraph("n1", "Preamble.")


def test_an_amendment_may_insert_after_its_own_new_paragraph() -> None:
    a = Amendment("A1", (Insert("p3", "n1", "One."), Insert("n1", "n2", "Two.")))
    assert [p.id for p in apply(DOC, [a])] == ["p1", "p2", "p3", "n1", "n2"]


def test_no_amendments_leave_the_document_as_it_is() -> None:
    assert apply(DOC, []) == DOC


def test_two_replacements_of_one_paragraph_conflict_once_the_first_is_adopted() -> None:
    first = Amendment("A1", (Replace("p2", "Students demand action.", DOC[1].text),))
    second = Amendment("A2", (Replace("p2", "Students ask for action.", DOC[1].text),))
    assert check_applies(DOC, second) == []
    after = apply(DOC, [first])
    reasons = check_applies(after, second)
    assert len(reasons) == 1
    assert "paragraph 2 (p2)" in reasons[0] and "earlier amendment changed" in reasons[0]
    assert "now reads “Students demand action.”" in reasons[0]
    with pytest.raises(AmendmentConflict) as caught:
        apply(DOC, [first, second])
    assert caught.value.amendment_id == "A2" and caught.value.paragraph_id == "p2"
    assert caught.value.message.startswith("Amendment A2 no longer applies: it replaces")


def test_a_change_to_a_deleted_paragraph_no_longer_applies() -> None:
    deleting = Amendment("A1", (Delete("p3", DOC[2].text),))
    replacing = Amendment("A2", (Replace("p3", "Report monthly.", DOC[2].text),))
    inserting = Amendment("A3", (Insert("p3", "n1", "Annex."),))
    after = apply(DOC, [deleting])
    assert check_applies(after, replacing) == [
        "it replaces paragraph p3, which is no longer in the text "
        "(an earlier amendment deleted it)."
    ]
    assert "inserts a paragraph after paragraph p3" in check_applies(after, inserting)[0]
    with pytest.raises(AmendmentConflict) as caught:
        apply(DOC, [deleting, inserting])
    assert (caught.value.amendment_id, caught.value.paragraph_id) == ("A3", "p3")


def test_a_delete_written_against_old_text_does_not_apply() -> None:
    changed = Amendment("A1", (Replace("p1", "Health for all.", DOC[0].text),))
    deleting = Amendment("A2", (Delete("p1", DOC[0].text),))
    assert "it deletes paragraph 1 (p1)" in check_applies(apply(DOC, [changed]), deleting)[0]


def test_check_applies_lists_every_reason() -> None:
    a = Amendment(
        "A1",
        (Replace("p1", "x", "old words"), Delete("gone", "y"), Insert(None, "p2", "dup")),
    )
    reasons = check_applies(DOC, a)
    assert len(reasons) == 3
    assert "id p2 is already used" in reasons[2]


def test_a_second_degree_amendment_rewords_the_first_degree_one() -> None:
    first = Amendment(
        "A1",
        (
            Replace("p2", "Students demand action.", DOC[1].text),
            Insert("p3", "n1", "Every year."),
            Delete("p1", DOC[0].text),
        ),
    )
    second = Amendment(
        "A1.1", (Replace("n1", "Every two years.", "Every year."),), degree=2, amends="A1"
    )
    amended = amend(first, second)
    assert amended.changes[1] == Insert("p3", "n1", "Every two years.")
    assert amended.changes[0] == first.changes[0]
    # Adopted in voting order, the second degree takes effect through the first.
    assert texts(apply(DOC, [second, first]))[-1] == ("n1", "Every two years.")
    # When the first-degree amendment is rejected, the adopted rewording changes nothing.
    assert apply(DOC, [second]) == DOC


def test_a_second_degree_amendment_must_match_a_new_text_of_the_first() -> None:
    first = Amendment("A1", (Delete("p1", DOC[0].text),))
    second = Amendment("A1.1", (Replace("p1", "x", DOC[0].text),), degree=2, amends="A1")
    with pytest.raises(AmendmentRefused) as caught:
        amend(first, second)
    assert caught.value.rule == "amendment_second_degree_target"
    stale = Amendment("A2", (Replace("p2", "Act.", DOC[1].text),))
    late = Amendment("A2.1", (Replace("p2", "Act now.", "Act soon."),), degree=2, amends="A2")
    with pytest.raises(AmendmentConflict):
        amend(stale, late)


def test_a_second_degree_amendment_only_rewords() -> None:
    with pytest.raises(AmendmentRefused) as caught:
        Amendment("A1.1", (Delete("p1", "x"),), degree=2, amends="A1")
    assert caught.value.rule == "amendment_second_degree_change"
    with pytest.raises(AmendmentRefused, match="names no amendment"):
        Amendment("A1.1", (Replace("p1", "x", "y"),), degree=2)
    with pytest.raises(AmendmentRefused, match="second degree"):
        Amendment("A1", (Replace("p1", "x", "y"),), amends="A0")
    with pytest.raises(AmendmentRefused, match="changes nothing"):
        Amendment("A1", ())


def test_a_third_degree_is_refused() -> None:
    with pytest.raises(AmendmentRefused) as caught:
        Amendment("A1.1.1", (Replace("p1", "x", "y"),), degree=3, amends="A1.1")
    assert caught.value.rule == "amendment_third_degree"
    assert "no further" in caught.value.message
    first = Amendment("A1", (Replace("p1", "x", DOC[0].text),))
    second = Amendment("A1.1", (Replace("p1", "y", "x"),), degree=2, amends="A1")
    onto_second = Amendment("A1.1.1", (Replace("p1", "z", "y"),), degree=2, amends="A1.1")
    with pytest.raises(AmendmentRefused) as caught:
        amend(second, onto_second)
    assert caught.value.rule == "amendment_third_degree"
    with pytest.raises(AmendmentRefused) as caught:
        voting_order([first, second, onto_second], DOC)
    assert caught.value.rule == "amendment_third_degree"
    with pytest.raises(AmendmentRefused) as caught:
        apply(DOC, [onto_second, second, first])
    assert caught.value.rule == "amendment_third_degree"


def test_voting_order_goes_by_paragraph_with_second_degree_first() -> None:
    amendments = [
        Amendment("A9", (Replace("p3", "x", DOC[2].text),)),
        Amendment("A5", (Insert("p1", "n1", "x"),)),  # counts at position 2
        Amendment("A4", (Replace("p2", "x", DOC[1].text),)),  # position 2: before A5 by id
        Amendment("A7", (Delete("p3", DOC[2].text), Replace("p1", "x", DOC[0].text))),
        Amendment("A8", (Insert(None, "n2", "x"),)),  # position 1: tie with A7, by id
        Amendment("A4.2", (Replace("p2", "y", "x"),), degree=2, amends="A4"),
        Amendment("A4.1", (Replace("p2", "z", "x"),), degree=2, amends="A4"),
        Amendment("A6", (Replace("gone", "x", "y"),)),  # touches nothing left: last
    ]
    assert voting_order(amendments, DOC) == ["A7", "A8", "A4.1", "A4.2", "A4", "A5", "A9", "A6"]


def test_voting_order_refuses_a_second_degree_without_its_amendment() -> None:
    orphan = Amendment("A1.1", (Replace("p1", "y", "x"),), degree=2, amends="A1")
    with pytest.raises(AmendmentRefused, match="not on the list"):
        voting_order([orphan], DOC)


def test_word_diff_shows_words_deleted_and_inserted() -> None:
    ops = word_diff("Students call on governments", "Students urge governments now")
    assert ops[0] == ("equal", "Students ")
    assert ("delete", "call on ") in ops and ("insert", "urge ") in ops
    assert word_diff("same text", "same text") == [("equal", "same text")]
    assert word_diff("", "new") == [("insert", "new")]
    assert word_diff("old", "") == [("delete", "old")]
    assert word_diff("", "") == []


def join(ops: Sequence[tuple[str, str]], keep: str) -> str:
    return "".join(text for op, text in ops if op in ("equal", keep))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a b c", "a x c"),
        ("  leading and  double  spaces ", "leading and double spaces"),
        ("line one\nline two", "line one\n\nline three"),
        ("", "all new"),
    ],
)
def test_word_diff_round_trips(old: str, new: str) -> None:
    ops = word_diff(old, new)
    assert join(ops, "insert") == new and join(ops, "delete") == old


words = st.lists(
    st.sampled_from(["the", "federation", "health", "students", "a", "", " ", "\n", "  "]),
    max_size=12,
)


@given(old=words, new=words, seps=st.sampled_from([" ", "  ", "\n", ""]))
def test_word_diff_round_trips_for_any_texts(old: list[str], new: list[str], seps: str) -> None:
    old_text, new_text = seps.join(old), seps.join(new)
    ops = word_diff(old_text, new_text)
    assert join(ops, "insert") == new_text and join(ops, "delete") == old_text
    assert all(text for _, text in ops)
    assert all(a[0] != b[0] for a, b in itertools.pairwise(ops))


@given(st.text(max_size=40), st.text(max_size=40))
def test_word_diff_round_trips_for_any_unicode(old: str, new: str) -> None:
    ops = word_diff(old, new)
    assert join(ops, "insert") == new and join(ops, "delete") == old


def test_document_diff_marks_each_paragraph_in_the_new_order() -> None:
    new = apply(
        DOC,
        [
            Amendment(
                "A1",
                (
                    Delete("p1", DOC[0].text),
                    Replace("p2", "Students urge governments to act.", DOC[1].text),
                    Insert("p3", "n1", "Annex."),
                ),
            )
        ],
    )
    diff = document_diff(DOC, new)
    assert [(d.id, d.status) for d in diff] == [
        ("p1", ParagraphStatus.removed),
        ("p2", ParagraphStatus.changed),
        ("p3", ParagraphStatus.unchanged),
        ("n1", ParagraphStatus.added),
    ]
    assert diff[0] == ParagraphDiff("p1", ParagraphStatus.removed, DOC[0].text, None)
    assert ("delete", "call on ") in diff[1].words and ("insert", "urge ") in diff[1].words
    assert diff[3] == ParagraphDiff("n1", ParagraphStatus.added, None, "Annex.")


def test_document_diff_keeps_removed_paragraphs_at_their_old_place() -> None:
    new = (DOC[0], DOC[2])
    assert [(d.id, d.status) for d in document_diff(DOC, new)] == [
        ("p1", ParagraphStatus.unchanged),
        ("p2", ParagraphStatus.removed),
        ("p3", ParagraphStatus.unchanged),
    ]


@st.composite
def document_and_amendments(
    draw: st.DrawFn,
) -> tuple[Document, list[Amendment], dict[str, str]]:
    """A document, non-conflicting amendments, and what each original paragraph should become."""
    size = draw(st.integers(0, 8))
    document = tuple(Paragraph(f"p{i}", draw(st.text(max_size=12))) for i in range(size))
    changes: list[Change] = []
    expected: dict[str, str] = {}  # original id -> "keep" / "replace" / "delete"
    for paragraph in document:
        action = draw(st.sampled_from(["keep", "replace", "delete"]))
        expected[paragraph.id] = action
        if action == "replace":
            changes.append(Replace(paragraph.id, draw(st.text(max_size=12)), paragraph.text))
        elif action == "delete":
            changes.append(Delete(paragraph.id, paragraph.text))
    anchors = [None, *(p.id for p in document if expected[p.id] != "delete")]
    for n in range(draw(st.integers(0, 4))):
        changes.append(Insert(draw(st.sampled_from(anchors)), f"n{n}", f"new {n}"))
    changes = draw(st.permutations(changes))
    amendments: list[Amendment] = []
    while changes:
        take = draw(st.integers(1, len(changes)))
        amendments.append(Amendment(f"A{len(amendments)}", tuple(changes[:take])))
        changes = changes[take:]
    return document, amendments, expected


@given(document_and_amendments())
def test_apply_keeps_ids_unique_and_untouched_paragraphs_unchanged(
    case: tuple[Document, list[Amendment], dict[str, str]],
) -> None:
    document, amendments, expected = case
    result = apply(document, amendments)
    ids = [p.id for p in result]
    assert len(ids) == len(set(ids))
    by_id = {p.id: p for p in result}
    for paragraph in document:
        action = expected[paragraph.id]
        if action == "keep":
            assert by_id[paragraph.id] == paragraph
        elif action == "delete":
            assert paragraph.id not in by_id
        else:
            assert paragraph.id in by_id
    survivors = [p.id for p in document if expected[p.id] != "delete"]
    assert [i for i in ids if i.startswith("p")] == survivors
    inserted = {c.new_id for a in amendments for c in a.changes if isinstance(c, Insert)}
    assert {i for i in ids if i.startswith("n")} == inserted


def test_voting_order_breaks_ties_by_number_not_by_text() -> None:
    doc = (Paragraph("p1", "One."),)
    labels = ["A10", "A2", "A1"]
    amendments = [Amendment(label, (Replace("p1", f"{label}.", "One."),)) for label in labels]
    assert voting_order(amendments, doc) == ["A1", "A2", "A10"]
