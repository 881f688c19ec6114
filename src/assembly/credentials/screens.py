"""Role screens (secretariat, desk, delegate, chair): filled in below."""

from __future__ import annotations

from typing import Any


def handlers() -> list[Any]:
    return []
