"""Credentials logic over the database: every change is checked by rules.py and recorded.

Functions take an AsyncSession and leave committing to the caller (the request), so one
request is one transaction: a change is stored whole, with its record, or not at all.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda.speakers import MOTION_KINDS
from assembly.audit import log as audit_log
from assembly.credentials import rules
from assembly.credentials.auth import (
    Principal,
    Role,
    TokenSealer,
    check_password_strength,
    hash_password,
    hash_secret,
    new_token,
    verify_password,
)
from assembly.credentials.limits import LoginLimits, staff_key, token_key
from assembly.credentials.models import (
    DELEGATE_ROLES,
    MAJORITY_RULES,
    MEMBER_CLASSES,
    PUBLISH_RESULTS,
    STAFF_ROLES,
    Assembly,
    CredentialEvent,
    Delegate,
    LoginSession,
    Nmo,
    Proxy,
    StaffUser,
    VotingRight,
)
from assembly.db import utcnow
from assembly.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound
from assembly.i18n import t

ACTOR_LENGTH = 120  # the size of the actor columns of the records


def actor_name(actor: str) -> str:
    """The actor as the records store it; a long delegate name is cut, its id stays first."""
    return actor[:ACTOR_LENGTH]


def record(
    db: AsyncSession,
    assembly_id: int,
    kind: str,
    actor: str,
    *,
    nmo_id: int | None = None,
    delegate_id: int | None = None,
    detail: dict[str, Any] | None = None,
    reason: str = "",
) -> CredentialEvent:
    event = CredentialEvent(
        assembly_id=assembly_id,
        at=utcnow(),
        actor=actor_name(actor),
        kind=kind,
        nmo_id=nmo_id,
        delegate_id=delegate_id,
        detail=detail or {},
        reason=reason,
    )
    db.add(event)
    return event


# --- assemblies -------------------------------------------------------------------------

ASSEMBLY_RULE_FIELDS: dict[str, str] = {
    "quorum_share": "fraction",
    "quorum_strict": "bool",
    "quorum_counts_proxies": "bool",
    "open_without_quorum": "bool",
    "proxies_enabled": "bool",
    "max_proxies": "int",
    "proxy_deadline": "datetime",
    "self_checkin": "bool",
    "vote_change_allowed": "bool",
    "validity_turnout": "fraction?",
    "majority_ordinary": "majority",
    "majority_procedural": "majority",
    "majority_amendment": "majority",
    "majority_policy": "majority",
    "majority_constitution": "majority",
    "majority_bylaws": "majority",
    "majority_membership": "majority",
    "abstentions_in_base": "bool",
    "bylaws_deadline_days": "int",
    "constitution_deadline_days": "int",
    "policy_validity_years": "int",
    "policy_amendment_deadline": "datetime",
    "publish_results": "publish",
    "procedural_motions": "motions",
}
ASSEMBLY_INFO_FIELDS = ("name", "place", "starts_on", "ends_on", "language")
NAME_LENGTH = 200
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,4})?")


def check_length(field: str, value: str, limit: int) -> str:
    """Refuse text longer than its column, which PostgreSQL would reject with a bare error."""
    if len(value) > limit:
        raise Invalid(
            t(
                "{field} is at most {limit} characters; {length} were given.",
                field=field,
                limit=limit,
                length=len(value),
            )
        )
    return value


def check_language(value: object) -> str:
    if not isinstance(value, str) or not LANGUAGE_TAG.fullmatch(value.strip()):
        raise Invalid(
            t("language is a language tag such as en, fr or pt-BR, not {value!r}.", value=value)
        )
    return value.strip()


def check_rule_fields(rules_given: Mapping[str, object]) -> None:
    """The API keeps an assembly's details and its rules apart; say which is which."""
    for field in rules_given:
        if field in ASSEMBLY_INFO_FIELDS:
            raise Invalid(
                t(
                    "{field} is not a setting of an assembly; give it beside the rules, not "
                    "in them.",
                    field=field,
                )
            )
        if field not in ASSEMBLY_RULE_FIELDS:
            raise Invalid(t("{field} is not a setting of an assembly.", field=field))


def coerce_info(field: str, raw: object) -> Any:
    """An assembly detail (name, place, dates, language) in its column's type."""
    if field == "name":
        if not isinstance(raw, str) or not raw.strip():
            raise Invalid(t("An assembly needs a name."))
        return check_length("name", raw.strip(), NAME_LENGTH)
    if field == "place":
        if raw is None:
            return ""
        if not isinstance(raw, str):
            raise Invalid(t("place must be text."))
        return check_length("place", raw.strip(), NAME_LENGTH)
    if field == "language":
        return check_language(raw)
    if field in {"starts_on", "ends_on"}:
        if raw is None or (isinstance(raw, dt.date) and not isinstance(raw, dt.datetime)):
            return raw
        if isinstance(raw, str):
            try:
                return dt.date.fromisoformat(raw.strip())
            except ValueError:
                pass
        raise Invalid(t("{field} must be a date like 2026-08-01.", field=field))
    raise AssertionError(field)


