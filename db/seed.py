"""Demo data for the embedded default: `python -m db.seed` (idempotent; never in production).

One user per role (username = the role's name, password = DEMO_PASSWORD), a few people in the
person registry, a few repair vendors (the `vendor` login works for the first), a few county
health networks for SHAMS (the `county_network` login answers for the first; the `carrier`
login for the whole province), a few hospitals and their HIS vendors for SEPAS (the
`hospital_it` login answers for the first hospital, the `his_vendor` login for the first vendor),
a few units for office automation (the `unit_secretary` login answers for the first), and the
fixed-date official holidays of the solar calendar for
this Jalali year and the next. Lunar holidays move every year: admins add them.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import jdatetime
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.engine import get_engine
from db.models import Holiday, Person, User
from db.office_automation import Unit, unit_scope
from db.repair import Vendor, vendor_scope
from db.sepas import HisVendor, Hospital, his_vendor_scope, hospital_scope
from db.shams import County, county_scope
from domain.cases import ALL_SCOPES, STAFF_ROLES, Role
from domain.passwords import hash_password
from settings import AppEnv, Settings, get_settings

TEMPORAL_UI_URL = "http://localhost:8233"

ROLE_TITLES_FA: dict[Role, str] = {
    Role.admin: "مدیر سامانه",
    Role.operator: "اپراتور پایش فرایندها",
    Role.email_admin: "کارشناس سرویس ایمیل",
    Role.it_supervisor: "سرپرست فناوری اطلاعات",
    Role.support_lead: "مسئول پشتیبانی",
    Role.technician: "تکنسین سخت‌افزار",
    Role.vendor: "شرکت تعمیرکار",
    Role.automation_admin: "کارشناس اتوماسیون اداری",
    Role.it_office: "دبیرخانه فناوری اطلاعات",
    Role.it_director: "مدیر فناوری اطلاعات",
    Role.county_network: "کارشناس شبکه شهرستان",
    Role.carrier: "رابط شرکت مخابرات",
    Role.sepas_expert: "کارشناس سپاس",
    Role.hospital_it: "واحد فناوری اطلاعات بیمارستان",
    Role.his_vendor: "شرکت پشتیبان HIS",
    Role.unit_secretary: "دبیرخانه واحد",
    Role.requester: "درخواست‌کننده (از صفحه پیگیری)",
}


def national_code(body: str) -> str:
    """Complete nine digits into a valid national code by adding the check digit."""
    if len(body) != 9 or not body.isdigit():
        raise ValueError("nine digits expected")
    s = sum(int(d) * (10 - i) for i, d in enumerate(body)) % 11
    code = body + str(s if s < 2 else 11 - s)
    if len(set(code)) == 1:
        raise ValueError("a national code of one repeated digit is not valid")
    return code


# (first nine digits of the national code, member id, first name, last name, affiliation, unit)
_PEOPLE: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("002417386", "4012345678", "زهرا", "محمدی", "student", "دانشکده پزشکی"),
    ("127360958", "4023456789", "علی", "رضایی", "student", "دانشکده پرستاری و مامایی"),
    ("038154629", "99120345", "مریم", "حسینی", "staff", "معاونت آموزشی"),
    ("451298037", "99230456", "حسین", "کریمی", "staff", "مدیریت فناوری اطلاعات"),
    ("062738145", "77801234", "فاطمه", "احمدی", "faculty", "دانشکده داروسازی"),
    ("318046279", "77812345", "محمدرضا", "موسوی", "faculty", "دانشکده بهداشت"),
)

# (name, fields of work, contact, mobile, e-mail): the repair vendors; the first is the demo
# `vendor` login's company.
_VENDORS: tuple[tuple[str, tuple[str, ...], str, str, str], ...] = (
    (
        "شرکت پارس رایانه",
        ("pc", "laptop", "monitor"),
        "آقای رضا کاظمی",
        "09121111111",
        "service@parsrayaneh.example.com",
    ),
    ("چاپ‌گستر نوین", ("printer", "scanner"), "خانم نرگس امینی", "09122222222", ""),
    ("شبکه‌پرداز سپهر", ("network_device",), "آقای مهدی نوری", "09123333333", ""),
)

# (code, name, contact, mobile, e-mail): the SHAMS county health networks; the first is the demo
# `county_network` login's county.
_COUNTIES: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "101",
        "شبکه بهداشت و درمان شهرستان کاشان",
        "آقای علی صالحی",
        "09131110101",
        "it@kashan.example.ir",
    ),
    ("102", "شبکه بهداشت و درمان شهرستان آران و بیدگل", "خانم زهرا نیکو", "09131110102", ""),
    ("103", "شبکه بهداشت و درمان شهرستان نطنز", "آقای حسن یزدانی", "09131110103", ""),
)

# (name, products, contact, mobile): the HIS vendors; the first is the demo `his_vendor` login's.
_HIS_VENDORS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("شرکت نمونه سامانه سلامت", ("HIS نمونه",), "آقای کامران فراهانی", "09124440001"),
    ("شرکت نمونه داده‌پردازان درمان", ("HIS درمان‌یار",), "خانم لیلا شریفی", "09124440002"),
)

# (code, name, county code, HIS product, index of its vendor in _HIS_VENDORS): the hospitals;
# the first is the demo `hospital_it` login's.
_HOSPITALS: tuple[tuple[str, str, str, str, int], ...] = (
    ("H1001", "بیمارستان شهید بهشتی کاشان", "101", "HIS نمونه", 0),
    ("H1002", "بیمارستان نقوی کاشان", "101", "HIS درمان‌یار", 1),
    ("H1003", "بیمارستان سیدالشهدا آران و بیدگل", "102", "HIS نمونه", 0),
)

# (code, name, parent code, head's name, head's national code body, head's mobile): the units of
# office automation; the first is the demo `unit_secretary` login's.
_UNITS: tuple[tuple[str, str, str | None, str, str, str], ...] = (
    ("U-100", "معاونت توسعه مدیریت و منابع", None, "دکتر محمود صادقی", "127360958", "09135550100"),
    ("U-110", "مدیریت امور مالی", "U-100", "آقای حمید نوروزی", "451298037", "09135550110"),
    ("U-200", "معاونت درمان", None, "دکتر سارا کیانی", "318046279", "09135550200"),
)

# (Jalali month, day, Persian title): the official holidays of the solar calendar.
_SOLAR_HOLIDAYS: tuple[tuple[int, int, str], ...] = (
    (1, 1, "عید نوروز"),
    (1, 2, "عید نوروز"),
    (1, 3, "عید نوروز"),
    (1, 4, "عید نوروز"),
    (1, 12, "روز جمهوری اسلامی"),
    (1, 13, "روز طبیعت"),
    (3, 14, "رحلت حضرت امام خمینی (ره)"),
    (3, 15, "قیام ۱۵ خرداد"),
    (11, 22, "پیروزی انقلاب اسلامی"),
    (12, 29, "ملی شدن صنعت نفت"),
)


class SeedReport(BaseModel):
    skipped: bool = False
    """True in production: nothing was read or written."""
    users_created: list[str] = []
    people_created: list[str] = []
    """National codes of the people added to the registry."""
    holidays_created: list[date] = []
    vendors_created: list[str] = []
    counties_created: list[str] = []
    """Codes of the SHAMS counties added."""
    sepas_created: list[str] = []
    """Names of the HIS vendors and codes of the hospitals added."""
    units_created: list[str] = []
    """Codes of the office-automation units added."""


def demo_people() -> list[Person]:
    return [
        Person(
            national_code=national_code(body),
            member_id=member_id,
            first_name=first,
            last_name=last,
            affiliation=affiliation,
            unit=unit,
        )
        for body, member_id, first, last, affiliation, unit in _PEOPLE
    ]


def solar_holidays(jalali_year: int) -> list[Holiday]:
    """The fixed-date official holidays of one Jalali year, as Gregorian days."""
    return [
        Holiday(day=jdatetime.date(jalali_year, month, day).togregorian(), title=title)
        for month, day, title in _SOLAR_HOLIDAYS
    ]


def current_jalali_year(settings: Settings, now: datetime | None = None) -> int:
    now = now or datetime.now(ZoneInfo(settings.timezone))
    year: int = jdatetime.date.fromgregorian(date=now.date()).year
    return year


def demo_vendors() -> list[Vendor]:
    return [
        Vendor(
            name=name, fields=list(fields), contact_name=contact, mobile=mobile, email=email or None
        )
        for name, fields, contact, mobile, email in _VENDORS
    ]


def _seed_vendors(session: Session) -> tuple[list[str], int]:
    """The missing demo vendors; and the id of the first, whose jobs the `vendor` login sees."""
    names = [v.name for v in demo_vendors()]
    existing = {v.name: v for v in session.exec(select(Vendor).where(col(Vendor.name).in_(names)))}
    created = []
    for vendor in demo_vendors():
        if vendor.name not in existing:
            session.add(vendor)
            existing[vendor.name] = vendor
            created.append(vendor.name)
    session.flush()
    first = existing[names[0]].id
    assert first is not None
    return created, first


def demo_counties() -> list[County]:
    return [
        County(code=code, name=name, contact_name=contact, mobile=mobile, email=email or None)
        for code, name, contact, mobile, email in _COUNTIES
    ]


def _seed_counties(session: Session) -> list[str]:
    counties = demo_counties()
    codes = [c.code for c in counties]
    existing = set(session.exec(select(County.code).where(col(County.code).in_(codes))))
    created = []
    for county in counties:
        if county.code not in existing:
            session.add(county)
            created.append(county.code)
    session.flush()
    return created


def demo_units() -> list[Unit]:
    return [
        Unit(
            code=code,
            name=name,
            parent_code=parent,
            head_name=head,
            head_national_code=national_code(body),
            head_mobile=mobile,
        )
        for code, name, parent, head, body, mobile in _UNITS
    ]


def _seed_units(session: Session) -> list[str]:
    units = demo_units()
    codes = [u.code for u in units]
    existing = set(session.exec(select(Unit.code).where(col(Unit.code).in_(codes))))
    created = []
    for unit in units:
        if unit.code not in existing:
            session.add(unit)
            created.append(unit.code)
    return created


def _seed_sepas(session: Session) -> tuple[list[str], int]:
    """The missing HIS vendors and hospitals; and the id of the first vendor, the `his_vendor`
    login's company."""
    names = [name for name, *_ in _HIS_VENDORS]
    vendors = {
        v.name: v for v in session.exec(select(HisVendor).where(col(HisVendor.name).in_(names)))
    }
    created = []
    for name, products, contact, mobile in _HIS_VENDORS:
        if name not in vendors:
            vendors[name] = HisVendor(
                name=name, products=list(products), contact_name=contact, mobile=mobile
            )
            session.add(vendors[name])
            created.append(name)
    session.flush()
    codes = [code for code, *_ in _HOSPITALS]
    existing = set(session.exec(select(Hospital.code).where(col(Hospital.code).in_(codes))))
    for code, name, county, product, vendor in _HOSPITALS:
        if code not in existing:
            vendor_id = vendors[names[vendor]].id
            session.add(
                Hospital(
                    code=code,
                    name=name,
                    county_code=county,
                    his_product=product,
                    his_vendor_id=vendor_id,
                )
            )
            created.append(code)
    session.flush()
    first = vendors[names[0]].id
    assert first is not None
    return created, first


