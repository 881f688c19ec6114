"""Documents: imported as paragraphs with stable ids, changed editorially into new versions
that leave the old ones as they were, and compared word by word."""

from __future__ import annotations

import datetime as dt

import pytest
from litestar import Litestar

from assembly.agenda.amendments import Paragraph
from assembly.agenda.documents import parse_text, years_after
from assembly.errors import Invalid
from tests.conftest import ClientFactory, World, seed_world

TEXT = "# Climate and Health\n\nThe federation supports clean air.\n\n## Aims\nWe act now.\n"


def test_parse_text_makes_headings_their_own_paragraphs_with_ids_in_order() -> None:
    assert parse_text(TEXT) == (
        Paragraph("p1", "# Climate and Health"),
        Paragraph("p2", "The federation supports clean air."),
        Paragraph("p3", "## Aims"),
        Paragraph("p4", "We act now."),
    )


def test_parse_text_splits_on_blank_lines_and_reads_crlf() -> None:
    text = "First line\r\nstill first\r\n\r\n  \r\n\r\nSecond\r\n"
    assert parse_text(text) == (
        Paragraph("p1", "First line\nstill first"),
        Paragraph("p2", "Second"),
    )


@pytest.mark.parametrize("text", ["", "   ", "\n\n\r\n"])
def test_parse_text_refuses_an_empty_text(text: str) -> None:
    with pytest.raises(Invalid, match="no text"):
        parse_text(text)


def test_a_policy_valid_from_29_february_ends_on_28_february() -> None:
    assert years_after(dt.date(2024, 2, 29), 3) == dt.date(2027, 2, 28)


