"""Domain errors: a message a person can act on, mapped to HTTP in one place (app.py)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the assembly gives; `status` is the HTTP status it maps to."""

    status = 400
    code = "refused"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class LoginRequired(NotAuthenticated):
    """Nobody is logged in and the route needs a login: pages send the browser to log in."""


class Conflict(DomainError):
    """The request is well-formed but the assembly's state or rules refuse it."""

    status = 409
    code = "conflict"


class UnsupportedMediaType(DomainError):
    """The body is not in the format the address reads (the JSON API reads JSON)."""

    status = 415
    code = "unsupported_media_type"


class Invalid(DomainError):
    """The input itself is wrong (a value, a field, a row of a file)."""

    status = 422
    code = "invalid"

    def __init__(self, message: str, *, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


# Numbers in a path or a query stay within 32 bits: more than an assembly will ever count,
# and what PostgreSQL's INTEGER columns hold (beyond it the database driver fails instead).
MAX_NUMBER = 2**31 - 1
