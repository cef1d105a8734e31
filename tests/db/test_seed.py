"""The demo seed: idempotent, valid data, and nothing at all in production."""

from __future__ import annotations

import jdatetime
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from db.models import Holiday, Person, User
from db.repair import Vendor, vendor_scope
from db.seed import (
    ROLE_TITLES_FA,
    SeedReport,
    current_jalali_year,
    demo_counties,
    demo_people,
    demo_vendors,
    seed,
)
from db.sepas import Hospital, his_vendor_scope, hospital_scope
from db.shams import County, county_scope
from domain.cases import STAFF_ROLES, Role
from domain.identity import is_valid_national_code, normalize_mobile
from domain.passwords import verify_password
from domain.repair import AssetKind
from settings import AppEnv, Settings

ROLE_NAMES = [r.value for r in STAFF_ROLES]


def _counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(model)).one()
            for model in (User, Person, Holiday)
        )


def test_production_seeds_nothing(settings: Settings, engine: Engine) -> None:
    # Runs before any development seed in this module, so there is something it could add.
    production = settings.model_copy(update={"app_env": AppEnv.production})
    before = _counts(engine)
    report = seed(production, engine)
    assert report == SeedReport(skipped=True)
    assert _counts(engine) == before


def test_production_does_not_touch_the_database(settings: Settings) -> None:
    production = settings.model_copy(update={"app_env": "production"})

    class NoEngine:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"production seed used the engine ({name})")

    assert seed(production, NoEngine()).skipped  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def first(settings: Settings, engine: Engine) -> SeedReport:
    return seed(settings, engine)


def test_seeding_twice_creates_users_once(
    first: SeedReport, settings: Settings, engine: Engine
) -> None:
    again = seed(settings, engine)
    assert not again.skipped
    assert again.users_created == []
    assert again.people_created == []
    assert again.holidays_created == []
    assert again.vendors_created == []
    assert again.counties_created == []
    assert again.sepas_created == []
    assert again.units_created == []
    with Session(engine) as session:
        users = session.exec(select(User).where(col(User.username).in_(ROLE_NAMES))).all()
    assert sorted(u.username for u in users) == sorted(ROLE_NAMES)
    for user in users:
        if user.username in first.users_created:
            assert user.roles == [user.username]
            if user.username not in (
                Role.vendor,
                Role.county_network,
                Role.hospital_it,
                Role.his_vendor,
                Role.unit_secretary,
            ):
                assert user.scopes == ["*"]
            assert user.full_name == ROLE_TITLES_FA[Role(user.username)]
            assert user.email == f"{user.username}@{settings.mail_domain}"


def test_every_role_has_a_persian_title() -> None:
    assert set(ROLE_TITLES_FA) == set(Role)


def test_demo_password_verifies(first: SeedReport, settings: Settings, engine: Engine) -> None:
    assert first.users_created, "the test database already had every demo user"
    with Session(engine) as session:
        users = session.exec(select(User).where(col(User.username).in_(first.users_created))).all()
    assert len(users) == len(first.users_created)
    for user in users:
        assert verify_password(user.password_hash, settings.demo_password)
        assert not verify_password(user.password_hash, settings.demo_password + "x")


def test_seeded_national_codes_are_valid(first: SeedReport, engine: Engine) -> None:
    people = demo_people()
    assert {p.affiliation for p in people} == {"student", "staff", "faculty"}
    for person in people:
        assert is_valid_national_code(person.national_code), person.national_code
    codes = [p.national_code for p in people]
    with Session(engine) as session:
        stored = session.exec(select(Person).where(col(Person.national_code).in_(codes))).all()
    assert {p.national_code for p in stored} >= set(first.people_created)
    assert all(is_valid_national_code(p.national_code) for p in stored)


def test_holidays_include_next_nowruz(
    first: SeedReport, settings: Settings, engine: Engine
) -> None:
    year = current_jalali_year(settings)
    nowruz = jdatetime.date(year + 1, 1, 1).togregorian()
    this_nowruz = jdatetime.date(year, 1, 1).togregorian()
    revolution = jdatetime.date(year + 1, 11, 22).togregorian()
    with Session(engine) as session:
        stored = session.get(Holiday, nowruz)
        assert stored is not None
        assert session.get(Holiday, this_nowruz) is not None
        assert session.get(Holiday, revolution) is not None
    if nowruz in first.holidays_created:
        assert stored.title == "عید نوروز"
    assert nowruz.month == 3 and nowruz.day in (20, 21, 22)


def test_no_login_is_made_for_the_requester(first: SeedReport) -> None:
    assert Role.requester.value not in first.users_created


def test_demo_vendors_once_each_and_the_vendor_login_sees_the_first(
    first: SeedReport, engine: Engine
) -> None:
    names = [v.name for v in demo_vendors()]
    assert len(names) >= 3
    with Session(engine) as session:
        stored = session.exec(select(Vendor).where(col(Vendor.name).in_(names))).all()
        login = session.exec(select(User).where(User.username == Role.vendor.value)).one()
    assert sorted(v.name for v in stored) == sorted(names)
    for vendor in stored:
        assert vendor.fields and all(f in AssetKind.__members__ for f in vendor.fields)
        assert vendor.mobile is not None and normalize_mobile(vendor.mobile) == vendor.mobile
        assert vendor.is_active
    covered = {f for v in stored for f in v.fields}
    assert covered >= {"pc", "laptop", "printer", "network_device"}
    company = next(v for v in stored if v.name == names[0])
    if Role.vendor.value in first.users_created:
        assert login.roles == [Role.vendor.value]
        assert login.scopes == [vendor_scope(company.id or 0)]


def test_demo_counties_once_each_and_the_county_login_answers_for_the_first(
    first: SeedReport, engine: Engine
) -> None:
    codes = [c.code for c in demo_counties()]
    assert len(codes) >= 3
    with Session(engine) as session:
        stored = session.exec(select(County).where(col(County.code).in_(codes))).all()
        county_login = session.exec(
            select(User).where(User.username == Role.county_network.value)
        ).one()
        carrier = session.exec(select(User).where(User.username == Role.carrier.value)).one()
    assert sorted(c.code for c in stored) == sorted(codes)
    for county in stored:
        assert county.active and county.mobile is not None
        assert normalize_mobile(county.mobile) == county.mobile
    if Role.county_network.value in first.users_created:
        assert county_login.scopes == [county_scope(codes[0])]
        assert carrier.scopes == ["*"]


def test_the_sepas_logins_see_their_own_hospital_and_company(
    first: SeedReport, engine: Engine
) -> None:
    with Session(engine) as session:
        hospital = session.exec(select(Hospital).where(Hospital.code == "H1001")).one()
        users = {
            u.username: u
            for u in session.exec(
                select(User).where(col(User.username).in_([Role.hospital_it, Role.his_vendor]))
            )
        }
    assert hospital.his_vendor_id is not None
    assert users[Role.hospital_it].scopes == [hospital_scope("H1001")]
    assert users[Role.his_vendor].scopes == [his_vendor_scope(hospital.his_vendor_id)]
