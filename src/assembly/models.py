"""Imports every domain's tables so the metadata (and Alembic) sees the whole schema."""

from __future__ import annotations


def import_all() -> None:
    import assembly.agenda.models
    import assembly.audit.models
    import assembly.credentials.models
    import assembly.publishing.models
    import assembly.voting.models  # noqa: F401
