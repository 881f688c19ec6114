"""Whether the French and Spanish catalogues cover every message of the code and templates,
and keep each message's placeholders: used by scripts/i18n_check.py and tests/test_i18n.py.

Messages are found as `pybabel extract -F babel.cfg -k t` finds them (a source checkout:
the templates are beside the package, not in it).
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

from assembly import i18n

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {**DEFAULT_KEYWORDS, "t": None}
METHODS = [("src/**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"trimmed": "true", "trim_blocks": "true", "lstrip_blocks": "true"}}
# %(name)s in templates ({% trans %} and _() with values), {name} in t() messages.
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]|\{(\w+)(?:[!:][^{}]*)?\}")


def extracted(paths: list[Path] | None = None) -> dict[str, list[str]]:
    """Every message id in the code and templates, with where it is used (plural forms are
    listed under their singular and their plural)."""
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        ROOT, METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        where = ROOT / filename
        if paths and not any(where.is_relative_to(p) or where == p for p in paths):
            continue
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def forms(value: object) -> tuple[str, ...]:
    """A catalogue entry's id or string as its forms: one, or singular and plurals."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return ()


def translated_ids(lang: str) -> set[str]:
    """The message ids (singular and plural) with a translation in every form."""
    known: set[str] = set()
    for entry in i18n.catalogue(lang):
        strings = forms(entry.string)
        if entry.id and strings and all(s.strip() for s in strings):
            known.update(forms(entry.id))
    return known


def missing(paths: list[Path] | None = None) -> dict[str, list[str]]:
    """Message ids with no (or an empty) translation, by language."""
    ids = extracted(paths)
    out: dict[str, list[str]] = {}
    for lang in i18n.LANGUAGES:
        if lang == i18n.DEFAULT_LANGUAGE:
            continue
        known = translated_ids(lang)
        out[lang] = sorted(i for i in ids if i not in known)
    return out


def placeholders(text: str) -> set[str]:
    """The names a message fills in ('%%', '{{' and '}}' are literal signs, not names)."""
    text = text.replace("%%", "").replace("{{", "").replace("}}", "")
    return {a or b for a, b in PLACEHOLDER.findall(text)}


def mismatched_placeholders() -> dict[str, list[str]]:
    """Translations whose placeholders are not those of their message id, by language: a
    missing one loses a value, an unknown one fails when the message is shown."""
    out: dict[str, list[str]] = {}
    for lang in i18n.LANGUAGES:
        if lang == i18n.DEFAULT_LANGUAGE:
            continue
        wrong: list[str] = []
        for entry in i18n.catalogue(lang):
            ids, strings = forms(entry.id), [s for s in forms(entry.string) if s]
            if not ids or not strings:
                continue
            if len(ids) > 1:
                # A plural form may leave the number out ("un vote"), never add a name.
                allowed = set().union(*map(placeholders, ids))
                if any(not placeholders(s) <= allowed for s in strings):
                    wrong.append(ids[0])
            elif placeholders(strings[0]) != placeholders(ids[0]):
                wrong.append(ids[0])
        out[lang] = sorted(wrong)
    return out
