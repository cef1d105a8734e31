import pytest

from domain.messages import MESSAGES, Lang, message, pick_lang

REQUIRED_KEYS = {
    "required",
    "national_code_invalid",
    "mobile_invalid",
    "username_invalid",
    "email_invalid",
    "affiliation_invalid",
    "member_id_invalid",
    "name_invalid",
    "too_long",
    "not_found",
    "not_authenticated",
    "forbidden",
    "task_not_open",
    "task_not_yours",
    "invalid_decision",
    "rate_limited",
    "conflict",
    "internal",
}


def test_every_key_has_both_languages():
    assert set(MESSAGES) >= REQUIRED_KEYS
    for key, texts in MESSAGES.items():
        assert set(texts) == {Lang.fa, Lang.en}, key
        assert all(text.strip() for text in texts.values()), key


def test_message_lookup():
    assert message("national_code_invalid", Lang.fa) == "کد ملی معتبر نیست."
    assert message("national_code_invalid", Lang.en) == "The national code is not valid."


def test_message_formats_params():
    assert message("too_long", Lang.en, max_length=64) == (
        "This value must be at most 64 characters long."
    )
    assert message("too_long", Lang.fa, max_length=64) == "این مقدار حداکثر می‌تواند ۶۴ نویسه باشد."


def test_message_keeps_string_params_as_given():
    assert message("too_long", Lang.fa, max_length="64") == (
        "این مقدار حداکثر می‌تواند 64 نویسه باشد."
    )


def test_unknown_key_raises():
    with pytest.raises(KeyError):
        message("no_such_key", Lang.fa)


def test_lang_values():
    assert Lang.fa == "fa"
    assert Lang("en") is Lang.en


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Lang.fa),
        ("", Lang.fa),
        ("fa", Lang.fa),
        ("en", Lang.en),
        ("en-US", Lang.en),
        ("de-DE", Lang.fa),
        ("de-DE, en;q=0.5", Lang.en),
        ("fa-IR,fa;q=0.9,en-US;q=0.8,en;q=0.7", Lang.fa),
        ("en-US,en;q=0.9,fa;q=0.8", Lang.en),
        ("fa;q=0.5, en;q=0.8", Lang.en),
        ("en;q=0.5, fa;q=0.8", Lang.fa),
        ("EN-gb; Q=0.9, fa;q=0.3", Lang.en),
        ("en;q=0", Lang.fa),
        ("en;q=0.000, de", Lang.fa),
        ("fa;q=0, en;q=0.1", Lang.en),
        ("en, fa", Lang.en),
        ("fa, en", Lang.fa),
        ("en;q=abc, fa;q=0.1", Lang.fa),
        ("en;q=nan", Lang.fa),
        ("en;q=2", Lang.fa),
        ("*", Lang.fa),
        (",,;", Lang.fa),
    ],
)
def test_pick_lang(header, expected):
    assert pick_lang(header) is expected
