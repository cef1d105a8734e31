"""The SHAMS site register's files: a county's sites in the template (CSV or XLSX, Persian or
English headers), all or nothing, errors by row and column, duplicates in the file and against
the register, a re-import that updates instead of duplicating, the template and the export read
back, the counties' list, and 20,000 rows in bulk."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, event, func
from sqlmodel import Session, col, select

import db.engine
import db.site_register as register
from db.shams import County, Site, SiteEvent, site_reach
from db.site_register import (
    EXAMPLE_SITE,
    SITE_FIELD_FA,
    ImportReport,
    export_rows,
    import_counties,
    import_sites,
    main,
    site_template,
)
from domain.cases import Role
from domain.shams import LinkType, SiteKind, SiteState
from domain.spreadsheets import xlsx_bytes
from domain.uploads import FileRefused

FA_HEADER = ",".join(SITE_FIELD_FA.values())
EN_HEADER = ",".join(SITE_FIELD_FA)


def tag() -> str:
    """A prefix of codes no other test uses (the database is shared)."""
    return uuid.uuid4().hex[:6].upper()


def county(engine: Engine, code: str | None = None, *, active: bool = True) -> str:
    code = code or f"C{tag()}"
    with Session(engine) as session:
        session.add(County(code=code, name=f"شبکه بهداشت {code}", active=active))
        session.commit()
    return code


def line(county_code: str, site_code: str, **changes: str) -> str:
    values = {
        "county_code": county_code,
        "site_code": site_code,
        "siam_id": "",
        "name": f"خانه بهداشت {site_code}",
        "kind": "خانه بهداشت",
        "address": "روستای نمونه، خیابان اصلی",
        "postal_code": "۸۷۳۱۲۳۴۵۶۷",
        "phone": "۰۳۱-۵۴۵۶۱۲۳۴",
        "latitude": "۳۳٫۹۸۵۲",
        "longitude": "51.4364",
        "link_type": "فیبر نوری",
        **changes,
    }
    return ",".join(values[f] for f in SITE_FIELD_FA)


def csv(*lines: str, header: str = FA_HEADER) -> bytes:
    return ("\ufeff" + "\n".join([header, *lines]) + "\n").encode()


def run(engine: Engine, data: bytes, **options: Any) -> ImportReport:
    options.setdefault("actor", "it_office")
    with Session(engine) as session:
        return import_sites(session, data, **options)


def sites(engine: Engine, prefix: str) -> dict[str, Site]:
    with Session(engine) as session:
        rows = session.exec(select(Site).where(col(Site.site_code).startswith(prefix)))
        return {s.site_code: s for s in rows}


def history(engine: Engine, site: Site) -> list[SiteEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(SiteEvent).where(SiteEvent.site_id == site.id).order_by(col(SiteEvent.id))
            )
        )


def errors_of(report: ImportReport) -> list[tuple[int, str, str]]:
    return [(e.row, e.field, e.code) for e in report.errors]


def test_a_persian_csv_creates_sites_with_their_history(engine: Engine) -> None:
    c, p = county(engine), tag()
    report = run(engine, csv(line(c, f"{p}-1"), line(c, f"{p}-2", kind="بیمارستان")))
    assert report == ImportReport(created=2)
    found = sites(engine, p)
    assert set(found) == {f"{p}-1", f"{p}-2"}
    first = found[f"{p}-1"]
    assert (first.county_code, first.kind, first.link_type) == (c, SiteKind.health_house, "fibre")
    assert (first.postal_code, first.phone) == ("8731234567", "03154561234")
    assert (first.latitude, first.longitude) == (33.9852, 51.4364)
    assert first.state is SiteState.submitted
    assert found[f"{p}-2"].kind is SiteKind.hospital
    [created] = history(engine, first)
    assert (created.state, created.actor) == (SiteState.submitted, "it_office")


def test_english_headers_in_an_xlsx_with_number_cells(engine: Engine) -> None:
    c, p = county(engine), tag()
    rows: list[list[object]] = [
        list(SITE_FIELD_FA),
        [
            c,
            f"{p}-1",
            12345678,
            "Mehr hospital",
            "hospital",
            "Kashan, Pezeshk St.",
            8731234567,
            "03155540000",
            33.98,
            51.43,
            "wireless",
        ],
    ]
    assert run(engine, xlsx_bytes(rows)) == ImportReport(created=1)
    site = sites(engine, p)[f"{p}-1"]
    assert (site.siam_id, site.postal_code, site.link_type) == (
        "12345678",
        "8731234567",
        LinkType.wireless,
    )


def test_bad_rows_are_named_by_row_and_column_and_nothing_is_imported(engine: Engine) -> None:
    c, p = county(engine), tag()
    report = run(
        engine,
        csv(
            line(c, f"{p}-1"),
            line(c, f"{p}-2", kind="درمانگاه فضایی", postal_code="123"),
            line(c, f"{p}-3", latitude="51.43", longitude="33.98"),
            line(f"X{p}", f"{p}-4"),
            line(c, f"{p}-1", name="همان کد"),
            line(c, f"{p}-6", name="", address=""),
            line(c, "", siam_id=""),
        ),
    )
    assert errors_of(report) == [
        (3, "kind", "site_kind_invalid"),
        (3, "postal_code", "postal_code_invalid"),
        (4, "latitude", "gps_swapped"),
        (4, "longitude", "gps_swapped"),
        (5, "county_code", "county_unknown"),
        (6, "site_code", "duplicate_code_row"),
        (7, "name", "required"),
        (7, "address", "required"),
        (8, "site_code", "site_code_required"),
    ]
    kind_error = report.errors[0]
    assert "خانه بهداشت" in kind_error.reason_fa and "health_house" in kind_error.reason_en
    assert "ردیف ۲" in report.errors[5].reason_fa
    assert "row 2" in report.errors[5].reason_en
    assert (report.created, report.updated) == (0, 0)
    assert sites(engine, p) == {}


def test_reimport_updates_by_site_code_without_duplicates(engine: Engine) -> None:
    c, p = county(engine), tag()
    data = csv(line(c, f"{p}-1"), line(c, f"{p}-2"))
    assert run(engine, data).created == 2
    assert run(engine, data) == ImportReport(unchanged=2)
    changed = csv(line(c, f"{p}-1", phone="09131234567"), line(c, f"{p}-2"))
    assert run(engine, changed, actor="county_user") == ImportReport(updated=1, unchanged=1)
    found = sites(engine, p)
    assert len(found) == 2
    assert found[f"{p}-1"].phone == "09131234567"
    _, edited = history(engine, found[f"{p}-1"])
    assert (edited.actor, edited.state) == ("county_user", SiteState.submitted)
    assert edited.note is not None and "تلفن" in edited.note
    assert len(history(engine, found[f"{p}-2"])) == 1


def test_a_column_left_out_keeps_what_the_register_holds(engine: Engine) -> None:
    c, p = county(engine), tag()
    assert run(engine, csv(line(c, f"{p}-1"))).created == 1
    header = [f for f in SITE_FIELD_FA if f not in ("phone", "postal_code")]
    full = dict(zip(SITE_FIELD_FA, line(c, f"{p}-1").split(","), strict=True))
    short = ",".join(full[f] for f in header)
    assert run(engine, csv(short, header=",".join(header))) == ImportReport(unchanged=1)
    assert sites(engine, p)[f"{p}-1"].phone == "03154561234"


def test_a_site_code_of_another_county_is_refused(engine: Engine) -> None:
    kashan, aran, p = county(engine), county(engine), tag()
    assert run(engine, csv(line(kashan, f"{p}-1"))).created == 1
    report = run(engine, csv(line(aran, f"{p}-2"), line(aran, f"{p}-1")))
    assert errors_of(report) == [(3, "site_code", "site_code_taken")]
    assert kashan in report.errors[0].reason_fa
    assert set(sites(engine, p)) == {f"{p}-1"}
    assert sites(engine, p)[f"{p}-1"].county_code == kashan


def test_a_county_user_uploads_only_its_own_county(engine: Engine) -> None:
    own, other, p = county(engine), county(engine), tag()
    reach = site_reach([Role.county_network], [f"county:{own}"])
    report = run(engine, csv(line(own, f"{p}-1"), line(other, f"{p}-2")), reach=reach)
    assert errors_of(report) == [(3, "county_code", "county_not_yours")]
    assert run(engine, csv(line(own, f"{p}-1")), reach=reach).created == 1


def test_an_inactive_county_takes_no_sites(engine: Engine) -> None:
    closed, p = county(engine, active=False), tag()
    report = run(engine, csv(line(closed, f"{p}-1")))
    assert errors_of(report) == [(2, "county_code", "county_inactive")]


def test_a_site_past_the_corrections_cannot_be_changed_by_a_file(engine: Engine) -> None:
    c, p = county(engine), tag()
    data = csv(line(c, f"{p}-1"))
    run(engine, data)
    with Session(engine) as session:
        site = session.exec(select(Site).where(Site.site_code == f"{p}-1")).one()
        site.state = SiteState.sent_to_carrier
        session.add(site)
        session.commit()
    assert run(engine, data) == ImportReport(unchanged=1)
    report = run(engine, csv(line(c, f"{p}-1", name="نام تازه")))
    assert errors_of(report) == [(2, "site_code", "site_locked")]
    assert sites(engine, p)[f"{p}-1"].name == f"خانه بهداشت {p}-1"


def test_dry_run_counts_and_writes_nothing(engine: Engine) -> None:
    c, p = county(engine), tag()
    assert run(engine, csv(line(c, f"{p}-1")), dry_run=True) == ImportReport(
        created=1, dry_run=True
    )
    assert sites(engine, p) == {}


def test_missing_columns_are_named(engine: Engine) -> None:
    with pytest.raises(FileRefused) as refused:
        run(engine, csv("x", header="کد نقطه,نام نقطه"))
    assert refused.value.code == "columns_missing"
    assert "عرض جغرافیایی (latitude)" in str(refused.value.params["columns"])


def test_caps_on_rows_and_size(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    c, p = county(engine), tag()
    monkeypatch.setattr(register, "MAX_ROWS", 3)
    with pytest.raises(FileRefused) as refused:
        run(engine, csv(*(line(c, f"{p}-{i}") for i in range(4))))
    assert refused.value.code == "too_many_rows"
    monkeypatch.setattr(register, "MAX_BYTES", 10)
    with pytest.raises(FileRefused) as refused:
        run(engine, csv(line(c, f"{p}-1")))
    assert refused.value.code == "file_too_large"
    assert sites(engine, p) == {}


def test_the_template_round_trips_through_the_import(engine: Engine) -> None:
    c = county(engine)
    template = site_template(c)
    sheet = load_workbook(io.BytesIO(template), read_only=True).worksheets[0]
    header, example = list(sheet.iter_rows(values_only=True))
    assert list(header) == list(SITE_FIELD_FA.values())
    assert example[0] == c and example[4] == "خانه بهداشت"
    assert run(engine, template) == ImportReport(created=1)
    site = sites(engine, str(EXAMPLE_SITE["site_code"]))[str(EXAMPLE_SITE["site_code"])]
    assert site.county_code == c
    for field, value in EXAMPLE_SITE.items():
        assert getattr(site, field) == (value or None), field
    assert run(engine, template) == ImportReport(unchanged=1)
    with Session(engine) as session:  # the example is a fixed code: leave it to no other test
        session.delete(session.exec(select(SiteEvent).where(SiteEvent.site_id == site.id)).one())
        session.delete(session.get(Site, site.id))
        session.commit()


def test_an_export_reads_back_unchanged(engine: Engine) -> None:
    c, p = county(engine), tag()
    run(engine, csv(line(c, f"{p}-1"), line(c, f"{p}-2", link_type="ADSL", phone="")))
    exported = xlsx_bytes(export_rows(sites(engine, p).values()))
    assert run(engine, exported) == ImportReport(unchanged=2)


def county_csv(*lines: str) -> bytes:
    return ("کد شهرستان,نام شبکه,تلفن,ایمیل,تلفن همراه,فعال\n" + "\n".join(lines) + "\n").encode()


def test_the_counties_list(engine: Engine) -> None:
    p = tag()
    data = county_csv(
        f"K{p},شبکه بهداشت کاشان,031-5555 0000,it@kashan.example.ir,۰۹۱۳۱۱۱۲۲۳۳,بله",
        f"A{p},شبکه بهداشت آران و بیدگل,,,,خیر",
    )
    with Session(engine) as session:
        assert import_counties(session, data) == ImportReport(created=2)
    with Session(engine) as session:
        assert import_counties(session, data) == ImportReport(unchanged=2)
        kashan = session.exec(select(County).where(County.code == f"K{p}")).one()
        aran = session.exec(select(County).where(County.code == f"A{p}")).one()
    assert (kashan.phone, kashan.mobile, kashan.active) == ("03155550000", "09131112233", True)
    assert aran.active is False
    bad = county_csv(f"K{p},شبکه بهداشت کاشان,,,,", f"K{p},تکراری,,,,", f"B{p},ک,,نه ایمیل,,")
    with Session(engine) as session:
        report = import_counties(session, bad)
    assert errors_of(report) == [
        (3, "code", "duplicate_code_row"),
        (4, "name", "too_short"),
        (4, "email", "email_invalid"),
    ]
    with Session(engine) as session:
        assert session.exec(select(County).where(County.code == f"K{p}")).one().name == (
            "شبکه بهداشت کاشان"
        )


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


def test_twenty_thousand_rows_in_bulk(engine: Engine, statements: list[str]) -> None:
    """The bench imports a province of 20,000 sites: a few statements per 500 rows, never one
    per row (no timing asserted here)."""
    counties = [county(engine) for _ in range(4)]
    p = tag()
    lines = [line(counties[i % 4], f"{p}-{i}") for i in range(20_000)]
    data = csv(*lines)
    statements.clear()
    assert run(engine, data) == ImportReport(created=20_000)
    assert len(statements) < 200, len(statements)
    with Session(engine) as session:
        count = session.exec(
            select(func.count()).where(col(Site.site_code).startswith(f"{p}-"))
        ).one()
        events = session.exec(
            select(func.count())
            .select_from(SiteEvent)
            .join(Site, col(Site.id) == col(SiteEvent.site_id))
            .where(col(Site.site_code).startswith(f"{p}-"))
        ).one()
    assert (count, events) == (20_000, 20_000)
    statements.clear()
    lines[7] = line(counties[3], f"{p}-7", name="خانه بهداشت تازه")
    assert run(engine, csv(*lines)) == ImportReport(updated=1, unchanged=19_999)
    assert len(statements) < 200, len(statements)


def test_command_line(
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(db.engine, "get_engine", lambda: engine)
    c, p = county(engine), tag()
    template = tmp_path / "template.xlsx"
    assert main(["template", str(template), "--county", c]) == 0
    assert load_workbook(template).worksheets[0]["A2"].value == c
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(csv(line(c, f"{p}-1")))
    bad.write_bytes(csv(line(c, f"{p}-2", latitude="0")))
    assert main(["sites", str(good), "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out
    assert sites(engine, p) == {}
    assert main(["sites", str(good), "--actor", "cli-user"]) == 0
    assert history(engine, sites(engine, p)[f"{p}-1"])[0].actor == "cli-user"
    assert main(["sites", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "row 2, عرض جغرافیایی (latitude)" in out and "outside Iran" in out
    counties = tmp_path / "counties.csv"
    counties.write_bytes(county_csv(f"Z{p},شبکه بهداشت نطنز,,,,"))
    assert main(["counties", str(counties)]) == 0
    assert main(["sites", str(tmp_path / "missing.csv")]) == 1


def test_a_workbook_written_by_hand_with_a_formula_reads_its_saved_value(engine: Engine) -> None:
    """A cell the county's spreadsheet computed is read as its value, never evaluated."""
    c, p = county(engine), tag()
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(SITE_FIELD_FA.values()))
    sheet.append([c, f"{p}-1", "", '=HYPERLINK("x")', "خانه بهداشت", "نشانی روستا", "", ""])
    sheet["I2"], sheet["J2"], sheet["K2"] = 33.5, 51.5, "ADSL"
    out = io.BytesIO()
    book.save(out)
    report = run(engine, out.getvalue())
    # openpyxl saved no value for the formula: the name reads as empty, so it is required.
    assert errors_of(report) == [(2, "name", "required")]
