"""The amendment screens: the list a phone follows (labels, states, word diffs, why one no longer
applies), the form a head of delegation or the secretariat proposes with (replace, insert,
delete, several changes, second degree), revising and withdrawing, and who is refused."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from assembly.agenda import amending, amendment_screens, documents
from assembly.agenda import service as agenda
from assembly.agenda.amending import AmendmentView, ChangeIn, Proposal
from assembly.agenda.amendments import Delete, Insert, Replace
from assembly.agenda.models import Amendment, AmendmentEvent, Document
from assembly.credentials import service
from assembly.credentials.models import Assembly, Nmo
from assembly.db import writing
from tests.conftest import SECRETARIAT, ClientFactory, World, seed_world

HX = {"HX-Request": "true"}
POLICY = """# Climate and Health

The federation recognises climate change as a health emergency.

Medical schools should teach planetary health.

NMOs should reduce the carbon footprint of their events.
"""
# p1 the heading, p2 recognises, p3 schools, p4 NMOs
SCHOOLS = "Medical schools should teach planetary health."


def main_of(page: str) -> str:
    """The page's <main>, unescaped, without the header (which holds the logout form)."""
    return html.unescape(page.split('<main id="main"', 1)[1].split("</main>", 1)[0])


def text_of(page: str) -> str:
    """What a person reads: the tags dropped, whitespace folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


async def new_document(app: Litestar, world: World, text: str = POLICY) -> int:
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await service.get_assembly(db, world.assembly_id)
        document, _ = await documents.create_document(
            db, assembly, "test", "Climate and Health", "policy", text
        )
        await db.commit()
        return document.id


async def submit(
    app: Litestar, document_id: int, code: str, *changes: ChangeIn, amends: int | None = None
) -> int:
    """An amendment stored straight through amending (the secretariat on the NMO's behalf)."""
    async with writing(app.state.ctx.session_maker) as db:
        document = await documents.get_document(db, document_id)
        nmo = (await db.execute(select(Nmo).where(Nmo.code == code))).scalar_one()
        amendment = await amending.submit(
            db, SECRETARIAT, document, nmo, Proposal(changes, "Because.", amends_id=amends)
        )
        await db.commit()
        return amendment.id


async def views(app: Litestar, document_id: int) -> dict[str, AmendmentView]:
    async with writing(app.state.ctx.session_maker) as db:
        document = await documents.get_document(db, document_id)
        return {v.label: v for v in await amending.amendment_views(db, document)}


async def amendment_count(app: Litestar) -> int:
    async with writing(app.state.ctx.session_maker) as db:
        return int(await db.scalar(select(func.count()).select_from(Amendment)) or 0)


async def admit_and_merge(app: Litestar, amendment_id: int) -> None:
    async with writing(app.state.ctx.session_maker) as db:
        amendment = await amending.get_amendment(db, amendment_id)
        await amending.admit(db, "test", amendment)
        await amending.merge(db, "test", amendment)
        await db.commit()


async def post_form(
    client: AsyncTestClient[Litestar], url: str, fields: dict[str, Any], **kwargs: Any
) -> httpx.Response:
    return await client.post(url, data=fields, follow_redirects=False, **kwargs)


# --- who may reach what ------------------------------------------------------------------------


def test_every_amendment_screen_declares_its_roles() -> None:
    for handler in amendment_screens.handlers():
        assert handler.opt.get("roles"), f"{handler} declares no roles"


async def test_the_list_shows_labels_states_word_diffs_and_what_no_longer_applies(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    a1 = await submit(
        app, doc, "AAA", ChangeIn("replace", "p3", text="Every medical school must teach it.")
    )
    a2 = await submit(app, doc, "BBB", ChangeIn("replace", "p3", text="Schools teach health."))
    a3 = await submit(
        app,
        doc,
        "CCC",
        ChangeIn("insert", after="p4", text="The secretariat reports yearly."),
        ChangeIn("delete", "p2"),
    )
    a4 = await submit(
        app, doc, "AAA", ChangeIn("replace", "p4", text="NMOs should go carbon neutral.")
    )
    async with writing(app.state.ctx.session_maker) as db:
        await amending.withdraw(db, SECRETARIAT, await amending.get_amendment(db, a4))
        await db.commit()
    await admit_and_merge(app, a1)

    phone = await make_client(token=world.token["AAA-del"])  # any delegate may follow them
    response = await phone.get(f"/documents/{doc}/amendments")
    assert response.status_code == 200, response.text
    page = main_of(response.text)
    words = text_of(page)
    for label in ("A1", "A2", "A3", "A4"):
        assert f"{label} by" in words
    assert "A1 by AAA" in words and "Merged as friendly" in words
    assert "A4 by AAA" in words and "Withdrawn" in words
    assert "A2 by BBB" in words and "Submitted" in words
    # Each change in words, linked to its paragraph, and word by word.
    assert f'href="/documents/{doc}#para-p3">paragraph 3</a>' in page
    assert "Insert a new paragraph after" in words and "(new paragraph A3.1)" in words
    assert "Delete paragraph 2" in words
    assert '<del><span class="visually-hidden">[removed: </span>Medical schools should ' in page
    assert '<ins><span class="visually-hidden">[added: </span>Every medical school must ' in page
    # A2 was written against the text A1 changed: it says so, with the reason.
    a2_block = page.split(f'id="amendment-{a2}"', 1)[1].split("</li>\n", 1)[0]
    assert "No longer applies" in a2_block
    assert "which an earlier amendment changed" in a2_block
    assert "Revise" not in text_of(a2_block)  # not this delegate's to revise
    assert "Its proposer can revise it." in text_of(a2_block)
    a3_block = page.split(f'id="amendment-{a3}"', 1)[1].split("</li>\n", 1)[0]
    assert "No longer applies" not in a3_block
    # The deadline, the way to the text, and no proposing for a delegate who is not the head.
    assert "No deadline is set" in words
    assert f'href="/documents/{doc}"' in page
    assert "Propose an amendment" not in words


async def test_a_late_amendment_waits_for_the_chair_and_the_list_says_so(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await db.get(Assembly, world.assembly_id)
        assert assembly is not None
        assembly.policy_amendment_deadline = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        await db.commit()
    head = await make_client(token=world.token["AAA-head"])
    form = await head.get(f"/documents/{doc}/amendments/new?paragraph=p3")
    assert form.status_code == 200
    assert "The deadline has passed" in text_of(main_of(form.text))

    response = await post_form(
        head,
        f"/documents/{doc}/amendments",
        {"op_1": "replace", "paragraph_1": "p3", "text_1": "Schools teach it.", "rationale": ""},
    )
    assert response.status_code == 303, response.text
    listing = text_of(main_of((await head.get(response.headers["location"])).text))
    assert "A1 was submitted after the deadline: the chair decides whether to admit it." in listing
    assert "Late: waits for the chair's ruling" in listing
    assert (await views(app, doc))["A1"].row.late is True

    # The htmx form says the same in the fragment it swaps in.
    answer = await post_form(
        head,
        f"/documents/{doc}/amendments",
        {"op_1": "delete", "paragraph_1": "p4", "text_1": ""},
        headers=HX,
    )
    assert answer.status_code == 200
    assert "A2 was submitted after the deadline: the chair decides" in text_of(answer.text)


async def test_members_of_another_assembly_and_the_public_cannot_read_the_list(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    other = await seed_world(app, nmos=[("ZZZ", "full", 1)], staff=False)
    outsider = await make_client(token=other.token["ZZZ-head"])
    refused = await outsider.get(f"/documents/{doc}/amendments")
    assert refused.status_code == 403
    assert "only see the assembly your delegation" in refused.text
    anonymous = await make_client()
    away = await anonymous.get(f"/documents/{doc}/amendments", follow_redirects=False)
    assert away.status_code in (302, 303, 307)
    assert away.headers["location"].startswith("/login")
    chair = await make_client(staff="chair")
    assert (await chair.get(f"/documents/{doc}/amendments")).status_code == 200


# --- proposing through the form ---------------------------------------------------------------


async def test_a_head_proposes_a_replace_an_insert_and_a_delete_in_one_amendment(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    head = await make_client(token=world.token["AAA-head"])
    form = await head.get(f"/documents/{doc}/amendments/new?paragraph=p3")
    assert form.status_code == 200
    page = main_of(form.text)
    # The text as amended so far to choose from, and change 1 ready on paragraph 3.
    assert 'value="amend:p2"' in page and "Change paragraph 4" in text_of(page)
    assert '<option value="p3" selected>3 · Medical schools' in page
    assert (
        f'<textarea id="text_1" name="text_1" rows="6" aria-describedby="text_1-hint">{SCHOOLS}'
        in page
    )
    assert 'value="replace" checked' in page
    # Co-sponsors: the other NMOs, not AAA itself nor the suspended EEE.
    cosponsors = re.findall(r'name="cosponsor" value="(\d+)"', page)
    assert sorted(map(int, cosponsors)) == sorted(world.nmo[c] for c in ("BBB", "CCC", "DDD"))
    assert 'name="nmo"' not in page  # a head proposes for its own NMO

    response = await post_form(
        head,
        f"/documents/{doc}/amendments",
        {
            "op_1": "replace",
            "paragraph_1": "p3",
            "text_1": "Every medical school must teach planetary health.",
            "op_2": "insert",
            "paragraph_2": "p4",
            "text_2": "The secretariat reports on progress yearly.",
            "op_3": "delete",
            "paragraph_3": "p2",
            "text_3": "",
            "rationale": "Stronger and measurable.",
            "cosponsor": str(world.nmo["BBB"]),
        },
    )
    assert response.status_code == 303, response.text
    shown = await views(app, doc)
    a1 = shown["A1"]
    assert response.headers["location"] == f"/documents/{doc}/amendments?submitted={a1.row.id}"
    assert a1.nmo_code == "AAA" and a1.sponsors == ["BBB"]
    assert a1.row.rationale == "Stronger and measurable." and a1.row.state == "submitted"
    replace, insert, delete = a1.changes
    assert isinstance(replace, Replace) and replace.paragraph_id == "p3"
    assert replace.text == "Every medical school must teach planetary health."
    assert replace.base_text == SCHOOLS
    assert isinstance(insert, Insert) and insert.after == "p4" and insert.new_id == "A1.1"
    assert isinstance(delete, Delete) and delete.paragraph_id == "p2"
    listing = text_of(main_of((await head.get(response.headers["location"])).text))
    assert "A1 was submitted." in listing and "Co-sponsored by BBB" in listing


async def test_a_head_proposes_through_htmx_and_gets_the_outcome_in_place(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    head = await make_client(token=world.token["BBB-head"])
    answer = await post_form(
        head,
        f"/documents/{doc}/amendments",
        {"op_1": "insert", "paragraph_1": "@start", "text_1": "A preamble."},
        headers=HX,
    )
    assert answer.status_code == 200, answer.text
    assert answer.text.lstrip().startswith("<div")  # a fragment, not a page
    assert 'id="amend-form"' in answer.text and "A1 was submitted." in text_of(answer.text)
    (change,) = (await views(app, doc))["A1"].changes
    assert isinstance(change, Insert) and change.after is None and change.text == "A preamble."


async def test_a_second_degree_amendment_rewords_the_texts_the_first_writes(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    a1 = await submit(
        app,
        doc,
        "AAA",
        ChangeIn("replace", "p3", text="Every medical school must teach planetary health."),
        ChangeIn("insert", after="p4", text="The secretariat reports yearly."),
    )
    head = await make_client(token=world.token["BBB-head"])
    form = await head.get(f"/documents/{doc}/amendments/new?amends={a1}")
    assert form.status_code == 200
    page = main_of(form.text)
    words = text_of(page)
    assert "Propose an amendment to A1" in words and "What A1 (AAA) writes" in words
    assert "Its new text for paragraph 3" in words
    assert "The new paragraph A1.1 it inserts after paragraph 4" in words
    assert f'name="amends" value="{a1}"' in page
    assert 'name="op_1" value="replace"' in page  # only rewording: no kind to choose

    # Start on A1's new paragraph: its text goes into the box.
    picked = await post_form(
        head,
        f"/documents/{doc}/amendments",
        {
            "amends": str(a1),
            "op_1": "replace",
            "paragraph_1": "",
            "text_1": "",
            "step": "amend:A1.1",
        },
    )
    assert picked.status_code == 200
    assert '<option value="A1.1" selected>' in picked.text
    assert ">The secretariat reports yearly.</textarea>" in picked.text

    response = await post_form(
        head,
        f"/documents/{doc}/amendments",
        {
            "amends": str(a1),
            "op_1": "replace",
            "paragraph_1": "A1.1",
            "text_1": "The secretariat reports every six months.",
            "op_2": "replace",
            "paragraph_2": "p3",
            "text_2": "Every medical school must teach planetary health from year one.",
        },
    )
    assert response.status_code == 303, response.text
    a2 = (await views(app, doc))["A2"]
    assert a2.row.degree == 2 and a2.row.amends_id == a1 and a2.target_label == "A1"
    first, second = a2.changes
    assert isinstance(first, Replace) and first.paragraph_id == "A1.1"
    assert first.base_text == "The secretariat reports yearly."
    assert isinstance(second, Replace) and second.paragraph_id == "p3"
    listing = text_of(main_of((await head.get(f"/documents/{doc}/amendments")).text))
    assert "Amends A1" in listing and "Reword A1's new paragraph A1.1" in listing
    assert "Reword A1's new text for paragraph 3" in listing


async def test_the_secretariat_submits_on_behalf_of_an_nmo(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    secretariat = await make_client(staff="secretariat")
    form = await secretariat.get(f"/documents/{doc}/amendments/new")
    page = main_of(form.text)
    choices = re.findall(r'<option value="(\d+)">(\w+) ·', page.split('id="nmo"', 1)[1])
    assert {code for _, code in choices} == {"AAA", "BBB", "CCC", "DDD"}  # not suspended EEE

    missing = await post_form(
        secretariat,
        f"/documents/{doc}/amendments",
        {"op_1": "delete", "paragraph_1": "p4", "text_1": ""},
    )
    assert missing.status_code == 422
    assert "Choose the NMO on whose behalf" in text_of(missing.text)

    response = await post_form(
        secretariat,
        f"/documents/{doc}/amendments",
        {
            "nmo": str(world.nmo["CCC"]),
            "op_1": "delete",
            "paragraph_1": "p4",
            "text_1": "",
            "cosponsor": [str(world.nmo["AAA"]), str(world.nmo["DDD"])],
        },
    )
    assert response.status_code == 303, response.text
    a1 = (await views(app, doc))["A1"]
    assert a1.nmo_code == "CCC" and a1.sponsors == ["AAA", "DDD"]
    async with writing(app.state.ctx.session_maker) as db:
        event = (
            await db.execute(select(AmendmentEvent).where(AmendmentEvent.amendment_id == a1.row.id))
        ).scalar_one()
    assert event.kind == "submitted" and event.note == "on behalf of CCC"
    assert event.actor.startswith("secretariat:")


async def test_a_delegate_who_is_not_the_head_is_refused_with_the_reason(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    delegate = await make_client(token=world.token["AAA-del"])
    form = await delegate.get(f"/documents/{doc}/amendments/new")
    assert form.status_code == 403
    assert "Only the head of delegation of AAA submits or changes its amendments." in form.text
    response = await post_form(
        delegate,
        f"/documents/{doc}/amendments",
        {"op_1": "replace", "paragraph_1": "p3", "text_1": "Mine."},
    )
    assert response.status_code == 403
    assert "Only the head of delegation of AAA" in text_of(response.text)
    assert ">Mine.</textarea>" in response.text  # what was typed is kept
    assert await amendment_count(app) == 0
    # The head of a suspended NMO is told why too.
    suspended = await make_client(token=world.token["EEE-head"])
    refused = await suspended.get(f"/documents/{doc}/amendments/new")
    assert refused.status_code == 403 and "EEE is suspended" in refused.text
    # An observer or the chair never reaches the form.
    chair = await make_client(staff="chair")
    assert (await chair.get(f"/documents/{doc}/amendments/new")).status_code == 403


async def test_bad_input_is_shown_in_the_form_with_what_was_typed_and_nothing_is_stored(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    a1 = await submit(app, doc, "AAA", ChangeIn("replace", "p3", text="Schools teach it."))
    a2 = await submit(
        app, doc, "BBB", ChangeIn("replace", "p3", text="Schools do teach it."), amends=a1
    )
    head = await make_client(token=world.token["CCC-head"])
    url = f"/documents/{doc}/amendments"

    empty = await post_form(
        head, url, {"op_1": "replace", "paragraph_1": "p3", "text_1": "  ", "rationale": "Kept."}
    )
    assert empty.status_code == 422
    page = main_of(empty.text)
    assert (
        'role="alert" tabindex="-1" autofocus>Change 1: the new text is empty '
        "(to remove a paragraph, delete it)." in page
    )
    assert '<option value="p3" selected>' in page and ">Kept.</textarea>" in page

    unknown = await post_form(
        head, url, {"op_1": "replace", "paragraph_1": "p99", "text_1": "New."}, headers=HX
    )
    assert unknown.status_code == 422
    assert unknown.text.lstrip().startswith("<form")  # htmx gets the form back, in place
    assert "Change 1: there is no paragraph 'p99' in the text." in html.unescape(unknown.text)
    assert '<option value="p99" selected>p99 (no longer in the text)</option>' in unknown.text

    unchosen = await post_form(head, url, {"op_1": "insert", "paragraph_1": "", "text_1": "New."})
    assert unchosen.status_code == 422
    assert "Change 1: choose the paragraph it changes." in text_of(unchosen.text)

    third = await post_form(
        head,
        url,
        {"amends": str(a2), "op_1": "replace", "paragraph_1": "p3", "text_1": "Third."},
    )
    assert third.status_code == 422
    assert "A2 is itself an amendment to an amendment: a third degree is not allowed" in text_of(
        third.text
    )
    third_form = await head.get(f"{url}/new?amends={a2}")
    assert third_form.status_code == 422 and "a third degree is not allowed" in third_form.text
    assert await amendment_count(app) == 2


async def test_the_form_adds_removes_and_fills_changes_without_javascript(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    head = await make_client(token=world.token["AAA-head"])
    url = f"/documents/{doc}/amendments"
    typed = {"op_1": "replace", "paragraph_1": "p3", "text_1": "Typed.", "rationale": "Why."}

    added = await post_form(head, url, {**typed, "step": "add"})
    assert added.status_code == 200
    page = main_of(added.text)
    assert "Change 1 of 2" in page and "Change 2 of 2" in page
    assert ">Typed.</textarea>" in page and ">Why.</textarea>" in page
    assert '<select id="paragraph_2" name="paragraph_2" autofocus>' in page

    two = {**typed, "op_2": "replace", "paragraph_2": "p4", "text_2": ""}
    filled = await post_form(head, url, {**two, "step": "fill:2"})
    assert ">NMOs should reduce the carbon footprint of their events.</textarea>" in filled.text
    assert 'name="text_2" rows="6" aria-describedby="text_2-hint" autofocus>' in filled.text

    picked = await post_form(head, url, {**two, "step": "amend:p2"})
    assert "Change 3 of 3" in picked.text
    assert "recognises climate change as a health emergency.</textarea>" in picked.text

    removed = await post_form(head, url, {**two, "step": "remove:1"})
    assert "Change 1" in removed.text and "Change 2" not in removed.text
    assert 'name="paragraph_1"' in removed.text and ">Typed.</textarea>" not in removed.text

    # An unused extra change is dropped, not refused.
    response = await post_form(head, url, {**typed, "op_2": "replace", "paragraph_2": ""})
    assert response.status_code == 303, response.text
    assert len((await views(app, doc))["A1"].changes) == 1
    assert await amendment_count(app) == 1


# --- revising and withdrawing -----------------------------------------------------------------


async def test_withdrawing_asks_first_then_withdraws_with_the_amendments_to_it(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    a1 = await submit(app, doc, "AAA", ChangeIn("replace", "p3", text="Schools teach it."))
    a2 = await submit(
        app, doc, "BBB", ChangeIn("replace", "p3", text="Schools do teach it."), amends=a1
    )
    head = await make_client(token=world.token["AAA-head"])
    listing = main_of((await head.get(f"/documents/{doc}/amendments")).text)
    a1_block = listing.split(f'id="amendment-{a1}"', 1)[1].split("</li>\n", 1)[0]
    assert f'hx-post="/amendments/{a1}/withdraw"' in a1_block
    assert 'hx-confirm="Withdraw A1?' in a1_block
    assert f'action="/amendments/{a2}/withdraw"' not in listing  # BBB's, not AAA's

    asked = await post_form(head, f"/amendments/{a1}/withdraw", {})
    assert asked.status_code == 200
    words = text_of(main_of(asked.text))
    assert "Withdraw A1?" in words and "The amendments to it fall with it: A2." in words
    assert 'name="confirmed" value="1"' in asked.text
    assert (await views(app, doc))["A1"].row.state == "submitted"

    done = await post_form(head, f"/amendments/{a1}/withdraw", {"confirmed": "1"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/documents/{doc}/amendments?withdrawn={a1}"
    shown = await views(app, doc)
    assert shown["A1"].row.state == "withdrawn" and shown["A2"].row.state == "withdrawn"
    assert "A1 was withdrawn." in text_of((await head.get(done.headers["location"])).text)

    again = await post_form(head, f"/amendments/{a1}/withdraw", {"confirmed": "1"}, headers=HX)
    assert again.status_code == 409
    assert again.text.lstrip().startswith('<div id="amendment-list"')
    assert "A1 is withdrawn: it can no longer be withdrawn." in text_of(again.text)


async def test_withdrawing_with_htmx_answers_with_the_list(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    a1 = await submit(app, doc, "AAA", ChangeIn("delete", "p2"))
    secretariat = await make_client(staff="secretariat")
    answer = await post_form(
        secretariat, f"/amendments/{a1}/withdraw", {"confirmed": "1"}, headers=HX
    )
    assert answer.status_code == 200
    assert 'id="amendment-list"' in answer.text and "Withdrawn: A1." in text_of(answer.text)
    assert (await views(app, doc))["A1"].row.state == "withdrawn"


async def test_another_nmo_cannot_withdraw_or_revise_an_amendment(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    a1 = await submit(app, doc, "AAA", ChangeIn("replace", "p3", text="Schools teach it."))
    for token in ("BBB-head", "AAA-del"):
        other = await make_client(token=world.token[token])
        withdrawn = await post_form(other, f"/amendments/{a1}/withdraw", {"confirmed": "1"})
        assert withdrawn.status_code == 403, token
        assert "head of delegation" in withdrawn.text
        assert (await other.get(f"/amendments/{a1}/revise")).status_code == 403
        revised = await post_form(
            other,
            f"/amendments/{a1}/revise",
            {"op_1": "replace", "paragraph_1": "p3", "text_1": "Hijacked."},
        )
        assert revised.status_code == 403
    a1_view = (await views(app, doc))["A1"]
    assert a1_view.row.state == "submitted"
    assert isinstance(a1_view.changes[0], Replace)
    assert a1_view.changes[0].text == "Schools teach it."


async def test_revising_fixes_an_amendment_an_earlier_one_overtook(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    a1 = await submit(app, doc, "AAA", ChangeIn("replace", "p3", text="Schools teach it."))
    a2 = await submit(app, doc, "BBB", ChangeIn("replace", "p3", text="Schools should teach it."))
    await admit_and_merge(app, a1)
    assert (await views(app, doc))["A2"].problems

    head = await make_client(token=world.token["BBB-head"])
    listing = main_of((await head.get(f"/documents/{doc}/amendments")).text)
    a2_block = listing.split(f'id="amendment-{a2}"', 1)[1].split("</li>\n", 1)[0]
    assert "No longer applies" in a2_block
    assert f'<a class="button primary" href="/amendments/{a2}/revise">Revise A2</a>' in a2_block

    form = await head.get(f"/amendments/{a2}/revise")
    assert form.status_code == 200
    page = main_of(form.text)
    words = text_of(page)
    assert "Revise A2" in words and "A2 no longer applies" in words
    assert '<option value="p3" selected>' in page
    assert ">Schools should teach it.</textarea>" in page  # its own text, to rework
    assert "It reads now Schools teach it." in words  # what A1 made of the paragraph
    assert 'name="cosponsor"' not in page

    response = await post_form(
        head,
        f"/amendments/{a2}/revise",
        {
            "op_1": "replace",
            "paragraph_1": "p3",
            "text_1": "Schools should teach it from year one.",
            "rationale": "Revised after A1.",
        },
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/documents/{doc}/amendments?revised={a2}"
    a2_view = (await views(app, doc))["A2"]
    assert a2_view.problems == []
    assert a2_view.row.rationale == "Revised after A1." and a2_view.row.revised_at is not None
    (change,) = a2_view.changes
    assert isinstance(change, Replace) and change.base_text == "Schools teach it."
    after = main_of((await head.get(response.headers["location"])).text)
    assert "A2 was revised." in text_of(after) and "No longer applies" not in after


async def test_a_revision_that_changes_nothing_is_refused_in_the_form(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    a1 = await submit(app, doc, "AAA", ChangeIn("replace", "p3", text="Schools teach it."))
    secretariat = await make_client(staff="secretariat")
    refused = await post_form(
        secretariat,
        f"/amendments/{a1}/revise",
        {"op_1": "replace", "paragraph_1": "p3", "text_1": SCHOOLS},
        headers=HX,
    )
    assert refused.status_code == 422
    assert "the same as the current one" in text_of(refused.text)
    assert (await views(app, doc))["A1"].row.revised_at is None


# --- the phone's way in -----------------------------------------------------------------------


async def test_the_current_item_links_to_its_text_and_amendments(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    doc = await new_document(app, world)
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await service.get_assembly(db, world.assembly_id)
        item = await agenda.add_item(db, assembly, "test", "Climate policy", document_id=doc)
        await agenda.make_current(db, item)
        await db.commit()
    phone = await make_client(token=world.token["AAA-del"])
    fragment = (await phone.get(f"/agenda/{world.assembly_id}/current")).text
    assert f'<a href="/documents/{doc}">Read the text</a>' in fragment
    assert f'<a href="/documents/{doc}/amendments">Amendments</a>' in fragment


async def test_the_document_must_exist(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    head = await make_client(token=world.token["AAA-head"])
    assert (await head.get("/documents/999/amendments")).status_code == 404
    async with writing(app.state.ctx.session_maker) as db:
        assert await db.scalar(select(func.count()).select_from(Document)) == 0
