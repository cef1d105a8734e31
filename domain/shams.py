"""Process 4 (برقراری ارتباط سرویس اینترانت نقاط شبکه ملی سلامت، شمس): the health-network sites
of the province's counties, what each one is, where it stands in the rollout, and the checks a
site's row passes before it enters the register (typed in a form or uploaded in a spreadsheet).

Every coded value has a Persian label (what the university's template and the pages show) and an
English one; a row may name a kind or a link type by either, or by its code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from domain.email_account import EMAIL
from domain.identity import checked_mobile
from domain.text import empty_as_none, loose_key, normalize_digits, typed_digits, typed_text


class SiteKind(StrEnum):
    health_house = "health_house"
    urban_centre = "urban_centre"
    rural_centre = "rural_centre"
    urban_rural_centre = "urban_rural_centre"
    attached_health_post = "attached_health_post"
    """A health post attached to a comprehensive health-service centre (ضمیمه)."""
    standalone_health_post = "standalone_health_post"
    hospital = "hospital"
    network_hq = "network_hq"
    """The county health network's own headquarters (ستاد شبکه)."""
    other = "other"


SITE_KIND_FA: dict[SiteKind, str] = {
    SiteKind.health_house: "خانه بهداشت",
    SiteKind.urban_centre: "مرکز خدمات جامع سلامت شهری",
    SiteKind.rural_centre: "مرکز خدمات جامع سلامت روستایی",
    SiteKind.urban_rural_centre: "مرکز خدمات جامع سلامت شهری-روستایی",
    SiteKind.attached_health_post: "پایگاه سلامت ضمیمه",
    SiteKind.standalone_health_post: "پایگاه سلامت غیرضمیمه",
    SiteKind.hospital: "بیمارستان",
    SiteKind.network_hq: "ستاد شبکه",
    SiteKind.other: "سایر",
}
SITE_KIND_EN: dict[SiteKind, str] = {
    SiteKind.health_house: "Health house",
    SiteKind.urban_centre: "Urban comprehensive health-service centre",
    SiteKind.rural_centre: "Rural comprehensive health-service centre",
    SiteKind.urban_rural_centre: "Urban-rural comprehensive health-service centre",
    SiteKind.attached_health_post: "Health post (attached)",
    SiteKind.standalone_health_post: "Health post (standalone)",
    SiteKind.hospital: "Hospital",
    SiteKind.network_hq: "County network headquarters",
    SiteKind.other: "Other",
}


class LinkType(StrEnum):
    fibre = "fibre"
    adsl = "adsl"
    wireless = "wireless"
    other = "other"


LINK_TYPE_FA: dict[LinkType, str] = {
    LinkType.fibre: "فیبر نوری",
    LinkType.adsl: "ADSL",
    LinkType.wireless: "بی‌سیم",
    LinkType.other: "سایر",
}
LINK_TYPE_EN: dict[LinkType, str] = {
    LinkType.fibre: "Fibre",
    LinkType.adsl: "ADSL",
    LinkType.wireless: "Wireless",
    LinkType.other: "Other",
}


class SiteState(StrEnum):
    """Where a site stands, in the order the process moves it (PROCESSES.md §4)."""

    submitted = "submitted"
    """Sent by its county, waiting for the university's check."""
    returned_to_county = "returned_to_county"
    """Returned by the IT office with a reason; the county corrects and resends it."""
    accepted = "accepted"
    sent_to_carrier = "sent_to_carrier"
    """Waiting for the carrier's ranging (رانژه)."""
    feasible = "feasible"
    """Ranged: a line can be built; the carrier builds it."""
    not_feasible = "not_feasible"
    """Ranged: no line for now (with a reason); it may be re-ranged later."""
    line_installed = "line_installed"
    entered_in_shams = "entered_in_shams"
    """Registered in the SHAMS system; the connection check runs."""
    connected = "connected"
    closed_not_feasible = "closed_not_feasible"
    """Closed for good without a connection, with a reason."""


SITE_STATE_FA: dict[SiteState, str] = {
    SiteState.submitted: "ارسال‌شده توسط شبکه",
    SiteState.returned_to_county: "برگشت به شبکه برای اصلاح",
    SiteState.accepted: "تاییدشده توسط دانشگاه",
    SiteState.sent_to_carrier: "ارسال به مخابرات (در انتظار رانژه)",
    SiteState.feasible: "دارای امکان ارتباط",
    SiteState.not_feasible: "فاقد امکان ارتباط",
    SiteState.line_installed: "خط نصب شد",
    SiteState.entered_in_shams: "ثبت در سامانه شمس",
    SiteState.connected: "متصل",
    SiteState.closed_not_feasible: "بسته‌شده بدون امکان ارتباط",
}
SITE_STATE_EN: dict[SiteState, str] = {
    SiteState.submitted: "Submitted by the county",
    SiteState.returned_to_county: "Returned to the county for correction",
    SiteState.accepted: "Accepted by the university",
    SiteState.sent_to_carrier: "Sent to the carrier (awaiting ranging)",
    SiteState.feasible: "Feasible",
    SiteState.not_feasible: "Not feasible",
    SiteState.line_installed: "Line installed",
    SiteState.entered_in_shams: "Entered in SHAMS",
    SiteState.connected: "Connected",
    SiteState.closed_not_feasible: "Closed as not feasible",
}