def check_assembly_settings(values: Mapping[str, Any]) -> None:
    """Refuse settings that contradict each other; `values` are the assembly's, as they would be."""
    strict = values.get("quorum_strict")
    share = values.get("quorum_share")
    if (strict is None or strict) and share is not None and share >= 1:
        raise Invalid(
            t(
                "A quorum of more than all the Full Members can never be met: choose a "
                "share below 1/1, or make the quorum 'at least' the share (quorum_strict "
                "false)."
            )
        )
    starts, ends = values.get("starts_on"), values.get("ends_on")
    if starts is not None and ends is not None and ends < starts:
        raise Invalid(
            t(
                "An assembly cannot end before it starts ({starts} to {ends}).",
                starts=starts,
                ends=ends,
            )
        )


def _share(field: str, raw: object, *, optional: bool) -> Fraction | None:
    if raw is None and optional:
        return None
    try:
        value = rules.parse_weight(raw)
    except ValueError as exc:
        raise Invalid(
            t("{field}: {exc}", field=field, exc=exc.args[0] if exc.args else exc)
        ) from None
    if value > 1:
        raise Invalid(
            t("{field} is a share of the members, at most 1 (e.g. 1/2 or 1/3).", field=field)
        )
    return value


def coerce_rule(field: str, kind: str, raw: object) -> Any:
    """Turn an API value into the column's exact type, or say what is wrong with it."""
    if kind == "bool":
        if not isinstance(raw, bool):
            raise Invalid(t("{field} must be true or false.", field=field))
        return raw
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0 or raw > 10_000:
            raise Invalid(t("{field} must be a whole number from 0 to 10000.", field=field))
        return raw
    if kind == "fraction":
        return _share(field, raw, optional=False)
    if kind == "fraction?":
        return _share(field, raw, optional=True)
    if kind == "majority":
        if raw not in MAJORITY_RULES:
            raise Invalid(
                t("{field} must be one of {rules}.", field=field, rules=", ".join(MAJORITY_RULES))
            )
        return raw
    if kind == "publish":
        if raw not in PUBLISH_RESULTS:
            raise Invalid(
                t(
                    "{field} must be one of {choices} (when a vote's result reaches the "
                    "public record: at its close, when its session ends, or when the "
                    "secretariat publishes it).",
                    field=field,
                    choices=", ".join(PUBLISH_RESULTS),
                )
            )
        return raw
    if kind == "motions":
        if not isinstance(raw, list) or not all(isinstance(m, str) for m in raw):
            raise Invalid(t('{field} must be a list of motions, e.g. ["close_list"].', field=field))
        unknown = [m for m in raw if m not in MOTION_KINDS]
        if unknown:
            raise Invalid(
                t(
                    "{field}: unknown motion {motion!r}; the motions are {motions}.",
                    field=field,
                    motion=unknown[0],
                    motions=", ".join(MOTION_KINDS),
                )
            )
        return ",".join(m for m in MOTION_KINDS if m in raw)  # stored in the list's order
    if kind == "datetime":
        if raw is None:
            return None
        if isinstance(raw, dt.datetime):
            value = raw
        elif isinstance(raw, str):
            try:
                value = dt.datetime.fromisoformat(raw)
            except ValueError:
                raise Invalid(
                    t("{field} must be a date and time like 2026-08-01T18:00Z.", field=field)
                ) from None
        else:
            raise Invalid(t("{field} must be a date and time like 2026-08-01T18:00Z.", field=field))
        if value.tzinfo is None:
            raise Invalid(t("{field} needs a time zone (all times are UTC: add Z).", field=field))
        return value.astimezone(dt.UTC)
    raise AssertionError(kind)


