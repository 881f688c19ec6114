"""The signed record bundle: one zip with the public exports, the whole audit log and the signed
checkpoint that covers a `record_published` entry listing every export's SHA-256. The
secretariat makes one when the record is complete; wherever the zip is copied,
`assembly audit verify BUNDLE.zip --key KEY` proves every file in it is the one signed."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.audit import log as audit_log
from assembly.audit.export import document_text, log_document
from assembly.audit.keys import SigningKey
from assembly.audit.verify_bundle import (
    CHECKPOINT_FILE,
    LOG_FILE,
    README_FILE,
    RECORD_PUBLISHED,
)
from assembly.credentials.service import get_assembly
from assembly.db import utcnow
from assembly.errors import Conflict, NotFound
from assembly.i18n import t
from assembly.publishing import exports
from assembly.publishing.models import RecordBundle
from assembly.publishing.record import PublicRecord, build_record
from assembly.publishing.service import is_published
from assembly.voting.models import Vote


@dataclass(frozen=True, slots=True)
class MadeBundle:
    """A bundle just made: the stored zip, its audit-log entry and the checkpoint signing it."""

    bundle: RecordBundle
    entry: int
    checkpoint_size: int
    files: dict[str, str]  # path -> SHA-256 hex, as the entry lists them


async def ensure_no_result_held(db: AsyncSession, assembly_id: int, now: dt.datetime) -> None:
    """The bundle carries the whole audit log, which holds every closed vote's ballots and
    result: a bundle made while a result is held would make it public."""
    held = [
        vote
        for vote in (
            await db.execute(
                select(Vote)
                .where(Vote.assembly_id == assembly_id, Vote.state == "closed")
                .order_by(Vote.id)
            )
        ).scalars()
        if not is_published(vote.published_at, now)
    ]
    if held:
        when = {
            v.id: (
                f"public from {exports.utc_text(v.published_at)}"
                if v.published_at is not None
                else "held"
            )
            for v in held
        }
        raise Conflict(
            t(
                "The bundle holds the whole audit log, with every closed vote's ballots and "
                "result; these results are not public yet: {held}. Publish them, or make the "
                "bundle once they are public.",
                held="; ".join(f"vote {v.id} ({v.question}) is {when[v.id]}" for v in held),
            )
        )


def readme(record: PublicRecord, entry: int, checkpoint_size: int, verifier_key: str) -> str:
    made = exports.utc_text(record.generated_at)
    texts = "  documents/       the texts in force, as Markdown\n" if record.documents else ""
    return f"""Signed record of {record.name}{f", {record.place}" if record.place else ""}
Made {made} (UTC).

What is in this archive
  record.json      everything published, structured (format {exports.RECORD_FORMAT})
  votes.csv        one row per vote: question, rule, outcome, explanation, totals
  roll-calls.csv   one row per NMO per named vote: its weight and choice, or "did not vote"
  trackers.csv     secret votes: one row per ballot, by tracker (never an NMO)
  attendance.csv   one row per NMO per published plenary session
{texts}  {LOG_FILE}   the assembly's whole audit log (as `assembly audit export` writes it)
  {CHECKPOINT_FILE}   the signed checkpoint of the log's first {checkpoint_size} entries; entry
                   {entry} ({RECORD_PUBLISHED}) lists the SHA-256 of every file above

How to verify
  Take the assembly's verifier key from a source you trust (the federation's website, the
  convocation letter), not from this archive, and run

      assembly audit verify THIS-FILE.zip --key 'VERIFIER KEY'

  It checks the signatures and roots of the log, re-tallies every vote from its ballots, and
  checks that each exported file is exactly the one entry {entry} lists. Exit status 0 means
  everything holds; each failure names the file or the entry.

  This bundle was signed with: {verifier_key}
"""


def zip_bundle(files: dict[str, bytes], stamp: dt.datetime) -> bytes:
    """The zip, with every file dated `stamp`: the same content makes the same archive."""
    moment = stamp.astimezone(dt.UTC)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


async def make_bundle(
    db: AsyncSession,
    assembly_id: int,
    key: SigningKey,
    public_url: str,
    *,
    now: dt.datetime | None = None,
) -> MadeBundle:
    """Render the public record's exports, log their SHA-256 in one `record_published` entry,
    sign a checkpoint covering it, and store the zip of exports, log and checkpoint. In the
    caller's transaction: the entry, the checkpoint and the stored zip commit together."""
    await get_assembly(db, assembly_id)
    now = now or utcnow()
    await ensure_no_result_held(db, assembly_id, now)
    record = await build_record(db, assembly_id, now=now, verifier_key=key.verifier_key)
    files = exports.export_files(record)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    entry = await audit_log.append(
        db,
        assembly_id,
        RECORD_PUBLISHED,
        {"files": digests, "generated_at": exports.utc_text(now)},
        at=now,
    )
    checkpoint = await audit_log.sign_checkpoint(db, key, public_url, assembly_id)
    assert checkpoint is not None and checkpoint.size > entry.seq
    document = await log_document(db, assembly_id, public_url, lambda: key.verifier_key)
    data = zip_bundle(
        {
            README_FILE: readme(record, entry.seq, checkpoint.size, key.verifier_key).encode(),
            **files,
            LOG_FILE: document_text(document).encode(),
            CHECKPOINT_FILE: checkpoint.note.encode(),
        },
        now,
    )
    bundle = RecordBundle(
        assembly_id=assembly_id,
        created_at=now,
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
    )
    db.add(bundle)
    await db.flush()
    return MadeBundle(bundle, entry.seq, checkpoint.size, digests)


async def latest_bundle(db: AsyncSession, assembly_id: int) -> RecordBundle:
    await get_assembly(db, assembly_id)
    query = (
        select(RecordBundle)
        .where(RecordBundle.assembly_id == assembly_id)
        .order_by(RecordBundle.created_at.desc(), RecordBundle.id.desc())
        .limit(1)
    )
    bundle = (await db.execute(query)).scalar_one_or_none()
    if bundle is None:
        raise NotFound(
            t(
                "No signed record bundle yet: the secretariat makes one when the record "
                "is complete (assembly publish bundle, or POST "
                "/api/assemblies/{assembly_id}/record/bundle).",
                assembly_id=assembly_id,
            )
        )
    return bundle


def bundle_filename(bundle: RecordBundle) -> str:
    return f"assembly-{bundle.assembly_id}-record-{bundle.created_at:%Y%m%d-%H%M%S}.zip"
