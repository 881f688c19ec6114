"""Witnesses of an assembly's log: the secretariat registers their cosignature/v1 keys, each
witness sends its C2SP tlog-cosignature of a checkpoint it checked, and the server publishes
the checkpoint with every cosignature appended (one signed note, several signatures)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.audit import notes
from assembly.audit.models import AuditCheckpoint, AuditCosignature, AuditWitness
from assembly.credentials.models import Assembly, Nmo
from assembly.credentials.service import actor_name, check_length
from assembly.errors import Conflict, Forbidden, Invalid, NotFound
from assembly.i18n import t

NAME_LENGTH = 200
MAX_WITNESSES = notes.MAX_SIGNATURES - 1
"""The log's own signature and one per witness must fit in one note that verifiers accept."""


def witness_verifier(text: str) -> notes.Verifier:
    """A witness's verifier key, read and checked: it must be a cosignature/v1 key (0x04)."""
    try:
        verifier = notes.parse_verifier_key(text.strip())
    except notes.NoteError as exc:
        raise Invalid(t("The witness's verifier key cannot be read: {exc}.", exc=exc)) from None
    if verifier.key_type != notes.KeyType.cosignature_v1:
        raise Invalid(
            t(
                "The key {verifier} is a signing key of type 0x{key_type:02x}; a witness "
                "needs a cosignature/v1 key (type 0x04), as `assembly audit witness "
                "keygen` makes.",
                verifier=verifier,
                key_type=verifier.key_type,
            )
        )
    return verifier


async def register(
    db: AsyncSession,
    assembly: Assembly,
    actor: str,
    *,
    name: str,
    verifier_key: str,
    nmo_code: str | None = None,
) -> AuditWitness:
    """Register a witness of the assembly's log: only registered witnesses' cosignatures are
    accepted and published."""
    name = check_length("name", name.strip(), NAME_LENGTH)
    verifier = witness_verifier(verifier_key)
    name = name or verifier.name
    nmo_id = None
    if nmo_code:
        nmo_id = await db.scalar(
            select(Nmo.id).where(Nmo.assembly_id == assembly.id, Nmo.code == nmo_code.strip())
        )
        if nmo_id is None:
            raise Invalid(t("There is no NMO {code!r} in this assembly.", code=nmo_code.strip()))
    registered = await witnesses(db, assembly.id)
    if any(w.name == name for w in registered):
        raise Conflict(
            t("There is already a witness named {name!r} for this assembly's log.", name=name)
        )
    for other in registered:
        if _same_key(notes.parse_verifier_key(other.verifier_key), verifier):
            raise Conflict(
                t(
                    "The witness {name!r} already has the key {verifier}.",
                    name=other.name,
                    verifier=verifier,
                )
            )
    if len(registered) >= MAX_WITNESSES:
        raise Conflict(
            t("A log can have at most {max_witnesses} witnesses.", max_witnesses=MAX_WITNESSES)
        )
    witness = AuditWitness(
        assembly_id=assembly.id,
        name=name,
        verifier_key=str(verifier),
        nmo_id=nmo_id,
        added_by=actor_name(actor),
    )
    db.add(witness)
    try:
        await db.flush()
    except IntegrityError:
        # Registered by another request meanwhile; the unique (assembly, name) decides.
        raise Conflict(
            t("There is already a witness named {name!r} for this assembly's log.", name=name)
        ) from None
    return witness


async def witnesses(db: AsyncSession, assembly_id: int) -> list[AuditWitness]:
    query = (
        select(AuditWitness)
        .where(AuditWitness.assembly_id == assembly_id)
        .order_by(AuditWitness.name)
    )
    return list((await db.execute(query)).scalars())


async def listed(db: AsyncSession, assembly_id: int) -> list[tuple[AuditWitness, str | None]]:
    """The assembly's witnesses with the code of the NMO running each (if one was named)."""
    query = (
        select(AuditWitness, Nmo.code)
        .outerjoin(Nmo, Nmo.id == AuditWitness.nmo_id)
        .where(AuditWitness.assembly_id == assembly_id)
        .order_by(AuditWitness.name)
    )
    return [(w, code) for w, code in (await db.execute(query)).all()]