def rule_value_for_record(value: Any, *, exact: bool = False) -> Any:
    """A setting as the records store it; `exact` writes a fraction as the audit log does
    ("1/2"), not as people read it ("0.5")."""
    if isinstance(value, Fraction):
        return str(value) if exact else rules.format_weight(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


async def get_assembly(db: AsyncSession, assembly_id: int) -> Assembly:
    assembly = await db.get(Assembly, assembly_id)
    if assembly is None:
        raise NotFound(t("There is no assembly {assembly_id}.", assembly_id=assembly_id))
    return assembly


async def create_assembly(db: AsyncSession, actor: str, name: str, **values: Any) -> Assembly:
    settings: dict[str, Any] = {"name": coerce_info("name", name)}
    for field, raw in values.items():
        if field in ASSEMBLY_INFO_FIELDS:
            settings[field] = coerce_info(field, raw)
        elif field in ASSEMBLY_RULE_FIELDS:
            settings[field] = coerce_rule(field, ASSEMBLY_RULE_FIELDS[field], raw)
        else:
            raise Invalid(t("{field} is not a setting of an assembly.", field=field))
    check_assembly_settings(settings)
    assembly = Assembly(**settings)
    db.add(assembly)
    await db.flush()
    record(db, assembly.id, "assembly_created", actor, detail=assembly_rules(assembly))
    await audit_log.append(
        db,
        assembly.id,
        "assembly_created",
        {
            "by": actor_name(actor),
            "info": {f: rule_value_for_record(getattr(assembly, f)) for f in ASSEMBLY_INFO_FIELDS},
            "rules": assembly_rules(assembly, exact=True),
        },
    )
    return assembly


def assembly_rules(assembly: Assembly, *, exact: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in ASSEMBLY_RULE_FIELDS:
        value = getattr(assembly, field)
        if value is None and field in {"quorum_share"}:
            value = Fraction(1, 2)
        if ASSEMBLY_RULE_FIELDS[field] == "motions":
            value = [m for m in str(value).split(",") if m]
        out[field] = rule_value_for_record(value, exact=exact)
    return out


async def update_assembly(
    db: AsyncSession, assembly: Assembly, actor: str, changes: dict[str, Any], reason: str = ""
) -> dict[str, Any]:
    """Apply info and rule changes; rule changes are recorded with their old and new values.

    Every change is checked before any is applied, so a refused request changes nothing.
    """
    info: dict[str, Any] = {}
    new_rules: dict[str, Any] = {}
    for field, raw in changes.items():
        if field in ASSEMBLY_INFO_FIELDS:
            info[field] = coerce_info(field, raw)
        elif field in ASSEMBLY_RULE_FIELDS:
            new_rules[field] = coerce_rule(field, ASSEMBLY_RULE_FIELDS[field], raw)
        else:
            raise Invalid(t("{field} is not a setting of an assembly.", field=field))
    current = {f: getattr(assembly, f) for f in (*ASSEMBLY_INFO_FIELDS, *ASSEMBLY_RULE_FIELDS)}
    check_assembly_settings({**current, **info, **new_rules})
    info_changed: dict[str, Any] = {}
    for field, value in info.items():
        if getattr(assembly, field) != value:
            info_changed[field] = {
                "old": rule_value_for_record(getattr(assembly, field)),
                "new": rule_value_for_record(value),
            }
        setattr(assembly, field, value)
    changed: dict[str, Any] = {}
    logged: dict[str, Any] = {}
    for field, value in new_rules.items():
        old = getattr(assembly, field)
        if field == "quorum_share" and old is None:
            old = Fraction(1, 2)  # the default the rules apply
        if old != value:
            changed[field] = {
                "old": rule_value_for_record(old),
                "new": rule_value_for_record(value),
            }
            logged[field] = {
                "old": rule_value_for_record(old, exact=True),
                "new": rule_value_for_record(value, exact=True),
            }
            setattr(assembly, field, value)
    if changed:
        record(db, assembly.id, "assembly_rules", actor, detail=changed, reason=reason)
    if changed or info_changed:
        # The dates decide amendment deadlines and the rules decide every result: both are in
        # the audit log, with who changed them and why.
        await audit_log.append(
            db,
            assembly.id,
            "assembly_changed",
            {"by": actor_name(actor), "info": info_changed, "rules": logged, "reason": reason},
        )
    return changed


def quorum_rule(assembly: Assembly) -> rules.QuorumRule:
    return rules.QuorumRule(
        share=assembly.quorum_share,
        strict=assembly.quorum_strict,
        counts_proxies=assembly.quorum_counts_proxies,
    )


def proxy_rules(assembly: Assembly) -> rules.ProxyRules:
    return rules.ProxyRules(
        enabled=assembly.proxies_enabled,
        max_proxies=assembly.max_proxies,
        deadline=assembly.proxy_deadline,
    )


# --- NMOs -------------------------------------------------------------------------------


def check_member_class(value: object) -> str:
    if value not in MEMBER_CLASSES:
        raise Invalid(
            t(
                "member_class must be one of {classes}, not {value!r}.",
                classes=", ".join(MEMBER_CLASSES),
                value=value,
            )
        )
    return str(value)


def check_weight(value: object) -> Fraction:
    try:
        return rules.parse_weight(value)
    except ValueError as exc:
        raise Invalid(t("weight: {exc}", exc=exc.args[0] if exc.args else exc)) from None


def check_code(code: object) -> str:
    if not isinstance(code, str) or not code.strip():
        raise Invalid(t("An NMO needs a code (e.g. IFMSA-QC)."))
    code = code.strip()
    if len(code) > 20 or any(ch.isspace() for ch in code):
        raise Invalid(
            t("NMO code {code!r} must be at most 20 characters without spaces.", code=code)
        )
    return code


async def get_nmo(db: AsyncSession, nmo_id: int) -> Nmo:
    nmo = await db.get(Nmo, nmo_id)
    if nmo is None:
        raise NotFound(t("There is no NMO {nmo_id}.", nmo_id=nmo_id))
    return nmo


async def nmo_code_taken(db: AsyncSession, assembly_id: int, code: str) -> bool:
    found = await db.scalar(select(Nmo.id).where(Nmo.assembly_id == assembly_id, Nmo.code == code))
    return found is not None


async def add_nmo(
    db: AsyncSession,
    assembly: Assembly,
    actor: str,
    *,
    code: str,
    name: str,
    country: str = "",
    member_class: str = "full",
    weight: object = 1,
) -> Nmo:
    code = check_code(code)
    if not name.strip():
        raise Invalid(t("NMO {code} needs a name.", code=code))
    check_length("name", name.strip(), NAME_LENGTH)
    check_length("country", country.strip(), 100)
    taken = Conflict(t("There is already an NMO with code {code} in this assembly.", code=code))
    if await nmo_code_taken(db, assembly.id, code):
        raise taken
    nmo = Nmo(
        assembly_id=assembly.id,
        code=code,
        name=name.strip(),
        country=country.strip(),
        member_class=check_member_class(member_class),
        weight=check_weight(weight),
        credentialed=False,
    )
    db.add(nmo)
    try:
        await db.flush()
    except IntegrityError:
        # Another request registered the code meanwhile; the unique constraint decides.
        raise taken from None
    db.add(VotingRight(nmo_id=nmo.id, holder_id=None))
    detail = {
        "code": code,
        "member_class": nmo.member_class,
        "weight": rules.format_weight(nmo.weight),
    }
    record(db, assembly.id, "nmo_added", actor, nmo_id=nmo.id, detail=detail)
    # The log writes weights as exact fractions ("3/2"), as the votes' electorates do.
    logged = {**detail, "weight": str(nmo.weight), "name": nmo.name, "by": actor_name(actor)}
    await audit_log.append(db, assembly.id, "nmo_added", logged)
    return nmo


async def change_nmo(
    db: AsyncSession,
    nmo: Nmo,
    actor: str,
    *,
    reason: str,
    member_class: str | None = None,
    weight: object = None,
    name: str | None = None,
    country: str | None = None,
) -> list[str]:
    """Change an NMO; class and weight changes need a reason and are recorded."""
    changed: list[str] = []
    if name is not None:
        if not name.strip():
            raise Invalid(t("NMO {nmo} needs a name.", nmo=nmo.code))
        check_length("name", name.strip(), NAME_LENGTH)
    if country is not None:
        check_length("country", country.strip(), 100)
    new_class = check_member_class(member_class) if member_class is not None else None
    new_weight = check_weight(weight) if weight is not None else None
    class_changes = new_class is not None and new_class != nmo.member_class
    weight_changes = new_weight is not None and new_weight != nmo.weight
    if (class_changes or weight_changes) and not reason.strip():
        raise Invalid(t("Say why the member class or weight changes (reason)."))
    if class_changes or weight_changes:
        logged: dict[str, Any] = {
            "code": nmo.code,
            "by": actor_name(actor),
            "reason": reason.strip(),
        }
        if class_changes:
            logged["member_class"] = {"old": nmo.member_class, "new": new_class}
        if weight_changes:
            assert new_weight is not None
            logged["weight"] = {"old": str(nmo.weight), "new": str(new_weight)}
        await audit_log.append(db, nmo.assembly_id, "nmo_changed", logged)
    if new_class is not None and new_class != nmo.member_class:
        record(
            db,
            nmo.assembly_id,
            "nmo_class",
            actor,
            nmo_id=nmo.id,
            detail={"code": nmo.code, "old": nmo.member_class, "new": new_class},
            reason=reason.strip(),
        )
        nmo.member_class = new_class
        changed.append("member_class")
    if new_weight is not None and new_weight != nmo.weight:
        record(
            db,
            nmo.assembly_id,
            "nmo_weight",
            actor,
            nmo_id=nmo.id,
            detail={
                "code": nmo.code,
                "old": rules.format_weight(nmo.weight),
                "new": rules.format_weight(new_weight),
            },
            reason=reason.strip(),
        )
        nmo.weight = new_weight
        changed.append("weight")
    if name is not None and name.strip() and name.strip() != nmo.name:
        nmo.name = name.strip()
        changed.append("name")
    if country is not None and country.strip() != nmo.country:
        nmo.country = country.strip()
        changed.append("country")
    return changed


async def set_credentialed(
    db: AsyncSession, nmo: Nmo, actor: str, credentialed: bool, reason: str = ""
) -> bool:
    """Mark a delegation credentialed (or withdraw it); returns whether anything changed."""
    if nmo.credentialed == credentialed:
        return False
    nmo.credentialed = credentialed
    nmo.credentialed_at = utcnow() if credentialed else None
    record(
        db,
        nmo.assembly_id,
        "nmo_credentialed" if credentialed else "nmo_uncredentialed",
        actor,
        nmo_id=nmo.id,
        detail={"code": nmo.code},
        reason=reason,
    )
    return True


# --- delegates and their tokens ---------------------------------------------------------


async def get_delegate(db: AsyncSession, delegate_id: int) -> Delegate:
    delegate = await db.get(Delegate, delegate_id)
    if delegate is None:
        raise NotFound(t("There is no delegate {delegate_id}.", delegate_id=delegate_id))
    return delegate


def check_role(role: object) -> str:
    if role not in DELEGATE_ROLES:
        raise Invalid(
            t(
                "role must be one of {roles}, not {role!r}.",
                roles=", ".join(DELEGATE_ROLES),
                role=role,
            )
        )
    return str(role)


def check_email(email: str) -> str:
    email = email.strip()
    if email and ("@" not in email or email.startswith("@") or email.endswith("@")):
        raise Invalid(t("{email!r} is not an email address.", email=email))
    return check_length("email", email, 254)


def check_delegate_name(name: str) -> str:
    if not name.strip():
        raise Invalid(t("A delegate needs a name."))
    return check_length("name", name.strip(), NAME_LENGTH)


async def _head_of(db: AsyncSession, nmo_id: int) -> Delegate | None:
    return (
        await db.execute(select(Delegate).where(Delegate.nmo_id == nmo_id, Delegate.role == "head"))
    ).scalar_one_or_none()


async def add_delegate(
    db: AsyncSession,
    sealer: TokenSealer,
    nmo: Nmo,
    actor: str,
    *,
    name: str,
    email: str = "",
    role: str = "delegate",
    language: str = "en",
) -> tuple[Delegate, str]:
    """Register a delegate and issue their login token; the head takes the vote by default."""
    name = check_delegate_name(name)
    email = check_email(email)
    language = check_language(language or "en")
    role = check_role(role)
    if role == "head" and await _head_of(db, nmo.id) is not None:
        raise Conflict(t("{nmo} already has a head of delegation.", nmo=nmo.code))
    token = new_token()
    delegate = Delegate(
        nmo_id=nmo.id,
        name=name,
        email=email,
        role=role,
        language=language,
        checked_in=False,
        token_hash=hash_secret(token),
        token_sealed=sealer.seal(token),
        token_issued_at=utcnow(),
    )
    # Two requests adding a head at once: the database's one-head index decides. A failed
    # flush rolls back and expires every object, so the message is made first.
    refusal = Conflict(t("{nmo} already has a head of delegation.", nmo=nmo.code))
    db.add(delegate)
    try:
        await db.flush()
    except IntegrityError:
        if role == "head":
            raise refusal from None
        raise
    record(
        db,
        nmo.assembly_id,
        "delegate_added",
        actor,
        nmo_id=nmo.id,
        delegate_id=delegate.id,
        detail={"code": nmo.code, "name": delegate.name, "role": role},
    )
    if role == "head":
        right = await voting_right(db, nmo.id)
        if right.holder_id is None:
            right.holder_id = delegate.id
            record(
                db,
                nmo.assembly_id,
                "right_handover",
                actor,
                nmo_id=nmo.id,
                delegate_id=delegate.id,
                detail={"code": nmo.code, "from": None, "to": delegate.id, "default": True},
            )
    return delegate, token


async def update_delegate(
    db: AsyncSession,
    delegate: Delegate,
    actor: str,
    *,
    name: str | None = None,
    email: str | None = None,
    role: str | None = None,
    language: str | None = None,
) -> None:
    nmo = await get_nmo(db, delegate.nmo_id)
    # Check every field before changing any, so a refused request changes nothing.
    new_name = check_delegate_name(name) if name is not None else None
    new_email = check_email(email) if email is not None else None
    new_language = check_language(language) if language is not None else None
    new_role = check_role(role) if role is not None and role != delegate.role else None
    right = await voting_right(db, nmo.id)
    if new_role == "head":
        head = await _head_of(db, nmo.id)
        if head is not None and head.id != delegate.id:
            raise Conflict(
                t(
                    "{nmo} already has a head of delegation ({name}); change their role first.",
                    nmo=nmo.code,
                    name=head.name,
                )
            )
    if new_role == "observer" and right.holder_id == delegate.id:
        raise Conflict(
            t(
                "{name} holds the vote of {nmo}; hand it to another delegate before "
                "making them an observer.",
                name=delegate.name,
                nmo=nmo.code,
            )
        )
    if new_name is not None:
        delegate.name = new_name
    if new_email is not None:
        delegate.email = new_email
    if new_language is not None:
        delegate.language = new_language
    if new_role is None:
        return
    record(
        db,
        nmo.assembly_id,
        "delegate_role",
        actor,
        nmo_id=nmo.id,
        delegate_id=delegate.id,
        detail={"old": delegate.role, "new": new_role},
    )
    delegate.role = new_role
    await db.flush()
    if new_role == "head" and right.holder_id is None:
        # A new head takes a vacant vote, as a head registered as head does.
        right.holder_id = delegate.id
        record(
            db,
            nmo.assembly_id,
            "right_handover",
            actor,
            nmo_id=nmo.id,
            delegate_id=delegate.id,
            detail={"code": nmo.code, "from": None, "to": delegate.id, "default": True},
        )


def login_token(sealer: TokenSealer, delegate: Delegate) -> str:
    token = sealer.unseal(delegate.token_sealed)
    if token is None:
        raise Conflict(
            t(
                "The login token of {name} was sealed with another ASSEMBLY_SECRET_KEY; "
                "reissue it.",
                name=delegate.name,
            )
        )
    return token


async def reissue_token(
    db: AsyncSession, sealer: TokenSealer, delegate: Delegate, actor: str
) -> str:
    """Revoke a delegate's token and issue a new one; every session of theirs ends."""
    token = new_token()
    delegate.token_hash = hash_secret(token)
    delegate.token_sealed = sealer.seal(token)
    delegate.token_issued_at = utcnow()
    await db.execute(delete(LoginSession).where(LoginSession.delegate_id == delegate.id))
    nmo = await get_nmo(db, delegate.nmo_id)
    record(
        db,
        nmo.assembly_id,
        "token_reissued",
        actor,
        nmo_id=nmo.id,
        delegate_id=delegate.id,
        detail={"name": delegate.name},
    )
    return token


async def set_checked_in(
    db: AsyncSession, delegate: Delegate, actor: str, present: bool, via: str
) -> bool:
    if delegate.checked_in == present:
        return False
    delegate.checked_in = present
    delegate.checked_in_at = utcnow() if present else None
    nmo = await get_nmo(db, delegate.nmo_id)
    record(
        db,
        nmo.assembly_id,
        "checked_in" if present else "checked_out",
        actor,
        nmo_id=nmo.id,
        delegate_id=delegate.id,
        detail={"via": via},
    )
    return True


async def self_check_in(db: AsyncSession, principal: Principal, present: bool) -> Delegate:
    if principal.delegate_id is None or principal.assembly_id is None:
        raise Forbidden(t("Only a delegate can check themselves in."))
    assembly = await get_assembly(db, principal.assembly_id)
    if not assembly.self_checkin:
        raise Forbidden(t("Self check-in is not open: go to the credentials desk with your card."))
    delegate = await get_delegate(db, principal.delegate_id)
    await set_checked_in(db, delegate, principal.actor, present, via="self")
    return delegate


def token_from_scan(scanned: str) -> str:
    """The desk scanner types what the card's QR code holds: the login link (or the token)."""
    text = scanned.strip()
    if "/login/" in text:
        text = text.rsplit("/login/", 1)[1]
    return text.split("?", 1)[0].split("#", 1)[0].strip("/ ")


async def delegate_by_token(db: AsyncSession, token: str) -> Delegate | None:
    if not token:
        return None
    return (
        await db.execute(select(Delegate).where(Delegate.token_hash == hash_secret(token)))
    ).scalar_one_or_none()


# --- the voting right -------------------------------------------------------------------


async def voting_right(db: AsyncSession, nmo_id: int) -> VotingRight:
    right = (
        await db.execute(select(VotingRight).where(VotingRight.nmo_id == nmo_id))
    ).scalar_one_or_none()
    if right is None:
        right = VotingRight(nmo_id=nmo_id, holder_id=None)
        db.add(right)
        await db.flush()
    return right


async def hand_over_right(
    db: AsyncSession, principal: Principal, nmo: Nmo, new_holder: Delegate
) -> VotingRight:
    """The head (or the secretariat or desk) hands the NMO's vote to one of its delegates."""
    if principal.role in {Role.delegate, Role.observer} and (
        principal.nmo_id != nmo.id or not principal.is_head
    ):
        raise Forbidden(
            t("Only the head of delegation of {nmo} can hand over its vote.", nmo=nmo.code)
        )
    try:
        rules.check_right_holder(
            rules.DelegateRole(new_holder.role), new_holder.nmo_id == nmo.id, nmo.code
        )
    except rules.RuleViolation as exc:
        raise Conflict(exc.message, code=exc.rule) from None
    right = await voting_right(db, nmo.id)
    if right.holder_id == new_holder.id:
        return right
    record(
        db,
        nmo.assembly_id,
        "right_handover",
        principal.actor,
        nmo_id=nmo.id,
        delegate_id=new_holder.id,
        detail={"code": nmo.code, "from": right.holder_id, "to": new_holder.id},
    )
    right.holder_id = new_holder.id
    return right


# --- proxies ----------------------------------------------------------------------------


async def standing_proxies(db: AsyncSession, assembly_id: int) -> list[Proxy]:
    return list(
        (
            await db.execute(
                select(Proxy)
                .where(Proxy.assembly_id == assembly_id, Proxy.revoked_at.is_(None))
                .order_by(Proxy.id)
            )
        ).scalars()
    )


async def nmo_states(db: AsyncSession, assembly_id: int) -> list[rules.NmoState]:
    """Every NMO of the assembly as the rules see it, in one query."""
    rows = (
        await db.execute(
            select(Nmo, VotingRight.holder_id, Delegate.checked_in)
            .outerjoin(VotingRight, VotingRight.nmo_id == Nmo.id)
            .outerjoin(Delegate, Delegate.id == VotingRight.holder_id)
            .where(Nmo.assembly_id == assembly_id)
            .order_by(Nmo.id)
        )
    ).all()
    return [
        rules.NmoState(
            id=nmo.id,
            code=nmo.code,
            member_class=rules.MemberClass(nmo.member_class),
            weight=nmo.weight,
            credentialed=nmo.credentialed,
            holder_present=bool(checked_in),
            holder_id=holder_id,
        )
        for nmo, holder_id, checked_in in rows
    ]


def as_proxy_states(proxies: list[Proxy]) -> list[rules.ProxyState]:
    return [rules.ProxyState(p.giver_id, p.holder_id) for p in proxies]


async def give_proxy(
    db: AsyncSession, principal: Principal, assembly: Assembly, giver: Nmo, holder: Nmo
) -> Proxy:
    if principal.role in {Role.delegate, Role.observer} and (
        principal.nmo_id != giver.id or not principal.is_head
    ):
        raise Forbidden(
            t("Only the head of delegation of {giver} can give its vote away.", giver=giver.code)
        )
    if giver.assembly_id != assembly.id or holder.assembly_id != assembly.id:
        raise Invalid(t("Both NMOs must belong to this assembly."))
    # Serialise proxy changes per assembly (PostgreSQL; SQLite has one writer anyway), so
    # the cap and no-chain rules hold under concurrent requests.
    await db.execute(select(Assembly.id).where(Assembly.id == assembly.id).with_for_update())
    states = {s.id: s for s in await nmo_states(db, assembly.id)}
    active = await standing_proxies(db, assembly.id)
    try:
        rules.check_proxy(
            states[giver.id],
            states[holder.id],
            as_proxy_states(active),
            proxy_rules(assembly),
            utcnow(),
        )
    except rules.RuleViolation as exc:
        raise Conflict(exc.message, code=exc.rule) from None
    proxy = Proxy(
        assembly_id=assembly.id,
        giver_id=giver.id,
        holder_id=holder.id,
        given_at=utcnow(),
        given_by=actor_name(principal.actor),
    )
    # A failed flush rolls back and expires every object, so the message is made first.
    refusal = Conflict(
        t("{giver} has already given its vote away; revoke that proxy first.", giver=giver.code),
        code="proxy_one_per_giver",
    )
    db.add(proxy)
    try:
        await db.flush()
    except IntegrityError:
        raise refusal from None
    record(
        db,
        assembly.id,
        "proxy_given",
        principal.actor,
        nmo_id=giver.id,
        detail={"proxy_id": proxy.id, "giver": giver.code, "holder": holder.code},
    )
    return proxy


async def revoke_proxy(db: AsyncSession, principal: Principal, proxy: Proxy) -> Proxy:
    giver = await get_nmo(db, proxy.giver_id)
    if principal.role in {Role.delegate, Role.observer} and (
        principal.nmo_id != giver.id or not principal.is_head
    ):
        raise Forbidden(
            t("Only the head of delegation of {giver} can revoke its proxy.", giver=giver.code)
        )
    if proxy.revoked_at is not None:
        raise Conflict(t("This proxy was already revoked."))
    proxy.revoked_at = utcnow()
    proxy.revoked_by = actor_name(principal.actor)
    holder = await get_nmo(db, proxy.holder_id)
    record(
        db,
        proxy.assembly_id,
        "proxy_revoked",
        principal.actor,
        nmo_id=giver.id,
        detail={"proxy_id": proxy.id, "giver": giver.code, "holder": holder.code},
    )
    return proxy


async def get_proxy(db: AsyncSession, proxy_id: int) -> Proxy:
    proxy = await db.get(Proxy, proxy_id)
    if proxy is None:
        raise NotFound(t("There is no proxy {proxy_id}.", proxy_id=proxy_id))
    return proxy


# --- quorum and electorate --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Standing:
    """The assembly's credentials at one moment: quorum and who may cast which vote."""

    quorum: rules.QuorumStatus
    electorate: list[rules.Entitlement]
    nmos: dict[int, rules.NmoState]


async def standing(db: AsyncSession, assembly: Assembly) -> Standing:
    states = await nmo_states(db, assembly.id)
    proxies = as_proxy_states(await standing_proxies(db, assembly.id))
    return Standing(
        quorum=rules.quorum(states, proxies, quorum_rule(assembly)),
        electorate=rules.electorate(states, proxies),
        nmos={s.id: s for s in states},
    )


# --- staff accounts and logins ----------------------------------------------------------


async def add_staff(
    db: AsyncSession, username: str, password: str, role: str, display_name: str = ""
) -> StaffUser:
    username = username.strip()
    if not username or len(username) > 80 or any(ch.isspace() for ch in username):
        raise Invalid(t("A username is 1 to 80 characters without spaces."))
    if role not in STAFF_ROLES:
        raise Invalid(
            t(
                "A staff role is one of {roles}, not {role!r}.",
                roles=", ".join(STAFF_ROLES),
                role=role,
            )
        )
    check_password_strength(password)
    check_length("display_name", display_name, NAME_LENGTH)
    if await db.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise Conflict(t("There is already a staff account {username!r}.", username=username))
    user = StaffUser(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password),
        active=True,
    )
    db.add(user)
    await db.flush()
    return user


async def _new_session(
    db: AsyncSession,
    max_age_s: int,
    *,
    staff_user_id: int | None = None,
    delegate_id: int | None = None,
) -> str:
    secret = new_token()
    now = utcnow()
    db.add(
        LoginSession(
            secret_hash=hash_secret(secret),
            staff_user_id=staff_user_id,
            delegate_id=delegate_id,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=max_age_s),
        )
    )
    await db.flush()
    return secret


