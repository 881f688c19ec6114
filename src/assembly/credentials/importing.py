"""CSV import of NMOs and delegates: every row checked first, then all stored or none.

The secretariat keeps its member lists in spreadsheets; we read what a spreadsheet exports
(UTF-8, optional BOM, comma or semicolon separated, a header row) with the stdlib csv module.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.credentials import service
from assembly.credentials.auth import TokenSealer
from assembly.credentials.models import Assembly, Delegate, Nmo
from assembly.errors import DomainError, Invalid
from assembly.i18n import Message, t

NMO_COLUMNS = ("code", "name", "country", "member_class", "weight")
NMO_REQUIRED = ("code", "name")
DELEGATE_COLUMNS = ("nmo_code", "name", "email", "role", "language")
DELEGATE_REQUIRED = ("nmo_code", "name")
MAX_ROWS = 5000
SEPARATORS = (",", ";", "\t")


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # as the spreadsheet numbers it: the header is row 1
    column: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "message": self.message}


def separator_of(text: str) -> str:
    """The separator the header row uses: spreadsheets write `,` or, where the decimal mark
    is a comma, `;` (tabs when copied). Column names hold none of them, so the header decides;
    guessing from the data (csv.Sniffer) also guesses quote characters and mangles names."""
    header = text.split("\n", 1)[0]
    best = max(SEPARATORS, key=header.count)
    return best if header.count(best) else ","


def read_rows(
    text: str, columns: tuple[str, ...], required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number, cells) with header names normalised; raise Invalid on a bad header."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise Invalid(t("The file is empty: it needs a header row and at least one row."))
    # strict: an unclosed quote is an error, not a cell that swallows the rest of the file.
    reader = csv.reader(io.StringIO(text), csv.excel, delimiter=separator_of(text), strict=True)
    try:
        header = [h.strip().lower().replace(" ", "_") for h in next(reader)]
    except StopIteration:
        raise Invalid(t("The file is empty: it needs a header row and at least one row.")) from None
    except csv.Error as exc:
        raise Invalid(t("The header row cannot be read as CSV: {exc}.", exc=exc)) from None
    unknown = [h for h in header if h and h not in columns]
    missing = [c for c in required if c not in header]
    twice = sorted({h for h in header if h and header.count(h) > 1})
    errors = [RowError(1, c, t("required column {c!r} is missing", c=c)) for c in missing]
    errors += [
        RowError(
            1,
            h,
            t("unknown column {h!r}; the columns are {columns}", h=h, columns=", ".join(columns)),
        )
        for h in unknown
    ]
    errors += [RowError(1, h, t("column {h!r} appears more than once", h=h)) for h in twice]
    if errors:
        raise Invalid(_summary(errors), errors=[e.as_dict() for e in errors])
    rows = enumerate(reader, start=2)
    while True:
        try:
            number, cells = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            raise Invalid(
                t(
                    "Nothing was imported: the file is not valid CSV at line {line_num} "
                    "({exc}); check its quotes.",
                    line_num=reader.line_num,
                    exc=exc,
                )
            ) from None
        if not any(c.strip() for c in cells):
            continue
        if number - 1 > MAX_ROWS:
            raise Invalid(t("The file has more than {max_rows} rows; split it.", max_rows=MAX_ROWS))
        if len(cells) > len(header):
            yield number, {"__extra__": str(len(cells) - len(header))}
            continue
        yield (
            number,
            {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)},
        )


class _Clause(Message):
    """A message read inside another sentence: without its final period, in any language."""

    def __new__(cls, message: Message) -> _Clause:
        self = str.__new__(cls, str.rstrip(message, "."))
        self.msgid = message.msgid
        self.params = message.params
        return self

    def translated(self, lang: str | None = None) -> str:
        return super().translated(lang).rstrip(".")


def _clause(message: str) -> str:
    return _Clause(message) if isinstance(message, Message) else message.rstrip(".")


def _summary(errors: list[RowError]) -> str:
    first = errors[0]
    words = {"row": first.row, "column": first.column, "message": first.message}
    if len(errors) > 1:
        return t(
            "Nothing was imported: row {row}, column {column}: {message} (and {more} more).",
            more=len(errors) - 1,
            **words,
        )
    return t("Nothing was imported: row {row}, column {column}: {message}.", **words)


def _name_length(value: str) -> str:
    return service.check_length("name", value, service.NAME_LENGTH)


def _country_length(value: str) -> str:
    return service.check_length("country", value, 100)


def _check(errors: list[RowError], row: int, column: str, fn: object, value: object) -> object:
    try:
        return fn(value)  # type: ignore[operator]
    except DomainError as exc:
        errors.append(RowError(row, column, _clause(exc.message)))
        return None


async def import_nmos(db: AsyncSession, assembly: Assembly, actor: str, text: str) -> int:
    existing = set(
        (await db.execute(select(Nmo.code).where(Nmo.assembly_id == assembly.id))).scalars()
    )
    errors: list[RowError] = []
    good: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for number, cells in read_rows(text, NMO_COLUMNS, NMO_REQUIRED):
        if "__extra__" in cells:
            errors.append(RowError(number, "-", t("the row has more cells than the header")))
            continue
        before = len(errors)
        code = _check(errors, number, "code", service.check_code, cells.get("code", ""))
        if not cells.get("name"):
            errors.append(RowError(number, "name", t("an NMO needs a name")))
        else:
            _check(errors, number, "name", _name_length, cells["name"])
        _check(errors, number, "country", _country_length, cells.get("country", ""))
        _check(
            errors,
            number,
            "member_class",
            service.check_member_class,
            cells.get("member_class") or "full",
        )
        _check(errors, number, "weight", service.check_weight, cells.get("weight") or "1")
        if isinstance(code, str):
            if code in existing:
                errors.append(
                    RowError(number, "code", t("NMO {code} is already registered", code=code))
                )
            elif code in seen:
                errors.append(
                    RowError(
                        number,
                        "code",
                        t("NMO {code} is already in row {row}", code=code, row=seen[code]),
                    )
                )
            seen.setdefault(code, number)
        if len(errors) == before:
            good.append(cells)
    if errors:
        raise Invalid(_summary(errors), errors=[e.as_dict() for e in errors])
    if not good:
        raise Invalid(t("The file has a header but no rows to import."))
    for cells in good:
        await service.add_nmo(
            db,
            assembly,
            actor,
            code=cells["code"],
            name=cells["name"],
            country=cells.get("country", ""),
            member_class=cells.get("member_class") or "full",
            weight=cells.get("weight") or "1",
        )
    service.record(db, assembly.id, "import_nmos", actor, detail={"rows": len(good)})
    return len(good)


async def import_delegates(
    db: AsyncSession, sealer: TokenSealer, assembly: Assembly, actor: str, text: str
) -> int:
    nmos = {
        n.code: n
        for n in (await db.execute(select(Nmo).where(Nmo.assembly_id == assembly.id))).scalars()
    }
    heads = set(
        (
            await db.execute(
                select(Nmo.code)
                .join(Delegate, Delegate.nmo_id == Nmo.id)
                .where(Nmo.assembly_id == assembly.id, Delegate.role == "head")
            )
        ).scalars()
    )
    errors: list[RowError] = []
    good: list[dict[str, str]] = []
    head_rows: dict[str, int] = {}
    for number, cells in read_rows(text, DELEGATE_COLUMNS, DELEGATE_REQUIRED):
        if "__extra__" in cells:
            errors.append(RowError(number, "-", t("the row has more cells than the header")))
            continue
        before = len(errors)
        code = cells.get("nmo_code", "")
        if not code:
            errors.append(RowError(number, "nmo_code", t("the NMO code is empty")))
        elif code not in nmos:
            errors.append(
                RowError(
                    number, "nmo_code", t("there is no NMO {code} in this assembly", code=code)
                )
            )
        if not cells.get("name"):
            errors.append(RowError(number, "name", t("a delegate needs a name")))
        else:
            _check(errors, number, "name", _name_length, cells["name"])
        _check(errors, number, "email", service.check_email, cells.get("email", ""))
        _check(errors, number, "language", service.check_language, cells.get("language") or "en")
        role = cells.get("role") or "delegate"
        _check(errors, number, "role", service.check_role, role)
        if role == "head" and code:
            if code in heads:
                errors.append(
                    RowError(
                        number, "role", t("{code} already has a head of delegation", code=code)
                    )
                )
            elif code in head_rows:
                errors.append(
                    RowError(
                        number,
                        "role",
                        t("{code} already has a head in row {row}", code=code, row=head_rows[code]),
                    )
                )
            head_rows.setdefault(code, number)
        if len(errors) == before:
            good.append(cells)
    if errors:
        raise Invalid(_summary(errors), errors=[e.as_dict() for e in errors])
    if not good:
        raise Invalid(t("The file has a header but no rows to import."))
    for cells in good:
        await service.add_delegate(
            db,
            sealer,
            nmos[cells["nmo_code"]],
            actor,
            name=cells["name"],
            email=cells.get("email", ""),
            role=cells.get("role") or "delegate",
            language=cells.get("language") or "en",
        )
    service.record(db, assembly.id, "import_delegates", actor, detail={"rows": len(good)})
    return len(good)
