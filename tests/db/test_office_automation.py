"""Process 3's records: the units' list imported all or nothing (Persian or English headers,
parents in the register or the file, no unit under itself), scopes, the letters' checks against
the register, a freed post re-used, and a signature withdrawn but kept."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import Case
from db.office_automation import (
    Post,
    Signature,
    Unit,
    appointment_problems,
    end_of_appointment_problems,
    unit_reach,
    unit_scope,
    usable_signature,
    vacant_post,
    withdraw_signatures,
)
from db.seed import national_code
from db.stored_files import store
from db.unit_register import UNIT_FIELD_FA, import_units
from domain.cases import Role
from domain.office_automation import AppointmentLetter, EndOfAppointment, PostState
from domain.uploads import UploadKind, check
from settings import Settings
from tests import samples

HEAD = national_code("127360958")
EN_HEADER = "code,name,parent_code,head_name,head_national_code,head_mobile"


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def units_file(*rows: str, header: str = EN_HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def unit_line(code: str, parent: str = "", mobile: str = "09121234567") -> str:
    return f"{code},واحد {code},{parent},دکتر رضایی,{HEAD},{mobile}"


def test_units_are_imported_by_code_with_their_parents(engine: Engine) -> None:
    top, child = f"T{tag()}", f"C{tag()}"
    fa_header = ",".join(UNIT_FIELD_FA[f] for f in EN_HEADER.split(","))
    data = units_file(unit_line(child, top), unit_line(top), header=fa_header)
    with Session(engine) as session:
        assert import_units(session, data, dry_run=True).created == 2
        assert session.exec(select(Unit).where(Unit.code == top)).first() is None
        report = import_units(session, data)
        assert (report.created, report.updated, report.errors) == (2, 0, [])
        again = import_units(session, units_file(unit_line(child, top, "09127654321")))
        assert (again.created, again.updated, again.unchanged) == (0, 1, 0)
        unit = session.exec(select(Unit).where(Unit.code == child)).one()
        assert (unit.parent_code, unit.head_mobile) == (top, "09127654321")


def test_a_bad_units_list_writes_nothing_and_names_each_row(engine: Engine) -> None:
    a, b, c = (f"A{tag()}", f"B{tag()}", f"C{tag()}")
    data = units_file(
        unit_line(a, b),
        unit_line(b, a),
        unit_line(c, "NOWHERE"),
        f"{c},واحد,,مدیر,0024173860,0912",
        unit_line(a),
    )
    with Session(engine) as session:
        report = import_units(session, data)
        assert session.exec(select(Unit).where(Unit.code == a)).first() is None
    assert [(e.row, e.field, e.code) for e in report.errors] == [
        (2, "parent_code", "unit_parent_cycle"),
        (3, "parent_code", "unit_parent_cycle"),
        (4, "parent_code", "unit_parent_unknown"),
        (5, "head_national_code", "national_code_invalid"),
        (5, "head_mobile", "mobile_invalid"),
        (6, "code", "duplicate_code_row"),
    ]
    assert all(e.reason_fa and e.reason_en for e in report.errors)


def test_a_unit_secretary_reaches_its_own_unit_only() -> None:
    mine = unit_reach([Role.unit_secretary], [unit_scope("U-1")])
    assert mine.sees("U-1") and not mine.sees("U-2")
    assert unit_reach([Role.automation_admin], []).sees("U-2")
    assert not unit_reach([Role.hospital_it], ["*"]).sees("U-1")


def _unit(session: Session, *, active: bool = True) -> str:
    code = f"U{tag()}"
    session.add(
        Unit(
            code=code,
            name="واحد آزمون",
            head_name="مدیر",
            head_national_code=HEAD,
            head_mobile="09121234567",
            active=active,
        )
    )
    session.commit()
    return code


def test_a_letter_is_checked_against_the_units_and_its_file(
    engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        unit, closed = _unit(session), _unit(session, active=False)
        pdf = store(
            session, settings.file_store_dir, check(samples.pdf(), UploadKind.pdf), uploaded_by="u"
        )
        image = store(
            session,
            settings.file_store_dir,
            check(samples.png(), UploadKind.image),
            uploaded_by="u",
        )
        values = {
            "letter_number": "12/3",
            "letter_date": "1404/09/01",
            "national_code": HEAD,
            "first_name": "زهرا",
            "last_name": "محمدی",
            "personnel_number": "991203",
            "mobile": "09121234567",
            "post_title": "کارشناس",
            "unit_code": unit,
            "effective_date": "1404/09/02",
            "letter_file_id": pdf.id,
        }
        assert appointment_problems(session, AppointmentLetter.model_validate(values)) == []
        wrong = AppointmentLetter.model_validate(
            values | {"unit_code": closed, "letter_file_id": image.id}
        )
        assert appointment_problems(session, wrong) == [
            ("unit_code", "unit_unknown"),
            ("letter_file_id", "letter_file_not_pdf"),
        ]
        missing = AppointmentLetter.model_validate(values | {"letter_file_id": 10**9})
        assert appointment_problems(session, missing) == [("letter_file_id", "letter_file_unknown")]
        post = Post(unit_code=unit, title="کارشناس", automation_code=f"P-{tag()}")
        session.add(post)
        session.commit()
        end = {
            "letter_number": "13",
            "letter_date": "1404/09/01",
            "national_code": HEAD,
            "unit_code": unit,
            "end_date": "1404/09/03",
            "letter_file_id": pdf.id,
        }
        by_code = EndOfAppointment.model_validate(end | {"post_code": post.automation_code})
        assert end_of_appointment_problems(session, by_code) == []
        other = EndOfAppointment.model_validate(end | {"post_id": 10**9})
        assert end_of_appointment_problems(session, other) == [("post_id", "post_unknown")]


def test_a_freed_post_is_reused_and_a_withdrawn_signature_kept(
    engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        unit = _unit(session)
        held = Post(unit_code=unit, title="مدیر", is_manager=True, state=PostState.held)
        freed = Post(unit_code=unit, title="مدیر", is_manager=True, state=PostState.vacant)
        session.add(held)
        session.add(freed)
        session.commit()
        assert vacant_post(session, unit, "مدیر") == freed
        assert vacant_post(session, unit, "معاون") is None
        case = session.exec(select(Case)).first()
        scan = store(
            session,
            settings.file_store_dir,
            check(samples.png(200, 80), UploadKind.image),
            uploaded_by="u",
        )
        assert held.id is not None and scan.id is not None
        session.add(Signature(file_id=scan.id, post_id=held.id, national_code=HEAD))
        session.commit()
        assert usable_signature(session, held.id) is not None
        withdrawn = withdraw_signatures(session, held.id, case.id if case else None)
        session.commit()
        assert len(withdrawn) == 1 and withdrawn[0].withdrawn_at is not None
        assert usable_signature(session, held.id) is None
        assert withdraw_signatures(session, held.id, None) == []
        kept = session.exec(select(Signature).where(Signature.post_id == held.id)).all()
        assert [s.file_id for s in kept] == [scan.id]
