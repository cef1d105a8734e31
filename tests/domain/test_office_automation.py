"""Process 3's records and decisions: a unit's row, the appointment letter and its reverse (Jalali
dates, the national code, the letter's PDF), the admin's checklists, and the signature rules."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from PIL import Image
from pydantic import BaseModel, ValidationError

from db.seed import national_code
from domain.messages import MESSAGES
from domain.office_automation import (
    SIGNATURE_MAX_SIZE,
    AppointmentLetter,
    CartableClosing,
    CartableCreated,
    CartableDisabled,
    EndOfAppointment,
    ManagementPermission,
    ManagerAccess,
    PostCreated,
    PostFreed,
    UnitRow,
    checked_signature,
)
from domain.uploads import FileRefused, UploadKind
from tests import samples

HOLDER = national_code("002417386")


def letter(**changes: Any) -> dict[str, Any]:
    return {
        "letter_number": "۱۲۳۴/۵۶/د",
        "letter_date": "۱۴۰۴/۰۹/۰۱",
        "national_code": "۰" + HOLDER[1:],
        "first_name": "زهرا",
        "last_name": "محمدی",
        "personnel_number": "۹۹۱۲۰۳",
        "mobile": "۰۹۱۲ ۱۲۳ ۴۵۶۷",
        "post_title": "معاون اداری و مالی",
        "unit_code": "U-10",
        "effective_date": "2025-11-25",
        "is_manager": True,
        "letter_file_id": 7,
    } | changes


def errors(model: type[BaseModel], values: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(values)
    return {".".join(map(str, e["loc"])): e["type"] for e in raised.value.errors()}


def test_a_letter_takes_jalali_dates_and_persian_digits() -> None:
    form = AppointmentLetter.model_validate(letter())
    assert form.letter_date == date(2025, 11, 22)  # ۱۴۰۴/۰۹/۰۱
    assert form.effective_date == date(2025, 11, 25)
    assert (form.national_code, form.mobile, form.personnel_number) == (
        HOLDER,
        "09121234567",
        "991203",
    )
    assert form.letter_number == "1234/56/د"


def test_a_bad_letter_is_refused_field_by_field() -> None:
    found = errors(
        AppointmentLetter,
        letter(
            national_code="0024173860",
            letter_date="۱۴۰۴/۱۳/۰۱",
            mobile="0212345678",
            unit_code="واحد یک",
            letter_file_id=0,
            first_name="",
            letter_number="۱۲۳*۴",
        ),
    )
    assert found == {
        "national_code": "national_code_invalid",
        "letter_date": "date_invalid",
        "mobile": "mobile_invalid",
        "unit_code": "unit_code_invalid",
        "letter_file_id": "greater_than_equal",
        "first_name": "required",
        "letter_number": "letter_number_invalid",
    }


def test_the_effective_date_is_not_before_the_letter_nor_the_letter_in_the_future() -> None:
    assert errors(AppointmentLetter, letter(effective_date="1404/08/30")) == {
        "effective_date": "effective_before_letter"
    }
    assert errors(AppointmentLetter, letter(letter_date="2999-01-01")) == {
        "letter_date": "date_in_the_future"
    }


def test_the_end_of_an_appointment_names_the_post_by_code_or_number() -> None:
    base = {
        "letter_number": "55",
        "letter_date": "1404/09/01",
        "national_code": HOLDER,
        "unit_code": "U-10",
        "end_date": "1404/09/05",
        "letter_file_id": 3,
    }
    assert errors(EndOfAppointment, base) == {"post_code": "post_required"}
    assert EndOfAppointment.model_validate(base | {"post_code": "P-12"}).post_code == "P-12"
    assert EndOfAppointment.model_validate(base | {"post_id": "۴"}).post_id == 4


def test_a_unit_needs_its_head_and_is_not_its_own_parent() -> None:
    row = {
        "code": "U-10",
        "name": "معاونت توسعه",
        "head_name": "دکتر علی رضایی",
        "head_national_code": HOLDER,
        "head_mobile": "09121234567",
    }
    assert UnitRow.model_validate(row).parent_code is None
    assert errors(UnitRow, row | {"parent_code": "U-10", "head_mobile": ""}) == {
        "parent_code": "unit_parent_itself",
        "head_mobile": "required",
    }


def test_grants_name_at_least_one_permission_once() -> None:
    assert errors(ManagerAccess, {"signature_file_id": 4, "permissions": []}) == {
        "permissions": "too_short"
    }
    twice = [ManagementPermission.sign_letters] * 2
    assert errors(ManagerAccess, {"signature_file_id": 4, "permissions": twice}) == {
        "permissions": "invalid_value"
    }
    assert errors(CartableCreated, {"username": "9zahra", "permissions": ["refer"]}) == {
        "username": "automation_username_invalid"
    }
    created = PostCreated.model_validate(
        {"automation_code": "۱۲-۳۴", "permissions_group": "کارشناسان"}
    )
    assert created.automation_code == "12-34"
    assert errors(PostCreated, {"automation_code": "x", "permissions_group": "گ", "y": 1}) == {
        "permissions_group": "too_short",
        "y": "extra_forbidden",
    }


def test_a_reverse_step_ticks_every_item() -> None:
    some = {"done": [CartableClosing.user_disabled], "note": ""}
    assert errors(CartableDisabled, some) == {"done": "checklist_incomplete"}
    every = CartableDisabled.model_validate({"done": list(CartableClosing)})
    assert every.note is None
    assert errors(PostFreed, {"done": ["holder_detached", "post_kept", "elsewhere"]}) == {
        "done.2": "enum"
    }


def test_every_error_code_has_a_message() -> None:
    for code in (
        "unit_code_invalid",
        "automation_code_invalid",
        "automation_username_invalid",
        "letter_number_invalid",
        "effective_before_letter",
        "post_required",
        "unit_parent_itself",
        "checklist_incomplete",
        "signature_too_small",
        "signature_too_big",
    ):
        assert code in MESSAGES


def _image(width: int, height: int, image_format: str = "PNG", **options: Any) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 255).save(out, image_format, **options)
    return out.getvalue()


def test_a_signature_is_an_image_of_a_signature_s_size_kept_without_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "ScannerMaker"
    scan = _image(600, 200, "JPEG", exif=exif.tobytes())
    kept = checked_signature(scan)
    assert b"ScannerMaker" in scan and b"ScannerMaker" not in kept.data
    assert kept.kind is UploadKind.signature
    assert checked_signature(_image(600, 200)).media_type.value == "image/png"
    for data, code in (
        (_image(100, 40), "signature_too_small"),
        (_image(SIGNATURE_MAX_SIZE[0] + 1, 300), "signature_too_big"),
        (samples.pdf(), "file_not_image"),
        (_image(600, 200) + samples.HTML, "file_unsafe"),
    ):
        with pytest.raises(FileRefused) as refused:
            checked_signature(data)
        assert refused.value.code == code
        assert all(refused.value.reasons().values())
