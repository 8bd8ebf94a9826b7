"""Text from the data, made safe for the reader it is shown to (issue 10, item 3).

An export is written by someone else: a customer id, a product name or a header can carry
terminal escape sequences (``ESC [2J`` clears the screen, ``ESC ]8;;url BEL`` makes a hidden
link, a C1 ``CSI`` recolours) or Markdown/HTML (``<script>``, ``[x](javascript:…)``). Here is
the one place that turns such text into something a reader sees and nothing acts on:

- :func:`visible` — control characters (C0 but tab, and newline where a newline is meant;
  DEL; C1; the bidirectional overrides that reorder what a line seems to say) written as
  escapes: ``\\x1b``, ``\\x07``, ``\\u009b``. A whole ESC/OSC/CSI sequence so shows as text.
  For terminals and error messages; JSON, CSV and Parquet keep the data as it is.
- :func:`visible_text` — the same for a Rich :class:`~rich.text.Text`, its styles kept.
- :class:`Visible` — a Rich renderable that renders another and makes visible whatever
  control character is still in its text: the last guard before a terminal.
- :func:`md_text` — text from the data for Markdown: HTML, link, emphasis and code syntax
  and ``|`` escaped, bare URLs and addresses not turned into links, control characters
  visible. Never for the table syntax itself.

This module imports nothing of retainkit: both the output layer and the command line use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions
    from rich.measure import Measurement
    from rich.text import Text

#: Characters never sent raw: C0 (tab and newline are decided by the caller), DEL, C1, and
#: the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{_CONTROL}]+")
_UNSAFE_OR_NEWLINE = re.compile(f"[{_CONTROL}\n]+")


def _escape(char: str) -> str:
    """``\\x1b`` for C0 and DEL (as Python writes them), ``\\u009b`` for C1 and the bidi
    controls (a C1 character is not the byte 0x9b: UTF-8 sends it as two)."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


def _table(pattern: str) -> dict[int, str]:
    return {code: _escape(chr(code)) for code in range(0x2070) if re.fullmatch(f"[{pattern}]", chr(code))}


_ESCAPES = _table(_CONTROL)
_ESCAPES_AND_NEWLINE = {**_ESCAPES, ord("\n"): "\\n"}


def visible(text: Any, *, newlines: bool = False) -> str:
    r"""``text`` with every control character written as an escape, so that a terminal
    shows it and does not act on it; tab is kept, newline too with ``newlines=True``
    (a line break that is meant), else written ``\n`` (one line: an error message).

    >>> visible("a\x1b[2Jb\x9b31m\x07")
    'a\\x1b[2Jb\\u009b31m\\x07'
    >>> visible("two\nlines\tand a tab"), visible("two\nlines", newlines=True)
    ('two\\nlines\tand a tab', 'two\nlines')
    """
    text = str(text)
    pattern = _UNSAFE if newlines else _UNSAFE_OR_NEWLINE
    if not pattern.search(text):
        return text
    return text.translate(_ESCAPES if newlines else _ESCAPES_AND_NEWLINE)


def is_visible(text: str, *, newlines: bool = True) -> bool:
    """Whether ``text`` holds no control character (newlines allowed unless told)."""
    return not (_UNSAFE if newlines else _UNSAFE_OR_NEWLINE).search(text)


def visible_text(text: Text | str, *, newlines: bool = True) -> Text:
    """A Rich :class:`~rich.text.Text` of ``text`` with control characters made visible
    (:func:`visible`), its styles kept (an escape takes the style of what it replaces).
    A ``str`` becomes plain text — never Rich markup."""
    from rich.text import Text

    if not isinstance(text, Text):
        return Text(visible(text, newlines=newlines))
    pattern = _UNSAFE if newlines else _UNSAFE_OR_NEWLINE
    plain = text.plain
    if not pattern.search(plain):
        return text
    cuts = sorted({i for m in pattern.finditer(plain) for i in (m.start(), m.end())} - {0, len(plain)})
    result = Text(style=text.style, justify=text.justify, overflow=text.overflow, no_wrap=text.no_wrap,
                  end=text.end, tab_size=text.tab_size)
    for piece in text.divide(cuts):
        if pattern.fullmatch(piece.plain):
            escaped = Text(visible(piece.plain, newlines=newlines))
            for span in piece.spans:
                escaped.stylize(span.style, 0, len(escaped))
            piece = escaped
        result.append_text(piece)
    return result


