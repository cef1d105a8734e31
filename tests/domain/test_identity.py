import pytest

from domain.identity import (
    is_valid_national_code,
    is_valid_username,
    normalize_mobile,
    suggest_usernames,
)
from domain.text import normalize_digits

# Computed by hand, e.g. 0012345679: 0*10+0*9+1*8+2*7+3*6+4*5+5*4+6*3+7*2 = 112,
# 112 % 11 = 2, check digit 11 - 2 = 9.
VALID_CODES = [
    "0012345679",  # s = 2 -> check 9
    "1234567891",  # s = 1 -> check 1 (s < 2 keeps s)
    "4492371850",  # s = 0 -> check 0
    "0078394007",  # s = 4 -> check 7
    "1928374654",  # s = 7 -> check 4
]


@pytest.mark.parametrize("code", VALID_CODES)
def test_valid_national_codes(code):
    assert is_valid_national_code(code)


@pytest.mark.parametrize(
    "code",
    ["0012345678", "1234567890", "4492371851", "0078394006", "1928374655"],
)
def test_wrong_check_digit_refused(code):
    assert not is_valid_national_code(code)


@pytest.mark.parametrize("digit", "0123456789")
def test_repeated_digit_codes_refused(digit):
    assert not is_valid_national_code(digit * 10)


def test_repeated_digit_refused_even_with_valid_checksum():
    # 5*(10+9+...+2) = 270, 270 % 11 = 6, 11 - 6 = 5: the checksum alone passes.
    assert not is_valid_national_code("5555555555")


@pytest.mark.parametrize(
    "code",
    ["", "001234567", "00123456790", "001234567a", " 0012345679", "0012345679\n", "+012345679"],
)
def test_malformed_national_codes_refused(code):
    assert not is_valid_national_code(code)


def test_persian_digits_need_normalising_first():
    persian = "۰۰۱۲۳۴۵۶۷۹"
    arabic = "٠٠١٢٣٤٥٦٧٩"
    assert not is_valid_national_code(persian)
    assert is_valid_national_code(normalize_digits(persian))
    assert is_valid_national_code(normalize_digits(arabic))
    assert not is_valid_national_code(normalize_digits("۰۰۱۲۳۴۵۶۷۸"))


@pytest.mark.parametrize(
    "raw",
    [
        "09121234567",
        "9121234567",
        "+989121234567",
        "00989121234567",
        "989121234567",
        "0912 123 4567",
        "0912-123-4567",
        "(0912) 123-4567",
        "+98 (912) 123 45 67",
        "۰۹۱۲۱۲۳۴۵۶۷",
        "+۹۸۹۱۲۱۲۳۴۵۶۷",
        "٠٩١٢١٢٣٤٥٦٧",
        "  09121234567  ",
    ],
)
def test_accepted_mobile_forms(raw):
    assert normalize_mobile(raw) == "09121234567"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0912123456",  # too short
        "091212345678",  # too long
        "02112345678",  # Tehran landline
        "+982112345678",  # landline after the country code
        "8121234567",
        "+18121234567",
        "0912123456a",
        "0912.123.4567",
        "+0989121234567",
        "98912123456",  # country code but one digit short
        "0989121234567",
    ],
)
def test_rejected_mobile_forms(raw):
    with pytest.raises(ValueError):
        normalize_mobile(raw)


@pytest.mark.parametrize(
    "name",
    ["ali", "a.rezaei", "ali_rezaei", "ali-rezaei", "rezaei1402", "a1b", "m.r.karimi", "a" * 32],
)
def test_valid_usernames(name):
    assert is_valid_username(name)


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short
        "a" * 33,  # too long
        "1ali",  # starts with a digit
        ".ali",
        "_ali",
        "ali.",  # ends with a separator
        "ali-",
        "ali..rezaei",
        "ali._rezaei",
        "ali-_rezaei",
        "Ali",
        "ali rezaei",
        "ali@rezaei",
        "علی",
        "alí",
        "ali\n",
    ],
)
def test_invalid_usernames(name):
    assert not is_valid_username(name)


def test_suggestions_from_requested_alone():
    taken = {"ali"}
    assert suggest_usernames("", "", "ali", taken.__contains__) == ["ali1", "ali2", "ali3"]


def test_suggestions_use_name_hints_first():
    taken = {"rezaei"}
    assert suggest_usernames("Ali", "Rezaei", "rezaei", taken.__contains__) == [
        "ali.rezaei",
        "arezaei",
        "rezaei1",
    ]


def test_suggestions_skip_taken_names():
    taken = {"ali", "ali.rezaei", "arezaei", "ali1", "ali3"}
    result = suggest_usernames("Ali", "Rezaei", "ali", taken.__contains__, count=4)
    assert result == ["ali2", "ali4", "ali5", "ali6"]


def test_suggestions_for_digit_final_request_use_a_dot():
    taken = {"ali2"}
    assert suggest_usernames("", "", "ali2", taken.__contains__, count=2) == [
        "ali2.1",
        "ali2.2",
    ]


def test_suggestions_repair_an_invalid_request():
    result = suggest_usernames("", "", "Ali..Rezaei!", lambda _: False, count=2)
    assert result == ["ali.rezaei", "ali.rezaei1"]


def test_suggestions_for_long_request_stay_within_limit():
    requested = "a" * 32
    result = suggest_usernames("", "", requested, lambda name: name == requested, count=3)
    assert result == ["a" * 31 + "1", "a" * 31 + "2", "a" * 31 + "3"]


def test_suggestions_with_persian_request_fall_back_to_hints():
    result = suggest_usernames("Sara", "Ahmadi", "سارا", lambda _: False, count=3)
    assert result == ["sara.ahmadi", "sahmadi", "sara.ahmadi1"]


def test_suggestions_with_nothing_latin_are_empty():
    assert suggest_usernames("", "", "سارا", lambda _: False) == []


def test_suggestions_are_valid_untaken_unique_and_deterministic():
    taken = {"ali", "ali1", "ali.rezaei", "ali4"}
    calls: list[str] = []

    def is_taken(name: str) -> bool:
        calls.append(name)
        return name in taken

    first = suggest_usernames("Ali", "Rezaei", "ali", is_taken, count=10)
    second = suggest_usernames("Ali", "Rezaei", "ali", taken.__contains__, count=10)
    assert first == second
    assert len(first) == 10
    assert len(set(first)) == 10
    assert all(is_valid_username(name) and name not in taken for name in first)
    assert "ali" not in calls


def test_suggestions_count_zero():
    assert suggest_usernames("Ali", "Rezaei", "ali", lambda _: False, count=0) == []
