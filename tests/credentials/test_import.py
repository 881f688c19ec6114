"""CSV import of NMOs and delegates, through the API and the CLI: a good file imports every
row; a file with any bad row imports nothing and names each bad row, column and problem."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from litestar import Litestar
from sqlalchemy import func, select

from assembly.cli import main
from assembly.credentials.models import CredentialEvent, Delegate, Nmo
from assembly.settings import Settings
from tests.conftest import SECRET, ClientFactory, World, seed_world

NMO_HEADER = "code,name,country,member_class,weight"
DELEGATE_HEADER = "nmo_code,name,email,role,language"


async def count(app: Litestar, model: type[Any]) -> int:
    """Rows of a table, read in a fresh transaction."""
    async with app.state.ctx.session_maker() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def import_csv(client: Any, assembly_id: int, kind: str, text: str) -> Any:
    return await client.post(f"/api/assemblies/{assembly_id}/import/{kind}", json=text)


def csv_text(*lines: str, separator: str = ",", newline: str = "\n") -> str:
    return newline.join(line.replace(",", separator) for line in lines) + newline


# --- NMOs -------------------------------------------------------------------------------


async def test_a_good_nmo_file_imports_every_row(app: Litestar, make_client: ClientFactory) -> None:
    world = await seed_world(app, nmos=[])
    staff = await make_client(staff="secretariat")
    text = csv_text(
        NMO_HEADER,
        "NOR,Norway,Norway,full,3/2",
        "SWE,Sweden,Sweden,candidate,",
        "DEN,Denmark,,associate,2.5",
        "FIN,Finland,Finland,,",
    )
    response = await import_csv(staff, world.assembly_id, "nmos", text)
    assert response.status_code == 201, response.text
    assert response.json() == {"created": 4, "message": "Imported 4 NMOs."}
    nmos = (await staff.get(f"/api/assemblies/{world.assembly_id}/nmos")).json()
    assert [(n["code"], n["name"], n["country"], n["member_class"], n["weight"]) for n in nmos] == [
        ("DEN", "Denmark", "", "associate", "2.5"),
        ("FIN", "Finland", "Finland", "full", "1"),
        ("NOR", "Norway", "Norway", "full", "1.5"),
        ("SWE", "Sweden", "Sweden", "candidate", "1"),
    ]
    assert all(n["credentialed"] is False for n in nmos)
    kinds = [
        e["kind"] for e in (await staff.get(f"/api/assemblies/{world.assembly_id}/events")).json()
    ]
    assert kinds.count("nmo_added") == 4
    assert kinds[-1] == "import_nmos"


async def test_a_file_with_bad_rows_imports_nothing_and_names_each_bad_row(
    world: World, app: Litestar, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    text = csv_text(
        "code,name,member_class,weight",
        "NEW1,Good one,full,1",  # row 2 is fine, yet it is not imported either
        "NEW2,Bad class,honorary,1",
        "NEW3,Bad weight,full,abc",
        "NEW4,Zero weight,full,0",
        "NEW1,Twice,full,1",
        "AAA,Already here,full,1",
        "NEW5,,full,1",
        "NEW 6,Space in code,full,2.5",
    )
    nmos_before = await count(app, Nmo)
    events_before = await count(app, CredentialEvent)
    response = await import_csv(staff, world.assembly_id, "nmos", text)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["errors"] == [
        {
            "row": 3,
            "column": "member_class",
            "message": "member_class must be one of full, candidate, associate, suspended, "
            "not 'honorary'",
        },
        {
            "row": 4,
            "column": "weight",
            "message": "weight: 'abc' is not a number such as 1, 2.5 or 3/2",
        },
        {"row": 5, "column": "weight", "message": "weight: a weight must be more than 0, not 0"},
        {"row": 6, "column": "code", "message": "NMO NEW1 is already in row 2"},
        {"row": 7, "column": "code", "message": "NMO AAA is already registered"},
        {"row": 8, "column": "name", "message": "an NMO needs a name"},
        {
            "row": 9,
            "column": "code",
            "message": "NMO code 'NEW 6' must be at most 20 characters without spaces",
        },
    ]
    assert body["message"] == (
        "Nothing was imported: row 3, column member_class: member_class must be one of full, "
        "candidate, associate, suspended, not 'honorary' (and 6 more)."
    )
    assert await count(app, Nmo) == nmos_before
    assert await count(app, CredentialEvent) == events_before


@pytest.mark.parametrize(
    ("header", "errors"),
    [
        (
            "code,country",
            [{"row": 1, "column": "name", "message": "required column 'name' is missing"}],
        ),
        (
            "name,weight",
            [{"row": 1, "column": "code", "message": "required column 'code' is missing"}],
        ),
        (
            "code,name,colour",
            [
                {
                    "row": 1,
                    "column": "colour",
                    "message": "unknown column 'colour'; the columns are code, name, country, "
                    "member_class, weight",
                }
            ],
        ),
        (
            "code,name,code",
            [{"row": 1, "column": "code", "message": "column 'code' appears more than once"}],
        ),
    ],
)
async def test_a_bad_header_imports_nothing_and_says_which_column(
    world: World, app: Litestar, make_client: ClientFactory, header: str, errors: list[Any]
) -> None:
    staff = await make_client(staff="secretariat")
    before = await count(app, Nmo)
    response = await import_csv(staff, world.assembly_id, "nmos", csv_text(header, "X1,Y,Z"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == errors
    assert await count(app, Nmo) == before


@pytest.mark.parametrize(
    ("separator", "bom", "newline"),
    [
        (";", False, "\n"),
        (";", True, "\r\n"),
        (",", True, "\n"),
        ("\t", True, "\r\n"),
    ],
    ids=["semicolon", "semicolon-bom-crlf", "comma-bom", "tab-bom-crlf"],
)
async def test_semicolon_tab_and_bom_prefixed_files_import(
    app: Litestar, make_client: ClientFactory, separator: str, bom: bool, newline: str
) -> None:
    world = await seed_world(app, nmos=[])
    staff = await make_client(staff="secretariat")
    text = csv_text(
        "Code,Name,Member Class,Weight",
        "NOR,Norway,full,3/2",
        "SWE,Sweden,full,2",
        separator=separator,
        newline=newline,
    )
    response = await import_csv(staff, world.assembly_id, "nmos", ("\ufeff" if bom else "") + text)
    assert response.status_code == 201, response.text
    nmos = (await staff.get(f"/api/assemblies/{world.assembly_id}/nmos")).json()
    assert [(n["code"], n["name"], n["weight"]) for n in nmos] == [
        ("NOR", "Norway", "1.5"),
        ("SWE", "Sweden", "2"),
    ]


async def test_names_are_kept_exactly_as_written_whatever_quotes_and_separators_they_hold(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, nmos=[])
    staff = await make_client(staff="secretariat")
    text = (
        "code;name;country\n"
        "CIV;'s-Hertogenbosch 'Union';Côte d'Ivoire\n"
        'FRA;"Association, ""générale""";France\n'
        "BEL;Médecins; asbl;Belgium\n"
    )
    # The BEL row has one cell too many: the name holds the separator without quotes.
    response = await import_csv(staff, world.assembly_id, "nmos", text)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"row": 4, "column": "-", "message": "the row has more cells than the header"}
    ]
    response = await import_csv(staff, world.assembly_id, "nmos", text.rsplit("BEL", 1)[0])
    assert response.status_code == 201, response.text
    names = {
        n["code"]: (n["name"], n["country"])
        for n in (await staff.get(f"/api/assemblies/{world.assembly_id}/nmos")).json()
    }
    assert names == {
        "CIV": ("'s-Hertogenbosch 'Union'", "Côte d'Ivoire"),
        "FRA": ('Association, "générale"', "France"),
    }


