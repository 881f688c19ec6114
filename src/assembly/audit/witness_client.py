"""The witness a member NMO runs against the assembly's server: it keeps the last checkpoint it
saw, accepts a newer one only with a valid consistency proof, and sends back its C2SP
tlog-cosignature. A log that goes back or forks is refused, and the state is kept as proof."""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from assembly.audit import merkle, notes
from assembly.audit.keys import SigningKey

STATE_FORMAT = "assembly-witness-state/v1"
TIMEOUT_S = 15.0


class WitnessError(Exception):
    """A round could not be completed (the server is unreachable, answers something unusable,
    or the state file cannot be used): nothing was cosigned, the state is unchanged."""


class LogMisbehaved(WitnessError):
    """The log went back or forked: the checkpoint it shows contradicts one it signed before.
    The witness refuses it and keeps its state, which is the evidence."""


@dataclass(frozen=True)
class WitnessState:
    """What the witness remembers between rounds: the log it watches (pinned on first contact)
    and the last checkpoint it checked."""

    server: str
    assembly: int
    origin: str
    log_key: str
    size: int
    root: str  # base64, as in the checkpoint
    checkpoint: str  # the signed note as the server gave it
    cosigned: bool

    @property
    def root_hash(self) -> bytes:
        return base64.b64decode(self.root)


