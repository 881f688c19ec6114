"""Schemathesis over the whole JSON API, as each role: no answer is a 5xx, every answer has a
status the schema declares and a body that matches it, and what the schema calls invalid is
refused with a 4xx.

Schemathesis generates the requests from /schema/openapi.json; they go through the test
clients of tests/conftest.py (one app, one event loop, the role's session cookie), with path
ids mostly taken from a seeded assembly so the fuzzing reaches past the 404s."""

from __future__ import annotations

import contextlib
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import amending, documents
from assembly.agenda import service as agenda
from assembly.credentials import service
from assembly.credentials.auth import Role
from assembly.db import writing
from assembly.voting import service as voting
from assembly.voting.models import Ballot, Participation
from tests.conftest import SECRETARIAT, ClientFactory, World, seed_world

CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]

# Generated requests per operation, shared out among the roles its guard lets through (each
# gets at least one of each kind, and every explicit example); each role it turns away gets
# one, to prove the refusal is well-formed. Sized for CI, where the suite runs twice;
# ASSEMBLY_FUZZ_SCALE=10 fuzzes ten times as much, for a longer hunt.
SCALE = int(os.environ.get("ASSEMBLY_FUZZ_SCALE", "1"))
POSITIVE_EXAMPLES = 8 * SCALE
NEGATIVE_EXAMPLES = 4 * SCALE
REFUSED_EXAMPLES = 1

# Requests that end or replace the client's session get a client of their own.
SESSION_CHANGING = {("POST", "/api/auth/logout"), ("POST", "/api/auth/login")}


@dataclass
class FuzzWorld:
    """The seeded assembly, and the ids a path or a body can name."""

    world: World
    ids: dict[str, list[int]]
    draft: int
    motion: int
    election: int
    document: int
    amendment: int
    item: int


async def seed_fuzz_world(app: Litestar) -> FuzzWorld:
    """The seeded assembly plus one of everything a path names: an observer, a draft vote, an
    open motion and an open election, an agenda item, a document with an amendment, a proxy."""
    world = await seed_world(app, proxies_enabled=True)
    ctx = app.state.ctx
    async with writing(ctx.session_maker) as db:
        assembly = await service.get_assembly(db, world.assembly_id)
        aaa = await service.get_nmo(db, world.nmo["AAA"])
        observer, obs_token = await service.add_delegate(
            db, ctx.sealer, aaa, "test", name="AAA-obs", role="observer"
        )
        world.token["AAA-obs"] = obs_token
        world.delegate["AAA-obs"] = observer.id
        proxy = await service.give_proxy(
            db,
            SECRETARIAT,
            assembly,
            await service.get_nmo(db, world.nmo["BBB"]),
            await service.get_nmo(db, world.nmo["CCC"]),
        )
        item = await agenda.add_item(db, assembly, "test", "Opening")
        draft = await voting.create_vote(db, assembly, "test", voting.VoteSpec(question="Draft?"))
        motion = await voting.create_vote(db, assembly, "test", voting.VoteSpec(question="Open?"))
        await voting.open_vote(db, motion, "test")
        election = await voting.create_vote(
            db,
            assembly,
            "test",
            voting.VoteSpec(kind="election", question="Chair?", candidates=("Ann", "Bob")),
        )
        await voting.open_vote(db, election, "test")
        document, _ = await documents.create_document(
            db, assembly, "test", "Statutes", "policy", "Article 1.\n\nArticle 2."
        )
        amendment = await amending.submit(
            db,
            SECRETARIAT,
            document,
            aaa,
            amending.Proposal(changes=[amending.ChangeIn("replace", "p1", text="Article 1a.")]),
        )
        await db.commit()
    ids: dict[str, list[int]] = {
        "assembly_id": [world.assembly_id],
        "nmo_id": list(world.nmo.values()),
        "delegate_id": list(world.delegate.values()),
        "proxy_id": [proxy.id],
        "vote_id": [draft.id, motion.id, election.id],
        "item_id": [item.id],
        "document_id": [document.id],
        "amendment_id": [amendment.id],
        "number": [1, 2],
    }
    return FuzzWorld(
        world, ids, draft.id, motion.id, election.id, document.id, amendment.id, item.id
    )


