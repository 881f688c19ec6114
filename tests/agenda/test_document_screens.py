"""The document screens: a version with numbered paragraphs, the comparison of two versions, and
the secretariat's import and editorial change."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from assembly.agenda import document_screens, documents
from assembly.agenda.amendments import Paragraph
from assembly.agenda.document_screens import heading_level, keep_ids, shown_paragraphs
from assembly.agenda.models import Document
from tests.conftest import ClientFactory, World, seed_world

HX = {"HX-Request": "true"}
TEXT = (
    "# Climate and Health\n\nThe federation supports <clean> air & water.\n\n## Aims\n\nWe act now."
)


def main_of(page: str) -> str:
    """The page's <main>, without the header (which holds the logout form)."""
    return page.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def paragraph_ids(page: str) -> list[str]:
    return re.findall(r'<li id="para-([^"]+)"', page)


async def import_document(
    client: AsyncTestClient[Litestar], world: World, text: str = TEXT, **form: str
) -> int:
    """Import through the secretariat's form (a plain post) and return the new document's id."""
    fields = {"title": "Climate and Health", "kind": "policy", "text": text, **form}
    response = await client.post(
        f"/secretariat/assemblies/{world.assembly_id}/documents",
        files={"file": ("", b"", "application/octet-stream")},
        data=fields,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    listing = await client.get(f"/secretariat/assemblies/{world.assembly_id}/documents")
    found = re.findall(
        r'href="/documents/(\d+)">' + re.escape(html.escape(fields["title"])), listing.text
    )
    assert found, listing.text
    return int(found[-1])


async def edit(
    client: AsyncTestClient[Litestar],
    document_id: int,
    text: str,
    reason: str = "typo",
    **extra: str,
) -> httpx.Response:
    return await client.post(
        f"/secretariat/documents/{document_id}/editorial",
        data={"text": text, "reason": reason, **extra},
        follow_redirects=False,
    )


async def document_count(app: Litestar) -> int:
    async with app.state.ctx.session_maker() as db:
        return int(await db.scalar(select(func.count()).select_from(Document)) or 0)


# --- plain functions ------------------------------------------------------------------------


def test_every_document_screen_declares_its_roles() -> None:
    for handler in document_screens.handlers():
        assert handler.opt.get("roles"), f"{handler} declares no roles"


def test_a_heading_loses_its_markers_and_the_biggest_becomes_h2() -> None:
    assert heading_level("## Aims") == (2, "Aims")
    assert heading_level("#hashtag is not a heading") == (0, "#hashtag is not a heading")
    shown = shown_paragraphs(
        [Paragraph("p1", "## Part"), Paragraph("p2", "Text"), Paragraph("p3", "### Sub")]
    )
    assert [(p.number, p.id, p.text, p.tag) for p in shown] == [
        (1, "p1", "Part", 2),
        (2, "p2", "Text", 0),
        (3, "p3", "Sub", 3),
    ]


def test_keep_ids_keeps_unchanged_and_reworded_paragraphs_and_numbers_new_ones() -> None:
    old = (
        Paragraph("p1", "One."),
        Paragraph("p2", "We support clean air."),
        Paragraph("p3", "Three."),
    )
    texts = ["One.", "We support clean air and water.", "Inserted.", "Three."]
    # p2 was reworded in place; the inserted paragraph gets an id never used (p7 was, once).
    assert keep_ids(old, texts, ["p1", "p7"]) == (
        Paragraph("p1", "One."),
        Paragraph("p2", "We support clean air and water."),
        Paragraph("p8", "Inserted."),
        Paragraph("p3", "Three."),
    )
    # Reworded one for one, however much: the paragraph keeps its place and its id.
    assert [p.id for p in keep_ids(old, ["One.", "Two.", "Three."], [])] == ["p1", "p2", "p3"]


def test_keep_ids_pairs_a_rewritten_run_by_likeness_and_drops_removed_ids() -> None:
    old = (
        Paragraph("p1", "Start."),
        Paragraph("p2", "The federation supports clean air for everyone."),
        Paragraph("p3", "End."),
    )
    texts = [
        "Start.",
        "Something else entirely.",
        "The federation supports clean air for all.",
        "End.",
    ]
    assert [p.id for p in keep_ids(old, texts, [])] == ["p1", "p4", "p2", "p3"]
    assert [p.id for p in keep_ids(old, ["Start.", "End."], [])] == ["p1", "p3"]


# --- reading a document ---------------------------------------------------------------------


async def test_the_document_page_numbers_and_escapes_paragraphs_and_shows_headings(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    document_id = await import_document(secretariat, world)
    phone = await make_client(token=world.token["AAA-head"])
    response = await phone.get(f"/documents/{document_id}")
    assert response.status_code == 200, response.text
    main = main_of(response.text)
    assert paragraph_ids(main) == ["p1", "p2", "p3", "p4"]
    for number in (1, 2, 3, 4):
        assert f'<span class="visually-hidden">Paragraph </span>{number}</span>' in main
    assert "The federation supports &lt;clean&gt; air &amp; water." in main
    assert "<clean>" not in main
    assert '<h2 class="para-text">Climate and Health</h2>' in main
    assert '<h3 class="para-text">Aims</h3>' in main
    assert "# Climate" not in main and "## Aims" not in main
    assert "Policy" in main and "Valid until" in main
    assert "Version 1" in main and "submitted" in main
    assert 'aria-current="page"' in main
    # Only the secretariat sees the editorial form.
    assert "/editorial" not in main
    assert "editorial-text" in (await secretariat.get(f"/documents/{document_id}")).text


async def test_every_version_is_listed_and_an_old_one_can_be_read(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    document_id = await import_document(secretariat, world, kind="bylaws")
    changed = TEXT.replace("We act now.", "We act today.")
    assert (await edit(secretariat, document_id, changed)).status_code == 303
    chair = await make_client(staff="chair")
    current = main_of((await chair.get(f"/documents/{document_id}")).text)
    assert "We act today." in current and "Valid until" not in current
    assert "editorial: typo" in current and "submitted" in current
    assert f'href="/documents/{document_id}?version=1"' in current
    assert f'href="/documents/{document_id}/diff?from=1&amp;to=2"' in current
    old = main_of((await chair.get(f"/documents/{document_id}?version=1")).text)
    assert "We act now." in old and "We act today." not in old
    assert "not the current text" in old
    for number in (7, 0):
        missing = await chair.get(f"/documents/{document_id}?version={number}")
        assert missing.status_code == 404
        assert f"Document {document_id} has no version {number}." in missing.text


async def test_members_read_only_their_own_assemblys_documents_and_the_public_logs_in(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    document_id = await import_document(secretariat, world)
    other = await seed_world(app, nmos=[("ZZZ", "full", 1)], staff=False)
    stranger = await make_client(token=other.token["ZZZ-head"])
    for path in (f"/documents/{document_id}", f"/documents/{document_id}/diff"):
        refused = await stranger.get(path)
        assert refused.status_code == 403, path
        assert "only see the assembly your delegation" in refused.text
        public = await make_client()
        redirected = await public.get(path, follow_redirects=False)
        assert redirected.status_code in (302, 303, 307)
        assert redirected.headers["location"] == f"/login?next={path}"
    desk = await make_client(staff="desk")
    assert (await desk.get(f"/documents/{document_id}")).status_code == 200
    assert (await secretariat.get("/documents/999999")).status_code == 404


# --- comparing versions ---------------------------------------------------------------------


async def two_versions(
    make_client: ClientFactory, world: World
) -> tuple[int, AsyncTestClient[Litestar]]:
    secretariat = await make_client(staff="secretariat")
    document_id = await import_document(secretariat, world)
    changed = (
        "# Climate and Health\n\n"
        "The federation strongly supports <clean> air & water.\n\n"
        "We act now.\n\n"
        "A new paragraph."
    )
    assert (await edit(secretariat, document_id, changed)).status_code == 303
    return document_id, secretariat


async def test_the_word_diff_marks_inserted_and_deleted_words_and_whole_paragraphs(
    make_client: ClientFactory, world: World
) -> None:
    document_id, _ = await two_versions(make_client, world)
    phone = await make_client(token=world.token["BBB-del"])
    response = await phone.get(f"/documents/{document_id}/diff?from=1&to=2")
    assert response.status_code == 200, response.text
    main = main_of(response.text)
    # Every paragraph of both versions, in the new order, the removed one at its old place.
    assert paragraph_ids(main) == ["p1", "p2", "p3", "p4", "p5"]
    assert "<ins>strongly </ins>" in main
    assert "<del>## Aims</del>" in main and "<ins>A new paragraph.</ins>" in main
    assert ">Added</span>" in main and ">Removed</span>" in main and ">Changed</span>" in main
    assert "&lt;clean&gt; air &amp; water." in main and "<clean>" not in main
    assert "1 changed" in main and "1 added" in main and "1 removed" in main
    assert "2 unchanged" in main
    # The defaults compare the current version with the one before it.
    default = main_of((await phone.get(f"/documents/{document_id}/diff")).text)
    assert "From version 1 to version 2" in default and "<ins>strongly </ins>" in default
    # The other way round, the deleted words are the ones version 2 added.
    backwards = main_of((await phone.get(f"/documents/{document_id}/diff?from=2&to=1")).text)
    assert "<del>strongly </del>" in backwards


async def test_the_side_view_shows_both_texts_and_the_form_picks_versions(
    make_client: ClientFactory, world: World
) -> None:
    document_id, secretariat = await two_versions(make_client, world)
    response = await secretariat.get(f"/documents/{document_id}/diff?from=1&to=2&view=side")
    assert response.status_code == 200, response.text
    main = main_of(response.text)
    old_side = re.findall(r'<div class="side side-old">(.*?)</div>', main, re.DOTALL)
    new_side = re.findall(r'<div class="side side-new">(.*?)</div>', main, re.DOTALL)
    both = re.findall(r'<div class="side side-both">(.*?)</div>', main, re.DOTALL)
    # Changed, removed and added paragraphs have two sides; unchanged ones are shown once.
    assert len(old_side) == len(new_side) == 3 and len(both) == 2
    assert "The federation supports" in old_side[0] and "<ins>" not in old_side[0]
    assert "The federation <ins>strongly </ins>supports" in new_side[0]
    assert "<del>" not in new_side[0]
    assert "Not in version 2" in new_side[1] and "<del>## Aims</del>" in old_side[1]
    assert "Not in version 1" in old_side[2] and "<ins>A new paragraph.</ins>" in new_side[2]
    assert "Same in versions 1 and 2" in both[0] and "# Climate and Health" in both[0]
    # The GET form: labelled selects for from, to and view, the chosen ones selected.
    for name, field_id in (("from", "cmp-from"), ("to", "cmp-to"), ("view", "cmp-view")):
        assert f'<label for="{field_id}">' in main and f'name="{name}"' in main
    assert '<option value="side" selected>' in main
    for query, number in (("from=1&to=9", 9), ("from=0&to=2", 0), ("to=0", 0)):
        bad = await secretariat.get(f"/documents/{document_id}/diff?{query}")
        assert bad.status_code == 404, query
        assert f"Document {document_id} has no version {number}." in bad.text
    wrong_view = await secretariat.get(f"/documents/{document_id}/diff?view=colour")
    assert wrong_view.status_code == 422 and "view must be one of" in wrong_view.text


# --- the secretariat: import and editorial change --------------------------------------------


async def test_the_secretariat_lists_documents_and_imports_a_pasted_text(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    home = await secretariat.get(f"/secretariat?assembly={world.assembly_id}")
    assert f'href="/secretariat/assemblies/{world.assembly_id}/documents"' in home.text
    url = f"/secretariat/assemblies/{world.assembly_id}/documents"
    empty = main_of((await secretariat.get(url)).text)
    assert "No document yet" in empty
    for kind in ("policy", "position_paper", "constitution", "bylaws"):
        assert f'<option value="{kind}"' in empty
    answer = await secretariat.post(
        url,
        files={"file": ("", b"", "application/octet-stream")},
        data={"title": "Tobacco <control>", "kind": "position_paper", "text": TEXT},
        headers=HX,
    )
    assert answer.status_code == 200, answer.text
    assert answer.text.lstrip().startswith('<section id="documents"')
    assert "Imported “Tobacco &lt;control&gt;” as version 1 (4 paragraphs)." in answer.text
    assert "Position paper" in answer.text
    document_id = int(re.findall(r'href="/documents/(\d+)"', answer.text)[0])
    async with app.state.ctx.session_maker() as db:
        document = await documents.get_document(db, document_id)
        assert document.current_version == 1 and document.kind == "position_paper"
        version = await documents.current_version(db, document)
        assert [p.id for p in documents.paragraphs_of(version)] == ["p1", "p2", "p3", "p4"]


async def test_the_secretariat_imports_a_markdown_file(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    url = f"/secretariat/assemblies/{world.assembly_id}/documents"
    response = await secretariat.post(
        url,
        files={"file": ("bylaws.md", "\ufeff# Bylaws\n\nArticle one.\n".encode(), "text/markdown")},
        data={"title": "Bylaws", "kind": "bylaws", "text": "ignored when a file is chosen"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == url
    async with app.state.ctx.session_maker() as db:
        [document] = await documents.documents_of(db, world.assembly_id)
        version = await documents.current_version(db, document)
        assert version.number == 1
        assert documents.paragraphs_of(version) == (
            Paragraph("p1", "# Bylaws"),
            Paragraph("p2", "Article one."),
        )


@pytest.mark.parametrize(
    ("form", "file", "message"),
    [
        ({"title": " ", "kind": "policy", "text": "x"}, None, "A document needs a title."),
        ({"title": "T", "kind": "party", "text": "x"}, None, "kind must be one of"),
        ({"title": "T", "kind": "policy", "text": " \n "}, None, "The document has no text"),
        (
            {"title": "T", "kind": "policy", "text": ""},
            ("list.csv", b"a,b"),
            "list.csv is not a text",
        ),
        ({"title": "T", "kind": "policy", "text": ""}, ("x.txt", b"\xff\xfe\x00"), "is not UTF-8"),
    ],
)
async def test_an_import_error_is_shown_in_the_form_and_nothing_is_stored(
    app: Litestar,
    make_client: ClientFactory,
    world: World,
    form: dict[str, str],
    file: tuple[str, bytes] | None,
    message: str,
) -> None:
    secretariat = await make_client(staff="secretariat")
    url = f"/secretariat/assemblies/{world.assembly_id}/documents"
    upload = (*file, "application/octet-stream") if file else ("", b"", "application/octet-stream")
    for headers in (HX, {}):
        response = await secretariat.post(url, files={"file": upload}, data=form, headers=headers)
        assert response.status_code == 422, response.text
        assert '<p class="notice error" role="alert">' in response.text
        assert html.escape(message, quote=False) in response.text
        # What was typed stays in the form, and the form stays open.
        assert f'value="{html.escape(form["title"])}"' in response.text
        assert '<details class="panel" open>' in response.text
    assert await document_count(app) == 0


async def test_an_editorial_change_keeps_ids_of_unchanged_paragraphs_and_numbers_new_ones(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    document_id, secretariat = await two_versions(make_client, world)
    page = main_of((await secretariat.get(f"/documents/{document_id}")).text)
    # The form shows the current text with blank lines between paragraphs, escaped.
    assert (
        "# Climate and Health\n\nThe federation strongly supports &lt;clean&gt; air &amp; water."
        "\n\nWe act now.\n\nA new paragraph.</textarea>"
    ) in page
    assert 'name="base_version" value="2"' in page
    text = (
        "# Climate and Health\n\n"
        "The federation strongly supports <clean> air & water.\n\n"
        "## Aims again\n\n"
        "We act now.\n\n"
        "A new paragraph.\n\n"
        "Closing words."
    )
    saved = await edit(secretariat, document_id, text, reason="headings", base_version="2")
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/documents/{document_id}?saved=3"
    shown = main_of((await secretariat.get(saved.headers["location"])).text)
    assert "Editorial change saved as version 3." in shown
    # p3 (## Aims) was removed in version 2, so its id is never given again.
    assert paragraph_ids(shown) == ["p1", "p2", "p6", "p4", "p5", "p7"]
    async with app.state.ctx.session_maker() as db:
        document = await documents.get_document(db, document_id)
        version = await documents.current_version(db, document)
        assert version.reason == "editorial: headings"
        assert version.paragraphs[1] == {
            "id": "p2",
            "text": "The federation strongly supports <clean> air & water.",
        }


async def test_an_editorial_change_is_refused_with_the_reason_and_the_typed_text_kept(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    document_id = await import_document(secretariat, world)
    no_reason = await edit(secretariat, document_id, TEXT + "\n\nMore <b>.", reason=" ")
    assert no_reason.status_code == 422
    assert "An editorial change needs a reason." in no_reason.text
    assert "More &lt;b&gt;.</textarea>" in no_reason.text
    same = await edit(secretariat, document_id, TEXT)
    assert same.status_code == 422 and "Nothing changed" in same.text
    empty = await edit(secretariat, document_id, "  ")
    assert empty.status_code == 422 and "The document has no text" in empty.text
    stale = await edit(secretariat, document_id, TEXT + "\n\nMore.", base_version="0")
    assert stale.status_code == 409 and "was saved after you opened this form" in stale.text
    async with app.state.ctx.session_maker() as db:
        document = await documents.get_document(db, document_id)
        assert document.current_version == 1


async def test_secretariat_screens_refuse_the_chair_and_delegates(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    document_id = await import_document(secretariat, world)
    list_url = f"/secretariat/assemblies/{world.assembly_id}/documents"
    chair = await make_client(staff="chair")
    head = await make_client(token=world.token["AAA-head"])
    for client, who in ((chair, "chair"), (head, "delegate")):
        assert (await client.get(list_url)).status_code == 403
        imported = await client.post(
            list_url,
            files={"file": ("", b"", "application/octet-stream")},
            data={"title": "Mine", "kind": "policy", "text": "x"},
        )
        assert imported.status_code == 403 and f"A {who} may not do this." in imported.text
        changed = await edit(client, document_id, "Changed.", reason="mine")
        assert changed.status_code == 403
    assert "editorial-text" not in (await chair.get(f"/documents/{document_id}")).text