CARRIER_STATES = frozenset(list(SiteState)[list(SiteState).index(SiteState.sent_to_carrier) :])
"""The states of sites the carrier has been sent: the only ones it sees."""
EDITABLE_STATES = frozenset({SiteState.submitted, SiteState.returned_to_county})
"""A county may still change a site's data (by a new upload) in these states; after the
university's acceptance its data is what the carrier ranges."""
END_STATES = frozenset({SiteState.connected, SiteState.closed_not_feasible})


class NotFeasibleReason(StrEnum):
    no_free_port = "no_free_port"
    no_coverage = "no_coverage"
    pcm_dlc_line = "pcm_dlc_line"
    """The site's line is a PCM or DLC pair gain, which carries no data link."""
    distance = "distance"
    other = "other"


NOT_FEASIBLE_FA: dict[NotFeasibleReason, str] = {
    NotFeasibleReason.no_free_port: "نبود پورت آزاد در مرکز مخابراتی",
    NotFeasibleReason.no_coverage: "خارج از پوشش",
    NotFeasibleReason.pcm_dlc_line: "خط PCM یا DLC",
    NotFeasibleReason.distance: "فاصله زیاد تا مرکز مخابراتی",
    NotFeasibleReason.other: "سایر",
}
NOT_FEASIBLE_EN: dict[NotFeasibleReason, str] = {
    NotFeasibleReason.no_free_port: "No free port at the exchange",
    NotFeasibleReason.no_coverage: "No coverage",
    NotFeasibleReason.pcm_dlc_line: "PCM or DLC line",
    NotFeasibleReason.distance: "Too far from the exchange",
    NotFeasibleReason.other: "Other",
}

IRAN_LATITUDE = (25, 40)
IRAN_LONGITUDE = (44, 64)
"""A site's GPS must fall in this box (degrees north, degrees east, WGS 84). Iran's land and
islands span about 25.06–39.78 N and 44.03–63.33 E; the box is those bounds rounded outward,
so every real site passes. It catches the usual slips, not the border: coordinates swapped
(35, 51 written as 51, 35), a zero, a missing minus or decimal point. A point just across the
border (Iraq, Turkmenistan, the Gulf) still passes."""


E = TypeVar("E", bound=StrEnum)


def _names(codes: type[E], *labels: Mapping[E, str], extra: Mapping[str, E]) -> dict[str, E]:
    names = {loose_key(code.value): code for code in codes}
    for table in labels:
        names.update({loose_key(label): code for code, label in table.items()})
    names.update({loose_key(alias): code for alias, code in extra.items()})
    return names


# What counties write besides the labels: short forms and other spellings (compared loosely, so
# spaces, ZWNJ and hyphens do not matter: «شهری روستایی» is «شهری-روستایی»).
_KIND_NAMES = _names(
    SiteKind,
    SITE_KIND_FA,
    SITE_KIND_EN,
    extra={
        "مرکز شهری": SiteKind.urban_centre,
        "مرکز سلامت شهری": SiteKind.urban_centre,
        "مرکز روستایی": SiteKind.rural_centre,
        "مرکز سلامت روستایی": SiteKind.rural_centre,
        "مرکز شهری روستایی": SiteKind.urban_rural_centre,
        "مرکز خدمات جامع سلامت شهری/روستایی": SiteKind.urban_rural_centre,
        "پایگاه ضمیمه": SiteKind.attached_health_post,
        "پایگاه غیرضمیمه": SiteKind.standalone_health_post,
        "ستاد": SiteKind.network_hq,
        "ستاد شبکه بهداشت": SiteKind.network_hq,
        "ستاد شبکه بهداشت و درمان": SiteKind.network_hq,
        "دیگر": SiteKind.other,
    },
)
_LINK_NAMES = _names(
    LinkType,
    LINK_TYPE_FA,
    LINK_TYPE_EN,
    extra={
        "فیبر": LinkType.fibre,
        "fiber": LinkType.fibre,
        "وایرلس": LinkType.wireless,
        "رادیویی": LinkType.wireless,
        "دیگر": LinkType.other,
    },
)


