"""The exports of the public record: the CSV and JSON files match the results and ballots
stored; roll calls have one row per NMO of the electorate per named vote; a secret vote is its
totals and trackers, never an NMO's choice; what is held is in no export; texts in force are
Markdown with the pages' paragraph numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from fractions import Fraction
from typing import Any

from litestar import Litestar
from sqlalchemy import select

from assembly.agenda import documents
from assembly.agenda.models import PlenarySession
from assembly.credentials import service as credentials
from assembly.credentials.models import Nmo
from assembly.credentials.rules import format_weight
from assembly.db import utcnow, writing
from assembly.publishing import service as publishing
from assembly.voting.models import Ballot, ElectorateEntry, SecretChoice, Vote, VoteOption
from tests.audit.test_log import run_vote
from tests.conftest import ClientFactory, World

CSV_FILES = ("votes.csv", "roll-calls.csv", "trackers.csv", "attendance.csv")


async def export(client: Any, world: World, name: str) -> str:
    response = await client.get(f"/record/{world.assembly_id}/export/{name}")
    assert response.status_code == 200, response.text
    text: str = response.content.decode("utf-8")
    return text


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def plenary(make_client: ClientFactory, world: World) -> dict[str, int]:
    named = await run_vote(make_client, world, {"AAA": "yes", "CCC": "abstain"})
    secret = await run_vote(make_client, world, {"AAA": "yes", "CCC": "no"}, secret=True)
    election = await run_vote(
        make_client,
        world,
        {"AAA": "c1", "BBB": "c2", "CCC": "c1"},
        kind="election",
        candidates=["Amira Haddad", "Lucas Ferreira"],
    )
    return {"named": named["id"], "secret": secret["id"], "election": election["id"]}


async def stored(app: Litestar, vote_id: int) -> dict[str, Any]:
    """What the database holds of a vote: its result, options, electorate and ballots."""
    async with writing(app.state.ctx.session_maker) as db:
        vote = await db.get(Vote, vote_id)
        assert vote is not None
        codes = {n.id: n.code for n in (await db.execute(select(Nmo))).scalars()}
        options = {
            o.key: o.label
            for o in (
                await db.execute(select(VoteOption).where(VoteOption.vote_id == vote_id))
            ).scalars()
        }
        electorate = {
            e.nmo_code: e
            for e in (
                await db.execute(select(ElectorateEntry).where(ElectorateEntry.vote_id == vote_id))
            ).scalars()
        }
        ballots = {
            codes[b.nmo_id]: b
            for b in (await db.execute(select(Ballot).where(Ballot.vote_id == vote_id))).scalars()
        }
        secret = list(
            (
                await db.execute(select(SecretChoice).where(SecretChoice.vote_id == vote_id))
            ).scalars()
        )
    return {
        "vote": vote,
        "options": options,
        "electorate": electorate,
        "ballots": ballots,
        "secret": secret,
    }


async def test_the_csv_and_json_exports_match_the_stored_results_and_ballots(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    ids = await plenary(make_client, world)
    public = await make_client()
    votes = {int(r["Vote"]): r for r in rows(await export(public, world, "votes.csv"))}
    roll_calls = rows(await export(public, world, "roll-calls.csv"))
    trackers = rows(await export(public, world, "trackers.csv"))
    document = json.loads(await export(public, world, "record.json"))
    assert document["format"] == "assembly-record/v1"
    in_json = {v["id"]: v for v in document["votes"]}
    assert sorted(votes) == sorted(in_json) == sorted(ids.values())

    for vote_id in ids.values():
        db = await stored(app, vote_id)
        result = db["vote"].result
        row = votes[vote_id]
        # The JSON carries the result exactly as stored (and logged) at the close.
        assert in_json[vote_id]["result"] == result
        assert row["Explanation"] == result["explanation"] == in_json[vote_id]["explanation"]
        assert row["Closed at (UTC)"] == in_json[vote_id]["closed_at"]
        assert row["Closed at (UTC)"].endswith("Z")
        assert row["Secret"] == ("yes" if db["vote"].secret else "no")
        if db["vote"].kind == "election":
            assert row["Elected"] == "; ".join(db["options"][k] for k in result["elected"])
            assert row["Outcome"] == f"elected: {row['Elected']}"
            assert row["Yes (weight)"] == ""
        else:
            for option in ("yes", "no", "abstain"):
                label = option.capitalize()
                assert row[f"{label} (weight)"] == result["totals"][option]
                assert row[f"{label} (ballots)"] == str(result["counts"][option])
            assert row["Outcome"] == ("adopted" if result["adopted"] else "rejected")

        if db["vote"].secret:
            assert not [r for r in roll_calls if r["Vote"] == str(vote_id)]
            assert "roll_call" not in in_json[vote_id]
            expected = sorted(
                (c.tracker, json.loads(c.choice), str(c.weight)) for c in db["secret"]
            )
            assert (
                sorted(
                    (t["tracker"], t["choice"], t["weight"]) for t in in_json[vote_id]["trackers"]
                )
                == expected
            )
            assert sorted(
                (t["Tracker"], t["Choice"], t["Weight"])
                for t in trackers
                if t["Vote"] == str(vote_id)
            ) == sorted(
                (tracker, "; ".join(db["options"][k] for k in choice), format_weight(Fraction(w)))
                for tracker, choice, w in expected
            )
            continue

        # A named vote: one row per NMO of the electorate, with its ballot or none.
        mine = [r for r in roll_calls if r["Vote"] == str(vote_id)]
        assert sorted(r["NMO code"] for r in mine) == sorted(db["electorate"])
        for r in mine:
            entry, ballot = db["electorate"][r["NMO code"]], db["ballots"].get(r["NMO code"])
            assert r["Weight"] == format_weight(entry.weight)
            assert r["Via proxy"] == "no" and r["Cast by"] == r["NMO code"]
            if ballot is None:
                assert r["Choice"] == "did not vote"
            else:
                marks = json.loads(ballot.choice)
                marks = marks if isinstance(marks, list) else [marks]
                assert r["Choice"] == "; ".join(db["options"][k] for k in marks)
        in_roll = {r["nmo"]: r for r in in_json[vote_id]["roll_call"]}
        assert sorted(in_roll) == sorted(db["electorate"])
        for code, entry in db["electorate"].items():
            assert in_roll[code]["weight"] == str(entry.weight)  # exact, e.g. "3/2"
            ballot = db["ballots"].get(code)
            expected_choice = None if ballot is None else json.loads(ballot.choice)
            if isinstance(expected_choice, str):
                expected_choice = [expected_choice]
            assert in_roll[code]["choice"] == expected_choice
    # The electorate is the full members; CCC weighs 3/2 and BBB did not vote.
    named = {r["NMO code"]: r for r in roll_calls if r["Vote"] == str(ids["named"])}
    assert sorted(named) == ["AAA", "BBB", "CCC"]
    assert named["CCC"]["Weight"] == "1.5" and named["CCC"]["Choice"] == "Abstain"
    assert named["AAA"]["Choice"] == "Yes" and named["BBB"]["Choice"] == "did not vote"
    named_json = {r["nmo"]: r for r in in_json[ids["named"]]["roll_call"]}
    assert named_json["CCC"]["weight"] == "3/2"


async def test_no_export_pairs_an_nmo_with_a_secret_choice(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    ids = await plenary(make_client, world)
    public = await make_client()
    async with writing(app.state.ctx.session_maker) as db:
        nmos = list((await db.execute(select(Nmo))).scalars())
    who = [n.code for n in nmos] + [n.name for n in nmos]
    secret = str(ids["secret"])

    for name in CSV_FILES:
        for row in rows(await export(public, world, name)):
            if row.get("Vote") == secret:
                assert name in ("votes.csv", "trackers.csv")
                assert not [w for w in who if any(w in cell for cell in row.values())], row
    document = json.loads(await export(public, world, "record.json"))
    [vote] = [v for v in document["votes"] if v["id"] == ids["secret"]]
    text = json.dumps(vote)
    assert not [w for w in who if w in text]
    assert len(vote["trackers"]) == 2


async def test_held_votes_and_sessions_are_in_no_export(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    now = utcnow()
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        await credentials.update_assembly(db, assembly, "test", {"publish_results": "manual"})
        db.add(
            PlenarySession(
                assembly_id=world.assembly_id,
                name="Plenary 1",
                starts_at=now - dt.timedelta(hours=1),
                ends_at=now + dt.timedelta(hours=1),
            )
        )
        await db.commit()
    ids = await plenary(make_client, world)
    # The secretariat downloads the public export too: held things are not in it.
    for client in (await make_client(), await make_client(staff="secretariat")):
        for name in CSV_FILES:
            assert rows(await export(client, world, name)) == [], name
        document = json.loads(await export(client, world, "record.json"))
        assert document["votes"] == []
        assert [s["attendance"] for s in document["sessions"]] == [None]

    async with writing(app.state.ctx.session_maker) as db:
        await publishing.set_published(
            db, world.assembly_id, "vote", ids["secret"], "test", utcnow()
        )
        sitting = (await db.execute(select(PlenarySession))).scalar_one()
        await publishing.set_published(db, world.assembly_id, "session", sitting.id, "test", now)
        await db.commit()
    public = await make_client()
    assert [r["Vote"] for r in rows(await export(public, world, "votes.csv"))] == [
        str(ids["secret"])
    ]
    assert rows(await export(public, world, "roll-calls.csv")) == []
    assert {r["Vote"] for r in rows(await export(public, world, "trackers.csv"))} == {
        str(ids["secret"])
    }
    attendance = rows(await export(public, world, "attendance.csv"))
    assert [r["NMO code"] for r in attendance] == ["AAA", "BBB", "CCC", "DDD", "EEE"]
    assert attendance[0] == {
        "Session": "Plenary 1",
        "Starts at (UTC)": attendance[0]["Starts at (UTC)"],
        "Ends at (UTC)": attendance[0]["Ends at (UTC)"],
        "NMO code": "AAA",
        "NMO name": "NMO AAA",
        "Member class": "full",
        "Present": "yes",
        "Delegates present": "1",
    }


async def test_a_text_in_force_is_markdown_with_the_pages_paragraph_numbers(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        document, _ = await documents.create_document(
            db,
            assembly,
            "test",
            "Bylaws of the Fédération",
            "bylaws",
            "# Membership\n\nMembers pay dues yearly.\n\n## Board\n\nThe board meets monthly.",
        )
        # Imported bylaws are in force, and public; the secretariat holds them for now.
        await publishing.set_published(db, world.assembly_id, "document", document.id, "test", None)
        await db.commit()
    public = await make_client()
    held = await public.get(f"/record/{world.assembly_id}/export/documents/{document.id}.md")
    assert held.status_code == 404
    async with writing(app.state.ctx.session_maker) as db:
        await publishing.set_published(
            db, world.assembly_id, "document", document.id, "test", utcnow()
        )
        await db.commit()
    response = await public.get(f"/record/{world.assembly_id}/export/documents/{document.id}.md")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith("# Bylaws of the Fédération\n\nBylaws, version 1 (in force).")
    assert "## 1. Membership\n\n**2.** Members pay dues yearly.\n\n### 3. Board\n" in text
    assert "**4.** The board meets monthly.\n" in text
    # The bundle's name of the file works too, and record.json points to it.
    named = f"{document.id}-bylaws-of-the-federation.md"
    same = await public.get(f"/record/{world.assembly_id}/export/documents/{named}")
    assert same.status_code == 200 and same.text == text
    record = json.loads(await export(public, world, "record.json"))
    assert [d["file"] for d in record["documents"]] == [f"documents/{named}"]
    assert record["documents"][0]["versions"][0]["paragraphs"][0] == {
        "id": "p1",
        "text": "# Membership",
    }
    wrong = await public.get(f"/record/{world.assembly_id}/export/documents/bylaws.txt")
    assert wrong.status_code == 404
