"""Canonical JSON for log entries: one byte string per entry, floats refused with a message that
says what to log instead, and parse() accepting only bytes that are already canonical."""

from __future__ import annotations

import json
from enum import IntEnum
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assembly.audit.canonical import CanonicalError, canonical, parse


def entry(**fields: object) -> dict[str, object]:
    return {"v": 1, "type": "ballot", **fields}


def test_keys_are_sorted_and_nothing_is_spaced() -> None:
    data = canonical({"type": "ballot", "v": 1, "weight": "3/2", "nmo": "Ruritania", "named": True})
    assert data == b'{"named":true,"nmo":"Ruritania","type":"ballot","v":1,"weight":"3/2"}'
    assert parse(data) == {
        "named": True,
        "nmo": "Ruritania",
        "type": "ballot",
        "v": 1,
        "weight": "3/2",
    }


def test_text_is_utf8_and_escaped_only_where_json_requires() -> None:
    data = canonical(entry(text='Ä "quoted" \\ \n\t\x01 / \u2028 😀'))
    assert data == (
        '{"text":"Ä \\"quoted\\" \\\\ \\n\\t\\u0001 / \u2028 😀","type":"ballot","v":1}'.encode()
    )
    assert parse(data)["text"] == 'Ä "quoted" \\ \n\t\x01 / \u2028 😀'


def test_nested_values_and_lists_keep_their_order() -> None:
    value = entry(ballots=[{"nmo": "B", "choice": "no"}, {"nmo": "A", "choice": None}])
    data = canonical(value)
    assert data == (
        b'{"ballots":[{"choice":"no","nmo":"B"},{"choice":null,"nmo":"A"}],"type":"ballot","v":1}'
    )
    assert parse(data) == value


def test_keys_sort_by_utf16_code_units_as_rfc8785_does() -> None:
    # By code point U+1F600 comes after U+FF61; in UTF-16 it is 0xD83D 0xDE00, before 0xFF61.
    text = canonical(entry(**{"\uff61": 2, "\U0001f600": 1})).decode()
    assert text.index("\U0001f600") < text.index("\uff61")


@pytest.mark.parametrize(
    "value",
    [1.5, 2.0, float("nan"), float("inf"), [1, 2.5], {"nested": {"weight": 0.1}}],
)
def test_floats_are_refused_anywhere(value: object) -> None:
    with pytest.raises(
        CanonicalError, match='exact values only; pass weights and shares as strings such as "3/2"'
    ):
        canonical(entry(weight=value))


def test_the_refusal_names_the_field() -> None:
    with pytest.raises(CanonicalError, match=r"entry\.ballots\[1\]\.weight is a float \(0\.5\)"):
        canonical(entry(ballots=[{"weight": 1}, {"weight": 0.5}]))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (Fraction(3, 2), "Fraction, which JSON cannot hold"),
        (b"bytes", "bytes, which JSON cannot hold"),
        ({1, 2}, "set, which JSON cannot hold"),
        ({1: "x"}, "key 1 that is not a string"),
        (2**53, "beyond"),
        (-(2**53), "beyond"),
        ("\ud800", "not valid Unicode"),
    ],
)
def test_values_json_cannot_carry_exactly_are_refused(value: object, message: str) -> None:
    with pytest.raises(CanonicalError, match=message):
        canonical(entry(field=value))


