"""`assembly demo`: a small General Assembly to try every screen on one machine."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import amending, documents
from assembly.agenda import service as agenda
from assembly.agenda.models import Amendment, Document
from assembly.credentials import service
from assembly.credentials.auth import Principal, Role, TokenSealer
from assembly.credentials.models import Assembly, Delegate, Nmo
from assembly.settings import Settings
from assembly.voting import service as voting

DEMO_AGENDA = [
    ("Opening of the plenary and roll call", "procedural", None),
    ("Adoption of the agenda", "procedural", None),
    ("Policy Statement on Climate and Health", "policy", "policy"),
    ("Amendments to the Bylaws", "bylaws", "bylaws"),
    ("Election of the Vice-President for Finance", "election", None),
]

DEMO_POLICY = """# Policy Statement on Climate and Health

## Introduction

Climate change is the greatest threat to global health of the 21st century.

Medical students will practise in a world shaped by a changing climate.

## Position

The Federation calls on medical schools to include planetary health in their curricula.

The Federation calls on governments to phase out fossil fuel subsidies.

## Call to action

National Member Organizations should measure and reduce the carbon footprint of their events.
"""
# p1 title, p2 "## Introduction", p3 threat, p4 students, p5 "## Position", p6 schools,
# p7 governments, p8 "## Call to action", p9 NMOs.

DEMO_BYLAWS = """# Bylaws

## Article 1. General Assembly

1.1 The General Assembly meets twice a year.

1.2 Proposals to amend these Bylaws are sent to the Secretariat one month before the
General Assembly.

## Article 2. Voting

2.1 Each Full Member has one vote.

