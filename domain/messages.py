"""Bilingual (Persian first) validation and error messages."""

import re
from enum import StrEnum

from domain.text import to_persian_digits


class Lang(StrEnum):
    """Supported interface languages."""

    fa = "fa"
    en = "en"


MESSAGES: dict[str, dict[Lang, str]] = {
    "required": {
        Lang.fa: "پر کردن این فیلد الزامی است.",
        Lang.en: "This field is required.",
    },
    "national_code_invalid": {
        Lang.fa: "کد ملی معتبر نیست.",
        Lang.en: "The national code is not valid.",
    },
    "mobile_invalid": {
        Lang.fa: "شماره تلفن همراه معتبر نیست.",
        Lang.en: "The mobile number is not valid.",
    },
    "username_invalid": {
        Lang.fa: (
            "نام کاربری باید ۳ تا ۳۲ نویسه از حروف کوچک انگلیسی، رقم، نقطه، "
            "زیرخط یا خط تیره باشد، با حرف شروع و با حرف یا رقم تمام شود."
        ),
        Lang.en: (
            "The username must be 3 to 32 lowercase letters, digits, dots, "
            "underscores or hyphens, start with a letter and end with a "
            "letter or digit."
        ),
    },
    "email_invalid": {
        Lang.fa: "نشانی ایمیل معتبر نیست.",
        Lang.en: "The email address is not valid.",
    },
    "affiliation_invalid": {
        Lang.fa: "نوع وابستگی به دانشگاه معتبر نیست.",
        Lang.en: "The university affiliation is not valid.",
    },
    "member_id_invalid": {
        Lang.fa: "شماره دانشجویی یا پرسنلی معتبر نیست.",
        Lang.en: "The student or staff number is not valid.",
    },
    "name_invalid": {
        Lang.fa: "نام وارد‌شده معتبر نیست.",
        Lang.en: "The name is not valid.",
    },
    "too_long": {
        Lang.fa: "این مقدار حداکثر می‌تواند {max_length} نویسه باشد.",
        Lang.en: "This value must be at most {max_length} characters long.",
    },
    "not_found": {
        Lang.fa: "مورد درخواستی پیدا نشد.",
        Lang.en: "The requested item was not found.",
    },
    "not_authenticated": {
        Lang.fa: "لطفاً ابتدا وارد شوید.",
        Lang.en: "Please sign in first.",
    },
    "forbidden": {
        Lang.fa: "شما اجازهٔ انجام این کار را ندارید.",
        Lang.en: "You are not allowed to do this.",
    },
    "not_your_scope": {
        Lang.fa: "این کد از آنِ واحد شما نیست؛ فقط برای واحد خودتان می‌توانید ثبت کنید.",
        Lang.en: "This code is not your own unit's: you may only file for your own.",
    },
    "unknown_site": {
        Lang.fa: "این نقطه در مرحله‌ای از اتصال که به شما سپرده شده باشد پیدا نشد.",
        Lang.en: "No site with this code has been sent to you in a rollout.",
    },
    "not_at_this_step": {
        Lang.fa: "نقطه اکنون در انتظار این گزارش نیست (گزارش دیگری پیش‌تر ثبت شده است)",
        Lang.en: "The site is not waiting for this report (another one was taken before)",
    },
    "site_repeated": {
        Lang.fa: "این نقطه در ردیف‌های پیشین همین گزارش آمده است.",
        Lang.en: "This site is already on an earlier row of this report.",
    },
    "task_not_open": {
        Lang.fa: "این کار دیگر باز نیست.",
        Lang.en: "This task is no longer open.",
    },
    "task_not_yours": {
        Lang.fa: "این کار به شما واگذار نشده است.",
        Lang.en: "This task is not assigned to you.",
    },
    "invalid_decision": {
        Lang.fa: "این تصمیم برای این مرحله مجاز نیست.",
        Lang.en: "This decision is not allowed at this step.",
    },
    "rate_limited": {
        Lang.fa: "درخواست‌های شما بیش از حد مجاز است؛ کمی بعد دوباره تلاش کنید.",
        Lang.en: "Too many requests; please try again shortly.",
    },
    "conflict": {
        Lang.fa: "این مورد هم‌زمان تغییر کرده است؛ صفحه را تازه کنید و دوباره تلاش کنید.",
        Lang.en: "This item was changed meanwhile; reload and try again.",
    },
    "internal": {
        Lang.fa: "خطای داخلی رخ داد؛ لطفاً بعداً دوباره تلاش کنید.",
        Lang.en: "An internal error occurred; please try again later.",
    },
    "too_short": {
        Lang.fa: "این مقدار دست‌کم باید {min_length} نویسه باشد.",
        Lang.en: "This value must be at least {min_length} characters long.",
    },
    "too_large": {
        Lang.fa: "این مقدار حداکثر می‌تواند {le} باشد.",
        Lang.en: "This value must be at most {le}.",
    },
    "too_small": {
        Lang.fa: "این مقدار دست‌کم باید {ge} باشد.",
        Lang.en: "This value must be at least {ge}.",
    },
    "invalid_value": {
        Lang.fa: "این مقدار معتبر نیست.",
        Lang.en: "This value is not valid.",
    },
    "columns_missing": {
        Lang.fa: "این پرونده ستون‌های لازم را ندارد: {columns}",
        Lang.en: "The file lacks the required columns: {columns}",
    },
    "reason_required": {
        Lang.fa: "هنگام رد کردن، نوشتن دلیل الزامی است.",
        Lang.en: "A reason is required when refusing.",
    },
    "not_an_option": {
        Lang.fa: "یکی از گزینه‌های پیشنهادی را انتخاب کنید.",
        Lang.en: "Choose one of the proposed options.",
    },
    "unknown_field": {
        Lang.fa: "این فیلد در این فرم تعریف نشده است.",
        Lang.en: "This field is not part of the form.",
    },
    "idempotency_conflict": {
        Lang.fa: "این کلید تکرار قبلاً برای درخواست دیگری به کار رفته است.",
        Lang.en: "This Idempotency-Key was already used for a different request.",
    },
    "unavailable": {
        Lang.fa: "سامانه موقتاً در دسترس نیست؛ درخواست ثبت نشد. لطفاً کمی بعد دوباره تلاش کنید.",
        Lang.en: "The service is temporarily unavailable; nothing was saved. Please try again.",
    },
    "password_gone": {
        Lang.fa: "گذرواژه اولیه قبلاً یک بار نمایش داده شده یا منقضی شده است.",
        Lang.en: "The initial password was already shown once, or has expired.",
    },
    "invalid_credentials": {
        Lang.fa: "نام کاربری یا گذرواژه نادرست است.",
        Lang.en: "Wrong username or password.",
    },
    "login_locked": {
        Lang.fa: (
            "به دلیل چند تلاش ناموفق پیاپی، ورود موقتاً بسته شده است؛ "
            "چند دقیقه بعد دوباره تلاش کنید."
        ),
        Lang.en: (
            "Signing in is paused for a while after several failed attempts; "
            "please try again in a few minutes."
        ),
    },
    "login_locked_minutes": {
        Lang.fa: (
            "به دلیل چند تلاش ناموفق پیاپی، ورود موقتاً بسته شده است؛ "
            "{minutes} دقیقهٔ دیگر دوباره تلاش کنید."
        ),
        Lang.en: (
            "Signing in is paused after several failed attempts; "
            "please try again in {minutes} minute(s)."
        ),
    },
    "request_in_progress": {
        Lang.fa: "درخواستی با این کد ملی در حال رسیدگی است؛ آن را با کد پیگیری قبلی دنبال کنید.",
        Lang.en: (
            "A request for this national code is already in progress; "
            "follow it with its tracking code."
        ),
    },
    "case_closed": {
        Lang.fa: "این پرونده بسته شده است.",
        Lang.en: "This case is already closed.",
    },
    # Process 2: the fault report and its decisions.
    "personnel_number_invalid": {
        Lang.fa: "شماره پرسنلی باید ۳ تا ۱۲ رقم باشد.",
        Lang.en: "The personnel number must be 3 to 12 digits.",
    },
    "kind_required": {
        Lang.fa: "وقتی شماره اموال ندارید، نوع تجهیز را انتخاب کنید.",
        Lang.en: "Choose the kind of equipment when there is no property number.",
    },
    "date_in_the_past": {
        Lang.fa: "این تاریخ گذشته است.",
        Lang.en: "This date has passed.",
    },
    # The equipment register and its import (process 2).
    "property_number_invalid": {
        Lang.fa: "شماره اموال فقط می‌تواند رقم، حرف، خط تیره و / داشته باشد.",
        Lang.en: "A property number holds only digits, letters, - and /.",
    },
    "kind_invalid": {
        Lang.fa: "نوع تجهیز شناخته نیست؛ یکی از این‌ها را بنویسید: {choices}",
        Lang.en: "Unknown kind of equipment; write one of: {choices}",
    },
    "date_invalid": {
        Lang.fa: "تاریخ معتبر نیست؛ به شکل ۱۴۰۳/۰۵/۱۲ (شمسی) یا 2024-08-02 (میلادی) بنویسید.",
        Lang.en: "Not a valid date; write 1403/05/12 (Jalali) or 2024-08-02 (Gregorian).",
    },
    "warranty_before_purchase": {
        Lang.fa: "پایان گارانتی پیش از تاریخ خرید است.",
        Lang.en: "The warranty ends before the purchase date.",
    },
    "vendor_unknown": {
        Lang.fa: "شرکتی با این نام ثبت نشده است؛ نخست آن را در فهرست شرکت‌ها بیفزایید.",
        Lang.en: "No vendor of this name is registered; add it to the vendors first.",
    },
    "duplicate_row": {
        Lang.fa: "این شماره اموال پیش‌تر در ردیف {row} همین پرونده آمده است.",
        Lang.en: "This property number is already on row {row} of this file.",
    },
    "file_format": {
        Lang.fa: "پرونده باید CSV (با کدگذاری UTF-8) یا اکسل (xlsx) باشد.",
        Lang.en: "The file must be CSV (UTF-8) or Excel (xlsx).",
    },
    "file_too_large": {
        Lang.fa: "پرونده بزرگ‌تر از {limit} مگابایت است.",
        Lang.en: "The file is larger than {limit} MB.",
    },
    # Every upload (domain/uploads.py): judged by its content, never by its name.
    "file_not_pdf": {
        Lang.fa: (
            "پرونده باید سند PDF باشد (نوع پرونده از محتوای آن تشخیص داده می‌شود، نه از نامش)."
        ),
        Lang.en: "The file must be a PDF document (judged by its content, not its name).",
    },
    "file_not_image": {
        Lang.fa: (
            "پرونده باید تصویر PNG یا JPEG باشد "
            "(نوع پرونده از محتوای آن تشخیص داده می‌شود، نه از نامش)."
        ),
        Lang.en: "The file must be a PNG or JPEG image (judged by its content, not its name).",
    },
    "file_empty": {
        Lang.fa: "پرونده خالی است.",
        Lang.en: "The file is empty.",
    },
    "file_damaged": {
        Lang.fa: "پرونده آسیب‌دیده یا ناقص است؛ آن را دوباره ذخیره کنید و بفرستید.",
        Lang.en: "The file is damaged or incomplete; save it again and resend it.",
    },
    "file_unsafe": {
        Lang.fa: (
            "پرونده محتوای فعال (اسکریپت، ماکرو) یا پرونده‌ای پنهان در خود دارد و پذیرفته نشد."
        ),
        Lang.en: (
            "The file holds active content (a script, a macro) or another file hidden inside "
            "it, and was refused."
        ),
    },
    "file_unpacks_too_large": {
        Lang.fa: "پرونده اکسل پس از باز شدن بیش از {limit} مگابایت می‌شود و پذیرفته نشد.",
        Lang.en: "The Excel file unpacks to more than {limit} MB, and was refused.",
    },
    "image_too_large": {
        Lang.fa: "ابعاد تصویر بیش از {side} پیکسل است.",
        Lang.en: "The image is larger than {side} pixels on a side.",
    },
    "too_many_rows": {
        Lang.fa: "پرونده بیش از {limit} ردیف دارد؛ آن را در چند پرونده بفرستید.",
        Lang.en: "The file has more than {limit} rows; send it in several files.",
    },
    "too_many_columns": {
        Lang.fa: "پرونده بیش از {limit} ستون دارد.",
        Lang.en: "The file has more than {limit} columns.",
    },
    "rows_invalid": {
        Lang.fa: "ردیف‌هایی از پرونده خطا دارند؛ هیچ ردیفی وارد نشد.",
        Lang.en: "Some rows of the file have errors; nothing was imported.",
    },
    "name_taken": {
        Lang.fa: "این نام پیش‌تر ثبت شده است.",
        Lang.en: "This name is already taken.",
    },
    # The SHAMS site register and its import (process 4).
    "site_kind_invalid": {
        Lang.fa: "نوع نقطه شناخته نیست؛ یکی از این‌ها را بنویسید: {choices}",
        Lang.en: "Unknown kind of site; write one of: {choices}",
    },
    "link_type_invalid": {
        Lang.fa: "نوع ارتباط شناخته نیست؛ یکی از این‌ها را بنویسید: {choices}",
        Lang.en: "Unknown link type; write one of: {choices}",
    },
    "county_code_invalid": {
        Lang.fa: "کد شهرستان فقط می‌تواند حرف انگلیسی، رقم و خط تیره داشته باشد.",
        Lang.en: "A county code holds only Latin letters, digits and -.",
    },
    "site_code_invalid": {
        Lang.fa: "کد نقطه فقط می‌تواند حرف انگلیسی، رقم و خط تیره داشته باشد (حداکثر ۳۰ نویسه).",
        Lang.en: "A site code holds only Latin letters, digits and - (30 at most).",
    },
    "site_code_required": {
        Lang.fa: "کد نقطه یا شناسه سیام آن را بنویسید.",
        Lang.en: "Write the site's code or its SIAM id.",
    },
    "siam_id_invalid": {
        Lang.fa: "شناسه سیام فقط رقم است (حداکثر ۲۰ رقم).",
        Lang.en: "A SIAM id is digits only (20 at most).",
    },
    "postal_code_invalid": {
        Lang.fa: "کد پستی باید ۱۰ رقم باشد.",
        Lang.en: "A postal code is 10 digits.",
    },
    "phone_invalid": {
        Lang.fa: "شماره تلفن معتبر نیست؛ آن را با پیش‌شماره بنویسید (مانند ۰۳۱۵۵۴۴۳۳۲۲).",
        Lang.en: "Not a valid phone number; write it with its area code (like 03155443322).",
    },
    "coordinate_invalid": {
        Lang.fa: "مختصات باید عدد درجه اعشاری باشد (مانند ۳۳٫۹۸۵۲).",
        Lang.en: "A coordinate is a decimal number of degrees (like 33.9852).",
    },
    "latitude_outside_iran": {
        Lang.fa: "عرض جغرافیایی بیرون از ایران است؛ باید بین {min} و {max} درجه شمالی باشد.",
        Lang.en: "The latitude is outside Iran; it must be between {min} and {max} degrees north.",
    },
    "longitude_outside_iran": {
        Lang.fa: "طول جغرافیایی بیرون از ایران است؛ باید بین {min} و {max} درجه شرقی باشد.",
        Lang.en: "The longitude is outside Iran; it must be between {min} and {max} degrees east.",
    },
    "gps_swapped": {
        Lang.fa: "به نظر می‌رسد عرض و طول جغرافیایی جابه‌جا نوشته شده‌اند.",
        Lang.en: "The latitude and the longitude seem to be swapped.",
    },
    "duplicate_code_row": {
        Lang.fa: "این کد پیش‌تر در ردیف {row} همین پرونده آمده است.",
        Lang.en: "This code is already on row {row} of this file.",
    },
    "county_code_taken": {
        Lang.fa: "شهرستانی با این کد پیش‌تر ثبت شده است.",
        Lang.en: "A county of this code is already registered.",
    },
    "county_unknown": {
        Lang.fa: "شهرستانی با این کد ثبت نشده است.",
        Lang.en: "No county of this code is registered.",
    },
    "county_inactive": {
        Lang.fa: "این شهرستان غیرفعال است و نقطه‌ای از آن پذیرفته نمی‌شود.",
        Lang.en: "This county is inactive and takes no sites.",
    },
    "county_not_yours": {
        Lang.fa: "این نقطه از شهرستان شما نیست.",
        Lang.en: "This site is not of your county.",
    },
    "site_code_taken": {
        Lang.fa: "این کد نقطه پیش‌تر برای شهرستان {county} ثبت شده است.",
        Lang.en: "This site code is already registered for county {county}.",
    },
    "site_locked": {
        Lang.fa: (
            "این نقطه از مرحله اصلاح گذشته است؛ اطلاعاتش را با پرونده نمی‌توان تغییر داد."
            " با دبیرخانه فناوری اطلاعات تماس بگیرید."
        ),
        Lang.en: (
            "This site is past the stage of corrections; its data can no longer be changed"
            " by an upload. Ask the IT office."
        ),
    },
    "site_not_running": {
        Lang.fa: (
            "این نقطه در هیچ مرحله اتصالی در جریان نیست (پیگیری آن تمام شده یا هنوز آغاز نشده است)."
        ),
        Lang.en: (
            "This site is not under way in any rollout (it has ended, or has not started yet)."
        ),
    },
    # The SEPAS error bank and SRM's error reports (process 5).
    "hospital_code_invalid": {
        Lang.fa: (
            "کد بیمارستان فقط می‌تواند حرف انگلیسی، رقم و خط تیره داشته باشد (حداکثر ۲۰ نویسه)."
        ),
        Lang.en: "A hospital code holds only Latin letters, digits and - (20 at most).",
    },
    "hospital_code_taken": {
        Lang.fa: "بیمارستانی با این کد پیش‌تر ثبت شده است.",
        Lang.en: "A hospital of this code is already registered.",
    },
    "his_vendor_unknown": {
        Lang.fa: "شرکت پشتیبان HIS با این شناسه ثبت نشده است.",
        Lang.en: "No HIS vendor of this id is registered.",
    },
    "srm_time_invalid": {
        Lang.fa: "زمان معتبر نیست؛ آن را مانند ۱۴۰۴/۰۹/۱۰ ۱۴:۳۰ یا 2025-12-01 14:30 بنویسید.",
        Lang.en: "Not a valid time; write it like 1404/09/10 14:30 or 2025-12-01 14:30.",
    },
    "srm_window_invalid": {
        Lang.fa: "پایان بازه باید پس از آغاز آن باشد.",
        Lang.en: "The window must end after it starts.",
    },
    "srm_file_imported": {
        Lang.fa: "این فایل پیش‌تر وارد شده است؛ چیزی افزوده نشد.",
        Lang.en: "This file was imported before; nothing was added.",
    },
    "srm_source_auth": {
        Lang.fa: (
            "سامانه SRM توکن دسترسی را نپذیرفت (HTTP {status}); تنظیم SRM_API_TOKEN را بررسی کنید."
        ),
        Lang.en: "SRM refused the access token (HTTP {status}); check the SRM_API_TOKEN setting.",
    },
    "srm_source_refused": {
        Lang.fa: "سامانه SRM درخواست را نپذیرفت (HTTP {status}).",
        Lang.en: "SRM refused the request (HTTP {status}).",
    },
    "srm_source_unavailable": {
        Lang.fa: "سامانه SRM در دسترس نیست ({detail}); بعداً دوباره تلاش کنید.",
        Lang.en: "SRM is unavailable ({detail}); try again later.",
    },
    "srm_source_answer_invalid": {
        Lang.fa: "پاسخ سامانه SRM قالب مورد انتظار را ندارد ({detail}).",
        Lang.en: "SRM's answer is not in the expected shape ({detail}).",
    },
    "jira_key_invalid": {
        Lang.fa: "کلید جیرا معتبر نیست؛ آن را مانند SEPAS-123 بنویسید.",
        Lang.en: "Not a valid Jira key; write it like SEPAS-123.",
    },
    "jira_key_required": {
        Lang.fa: "برای موردی که از جیرای وزارت آمده، کلید مسئله جیرا را بنویسید.",
        Lang.en: "An entry from the ministry's Jira needs the Jira issue's key.",
    },
    "bank_entry_taken": {
        Lang.fa: "این پیام یا الگو پیش‌تر در بانک خطا ثبت شده است.",
        Lang.en: "This message or pattern is already in the error bank.",
    },
    "pattern_brace": {
        Lang.fa: "آکولاد تنها در الگو مجاز نیست؛ برای آکولاد عادی {{{{ یا }}}} بنویسید.",
        Lang.en: (
            "A lone brace is not allowed in a pattern; write {{{{ or }}}} for a literal brace."
        ),
    },
    "pattern_placeholder_unknown": {
        Lang.fa: "جای‌نگهدار شناخته نیست؛ یکی از {{number}}، {{code}} یا {{text}} را بنویسید.",
        Lang.en: "Unknown placeholder; write one of {{number}}, {{code}} or {{text}}.",
    },
    "pattern_placeholders_adjacent": {
        Lang.fa: "میان دو جای‌نگهدار باید متنی ثابت باشد.",
        Lang.en: "Two placeholders must be separated by fixed text.",
    },
    "pattern_without_placeholder": {
        Lang.fa: (
            "الگو جای‌نگهداری ندارد؛ آن را پیام دقیق ثبت کنید یا"
            " {{number}}، {{code}} یا {{text}} بگذارید."
        ),
        Lang.en: (
            "The pattern has no placeholder; save it as an exact message"
            " or add {{number}}, {{code}} or {{text}}."
        ),
    },
    "pattern_too_many_placeholders": {
        Lang.fa: "الگو حداکثر {limit} جای‌نگهدار می‌تواند داشته باشد.",
        Lang.en: "A pattern may hold at most {limit} placeholders.",
    },
    "pattern_too_loose": {
        Lang.fa: "الگو متن ثابت کافی ندارد و با هر پیامی جور می‌شود.",
        Lang.en: "The pattern has too little fixed text and would match any message.",
    },
    # Process 5: the SEPAS report and its decisions.
    "date_in_the_future": {
        Lang.fa: "این روز هنوز نرسیده است.",
        Lang.en: "This day has not come yet.",
    },
    "entry_for_unknown": {
        Lang.fa: "خطای ناشناخته (یا «خطا نیست») مدخلی از بانک خطا ندارد؛ مدخل را خالی بگذارید.",
        Lang.en: "An unknown error (or no error) has no bank entry: leave the entry empty.",
    },
    "hospital_unknown": {
        Lang.fa: "بیمارستانی با این کد در فهرست بیمارستان‌ها (فعال) نیست.",
        Lang.en: "No active hospital has this code.",
    },
    # Office automation (process 3).
    "unit_code_invalid": {
        Lang.fa: "کد واحد فقط می‌تواند حرف، رقم و خط تیره داشته باشد (حداکثر ۲۰ نویسه).",
        Lang.en: "A unit code holds only letters, digits and - (at most 20).",
    },
    "unit_code_taken": {
        Lang.fa: "واحدی با این کد ثبت شده است.",
        Lang.en: "A unit with this code is already registered.",
    },
    "unit_unknown": {
        Lang.fa: "واحدی با این کد (فعال) در فهرست واحدها نیست.",
        Lang.en: "No active unit has this code.",
    },
    "unit_parent_unknown": {
        Lang.fa: "واحد بالادستی با این کد نه ثبت شده و نه در همین پرونده آمده است.",
        Lang.en: "No unit of this parent code is registered or in this file.",
    },
    "unit_parent_itself": {
        Lang.fa: "واحد نمی‌تواند بالادست خودش باشد.",
        Lang.en: "A unit cannot be its own parent.",
    },
    "unit_parent_cycle": {
        Lang.fa: "واحدهای بالادستی دور می‌زنند: واحد زیرمجموعه خودش می‌شود.",
        Lang.en: "The parent units go round in a circle: the unit would be under itself.",
    },
    "automation_code_invalid": {
        Lang.fa: "کد پست با حرف یا رقم شروع می‌شود و فقط حرف، رقم و . _ - دارد (حداکثر ۴۰).",
        Lang.en: "A post code starts with a letter or digit and holds only those and . _ -"
        " (at most 40).",
    },
    "automation_code_taken": {
        Lang.fa: "پست دیگری با این کد در سامانه اتوماسیون ثبت شده است.",
        Lang.en: "Another post has this code in the automation system.",
    },
    "automation_username_invalid": {
        Lang.fa: "نام کاربری با حرف انگلیسی شروع می‌شود و فقط حرف، رقم و . _ @ - دارد.",
        Lang.en: "A username starts with a letter and holds only letters, digits and . _ @ -.",
    },
    "letter_number_invalid": {
        Lang.fa: "شماره نامه فقط می‌تواند رقم، حرف، / . و - داشته باشد (حداکثر ۴۰ نویسه).",
        Lang.en: "A letter number holds only digits, letters, / . and - (at most 40).",
    },
    "effective_before_letter": {
        Lang.fa: "تاریخ اجرا پیش از تاریخ نامه است.",
        Lang.en: "The effective date is before the letter's date.",
    },
    "post_required": {
        Lang.fa: "کد پست در سامانه اتوماسیون یا شماره پست را بنویسید.",
        Lang.en: "Give the post's code in the automation system or its number.",
    },
    "post_unknown": {
        Lang.fa: "این پست در این واحد ثبت نشده است.",
        Lang.en: "This post is not registered in this unit.",
    },
    "letter_file_unknown": {
        Lang.fa: "فایل نامه پیدا نشد؛ نخست PDF نامه را بارگذاری کنید.",
        Lang.en: "The letter's file is not found; upload the letter's PDF first.",
    },
    "letter_file_not_pdf": {
        Lang.fa: "فایل نامه باید PDF باشد.",
        Lang.en: "The letter's file must be a PDF.",
    },
    "letter_file_used": {
        Lang.fa: "این فایل پیوست درخواست دیگری است.",
        Lang.en: "This file belongs to another request.",
    },
    "checklist_incomplete": {
        Lang.fa: "همه موارد فهرست باید انجام و علامت زده شود.",
        Lang.en: "Every item of the checklist must be done and ticked.",
    },
    "signature_too_small": {
        Lang.fa: "تصویر امضا کوچک است؛ دست‌کم {width}×{height} پیکسل باشد.",
        Lang.en: "The signature image is too small; at least {width}×{height} pixels.",
    },
    "signature_too_big": {
        Lang.fa: "تصویر امضا بزرگ است (تمام صفحه؟)؛ حداکثر {width}×{height} پیکسل، فقط امضا.",
        Lang.en: "The signature image is too big (a whole page?); at most {width}×{height} pixels,"
        " the signature only.",
    },
    # Process 3: the hand-over of a cartable's credentials.
    "password_not_sealed": {
        Lang.fa: "رمز فقط از راه صفحه کار یا API پیگیر وارد می‌شود تا همان دم مهر و موم شود.",
        Lang.en: "The password is typed on Peygir's task page or API, which seals it at once.",
    },
    "password_too_short": {
        Lang.fa: "رمز باید دست‌کم {min} و حداکثر {max} نویسه باشد.",
        Lang.en: "The password must be {min} to {max} characters.",
    },
    "handover_wrong_factor": {
        Lang.fa: "کد ملی با کد ملی بالاترین مقام واحد یکی نیست.",
        Lang.en: "The national code is not that of the unit's head.",
    },
    "handover_locked": {
        Lang.fa: (
            "این پیوند به دلیل کد ملی نادرست مکرر قفل شد. از کارشناس اتوماسیون پیوند تازه بخواهید."
        ),
        Lang.en: (
            "This link is locked after repeated wrong national codes. Ask the automation admin"
            " for a new one."
        ),
    },
    "handover_expired": {
        Lang.fa: "مهلت این پیوند گذشته است. از کارشناس اتوماسیون پیوند تازه بخواهید.",
        Lang.en: "This link has expired. Ask the automation admin for a new one.",
    },
    "handover_done": {
        Lang.fa: (
            "این پیوند دیگر کاری ندارد: نام کاربری و رمز پیش‌تر تحویل شده یا پرونده بسته شده است."
        ),
        Lang.en: (
            "This link has nothing left to show: the credentials were handed over, or the case"
            " ended."
        ),
    },
}

# RFC 9110 qvalue: 0..1 with at most three decimals.
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def message(key: str, lang: Lang, **params: object) -> str:
    """The message `key` in `lang`, formatted with `params`; KeyError if unknown."""
    if lang is Lang.fa:
        params = {
            name: to_persian_digits(str(value)) if isinstance(value, int) else value
            for name, value in params.items()
        }
    return MESSAGES[key][lang].format(**params)


def pick_lang(accept_language: str | None) -> Lang:
    """Lang from an Accept-Language header: en only if it outranks Persian."""
    best: dict[Lang, tuple[float, int]] = {}
    for position, item in enumerate((accept_language or "").split(",")):
        tag, *options = (part.strip() for part in item.split(";"))
        quality = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                quality = float(value) if _QVALUE.fullmatch(value) else 0.0
        primary = tag.split("-")[0].lower()
        if primary not in Lang.__members__ or quality == 0.0:
            continue
        # Equal q-values are ranked by the order the client listed them.
        rank = (quality, -position)
        lang = Lang(primary)
        best[lang] = max(best.get(lang, rank), rank)
    if Lang.en in best and (Lang.fa not in best or best[Lang.en] > best[Lang.fa]):
        return Lang.en
    return Lang.fa
