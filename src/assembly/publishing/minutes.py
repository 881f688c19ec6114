"""The minutes of an assembly as a PDF, made from the same record and the same partials as the
public pages: a print layout (templates/record/minutes.html) converted by xhtml2pdf, which is
pure Python on reportlab and needs no system library. The fonts ship in static/fonts, so every
name renders on any machine."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment

from assembly.publishing.record import ItemRecord, PublicRecord, SessionRecord, VoteRecord

FONTS_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"

# reportlab keeps its fonts in one registry per process: one conversion at a time.
_CONVERTING = threading.Lock()


class MinutesError(RuntimeError):
    """The conversion to PDF failed (a template the converter cannot lay out)."""


@dataclass(slots=True)
class ItemMinutes:
    item: ItemRecord
    votes: list[VoteRecord]


@dataclass(slots=True)
class SessionMinutes:
    """A plenary session as the minutes tell it: its agenda items in order with their
    decisions, then the decisions taken during it on no agenda item."""

    session: SessionRecord
    items: list[ItemMinutes] = field(default_factory=list)
    other_votes: list[VoteRecord] = field(default_factory=list)


@dataclass(slots=True)
class MinutesOutline:
    sessions: list[SessionMinutes]
    items: list[ItemMinutes]  # agenda items on no plenary session
    other_votes: list[VoteRecord]  # decisions on no item and outside every session

    @property
    def decisions(self) -> int:
        placed = sum(len(i.votes) for s in self.sessions for i in s.items)
        other = sum(len(s.other_votes) for s in self.sessions)
        return placed + other + sum(len(i.votes) for i in self.items) + len(self.other_votes)


def outline(record: PublicRecord) -> MinutesOutline:
    """Sort the record into sessions, agenda items and decisions, in the order they happened."""
    by_id = {v.id: v for v in record.votes}
    sessions = {s.id: SessionMinutes(s) for s in record.sessions}
    loose_items = []
    for item in sorted(record.agenda, key=lambda i: i.position):
        minutes = ItemMinutes(item, [by_id[v] for v in item.votes if v in by_id])
        if item.session_id in sessions:
            sessions[item.session_id].items.append(minutes)
        else:
            loose_items.append(minutes)
    loose_votes = []
    for vote in record.unplaced_votes():
        sitting = next(
            (
                s
                for s in record.sessions
                if vote.closed_at is not None and s.starts_at <= vote.closed_at <= s.ends_at
            ),
            None,
        )
        if sitting is not None:
            sessions[sitting.id].other_votes.append(vote)
        else:
            loose_votes.append(vote)
    return MinutesOutline(list(sessions.values()), loose_items, loose_votes)


def minutes_html(record: PublicRecord, jinja: Environment, *, link_base: str = "") -> str:
    """The minutes as the HTML the PDF is made from. `link_base` is the site's address, put
    before the links to each vote's proof."""
    return jinja.get_template("record/minutes.html").render(
        record=record,
        minutes=outline(record),
        adopted={d.id: d for d in record.documents},
        fonts_dir=FONTS_DIR.as_posix(),
        link_base=link_base,
    )


def _only_our_fonts(uri: str, rel: str) -> str:
    """The converter loads nothing but the bundled fonts: no file or address a template
    names (a link, an image) is ever fetched."""
    path = Path(uri).resolve()
    return str(path) if path.parent == FONTS_DIR and path.is_file() else ""


def minutes_pdf(record: PublicRecord, jinja: Environment, *, link_base: str = "") -> bytes:
    """The minutes as a PDF (A4), with a table of contents and bookmarks."""
    from xhtml2pdf import pisa

    html = minutes_html(record, jinja, link_base=link_base)
    out = io.BytesIO()
    with _CONVERTING:
        status = pisa.CreatePDF(
            html,
            dest=out,
            encoding="utf-8",
            # The document's folder is the fonts': the only folder it may read from.
            path=str(FONTS_DIR / "minutes.html"),
            link_callback=_only_our_fonts,
        )
    if status.err:
        raise MinutesError(f"The minutes could not be made into a PDF ({status.err} errors).")
    return out.getvalue()
