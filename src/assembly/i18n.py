"""Languages: every screen and message in English, French and Spanish through gettext
catalogues (Babel reads the .po files; nothing is compiled ahead of time).

The language of the work in hand is a context variable, as the write intent is: a request
sets it from the reader's choice, and a fragment pushed to many screens is rendered once per
language under `use_language`. Templates call `_()` / `{% trans %}`; Python code marks a
message a person will read with `t()`, which keeps its English text (tests and logs read
that) and is translated where it is shown.
"""

from __future__ import annotations

import functools
import gettext as _gettext
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

# Offered everywhere, in this order; the first is the source language of every message.
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "es": "Español"}
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).parent / "locale"

CURRENT: ContextVar[str] = ContextVar("assembly_language", default=DEFAULT_LANGUAGE)


def supported(lang: str | None) -> str | None:
    """The language code we offer for `lang` ('fr-CH' -> 'fr'), or None."""
    if not lang:
        return None
    code = lang.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def current_language() -> str:
    return CURRENT.get()


@contextmanager
def use_language(lang: str | None) -> Iterator[str]:
    """Render or translate in `lang` (an unknown code falls back to English)."""
    code = supported(lang) or DEFAULT_LANGUAGE
    token = CURRENT.set(code)
    try:
        yield code
    finally:
        CURRENT.reset(token)


def catalogue(lang: str) -> Catalog:
    """Every .po file of a language merged: the catalogues are kept one file per area."""
    merged = Catalog(locale=lang, domain="messages")
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    for path in sorted(folder.glob("*.po")):
        with path.open("rb") as fp:
            po = read_po(fp, locale=lang)
        for entry in po:
            if entry.id and entry.string and not entry.fuzzy:
                merged[entry.id] = entry
        # The plural rule the translators wrote the forms for (the .po's Plural-Forms), not
        # CLDR's: Babel's French and Spanish now have a third form ("many", for millions),
        # which would send every plural past one to a form no catalogue has: English.
        if any(name.lower() == "plural-forms" for name, _ in po.mime_headers):
            merged.mime_headers = [("Plural-Forms", po.plural_forms)]
    return merged


@functools.cache
def translations(lang: str) -> _gettext.NullTranslations:
    if lang == DEFAULT_LANGUAGE:
        return _gettext.NullTranslations()
    buffer = BytesIO()
    write_mo(buffer, catalogue(lang))
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def gettext(message: str) -> str:
    return translations(CURRENT.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(CURRENT.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(CURRENT.get()).pgettext(context, message)


class Message(str):
    """A message for a person: its English text, plus what it takes to translate it later.
    `t("Vote {number} is closed.", number=3)` is the str "Vote 3 is closed." everywhere
    (logs, tests, comparisons) and `translate(...)` gives it in the reader's language."""

    msgid: str
    params: Mapping[str, Any]

    def __new__(cls, msgid: str, params: Mapping[str, Any] | None = None) -> Message:
        params = dict(params or {})
        self = super().__new__(cls, msgid.format(**params) if params else msgid)
        self.msgid = msgid
        self.params = params
        return self

    def translated(self, lang: str | None = None) -> str:
        with use_language(lang or CURRENT.get()):
            text = gettext(self.msgid)
            params = {k: translate(v) for k, v in self.params.items()}
            return text.format(**params) if params else text


def t(msgid: str, /, **params: Any) -> Message:
    """Mark a message for translation; placeholders are str.format names: {number}."""
    return Message(msgid, params)


def translate(text: Any, lang: str | None = None) -> Any:
    """A Message in the current (or given) language; anything else as it is."""
    if isinstance(text, Message):
        return text.translated(lang)
    return text
