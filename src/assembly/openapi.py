"""What the OpenAPI schema of the JSON API promises beyond Litestar's defaults: the body of
every refusal, request shapes that refuse fields they do not know, and ids that fit the
database."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi import ResponseSpec
from litestar.routes import HTTPRoute

from assembly.errors import MAX_NUMBER

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema
    from litestar.typing import FieldDefinition

# An id in a request body: a larger number names nothing (and would fail in the database
# driver); the refusal names the field.
Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_NUMBER)]

# Paths that answer JSON (errors included); everything else is a page.
JSON_PATHS = ("/api/", "/health", "/schema")

# Every JSON route may refuse with these: the guard, a missing id, the assembly's rules, bad
# input, too big a body, a body not in JSON, too many logins.
ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429)


@dataclass
class ErrorBody:
    """What the JSON API answers to every request it refuses (app._error_response)."""

    error: str
    message: str
    errors: list[dict[str, Any]] | None = None


def declare_error_responses(app: Litestar) -> None:
    """Declare ErrorBody for the JSON routes' refusals, where Litestar would declare its own
    error shape (which the app never sends). Runs before the schema is first built."""
    responses = {
        status: ResponseSpec(
            ErrorBody, generate_examples=False, description=HTTPStatus(status).phrase
        )
        for status in ERROR_STATUSES
    }
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path.startswith(JSON_PATHS):
            for handler, _ in route.route_handler_map.values():
                handler.responses = {**responses, **(handler.responses or {})}


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """A msgspec struct with forbid_unknown_fields refuses a request with any other field:
    its schema says so (additionalProperties: false), so clients know before they try."""

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if isinstance(info, msgspec.inspect.StructType) and info.forbid_unknown_fields:
            schema.additional_properties = False
        return schema
