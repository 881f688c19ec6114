"""The public record as files: CSV tables of votes, roll calls, secret-vote trackers and
attendance, one JSON file with everything, and each text in force as Markdown. Pure functions
of a PublicRecord, so the files show exactly what the public pages show; the signed record
bundle is made of the same files. A secret vote appears as its totals and its (tracker,
choice) list: no file pairs an NMO with a secret choice."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from assembly.agenda.amendments import Paragraph
from assembly.agenda.document_screens import KIND_NAMES, shown_paragraphs
from assembly.credentials.rules import format_weight
from assembly.publishing.record import DocumentRecord, PublicRecord, VoteRecord

RECORD_FORMAT = "assembly-record/v1"
DID_NOT_VOTE = "did not vote"
BLANK = "blank"  # a ballot that marks no option (an empty ranking in an election)

VOTES_HEADER = (
    "Vote",
    "Question",
    "Kind",
    "Rule",
    "Base",
    "Secret",
    "Round",
    "Closed at (UTC)",
    "Outcome",
    "Explanation",
    "Yes (weight)",
    "No (weight)",
    "Abstain (weight)",
    "Yes (ballots)",
    "No (ballots)",
    "Abstain (ballots)",
    "Elected",
)
ROLL_CALLS_HEADER = (
    "Vote",
    "Question",
    "NMO code",
    "NMO name",
    "Weight",
    "Via proxy",
    "Cast by",
    "Choice",
)
TRACKERS_HEADER = ("Vote", "Question", "Tracker", "Choice", "Weight")
ATTENDANCE_HEADER = (
    "Session",
    "Starts at (UTC)",
    "Ends at (UTC)",
    "NMO code",
    "NMO name",
    "Member class",
    "Present",
    "Delegates present",
)


def utc_text(moment: dt.datetime | None) -> str:
    """A moment as ISO 8601 in UTC to the second ("2026-05-16T09:30:00Z"); "" for none."""
    if moment is None:
        return ""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """RFC 4180 CSV (comma, double quotes, CRLF), with a header row; UTF-8 once encoded."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def choice_text(vote: VoteRecord, choice: Sequence[str] | None) -> str:
    """A ballot's marks as the options' labels, in the order marked (a ranking stays one)."""
    if choice is None:
        return DID_NOT_VOTE
    if not choice:
        return BLANK
    return "; ".join(vote.label(key) for key in choice)


def elected_text(vote: VoteRecord) -> str:
    return "; ".join(vote.label(key) for key in vote.result.get("elected") or [])


def votes_csv(record: PublicRecord) -> str:
    """One row per published vote: its question, rule, outcome and totals (motions)."""
    rows = []
    for vote in record.votes:
        totals = vote.result.get("totals") if vote.kind != "election" else None
        counts = vote.result.get("counts") if vote.kind != "election" else None
        totals, counts = totals or {}, counts or {}
        rows.append(
            (
                vote.id,
                vote.question,
                vote.kind,
                vote.rule,
                vote.base,
                _yes_no(vote.secret),
                vote.round_no,
                utc_text(vote.closed_at),
                vote.outcome,
                vote.explanation,
                totals.get("yes", ""),
                totals.get("no", ""),
                totals.get("abstain", ""),
                counts.get("yes", ""),
                counts.get("no", ""),
                counts.get("abstain", ""),
                elected_text(vote) if vote.kind == "election" else "",
            )
        )
    return _csv(VOTES_HEADER, rows)


def roll_calls_csv(record: PublicRecord) -> str:
    """One row per NMO of the electorate per named vote: its choice, or that it did not vote."""
    rows = [
        (
            vote.id,
            vote.question,
            row.nmo,
            row.nmo_name,
            format_weight(row.weight),
            _yes_no(row.via_proxy),
            row.cast_by,
            choice_text(vote, row.choice),
        )
        for vote in record.votes
        if not vote.secret
        for row in vote.roll_call
    ]
    return _csv(ROLL_CALLS_HEADER, rows)


def trackers_csv(record: PublicRecord) -> str:
    """One row per ballot of each secret vote, by tracker: the choice and weight, no NMO."""
    rows = [
        (
            vote.id,
            vote.question,
            row.tracker,
            choice_text(vote, row.choice),
            format_weight(row.weight),
        )
        for vote in record.votes
        if vote.secret
        for row in vote.trackers
    ]
    return _csv(TRACKERS_HEADER, rows)


def attendance_csv(record: PublicRecord) -> str:
    """One row per NMO per published plenary session."""
    rows = [
        (
            sitting.name,
            utc_text(sitting.starts_at),
            utc_text(sitting.ends_at),
            row.nmo,
            row.nmo_name,
            row.member_class,
            _yes_no(row.present),
            row.delegates,
        )
        for sitting in record.sessions
        if sitting.published
        for row in sitting.attendance
    ]
    return _csv(ATTENDANCE_HEADER, rows)