async def test_the_secretariat_imports_a_document_and_everyone_reads_it(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    url = f"/api/assemblies/{world.assembly_id}/documents"
    created = await secretariat.post(
        url, json={"title": "Climate and Health", "kind": "policy", "text": TEXT}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["number"] == 1 and body["reason"] == "submitted"
    assert [(p["number"], p["id"]) for p in body["paragraphs"]] == [
        (1, "p1"),
        (2, "p2"),
        (3, "p3"),
        (4, "p4"),
    ]
    # The assembly's default policy_validity_years is 3.
    assert body["document"]["valid_until"] == years_after(dt.date.today(), 3).isoformat()
    paper = await secretariat.post(
        url, json={"title": "Paper", "kind": "position_paper", "text": "One."}
    )
    # A position paper is a policy document too (RULES.md); the bylaws do not expire.
    assert paper.json()["document"]["valid_until"] == years_after(dt.date.today(), 3).isoformat()
    bylaws = await secretariat.post(url, json={"title": "Bylaws", "kind": "bylaws", "text": "1."})
    assert bylaws.json()["document"]["valid_until"] is None

    phone = await make_client(token=world.token["AAA-head"])
    listed = (await phone.get(url)).json()
    assert [d["title"] for d in listed] == ["Climate and Health", "Paper", "Bylaws"]
    document_id = body["document"]["id"]
    read = (await phone.get(f"/api/documents/{document_id}")).json()
    assert read["paragraphs"] == body["paragraphs"]
    refused = await phone.post(url, json={"title": "Mine", "kind": "policy", "text": "x"})
    assert refused.status_code == 403
    chair = await make_client(staff="chair")
    assert (
        await chair.post(url, json={"title": "x", "kind": "policy", "text": "x"})
    ).status_code == 403


async def test_a_document_is_refused_with_a_reason_for_bad_input(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    url = f"/api/assemblies/{world.assembly_id}/documents"
    bad_kind = await secretariat.post(url, json={"title": "x", "kind": "party", "text": "x"})
    assert bad_kind.status_code == 422 and "kind must be one of" in bad_kind.json()["message"]
    empty = await secretariat.post(url, json={"title": "x", "kind": "bylaws", "text": " \n "})
    assert empty.status_code == 422 and "no text" in empty.json()["message"]
    no_title = await secretariat.post(url, json={"title": " ", "kind": "bylaws", "text": "x"})
    assert no_title.status_code == 422 and "needs a title" in no_title.json()["message"]
    missing = await secretariat.get("/api/documents/999999")
    assert missing.status_code == 404


async def test_an_editorial_change_makes_version_2_and_leaves_version_1_as_it_was(
    make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    created = await secretariat.post(
        f"/api/assemblies/{world.assembly_id}/documents",
        json={"title": "Bylaws", "kind": "bylaws", "text": TEXT},
    )
    document_id = created.json()["document"]["id"]
    url = f"/api/documents/{document_id}/versions"
    paragraphs = [
        {"id": "p1", "text": "# Climate and Health"},
        {"id": "p2", "text": "The federation strongly supports clean air."},
        {"id": "p5", "text": "A new paragraph."},
        {"id": "p4", "text": "We act now."},
    ]
    changed = await secretariat.post(url, json={"reason": "typo", "paragraphs": paragraphs})
    assert changed.status_code == 201, changed.text
    assert changed.json()["number"] == 2 and changed.json()["reason"] == "editorial: typo"
    current = (await secretariat.get(f"/api/documents/{document_id}")).json()
    assert current["document"]["current_version"] == 2
    assert [p["id"] for p in current["paragraphs"]] == ["p1", "p2", "p5", "p4"]
    first = (await secretariat.get(f"{url}/1")).json()
    assert first["paragraphs"] == created.json()["paragraphs"]
    assert (await secretariat.get(f"{url}/3")).status_code == 404
    assert "has no version 3" in (await secretariat.get(f"{url}/3")).json()["message"]

    diff = await secretariat.get(f"/api/documents/{document_id}/diff?from=1&to=2")
    assert diff.status_code == 200, diff.text
    rows = {row["id"]: row for row in diff.json()["paragraphs"]}
    assert [row["id"] for row in diff.json()["paragraphs"]] == ["p1", "p2", "p3", "p5", "p4"]
    assert rows["p1"]["status"] == "unchanged" and rows["p4"]["status"] == "unchanged"
    assert rows["p3"]["status"] == "removed" and rows["p3"]["old_text"] == "## Aims"
    assert rows["p5"]["status"] == "added" and rows["p5"]["new_text"] == "A new paragraph."
    assert rows["p2"]["status"] == "changed"
    assert ["insert", "strongly "] in rows["p2"]["words"]
    missing = await secretariat.get(f"/api/documents/{document_id}/diff?from=1&to=9")
    assert missing.status_code == 404

    # Refusals: no reason, nothing changed, an id twice, and a delegate may not change it.
    no_reason = await secretariat.post(url, json={"reason": " ", "paragraphs": paragraphs})
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.json()["message"]
    same = await secretariat.post(url, json={"reason": "again", "paragraphs": paragraphs})
    assert same.status_code == 422 and "Nothing changed" in same.json()["message"]
    twice = [{"id": "p1", "text": "a"}, {"id": "p1", "text": "b"}]
    duplicate = await secretariat.post(url, json={"reason": "x", "paragraphs": twice})
    assert duplicate.status_code == 422 and "used twice" in duplicate.json()["message"]
    phone = await make_client(token=world.token["AAA-head"])
    refused = await phone.post(url, json={"reason": "mine", "paragraphs": twice})
    assert refused.status_code == 403


async def test_a_delegate_of_another_assembly_cannot_read_its_documents(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    secretariat = await make_client(staff="secretariat")
    created = await secretariat.post(
        f"/api/assemblies/{world.assembly_id}/documents",
        json={"title": "Constitution", "kind": "constitution", "text": "Art. 1"},
    )
    document_id = created.json()["document"]["id"]
    other = await seed_world(app, staff=False, nmos=[("ZZZ", "full", 1)])
    phone = await make_client(token=other.token["ZZZ-head"])
    assert (await phone.get(f"/api/documents/{document_id}")).status_code == 403
    listed = await phone.get(f"/api/assemblies/{world.assembly_id}/documents")
    assert listed.status_code == 403