def examples(fuzz: FuzzWorld) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Requests that should succeed, tried first: random data rarely gets past the rules
    (a real NMO, an open vote, a valid ballot), and what lies past them deserves fuzzing too."""
    a = {"assembly_id": fuzz.world.assembly_id}
    aaa, ccc = fuzz.world.nmo["AAA"], fuzz.world.nmo["CCC"]
    motion, election = {"vote_id": fuzz.motion}, {"vote_id": fuzz.election}
    amendment = {"amendment_id": fuzz.amendment}
    document = {"document_id": fuzz.document}
    return {
        ("POST", "/api/staff"): [
            {"body": {"username": "desk2", "password": "a long password", "role": "desk"}}
        ],
        ("POST", "/api/assemblies/{assembly_id}/nmos"): [
            {"path_parameters": a, "body": {"code": "FUZ", "name": "Fuzz", "weight": "3/2"}}
        ],
        ("POST", "/api/assemblies/{assembly_id}/proxies"): [
            {"path_parameters": a, "body": {"giver_id": aaa, "holder_id": ccc}}
        ],
        ("POST", "/api/assemblies/{assembly_id}/import/nmos"): [
            {"path_parameters": a, "body": "code,name,weight\nIMP,Imported,2\n"}
        ],
        ("POST", "/api/nmos/{nmo_id}/delegates"): [
            {"path_parameters": {"nmo_id": aaa}, "body": {"name": "New Delegate"}}
        ],
        ("POST", "/api/nmos/{nmo_id}/voting-right"): [
            {
                "path_parameters": {"nmo_id": aaa},
                "body": {"holder_id": fuzz.world.delegate["AAA-del"]},
            }
        ],
        ("POST", "/api/delegates/{delegate_id}/check-in"): [
            {
                "path_parameters": {"delegate_id": fuzz.world.delegate["DDD-head"]},
                "body": {"present": True},
            }
        ],
        ("POST", "/api/assemblies/{assembly_id}/votes"): [
            {"path_parameters": a, "body": {"question": "Adopt the minutes?"}},
            {
                "path_parameters": a,
                "body": {"question": "Auditor?", "kind": "election", "candidates": ["Al", "Bo"]},
            },
        ],
        ("POST", "/api/votes/{vote_id}/open"): [
            {"path_parameters": {"vote_id": fuzz.draft}, "body": {"countdown_s": 60}}
        ],
        ("POST", "/api/votes/{vote_id}/countdown"): [
            {"path_parameters": motion, "body": {"seconds": 30}}
        ],
        ("POST", "/api/votes/{vote_id}/projector"): [
            {"path_parameters": motion, "body": {"show": True}}
        ],
        ("POST", "/api/votes/{vote_id}/ballots"): [
            {"path_parameters": motion, "body": ballot(aaa, "fuzz-1", "yes")},
            # A second ballot for the same NMO: the writer refuses it (409 with the results).
            {"path_parameters": motion, "body": ballot(aaa, "fuzz-2", "no")},
            {"path_parameters": election, "body": ballot(aaa, "fuzz-3", "c1")},
        ],
        ("POST", "/api/votes/{vote_id}/close"): [{"path_parameters": election}],
        ("POST", "/api/assemblies/{assembly_id}/agenda"): [
            {"path_parameters": a, "body": {"title": "Any other business"}}
        ],
        ("POST", "/api/agenda-items/{item_id}/move"): [
            {"path_parameters": {"item_id": fuzz.item}, "body": {"position": 1}}
        ],
        ("GET", "/api/documents/{document_id}/diff"): [
            {"path_parameters": document, "query": {"from": 1, "to": 1}}
        ],
        ("POST", "/api/documents/{document_id}/amendments"): [
            {
                "path_parameters": document,
                "body": {
                    "changes": [{"op": "replace", "paragraph_id": "p2", "text": "Article 2a."}],
                    "nmo_id": aaa,
                },
            }
        ],
        ("POST", "/api/amendments/{amendment_id}/admit"): [
            {"path_parameters": amendment, "body": {"ruling": "In order."}}
        ],
        ("POST", "/api/assemblies/{assembly_id}/publishing"): [
            {
                "path_parameters": a,
                "body": {"subject": "vote", "id": fuzz.election, "publish": True},
            }
        ],
        ("GET", "/api/assemblies/{assembly_id}/log/proof/inclusion"): [
            {"path_parameters": a, "query": {"index": 0}}
        ],
        ("GET", "/api/assemblies/{assembly_id}/log/proof/consistency"): [
            {"path_parameters": a, "query": {"from": 1}}
        ],
    }


def ballot(nmo_id: int, ballot_id: str, choice: str) -> dict[str, Any]:
    return {"ballots": [{"nmo_id": nmo_id, "ballot_id": ballot_id, "choice": choice}]}


# Requests that change the world for the rest of the run (cancel the votes, end the
# session, replace a token...): after all the others.
def runs_last(method: str, path: str) -> bool:
    return method == "DELETE" or path.endswith(
        ("/cancel", "/withdraw", "/refuse", "/merge", "/token", "/next-round")
    )


def draw_cases(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """`count` cases from a strategy, the same ones on every run."""
    cases: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: Any) -> None:
        cases.append(case)

    # Unsatisfiable: nothing of that kind exists (no invalid form of a request without input).
    with contextlib.suppress(Unsatisfiable):
        collect()
    return cases


def path_ids(operation: Any, fuzz: FuzzWorld) -> st.SearchStrategy[dict[str, Any]]:
    names = [p.name for p in operation.path_parameters]
    # A path parameter the seeding does not know yet still gets small ids, which exist often.
    return st.fixed_dictionaries(
        {name: st.sampled_from(fuzz.ids.get(name, [1, 2, 3])) for name in names}
    )


def cases_for(
    operation: Any,
    fuzz: FuzzWorld,
    allowed: tuple[Role, ...],
    explicit: list[dict[str, Any]],
) -> dict[Role | None, list[tuple[Any, bool]]]:
    """(case, negative) pairs for each role the guard lets through, and under None for the
    roles it turns away: the explicit examples, then generated ones, mostly with real ids in
    the path, then a few the schema calls invalid."""
    real = path_ids(operation, fuzz)

    def with_real_ids(mode: GenerationMode) -> st.SearchStrategy[Any]:
        return real.flatmap(lambda ids: operation.as_strategy(mode, path_parameters=ids))

    refused = draw_cases(with_real_ids(GenerationMode.POSITIVE), REFUSED_EXAMPLES)
    cases: dict[Role | None, list[tuple[Any, bool]]] = {None: [(c, False) for c in refused]}
    if not allowed:
        return cases
    given_cases = [
        operation.Case(media_type="application/json" if "body" in e else None, **e)
        for e in explicit
    ]
    positive = st.one_of(
        with_real_ids(GenerationMode.POSITIVE),
        with_real_ids(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.POSITIVE),
    )
    positives = draw_cases(positive, POSITIVE_EXAMPLES)
    negatives = draw_cases(with_real_ids(GenerationMode.NEGATIVE), NEGATIVE_EXAMPLES)
    for k, role in enumerate(allowed):
        mine = [(c, False) for c in given_cases]
        mine += [(c, False) for c in share(positives, k, len(allowed))]
        mine += [(c, True) for c in share(negatives, k, len(allowed))]
        cases[role] = mine
    return cases


def share(items: list[Any], k: int, n: int) -> list[Any]:
    """The k-th of n roles' share of items: every n-th one, and at least one."""
    if not items:
        return []
    return items[k::n] or [items[k % len(items)]]


