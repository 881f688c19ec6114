"""The public record as files, for anyone and without a login: the CSV and JSON exports and the
texts in force as Markdown under /record/{id}/export/ (the same paths as in the bundle), the
latest signed record bundle, and the secretariat's request to make a new one."""

from __future__ import annotations

import datetime as dt
import re

import msgspec
from litestar import Response, Router, get, post
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.audit import log
from assembly.credentials.auth import ALL_ROLES, SECRETARIAT, role_guard, roles
from assembly.errors import NotFound
from assembly.i18n import t
from assembly.publishing import bundle as bundles
from assembly.publishing import exports
from assembly.publishing.record import PublicRecord, build_record

PUBLIC = roles(ALL_ROLES)
CSV = "text/csv; charset=utf-8"
DOCUMENT_FILE = re.compile(r"(\d+)(?:-[a-z0-9-]*)?\.md")


async def public_record(db: AsyncSession, state: State, assembly_id: int) -> PublicRecord:
    """What is published, as everyone sees it (staff included: an export is the public one)."""
    stored_key = await log.verifier_key(db, assembly_id)
    return await build_record(
        db, assembly_id, verifier_key=stored_key or state.ctx.audit_key.verifier_key
    )


def file_response(
    data: str | bytes, media_type: str, filename: str, *, download: bool = True
) -> Response[bytes]:
    disposition = "attachment" if download else "inline"
    return Response(
        data.encode() if isinstance(data, str) else data,
        media_type=media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )


@get(
    "/record/{assembly_id:int}/export/votes.csv",
    opt=PUBLIC,
    include_in_schema=False,
    operation_id="exportVotes",
)
async def votes_csv(db: AsyncSession, state: State, assembly_id: int) -> Response[bytes]:
    """One row per published vote: question, rule, outcome, explanation and totals."""
    record = await public_record(db, state, assembly_id)
    return file_response(exports.votes_csv(record), CSV, f"assembly-{assembly_id}-votes.csv")


@get(
    "/record/{assembly_id:int}/export/roll-calls.csv",
    opt=PUBLIC,
    include_in_schema=False,
    operation_id="exportRollCalls",
)
async def roll_calls_csv(db: AsyncSession, state: State, assembly_id: int) -> Response[bytes]:
    """One row per NMO of the electorate per published named vote, with its choice."""
    record = await public_record(db, state, assembly_id)
    return file_response(
        exports.roll_calls_csv(record), CSV, f"assembly-{assembly_id}-roll-calls.csv"
    )


@get(
    "/record/{assembly_id:int}/export/trackers.csv",
    opt=PUBLIC,
    include_in_schema=False,
    operation_id="exportTrackers",
)
async def trackers_csv(db: AsyncSession, state: State, assembly_id: int) -> Response[bytes]:
    """One row per ballot of each published secret vote, by tracker (never an NMO)."""
    record = await public_record(db, state, assembly_id)
    return file_response(exports.trackers_csv(record), CSV, f"assembly-{assembly_id}-trackers.csv")


@get(
    "/record/{assembly_id:int}/export/attendance.csv",
    opt=PUBLIC,
    include_in_schema=False,
    operation_id="exportAttendance",
)
async def attendance_csv(db: AsyncSession, state: State, assembly_id: int) -> Response[bytes]:
    """One row per NMO per published plenary session: present or not, and how many delegates."""
    record = await public_record(db, state, assembly_id)
    return file_response(
        exports.attendance_csv(record), CSV, f"assembly-{assembly_id}-attendance.csv"
    )


@get(
    "/record/{assembly_id:int}/export/record.json",
    opt=PUBLIC,
    include_in_schema=False,
    operation_id="exportRecord",
)
async def record_json(db: AsyncSession, state: State, assembly_id: int) -> Response[bytes]:
    """Everything published, structured: votes, results, roll calls, trackers, attendance,
    agenda, texts in force and the latest checkpoint."""
    record = await public_record(db, state, assembly_id)
    return file_response(
        exports.record_json(record),
        "application/json",
        f"assembly-{assembly_id}-record.json",
        download=False,
    )


@get(
    "/record/{assembly_id:int}/export/documents/{filename:str}",
    opt=PUBLIC,
    include_in_schema=False,
    operation_id="exportDocument",
)
async def document_md(
    db: AsyncSession, state: State, assembly_id: int, filename: str
) -> Response[bytes]:
    """A text in force as Markdown: `{document id}.md`, or the bundle's `{id}-{title}.md`."""
    match = DOCUMENT_FILE.fullmatch(filename)
    if match is None:
        raise NotFound(
            t("There is no text {filename!r}: texts are named like 12.md.", filename=filename)
        )
    record = await public_record(db, state, assembly_id)
    document = record.document(int(match[1]))
    name = exports.document_path(document).removeprefix("documents/")
    return file_response(
        exports.document_markdown(document), "text/markdown; charset=utf-8", name, download=False
    )


@get(
    "/record/{assembly_id:int}/bundle.zip",
    opt=PUBLIC,
    include_in_schema=False,
    operation_id="getRecordBundle",
)
async def bundle_zip(db: AsyncSession, assembly_id: int) -> Response[bytes]:
    """The latest signed record bundle: exports, audit log and checkpoint in one zip."""
    latest = await bundles.latest_bundle(db, assembly_id)
    response = file_response(latest.data, "application/zip", bundles.bundle_filename(latest))
    response.headers["ETag"] = f'"{latest.sha256}"'
    return response


class BundleOut(msgspec.Struct, kw_only=True):
    id: int
    assembly_id: int
    created_at: dt.datetime
    sha256: str  # of the zip
    size: int  # bytes
    url: str
    entry: int  # the record_published entry of the audit log listing the files
    checkpoint_size: int  # the signed checkpoint in the zip covers entries 0..size-1
    files: dict[str, str]  # path in the zip -> SHA-256, as the entry lists them


@post(
    "/api/assemblies/{assembly_id:int}/record/bundle",
    opt=roles(SECRETARIAT),
    operation_id="makeRecordBundle",
    status_code=201,
)
async def make_bundle(db: AsyncSession, state: State, assembly_id: int) -> BundleOut:
    """Sign the public record as it is now into a new bundle, served at /record/{id}/bundle.zip."""
    made = await bundles.make_bundle(
        db, assembly_id, state.ctx.audit_key, state.ctx.settings.public_url
    )
    await db.commit()
    return BundleOut(
        id=made.bundle.id,
        assembly_id=assembly_id,
        created_at=made.bundle.created_at,
        sha256=made.bundle.sha256,
        size=len(made.bundle.data),
        url=f"/record/{assembly_id}/bundle.zip",
        entry=made.entry,
        checkpoint_size=made.checkpoint_size,
        files=made.files,
    )


def export_routes() -> list[Router]:
    return [
        Router(
            path="/",
            guards=[role_guard],
            route_handlers=[
                votes_csv,
                roll_calls_csv,
                trackers_csv,
                attendance_csv,
                record_json,
                document_md,
                bundle_zip,
                make_bundle,
            ],
        )
    ]
