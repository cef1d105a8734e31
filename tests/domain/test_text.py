from domain.text import normalize_digits, normalize_text, to_persian_digits

ZWNJ = "\u200c"


def test_normalize_digits_persian_and_arabic_indic():
    assert normalize_digits("۰۱۲۳۴۵۶۷۸۹") == "0123456789"
    assert normalize_digits("٠١٢٣٤٥٦٧٨٩") == "0123456789"
    assert normalize_digits("کد ۱۲a٣") == "کد 12a3"


def test_normalize_digits_leaves_ascii_alone():
    assert normalize_digits("abc 123") == "abc 123"


def test_normalize_text_arabic_letters_to_persian():
    assert normalize_text("علي") == "علی"
    assert normalize_text("مصطفى") == "مصطفی"
    assert normalize_text("كريمي") == "کریمی"
    assert "\u064a" not in normalize_text("يك")
    assert normalize_text("يك") == "\u06cc\u06a9"


def test_normalize_text_digits_and_whitespace():
    assert normalize_text("  اتاق   ۲۰۴\t\n طبقه ٣ ") == "اتاق 204 طبقه 3"


def test_normalize_text_keeps_single_zwnj():
    assert normalize_text(f"می{ZWNJ}خواهم") == f"می{ZWNJ}خواهم"


def test_normalize_text_collapses_repeated_zwnj():
    assert normalize_text(f"می{ZWNJ}{ZWNJ}{ZWNJ}خواهم") == f"می{ZWNJ}خواهم"


def test_normalize_text_removes_zwnj_next_to_space():
    assert normalize_text(f"کتاب{ZWNJ} ها") == "کتاب ها"
    assert normalize_text(f"کتاب {ZWNJ}{ZWNJ}ها") == "کتاب ها"
    assert normalize_text(f"کتاب{ZWNJ}  {ZWNJ}ها") == "کتاب ها"


def test_normalize_text_strips_zwnj_at_ends():
    assert normalize_text(f"{ZWNJ} سلام {ZWNJ}") == "سلام"


def test_to_persian_digits():
    assert to_persian_digits("1405/09/04 14:30") == "۱۴۰۵/۰۹/۰۴ ۱۴:۳۰"
    assert normalize_digits(to_persian_digits("0123456789")) == "0123456789"
