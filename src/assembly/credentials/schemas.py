"""Shapes of the credentials JSON API (requests and responses), documented in OpenAPI."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from assembly.credentials import rules
from assembly.credentials.models import Assembly, Delegate, Nmo, Proxy
from assembly.openapi import Id


class Struct(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


# Weights and shares travel as text ("1", "2.5", "3/2") so JSON never turns them into floats.
Weight = str | int


class AssemblyCreate(Struct):
    name: str = msgspec.field()
    place: str = ""
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    language: str = "en"
    rules: dict[str, Any] = msgspec.field(default_factory=dict)


class AssemblyUpdate(Struct):
    name: str | None = None
    place: str | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    language: str | None = None
    rules: dict[str, Any] = msgspec.field(default_factory=dict)
    reason: str = ""


class AssemblyOut(Struct):
    id: int
    name: str
    place: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    language: str
    rules: dict[str, Any]


class NmoCreate(Struct):
    code: str
    name: str
    country: str = ""
    member_class: str = "full"
    weight: Weight = 1


class NmoUpdate(Struct):
    name: str | None = None
    country: str | None = None
    member_class: str | None = None
    weight: Weight | None = None
    reason: str = ""


class NmoOut(Struct):
    id: int
    assembly_id: int
    code: str
    name: str
    country: str
    member_class: str
    weight: str
    credentialed: bool
    right_holder_id: int | None
    present: bool


class CredentialChange(Struct):
    credentialed: bool
    reason: str = ""


class DelegateCreate(Struct):
    name: str
    email: str = ""
    role: str = "delegate"
    language: str = "en"


class DelegateUpdate(Struct):
    name: str | None = None
    email: str | None = None
    role: str | None = None
    language: str | None = None


class DelegateOut(Struct):
    id: int
    nmo_id: int
    name: str
    email: str
    role: str
    language: str
    checked_in: bool
    holds_vote: bool


class LoginLink(Struct):
    delegate_id: int
    login_url: str


class RightHandover(Struct):
    holder_id: Id


class ProxyCreate(Struct):
    giver_id: Id
    holder_id: Id


class ProxyOut(Struct):
    id: int
    giver_id: int
    giver_code: str
    holder_id: int
    holder_code: str
    given_at: dt.datetime
    given_by: str
    revoked_at: dt.datetime | None


class QuorumOut(Struct):
    full_members: int
    present: int
    represented_by_proxy: int
    required: int
    met: bool
    weight_total: str
    weight_present: str
    weight_represented: str
    rule: str
    explanation: str


class EntitlementOut(Struct):
    nmo_id: int
    nmo_code: str
    weight: str
    cast_by_nmo_id: int
    cast_by_nmo_code: str
    cast_by_delegate_id: int | None
    via_proxy: bool


class EventOut(Struct):
    id: int
    at: dt.datetime
    actor: str
    kind: str
    nmo_id: int | None
    delegate_id: int | None
    detail: dict[str, Any]
    reason: str


class StaffLogin(Struct):
    username: str
    password: str


class StaffCreate(Struct):
    username: str
    password: str
    role: str
    display_name: str = ""


class StaffOut(Struct):
    id: int
    username: str
    display_name: str
    role: str
    active: bool


class Me(Struct):
    role: str
    name: str
    staff_user_id: int | None
    delegate_id: int | None
    nmo_id: int | None
    assembly_id: int | None
    is_head: bool


class CheckIn(Struct):
    present: bool = True


class SelfCheckInSwitch(Struct):
    allowed: bool


class Scan(Struct):
    scanned: str
    present: bool = True


class ImportResult(Struct):
    created: int
    message: str


def assembly_out(a: Assembly) -> AssemblyOut:
    from assembly.credentials.service import assembly_rules

    return AssemblyOut(
        id=a.id,
        name=a.name,
        place=a.place,
        starts_on=a.starts_on,
        ends_on=a.ends_on,
        language=a.language,
        rules=assembly_rules(a),
    )


def nmo_out(n: Nmo, holder_id: int | None, present: bool) -> NmoOut:
    return NmoOut(
        id=n.id,
        assembly_id=n.assembly_id,
        code=n.code,
        name=n.name,
        country=n.country,
        member_class=n.member_class,
        weight=rules.format_weight(n.weight),
        credentialed=n.credentialed,
        right_holder_id=holder_id,
        present=present,
    )


def delegate_out(d: Delegate, holder_id: int | None) -> DelegateOut:
    return DelegateOut(
        id=d.id,
        nmo_id=d.nmo_id,
        name=d.name,
        email=d.email,
        role=d.role,
        language=d.language,
        checked_in=d.checked_in,
        holds_vote=holder_id == d.id,
    )


def proxy_out(p: Proxy, codes: dict[int, str]) -> ProxyOut:
    return ProxyOut(
        id=p.id,
        giver_id=p.giver_id,
        giver_code=codes.get(p.giver_id, "?"),
        holder_id=p.holder_id,
        holder_code=codes.get(p.holder_id, "?"),
        given_at=p.given_at,
        given_by=p.given_by,
        revoked_at=p.revoked_at,
    )


def quorum_out(q: rules.QuorumStatus) -> QuorumOut:
    return QuorumOut(
        full_members=q.full_members,
        present=q.present,
        represented_by_proxy=q.represented_by_proxy,
        required=q.required,
        met=q.met,
        weight_total=rules.format_weight(q.weight_total),
        weight_present=rules.format_weight(q.weight_present),
        weight_represented=rules.format_weight(q.weight_represented),
        rule=q.rule.describe(),
        explanation=q.explain(),
    )
