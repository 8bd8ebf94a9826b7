"""Values as JSON has them: shared by the documents the library builds and every renderer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: The version of every JSON document's shape (SPEC §7).
SCHEMA_VERSION = 1


def clean(value: Any) -> Any:
    """JSON-safe value: NaN/Infinity → None, numpy scalars → Python, recursively."""
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def noop(text: str) -> str:
    """Marks a message for the catalog (gettext's ``N_``); translated where it is shown."""
    return text


class Note(str):
    """A sentence for the reader that the output layer can translate: the English text
    (it *is* that string, in JSON and everywhere text is expected), plus its gettext message
    id and the values put in it (dates as dates, other notes as notes).

    >>> note = Note("the data starts %(start)s, inside it", start=__import__("datetime").date(2024, 1, 10))
    >>> note, note.msgid
    ('the data starts 2024-01-10, inside it', 'the data starts %(start)s, inside it')
    """

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, **values: Any) -> Note:
        note = super().__new__(cls, msgid % {key: str(value) for key, value in values.items()})
        note.msgid, note.values = msgid, values
        return note

    def __reduce__(self) -> tuple[Any, ...]:
        return _note, (self.msgid, self.values)

    def __deepcopy__(self, memo: dict[int, Any]) -> Note:
        return self  # immutable


def _note(msgid: str, values: dict[str, Any]) -> Note:
    return Note(msgid, **values)


def joined(parts: list[Any], sep: str = "; ") -> Note:
    """Notes (or text) one after the other, each still translatable.

    >>> joined([Note("partial"), "2024-01"], ", ")
    'partial, 2024-01'
    """
    values = {"part" + str(i): part for i, part in enumerate(parts)}
    msgid = sep.join("%(" + key + ")s" for key in values)  # no words: nothing to translate
    return Note(msgid, **values)