async def accept(
    db: AsyncSession, assembly_id: int, size: int, line: str
) -> tuple[AuditCosignature, bool]:
    """Check and store a witness's cosignature line on the checkpoint of `size`; returns it and
    whether it is new. A witness sending the same size again gets its stored cosignature."""
    checkpoint = await db.scalar(
        select(AuditCheckpoint).where(
            AuditCheckpoint.assembly_id == assembly_id, AuditCheckpoint.size == size
        )
    )
    if checkpoint is None:
        raise NotFound(
            t("There is no signed checkpoint of size {size} in this assembly's log.", size=size)
        )
    body, _ = notes.parse_note(checkpoint.note)
    line = line if line.endswith("\n") else f"{line}\n"
    try:
        _, [signature] = notes.parse_note(f"{body}\n{line}")
    except (notes.NoteError, ValueError):
        signature = None
    if signature is None or signature.line() != line:
        raise Invalid(
            t(
                "The cosignature must be one signature line: an em dash, a space, the "
                "witness's key name, a space and the base64 key ID and signature."
            )
        )
    witness, verifier = await _witness_of(db, assembly_id, signature)
    try:
        timestamp = notes.verify_cosignature(body, line, verifier)
    except notes.NoteError as exc:
        raise Invalid(t("The cosignature is refused: {exc}.", exc=exc)) from None
    stored = await db.scalar(
        select(AuditCosignature).where(
            AuditCosignature.witness_id == witness.id, AuditCosignature.size == size
        )
    )
    if stored is not None:
        return stored, False
    cosignature = AuditCosignature(
        assembly_id=assembly_id, witness_id=witness.id, size=size, line=line, timestamp=timestamp
    )
    db.add(cosignature)
    try:
        await db.flush()
    except IntegrityError:
        raise Conflict(
            t(
                "The witness {name!r} sent its cosignature of size {size} twice at once; "
                "send it again to get the stored one.",
                name=witness.name,
                size=size,
            )
        ) from None
    return cosignature, True


async def cosignatures(
    db: AsyncSession, assembly_id: int, size: int | None = None
) -> list[tuple[AuditCosignature, AuditWitness]]:
    """The published cosignatures (of the checkpoint of `size`, or of all), with their
    witnesses, by size and then witness name."""
    query = (
        select(AuditCosignature, AuditWitness)
        .join(AuditWitness, AuditWitness.id == AuditCosignature.witness_id)
        .where(AuditCosignature.assembly_id == assembly_id)
        .order_by(AuditCosignature.size, AuditWitness.name)
    )
    if size is not None:
        query = query.where(AuditCosignature.size == size)
    return [(c, w) for c, w in (await db.execute(query)).all()]


def cosigned_note(note: str, lines: list[str]) -> str:
    """The signed checkpoint with the witnesses' cosignature lines appended: still one C2SP
    signed note, which a verifier opens with the log's key and the witnesses it knows."""
    return note + "".join(line if line.endswith("\n") else f"{line}\n" for line in lines)


async def cosigned_checkpoint(db: AsyncSession, checkpoint: AuditCheckpoint) -> str:
    published = await cosignatures(db, checkpoint.assembly_id, checkpoint.size)
    return cosigned_note(checkpoint.note, [c.line for c, _ in published])


async def _witness_of(
    db: AsyncSession, assembly_id: int, signature: notes.NoteSignature
) -> tuple[AuditWitness, notes.Verifier]:
    for witness in await witnesses(db, assembly_id):
        verifier = notes.parse_verifier_key(witness.verifier_key)
        if (verifier.name, verifier.key_id) == (signature.name, signature.key_id):
            return witness, verifier
    raise Forbidden(
        t(
            "The key {name!r} (key ID {key_id}) is not a registered witness of this "
            "assembly's log: the secretariat registers a witness's verifier key "
            "before its cosignatures are accepted.",
            name=signature.name,
            key_id=signature.key_id.hex(),
        )
    )


def _same_key(a: notes.Verifier, b: notes.Verifier) -> bool:
    return (a.name, a.key_id) == (b.name, b.key_id) or a.public_key == b.public_key
