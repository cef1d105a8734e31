"""A site's row as a county enters it: required fields, kinds and link types by their Persian
labels, digits typed on any keyboard, GPS inside Iran; and a county's contacts."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from domain.messages import MESSAGES, Lang, message
from domain.shams import (
    CARRIER_STATES,
    EDITABLE_STATES,
    IRAN_LATITUDE,
    IRAN_LONGITUDE,
    LINK_TYPE_EN,
    LINK_TYPE_FA,
    NOT_FEASIBLE_EN,
    NOT_FEASIBLE_FA,
    SITE_KIND_EN,
    SITE_KIND_FA,
    SITE_STATE_EN,
    SITE_STATE_FA,
    CountyRow,
    LinkType,
    NotFeasibleReason,
    SiteKind,
    SiteRow,
    SiteState,
)


def row(**changes: Any) -> dict[str, Any]:
    return {
        "county_code": "101",
        "site_code": "HH-1001",
        "name": "خانه بهداشت قمصر",
        "kind": "خانه بهداشت",
        "address": "قمصر، خیابان امام، کوچه ۱۲",
        "postal_code": "8731234567",
        "phone": "03154561234",
        "latitude": "33.7441",
        "longitude": "51.4289",
        "link_type": "فیبر نوری",
        **changes,
    }


def errors(**changes: Any) -> dict[str, str]:
    """{field: error code} of the row with `changes`."""
    with pytest.raises(ValidationError) as raised:
        SiteRow.model_validate(row(**changes))
    return {str(e["loc"][0]) if e["loc"] else "row": e["type"] for e in raised.value.errors()}


def test_a_good_row() -> None:
    site = SiteRow.model_validate(row())
    assert site.code == "HH-1001"
    assert site.kind is SiteKind.health_house
    assert site.link_type is LinkType.fibre
    assert (site.latitude, site.longitude) == (33.7441, 51.4289)
    assert site.postal_code == "8731234567"


@pytest.mark.parametrize("field", ["county_code", "name", "kind", "address", "latitude"])
def test_required_fields(field: str) -> None:
    assert errors(**{field: ""}) == {field: "required"}
    assert errors(**{field: "   "}) == {field: "required"}


def test_a_missing_column_is_required_too() -> None:
    data = row()
    del data["link_type"]
    with pytest.raises(ValidationError) as raised:
        SiteRow.model_validate(data)
    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [(("link_type",), "missing")]


def test_the_siam_id_stands_for_a_missing_site_code() -> None:
    site = SiteRow.model_validate(row(site_code="", siam_id="۱۲۳۴۵۶۷۸"))
    assert site.code == site.siam_id == "12345678"
    kept = SiteRow.model_validate(row(siam_id="99887766"))
    assert (kept.code, kept.siam_id) == ("HH-1001", "99887766")
    assert errors(site_code="", siam_id="") == {"row": "site_code_required"}
    assert errors(siam_id="12A") == {"siam_id": "siam_id_invalid"}


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("خانه بهداشت", SiteKind.health_house),
        ("خانه‌بهداشت", SiteKind.health_house),
        ("مرکز خدمات جامع سلامت شهری", SiteKind.urban_centre),
        ("مرکز خدمات جامع سلامت روستايي", SiteKind.rural_centre),  # Arabic ي
        ("مرکز خدمات جامع سلامت شهری-روستایی", SiteKind.urban_rural_centre),
        ("مرکز خدمات جامع سلامت شهری روستایی", SiteKind.urban_rural_centre),
        ("پایگاه سلامت ضمیمه", SiteKind.attached_health_post),
        ("پایگاه سلامت غیر ضمیمه", SiteKind.standalone_health_post),
        ("بیمارستان", SiteKind.hospital),
        ("ستاد شبکه", SiteKind.network_hq),
        ("سایر", SiteKind.other),
        ("hospital", SiteKind.hospital),
        ("Health house", SiteKind.health_house),
        ("URBAN_RURAL_CENTRE", SiteKind.urban_rural_centre),
    ],
)
def test_kinds_by_persian_label_or_english_name(written: str, kind: SiteKind) -> None:
    assert SiteRow.model_validate(row(kind=written)).kind is kind


def test_an_unknown_kind_or_link() -> None:
    assert errors(kind="درمانگاه فضایی") == {"kind": "site_kind_invalid"}
    assert errors(link_type="کبوتر نامه‌بر") == {"link_type": "link_type_invalid"}


@pytest.mark.parametrize(
    ("written", "link"),
    [
        ("فیبر", LinkType.fibre),
        ("fiber", LinkType.fibre),
        ("adsl", LinkType.adsl),
        ("وایرلس", LinkType.wireless),
        ("بی‌سیم", LinkType.wireless),
        ("other", LinkType.other),
    ],
)
def test_link_types(written: str, link: LinkType) -> None:
    assert SiteRow.model_validate(row(link_type=written)).link_type is link


def test_digits_typed_on_persian_and_arabic_keyboards() -> None:
    site = SiteRow.model_validate(
        row(
            county_code="۱۰۱",
            site_code="HH-۱۰۰۱",
            postal_code="۸۷۳۱۲-۳۴۵۶۷",
            phone="۰۳۱ ۵۴۵۶ ۱۲۳۴",
            latitude="٣٣٫٧٤٤١",  # Arabic-Indic digits, Arabic decimal sign
            longitude="۵۱/۴۲۸۹",  # a slash for the decimal sign
        )
    )
    assert (site.county_code, site.code) == ("101", "HH-1001")
    assert site.postal_code == "8731234567"
    assert site.phone == "03154561234"
    assert (site.latitude, site.longitude) == (33.7441, 51.4289)


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("031-5456 1234", "03154561234"),
        ("+98 31 5456 1234", "03154561234"),
        ("09131234567", "09131234567"),
        ("(031) 54561234", "03154561234"),
    ],
)
def test_phones(phone: str, stored: str) -> None:
    assert SiteRow.model_validate(row(phone=phone)).phone == stored


@pytest.mark.parametrize("phone", ["54561234", "031545612345", "0031545612", "تلفن ندارد"])
def test_bad_phones(phone: str) -> None:
    assert errors(phone=phone) == {"phone": "phone_invalid"}


@pytest.mark.parametrize("postal", ["873123456", "87312345678", "8731A34567"])
def test_bad_postal_codes(postal: str) -> None:
    assert errors(postal_code=postal) == {"postal_code": "postal_code_invalid"}


def test_optional_fields_left_blank() -> None:
    site = SiteRow.model_validate(row(postal_code="", phone=" ", siam_id=None))
    assert (site.postal_code, site.phone, site.siam_id) == (None, None, None)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(25.06, 61.5), (39.78, 47.9), (27.2, 63.3), (36.3, 44.05), (26.26, 55.3), (35.6892, 51.389)],
)
def test_gps_inside_iran(lat: float, lon: float) -> None:
    site = SiteRow.model_validate(row(latitude=lat, longitude=lon))
    assert (site.latitude, site.longitude) == (lat, lon)


def test_the_box_is_documented_as_used() -> None:
    assert IRAN_LATITUDE == (25, 40)
    assert IRAN_LONGITUDE == (44, 64)
    assert SiteRow.model_validate(row(latitude=25, longitude=64)).latitude == 25
    assert errors(latitude=24.99) == {"latitude": "latitude_outside_iran"}
    assert errors(longitude=64.01) == {"longitude": "longitude_outside_iran"}


@pytest.mark.parametrize(
    ("lat", "lon", "wrong"),
    [
        (0, 0, {"latitude": "latitude_outside_iran", "longitude": "longitude_outside_iran"}),
        (48.85, 2.35, {"latitude": "latitude_outside_iran", "longitude": "longitude_outside_iran"}),
        (-33.7, 51.4, {"latitude": "latitude_outside_iran"}),
        (337441, 51.4, {"latitude": "latitude_outside_iran"}),
        (33.7, 14.4, {"longitude": "longitude_outside_iran"}),
        (51.4289, 33.7441, {"latitude": "gps_swapped", "longitude": "gps_swapped"}),
    ],
)
def test_gps_outside_iran(lat: float, lon: float, wrong: dict[str, str]) -> None:
    assert errors(latitude=lat, longitude=lon) == wrong


def test_a_coordinate_that_is_no_number() -> None:
    assert errors(latitude="33°44'N") == {"latitude": "coordinate_invalid"}


def test_codes_go_into_workflow_ids_so_they_are_plain() -> None:
    assert errors(site_code="HH 10/01") == {"site_code": "site_code_invalid"}
    assert errors(county_code="کاشان") == {"county_code": "county_code_invalid"}
    assert errors(site_code="X" * 31) == {"site_code": "site_code_invalid"}


def test_every_error_reads_in_both_languages() -> None:
    codes = {
        "required",
        "site_kind_invalid",
        "link_type_invalid",
        "county_code_invalid",
        "site_code_invalid",
        "site_code_required",
        "siam_id_invalid",
        "postal_code_invalid",
        "phone_invalid",
        "coordinate_invalid",
        "latitude_outside_iran",
        "longitude_outside_iran",
        "gps_swapped",
    }
    for code in codes:
        assert set(MESSAGES[code]) == {Lang.fa, Lang.en}, code
    text = message("latitude_outside_iran", Lang.fa, min=25, max=40)
    assert "۲۵" in text and "۴۰" in text


def test_every_coded_value_has_both_labels() -> None:
    for codes, fa, en in (
        (SiteKind, SITE_KIND_FA, SITE_KIND_EN),
        (LinkType, LINK_TYPE_FA, LINK_TYPE_EN),
        (SiteState, SITE_STATE_FA, SITE_STATE_EN),
        (NotFeasibleReason, NOT_FEASIBLE_FA, NOT_FEASIBLE_EN),
    ):
        assert set(fa) == set(en) == set(codes)  # type: ignore[call-overload]
    assert SiteState.submitted not in CARRIER_STATES
    assert SiteState.accepted not in CARRIER_STATES
    assert {SiteState.sent_to_carrier, SiteState.connected} <= CARRIER_STATES
    assert not EDITABLE_STATES & CARRIER_STATES


def test_a_county_row() -> None:
    county = CountyRow.model_validate(
        {
            "code": "۱۰۲",
            "name": "شبکه بهداشت و درمان آران و بیدگل",
            "phone": "031-5472 0000",
            "email": "it@arandb.example.ir",
            "mobile": "۰۹۱۳۱۲۳۴۵۶۷",
            "active": "بله",
        }
    )
    assert (county.code, county.phone, county.mobile) == ("102", "03154720000", "09131234567")
    assert county.active is True
    assert CountyRow.model_validate({"code": "1", "name": "نطنز", "active": "خیر"}).active is False
    with pytest.raises(ValidationError) as raised:
        CountyRow.model_validate(
            {"code": "", "name": "ن", "email": "no", "mobile": "123", "active": "شاید"}
        )
    assert {str(e["loc"][0]): e["type"] for e in raised.value.errors()} == {
        "code": "required",
        "name": "too_short",
        "email": "email_invalid",
        "mobile": "mobile_invalid",
        "active": "invalid_value",
    }