async def test_an_unclosed_quote_is_refused_rather_than_swallowing_the_rows_after_it(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, nmos=[])
    staff = await make_client(staff="secretariat")
    text = 'code,name\nNOR,"Norway\nSWE,Sweden\n'
    response = await import_csv(staff, world.assembly_id, "nmos", text)
    assert response.status_code == 422, response.text
    assert "not valid CSV" in response.json()["message"]
    assert "check its quotes" in response.json()["message"]
    assert await count(app, Nmo) == 0


async def test_blank_lines_are_skipped_and_rows_keep_their_spreadsheet_numbers(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, nmos=[])
    staff = await make_client(staff="secretariat")
    text = "code,name,weight\n\nNOR,Norway,1\n,,\nSWE,Sweden,x\n"
    response = await import_csv(staff, world.assembly_id, "nmos", text)
    assert response.status_code == 422, response.text
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(5, "weight")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty"),
        ("\ufeff  \n", "The file is empty"),
        ("code,name\n", "The file has a header but no rows to import."),
        ("code,name\n\n,\n", "The file has a header but no rows to import."),
    ],
)
async def test_an_empty_file_is_refused(
    world: World, make_client: ClientFactory, text: str, message: str
) -> None:
    staff = await make_client(staff="secretariat")
    response = await import_csv(staff, world.assembly_id, "nmos", text)
    assert response.status_code == 422, response.text
    assert message in response.json()["message"]


