"""JSON API of the audit log: the latest signed checkpoint and the verifier key (public), the
entries and the RFC 9162 inclusion and consistency proofs (logged-in members and staff)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Router, get
from litestar.datastructures import State
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.audit import log, notes
from assembly.credentials import service as credentials
from assembly.credentials.auth import ALL_ROLES, LOGGED_IN, Principal, role_guard, roles
from assembly.credentials.routes import ensure_assembly_access
from assembly.errors import NotFound

Req = Request[Principal, Any, Any]
MAX_ENTRIES = 1000


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class CheckpointOut(msgspec.Struct, kw_only=True):
    origin: str
    size: int
    root: str
    short_root: str
    # The C2SP signed note: the checkpoint body, a blank line and the server's signature.
    checkpoint: str
    verifier_key: str
    created_at: dt.datetime


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
            raise NotFound("No checkpoint yet: one is signed when the first vote closes.")
        body, _ = notes.parse_note(latest.note)
        parsed = notes.Checkpoint.parse(body)
        return CheckpointOut(
            origin=parsed.origin,
            size=latest.size,
            root=b64(latest.root),
            short_root=notes.short_root(latest.root),
            checkpoint=latest.note,
            verifier_key=state.ctx.audit_key.verifier_key,
            created_at=latest.created_at,
        )

    @get("/entries", opt=roles(LOGGED_IN), operation_id="listLogEntries")
    async def entries(
        self,
        db: AsyncSession,
        request: Req,
        assembly_id: int,
        start: Annotated[int, Parameter(query="start", ge=0)] = 0,
        end: Annotated[int | None, Parameter(query="end", ge=1)] = None,
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
        index: Annotated[int, Parameter(query="index", ge=0)],
        size: Annotated[int | None, Parameter(query="size", ge=1)] = None,
    ) -> ProofOut:
        """The proof that entry `index` is in the tree of `size` entries (default: all)."""
        ensure_assembly_access(request.user, assembly_id)
        await credentials.get_assembly(db, assembly_id)
        tree_size, proof = await log.inclusion_proof(db, assembly_id, index, size)
        return ProofOut(size=tree_size, index=index, proof=[b64(h) for h in proof])

    @get("/proof/consistency", opt=roles(LOGGED_IN), operation_id="getConsistencyProof")
    async def consistency(
        self,
        db: AsyncSession,
        request: Req,
        assembly_id: int,
        old_size: Annotated[int, Parameter(query="from", ge=1)],
        size: Annotated[int | None, Parameter(query="to", ge=1)] = None,
    ) -> ProofOut:
        """The proof that the tree of `to` entries extends the tree of `from` entries."""
        ensure_assembly_access(request.user, assembly_id)
        await credentials.get_assembly(db, assembly_id)
        tree_size, proof = await log.consistency_proof(db, assembly_id, old_size, size)
        return ProofOut(size=tree_size, old_size=old_size, proof=[b64(h) for h in proof])


def audit_api_routes() -> list[Router]:
    return [Router(path="/", guards=[role_guard], route_handlers=[AuditLogController])]