class Visible:
    """Renders ``renderable`` with every control character left in its text made visible:
    the guard a terminal table passes through last. Text should be made visible where it
    is put in a table (:func:`visible_text`), so that widths are measured on what is
    shown; this catches anything that was not."""

    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Any]:
        from rich.segment import Segment

        for segment in console.render(self.renderable, options):
            if segment.control or is_visible(segment.text):
                yield segment
            else:
                yield Segment(visible(segment.text, newlines=True), segment.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.measure import Measurement

        return Measurement.get(console, options, self.renderable)


# ---------------------------------------------------------------- Markdown

#: Markdown punctuation that can make emphasis, code, links, images, strikethrough or a
#: table cell: escaped with a backslash (CommonMark, GFM).
_MD_PUNCTUATION = re.compile(r"([\\`*\[\]|~])")
#: ``_`` opens or closes emphasis only at a word's edge (``customer_id`` is left alone).
_MD_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
#: What HTML would read as markup: as entities, so that no tag, comment or entity is made.
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
#: Bare URLs and addresses that GFM's autolinks would make links of: the ``:`` of
#: ``scheme://``, the dot of ``www.`` and the ``@`` of an address written as entities, which
#: a renderer shows as the same characters but does not read as a link.
_AUTOLINK = re.compile(r"(?i)(?<=[a-z0-9+.-]):(?=//)|(?<![0-9A-Za-z])(www)\.|@")
_AUTOLINK_ENTITIES = {":": "&#58;", ".": "&#46;", "@": "&#64;"}
#: A line that starts a block (heading, quote, list, rule, setext underline, numbered list).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BLOCK_START = re.compile(r"^(\s*)([#>+=-]|\d+(?=[.)]))")


def md_text(value: Any, *, line_start: bool = False) -> str:
    r"""``value`` as Markdown text that renders as itself: never a tag, a link, an image,
    emphasis, code or a table cell break, whatever it holds. Control characters are made
    visible (:func:`visible`) and line breaks become spaces (a cell stays on its row).
    ``line_start``: the text begins a paragraph or list item, where ``#``, ``>``, ``-``,
    ``+``, ``=`` or ``1.`` would start a block.

    >>> md_text("<script>alert(1)</script>")
    '&lt;script&gt;alert(1)&lt;/script&gt;'
    >>> print(md_text("[x](javascript:alert(1)) | `a` *b* \x1b[2J"))
    \[x\](javascript:alert(1)) \| \`a\` \*b\* \\x1b\[2J
    >>> md_text("http://evil.example www.evil.example a@b.example customer_id _x_")
    'http&#58;//evil.example www&#46;evil.example a&#64;b.example customer_id \\_x\\_'
    >>> md_text("# 1. not a heading", line_start=True), md_text("1. not a list", line_start=True)
    ('\\# 1. not a heading', '1\\. not a list')
    """
    if value is None:
        return ""
    text = visible(_LINE_BREAK.sub(" ", str(value)))
    text = "".join(_HTML.get(c, c) for c in text) if any(c in text for c in _HTML) else text
    text = _MD_PUNCTUATION.sub(r"\\\1", text)
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    text = _AUTOLINK.sub(lambda m: f"{m[1]}&#46;" if m[1] else _AUTOLINK_ENTITIES[m[0]], text)
    if line_start:
        text = _BLOCK_START.sub(lambda m: f"{m[1]}{m[2]}\\" if m[2][0].isdigit() else f"{m[1]}\\{m[2]}", text,
                                count=1)
    return text