def _demo_scope(role: Role, vendor_id: int, his_vendor_id: int) -> str:
    """An outside party's login sees its own share only; the university's staff see all."""
    if role == Role.vendor:
        return vendor_scope(vendor_id)
    if role == Role.county_network:
        return county_scope(_COUNTIES[0][0])
    if role == Role.hospital_it:
        return hospital_scope(_HOSPITALS[0][0])
    if role == Role.his_vendor:
        return his_vendor_scope(his_vendor_id)
    if role == Role.unit_secretary:
        return unit_scope(_UNITS[0][0])
    return ALL_SCOPES


def _seed_users(
    session: Session, settings: Settings, vendor_id: int, his_vendor_id: int
) -> list[str]:
    wanted = [role.value for role in STAFF_ROLES]
    existing = set(session.exec(select(User.username).where(col(User.username).in_(wanted))))
    created = []
    for role in STAFF_ROLES:
        if role.value in existing:
            continue
        session.add(
            User(
                username=role.value,
                full_name=ROLE_TITLES_FA[role],
                password_hash=hash_password(settings.demo_password),
                roles=[role.value],
                scopes=[_demo_scope(role, vendor_id, his_vendor_id)],
                email=f"{role.value}@{settings.mail_domain}",
            )
        )
        created.append(role.value)
    return created