def kind_choices() -> str:
    """The kinds as an error lists them: the Persian labels, then the codes."""
    return "، ".join(SITE_KIND_FA.values()) + " / " + ", ".join(SiteKind)


def link_choices() -> str:
    return "، ".join(LINK_TYPE_FA.values()) + " / " + ", ".join(LinkType)


def _coded(names: Mapping[str, StrEnum], codes: type[StrEnum], error: str) -> object:
    def parse(value: object) -> object:
        if isinstance(value, codes):
            return value
        if isinstance(value, str) and not value.strip():
            raise PydanticCustomError("required", "required")
        code = names.get(loose_key(value)) if isinstance(value, str) else None
        if code is None:
            raise PydanticCustomError(error, "unknown value")
        return code

    return parse


def _required_text(value: object) -> object:
    value = typed_text(value)
    if isinstance(value, str) and not value:
        raise PydanticCustomError("required", "required")
    return value


def _code(error: str, pattern: str) -> object:
    """A code typed with any digits; letters, digits and `-` only (it goes into workflow ids)."""
    shape = re.compile(pattern)

    def check(value: object) -> object:
        value = typed_digits(value)
        if not isinstance(value, str):
            return value
        if not value:
            raise PydanticCustomError("required", "required")
        if not shape.fullmatch(value):
            raise PydanticCustomError(error, "letters, digits and - only")
        return value

    return check


_PHONE_PUNCTUATION = re.compile(r"[\s()\-./]")
_PHONE = re.compile(r"(?:\+98|0098|0)([1-9][0-9]{9})")


def _phone(value: str | None) -> str | None:
    """A landline with its area code (021-88776655) or a mobile, as 0 and ten digits."""
    if value is None:
        return None
    match = _PHONE.fullmatch(_PHONE_PUNCTUATION.sub("", value))
    if match is None:
        raise PydanticCustomError("phone_invalid", "a phone number with its area code")
    return "0" + match.group(1)