async def send(client: AsyncTestClient[Litestar], case: Any) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
    headers = dict(kwargs.get("headers") or {})
    headers.pop("User-Agent", None)
    csrf = client.cookies.get("csrftoken")
    if csrf:
        headers["X-CSRFToken"] = csrf
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        body["content"] = data.encode() if isinstance(data, str) else data
    return await client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=headers,
        follow_redirects=False,
        **body,
    )


ROLES = list(Role)
# Built once: the schema and the cases are the same for every role and every app (the seeded
# ids are too), so only the requests are made again.
_SCHEMA: dict[str, Any] = {}
_CASES: dict[tuple[str, str], dict[Role | None, list[tuple[Any, bool]]]] = {}


def roles_by_operation(app: Litestar) -> dict[tuple[str, str], frozenset[Role]]:
    """(method, path as the schema writes it) -> the roles the route's guard lets through."""
    table: dict[tuple[str, str], frozenset[Role]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            for method, (handler, _) in route.route_handler_map.items():
                table[(method, path)] = frozenset(handler.opt.get("roles", ()))
    return table


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
async def test_the_json_api_answers_every_generated_request_within_its_schema(
    app: Litestar, make_client: ClientFactory, db: AsyncSession, role: Role
) -> None:
    fuzz = await seed_fuzz_world(app)

    async def client_for() -> AsyncTestClient[Litestar]:
        if role in {Role.secretariat, Role.chair, Role.desk}:
            return await make_client(staff=role.value)
        if role is Role.delegate:
            return await make_client(token=fuzz.world.token["AAA-head"])
        if role is Role.observer:
            return await make_client(token=fuzz.world.token["AAA-obs"])
        return await make_client()

    client = await client_for()
    assert (await client.get("/api/auth/me")).json()["role"] == role.value
    if "schema" not in _SCHEMA:
        response = await client.get("/schema/openapi.json")
        assert response.status_code == 200
        _SCHEMA["schema"] = schemathesis.openapi.from_dict(response.json())
    schema = _SCHEMA["schema"]
    guards = roles_by_operation(app)
    explicit = examples(fuzz)
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: runs_last(op.method.upper(), op.path),
    )
    assert len(operations) >= 80  # the schema covers the whole JSON API
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for operation in operations:
        method = operation.method.upper()
        key = (method, operation.path)
        if key not in _CASES:
            allowed = tuple(r for r in ROLES if r in guards[key])
            _CASES[key] = cases_for(operation, fuzz, allowed, explicit.get(key, []))
        for case, negative in _CASES[key].get(role, _CASES[key][None]):
            target = client
            if (method, operation.path) in SESSION_CHANGING:
                target = await client_for()
            response = await send(target, case)
            statuses[response.status_code // 100] += 1
            try:
                case.validate_response(response, checks=NEGATIVE_CHECKS if negative else CHECKS)
            except FailureGroup as exc:
                failures.append(f"{role.value}: {method} {case.formatted_path}: {exc}")
                break
    assert failures == [], "\n".join(failures)
    # The fuzzing got past the guards and the rules, not only to refusals.
    assert statuses[2] > 0, statuses
    if role is Role.delegate:  # the motion's and the (secret) election's ballots went through
        await db.rollback()
        for table in (Ballot, Participation):
            assert (await db.execute(select(func.count()).select_from(table))).scalar_one() == 1


async def test_the_schema_promises_the_error_body_and_closed_request_shapes(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    schema = (await client.get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]
    assert components["ErrorBody"]["required"] == ["error", "message"]
    refusal = {"$ref": "#/components/schemas/ErrorBody"}
    responses = schema["paths"]["/api/votes/{vote_id}"]["get"]["responses"]
    for status in ("400", "401", "403", "404", "413", "415", "422"):
        assert responses[status]["content"]["application/json"]["schema"] == refusal, status
    # A request shape that refuses unknown fields says so; ids in bodies are bounded.
    assert components["VoteCreate"]["additionalProperties"] is False
    nmo_id = components["BallotIn"]["properties"]["nmo_id"]
    assert (nmo_id["minimum"], nmo_id["maximum"]) == (1, 2**31 - 1)