async def test_long_names_are_refused_per_row(
    world: World, app: Litestar, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    text = csv_text("code,name,country", f"LNG,{'N' * 201},X", f"CTY,Country,{'C' * 101}")
    response = await import_csv(staff, world.assembly_id, "nmos", text)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"row": 2, "column": "name", "message": "name is at most 200 characters; 201 were given"},
        {
            "row": 3,
            "column": "country",
            "message": "country is at most 100 characters; 101 were given",
        },
    ]


async def test_only_the_secretariat_imports(world: World, make_client: ClientFactory) -> None:
    desk = await make_client(staff="desk")
    response = await import_csv(desk, world.assembly_id, "nmos", csv_text("code,name", "X,Y"))
    assert response.status_code == 403
    assert response.json()["message"] == "A desk may not do this."


async def test_the_body_must_be_the_csv_text_as_a_json_string(
    world: World, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    response = await staff.post(
        f"/api/assemblies/{world.assembly_id}/import/nmos", json={"csv": "code,name"}
    )
    assert response.status_code == 400
    assert "Expected `str`, got `object`" in response.json()["message"]


# --- delegates --------------------------------------------------------------------------


async def test_a_good_delegate_file_imports_every_row_and_heads_take_the_vote(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, nmos=[])
    staff = await make_client(staff="secretariat")
    nmos = csv_text("code,name", "NOR,Norway", "SWE,Sweden")
    assert (await import_csv(staff, world.assembly_id, "nmos", nmos)).status_code == 201
    text = csv_text(
        DELEGATE_HEADER,
        "NOR,Kari Nordmann,kari@example.org,head,nb",
        "NOR,Ola Nordmann,,delegate,",
        "SWE,Sven Svensson,,,sv",
        "SWE,Watcher,,observer,pt-BR",
    )
    response = await import_csv(staff, world.assembly_id, "delegates", text)
    assert response.status_code == 201, response.text
    assert response.json() == {"created": 4, "message": "Imported 4 delegates."}
    listed = {
        n["code"]: n for n in (await staff.get(f"/api/assemblies/{world.assembly_id}/nmos")).json()
    }
    nor = (await staff.get(f"/api/nmos/{listed['NOR']['id']}/delegates")).json()
    assert [(d["name"], d["email"], d["role"], d["language"], d["holds_vote"]) for d in nor] == [
        ("Kari Nordmann", "kari@example.org", "head", "nb", True),
        ("Ola Nordmann", "", "delegate", "en", False),
    ]
    swe = (await staff.get(f"/api/nmos/{listed['SWE']['id']}/delegates")).json()
    assert [(d["name"], d["role"], d["language"]) for d in swe] == [
        ("Sven Svensson", "delegate", "sv"),
        ("Watcher", "observer", "pt-BR"),
    ]
    assert listed["SWE"]["right_holder_id"] is None
    # Every imported delegate has a working login link.
    link = (await staff.get(f"/api/delegates/{nor[1]['id']}/login-link")).json()["login_url"]
    ola = await make_client(token=link.rsplit("/login/", 1)[1])
    assert (await ola.get("/api/auth/me")).json()["name"] == "Ola Nordmann"


async def test_a_delegate_file_with_bad_rows_imports_nothing_and_names_each_bad_row(
    world: World, app: Litestar, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    fresh = await staff.post(
        f"/api/assemblies/{world.assembly_id}/nmos", json={"code": "FFF", "name": "NMO FFF"}
    )
    assert fresh.status_code == 201, fresh.text
    text = csv_text(
        DELEGATE_HEADER,
        "BBB,Fine Person,,delegate,",
        "AAA,Second Head,,head,",
        "ZZZ,Nobody Known,,delegate,",
        "BBB,,,delegate,",
        "CCC,Bad Mail,not-an-address,,",
        "FFF,First Head,,head,",
        "FFF,Other Head,,head,",
        "CCC,King,,king,",
        "CCC,Talker,,,english-please",
        ",No Code,,,",
    )
    before = await count(app, Delegate)
    events_before = await count(app, CredentialEvent)
    response = await import_csv(staff, world.assembly_id, "delegates", text)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"row": 3, "column": "role", "message": "AAA already has a head of delegation"},
        {"row": 4, "column": "nmo_code", "message": "there is no NMO ZZZ in this assembly"},
        {"row": 5, "column": "name", "message": "a delegate needs a name"},
        {"row": 6, "column": "email", "message": "'not-an-address' is not an email address"},
        {"row": 8, "column": "role", "message": "FFF already has a head in row 7"},
        {
            "row": 9,
            "column": "role",
            "message": "role must be one of head, delegate, observer, not 'king'",
        },
        {
            "row": 10,
            "column": "language",
            "message": "language is a language tag such as en, fr or pt-BR, not 'english-please'",
        },
        {"row": 11, "column": "nmo_code", "message": "the NMO code is empty"},
    ]
    assert await count(app, Delegate) == before
    assert await count(app, CredentialEvent) == events_before


