"""The log's signing key file: an Ed25519 key encrypted under a passphrase with scrypt and
AES-256-GCM, in a small JSON file that records every parameter needed to open it.

Not the PEM encryption that `cryptography` offers by default, whose key derivation (PBKDF2 or
worse, depending on the format) is cheap to brute-force.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from assembly.audit.notes import KeyType, NoteError, Verifier, parse_verifier_key, verifier_key

FORMAT = "assembly-signing-key/v1"
SCRYPT_N = 2**17
"""scrypt cost: 128 MiB and about half a second per try, paid once when the server starts."""
SCRYPT_R = 8
SCRYPT_P = 1
MIN_SCRYPT_N = 2**15
# The largest costs a key file may ask for (scrypt takes 128 * n * r bytes: 1 GiB at most), so
# that a damaged file cannot make the server allocate without bound before decryption fails.
MAX_SCRYPT_N = 2**20
MAX_SCRYPT_R = 8
MAX_SCRYPT_P = 4
_SALT_SIZE = 16
_NONCE_SIZE = 12


class KeyFileError(Exception):
    """A key cannot be made, sealed or opened: a bad name, a wrong passphrase, an altered file."""


@dataclass(frozen=True)
class SigningKey:
    """A private key with the name it signs under: the log's (plain Ed25519 signatures) or a
    witness's (cosignature/v1)."""

    name: str
    private_key: Ed25519PrivateKey
    key_type: KeyType = KeyType.ed25519

    @property
    def verifier_key(self) -> str:
        return verifier_key(self.name, self.private_key.public_key(), self.key_type)


def generate(name: str, key_type: KeyType = KeyType.ed25519) -> tuple[Ed25519PrivateKey, str]:
    """A new Ed25519 key and its verifier key string "<name>+<key ID>+<base64 key>"."""
    private_key = Ed25519PrivateKey.generate()
    try:
        return private_key, verifier_key(name, private_key.public_key(), key_type)
    except NoteError as error:
        raise KeyFileError(str(error)) from None


def seal(
    private_key: Ed25519PrivateKey,
    passphrase: str,
    *,
    name: str,
    key_type: KeyType = KeyType.ed25519,
    n: int = SCRYPT_N,
    r: int = SCRYPT_R,
    p: int = SCRYPT_P,
) -> bytes:
    """The key file's bytes: the key encrypted under the passphrase, with its name and public
    verifier key in the clear (so they can be published without the passphrase). The verifier
    key's type byte says what the key signs: checkpoints (0x01) or cosignatures (0x04)."""
    if not passphrase:
        raise KeyFileError("the passphrase must not be empty")
    _check_costs(n, r, p)
    try:
        vkey = verifier_key(name, private_key.public_key(), key_type)
    except NoteError as error:
        raise KeyFileError(str(error)) from None
    salt = os.urandom(_SALT_SIZE)
    nonce = os.urandom(_NONCE_SIZE)
    header: dict[str, object] = {
        "format": FORMAT,
        "name": name,
        "verifier_key": vkey,
        "kdf": {"name": "scrypt", "n": n, "r": r, "p": p, "salt": _b64(salt)},
        "cipher": {"name": "aes-256-gcm", "nonce": _b64(nonce)},
    }
    key = _derive(passphrase, salt, n, r, p)
    ciphertext = AESGCM(key).encrypt(nonce, private_key.private_bytes_raw(), _associated(header))
    document = {**header, "ciphertext": _b64(ciphertext)}
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def unseal(data: bytes, passphrase: str) -> SigningKey:
    """Open a key file with its passphrase."""
    sealed = _read(data)
    key = _derive(passphrase, sealed.salt, sealed.n, sealed.r, sealed.p)
    try:
        raw = AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, _associated(sealed.header))
    except InvalidTag:
        raise KeyFileError(
            "cannot open the signing key: wrong passphrase, or the key file was altered"
        ) from None
    try:
        key_type = parse_verifier_key(sealed.verifier_key).key_type
    except NoteError as error:
        raise KeyFileError(f"the signing key file is damaged: {error}") from None
    signing_key = SigningKey(sealed.name, Ed25519PrivateKey.from_private_bytes(raw), key_type)
    # Authenticated above, but a mismatch would publish a verifier key that verifies nothing.
    if signing_key.verifier_key != sealed.verifier_key:
        raise KeyFileError("the key file's verifier key does not match its private key")
    return signing_key


def read_verifier_key(data: bytes) -> Verifier:
    """The public verifier key recorded in a key file, without the passphrase. Unauthenticated:
    trust it only once unseal() has succeeded, or after comparing it with the published key."""
    try:
        return parse_verifier_key(_read(data).verifier_key)
    except NoteError as error:
        raise KeyFileError(f"the signing key file is damaged: {error}") from None


@dataclass(frozen=True)
class _Sealed:
    header: dict[str, object]
    """Every field but the ciphertext, as read: the associated data of the encryption."""
    name: str
    verifier_key: str
    n: int
    r: int
    p: int
    salt: bytes
    nonce: bytes
    ciphertext: bytes


def _read(data: bytes) -> _Sealed:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise KeyFileError("not a signing key file: it is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise KeyFileError(f"not a signing key file: its format is not {FORMAT!r}")
    match document:
        case {
            "name": str(name),
            "verifier_key": str(vkey),
            "kdf": {"name": "scrypt", "n": int(n), "r": int(r), "p": int(p), "salt": str(salt)},
            "cipher": {"name": "aes-256-gcm", "nonce": str(nonce)},
            "ciphertext": str(ciphertext),
        } if len(document) == 6 and len(document["kdf"]) == 5 and len(document["cipher"]) == 2:
            pass
        case _:
            raise KeyFileError("the signing key file is damaged: its fields are not as written")
    _check_costs(n, r, p)
    raw_salt, raw_nonce = _unb64(salt, "salt"), _unb64(nonce, "nonce")
    if len(raw_salt) != _SALT_SIZE or len(raw_nonce) != _NONCE_SIZE:
        raise KeyFileError("the signing key file is damaged: its salt or nonce has a wrong size")
    header = {key: value for key, value in document.items() if key != "ciphertext"}
    return _Sealed(
        header, name, vkey, n, r, p, raw_salt, raw_nonce, _unb64(ciphertext, "ciphertext")
    )


def _associated(header: dict[str, object]) -> bytes:
    # Binds the name, the verifier key and every parameter to the ciphertext: changing any of
    # them in the file makes decryption fail instead of yielding a key under another name.
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # NFC: the same passphrase typed on another system may arrive in another normal form.
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(secret)


def _check_costs(n: int, r: int, p: int) -> None:
    if not (
        MIN_SCRYPT_N <= n <= MAX_SCRYPT_N
        and n & (n - 1) == 0
        and 1 <= r <= MAX_SCRYPT_R
        and 1 <= p <= MAX_SCRYPT_P
    ):
        raise KeyFileError(
            f"scrypt costs n={n}, r={r}, p={p} are not allowed: n must be a power of two "
            f"from {MIN_SCRYPT_N} to {MAX_SCRYPT_N}, r from 1 to {MAX_SCRYPT_R}, "
            f"p from 1 to {MAX_SCRYPT_P}"
        )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise KeyFileError(f"the signing key file is damaged: its {what} is not base64") from None
