"""Process 2's rules: the report form, warranty, vendor matching, quote approval and cost."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from domain.repair import (
    AssetKind,
    InHouseRepair,
    Inspection,
    QuoteApproval,
    RepairForm,
    VendorChoice,
    VendorReport,
    quote_needs_approval,
    repair_cost,
    under_warranty,
    vendor_matches,
)

FORM = {
    "personnel_number": "۱۲۳۴۵",
    "mobile": "0935 123 4567",
    "full_name": "مریم احمدی",
    "unit": "امور مالی",
    "location": "اتاق ۲۰۴",
    "problem": "روشن نمی‌شود",
}


def test_the_report_normalises_digits_and_needs_a_kind_without_a_property_number() -> None:
    form = RepairForm.model_validate({**FORM, "property_number": "۴۵۶-۷۸", "kind": ""})
    assert form.personnel_number == "12345" and form.mobile == "09351234567"
    assert form.property_number == "456-78" and form.kind is None
    with pytest.raises(ValidationError) as error:
        RepairForm.model_validate({**FORM, "property_number": ""})
    assert "kind_required" in str(error.value)
    assert RepairForm.model_validate({**FORM, "kind": "printer"}).property_number is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mobile", "12345"),
        ("personnel_number", "12"),
        ("property_number", "12;DROP"),
        ("email", "x@"),
    ],
)
def test_bad_report_fields_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as error:
        RepairForm.model_validate({**FORM, "kind": "pc", field: value})
    assert error.value.errors()[0]["loc"][0] == field


def test_warranty_covers_its_last_day() -> None:
    end = date(2027, 3, 20)
    assert under_warranty(end, date(2027, 3, 20))
    assert not under_warranty(end, date(2027, 3, 21))
    assert not under_warranty(None, date(2027, 1, 1))


def test_vendor_matching_needs_an_active_vendor_of_the_kind() -> None:
    assert vendor_matches(["printer", "scanner"], True, AssetKind.printer)
    assert not vendor_matches(["printer"], True, AssetKind.laptop)
    assert not vendor_matches(["printer"], False, AssetKind.printer)
    assert vendor_matches([], True, AssetKind.other)


def test_only_a_quote_above_the_limit_waits_for_approval() -> None:
    assert quote_needs_approval(100_000_001, 100_000_000)
    assert not quote_needs_approval(100_000_000, 100_000_000)
    assert not quote_needs_approval(None, 0)


def test_cost_is_what_the_vendor_billed_and_zero_under_warranty() -> None:
    inspection = Inspection(
        accepted=True,
        minutes=90,
        cost_time_rials=3_000_000,
        cost_fixed_rials=1_000_000,
        cost_material_rials=12_000_000,
    )
    billed = repair_cost(inspection, under_warranty=False)
    assert billed.total_rials == 16_000_000 and billed.minutes == 90
    free = repair_cost(inspection, under_warranty=True)
    assert free.total_rials == 0 and free.minutes == 90


def _refused_fields(model: type[BaseModel], data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as error:
        model.model_validate(data)
    return [(str(e["loc"][0]), e["type"]) for e in error.value.errors()]


def test_decisions_carry_what_their_outcome_needs() -> None:
    """Each refusal names the field left out, so the form shows it beside that field."""
    assert _refused_fields(InHouseRepair, {"fixed": True, "work_done": "x"}) == [
        ("minutes_spent", "required")
    ]
    assert _refused_fields(InHouseRepair, {"fixed": False}) == [("reason", "reason_required")]
    assert _refused_fields(VendorReport, {"kind": "diagnosed"}) == [("quote_rials", "required")]
    assert _refused_fields(QuoteApproval, {"approved": False}) == [("reason", "reason_required")]
    assert _refused_fields(Inspection, {"accepted": False, "reason": " "}) == [
        ("reason", "reason_required")
    ]
    assert Inspection(accepted=True).reason is None
    assert VendorReport(kind="received").quote_rials is None  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        VendorChoice.model_validate(
            {"vendor": "9", "dispatched_on": "2026-12-01", "taken_by": "پیک"},
            context={"options": {"vendor": ["1", "2"]}},
        )


def test_a_promised_date_in_the_past_is_refused_by_the_workflow_clock() -> None:
    now = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # already 2 December in Tehran
    context = {"now": now}
    with pytest.raises(ValidationError) as error:
        VendorReport.model_validate(
            {"kind": "received", "promised_date": "2026-12-01"}, context=context
        )
    assert error.value.errors()[0]["type"] == "date_in_the_past"
    today = VendorReport.model_validate(
        {"kind": "received", "promised_date": "2026-12-02"}, context=context
    )
    assert today.promised_date == date(2026, 12, 2)


def test_the_kind_error_is_named_on_the_kind_field() -> None:
    with pytest.raises(ValidationError) as error:
        RepairForm.model_validate(FORM)
    assert [e["loc"] for e in error.value.errors()] == [("kind",)]
    assert error.value.errors()[0]["type"] == "kind_required"
