"""The reader's language: words through gettext, numbers and dates through Babel's locale data.

One :class:`Style` per output (``--lang``, and for the report ``--currency``) serves the
report and the terminal tables alike. Messages live in the catalogs
``retainkit/locales/<lang>/LC_MESSAGES/retainkit.po`` (read with Babel at run time, no
``.mo`` to compile); English is the messages as written and needs no Babel. Only the words
people read change with the language: JSON, CSV and Parquet keys and values never do.

Notes the library writes (why a value is null, which period is partial) are
:class:`~retainkit.values.Note` objects, a message id with its values: :meth:`Style.note`
says them in the reader's language, dates in the reader's order.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import importlib.resources
import io
import math
import re
from dataclasses import dataclass
from typing import Any

from retainkit.errors import RetainkitError
from retainkit.values import Note, clean, noop

LANGS = ("en", "vi")
#: Dates as the reader writes them (English keeps ISO: ``12/2/26`` is misread half the world over).
DATE_PATTERN = {"en": "yyyy-MM-dd", "vi": "dd/MM/yyyy"}
DOMAIN = "retainkit"
DASH = "—"
_DATE_OR_PERIOD = re.compile(r"(?<![\w-])\d{4}-(?:\d{2}-\d{2}|\d{2}|W\d{2})(?![\w-])")
_NUMBER = re.compile(r"[\d,]+(?:\.\d+)?%?")


#: Words the library's results carry (KPI labels, segment and level names, the period
#: kind, a cohort metric): shown through gettext, listed here for the catalog.
WORDS = (
    noop("Week"), noop("Month"), noop("Customers"), noop("Orders"), noop("Revenue (net)"),
    noop("Average order value"), noop("New customers"), noop("Repeat customer rate"),
    noop("Retention vs period before"), noop("Churn vs period before"), noop("New"), noop("Potential loyalist"),
    noop("Champions"), noop("Promising"), noop("Loyal"), noop("About to sleep"), noop("Need attention"),
    noop("Hibernating"), noop("At risk"), noop("Can't lose them"), noop("advocate"), noop("loyal"), noop("regular"),
    noop("repeat"), noop("first-time"), noop("lapsed"), noop("detractor"), noop("week"), noop("month"),
    noop("quarter"), noop("year"), noop("customers"), noop("revenue"), noop("orders"),
)


def check_lang(lang: str | None) -> str:
    """``lang`` if it is a language of the catalogs (default English), else a one-line error."""
    lang = lang or "en"
    if lang not in LANGS:
        raise RetainkitError(f"--lang {lang}: no such language", f"use one of {', '.join(LANGS)}")
    return lang


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The message catalog of ``lang`` (English: the messages as written), from its ``.po``."""
    if lang == "en":
        return gettext.NullTranslations()
    try:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
        from babel.support import Translations
    except ImportError:  # pragma: no cover - depends on the install
        raise RetainkitError(f"--lang {lang} needs Babel", "pip install 'retainkit[report]'") from None

    source = importlib.resources.files("retainkit").joinpath("locales", lang, "LC_MESSAGES", f"{DOMAIN}.po")
    with source.open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@dataclass(frozen=True)
