"""The signing key file: it opens only with its passphrase, any change to it is refused, and the
key inside signs checkpoints that its published verifier key opens."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from assembly.audit.keys import (
    FORMAT,
    MIN_SCRYPT_N,
    SCRYPT_N,
    KeyFileError,
    generate,
    read_verifier_key,
    seal,
    unseal,
)
from assembly.audit.notes import Checkpoint, open_checkpoint, parse_verifier_key, sign_note

NAME = "assembly.example.org/ga-2026-03"
PASSPHRASE = "correct horse battery staple"
CHEAP = MIN_SCRYPT_N  # the tests check the format, not the cost


@pytest.fixture(scope="module")
def sealed() -> bytes:
    private_key, _ = generate(NAME)
    return seal(private_key, PASSPHRASE, name=NAME, n=CHEAP)


def test_a_generated_key_signs_what_its_verifier_key_opens() -> None:
    private_key, vkey = generate(NAME)
    verifier = parse_verifier_key(vkey)
    assert verifier.name == NAME
    assert verifier.public_key == private_key.public_key().public_bytes_raw()
    checkpoint = Checkpoint(NAME, 1, bytes(32))
    signed = sign_note(checkpoint.body(), NAME, private_key)
    assert open_checkpoint(signed, verifier, NAME) == (checkpoint, [])


def test_a_sealed_key_opens_with_its_passphrase(sealed: bytes) -> None:
    key = unseal(sealed, PASSPHRASE)
    assert key.name == NAME
    assert key.verifier_key == str(read_verifier_key(sealed))
    assert parse_verifier_key(key.verifier_key).public_key == (
        key.private_key.public_key().public_bytes_raw()
    )


def test_the_file_records_its_parameters_and_hides_the_key(sealed: bytes) -> None:
    document = json.loads(sealed)
    assert document["format"] == FORMAT
    assert document["name"] == NAME
    assert document["kdf"] == {
        "name": "scrypt",
        "n": CHEAP,
        "r": 8,
        "p": 1,
        "salt": document["kdf"]["salt"],
    }
    assert len(base64.b64decode(document["kdf"]["salt"])) == 16
    assert document["cipher"]["name"] == "aes-256-gcm"
    assert len(base64.b64decode(document["ciphertext"])) == 32 + 16  # the key and its tag
    raw = unseal(sealed, PASSPHRASE).private_key.private_bytes_raw()
    assert raw not in sealed and base64.b64encode(raw) not in sealed


def test_the_default_cost_is_at_least_the_minimum() -> None:
    assert SCRYPT_N >= 2**15
    private_key, _ = generate(NAME)
    document = json.loads(seal(private_key, PASSPHRASE, name=NAME))
    assert document["kdf"]["n"] == SCRYPT_N


def test_a_wrong_passphrase_is_refused(sealed: bytes) -> None:
    with pytest.raises(KeyFileError, match="wrong passphrase, or the key file was altered"):
        unseal(sealed, PASSPHRASE + " ")


def test_the_passphrase_is_read_in_one_normal_form() -> None:
    private_key, _ = generate(NAME)
    data = seal(private_key, "caf\u00e9 au lait", name=NAME, n=CHEAP)  # é precomposed
    assert unseal(data, "cafe\u0301 au lait").name == NAME  # e + combining acute


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "assembly.example.org/ga-2027-03"),
        ("kdf.salt", base64.b64encode(bytes(16)).decode()),
        ("kdf.r", 7),
        ("kdf.n", 2 * CHEAP),
        ("cipher.nonce", base64.b64encode(bytes(12)).decode()),
    ],
)
def test_a_changed_field_is_refused(sealed: bytes, field: str, value: object) -> None:
    document = json.loads(sealed)
    *path, last = field.split(".")
    target = document
    for part in path:
        target = target[part]
    target[last] = value
    with pytest.raises(KeyFileError, match="wrong passphrase, or the key file was altered"):
        unseal(json.dumps(document).encode(), PASSPHRASE)


def test_a_changed_verifier_key_is_refused(sealed: bytes) -> None:
    document = json.loads(sealed)
    _, other = generate(NAME)
    document["verifier_key"] = other
    with pytest.raises(KeyFileError, match="altered"):
        unseal(json.dumps(document).encode(), PASSPHRASE)


def test_any_flipped_bit_of_the_ciphertext_is_refused(sealed: bytes) -> None:
    document = json.loads(sealed)
    ciphertext = base64.b64decode(document["ciphertext"])
    for i in (0, 16, 31, 32, 47):  # the key's bytes and the tag's
        changed = bytearray(ciphertext)
        changed[i] ^= 1
        document["ciphertext"] = base64.b64encode(changed).decode()
        with pytest.raises(KeyFileError, match="altered"):
            unseal(json.dumps(document).encode(), PASSPHRASE)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: b"not json", "not JSON"),
        (lambda d: b"\xff", "not JSON"),
        (lambda d: json.dumps([1]).encode(), "format is not"),
        (lambda d: json.dumps({**d, "format": "pem"}).encode(), "format is not"),
        (lambda d: json.dumps({**d, "extra": 1}).encode(), "fields are not as written"),
        (lambda d: json.dumps({**d, "name": 5}).encode(), "fields are not as written"),
        (
            lambda d: json.dumps({**d, "cipher": {**d["cipher"], "name": "des"}}).encode(),
            "fields are not as written",
        ),
        (
            lambda d: json.dumps({**d, "kdf": {**d["kdf"], "n": 2**14}}).encode(),
            "scrypt costs",
        ),
        (
            lambda d: json.dumps({**d, "kdf": {**d["kdf"], "n": 2**30}}).encode(),
            "scrypt costs",
        ),
        (
            lambda d: json.dumps({**d, "kdf": {**d["kdf"], "n": 3 * 2**15}}).encode(),
            "scrypt costs",
        ),
        (
            lambda d: json.dumps({**d, "kdf": {**d["kdf"], "p": 1000}}).encode(),
            "scrypt costs",
        ),
        (lambda d: json.dumps({**d, "ciphertext": "!!"}).encode(), "not base64"),
        (
            lambda d: json.dumps({**d, "cipher": {**d["cipher"], "nonce": "AAAA"}}).encode(),
            "wrong size",
        ),
    ],
)
def test_a_damaged_file_is_refused_with_a_reason(
    sealed: bytes, change: Callable[[dict[str, Any]], bytes], message: str
) -> None:
    with pytest.raises(KeyFileError, match=message):
        unseal(change(json.loads(sealed)), PASSPHRASE)


def test_refusals_when_sealing() -> None:
    private_key, _ = generate(NAME)
    with pytest.raises(KeyFileError, match="passphrase must not be empty"):
        seal(private_key, "", name=NAME, n=CHEAP)
    with pytest.raises(KeyFileError, match="scrypt costs"):
        seal(private_key, PASSPHRASE, name=NAME, n=2**10)
    with pytest.raises(KeyFileError, match="key name"):
        seal(private_key, PASSPHRASE, name="has space", n=CHEAP)
    with pytest.raises(KeyFileError, match="key name"):
        generate("a+b")