def _seed_people(session: Session) -> list[str]:
    created = []
    for person in demo_people():
        found = session.exec(
            select(Person.id).where(
                Person.national_code == person.national_code,
                Person.member_id == person.member_id,
            )
        ).first()
        if found is None:
            session.add(person)
            created.append(person.national_code)
    return created


def _seed_holidays(session: Session, settings: Settings) -> list[date]:
    year = current_jalali_year(settings)
    holidays = solar_holidays(year) + solar_holidays(year + 1)
    days = [h.day for h in holidays]
    existing = set(session.exec(select(col(Holiday.day)).where(col(Holiday.day).in_(days))))
    created = []
    for holiday in holidays:
        if holiday.day not in existing:
            session.add(holiday)
            created.append(holiday.day)
    return created


def seed(settings: Settings, engine: Engine) -> SeedReport:
    """Add whatever demo data is missing; in production do nothing at all."""
    if settings.app_env == AppEnv.production:
        return SeedReport(skipped=True)
    with Session(engine) as session:
        vendors_created, first_vendor = _seed_vendors(session)
        counties_created = _seed_counties(session)
        sepas_created, first_his_vendor = _seed_sepas(session)
        report = SeedReport(
            users_created=_seed_users(session, settings, first_vendor, first_his_vendor),
            people_created=_seed_people(session),
            holidays_created=_seed_holidays(session, settings),
            vendors_created=vendors_created,
            counties_created=counties_created,
            sepas_created=sepas_created,
            units_created=_seed_units(session),
        )
        session.commit()
    return report