class Style:
    """How an output speaks: its language (gettext and Babel) and the amounts' currency."""

    lang: str = "en"
    currency: str | None = None

    @classmethod
    def of(cls, report: dict[str, Any]) -> Style:
        """The style a report's ``_style`` asks for, checked (one line per bad value); without
        a currency, the one the amounts' signs named (``_currency``: ₫ means VND)."""
        given = report.get("_style") or {}
        currency = given.get("currency") or report.get("_currency")
        if currency is not None:
            from babel.numbers import list_currencies

            currency = str(currency).strip().upper()
            if currency not in list_currencies():
                raise RetainkitError(f"--currency {given.get('currency')}: not an ISO 4217 currency code",
                                     "e.g. VND, USD, EUR")
        return cls(check_lang(given.get("lang")), currency)

    def gettext(self, message: str) -> str:
        """``message`` in the reader's language."""
        return translations(self.lang).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The singular or plural of a message for ``n``, in the reader's language."""
        return translations(self.lang).ngettext(singular, plural, n)

    def word(self, text: Any) -> str:
        """A name the library made (a segment, a level, a KPI label), in the reader's language."""
        return self.gettext(str(text)) if text else ""

    def note(self, note: Any) -> str:
        """A note of the library in the reader's language: a :class:`~retainkit.values.Note` is
        translated with its values (dates in the reader's order, nested notes translated);
        other text as it is."""
        if not isinstance(note, Note) or self.lang == "en":
            return str(note)
        return self.gettext(note.msgid) % {key: self._value(value) for key, value in note.values.items()}

    def _value(self, value: Any) -> str:
        if isinstance(value, Note):
            return self.note(value)
        if isinstance(value, dt.date):
            return self.date(value.isoformat())
        if isinstance(value, str) and _NUMBER.fullmatch(value):
            return self.digits(value)
        return self.labels(str(value))

    def digits(self, text: str) -> str:
        """A number written the English way (``1,234.5``, ``42.86%``) with the reader's
        grouping and decimal marks (Babel's locale data): ``1.234,5`` in Vietnamese."""
        if self.lang == "en":
            return text
        from babel.numbers import get_decimal_symbol, get_group_symbol

        marks = {",": get_group_symbol(self.lang), ".": get_decimal_symbol(self.lang)}
        return "".join(marks.get(char, char) for char in text)

    def number(self, value: Any, kind: str) -> str:
        """A KPI in the reader's digits: counts, money (with the currency's symbol and minor
        unit when known: ``614.720 ₫``), rates as percentages."""
        from babel.numbers import format_currency, format_decimal, format_percent

        value = clean(value)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return DASH
        if kind == "rate":
            return format_percent(value, "#,##0.0%", locale=self.lang)
        if kind == "money":
            if self.currency:
                return format_currency(value, self.currency, locale=self.lang)
            return format_decimal(value, "#,##0.00", locale=self.lang)
        return format_decimal(value, "#,##0", locale=self.lang)

    def change(self, value: float | None, kind: str) -> str:
        """``+12.5%`` for counts and money, ``+1.2 pp`` for rates (points), ``—`` when undefined."""
        from babel.numbers import format_decimal, format_percent

        if value is None or (isinstance(value, float) and math.isnan(value)):
            return DASH
        if kind == "rate":
            points = format_decimal(value * 100, "+#,##0.0;-#,##0.0", locale=self.lang)
            return self.gettext("%(points)s pp") % {"points": points}
        return format_percent(value, "+#,##0.0%;-#,##0.0%", locale=self.lang)

    def date(self, iso: str | None) -> str:
        """An ISO date as the reader writes it (``02/12/2026`` in Vietnamese)."""
        if not iso:
            return DASH
        if self.lang == "en":
            return iso
        from babel.dates import format_date

        return format_date(dt.date.fromisoformat(iso), DATE_PATTERN[self.lang], locale=self.lang)

    def labels(self, text: str) -> str:
        """Every ISO date and period label in ``text`` as the reader writes it
        (``2024-01-01..2024-06-30``, ``2024-12``)."""
        if self.lang == "en":
            return text
        return _DATE_OR_PERIOD.sub(lambda m: self.date(m[0]) if len(m[0]) == 10 else self.period(m[0]), text)

    def period(self, label: str) -> str:
        """A period label (``2024-12``, ``2024-W51``) as the reader writes it."""
        if self.lang == "en":
            return label
        if match := re.fullmatch(r"(\d{4})-(\d{2})", label):
            return f"{match[2]}/{match[1]}"
        if match := re.fullmatch(r"(\d{4})-W(\d{2})", label):
            return self.gettext("week %(week)s/%(year)s") % {"week": match[2], "year": match[1]}
        return label