async def test_a_delegate_file_without_the_nmo_code_column_is_refused(
    world: World, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    response = await import_csv(
        staff, world.assembly_id, "delegates", csv_text("name,email,team", "A,a@b.c,x")
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"row": 1, "column": "nmo_code", "message": "required column 'nmo_code' is missing"},
        {
            "row": 1,
            "column": "team",
            "message": "unknown column 'team'; the columns are nmo_code, name, email, role, "
            "language",
        },
    ]


async def test_a_semicolon_delegate_file_with_a_bom_imports(
    world: World, app: Litestar, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    before = await count(app, Delegate)
    text = "\ufeffnmo_code;name;email\r\nAAA;Anna, the second;anna@example.org\r\n"
    response = await import_csv(staff, world.assembly_id, "delegates", text)
    assert response.status_code == 201, response.text
    assert await count(app, Delegate) == before + 1
    delegates = (await staff.get(f"/api/nmos/{world.nmo['AAA']}/delegates")).json()
    assert delegates[-1]["name"] == "Anna, the second"
    assert delegates[-1]["email"] == "anna@example.org"


# --- the CLI ----------------------------------------------------------------------------


def run_cli(settings: Settings, *args: str) -> Result:
    env = {
        "ASSEMBLY_DATABASE_URL": settings.database_url,
        "ASSEMBLY_SECRET_KEY": SECRET,
        "ASSEMBLY_REDIS_URL": None,
    }
    return CliRunner().invoke(main, list(args), env=env)


async def test_the_cli_imports_nothing_from_a_bad_file_and_prints_each_bad_row(
    world: World, app: Litestar, settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "nmos.csv"
    bad.write_text(
        csv_text(
            "code,name,member_class,weight",
            "NEW1,Fine,full,1",
            "NEW2,Bad,honorary,1",
            "NEW3,Worse,full,abc",
        ),
        encoding="utf-8",
    )
    before = await count(app, Nmo)
    # The CLI runs its own event loop, so it runs in a thread beside the test's loop.
    result = await asyncio.to_thread(
        run_cli, settings, "import", "nmos", str(bad), "--assembly", str(world.assembly_id)
    )
    assert result.exit_code != 0, result.output
    assert "Nothing was imported" in result.output
    assert "row 3, column member_class: member_class must be one of" in result.output
    assert "row 4, column weight: weight: 'abc' is not a number" in result.output
    assert await count(app, Nmo) == before


async def test_the_cli_imports_a_good_file_with_a_bom(
    world: World, app: Litestar, settings: Settings, tmp_path: Path
) -> None:
    good = tmp_path / "nmos.csv"
    good.write_text(
        csv_text("code;name;weight", "NEW1;Fine;3/2", "NEW2;Also fine;2", separator=";"),
        encoding="utf-8-sig",
    )
    before = await count(app, Nmo)
    result = await asyncio.to_thread(
        run_cli, settings, "import", "nmos", str(good), "--assembly", str(world.assembly_id)
    )
    assert result.exit_code == 0, result.output
    assert "Imported 2 nmos." in result.output
    assert await count(app, Nmo) == before + 2


async def test_the_cli_refuses_an_unknown_assembly(
    world: World, settings: Settings, tmp_path: Path
) -> None:
    good = tmp_path / "nmos.csv"
    good.write_text(csv_text("code,name", "NEW1,Fine"), encoding="utf-8")
    result = await asyncio.to_thread(
        run_cli, settings, "import", "nmos", str(good), "--assembly", "999999"
    )
    assert result.exit_code != 0
    assert "There is no assembly 999999." in result.output
