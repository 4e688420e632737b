"""HTML to plain text in linear time.

The standard library's :class:`html.parser.HTMLParser` rescans the rest of the input from every
unterminated construct (``"<a " * 50_000``, 150 kB, takes over four minutes on CPython 3.11.7;
fixed only in the 2025 security releases, CVE-2025-6069, which many installations lack), and
applicants' texts are untrusted.
This scanner does the little amif_match needs — drop tags, comments, declarations and the
contents of ``script``/``style``/``head``/``title``, turn block elements into line breaks,
decode entities with :func:`html.unescape` — with every character scanned a bounded number of
times:

* a tag may not contain ``<`` (not even inside a quoted attribute value), so an attempt that
  fails stops at the next ``<`` at the latest, and possessive quantifiers rule out backtracking;
* the search for a comment's ``-->`` is memoised, so a thousand unterminated ``<!--`` cost one
  scan;
* the search for ``</script>`` starts where the script starts and the scan continues after it.

Anything that does not parse as markup (``a < b``, an unterminated tag or comment) is kept as
text, as the standard parser does.
"""

from __future__ import annotations

import html
import re

__all__ = ["html_to_text"]

# Elements that break a line: paragraphs survive for sentence splitting.
_BLOCK = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5",
        "h6", "section", "article", "header", "footer", "table", "blockquote", "pre",
    }
)  # fmt: skip
# Elements whose text is not part of the proposal; their inner markup is parsed as usual.
_SKIP = frozenset({"head", "title"})
# Raw-text elements: their content runs to the matching end tag and is dropped.
_RAW_END = {name: re.compile(rf"</\s*{name}\s*>", re.IGNORECASE) for name in ("script", "style")}

# "<", optional "/", a name, attributes up to ">" (quoted values may hold ">" but no "<"); or a
# declaration / processing instruction (<!DOCTYPE ...>, <![CDATA[...]]>, <?xml ...?>).
_MARKUP = re.compile(
    r"""<(?:(/?)([a-zA-Z][^\t\n\r\f /<>]*+)(?:[^<>"']++|"[^<"]*+"|'[^<']*+')*+|[!?][^<>]*+)>"""
)


class _NextIndex:
    """``text.find(needle, start)`` for non-decreasing ``start``, scanning each character once."""

    def __init__(self, text: str, needle: str) -> None:
        self._text = text
        self._needle = needle
        self._start = -1
        self._found = -1

    def __call__(self, start: int) -> int:
        # The last answer still holds if it was "none" or lies at or after the new start.
        if self._start >= 0 and start >= self._start and (self._found < 0 or self._found >= start):
            return self._found
        self._start = start
        self._found = self._text.find(self._needle, start)
        return self._found


def html_to_text(text: str) -> tuple[str, bool]:
    """Return ``(plain_text, found_markup)``; ``plain_text`` is ``text`` when nothing was found.

    Entities are decoded only when markup was found; the caller decides about bare entities.
    """
    n = len(text)
    parts: list[str] = []
    comment_end = _NextIndex(text, "-->")
    pending = 0  # start of the text not yet emitted
    search = 0  # where to look for the next "<"
    skipping = 0  # depth inside head/title
    found = False

    def emit(end: int) -> None:
        if not skipping and end > pending:
            parts.append(html.unescape(text[pending:end]))

    while (lt := text.find("<", search)) >= 0:
        if text.startswith("<!--", lt):
            close = comment_end(lt + 4)
            if close < 0:  # unterminated: text, like any other stray "<"
                search = lt + 1
                continue
            emit(lt)
            pending = search = close + 3
            found = True
            continue
        match = _MARKUP.match(text, lt)
        if match is None:
            search = lt + 1
            continue
        found = True
        emit(lt)
        pending = search = match.end()
        name = (match.group(2) or "").lower()
        closing = match.group(1) == "/"
        # "<br/>" is a start and an end tag at once (two line breaks, as HTMLParser gives).
        self_closing = not closing and match.group(0).endswith("/>")
        if name in _RAW_END and not closing and not self_closing:
            end = _RAW_END[name].search(text, pending)
            if end is None:  # an unterminated script runs to the end of the text
                pending = search = n
                break
            pending = search = end.end()
        elif name in _SKIP:
            if not self_closing:
                skipping = max(0, skipping - 1) if closing else skipping + 1
        elif name in _BLOCK:
            parts.append("\n\n" if self_closing else "\n")
    if not found:
        return text, False
    emit(n)
    return "".join(parts), True