def slug(text: str) -> str:
    """A file name part from a title: lower-case ASCII words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(re.findall(r"[a-z0-9]+", ascii_text.lower()))[:60].strip("-") or "text"


def document_path(document: DocumentRecord) -> str:
    """Where a text in force is in the exports and in the bundle."""
    return f"documents/{document.id}-{slug(document.title)}.md"


def document_markdown(document: DocumentRecord) -> str:
    """The version in force as Markdown: the title, what it is, then every paragraph with the
    number the pages and the amendments give it; headings stay headings."""
    version = document.in_force
    kind = KIND_NAMES.get(document.kind, document.kind)
    if version is None:  # not in force: the record never lists such a text
        return f"# {document.title}\n\n{kind}, not in force.\n"
    until = f", valid until {document.valid_until.isoformat()}" if document.valid_until else ""
    lines = [
        f"# {document.title}",
        "",
        f"{kind}, version {version.number} (in force){until}.",
        "",
        f"Version {version.number} of {utc_text(version.created_at)}"
        + (f": {version.reason}." if version.reason else "."),
        "",
    ]
    shown = shown_paragraphs([Paragraph(pid, text) for pid, text in version.paragraphs])
    for paragraph in shown:
        if paragraph.tag:
            lines.append(f"{'#' * paragraph.tag} {paragraph.number}. {paragraph.text}")
        else:
            lines.append(f"**{paragraph.number}.** {paragraph.text}")
        lines.append("")
    return "\n".join(lines)


def _weight(value: Fraction) -> str:
    return str(value)  # exact: "3/2", as in the audit log


def _vote_json(vote: VoteRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": vote.id,
        "question": vote.question,
        "description": vote.description,
        "kind": vote.kind,
        "rule": vote.rule,
        "base": vote.base,
        "secret": vote.secret,
        "method": vote.method,
        "seats": vote.seats,
        "round": vote.round_no,
        "options": [{"key": key, "label": label} for key, label in vote.options],
        "opened_at": utc_text(vote.opened_at) or None,
        "closed_at": utc_text(vote.closed_at) or None,
        "published_at": utc_text(vote.published_at) or None,
        "agenda_item": vote.agenda_item_id,
        "subject": (
            {"kind": vote.subject[0], "id": vote.subject[1]} if vote.subject is not None else None
        ),
        "outcome": vote.outcome,
        "explanation": vote.explanation,
        "result": vote.result,  # as stored and logged: the one computed at the close
        "log_index": vote.log_index,
    }
    if vote.secret:
        out["trackers"] = [
            {"tracker": t.tracker, "choice": list(t.choice), "weight": _weight(t.weight)}
            for t in vote.trackers
        ]
    else:
        out["roll_call"] = [
            {
                "nmo": row.nmo,
                "name": row.nmo_name,
                "weight": _weight(row.weight),
                "via_proxy": row.via_proxy,
                "cast_by": row.cast_by,
                "choice": None if row.choice is None else list(row.choice),
            }
            for row in vote.roll_call
        ]
    return out


def record_document(record: PublicRecord) -> dict[str, Any]:
    """Everything published, structured: the votes with their results and roll calls (named)
    or trackers (secret), the sessions with attendance, the agenda, the texts in force and the
    latest signed checkpoint. Weights are exact strings ("3/2", or as the result was stored),
    times ISO 8601 UTC; a choice is the list of option keys marked, null for no ballot."""
    checkpoint = record.checkpoint
    return {
        "format": RECORD_FORMAT,
        "generated_at": utc_text(record.generated_at),
        "assembly": {
            "id": record.assembly_id,
            "name": record.name,
            "place": record.place,
            "starts_on": record.starts_on.isoformat() if record.starts_on else None,
            "ends_on": record.ends_on.isoformat() if record.ends_on else None,
        },
        "sessions": [
            {
                "id": s.id,
                "name": s.name,
                "starts_at": utc_text(s.starts_at),
                "ends_at": utc_text(s.ends_at),
                "published": s.published,
                "roll_call": s.roll_call,  # the attendance is its roll call's
                # null until the session's attendance is published
                "attendance": [
                    {
                        "nmo": row.nmo,
                        "name": row.nmo_name,
                        "member_class": row.member_class,
                        "present": row.present,
                        "delegates": row.delegates,
                        # "phone" or "desk" at a roll call; null: not answered, or no roll call
                        "marked": row.marked or None,
                    }
                    for row in s.attendance
                ]
                if s.published
                else None,
            }
            for s in record.sessions
        ],
        "agenda": [
            {
                "id": item.id,
                "position": item.position,
                "title": item.title,
                "kind": item.kind,
                "session": item.session_id,
                "document": item.document_id,
                "votes": item.votes,
            }
            for item in record.agenda
        ],
        "votes": [_vote_json(vote) for vote in record.votes],
        "documents": [
            {
                "id": d.id,
                "kind": d.kind,
                "title": d.title,
                "in_force_version": d.in_force_version,
                "valid_until": d.valid_until.isoformat() if d.valid_until else None,
                "published_at": utc_text(d.published_at) or None,
                "file": document_path(d),
                "versions": [
                    {
                        "number": v.number,
                        "reason": v.reason,
                        "created_at": utc_text(v.created_at),
                        "paragraphs": [{"id": pid, "text": text} for pid, text in v.paragraphs],
                    }
                    for v in d.versions
                ],
            }
            for d in record.documents
        ],
        # The latest signed checkpoint of the audit log when this file was made.
        "checkpoint": None
        if checkpoint is None
        else {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "short_root": checkpoint.short_root,
            "note": checkpoint.note,
            "verifier_key": checkpoint.verifier_key,
            "created_at": utc_text(checkpoint.created_at),
        },
    }


def record_json(record: PublicRecord) -> str:
    return json.dumps(record_document(record), ensure_ascii=False, indent=1) + "\n"


CSV_FILES = {
    "votes.csv": votes_csv,
    "roll-calls.csv": roll_calls_csv,
    "trackers.csv": trackers_csv,
    "attendance.csv": attendance_csv,
}


def export_files(record: PublicRecord) -> dict[str, bytes]:
    """Every export by its path, UTF-8 encoded: what the record bundle holds and signs."""
    files = {"record.json": record_json(record).encode()}
    files |= {name: render(record).encode() for name, render in CSV_FILES.items()}
    files |= {document_path(d): document_markdown(d).encode() for d in record.documents}
    return files