async def staff_login(
    db: AsyncSession,
    username: str,
    password: str,
    max_age_s: int,
    limits: LoginLimits | None = None,
) -> str:
    """A new session for the staff account; `limits` refuses an account that failed too often
    (per account, not per address: a venue shares one)."""
    key = staff_key(username)
    if limits is not None:
        limits.staff.check(key, t("this account"))
    user = (
        await db.execute(select(StaffUser).where(StaffUser.username == username.strip()))
    ).scalar_one_or_none()
    # Verify against a dummy hash when the user is unknown, so timing does not tell.
    stored = user.password_hash if user is not None else _DUMMY_HASH
    if not verify_password(stored, password) or user is None or not user.active:
        if limits is not None:
            limits.staff.failed(key)
        raise NotAuthenticated(t("Wrong username or password."))
    if limits is not None:
        limits.staff.succeeded(key)
    return await _new_session(db, max_age_s, staff_user_id=user.id)


_DUMMY_HASH = hash_password("not-a-real-password-just-for-timing")


async def delegate_login(
    db: AsyncSession, token: str, max_age_s: int, limits: LoginLimits | None = None
) -> tuple[Delegate, str]:
    key = token_key(token)
    if limits is not None:
        limits.tokens.check(key, t("this login link"))
    delegate = await delegate_by_token(db, token)
    if delegate is None:
        if limits is not None:
            limits.tokens.failed(key)
        raise NotAuthenticated(
            t(
                "This login link is not valid (it may have been replaced by a new card). "
                "Ask the secretariat for your current link."
            )
        )
    return delegate, await _new_session(db, max_age_s, delegate_id=delegate.id)


async def logout(db: AsyncSession, secret: str | None) -> None:
    if secret:
        await db.execute(
            delete(LoginSession).where(LoginSession.secret_hash == hash_secret(secret))
        )
