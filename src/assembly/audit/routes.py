"""JSON API of the audit log: the latest signed checkpoint with its witnesses' cosignatures, the
verifier key and the consistency proofs witnesses need (public), the entries and inclusion
proofs (logged-in members and staff), and the witnesses (registered by the secretariat)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.audit import log, notes, witness
from assembly.audit.models import AuditWitness
from assembly.audit.receipt_routes import ReceiptController
from assembly.credentials import service as credentials
from assembly.credentials.auth import (
    ALL_ROLES,
    LOGGED_IN,
    SECRETARIAT,
    Principal,
    role_guard,
    roles,
)
from assembly.credentials.routes import ensure_assembly_access
from assembly.errors import MAX_NUMBER, NotFound
from assembly.i18n import t
from assembly.security import CSRF_EXEMPT

Req = Request[Principal, Any, Any]
MAX_ENTRIES = 1000


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class CheckpointCosignature(msgspec.Struct, kw_only=True):
    witness: str
    verifier_key: str
    timestamp: int


class CheckpointOut(msgspec.Struct, kw_only=True):
    origin: str
    size: int
    root: str
    short_root: str
    # The C2SP signed note: the checkpoint body, a blank line and the server's signature.
    checkpoint: str
    verifier_key: str
    created_at: dt.datetime
    # The same note with every witness's cosignature line appended after the server's.
    cosigned: str
    cosignatures: list[CheckpointCosignature]


class WitnessIn(msgspec.Struct, kw_only=True):
    # The witness's cosignature/v1 verifier key, as `assembly audit witness keygen` prints it.
    verifier_key: Annotated[str, msgspec.Meta(max_length=1000)]
    name: str = ""
    nmo: str | None = None


class WitnessOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    verifier_key: str
    nmo: str | None
    created_at: dt.datetime


class CosignatureIn(msgspec.Struct, kw_only=True):
    size: Annotated[int, msgspec.Meta(ge=1, le=MAX_NUMBER)]
    # One C2SP tlog-cosignature line ("— <key name> <base64 key ID, timestamp, signature>").
    # Bounded: anyone may send one, and it is parsed before its key is known.
    cosignature: Annotated[str, msgspec.Meta(max_length=1000)]


class CosignatureOut(msgspec.Struct, kw_only=True):
    witness: str
    size: int
    timestamp: int
    line: str


class EntryOut(msgspec.Struct, kw_only=True):
    index: int
    kind: str
    # The exact canonical JSON that is hashed (SHA-256 of 0x00 || these bytes is the leaf).
    data: str
    leaf_hash: str


class ProofOut(msgspec.Struct, kw_only=True):
    size: int
    proof: list[str]
    index: int | None = None
    old_size: int | None = None


class AuditLogController(Controller):
    path = "/api/assemblies/{assembly_id:int}/log"
    tags = ["audit"]

    @get("/checkpoint", opt=roles(ALL_ROLES), operation_id="getCheckpoint")
    async def checkpoint(self, db: AsyncSession, state: State, assembly_id: int) -> CheckpointOut:
        """The latest signed checkpoint of the assembly's log, with the key that verifies it."""
        await credentials.get_assembly(db, assembly_id)
        latest = await log.latest_checkpoint(db, assembly_id)
        if latest is None:
            raise NotFound(t("No checkpoint yet: one is signed when the first vote closes."))
        body, _ = notes.parse_note(latest.note)
        parsed = notes.Checkpoint.parse(body)
        published = await witness.cosignatures(db, assembly_id, latest.size)
        return CheckpointOut(
            origin=parsed.origin,
            size=latest.size,
            root=b64(latest.root),
            short_root=notes.short_root(latest.root),
            checkpoint=latest.note,
            verifier_key=state.ctx.audit_key.verifier_key,
            created_at=latest.created_at,
            cosigned=witness.cosigned_note(latest.note, [c.line for c, _ in published]),
            cosignatures=[
                CheckpointCosignature(
                    witness=w.name, verifier_key=w.verifier_key, timestamp=c.timestamp
                )
                for c, w in published
            ],
        )

    @get("/entries", opt=roles(LOGGED_IN), operation_id="listLogEntries")
    async def entries(
        self,
        db: AsyncSession,
        request: Req,
        assembly_id: int,
        start: Annotated[int, Parameter(query="start", ge=0, le=MAX_NUMBER)] = 0,
        end: Annotated[int | None, Parameter(query="end", ge=1, le=MAX_NUMBER)] = None,
    ) -> list[EntryOut]:
        """Entries start..end-1 (at most 1000 at a time), as the exact bytes that are hashed."""
        ensure_assembly_access(request.user, assembly_id)
        await credentials.get_assembly(db, assembly_id)
        stop = start + MAX_ENTRIES if end is None else min(end, start + MAX_ENTRIES)
        return [
            EntryOut(index=e.seq, kind=e.kind, data=e.data.decode(), leaf_hash=b64(e.leaf_hash))
            for e in await log.entries(db, assembly_id, start, stop)
        ]

    @get("/proof/inclusion", opt=roles(LOGGED_IN), operation_id="getInclusionProof")
    async def inclusion(
        self,
        db: AsyncSession,
        request: Req,
        assembly_id: int,
        index: Annotated[int, Parameter(query="index", ge=0, le=MAX_NUMBER)],
        size: Annotated[int | None, Parameter(query="size", ge=1, le=MAX_NUMBER)] = None,
    ) -> ProofOut:
        """The proof that entry `index` is in the tree of `size` entries (default: all)."""
        ensure_assembly_access(request.user, assembly_id)
        await credentials.get_assembly(db, assembly_id)
        tree_size, proof = await log.inclusion_proof(db, assembly_id, index, size)
        return ProofOut(size=tree_size, index=index, proof=[b64(h) for h in proof])

    # Public: a witness checks it without logging in, and it is only hashes.
    @get("/proof/consistency", opt=roles(ALL_ROLES), operation_id="getConsistencyProof")
    async def consistency(
        self,
        db: AsyncSession,
        assembly_id: int,
        old_size: Annotated[int, Parameter(query="from", ge=1, le=MAX_NUMBER)],
        size: Annotated[int | None, Parameter(query="to", ge=1, le=MAX_NUMBER)] = None,
    ) -> ProofOut:
        """The proof that the tree of `to` entries extends the tree of `from` entries."""
        await credentials.get_assembly(db, assembly_id)
        tree_size, proof = await log.consistency_proof(db, assembly_id, old_size, size)
        return ProofOut(size=tree_size, old_size=old_size, proof=[b64(h) for h in proof])

    @get("/witnesses", opt=roles(ALL_ROLES), operation_id="listWitnesses")
    async def witnesses(self, db: AsyncSession, assembly_id: int) -> list[WitnessOut]:
        """The witnesses registered for the log, with the keys their cosignatures verify with."""
        await credentials.get_assembly(db, assembly_id)
        return [witness_out(w, code) for w, code in await witness.listed(db, assembly_id)]

    @post("/witnesses", opt=roles(SECRETARIAT), operation_id="registerWitness")
    async def register_witness(
        self, db: AsyncSession, request: Req, assembly_id: int, data: WitnessIn
    ) -> WitnessOut:
        """Register a witness by its cosignature/v1 verifier key (and the NMO that runs it)."""
        assembly = await credentials.get_assembly(db, assembly_id)
        added = await witness.register(
            db,
            assembly,
            request.user.actor,
            name=data.name,
            verifier_key=data.verifier_key,
            nmo_code=data.nmo,
        )
        await db.commit()
        return witness_out(added, data.nmo.strip() if added.nmo_id and data.nmo else None)

    # Public: the signature by a registered witness's key is what makes a cosignature count.
    # Witnesses post without a browser session, so there is no session to protect from CSRF.
    @post(
        "/cosignatures",
        opt={**roles(ALL_ROLES), CSRF_EXEMPT: True},
        operation_id="addCosignature",
        responses={
            200: ResponseSpec(
                CosignatureOut,
                generate_examples=False,
                description=t("The witness had sent this cosignature already: the stored one"),
            )
        },
    )
    async def cosign(
        self, db: AsyncSession, assembly_id: int, data: CosignatureIn
    ) -> Response[CosignatureOut]:
        """A witness's cosignature of the checkpoint of `size`: checked, stored and published
        (201); the same witness sending the same size again gets the stored one (200)."""
        await credentials.get_assembly(db, assembly_id)
        stored, new = await witness.accept(db, assembly_id, data.size, data.cosignature)
        out = CosignatureOut(
            witness=(await db.get_one(AuditWitness, stored.witness_id)).name,
            size=stored.size,
            timestamp=stored.timestamp,
            line=stored.line,
        )
        await db.commit()
        return Response(out, status_code=201 if new else 200)


def witness_out(w: AuditWitness, nmo_code: str | None) -> WitnessOut:
    return WitnessOut(
        id=w.id, name=w.name, verifier_key=w.verifier_key, nmo=nmo_code, created_at=w.created_at
    )


def audit_api_routes() -> list[Router]:
    return [
        Router(
            path="/",
            guards=[role_guard],
            route_handlers=[AuditLogController, ReceiptController],
        )
    ]
