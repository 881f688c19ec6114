"""A vote's opening pushes each right holder their own ballot, rendered once per shape and
filled in per holder (live.broadcast.personal_ballots): every ballot must be exactly what
rendering it on its own gives, whatever the NMO codes hold."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import DictLoader, Environment

from assembly.app import make_jinja
from assembly.live import broadcast
from assembly.live.broadcast import as_of, personal_ballots, render_for, start_reading
from assembly.settings import Settings
from assembly.voting.schemas import OptionOut, VoteOut
from tests.conftest import SECRET

TEMPLATE = "fragments/my_ballot.html"


class Ctx:
    def __init__(self, jinja: Environment) -> None:
        self.jinja = jinja


CTX = Ctx(make_jinja(Settings(database_url="sqlite+aiosqlite:///:memory:", secret_key=SECRET)))


def a_vote(state: str = "open", kind: str = "motion") -> VoteOut:
    options = ("yes", "no", "abstain") if kind == "motion" else ("Ana & Bo", "<Cy>")
    return VoteOut(
        id=9,
        assembly_id=1,
        kind=kind,
        question="Shall the agenda be adopted?",
        description="",
        rule="simple",
        base="cast",
        secret=False,
        seats=1,
        method="rounds",
        round_no=1,
        parent_id=None,
        state=state,
        options=[OptionOut(key=k, label=k) for k in options],
        opened_at=None,
        closed_at=None,
        countdown_ends_at=None,
        on_projector=False,
        result=None,
        subject_kind=None,
        subject_id=None,
    )


def right(
    nmo_id: int, code: str, *, proxy: bool = False, weight: str = "1", receipt: str = ""
) -> dict[str, Any]:
    return {
        "nmo_id": nmo_id,
        "nmo_code": code,
        "weight": weight,
        "via_proxy": proxy,
        "voted": bool(receipt),
        "receipt": receipt,
    }


TRICKY = ["AMSA-Kenya", "A&B", "<i>x</i>", 'Q"uote', "O'Brien", "QZXJ1CZ", "QZXJ0NZ", "Ünï"]
codes = st.sampled_from(TRICKY) | st.text(min_size=1, max_size=20)
receipts = st.sampled_from(["", "ABCDE-FGHJK", "23456-789AB"])
rights_of_one = st.lists(
    st.builds(
        lambda n, c, p, w, r: right(n, c, proxy=p, weight=w, receipt=r),
        st.integers(1, 10_000),
        codes,
        st.booleans(),
        st.sampled_from(["1", "2", "3/2"]),
        receipts,
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=60)
@given(
    holders=st.dictionaries(st.integers(1, 50), rights_of_one, min_size=1, max_size=12),
    languages=st.dictionaries(st.integers(1, 50), st.sampled_from(["en", "fr", "es"])),
    state=st.sampled_from(["open", "closed"]),
    kind=st.sampled_from(["motion", "election"]),
)
def test_every_ballot_is_what_rendering_it_alone_gives(
    holders: dict[int, list[dict[str, Any]]], languages: dict[int, str], state: str, kind: str
) -> None:
    start_reading()  # one announcement: one as-of time for all its fragments
    vote = a_vote(state, kind)
    got = dict(personal_ballots(CTX, vote, holders, languages))  # type: ignore[arg-type]
    assert set(got) == set(holders)
    for delegate_id, mine in holders.items():
        alone = render_for(
            CTX, languages.get(delegate_id), TEMPLATE, oob=True, vote=vote, rights=mine
        )  # type: ignore[arg-type]
        assert got[delegate_id] == alone


def count_renderings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the template of every rendering personal_ballots makes."""
    rendered: list[str] = []
    real = broadcast.render_for

    def counting(*args: Any, **kwargs: Any) -> str:
        rendered.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(broadcast, "render_for", counting)
    return rendered


def test_holders_of_one_shape_cost_one_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    start_reading()
    rendered = count_renderings(monkeypatch)
    holders = {d: [right(d, f"N{d}")] for d in range(1, 501)}
    holders[999] = [right(999, "OWN"), right(1000, "GIVER", proxy=True)]
    got = dict(personal_ballots(CTX, a_vote(), holders, {}))  # type: ignore[arg-type]
    assert len(got) == 501
    assert 'data-nmo="123"' in got[123] and "Vote of N123" in got[123]
    assert len(rendered) == 4  # two shapes: each rendered alone once and as a skeleton once


def test_a_template_that_tests_a_code_falls_back_to_rendering_each_ballot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    start_reading()
    env = Environment(
        loader=DictLoader(
            {
                TEMPLATE: "{% for r in rights %}"
                "{{ 'long' if r.nmo_code | length > 3 else 'short' }} {{ r.nmo_code }}"
                "{% endfor %}"
            }
        ),
        autoescape=True,
    )
    env.globals["as_of"] = as_of
    holders = {1: [right(1, "ABCD")], 2: [right(2, "AB")]}
    with caplog.at_level(logging.WARNING):
        got = dict(personal_ballots(Ctx(env), a_vote(), holders, {}))  # type: ignore[arg-type]
    assert got == {1: "long ABCD", 2: "short AB"}
    assert "cannot be rendered once per shape" in caplog.text


def test_closed_ballots_with_receipts_are_filled_in_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A close pushes every holder their receipts (with download links): one shape too."""
    start_reading()
    rendered = count_renderings(monkeypatch)
    holders = {d: [right(d, f"N{d}", receipt=f"ABCDE-{d:05d}")] for d in range(1, 301)}
    got = dict(personal_ballots(CTX, a_vote("closed"), holders, {}))  # type: ignore[arg-type]
    assert "receipt=ABCDE-00042" in got[42] and "N42" in got[42]
    assert len(rendered) == 2