def load_state(path: Path) -> WitnessState | None:
    """The saved state, or None when the file does not exist yet (the first round)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WitnessError(f"cannot read the state file {path}: {exc.strerror}") from None
    try:
        document = json.loads(text)
        if document.pop("format") != STATE_FORMAT:
            raise ValueError(f"its format is not {STATE_FORMAT}")
        state = WitnessState(**document)
        checkpoint = notes.Checkpoint.parse(notes.parse_note(state.checkpoint)[0])
        if (checkpoint.size, checkpoint.root) != (state.size, state.root_hash):
            raise ValueError("its size and root are not those of its checkpoint")
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as exc:
        raise WitnessError(f"the state file {path} is damaged: {exc}") from None
    return state


def save_state(path: Path, state: WitnessState) -> None:
    """Write the state atomically: a crash leaves the old file or the new one, never half."""
    text = json.dumps({"format": STATE_FORMAT, **asdict(state)}, indent=1) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def connect(server: str) -> httpx.Client:
    """The HTTP client a witness uses for `server` (tests replace it with a test client)."""
    try:
        return httpx.Client(base_url=server, timeout=TIMEOUT_S, follow_redirects=False)
    except (httpx.InvalidURL, ValueError) as exc:
        raise WitnessError(f"the server address {server!r} cannot be used: {exc}") from None


def witness_round(
    client: httpx.Client,
    *,
    assembly_id: int,
    log_key: notes.Verifier,
    key: SigningKey,
    state_path: Path,
    now: Callable[[], float] = time.time,
) -> str:
    """One round: fetch the latest checkpoint, check it against the saved one, cosign it and
    send the cosignature. Returns what happened, in words; raises LogMisbehaved when the log
    contradicts itself and WitnessError when the round cannot be completed."""
    if key.key_type != notes.KeyType.cosignature_v1:
        raise WitnessError(
            f"{key.verifier_key} is not a witness key: make one with "
            "`assembly audit witness keygen`"
        )
    base = f"/api/assemblies/{assembly_id}/log"
    state = load_state(state_path)
    server = str(client.base_url)
    if state is not None:
        if state.assembly != assembly_id:
            raise WitnessError(
                f"the state file {state_path} watches assembly {state.assembly}, not "
                f"{assembly_id}: use one state file per log"
            )
        if state.log_key != str(log_key):
            raise WitnessError(
                f"the state file {state_path} was kept for the log key {state.log_key}, not "
                f"{log_key}; if the assembly really changed its key, start a new state file"
            )
    response = _send(client, "GET", f"{base}/checkpoint")
    if response.status_code == 404 and "no checkpoint yet" in response.text.lower():
        return "The log has no checkpoint yet: nothing to witness."
    answer = _json(response)
    try:
        note, served_origin = str(answer["checkpoint"]), str(answer["origin"])
    except (KeyError, TypeError):
        raise WitnessError("the server's checkpoint answer has no checkpoint") from None
    origin = served_origin if state is None else state.origin
    if served_origin != origin:
        raise WitnessError(
            f"the server now names the log {served_origin!r}; this witness watches {origin!r}"
        )
    try:
        checkpoint, _ = notes.open_checkpoint(note, log_key, origin)
    except notes.NoteError as exc:
        raise WitnessError(f"the server's checkpoint is refused: {exc}") from None
    body = checkpoint.body()
    current = WitnessState(
        server=server,
        assembly=assembly_id,
        origin=origin,
        log_key=str(log_key),
        size=checkpoint.size,
        root=base64.b64encode(checkpoint.root).decode("ascii"),
        checkpoint=note,
        cosigned=False,
    )
    if state is not None:
        if checkpoint.size < state.size:
            raise LogMisbehaved(
                f"the log went back: the server shows a checkpoint of size {checkpoint.size}, "
                f"after one of size {state.size} that it signed before. Refused; the state "
                f"file {state_path} keeps the earlier checkpoint as evidence."
            )
        if checkpoint.size == state.size:
            if checkpoint.root != state.root_hash:
                raise LogMisbehaved(
                    f"the log forked: two checkpoints of size {checkpoint.size}, both signed by "
                    f"the log key, with different roots ({state.root} before, {current.root} "
                    f"now). Refused; the state file {state_path} keeps the earlier one."
                )
            if state.cosigned:
                return f"Nothing new: the checkpoint of size {checkpoint.size} is cosigned."
            current = state
        else:
            _check_consistency(client, base, state, checkpoint)
    # Saved before sending: the checkpoint is checked, whether or not the server takes the
    # cosignature, and the next round compares with it.
    save_state(state_path, current)
    line = notes.cosign(body, key.name, key.private_key, int(now()))
    _json(
        _send(
            client,
            "POST",
            f"{base}/cosignatures",
            json={"size": checkpoint.size, "cosignature": line},
        )
    )
    save_state(state_path, WitnessState(**{**asdict(current), "cosigned": True}))
    since = "" if state is None or state.size == checkpoint.size else f" (was {state.size})"
    return (
        f"Cosigned the checkpoint of size {checkpoint.size}{since}, root "
        f"{notes.short_root(checkpoint.root)}."
    )


def _check_consistency(
    client: httpx.Client, base: str, state: WitnessState, checkpoint: notes.Checkpoint
) -> None:
    answer = _json(
        _send(
            client,
            "GET",
            f"{base}/proof/consistency",
            params={"from": state.size, "to": checkpoint.size},
        )
    )
    try:
        proof = [base64.b64decode(h, validate=True) for h in answer["proof"]]
        if answer["size"] != checkpoint.size:
            raise ValueError(f"it is a proof to size {answer['size']}")
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise WitnessError(f"the server's consistency proof cannot be read: {exc}") from None
    try:
        merkle.verify_consistency(
            state.size, checkpoint.size, state.root_hash, checkpoint.root, proof
        )
    except merkle.ProofError as exc:
        raise LogMisbehaved(
            f"the log was rewritten: the checkpoint of size {checkpoint.size} does not extend "
            f"the one of size {state.size} seen before ({exc}). Refused; the state file keeps "
            "the earlier one."
        ) from None


def _send(client: httpx.Client, method: str, path: str, **options: Any) -> httpx.Response:
    try:
        return client.request(method, path, **options)
    except httpx.HTTPError as exc:
        raise WitnessError(f"cannot reach {client.base_url}: {exc}") from None


def _json(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; a refusal becomes a WitnessError with the server's message."""
    what = f"{response.request.method} {response.request.url.path}"
    try:
        document = response.json()
    except ValueError:
        document = None
    if not response.is_success:
        message = document.get("message") if isinstance(document, dict) else None
        raise WitnessError(
            f"the server refused {what} ({response.status_code}): {message or response.text[:200]}"
        )
    if not isinstance(document, dict):
        raise WitnessError(f"the server's answer to {what} is not a JSON object")
    return document
