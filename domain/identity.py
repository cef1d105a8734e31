"""Validation of Iranian national codes, mobile numbers and mailbox usernames."""

import re
from collections.abc import Callable, Iterator

from pydantic_core import PydanticCustomError

from domain.text import normalize_digits

_NATIONAL_CODE = re.compile(r"[0-9]{10}")
_MOBILE_PUNCTUATION = re.compile(r"[\s()\-]")
_MOBILE = re.compile(r"(?:\+98|0098|98|0)?(9[0-9]{9})")
# Start with a letter, end with a letter or digit, single separators only.
_USERNAME = re.compile(r"[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*")
_USERNAME_MIN, _USERNAME_MAX = 3, 32
_NOT_USERNAME_CHAR = re.compile(r"[^a-z0-9._-]+")
_SEPARATOR_RUN = re.compile(r"[._-]{2,}")
_NOT_NAME_CHAR = re.compile(r"[^a-z]+")
_MAX_NUMBER_SUFFIX = 99


def is_valid_national_code(code: str) -> bool:
    """Check the format and checksum of a کد ملی given in ASCII digits."""
    if not _NATIONAL_CODE.fullmatch(code) or len(set(code)) == 1:
        return False
    digits = [int(c) for c in code]
    s = sum(digit * (10 - i) for i, digit in enumerate(digits[:9])) % 11
    check = digits[9]
    return check == s if s < 2 else check == 11 - s


def normalize_mobile(raw: str) -> str:
    """Return an Iranian mobile number as 09xxxxxxxxx, or raise ValueError."""
    compact = _MOBILE_PUNCTUATION.sub("", normalize_digits(raw))
    match = _MOBILE.fullmatch(compact)
    if match is None:
        raise ValueError(f"not an Iranian mobile number: {raw!r}")
    return "0" + match.group(1)


def is_valid_username(name: str) -> bool:
    """Check a mailbox local part against the university's naming rules."""
    return _USERNAME_MIN <= len(name) <= _USERNAME_MAX and _USERNAME.fullmatch(name) is not None


def _username_base(requested: str) -> str:
    """Closest valid-looking stem of a requested username (may be empty)."""
    s = _NOT_USERNAME_CHAR.sub("", requested.lower())
    s = _SEPARATOR_RUN.sub(lambda m: m.group(0)[0], s)
    s = s.lstrip("0123456789._-")[:_USERNAME_MAX]
    return s.rstrip("._-")


def _name_part(hint: str) -> str:
    return _NOT_NAME_CHAR.sub("", hint.lower())


def _with_suffix(base: str, n: int) -> str:
    # "ali2" + "1" would read as "ali21", so a digit-final base gets a dot.
    suffix = f".{n}" if base[-1].isdigit() else str(n)
    return base[: _USERNAME_MAX - len(suffix)].rstrip("._-") + suffix


def _candidates(first: str, last: str, base: str) -> Iterator[str]:
    yield base
    if first and last:
        yield f"{first}.{last}"
        yield f"{first[0]}{last}"
    stem = base or (f"{first}.{last}" if first and last else first or last)
    if stem:
        for n in range(1, _MAX_NUMBER_SUFFIX + 1):
            yield _with_suffix(stem, n)


def suggest_usernames(
    first_name_latin_hint: str,
    last_name_latin_hint: str,
    requested: str,
    taken: Callable[[str], bool],
    count: int = 3,
) -> list[str]:
    """Propose up to `count` valid, free usernames close to `requested`."""
    first = _name_part(first_name_latin_hint)
    last = _name_part(last_name_latin_hint)
    suggestions: list[str] = []
    seen = {requested}
    for candidate in _candidates(first, last, _username_base(requested)):
        if len(suggestions) >= count:
            break
        if candidate in seen or not is_valid_username(candidate):
            continue
        seen.add(candidate)
        if not taken(candidate):
            suggestions.append(candidate)
    return suggestions


def checked_mobile(value: str) -> str:
    """A pydantic validator: the normalised mobile number, or the `mobile_invalid` error."""
    try:
        return normalize_mobile(value)
    except ValueError:
        raise PydanticCustomError("mobile_invalid", "not an Iranian mobile number") from None
