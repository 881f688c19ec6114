"""Languages: the catalogues cover every message in French and Spanish; each request is
answered in its reader's language (the address, this device's choice, the delegate's stored
one, Accept-Language, the assembly's); fragments pushed to phones come in each phone's
language, and the API's refusals in the caller's."""

from __future__ import annotations

import gettext
import re
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import select

from assembly import catalogues, i18n
from assembly.credentials.models import Assembly, Delegate
from assembly.db import writing
from assembly.language import LANG_COOKIE, accepted
from assembly.settings import Settings
from tests.conftest import PASSWORD, ClientFactory, World
from tests.voting.test_screens import HX, server, session_of

WAIT_S = 10


def html_lang(page: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', page)
    assert found, page[:300]
    return found.group(1)


class Marked(gettext.NullTranslations):
    """A stand-in catalogue that marks every message with its language, so a test can tell
    which language a page or fragment was rendered in whatever the real catalogues hold."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def gettext(self, message: str) -> str:
        return f"[{self.lang}] {message}"

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return f"[{self.lang}] {msgid1 if n == 1 else msgid2}"

    def pgettext(self, context: str, message: str) -> str:
        return f"[{self.lang}] {message}"


@pytest.fixture
def marked(monkeypatch: pytest.MonkeyPatch) -> None:
    def translations(lang: str) -> gettext.NullTranslations:
        return gettext.NullTranslations() if lang == i18n.DEFAULT_LANGUAGE else Marked(lang)

    monkeypatch.setattr(i18n, "translations", translations)


async def set_language(app: Litestar, *, assembly_id: int, delegates: dict[int, str]) -> None:
    async with writing(app.state.ctx.session_maker) as db:
        for delegate_id, lang in delegates.items():
            delegate = await db.get(Delegate, delegate_id)
            assert delegate is not None
            delegate.language = lang
        await db.commit()


async def set_assembly_language(app: Litestar, assembly_id: int, lang: str) -> None:
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await db.get(Assembly, assembly_id)
        assert assembly is not None
        assembly.language = lang
        await db.commit()


# --- the catalogues ------------------------------------------------------------------------


def test_every_message_has_a_french_and_a_spanish_translation() -> None:
    ids = catalogues.extracted()
    assert len(ids) > 100, "the extraction found almost nothing: is babel.cfg still right?"
    gaps = catalogues.missing()
    report = {
        lang: [f"{m!r} ({ids[m][0]})" for m in missing[:20]] for lang, missing in gaps.items()
    }
    assert gaps == {"fr": [], "es": []}, (
        f"{sum(map(len, gaps.values()))} translations missing (run scripts/i18n_check.py); "
        f"the first: {report}"
    )


def test_every_translation_keeps_the_placeholders_of_its_message() -> None:
    assert catalogues.mismatched_placeholders() == {"fr": [], "es": []}


def test_placeholders_are_found_in_both_styles() -> None:
    assert catalogues.placeholders("Vote {number} of %(count)s, {n:,} and {x!r}") == {
        "number",
        "count",
        "n",
        "x",
    }
    assert catalogues.placeholders("100%% sure, {{literal}}") == set()


def test_a_translation_that_loses_or_invents_a_placeholder_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from babel.messages.catalog import Catalog

    def catalogue(lang: str) -> Catalog:
        found = Catalog(locale=lang)
        found.add("Vote {number} is closed.", f"[{lang}] Le vote est clos.")
        found.add("%(num)s of %(total)s", f"[{lang}] %(num)s sur %(total)s")
        found.add(("%(num)s vote", "%(num)s votes"), (f"[{lang}] un vote", "%(num)s %(who)s"))
        found.add(("%(num)s NMO", "%(num)s NMOs"), ("une NMO", "%(num)s NMO"))
        return found

    monkeypatch.setattr(i18n, "catalogue", catalogue)
    assert catalogues.mismatched_placeholders() == {
        "fr": ["%(num)s vote", "Vote {number} is closed."],
        "es": ["%(num)s vote", "Vote {number} is closed."],
    }


def test_the_language_chooser_and_the_assembly_language_are_translated() -> None:
    for lang, expected in (("fr", "Langue"), ("es", "Idioma")):
        with i18n.use_language(lang):
            assert i18n.gettext("Language") == expected
            assert i18n.t("Choose one of the languages offered.").translated() != (
                "Choose one of the languages offered."
            )


def test_accept_language_picks_the_most_wanted_language_we_offer() -> None:
    assert accepted("de-CH, es;q=0.5, fr-FR;q=0.8") == "fr"
    assert accepted("es-419,es;q=0.9,en;q=0.8") == "es"
    assert accepted("fr;q=0, en;q=0.1") == "en"
    assert accepted("de, it") is None
    assert accepted("") is None
    assert accepted("fr;q=abc, es") == "es"


# --- which language a request is answered in ---------------------------------------------


async def test_a_cookie_choice_comes_before_the_browsers_accept_language(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    page = await client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert html_lang(page.text) == "fr"
    client.cookies.set(LANG_COOKIE, "es")
    page = await client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert html_lang(page.text) == "es"
    assert 'lang="es" aria-pressed="true"' in page.text


async def test_a_delegate_sees_their_stored_language_whatever_the_browser_asks(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    await set_language(
        app, assembly_id=world.assembly_id, delegates={world.delegate["AAA-head"]: "fr"}
    )
    phone = await make_client(token=world.token["AAA-head"])
    page = await phone.get("/delegate", headers={"Accept-Language": "es"})
    assert page.status_code == 200, page.text
    assert html_lang(page.text) == "fr"
    other = await make_client(token=world.token["BBB-head"])
    assert html_lang((await other.get("/delegate")).text) == "en"


async def test_staff_screens_follow_accept_language_then_the_assembly_language(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    page = await chair.get(
        f"/chair?assembly={world.assembly_id}", headers={"Accept-Language": "es"}
    )
    assert page.status_code == 200 and html_lang(page.text) == "es"
    await set_assembly_language(app, world.assembly_id, "fr")
    app.state.ctx.assembly_languages.forget(world.assembly_id)
    page = await chair.get(f"/chair?assembly={world.assembly_id}")
    assert html_lang(page.text) == "fr"


async def test_the_secretariat_sets_the_assembly_language_in_the_rules_form(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="secretariat")
    shown = await client.get(f"/secretariat?assembly={world.assembly_id}")
    assert '<select id="rule-language" name="language"' in shown.text
    assert '<option value="en" lang="en" selected>English</option>' in shown.text
    form = {
        "name": "Test GA",
        "place": "",
        "language": "es",
        "quorum_share": "1/2",
        "quorum_strict": "strict",
        "max_proxies": "1",
        "majority_ordinary": "simple",
        "majority_procedural": "two_thirds",
        "majority_amendment": "simple",
        "majority_policy": "two_thirds",
        "majority_constitution": "two_thirds",
        "majority_bylaws": "two_thirds",
        "majority_membership": "two_thirds",
        "reason": "Spanish this year",
    }
    saved = await client.post(
        f"/secretariat/assemblies/{world.assembly_id}/rules", data=form, headers=HX
    )
    assert saved.status_code == 200, saved.text
    assert '<option value="es" lang="es" selected>Español</option>' in saved.text
    async with app.state.ctx.session_maker() as db:
        assembly = await db.get(Assembly, world.assembly_id)
        assert assembly is not None and assembly.language == "es"
    projector = await client.get(f"/projector/{world.assembly_id}")
    assert html_lang(projector.text) == "es"


async def test_the_projector_shows_the_assembly_language_and_listens_in_it(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    await set_assembly_language(app, world.assembly_id, "es")
    chair = await make_client(staff="chair")
    chair.cookies.set(LANG_COOKIE, "fr")
    page = await chair.get(f"/projector/{world.assembly_id}", headers={"Accept-Language": "fr"})
    assert page.status_code == 200, page.text
    assert html_lang(page.text) == "es"
    assert f'ws-connect="/ws/assembly/{world.assembly_id}?lang=es"' in page.text
    assert 'hx-vals=\'{"lang": "es"}\'' in page.text
    assert 'action="/language"' not in page.text  # the room's screen has no chooser
    # Its live fetches say the language, and are answered in it.
    floor = await chair.get(f"/agenda/{world.assembly_id}/floor?lang=es")
    assert floor.status_code == 200


async def test_a_delegate_chooses_a_language_on_the_phone_and_it_is_kept(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    phone = await make_client(token=world.token["AAA-head"])
    chosen = await phone.post(
        "/language", data={"language": "fr", "next": "/delegate"}, follow_redirects=False
    )
    assert chosen.status_code == 303, chosen.text
    assert chosen.headers["location"] == "/delegate"
    assert phone.cookies.get(LANG_COOKIE) == "fr"
    async with app.state.ctx.session_maker() as db:
        stored = await db.scalar(
            select(Delegate.language).where(Delegate.id == world.delegate["AAA-head"])
        )
    assert stored == "fr"
    assert html_lang((await phone.get("/delegate")).text) == "fr"


@pytest.mark.usefixtures("world")
async def test_staff_choose_a_language_for_their_device_only(make_client: ClientFactory) -> None:
    desk = await make_client(staff="desk")
    chosen = await desk.post(
        "/language",
        data={"language": "es", "next": "https://elsewhere.example/"},
        follow_redirects=False,
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == "/"
    assert desk.cookies.get(LANG_COOKIE) == "es"
    assert html_lang((await desk.get("/desk")).text) == "es"


async def test_a_language_we_do_not_offer_is_refused_in_the_readers_language(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    refused = await client.post(
        "/language", data={"language": "de"}, headers={"Accept-Language": "es"}
    )
    assert refused.status_code == 422
    assert "Elija uno de los idiomas ofrecidos." in refused.text
    assert html_lang(refused.text) == "es"


async def test_a_language_chosen_before_logging_in_becomes_the_delegates(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    phone = await make_client()
    phone.cookies.set(LANG_COOKIE, "es")
    logged_in = await phone.get(f"/login/{world.token['CCC-head']}", follow_redirects=False)
    assert logged_in.status_code == 303, logged_in.text
    async with app.state.ctx.session_maker() as db:
        delegate = await db.get(Delegate, world.delegate["CCC-head"])
        assert delegate is not None and delegate.language == "es"


# --- the API's refusals -------------------------------------------------------------------


@pytest.mark.usefixtures("marked")
async def test_an_api_refusal_comes_in_the_language_of_accept_language(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    english = await client.get("/api/assemblies")
    assert english.status_code == 401
    message = english.json()["message"]
    assert not message.startswith("[")
    for lang in ("fr", "es"):
        refused = await client.get("/api/assemblies", headers={"Accept-Language": lang})
        assert refused.status_code == 401
        body = refused.json()
        assert body["error"] == english.json()["error"]
        assert body["message"] == f"[{lang}] {message}"


@pytest.mark.usefixtures("marked")
async def test_an_api_refusal_to_a_delegate_comes_in_their_language(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    await set_language(
        app, assembly_id=world.assembly_id, delegates={world.delegate["AAA-del"]: "es"}
    )
    phone = await make_client(token=world.token["AAA-del"])
    refused = await phone.get(f"/api/assemblies/{world.assembly_id}/electorate")
    assert refused.status_code == 403
    assert refused.json()["message"].startswith("[es] ")


# --- pushed fragments ---------------------------------------------------------------------


def receive_until(socket: Any, marker: str) -> str:
    while True:
        message: str = socket.receive_text(timeout=WAIT_S)
        if marker in message:
            return message


@pytest.mark.usefixtures("marked")
def test_a_pushed_fragment_reaches_a_french_phone_in_french_and_an_english_one_in_english(
    settings: Settings, world: World
) -> None:
    with server(settings) as client:
        chair = session_of(
            client, "/api/auth/login", json={"username": "chair", "password": PASSWORD}
        )
        french = session_of(client, f"/login/{world.token['AAA-head']}")
        english = session_of(client, f"/login/{world.token['BBB-head']}")
        chose = client.post(
            "/language", data={"language": "fr"}, headers=french, follow_redirects=False
        )
        assert chose.status_code == 303, chose.text
        item = client.post(
            f"/api/assemblies/{world.assembly_id}/agenda", json={"title": "Debate"}, headers=chair
        ).json()
        assert client.post(f"/api/agenda-items/{item['id']}/current", headers=chair).is_success
        url = f"/ws/assembly/{world.assembly_id}"
        with (
            client.websocket_connect(url, headers=french) as french_socket,
            client.websocket_connect(url, headers=english) as english_socket,
            client.websocket_connect(f"{url}?lang=es", headers=chair) as projector_socket,
        ):
            asked = client.post(
                f"/floor/{item['id']}/ask", data={"kind": "speech"}, headers={**french, **HX}
            )
            assert asked.status_code == 200, asked.text
            assert "[fr] " in asked.text  # the answer to the request itself
            shared_fr = receive_until(french_socket, 'id="floor"')
            assert "[fr] " in shared_fr and "[es] " not in shared_fr
            shared_en = receive_until(english_socket, 'id="floor"')
            assert "[fr] " not in shared_en and "[es] " not in shared_en
            shared_es = receive_until(projector_socket, 'id="floor"')
            assert "[es] " in shared_es
            # The French phone's own controls, pushed to it alone, are in French too.
            mine = receive_until(french_socket, 'id="my-floor"')
            assert "[fr] " in mine
