"""Which messages of the code and templates lack a French or Spanish translation.

    .venv/bin/python scripts/i18n_check.py [PATH ...]   (default: src and templates)

Prints each missing message id by language, and each translation whose placeholders differ
from its message's, and exits 1 when there is any (the checks are in assembly.catalogues).
"""

from __future__ import annotations

import sys
from pathlib import Path

from assembly.catalogues import extracted, mismatched_placeholders, missing


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] or None
    gaps = missing(paths)
    for lang, ids in gaps.items():
        for msgid in ids:
            print(f"{lang}\t{msgid!r}")
    total = sum(len(v) for v in gaps.values())
    wrong = mismatched_placeholders()
    for lang, ids in wrong.items():
        for msgid in ids:
            print(f"{lang}\tplaceholders differ\t{msgid!r}")
    bad = sum(len(v) for v in wrong.values())
    print(
        f"{len(extracted(paths))} messages, {total} translations missing, "
        f"{bad} with other placeholders",
        file=sys.stderr,
    )
    return 1 if total or bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