2.2 Votes are taken by a show of placards.
"""
# p1 title, p2 "## Article 1", p3 1.1, p4 1.2, p5 "## Article 2", p6 2.1, p7 2.2.

# Drafts the chair can open from the chair screen. The agenda, the amendments and the final
# votes on texts are put to the vote from the agenda and amendments panels instead.
DEMO_VOTES = [
    voting.VoteSpec(
        kind="motion",
        question="Shall the General Assembly thank the Organizing Committee?",
        secret=True,
    ),
    voting.VoteSpec(
        kind="election",
        question="Election of the Vice-President for Finance",
        candidates=["Amira Haddad", "Lucas Ferreira", "Mei Lin"],
    ),
]

DEMO_DB = Path("var") / "demo.sqlite3"
DEMO_NAME = "Demo General Assembly"
DEMO_AUDIT_KEY = Path("var") / "demo-audit-key.json"
DEMO_AUDIT_PASSPHRASE = "demo-audit-passphrase-do-not-use-in-production"
# Demo only: a fixed key so that printed links survive a restart with --keep.
DEMO_SECRET = "demo-secret-key-do-not-use-in-production-0123456789"
DEMO_PASSWORDS = {
    "secretariat": "secretariat-demo",
    "chair": "chair-demo-pass",
    "desk": "desk-demo-pass",
}

# code, name, country, class, weight, delegates (first is head)
DEMO_NMOS: list[tuple[str, str, str, str, str, list[str]]] = [
    (
        "ANEMF",
        "Association Nationale des Étudiants en Médecine de France",
        "France",
        "full",
        "3",
        ["Camille Martin", "Hugo Bernard"],
    ),
    (
        "bvmd",
        "Bundesvertretung der Medizinstudierenden in Deutschland",
        "Germany",
        "full",
        "3",
        ["Lena Schmidt", "Jonas Weber"],
    ),
    (
        "IFMSA-Brazil",
        "IFMSA Brazil",
        "Brazil",
        "full",
        "4",
        ["Ana Souza", "Pedro Lima", "Mariana Costa"],
    ),
    (
        "AMSA-Kenya",
        "Medical Students Association of Kenya",
        "Kenya",
        "full",
        "2",
        ["Wanjiru Kamau", "Otieno Ouma"],
    ),
    ("IFMSA-Quebec", "IFMSA-Québec", "Canada", "full", "2", ["Élodie Tremblay", "Samuel Roy"]),
    (
        "MSAI",
        "Medical Students' Association of India",
        "India",
        "full",
        "4",
        ["Priya Sharma", "Arjun Nair"],
    ),
    (
        "AMSA-Japan",
        "Asian Medical Students' Association Japan",
        "Japan",
        "full",
        "2",
        ["Yuki Tanaka", "Haruto Sato"],
    ),
    ("IFMSA-Egypt", "IFMSA-Egypt", "Egypt", "full", "3", ["Omar Hassan", "Nour Ali"]),
    (
        "SaMSA",
        "South African Medical Students' Association",
        "South Africa",
        "candidate",
        "1",
        ["Thandi Nkosi"],
    ),
    (
        "FEMH",
        "Federación de Estudiantes de Medicina de Honduras",
        "Honduras",
        "associate",
        "1",
        ["Carlos Mejía"],
    ),
    (
        "IMCC",
        "International Medical Cooperation Committee",
        "Denmark",
        "full",
        "5/2",
        ["Freja Jensen", "Mads Nielsen"],
    ),
    (
        "AMSEA",
        "Medical Students' Association of Eastern Anatolia",
        "Türkiye",
        "suspended",
        "1",
        ["Deniz Yılmaz"],
    ),
]


def write_demo_audit_key(settings: Settings) -> None:
    """The demo's signing key: sealed like a real one, with the lowest scrypt cost allowed
    (the passphrase is public anyway)."""
    from assembly.audit import keys
    from assembly.audit.log import key_name

    name = key_name(settings.public_url)
    private_key, _ = keys.generate(name)
    DEMO_AUDIT_KEY.parent.mkdir(parents=True, exist_ok=True)
    DEMO_AUDIT_KEY.write_bytes(keys.seal(private_key, DEMO_AUDIT_PASSPHRASE, name=name, n=2**15))


async def seed_demo(db: AsyncSession, settings: Settings) -> str:
    """Create the demo assembly (unless it is there already, as after `demo --keep`) and
    return the text that tells a newcomer where to go."""
    existing = await db.scalar(select(Assembly).where(Assembly.name == DEMO_NAME))
    if existing is None:
        await _seed(db, settings)
    return await describe_demo(db, settings)


async def _seed(db: AsyncSession, settings: Settings) -> None:
    sealer = TokenSealer(settings.secret_key)
    for role, password in DEMO_PASSWORDS.items():
        await service.add_staff(db, role, password, role, display_name=f"Demo {role}")
    assembly = await service.create_assembly(
        db,
        "demo",
        DEMO_NAME,
        place="Online",
        starts_on=dt.date.today(),
        ends_on=dt.date.today() + dt.timedelta(days=2),
        proxies_enabled=True,
        max_proxies=1,
        self_checkin=True,
    )
    nmos = {}
    for code, name, country, member_class, weight, people in DEMO_NMOS:
        nmo = await service.add_nmo(
            db,
            assembly,
            "demo",
            code=code,
            name=name,
            country=country,
            member_class=member_class,
            weight=Fraction(weight),
        )
        nmos[code] = nmo
        for i, person in enumerate(people):
            delegate, _token = await service.add_delegate(
                db,
                sealer,
                nmo,
                "demo",
                name=person,
                email=f"{person.split()[0].lower()}@example.org",
                role="head" if i == 0 else "delegate",
            )
            # Most delegations are credentialed and their heads checked in, so quorum is met.
            if i == 0 and code not in {"AMSA-Japan", "FEMH"}:
                await service.set_checked_in(db, delegate, "demo", True, via="desk")
        # AMSA-Japan is credentialed but absent: its vote is cast by MSAI's head, by proxy.
        if code not in {"FEMH", "IMCC"}:
            await service.set_credentialed(db, nmo, "demo", True)
    secretariat = Principal(Role.secretariat, name="secretariat", staff_user_id=0)
    await service.give_proxy(db, secretariat, assembly, nmos["AMSA-Japan"], nmos["MSAI"])
    for spec in DEMO_VOTES:
        await voting.create_vote(db, assembly, "demo", spec)
    texts = await _seed_texts(db, assembly, secretariat, nmos)
    today = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    morning = await agenda.add_session(
        db,
        assembly,
        "demo",
        "Plenary I",
        today.replace(hour=9),
        today.replace(hour=12, minute=30),
    )
    afternoon = await agenda.add_session(
        db, assembly, "demo", "Plenary II", today.replace(hour=14), today.replace(hour=18)
    )
    for i, (title, kind, text) in enumerate(DEMO_AGENDA):
        item = await agenda.add_item(
            db,
            assembly,
            "demo",
            title,
            kind,
            session_id=(morning if i < 3 else afternoon).id,
            document_id=texts[text].id if text else None,
        )
        if i == 0:
            await agenda.make_current(db, item)


async def _seed_texts(
    db: AsyncSession, assembly: Assembly, secretariat: Principal, nmos: dict[str, Nmo]
) -> dict[str, Document]:
    """A policy with amendments of every kind (one amending another, two on the same
    paragraph) and the Bylaws with one proposed change, all admitted and ready to be voted."""
    policy, _ = await documents.create_document(
        db, assembly, "demo", "Policy Statement on Climate and Health", "policy", DEMO_POLICY
    )
    bylaws, _ = await documents.create_document(
        db, assembly, "demo", "Bylaws", "bylaws", DEMO_BYLAWS
    )

    async def amendment(
        document: Document,
        code: str,
        changes: list[amending.ChangeIn],
        rationale: str,
        *,
        cosponsors: tuple[str, ...] = (),
        amends: Amendment | None = None,
        now: dt.datetime | None = None,
    ) -> Amendment:
        row = await amending.submit(
            db,
            secretariat,
            document,
            nmos[code],
            amending.Proposal(
                changes=changes,
                rationale=rationale,
                amends_id=amends.id if amends else None,
                cosponsor_nmo_ids=[nmos[c].id for c in cosponsors],
            ),
            now=now,
        )
        await amending.admit(db, "demo", row)
        return row

    schools = await amendment(
        policy,
        "MSAI",
        [
            amending.ChangeIn(
                "replace",
                "p6",
                text="The Federation calls on medical schools to make planetary health a "
                "compulsory part of their curricula by 2030.",
            )
        ],
        "A call without a date changes nothing.",
        cosponsors=("AMSA-Kenya",),
    )
    await amendment(
        policy,
        "ANEMF",
        [
            amending.ChangeIn(
                "replace",
                "p6",
                text="The Federation calls on medical schools to make planetary health a "
                "compulsory part of their curricula by 2028.",
            )
        ],
        "2030 is too late for students starting now.",
        amends=schools,
    )
    await amendment(
        policy,
        "bvmd",
        [
            amending.ChangeIn(
                "insert",
                after="p7",
                text="The Federation calls on health systems to publish their greenhouse gas "
                "emissions every year.",
            )
        ],
        "Health care causes about 5 % of emissions.",
    )
    await amendment(
        policy,
        "IFMSA-Brazil",
        [amending.ChangeIn("replace", "p6", text="Planetary health belongs in every curriculum.")],
        "Shorter.",
    )
    await amendment(
        policy,
        "AMSA-Kenya",
        [amending.ChangeIn("delete", "p4")],
        "Already said in the paragraph before.",
    )
    # Proposed two months before the assembly, within the Bylaws' one-month deadline.
    await amendment(
        bylaws,
        "ANEMF",
        [
            amending.ChangeIn(
                "replace",
                "p7",
                text="2.2 Votes are taken electronically; each delegation votes from its "
                "own device.",
            )
        ],
        "Placards cannot be counted exactly, weighted or checked afterwards.",
        cosponsors=("bvmd", "MSAI"),
        now=dt.datetime.combine(assembly.starts_on or dt.date.today(), dt.time(9), tzinfo=dt.UTC)
        - dt.timedelta(days=60),
    )
    return {"policy": policy, "bylaws": bylaws}


async def describe_demo(db: AsyncSession, settings: Settings) -> str:
    """Where to open every screen, with every delegate's current login link."""
    sealer = TokenSealer(settings.secret_key)
    assembly = (await db.execute(select(Assembly).where(Assembly.name == DEMO_NAME))).scalar_one()
    rows = await db.execute(
        select(Delegate, Nmo.code)
        .join(Nmo, Nmo.id == Delegate.nmo_id)
        .where(Nmo.assembly_id == assembly.id)
        .order_by(Nmo.id, Delegate.id)
    )
    url = settings.public_url
    lines = [
        "",
        f"Demo assembly {assembly.name!r} is ready (database {settings.database_url}).",
        "",
        f"  Start page       {url}/",
        f"  Secretariat      {url}/login   user secretariat / {DEMO_PASSWORDS['secretariat']}",
        f"  Chair            {url}/login   user chair / {DEMO_PASSWORDS['chair']}",
        f"  Credentials desk {url}/login   user desk / {DEMO_PASSWORDS['desk']}",
        f"  Projector        {url}/projector/{assembly.id}",
        f"  Public record    {url}/record/{assembly.id}   (results, minutes.pdf, exports)",
        f"  Audit log        {url}/assemblies/{assembly.id}/log",
        "",
        "  Delegates (open a link on a phone, or in a private window):",
    ]
    for delegate, code in rows.all():
        who = f"{delegate.name} ({delegate.role})"
        link = f"{url}/login/{service.login_token(sealer, delegate)}"
        lines.append(f"    {code:<13} {who:<34} {link}")
    lines.append("")
    return "\n".join(lines)