def _postal_code(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.replace("-", "")
    if not (value.isascii() and value.isdigit() and len(value) == 10):
        raise PydanticCustomError("postal_code_invalid", "ten digits")
    return value


def _siam_id(value: str | None) -> str | None:
    if value is not None and not (value.isascii() and value.isdigit() and len(value) <= 20):
        raise PydanticCustomError("siam_id_invalid", "digits only")
    return value


def _degrees(value: object) -> object:
    """A coordinate typed with Persian or Arabic digits and decimal sign (٫), or a number cell."""
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return value
    # Persian typists write the decimal sign as ٫ or as a slash (۳۵/۶۸).
    text = normalize_digits(value).strip().replace("٫", ".").replace("/", ".")
    if not text:
        raise PydanticCustomError("required", "required")
    try:
        return float(text)
    except ValueError:
        raise PydanticCustomError("coordinate_invalid", "a number of degrees") from None


def _within(low: int, high: int, error: str) -> Callable[[float], float]:
    def check(value: float) -> float:
        if not low <= value <= high:
            raise PydanticCustomError(
                error, "outside Iran", {"min": low, "max": high, "degrees": value}
            )
        return value

    return check


CountyCode = Annotated[
    str, BeforeValidator(_code("county_code_invalid", r"[A-Za-z0-9-]{1,20}")), Field(max_length=20)
]
SiteCode = Annotated[
    str, BeforeValidator(_code("site_code_invalid", r"[A-Za-z0-9-]{1,30}")), Field(max_length=30)
]
Phone = Annotated[
    str | None,
    BeforeValidator(lambda v: empty_as_none(typed_digits(v))),
    AfterValidator(_phone),
]
Latitude = Annotated[
    float,
    BeforeValidator(_degrees),
    AfterValidator(_within(*IRAN_LATITUDE, "latitude_outside_iran")),
]
Longitude = Annotated[
    float,
    BeforeValidator(_degrees),
    AfterValidator(_within(*IRAN_LONGITUDE, "longitude_outside_iran")),
]


class SiteRow(BaseModel):
    """One site as its county enters it: a row of the university's template, or the form."""

    county_code: CountyCode
    """The county (شبکه بهداشت شهرستان) the site belongs to, by its code."""
    site_code: Annotated[SiteCode | None, BeforeValidator(empty_as_none)] = Field(
        default=None, validate_default=True
    )
    """Unique across the university: the SIAM id where the site has one, else the county's
    own code for it. Left blank, the SIAM id stands for it."""
    siam_id: Annotated[
        Annotated[str, Field(max_length=20)] | None,
        BeforeValidator(lambda v: empty_as_none(typed_digits(v))),
        AfterValidator(_siam_id),
    ] = None
    """شناسه سیام: the ministry's id of the site, where known."""
    name: Annotated[str, BeforeValidator(_required_text), Field(min_length=2, max_length=200)]
    kind: Annotated[SiteKind, BeforeValidator(_coded(_KIND_NAMES, SiteKind, "site_kind_invalid"))]
    """By its Persian label (خانه بهداشت), its English name, or its code."""
    address: Annotated[str, BeforeValidator(_required_text), Field(min_length=5, max_length=500)]
    postal_code: Annotated[
        Annotated[str, Field(max_length=12)] | None,
        BeforeValidator(lambda v: empty_as_none(typed_digits(v))),
        AfterValidator(_postal_code),
    ] = None
    """Ten digits; a village health house often has none."""
    phone: Phone = None
    latitude: Latitude
    """Degrees north, inside IRAN_LATITUDE."""
    longitude: Longitude
    """Degrees east, inside IRAN_LONGITUDE."""
    link_type: Annotated[
        LinkType, BeforeValidator(_coded(_LINK_NAMES, LinkType, "link_type_invalid"))
    ]
    """The link the county asks for; the carrier may offer another."""

    @model_validator(mode="wrap")
    @classmethod
    def _gps_swapped(cls, data: Any, handler: ModelWrapValidatorHandler[SiteRow]) -> SiteRow:
        """A latitude in the longitudes' range and a longitude in the latitudes': the usual slip
        of writing them the other way round, said as such on both fields."""
        try:
            return handler(data)
        except ValidationError as error:
            found = error.errors()
            degrees = {
                e["loc"][0]: e["ctx"]["degrees"]
                for e in found
                if e["type"] in ("latitude_outside_iran", "longitude_outside_iran")
            }
            if not (
                len(degrees) == 2
                and IRAN_LONGITUDE[0] <= degrees["latitude"] <= IRAN_LONGITUDE[1]
                and IRAN_LATITUDE[0] <= degrees["longitude"] <= IRAN_LATITUDE[1]
            ):
                raise
            swapped = PydanticCustomError("gps_swapped", "latitude and longitude swapped")
            details: list[InitErrorDetails] = [
                {
                    "type": swapped
                    if e["loc"] and e["loc"][0] in degrees
                    else PydanticCustomError(e["type"], e["msg"], e.get("ctx")),
                    "loc": e["loc"],
                    "input": e["input"],
                }
                for e in found
            ]
            raise ValidationError.from_exception_data(error.title, details) from None

    @model_validator(mode="after")
    def _a_code_or_a_siam_id(self) -> SiteRow:
        if self.site_code is None:
            if self.siam_id is None:
                # Reported on site_code, the column a county fills in.
                raise PydanticCustomError("site_code_required", "a site code or a SIAM id")
            self.site_code = self.siam_id
        return self

    @property
    def code(self) -> str:
        """The site's code in the register (after the model's check, never None)."""
        assert self.site_code is not None
        return self.site_code


def _email(value: str | None) -> str | None:
    if value is not None and not EMAIL.match(value):
        raise PydanticCustomError("email_invalid", "not an e-mail address")
    return value


_YES = {loose_key(w) for w in ("1", "true", "yes", "بله", "بلی", "فعال", "آری")}
_NO = {loose_key(w) for w in ("0", "false", "no", "خیر", "نه", "غیرفعال")}


def _flag(value: object) -> object:
    """Yes or no as a spreadsheet cell says it; blank is yes (a county listed is active)."""
    if not isinstance(value, str):
        return value
    key = loose_key(value)
    if key == "" or key in _YES:
        return True
    if key in _NO:
        return False
    raise PydanticCustomError("invalid_value", "yes or no")


CountyName = Annotated[str, BeforeValidator(_required_text), Field(min_length=2, max_length=200)]
ContactName = Annotated[str, BeforeValidator(typed_text), Field(max_length=200)]
Email = Annotated[
    Annotated[str, Field(max_length=200)] | None,
    BeforeValidator(lambda v: empty_as_none(typed_text(v))),
    AfterValidator(_email),
]
SmsMobile = Annotated[
    Annotated[str, Field(max_length=20)] | None,
    BeforeValidator(lambda v: empty_as_none(typed_text(v))),
    AfterValidator(lambda v: None if v is None else checked_mobile(v)),
]
Flag = Annotated[bool, BeforeValidator(_flag)]


class CountyRow(BaseModel):
    """A county health network (شبکه بهداشت و درمان شهرستان) and where its messages go."""

    code: CountyCode
    name: CountyName
    contact_name: ContactName = ""
    """The network's IT contact."""
    phone: Phone = None
    email: Email = None
    """Where the letter and the reminders go by e-mail."""
    mobile: SmsMobile = None
    """Where the reminders go by SMS."""
    active: Flag = True
    """An inactive county is sent no letter and takes no upload."""
