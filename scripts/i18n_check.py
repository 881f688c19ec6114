"""Which messages of the code and templates lack a French or Spanish translation.

    .venv/bin/python scripts/i18n_check.py [PATH ...]   (default: src and templates)

Prints each missing message id by language and exits 1 when any is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

from assembly import i18n

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {**DEFAULT_KEYWORDS, "t": None}
METHODS = [("src/**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"trimmed": "true", "trim_blocks": "true", "lstrip_blocks": "true"}}


def extracted(paths: list[Path] | None = None) -> dict[str, list[str]]:
    """Every message id in the code and templates, with where it is used."""
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


def missing(paths: list[Path] | None = None) -> dict[str, list[str]]:
    """Message ids with no translation, by language."""
    ids = extracted(paths)
    out: dict[str, list[str]] = {}
    for lang in i18n.LANGUAGES:
        if lang == i18n.DEFAULT_LANGUAGE:
            continue
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in i18n.catalogue(lang) if m.id}
        plural_ids = {p for m in i18n.catalogue(lang) if isinstance(m.id, tuple) for p in m.id}
        out[lang] = sorted(i for i in ids if i not in known and i not in plural_ids)
    return out


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] or None
    gaps = missing(paths)
    for lang, ids in gaps.items():
        for msgid in ids:
            print(f"{lang}\t{msgid!r}")
    total = sum(len(v) for v in gaps.values())
    print(f"{len(extracted(paths))} messages, {total} translations missing", file=sys.stderr)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