def test_integer_enums_and_tuples_are_written_as_json() -> None:
    class Choice(IntEnum):
        yes = 1

    assert canonical(entry(choice=Choice.yes, pair=(1, 2))) == (
        b'{"choice":1,"pair":[1,2],"type":"ballot","v":1}'
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"type": "ballot"}, 'version "v"'),
        ({"type": "ballot", "v": "1"}, 'version "v"'),
        ({"type": "ballot", "v": True}, 'version "v"'),
        ({"type": "ballot", "v": 0}, 'version "v"'),
        ({"v": 1}, '"type"'),
        ({"v": 1, "type": ""}, '"type"'),
        ({"v": 1, "type": 3}, '"type"'),
    ],
)
def test_an_entry_needs_a_version_and_a_type(value: dict[str, object], message: str) -> None:
    with pytest.raises(CanonicalError, match=message):
        canonical(value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"type":"ballot", "v":1}', "not in canonical form"),
        (b'{"v":1,"type":"ballot"}', "not in canonical form"),
        (b'{"type":"ballot","v":1}\n', "not in canonical form"),
        (b'{"type":"b\\u0061llot","v":1}', "not in canonical form"),
        (b'{"type":"ballot","v":1.0}', "no floats"),
        (b'{"type":"ballot","v":1,"x":1e3}', "no floats"),
        (b'{"type":"ballot","v":1,"x":NaN}', "no floats"),
        (b'{"type":"ballot","v":1,"v":2}', "'v' twice"),
        (b'{"type":"ballot","v":1', "not JSON"),
        (b"[1]", "not list"),
        (b'{"type":"ballot","v":1,"x":"\xff"}', "not valid UTF-8"),
        (b'\xef\xbb\xbf{"type":"ballot","v":1}', "not JSON"),
        (b'{"type":"ballot","v":1,"x":' + b"9" * 5000 + b"}", "not JSON"),
        (b'{"type":"ballot","v":1,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "too deeply"),
    ],
)
def test_bytes_that_are_not_a_canonical_entry_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(CanonicalError, match=message):
        parse(data)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(st.characters(codec="utf-8")),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(codec="utf-8")), children, max_size=4)
    ),
    max_leaves=20,
)
entries = st.dictionaries(st.text(max_size=8), json_values, max_size=6).map(
    lambda fields: {**fields, "v": 1, "type": "ballot"}
)


@settings(max_examples=100, deadline=None)
@given(value=entries)
def test_any_entry_round_trips_to_the_same_bytes(value: dict[str, Any]) -> None:
    data = canonical(value)
    assert parse(data) == value
    assert canonical(parse(data)) == data
    assert json.loads(data) == value  # any JSON reader reads the same entry


@settings(max_examples=100, deadline=None)
@given(value=entries)
def test_no_other_spelling_of_an_entry_is_accepted(value: dict[str, Any]) -> None:
    data = canonical(value)
    for spelling in (
        json.dumps(value, ensure_ascii=True).encode(),
        json.dumps(value, ensure_ascii=False, indent=1).encode(),
        json.dumps(value, ensure_ascii=False, sort_keys=True).encode(),
    ):
        if spelling != data:
            with pytest.raises(CanonicalError):
                parse(spelling)


class Level(IntEnum):
    high = 2


def reference(value: object) -> bytes:
    """The canonical bytes as the field-by-field encoder writes them (no fast path)."""
    from assembly.audit.canonical import _encode

    parts: list[str] = []
    _encode(value, "entry", parts)
    return "".join(parts).encode("utf-8")


anything = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**54), 2**54)  # beyond the safe range too
    | st.text(st.characters())  # lone surrogates too
    | st.floats(allow_nan=False)
    | st.sampled_from([Fraction(3, 2), b"x", Level.high]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(st.characters(), max_size=3), children, max_size=4)
        | st.dictionaries(st.integers(0, 3), children, max_size=2)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(fields=st.dictionaries(st.text(st.characters(), max_size=6), anything, max_size=6))
def test_the_fast_path_writes_what_the_reference_encoder_writes_or_refuses_the_same(
    fields: dict[Any, Any],
) -> None:
    """canonical() hands plain entries to json's C encoder; whatever the entry, the bytes (or
    the refusal, with its message) are those of the field-by-field encoder."""
    value = {**fields, "v": 1, "type": "ballot"}
    try:
        expected = reference(value)
    except CanonicalError as refusal:
        with pytest.raises(CanonicalError) as raised:
            canonical(value)
        assert str(raised.value) == str(refusal)
        return
    assert canonical(value) == expected
