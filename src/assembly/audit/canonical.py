"""Canonical JSON for audit log entries: one byte string per entry, so that the stored bytes are
what is hashed and any verifier can re-derive them.

The form: UTF-8, no insignificant whitespace, object keys sorted by their UTF-16 code units,
strings escaped as JSON requires and nothing more, integers in decimal. On this subset (no
floats, integers within ±(2**53 - 1)) it is the JSON Canonicalization Scheme of RFC 8785, so
verifiers in other languages can use a JCS library. Floats are refused: weights and shares are
exact, and are logged as strings such as "3/2".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

_json_string = json.encoder.encode_basestring

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON reader (JavaScript's included) reads exactly (RFC 7493)."""


class CanonicalError(Exception):
    """An entry cannot be written to the log, or bytes are not a canonical log entry."""


def canonical(entry: Mapping[str, object]) -> bytes:
    """The canonical bytes of a log entry; it needs an integer version "v" and a "type"."""
    if not isinstance(entry, Mapping):
        raise CanonicalError(f"a log entry is a JSON object, not {type(entry).__name__}")
    version = entry.get("v")
    if type(version) is not int or version < 1:
        raise CanonicalError(
            f'a log entry needs a version "v", a positive integer: got {version!r}'
        )
    kind = entry.get("type")
    if not isinstance(kind, str) or not kind:
        raise CanonicalError(f'a log entry needs a "type", a non-empty string: got {kind!r}')
    try:
        if _plain(entry):
            return _PLAIN.encode(entry).encode("utf-8")
    except (RecursionError, UnicodeEncodeError):
        pass  # the encoder below says where the entry goes wrong
    parts: list[str] = []
    try:
        _encode(entry, "entry", parts)
    except RecursionError:
        raise CanonicalError("the entry is nested too deeply") from None
    return "".join(parts).encode("utf-8")


# json's own (C) encoder writes the canonical form of a "plain" value (see _plain): keys
# sorted (by code point, the same as by UTF-16 code units for ASCII keys), no whitespace,
# strings escaped as JSON requires and nothing more (ensure_ascii=False). A vote's close logs
# 2,000 ballot entries; this is several times faster than _encode, which remains the
# reference: it handles everything else and says what is wrong with what it refuses.
_PLAIN = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def _plain(value: object) -> bool:
    """Whether `value` holds only dicts with ASCII string keys, lists, tuples, strings, None,
    booleans and ints (exactly these types, ints within ±MAX_SAFE_INTEGER). Strings are not
    checked: one that is not valid Unicode fails when the encoder's output is encoded."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER  # type: ignore[operator]
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str or not key.isascii() or not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)  # type: ignore[attr-defined]
    return False


def parse(data: bytes) -> dict[str, object]:
    """Read a log entry, refusing any bytes that are not exactly its canonical form."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CanonicalError(f"the entry is not valid UTF-8 (at byte {error.start})") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_refuse_duplicate_keys,
            parse_float=_refuse_float,
            parse_constant=_refuse_float,
        )
    except ValueError as error:  # JSONDecodeError, or an integer of over 4300 digits
        raise CanonicalError(f"the entry is not JSON: {error}") from None
    except RecursionError:
        raise CanonicalError("the entry is nested too deeply") from None
    if not isinstance(value, dict):
        raise CanonicalError(f"a log entry is a JSON object, not {type(value).__name__}")
    if canonical(value) != data:
        raise CanonicalError("the entry is JSON but not in canonical form")
    return value


def _encode(value: object, path: str, parts: list[str]) -> None:
    # bool before int: True is an int in Python but a literal in JSON.
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalError(
                f"{path} is {value}, beyond ±(2**53 - 1) that every JSON reader keeps exact; "
                "log it as a string"
            )
        parts.append(str(int(value)))  # int(): an IntEnum's str() is not its number
    elif isinstance(value, float):
        raise CanonicalError(
            f"{path} is a float ({value!r}): the log records exact values only; "
            'pass weights and shares as strings such as "3/2"'
        )
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise CanonicalError(f"{path} is not valid Unicode text") from None
        # What json.dumps(value, ensure_ascii=False) gives, without making a new encoder for
        # every string (json.dumps reuses its encoder only with default arguments).
        parts.append(_json_string(value))
    elif isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalError(f"{path} has a key {key!r} that is not a string")
        parts.append("{")
        keys = list(value)
        # ASCII keys (nearly all of them) sort the same by UTF-16 code units as by code point.
        ordered = sorted(keys) if all(k.isascii() for k in keys) else sorted(keys, key=_utf16_order)
        for i, key in enumerate(ordered):
            if i:
                parts.append(",")
            _encode(key, f"{path} key", parts)
            parts.append(":")
            _encode(value[key], f"{path}.{key}", parts)
        parts.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        parts.append("[")
        for i, item in enumerate(value):
            if i:
                parts.append(",")
            _encode(item, f"{path}[{i}]", parts)
        parts.append("]")
    else:
        raise CanonicalError(
            f"{path} is a {type(value).__name__}, which JSON cannot hold; "
            "convert it to a string, a number or a list first"
        )


def _utf16_order(key: str) -> bytes:
    # RFC 8785 sorts keys by UTF-16 code units; this differs from code point order only for
    # keys mixing characters above U+FFFF with characters from U+E000 to U+FFFF.
    return key.encode("utf-16-be", "surrogatepass")


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # json.loads would keep the last value silently; two readers could then disagree.
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise CanonicalError(f"the entry has the key {key!r} twice")
        seen.add(key)
    return dict(pairs)


def _refuse_float(text: str) -> object:
    raise CanonicalError(f"the entry has a non-integer number {text}: log entries hold no floats")