def describe(report: SeedReport) -> str:
    if report.skipped:
        return "seed: APP_ENV is production, skipped (no demo data in production)"
    return (
        f"seed: added {len(report.users_created)} users, {len(report.people_created)} people, "
        f"{len(report.holidays_created)} holidays, {len(report.vendors_created)} vendors, "
        f"{len(report.counties_created)} counties, "
        f"{len(report.sepas_created)} SEPAS hospitals and HIS vendors, "
        f"{len(report.units_created)} units (what existed was kept)"
    )


def welcome(settings: Settings) -> str:
    """The short table a newcomer needs: where things are and how to log in."""
    base = settings.public_base_url.rstrip("/")
    lines = [
        "",
        "  Peygir (پیگیر)",
        f"  {'portal / API':<16}{base}",
        f"  {'API docs':<16}{base}/docs",
        f"  {'Temporal UI':<16}{TEMPORAL_UI_URL}",
    ]
    if settings.app_env != AppEnv.production:
        width = max(len(r.value) for r in STAFF_ROLES) + 2
        lines += ["", f"  demo users (password: {settings.demo_password})"]
        lines += [f"    {r.value:<{width}}{ROLE_TITLES_FA[r]}" for r in STAFF_ROLES]
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    settings = get_settings()
    if settings.app_env == AppEnv.production:
        print(describe(SeedReport(skipped=True)))
        return
    print(describe(seed(settings, get_engine())))
    print(welcome(settings))


if __name__ == "__main__":
    main()
